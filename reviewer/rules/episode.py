"""Episode rules: checks that need a patient's visits together, not one note at a time.

Each rule is a function of an `EpisodeContext` that yields `EpisodeViolation`s, registered with
`@episode_rule` in `EPISODE_RULES` (apart from the note rules' registry, which runs on one
extraction). The docstring is the rule's documentation: what it checks, its source with the
reference's [P]/[S]/[R] tag, and the fix. Cases: tests/episode_cases/<CODE>.yaml.
Policy data (progress-report interval per payer, clone threshold): data/episodes.yaml.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

from reviewer.data import load_yaml
from reviewer.episodes import Episode, EpisodeFinding, Visit
from reviewer.fee_schedule import FeeSchedule
from reviewer.findings import Severity
from reviewer.schema import Evidence
from reviewer.thresholds import kx_threshold

EPISODE_RULES_VERSION = "1"
PROGRESS_REPORT = "CMS Pub. 100-02 (Benefit Policy Manual), Ch. 15, §220.3.D (rules.md §3.3)"
CERTIFICATION = "CMS Pub. 100-02, Ch. 15, §220.1.2-§220.1.3 (rules.md §3.4)"
AUTHORIZATION = "Payer prior-authorization terms as the notes state them (rules.md §2, payer policy) [S]"
KX_THRESHOLD = "SSA §1833(g) as amended by BBA 2018; CMS Pub. 100-04, Ch. 5, §10.3 (rules.md R6.3)"
CLONED = "CMS Pub. 100-02, Ch. 15, §220.3 (each note documents that visit); OIG A-05-14-00041 (rules.md §8.1) [S]"
INITIAL_CERT_DAYS = 90  # the longest initial certification (§220.1.3)


@dataclass(frozen=True)
class ProgressPolicy:
    """How often a progress report is due: every `every` treatment days (or visits), and, when
    `calendar_days` is set, also within that many calendar days ("10 visits or 30 days")."""

    every: int = 10
    count: str = "treatment_days"  # or "visits"
    calendar_days: int | None = None


@dataclass(frozen=True)
class EpisodeContext:
    episode: Episode
    patient_visits: Sequence[Visit]  # every visit of the patient in the batch, all episodes, by date
    fee_schedule: FeeSchedule | None = None
    progress: ProgressPolicy = field(default_factory=ProgressPolicy)
    clone_threshold: float = 90.0


@dataclass(frozen=True)
class EpisodeViolation:
    message: str
    visit: Visit | None = None  # None: the episode as a whole
    evidence: Sequence[Evidence | None] = ()
    units_at_risk: int = 0
    severity: Severity | None = None  # overrides the rule's


EpisodeCheck = Callable[[EpisodeContext], Iterable[EpisodeViolation]]


@dataclass(frozen=True)
class EpisodeRule:
    code: str
    name: str
    severity: Severity
    citation: str
    fix: str
    check: EpisodeCheck

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.check) or ""

    def run(self, ctx: EpisodeContext) -> list[EpisodeFinding]:
        return [
            EpisodeFinding(
                rule=self.code,
                name=self.name,
                severity=v.severity or self.severity,
                message=v.message,
                citation=self.citation,
                fix=self.fix,
                evidence=[e for e in v.evidence if e is not None and e.verified],
                units_at_risk=v.units_at_risk,
                episode_id=ctx.episode.episode_id,
                note_id=v.visit.note_id if v.visit else None,
            )
            for v in self.check(ctx)
        ]


EPISODE_RULES: dict[str, EpisodeRule] = {}


def episode_rule(
    code: str, name: str, *, severity: Severity, citation: str, fix: str
) -> Callable[[EpisodeCheck], EpisodeCheck]:
    def register(check: EpisodeCheck) -> EpisodeCheck:
        if code in EPISODE_RULES:
            raise ValueError(f"episode rule {code} registered twice")
        EPISODE_RULES[code] = EpisodeRule(code, name, severity, citation, fix, check)
        return check

    return register


@cache
def episode_policy() -> dict:
    return load_yaml("episodes.yaml")


def progress_policy(payer: str) -> ProgressPolicy:
    """The payer's progress-report interval (data/episodes.yaml), else the Medicare rule."""
    table = episode_policy()["progress_report"]
    row = table.get(payer.strip().lower(), table["default"])
    return ProgressPolicy(every=int(row["every"]), count=str(row["count"]), calendar_days=row.get("calendar_days"))


def clone_threshold() -> float:
    return float(episode_policy()["clone_similarity"]["threshold"])


def evaluate_episodes(
    episodes: list[Episode], *, fee_schedule: FeeSchedule | None = None, progress: ProgressPolicy | None = None
) -> list[Episode]:
    """Run every episode rule on each episode; the findings replace the episode's earlier ones."""
    by_patient: dict[str, list[Visit]] = {}
    for episode in episodes:
        by_patient.setdefault(episode.patient, []).extend(episode.visits)
    for visits in by_patient.values():
        visits.sort(key=lambda v: (v.date_of_service, v.note_id))
    threshold = clone_threshold()
    for episode in episodes:
        ctx = EpisodeContext(
            episode, by_patient[episode.patient], fee_schedule, progress or progress_policy(episode.payer), threshold
        )
        findings = [f for r in EPISODE_RULES.values() for f in r.run(ctx)]
        order = {v.note_id: i for i, v in enumerate(episode.visits)}
        episode.findings = sorted(findings, key=lambda f: (order.get(f.note_id or "", -1), f.rule))
    return episodes


# ---------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------


@episode_rule(
    "EPI001",
    "episode.progress_report_due",
    severity="error",
    citation=PROGRESS_REPORT,
    fix="Write a progress report by the therapist (not an assistant) for this reporting period before billing further visits.",
)
def progress_report_due(ctx: EpisodeContext) -> Iterator[EpisodeViolation]:
    """A visit falls past the end of a progress-report period with no progress report written in it.

    A period begins on the episode's first day (evaluation or treatment) and after each progress
    report or re-evaluation by a clinician (the first day counts as day 1, the report's day closes its
    period); it lasts 10 treatment days (days with a visit, not
    calendar days). A payer profile may choose "10 visits or 30 days" (data/episodes.yaml).
    Reports signed by an assistant only are not complete progress reports and do not end a period.
    Flagged once per period, on the first visit past its end.
    Source: Pub. 100-02 Ch. 15 §220.3.D, "at least once every 10 treatment days" (rules.md §3.3) [P];
    the 30-day variant is the older FAQ wording EMRs still use [S].
    Fix: write the progress report (the therapist's assessment of progress toward each goal and the plan).
    """
    policy, days, start, flagged = ctx.progress, 0, ctx.episode.first_date, False
    last_day: date | None = None
    for visit in ctx.episode.visits:
        new_day = visit.date_of_service != last_day
        last_day = visit.date_of_service
        if new_day or policy.count == "visits":
            days += 1
        late_by_days = policy.calendar_days is not None and (visit.date_of_service - start).days >= policy.calendar_days
        if (
            (days > policy.every or late_by_days)
            and not flagged
            and visit.kind not in ("progress_report", "reevaluation")
        ):
            unit = "treatment days" if policy.count == "treatment_days" else "visits"
            when = f"{days} {unit}" + (
                f", {(visit.date_of_service - start).days} calendar days" if late_by_days else ""
            )
            yield EpisodeViolation(
                f"No progress report in this reporting period, begun {start.isoformat()}: this visit is {when} into it"
                f" (due every {policy.every} {unit}"
                + (f" or {policy.calendar_days} days" if policy.calendar_days else "")
                + ").",
                visit=visit,
                evidence=[visit.date_evidence],
                units_at_risk=visit.units,
            )
            flagged = True
        if visit.kind in ("progress_report", "reevaluation") and not visit.assistant_signed:
            days, flagged = 0, False
            start = visit.date_of_service + timedelta(days=1)


@episode_rule(
    "EPI002",
    "episode.after_certification",
    severity="error",
    citation=CERTIFICATION,
    fix="Obtain the physician's recertification of the plan of care covering these dates (a delayed certification needs evidence of the physician's involvement).",
)
def after_certification(ctx: EpisodeContext) -> Iterator[EpisodeViolation]:
    """A visit is dated after the plan of care's certification ended.

    The certification end is the latest "certified through" or plan-of-care end date written in the
    episode's notes up to that visit (a recertification extends it). When only a start is written,
    the initial certification's limit of 90 calendar days applies.
    Source: Pub. 100-02 Ch. 15 §220.1.3: certification covers the plan's duration or 90 days,
    whichever is less; treatment beyond it needs recertification (rules.md §3.4) [P].
    Fix: obtain and file the recertification, or stop billing under the expired plan.
    """
    end: date | None = None
    end_evidence: Evidence | None = None
    assumed = False
    for visit in ctx.episode.visits:
        if visit.keys.certified_through:
            stated = date.fromisoformat(visit.keys.certified_through.value)
            if end is None or assumed or stated > end:
                end, end_evidence, assumed = stated, visit.keys.certified_through.evidence, False
        elif visit.keys.certified_from and (end is None or assumed):
            start = date.fromisoformat(visit.keys.certified_from.value)
            candidate = start + timedelta(days=INITIAL_CERT_DAYS - 1)
            if end is None or candidate > end:
                end, end_evidence, assumed = candidate, visit.keys.certified_from.evidence, True
        if end is not None and visit.date_of_service > end:
            how = f"{INITIAL_CERT_DAYS} days from its start" if assumed else "as the notes state"
            yield EpisodeViolation(
                f"Visit on {visit.date_of_service.isoformat()} is after the certification ended on"
                f" {end.isoformat()} ({how}).",
                visit=visit,
                evidence=[visit.date_evidence, end_evidence],
                units_at_risk=visit.units,
            )


@episode_rule(
    "EPI003",
    "episode.no_certification",
    severity="warning",
    citation=CERTIFICATION,
    fix="Check that a signed, dated certification of the plan of care is on file and write its dates in the notes.",
)
def no_certification(ctx: EpisodeContext) -> Iterator[EpisodeViolation]:
    """No note of the episode states a certification period or plan-of-care dates.

    Source: Pub. 100-02 Ch. 15 §220.1.2-§220.1.3: therapy is covered under a certified plan of
    care (rules.md §3.4) [P]; that the notes should carry its dates is this reviewer's reading [R].
    Fix: record the certification dates ("POC 02/18/25 - 05/18/25" or "certified through ...").
    """
    if not any(v.keys.certified_from or v.keys.certified_through for v in ctx.episode.visits):
        yield EpisodeViolation(
            f"None of the episode's {len(ctx.episode.visits)} notes states plan-of-care certification dates."
        )


@episode_rule(
    "EPI004",
    "episode.beyond_authorization",
    severity="error",
    citation=AUTHORIZATION,
    fix="Request an extension of the authorization before billing these visits, or hold them.",
)
def beyond_authorization(ctx: EpisodeContext) -> Iterator[EpisodeViolation]:
    """A visit is beyond the number of visits the stated authorization allows.

    Visits are counted from the first note naming the authorization (a new authorization number
    starts a new count); the number authorised is the latest the notes state.
    Source: payer prior-authorization terms; visits beyond them are not paid (rules.md §2) [S].
    Fix: obtain an extension or a new authorization before these visits are billed.
    """
    allowed: int | None = None
    allowed_evidence: Evidence | None = None
    number: str | None = None
    used = 0
    for visit in ctx.episode.visits:
        if visit.authorization and visit.authorization != number:
            number, used = visit.authorization, 0
        if visit.keys.visits_authorized:
            allowed, allowed_evidence = visit.keys.visits_authorized.value, visit.keys.visits_authorized.evidence
        if allowed is None:
            continue
        used += 1
        if used > allowed:
            yield EpisodeViolation(
                f"Visit {used} under an authorization of {allowed} visits.",
                visit=visit,
                evidence=[visit.date_evidence, allowed_evidence],
                units_at_risk=visit.units,
            )


@episode_rule(
    "EPI005",
    "episode.kx_threshold_without_kx",
    severity="error",
    citation=KX_THRESHOLD,
    fix="Add KX to the therapy lines once the year's threshold is passed, with documentation of medical necessity.",
)
def kx_threshold_without_kx(ctx: EpisodeContext) -> Iterator[EpisodeViolation]:
    """A Medicare visit billed without KX once the year's allowed amount for the patient passes the KX threshold.

    The year-to-date allowed amount sums units x the fee schedule's amount over the patient's visits
    in the batch, PT and SLP together and OT apart; the threshold per year is data/thresholds.yaml.
    Source: SSA §1833(g) (BBA 2018); Pub. 100-04 Ch. 5 §10.3; amounts rules.md R6.3 [S].
    Fix: append KX to the lines of this and later visits, when the documentation supports medical necessity.
    """
    if ctx.episode.payer != "medicare" or ctx.fee_schedule is None:
        return
    for visit, total, threshold in _year_to_date(ctx):
        if visit in ctx.episode.visits and total > threshold:
            missing = [line.code for line in visit.billing if "KX" not in line.modifiers]
            if missing:
                yield EpisodeViolation(
                    f"Year-to-date allowed ${total:,.2f} passes the {visit.date_of_service.year} KX threshold of"
                    f" ${threshold:,}; billed without KX: {', '.join(missing)}.",
                    visit=visit,
                    evidence=[visit.date_evidence],
                )


@episode_rule(
    "EPI006",
    "episode.kx_not_checked",
    severity="info",
    citation=KX_THRESHOLD,
    fix="Supply the fee schedule (--fee-schedule FILE: code, amount, year) with every code billed, so the KX check can run.",
)
def kx_not_checked(ctx: EpisodeContext) -> Iterator[EpisodeViolation]:
    """The KX threshold check could not run in full on a Medicare episode.

    Either no fee-schedule file is loaded, or it has no amount for a code billed in a year, or no
    threshold is on file for the year; the year-to-date totals are then unknown or a lower bound.
    Source: the KX threshold needs each visit's allowed amount (rules.md R6.3) [S].
    Fix: load a fee schedule covering every billed code and year.
    """
    if ctx.episode.payer != "medicare":
        return
    if ctx.fee_schedule is None:
        yield EpisodeViolation("KX threshold not checked: no fee schedule is loaded.")
        return
    missing = sorted(
        {
            f"{line.code} ({v.date_of_service.year})"
            for v in ctx.episode.visits
            for line in v.billing
            if ctx.fee_schedule.amount(line.code, v.date_of_service.year) is None
        }
    )
    if missing:
        yield EpisodeViolation(
            f"The fee schedule {ctx.fee_schedule.name} has no amount for {', '.join(missing)}; the year-to-date"
            " totals of the KX check are a lower bound."
        )
    years = sorted({v.date_of_service.year for v in ctx.episode.visits if ctx.episode.discipline})
    for year in years:
        if kx_threshold(year, ctx.episode.discipline or "PT") is None:
            yield EpisodeViolation(f"No KX threshold on file for {year}; the KX check did not run for that year.")


@episode_rule(
    "EPI007",
    "episode.cloned_note",
    severity="warning",
    citation=CLONED,
    fix="Document this visit's own findings, treatment and response; do not carry a previous note forward.",
)
def cloned_note(ctx: EpisodeContext) -> Iterator[EpisodeViolation]:
    """A note's narrative is nearly identical to an earlier note of the same patient, or of another
    patient by the same clinician.

    Narratives are compared without headers, identifiers, dates, visit numbers, billing and
    signature lines (rapidfuzz ratio, 0-100); the threshold is data/episodes.yaml.
    Source: each note must document the visit it bills (Pub. 100-02 Ch. 15 §220.3) [P]; cloned
    documentation is a standing audit finding (OIG, rules.md §8) [S].
    Fix: write what was done and observed on this visit.
    """
    for visit in ctx.episode.visits:
        match = visit.clone_match
        if match and match.score >= ctx.clone_threshold:
            whose = "the same patient's" if match.same_patient else "another patient's (same clinician)"
            yield EpisodeViolation(
                f"Narrative {match.score:.1f}% identical to {whose} note {match.note_id}"
                f" (threshold {ctx.clone_threshold:.0f}%).",
                visit=visit,
                evidence=[visit.date_evidence],
            )


def _year_to_date(ctx: EpisodeContext) -> Iterator[tuple[Visit, float, int]]:
    """(visit, year-to-date allowed amount including it, threshold) for the patient's visits in
    the episode's threshold bucket, in date order; visits of a year without a threshold are skipped."""
    assert ctx.fee_schedule is not None
    bucket = "OT" if ctx.episode.discipline == "OT" else "PT"
    totals: dict[int, float] = {}
    for visit in ctx.patient_visits:
        if ("OT" if visit.discipline == "OT" else "PT") != bucket:
            continue
        year = visit.date_of_service.year
        threshold = kx_threshold(year, bucket)
        if threshold is None:
            continue
        totals[year] = totals.get(year, 0.0) + sum(
            line.units * (ctx.fee_schedule.amount(line.code, year) or 0.0) for line in visit.billing
        )
        yield visit, round(totals[year], 2), threshold.amount
