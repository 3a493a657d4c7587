"""Unit math against every worked example and vector in shared/reference/rules.md (§1, §2, test vectors)."""

from __future__ import annotations

from itertools import product

import pytest
from casebook import build_extraction

from reviewer.codes import is_timed
from reviewer.rules import evaluate
from reviewer.units import compare_billed, medicare_units, per_code_units, units_for

# Table A: CMS §20.2 worked examples -> (minutes, total units, every acceptable allocation).
CMS_EXAMPLES = {
    "CMS-1": ({"97112": 24, "97110": 23}, 3, [{"97112": 2, "97110": 1}]),
    "CMS-2": ({"97112": 20, "97110": 20}, 3, [{"97112": 2, "97110": 1}, {"97112": 1, "97110": 2}]),
    "CMS-3": ({"97110": 33, "97140": 7}, 3, [{"97110": 2, "97140": 1}]),
    "CMS-4": (
        {"97110": 18, "97140": 13, "97116": 10, "97035": 8},
        3,
        [{"97110": 1, "97140": 1, "97116": 1, "97035": 0}],
    ),
    "CMS-5": (
        {"97112": 7, "97110": 7, "97140": 7},
        1,
        [
            {"97112": 1, "97110": 0, "97140": 0},
            {"97112": 0, "97110": 1, "97140": 0},
            {"97112": 0, "97110": 0, "97140": 1},
        ],
    ),
}


@pytest.mark.parametrize("example", CMS_EXAMPLES, ids=list(CMS_EXAMPLES))
def test_cms_worked_examples(example: str) -> None:
    minutes, total, acceptable = CMS_EXAMPLES[example]
    allocation = medicare_units(minutes)

    assert allocation.total_timed_minutes == sum(minutes.values())
    assert allocation.total_units == total
    assert allocation.units in acceptable
    assert sorted(map(str, allocation.alternatives)) == sorted(map(str, acceptable))


# Table B: unit-table boundaries (R1.1).
BOUNDARIES = [
    (0, 0),
    (7, 0),
    (8, 1),
    (15, 1),
    (22, 1),
    (23, 2),
    (30, 2),
    (37, 2),
    (38, 3),
    (52, 3),
    (53, 4),
    (60, 4),
    (67, 4),
    (68, 5),
    (82, 5),
    (83, 6),
    (97, 6),
    (98, 7),
    (112, 7),
    (113, 8),
    (127, 8),
    (128, 9),
    (142, 9),
]


@pytest.mark.parametrize(("minutes", "units"), BOUNDARIES)
def test_unit_table_boundaries(minutes: int, units: int) -> None:
    assert units_for(minutes) == units
    assert medicare_units({"97530": minutes}).units == {"97530": units}


def test_d1_two_codes_one_unit_each() -> None:
    assert medicare_units({"97110": 18, "97140": 10}).units == {"97110": 1, "97140": 1}


def test_d2_single_service_under_8_minutes() -> None:
    assert medicare_units({"97530": 7}).units == {"97530": 0}


def test_d3_pooled_minutes_go_to_the_longer_service() -> None:
    allocation = medicare_units({"97530": 5, "97110": 4})
    assert (allocation.total_units, allocation.units) == (1, {"97530": 1, "97110": 0})


def test_d4_tie_either_code() -> None:
    allocation = medicare_units({"97530": 38, "97110": 8})
    assert allocation.total_units == 3
    assert sorted(map(str, allocation.alternatives)) == sorted(
        map(str, [{"97530": 3, "97110": 0}, {"97530": 2, "97110": 1}])
    )
    assert medicare_units({"97530": 38, "97110": 8}, billed={"97530": 2, "97110": 1}).units == {"97530": 2, "97110": 1}


def test_d5_untimed_minutes_stay_out_of_the_timed_total() -> None:
    minutes = {"97530": 30, "97140": 10, "97014": 15}
    allocation = medicare_units({code: m for code, m in minutes.items() if is_timed(code)})
    assert (allocation.total_timed_minutes, allocation.units) == (40, {"97530": 2, "97140": 1})

    extraction = build_extraction(
        {
            "blocks": [
                {"code": "97530", "minutes": 30, "kind": "functional"},
                {"code": "97140", "minutes": 10, "kind": "manual"},
                {"code": "97014", "minutes": 15, "kind": "passive"},
            ],
            "total_timed_minutes": 40,
            "total_treatment_minutes": 55,
            "billing": [
                {"code": "97530", "units": 2, "modifiers": ["GP"]},
                {"code": "97140", "units": 1, "modifiers": ["GP"]},
                {"code": "97014", "units": 1, "modifiers": ["GP"]},
            ],
        }
    )
    rows = {
        row.code: (row.minutes, row.supported, row.at_risk)
        for row in evaluate(extraction, payer="medicare", state=None).units
    }
    assert rows == {"97530": (30, 2, 0), "97140": (10, 1, 0), "97014": (15, 1, 0)}


def test_d6_four_units_billed_for_50_minutes() -> None:
    [row] = compare_billed(medicare_units({"97530": 50}), {"97530": 4})
    assert (row.supported, row.at_risk) == (3, 1)
    extraction = build_extraction(
        {
            "blocks": [{"code": "97530", "minutes": 50, "kind": "functional"}],
            "total_timed_minutes": 50,
            "billing": [{"code": "97530", "units": 4, "modifiers": ["GP"]}],
        }
    )
    assert "units_exceed_minutes" in evaluate(extraction, payer="medicare", state=None).flags


def test_d7_three_codes_of_8_minutes() -> None:
    minutes = {"97110": 8, "97112": 8, "97140": 8}
    assert medicare_units(minutes).total_units == 2
    assert per_code_units(minutes).total_units == 3


def test_d8_same_code_minutes_add_up() -> None:
    # PTA 97110 = 23 and PT 97110 = 13 are one code of 36 minutes; PT 97140 = 30.
    allocation = medicare_units({"97110": 23 + 13, "97140": 30})
    assert (allocation.total_units, allocation.units) == (4, {"97110": 2, "97140": 2})


# §2: CMS cumulative vs per-code (SPM) on the same minutes.
PER_CODE_COMPARISONS = [
    ({"97112": 24, "97110": 23}, 3, {"97112": 2, "97110": 2}),
    ({"97110": 33, "97140": 7}, 3, {"97110": 2, "97140": 0}),
    ({"97110": 18, "97140": 13, "97116": 10, "97035": 8}, 3, {"97110": 1, "97140": 1, "97116": 1, "97035": 1}),
    ({"97112": 7, "97110": 7, "97140": 7}, 1, {"97112": 0, "97110": 0, "97140": 0}),
    ({"97110": 8, "97112": 8, "97140": 8}, 2, {"97110": 1, "97112": 1, "97140": 1}),
]


@pytest.mark.parametrize(("minutes", "cms_total", "per_code"), PER_CODE_COMPARISONS)
def test_cms_vs_per_code(minutes: dict[str, int], cms_total: int, per_code: dict[str, int]) -> None:
    assert medicare_units(minutes).total_units == cms_total
    allocation = per_code_units(minutes)
    assert allocation.units == per_code
    assert allocation.total_units == sum(per_code.values())


def test_medicare_allocation_invariants() -> None:
    """Over every split of up to 3 codes x 0-40 minutes (step 3): total = units(T), floor(m/15) <= u <= ceil(m/15)."""
    for a, b, c in product(range(0, 41, 3), repeat=3):
        minutes = {"97530": a, "97110": b, "97140": c}
        allocation = medicare_units(minutes)
        assert allocation.total_units == units_for(a + b + c)
        for alternative in allocation.alternatives:
            assert sum(alternative.values()) == allocation.total_units
            for code, m in minutes.items():
                assert m // 15 <= alternative[code] <= -(-m // 15)
