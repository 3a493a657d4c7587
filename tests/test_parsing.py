"""The deterministic number parser, over the many ways notes write minutes, units and modifiers."""

import pytest

from reviewer import clock, parsing


@pytest.mark.parametrize(
    "text, minutes",
    [
        ("Therapeutic activities (97530) x 25 min: STS", 25),
        ("TherAct   30 min  --  bed mobility", 30),
        ("97530 x25 minutes", 25),
        ("Gait training 15' on level surfaces", 15),
        ("97110 (12 mins)", 12),
        ("NMR - 14min", 14),
        ("ther ex: 8 minutes", 8),
        ("| 9:02-9:09 | Prone PA mobs | 97140 | 7 |", 7),
        ("0902-0914  MT (97140): GH glides", 12),
        ("8:00am-8:23am transfers", 23),
        ("11:50 - 12:10 stairs", 20),
        ("1:45pm to 2:05pm car transfers", 20),
        ("STS 3x8 from 17 inch chair", None),
        ("Pain 3/10 at rest", None),
    ],
)
def test_block_minutes(text, minutes):
    assert parsing.block_minutes(text) == minutes


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Billing: 97530-GP x2 | 97110-GP x1", [("97530", 2, ["GP"]), ("97110", 1, ["GP"])]),
        ("97140-GP-59  x1", [("97140", 1, ["GP", "59"])]),
        ("97530 GP 59 x2", [("97530", 2, ["GP", "59"])]),
        ("97530 (2u) -GP, 59", [("97530", 2, ["GP", "59"])]),
        ("97530: 2 units GO CO", [("97530", 2, ["GO", "CO"])]),
        ("CPT 97530 x 2 GP XU", [("97530", 2, ["GP", "XU"])]),
        ("97530 × 3 GP KX", [("97530", 3, ["GP", "KX"])]),
        ("97530 units: 2 GP", [("97530", 2, ["GP"])]),
        ("97530 x 59 min", [("97530", None, [])]),
        ("97530 x 25 min", [("97530", None, [])]),
        ("97530   GP    2", [("97530", 2, ["GP"])]),
        ("| 97140 | GP, 59 | 1 |", [("97140", 1, ["GP", "59"])]),
    ],
)
def test_parse_billing(text, expected):
    got = [(b.code, b.units, b.modifiers) for b in parsing.parse_billing(text)]
    assert got == expected


@pytest.mark.parametrize(
    "line, timed, total",
    [
        ("Timed code minutes: 40     Total treatment time: 50 min", 40, 50),
        ("Total timed: 49 min | Total treatment: 55 min", 49, 55),
        ("Timed code min :  44       Total tx min :  44", 44, 44),
        ("Total timed 53 min. Total tx time 53 min.", 53, 53),
        ("Total timed minutes: 28     Total treatment minutes: 36", 28, 36),
        ("Untimed: 97150 x1", None, None),
        ("Pt tolerated session well", None, None),
    ],
)
def test_totals(line, timed, total):
    assert parsing.find_total_timed(line) == timed
    assert parsing.find_total_treatment(line) == total


def test_codes_ignore_zip_codes_and_dates():
    assert parsing.find_codes("1280 E. Ogden Ave, Naperville, IL 60563; DOS 05/14/2025; 97530 and G0283") == [
        "97530",
        "G0283",
    ]


def test_minutes_between_time_in_and_out():
    assert clock.minutes_between("9:02", "9:57") == 55
    assert clock.minutes_between("0945", "1030") == 45
    assert clock.minutes_between("12:40", "1:25") == 45
    assert clock.minutes_between("9:00", "8:00") is None


def test_credentials_and_assistants():
    assert parsing.find_credentials("Electronically signed: Megan Castillo, PT, DPT 03/11/2025") == ["PT", "DPT"]
    assert parsing.find_credentials("Signed: Ingrid Solberg, OTR/L, CHT") == ["OTR/L", "CHT"]
    assert "PTA" in parsing.find_credentials("J. Ruiz, PTA")
    assert parsing.find_credentials("Patient reports 5/10 pain") == []


def test_date_of_service_prefers_the_labelled_date():
    value, _, _ = parsing.find_date_of_service("DOB: 04/17/1948   DOS: 03/11/2025")
    assert value == "03/11/2025"


def test_service_names_map_to_codes():
    assert parsing.codes_named("Manual therapy - 12 min") == ["97140"]
    assert parsing.codes_named("Ther ex 10 min, then ther act") == ["97110", "97530"]
    assert parsing.codes_named("Pt tolerated well") == []


def test_table_minutes_column():
    header = ["Intervention", "Detail", "Min", "CPT"]
    assert parsing.table_minutes(["Ther act", "2 x 3 min reach", "16", "97530"], header) == 16
    assert (
        parsing.table_minutes(["Ther act", "reach", "16", "97530"], ["Intervention", "Detail", "CPT", "Units"]) is None
    )


@pytest.mark.parametrize(
    "goal, measurable",
    [
        ("Pt will don button-front shirt w/ SBA in 4 wks", True),
        ("pt will ambulate 1000 ft in the community w/o AD", True),
        ("Pt will lift 50# floor to waist w/o radicular sx in 6 wks", True),
        ("pt will negotiate 4 steps w/ 1 rail reciprocally", True),
        ("Grip strength >= 45 lb", True),
        ("Pt will improve strength in 4 wks", False),
        ("Patient will feel better and return to prior level of function", False),
        ("Pt will increase endurance within 6 weeks", False),
    ],
)
def test_goal_measurability(goal, measurable):
    assert parsing.goal_is_measurable(goal) is measurable


@pytest.mark.parametrize(
    "spoken, written",
    [
        ("Therapeutic activities, nine seven five three zero.", "Therapeutic activities, 97530."),
        ("97 530 times three units, G. P. modifier", "97530 x3 units, GP modifier"),
        ("for twenty-five minutes", "for 25 minutes"),
        ("walk one thousand feet", "walk 1000 feet"),
        ("pain four out of ten", "pain 4 out of 10"),
        ("Charge nine two five oh seven times one, GN", "Charge 92507 x1, GN"),  # "oh" for zero between digits
        ("oh well, two sets", "oh well, 2 sets"),
    ],
)
def test_dictated_numbers_are_read(spoken, written):
    assert parsing.normalize_spoken(spoken) == written


def test_dictated_billing_and_minutes_parse():
    assert [
        (b.code, b.units, b.modifiers)
        for b in parsing.parse_billing("BILLING: 97 530 times three units, G. P. modifier.")
    ] == [("97530", 3, ["GP"])]
    assert parsing.block_minutes("Therapeutic activities for thirty-two minutes") == 32


def test_lower_case_credentials_only_when_asked():
    line = "dana kowalski, pta   (travel contract)   sup pt: m. ferris, pt"
    assert parsing.find_credentials(line) == []
    assert parsing.find_credentials(line, any_case=True) == ["PTA", "PT"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TherAct (97530) 36 min — PT 33 min, PTA 3 min; 10:58–11:01 PTA continued kneeler reps x2", (True, 3)),
        ("TA 38' (PT 35 / PTA 3): tub-bench ×4; PTA T. Hollis guarded 3' of curb practice", (True, 3)),
        ("TherAct 25 min, 10 min by the PTA", (True, 10)),
        ("0842–0908   COTA (Kowalczyk)  97530 therapeutic activities, 26 mins", (True, None)),
        ("PTA 12 min; PTA 4 min", (True, None)),  # two different figures: not read
        ("Therapeutic activities 97530 x 25 min, pt did 3x10 STS", (False, None)),
    ],
)
def test_assistant_minutes_in_a_block(text, expected):
    assert parsing.assistant_minutes(text) == expected


def test_the_date_of_service_is_not_a_birth_or_surgery_date():
    assert (
        parsing.find_date_of_service("Patient ..... A. B.  DOB 06/30/1949\nDOS ......... 07/09/2025\n")[0]
        == "07/09/2025"
    )
    assert (
        parsing.find_date_of_service("Pt (DOB 10/02/1953), s/p ORIF 05/06/2025. Visit 8, 07/01/2025.")[0]
        == "07/01/2025"
    )
    assert parsing.find_date_of_service("03.04.25  OT tx #6 — DOB 02/02/1947")[0] == "03.04.25"
    assert parsing.read_date("03.04.25").isoformat() == "2025-03-04"


def test_abbreviated_time_in_and_out():
    assert parsing.find_time_in_out("TI 10:05a TO 10:50a")[0][0] == "10:05"
    assert parsing.find_time_in_out("walked to 10:50 mark")[0] is None


def test_goals_with_spoken_or_comparative_targets_are_measurable():
    assert parsing.goal_is_measurable("reach a shelf with pain less than three out of ten in six weeks")
    assert not parsing.goal_is_measurable("hang clothes on the line in four weeks")
