"""Write the synthetic test episodes of this folder (notes/<episode>/visit-NN.txt). Deterministic:
run `python evals/corpora/episodes/make_episodes.py` to rewrite the same files.

Every patient, clinician and number is invented. Each visit draws its subjective report, the
activities, their sets and cues and the assessment from pools, and its measures drift with the
visits (pain down, range of motion and times better), as real daily notes do. The defects the
expected findings (expected.yaml) name are written in on purpose: see README.md.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Patient:
    name: str
    mrn: str
    dob: str


@dataclass
class EpisodeSpec:
    key: str
    patient: Patient
    discipline: str  # PT or OT
    region: str  # knee, hip, back, shoulder, hand
    clinician: str
    start: date
    visits: int
    weekdays: tuple[int, ...] = (0, 3)  # Monday, Thursday
    progress_at: tuple[int, ...] = (10,)  # visit numbers that are progress reports
    poc_days: int = 90  # certification period written on each note, from the start
    recert_at: int | None = None  # visit number of a recertification that extends the plan 60 days
    auth: tuple[str, int] | None = None  # authorization number and visits authorised
    clone_from: int | None = None  # visits after this one copy its narrative...
    clone_to: int | None = None  # ...up to this visit
    heavy: bool = False  # bills 6 units a visit (the KX episode)
    kx_from: int | None = None  # visits from this one carry KX
    name_only_from: int | None = None  # notes from this visit write name + DOB, without the MRN
    seed: int = 0
    extra: dict = field(default_factory=dict)


SUBJECTIVE = {
    "knee": [
        "R knee is tight in the mornings but loosens after 10 minutes",
        "walked to the mailbox and back with the cane",
        "slept through the night for the first time since surgery",
        "stairs at church were hard on Sunday",
        "knee felt swollen after gardening yesterday",
        "managed the grocery store with the cart for support",
        "getting in and out of the car is easier",
        "iced twice daily as instructed",
    ],
    "hip": [
        "L hip aches after sitting more than an hour",
        "walked around the block with the walker twice",
        "putting on socks with the sock aid now",
        "hip precautions are easier to remember",
        "felt unsteady on the bathroom tile this morning",
        "got into the tub with the transfer bench",
    ],
    "back": [
        "low back pain worse after driving 40 minutes",
        "lifted the laundry basket using the hip hinge",
        "back stiff on waking, eases with walking",
        "able to sit through a full movie",
        "pain into the R buttock after vacuuming",
        "did the home exercises 5 of 7 days",
    ],
    "shoulder": [
        "R shoulder aches reaching into the upper cupboard",
        "dressed without help except the bra clasp",
        "washing hair still painful above 90 deg",
        "carried a gallon of milk in the R hand",
        "slept on the R side for an hour",
        "used the reacher to get a mug down",
    ],
    "hand": [
        "R hand stiff in the morning for 20 minutes",
        "opened a jar with the jar gripper",
        "buttoned a shirt slowly but fully",
        "dropped a cup at breakfast",
        "wrote a grocery list without a rest",
    ],
}
ACTIVITIES = {
    "knee": [
        'sit to stand from {h}" chair w/o UE {s}x{r}, cues for equal weight bearing',
        'step-ups on {h2}" step with 1 rail {s}x{r}, tactile cue at R knee to prevent valgus',
        "reciprocal stair training on 4 steps with {assist}",
        "car transfer practice in the clinic mock-up x{t}, cued for sequencing",
        "curb negotiation with SPC x{t} with {assist}",
    ],
    "hip": [
        "bed mobility supine to sit x{t} with {assist}, maintaining hip precautions",
        "toilet transfer from raised seat x{t} with {assist}",
        "gait with RW {d} ft with {assist}, cues for step length",
        "tub transfer bench practice x{t}",
        'sit to stand from {h}" surface {s}x{r} with cues to avoid hip flexion past 90',
    ],
    "back": [
        "hip hinge lifting of {w} lb box from floor to waist {s}x{r}, cues for neutral spine",
        "carrying {w} lb laundry basket {d} ft",
        "floor to stand transfer x{t} with half-kneel",
        "reaching into low cabinet with squat pattern {s}x{r}",
        "vacuuming simulation {m} min with cues for weight shift",
    ],
    "shoulder": [
        "reaching to upper shelf with {w} lb cans {s}x{r}",
        "upper body dressing with {assist}",
        "overhead hair-combing simulation {m} min",
        "kitchen task: unloading dishwasher to upper cupboard {m} min",
        "laundry folding at counter height {m} min",
    ],
    "hand": [
        "putty pinch and grip {s}x{r}",
        "buttoning board {m} min with {assist}",
        "jar opening with built-up gripper x{t}",
        "coin manipulation and in-hand translation {m} min",
        "handwriting practice {m} min with pencil grip",
    ],
}
EXERCISES = [
    "recumbent bike {m} min",
    "bridges {s}x{r}",
    "SL hip abduction {s}x{r}",
    "LAQ {w}# {s}x{r}",
    "heel slides with strap {s}x{r}",
    "theraband rows {s}x{r}",
    "wall slides {s}x{r}",
    "calf raises {s}x{r}",
    "pulley flexion {m} min",
    "isometric grip {s}x{r}",
]
ASSESSMENT = [
    "Improved eccentric control today; needed {assist} on the first trials, decreasing by the end.",
    "Fatigued after the second set; rest breaks and cues kept form safe.",
    "Needed cues to avoid compensatory trunk lean; corrected with a mirror.",
    "Tolerated the progression without a rise in pain.",
    "Less guarding than last visit; moving with more confidence.",
    "Balance reactions slower when distracted; kept close guard.",
    "Carry-over of the home program is good.",
]
PLAN = [
    "Continue POC; progress step height next visit.",
    "Continue POC; add a dual-task component.",
    "Continue POC; update the home program with {ex}.",
    "Continue POC; trial of less assistance next visit.",
    "Continue POC; recheck the outcome measure at the progress report.",
]
ASSISTS = ["CGA", "SBA", "min A", "min verbal cues", "mod verbal cues", "close supervision"]
MEASURE = {"PT": ("TUG", "sec"), "OT": ("QuickDASH", "")}
CLINIC = {"PT": "Riverside Physical Therapy - Austin, TX", "OT": "Riverside Hand & Occupational Therapy - Austin, TX"}


def fill(template: str, rng: random.Random) -> str:
    return template.format(
        h=rng.choice([16, 17, 18, 19]), h2=rng.choice([4, 6, 8]), s=rng.choice([2, 3]), r=rng.choice([8, 10, 12, 15]),
        t=rng.choice([3, 4, 5]), d=rng.choice([100, 150, 200, 300]), w=rng.choice([2, 3, 5, 8, 10]),
        m=rng.choice([5, 6, 8, 10]), assist=rng.choice(ASSISTS), ex=rng.choice(["step-ups", "bridges", "wall slides"]),
    )  # fmt: skip


def visit_dates(spec: EpisodeSpec) -> list[date]:
    dates: list[date] = []
    day = spec.start
    while len(dates) < spec.visits:
        if day.weekday() in spec.weekdays:
            dates.append(day)
        day += timedelta(days=1)
    return dates


def us(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def narrative(spec: EpisodeSpec, number: int, rng: random.Random) -> list[str]:
    """The visit's own lines, S through P (what a clone copies)."""
    pain = max(1, 6 - number // 3 + rng.choice([-1, 0, 0, 1]))
    name, unit = MEASURE[spec.discipline]
    value = round(19.5 - 0.45 * number + rng.uniform(-0.4, 0.4), 1) if spec.discipline == "PT" else 62 - 2 * number
    activities = rng.sample(ACTIVITIES[spec.region], 2)
    exercises = rng.sample(EXERCISES, 3)
    act_min, ex_min = rng.choice([23, 25, 28, 30]), rng.choice([15, 17, 20])
    if spec.heavy:
        act_min, ex_min = rng.choice([44, 45, 46]), rng.choice([28, 30])
    lines = [
        "S: Pt reports " + "; ".join(rng.sample(SUBJECTIVE[spec.region], 2)) + f". Pain {pain}/10.",
        "",
        "O:",
        f"Therapeutic activities (97530) x {act_min} min: {fill(activities[0], rng)}; {fill(activities[1], rng)}.",
        f"Therapeutic exercise (97110) x {ex_min} min: " + "; ".join(fill(e, rng) for e in exercises) + ".",
    ]
    if spec.heavy:
        lines.append(
            f"Neuromuscular re-education (97112) x 15 min: tandem stance and single-leg balance, {rng.choice(ASSISTS)}."
        )
    lines += [
        f"{name} {value}{(' ' + unit) if unit else ''}.",
        "",
        f"A: {fill(rng.choice(ASSESSMENT), rng)} {fill(rng.choice(ASSESSMENT), rng)}"
        f" Continues to need skilled {spec.discipline} for {rng.choice(['safety', 'progression', 'carry-over'])}.",
        f"STG: pt will {'perform car transfers' if spec.discipline == 'PT' else 'dress the upper body'} independently in 4 wks - progressing",
        "",
        f"P: {fill(rng.choice(PLAN), rng)}",
    ]
    return lines


def billing(spec: EpisodeSpec, number: int, lines: list[str]) -> tuple[str, str]:
    """The minutes and billing lines of a visit, from the minutes its treatment lines document."""
    minutes = [int(line.split(" x ", 1)[1].split(" min", 1)[0]) for line in lines if "(97" in line and " min: " in line]
    timed = sum(minutes)
    modifier = "GP" if spec.discipline == "PT" else "GO"
    kx = "-KX" if spec.kx_from and number >= spec.kx_from else ""
    parts = [f"97530-{modifier}{kx} x{3 if spec.heavy else (2 if minutes[0] >= 23 else 1)}",
             f"97110-{modifier}{kx} x{2 if spec.heavy else 1}"]  # fmt: skip
    if spec.heavy:
        parts.append(f"97112-{modifier}{kx} x1")
    if number == 1:
        parts.insert(0, f"{'97162' if spec.discipline == 'PT' else '97166'}-{modifier}{kx} x1")
    return f"Timed code minutes: {timed}     Total treatment time: {timed + 10} min", "Billing: " + " | ".join(parts)


def carried_forward(lines: list[str], number: int) -> list[str]:
    """A copied narrative with the few touches a carried-forward note gets: the pain score, one count."""
    edited = [re.sub(r"Pain \d+/10", f"Pain {2 + number % 3}/10", line) for line in lines]
    if number % 2:
        index = next((i for i, line in enumerate(edited) if re.search(r"\b\dx\d+", line)), None)
        if index is not None:
            edited[index] = re.sub(
                r"\b(\d)x(\d+)", lambda m: f"{int(m.group(1)) + 1}x{m.group(2)}", edited[index], count=1
            )
    return edited


def write_episode(spec: EpisodeSpec) -> None:
    folder = HERE / "notes" / spec.key
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(spec.seed)
    dates = visit_dates(spec)
    poc_end = spec.start + timedelta(days=spec.poc_days - 1)
    copied: list[str] | None = None
    for number, day in enumerate(dates, start=1):
        own = narrative(spec, number, rng)
        if spec.clone_from and number == spec.clone_from:
            copied = own
        if spec.clone_from and spec.clone_to and spec.clone_from < number <= spec.clone_to and copied:
            own = carried_forward(copied, number)
        title = "Daily Note"
        if number == 1:
            title = "Initial Evaluation"
        elif number in spec.progress_at:
            title = "Progress Report"
        if spec.recert_at and number == spec.recert_at:
            title = "Progress Report / Recertification"
        identity = f"Patient: {spec.patient.name}        DOB: {spec.patient.dob}"
        if not (spec.name_only_from and number >= spec.name_only_from):
            identity += f"        MRN: {spec.patient.mrn}"
        cert = f"POC {us(spec.start)} - {us(poc_end)}"
        if spec.recert_at and number >= spec.recert_at:
            cert += f"   Recertified; certified through {us(poc_end + timedelta(days=60))}"
        insurance = "Insurance: Medicare Part B"
        if spec.auth:
            insurance = (
                f"Insurance: Medicare Advantage (Humana)   Auth # {spec.auth[0]}, {spec.auth[1]} visits authorized"
            )
        minutes, bill = billing(spec, number, own)
        credential = "PT, DPT" if spec.discipline == "PT" else "OTR/L"
        text = "\n".join(
            [CLINIC[spec.discipline], f"{spec.discipline} {title}", identity,
             f"DOS: {us(day)}        Visit {number} of 16", insurance, cert, "", *own, "", minutes, bill, "",
             f"Electronically signed: {spec.clinician}, {credential}   {us(day)}", ""]
        )  # fmt: skip
        (folder / f"visit-{number:02d}.txt").write_text(text, encoding="utf-8")


EPISODES = [
    EpisodeSpec("ep01-clean-knee", Patient("Walter Briggs", "RPT-104233", "06/02/1949"), "PT", "knee",
                "Megan Castillo", date(2025, 2, 17), 12, seed=1),
    EpisodeSpec("ep02-missing-progress-report", Patient("Dolores Fenn", "RPT-104871", "11/23/1951"), "PT", "hip",
                "Megan Castillo", date(2025, 3, 3), 14, weekdays=(0, 2, 4), progress_at=(), seed=2),
    EpisodeSpec("ep03-past-certification", Patient("Raymond Ochoa", "RPT-105120", "01/30/1947"), "PT", "back",
                "Luis Romero", date(2025, 1, 6), 12, weekdays=(1,), progress_at=(10,), poc_days=70, seed=3),
    EpisodeSpec("ep04-over-authorization", Patient("Janice Pruitt", "RPT-105544", "08/14/1955"), "PT", "knee",
                "Luis Romero", date(2025, 4, 7), 10, auth=("HUM-7731902", 8), seed=4),
    EpisodeSpec("ep05-copied-notes", Patient("Harold Lindqvist", "ROT-220417", "03/09/1950"), "OT", "shoulder",
                "Priya Natarajan", date(2025, 2, 10), 11, clone_from=5, clone_to=8, seed=5),
    EpisodeSpec("ep06-kx-threshold", Patient("Bernice Talley", "RPT-106002", "12/01/1946"), "PT", "hip",
                "Megan Castillo", date(2025, 1, 13), 16, weekdays=(0, 2, 4), progress_at=(10,), heavy=True, kx_from=15,
                seed=6),
    EpisodeSpec("ep07-clean-hand", Patient("Eugene Marsh", "ROT-220590", "07/19/1953"), "OT", "hand",
                "Priya Natarajan", date(2025, 5, 5), 9, seed=7),
    EpisodeSpec("ep08-clean-recertified", Patient("Gloria Banks", "RPT-106315", "05/27/1952"), "PT", "back",
                "Megan Castillo", date(2025, 6, 2), 15, weekdays=(1,), progress_at=(10,), poc_days=70, recert_at=10,
                name_only_from=6, seed=8),
]  # fmt: skip


if __name__ == "__main__":
    for spec in EPISODES:
        write_episode(spec)
