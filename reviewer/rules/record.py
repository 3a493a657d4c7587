"""What every daily note must record (§220.3.E): the date of treatment, each billed service traced
to a documented intervention, the unbilled timed services, a timely signature, every contributor,
and a visit count the plan of care allows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from reviewer.codes import is_timed, normalize_code
from reviewer.parsing import named_service_codes
from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import ReviewContext, parse_date
from reviewer.schema import RecordPart
from reviewer.units import units_for

SIGNATURE_DAYS = 7  # entry within one week of the date of service


@rule(
    "DOC006",
    "documentation.date_of_service_missing",
    flag=None,
    severity="error",
    citation=citations.TREATMENT_NOTE,
    fix="Write the date of treatment on the note (e.g. 'DOS: 03/11/2025').",
)
def date_of_service_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """The note records no readable date of treatment.

    Source: Pub. 100-02 Ch. 15 §220.3.E item 1, "date of treatment" [S: therapycomply, URPT quoting
    the CMS/MAC CERT task force] (rules.md §3.1).
    Fix: add the date of service.
    """
    if parse_date(ctx.extraction.date_of_service) is None:
        yield Violation("The note records no readable date of treatment.")


@rule(
    "DOC007",
    "documentation.date_of_service_implausible",
    flag=None,
    severity="error",
    citation=citations.PLAN_OF_CARE,
    fix="Correct the date of service, or the plan of care's certification dates.",
)
def date_of_service_implausible(ctx: ReviewContext) -> Iterator[Violation]:
    """The date of treatment lies in the future, or before the plan of care it is written under starts.

    Only a date the note labels as the date of service is compared with the plan's start (an
    unlabelled first date may be a birth date).
    Source: Pub. 100-02 Ch. 15 §220.1.2-§220.1.3 (services are furnished under a certified plan)
    and §220.3.E item 1 [P/S] (rules.md §3.1, §3.4).
    Fix: correct the date, or document the plan of care in force on it.
    """
    served = parse_date(ctx.extraction.date_of_service)
    if served is None:
        return
    evidence = ctx.extraction.date_of_service.evidence if ctx.extraction.date_of_service else None
    if served > date.today():
        yield Violation(f"The date of service {served:%m/%d/%Y} is in the future.", evidence=[evidence])
        return
    plan_start = parse_date(ctx.extraction.plan_of_care_start)
    if ctx.extraction.date_of_service_labelled and plan_start is not None and served < plan_start:
        plan = ctx.extraction.plan_of_care_start
        yield Violation(
            f"The date of service {served:%m/%d/%Y} is before the plan of care starts ({plan_start:%m/%d/%Y}).",
            evidence=[evidence, plan.evidence if plan else None],
        )


@rule(
    "TRC001",
    "traceability.billed_code_without_intervention",
    flag=None,
    severity="error",
    citation=citations.TREATMENT_NOTE,
    fix="Document the intervention each billed code stands for, in words that can be compared with the claim.",
)
def billed_code_without_intervention(ctx: ReviewContext) -> Iterator[Violation]:
    """A billed code whose service the note never names, while it names the other services it bills.

    A charge line alone does not document the service: each billed intervention must be identified
    "in language that can be compared with the billing on the claim". Judged only for codes whose
    service names are known (data/services.yaml), and only where the note names at least one other
    billed service (a narrative that names none is beyond what the names can judge).
    Source: Pub. 100-02 Ch. 15 §220.3.E item 2 [P mirror p.206; S] (rules.md §3.1).
    Fix: describe the service billed under the code, or remove the charge.
    """
    named = {normalize_code(g.value) for g in ctx.extraction.named_codes if g.verified}
    named |= {normalize_code(b.code) for b in ctx.blocks if b.code and not b.charge_restatement}
    judged = named_service_codes()
    if not named & set(ctx.billed):
        return
    for code in ctx.billed:
        if code in judged and code not in named:
            yield Violation(
                f"{code} is billed but the note never names the service (its code or name appears only on the charge).",
                evidence=ctx.billing_evidence(code),
                code=code,
            )


@rule(
    "TRC002",
    "traceability.unbilled_timed_service",
    flag=None,
    severity="info",
    citation=citations.TREATMENT_NOTE,
    fix="Check whether the unbilled minutes change the units: under the Medicare method they count toward the total.",
)
def unbilled_timed_service(ctx: ReviewContext) -> Iterator[Violation]:
    """A timed service the note documents with minutes but does not bill, whose minutes would
    change the units: under the Medicare method the timed total with them supports more units than
    billed; under the per-code method it has 8 minutes or more of its own.

    Unbilled timed services are recorded "regardless of whether or not it is billed, because the
    unbilled timed services may impact the billing".
    Source: Pub. 100-02 Ch. 15 §220.3.E item 2 [P mirror p.206]; Pub. 100-04 Ch. 5 §20.2 (rules.md
    §1, §3.1).
    Fix: none if it was rightly not billed; otherwise recount the units with its minutes.
    """
    if not ctx.billed_timed:
        return
    unbilled = [
        b
        for b in ctx.blocks_all_documented()
        if b.code and is_timed(normalize_code(b.code)) and normalize_code(b.code) not in ctx.billed and b.minutes
    ]
    if not unbilled:
        return
    billed_minutes = sum(m for code, m in ctx.documented_timed_minutes.items() if code in ctx.billed_timed)
    billed_units = sum(ctx.billed_timed.values())
    for block in unbilled:
        minutes = block.minutes or 0
        if ctx.payer.unit_method == "medicare":
            changes = units_for(billed_minutes + minutes) > max(billed_units, units_for(billed_minutes))
        else:
            changes = minutes >= 8
        if changes:
            said = " (the note says it was not billed)" if block.billed_as_not_billed else ""
            yield Violation(
                f"{block.code} is documented for {minutes} min but not billed{said}; with its minutes the "
                "timed total would support another unit.",
                evidence=[block.evidence],
                code=block.code,
            )


@rule(
    "DOC008",
    "documentation.signature_late",
    flag=None,
    severity="warning",
    citation=citations.ENTRY_TIMELINESS,
    fix="Sign notes within a week of the visit; if this is a late entry, label it as one with the reason.",
)
def signature_late(ctx: ReviewContext) -> Iterator[Violation]:
    """The note was signed more than 7 days after the date of service.

    Compared only when the note labels its date of service.
    Source: contractors may require notes to be entered within one week of the last date they
    refer to [S: therapycomply]; dictated documentation counts from the day it was dictated
    [P mirror p.193] (rules.md §3.1).
    Fix: sign within the week, or document a late entry.
    """
    served = parse_date(ctx.extraction.date_of_service) if ctx.extraction.date_of_service_labelled else None
    signed = parse_date(ctx.extraction.signature_date)
    if served is None or signed is None or signed - served <= timedelta(days=SIGNATURE_DAYS):
        return
    yield Violation(
        f"Signed {signed:%m/%d/%Y}, {(signed - served).days} days after the date of service {served:%m/%d/%Y}.",
        evidence=[
            ctx.extraction.signature_date.evidence if ctx.extraction.signature_date else None,
            ctx.extraction.date_of_service.evidence if ctx.extraction.date_of_service else None,
        ],
    )


@rule(
    "DOC009",
    "documentation.contributor_not_listed",
    flag=None,
    severity="warning",
    citation=citations.TREATMENT_NOTE,
    fix="List each person who took part (e.g. 'A. Lee, PTA, 3 min of 97530') with the signature.",
)
def contributor_not_listed(ctx: ReviewContext) -> Iterator[Violation]:
    """A block names an assistant who took part, but the note lists no assistant among those who
    furnished the treatment (no provider, contributor or signature line names one).

    Source: Pub. 100-02 Ch. 15 §220.3.E item 4: "a list of each person who contributed to that
    treatment" [P mirror p.206] (rules.md §3.1).
    Fix: add the assistant, with credentials, to the note's signature or contributor lines.
    """
    if ctx.extraction.assistant_involved:
        return
    named = [b for b in ctx.blocks if b.assistant_named]
    if named:
        yield Violation(
            "An assistant took part in the treatment but is not listed with the note's signature or contributors.",
            evidence=[b.evidence for b in named],
        )


@rule(
    "PLAN001",
    "plan.visits_beyond_plan",
    flag=None,
    severity="info",
    citation=citations.PLAN_OF_CARE,
    fix="Check the plan of care's frequency and duration (or the authorisation) before further visits.",
)
def visits_beyond_plan(ctx: ReviewContext) -> Iterator[Violation]:
    """The visit number is beyond the visits the note says are planned ("visit 14 of 12", or more
    visits than "2x/wk x 6 wks" allows): information for the episode view.

    Source: Pub. 100-02 Ch. 15 §220.1.2: the plan states the frequency and duration of services
    [S: RonCom, citing §220.1.2] (rules.md §3.4).
    Fix: update the plan of care (recertify) or the authorisation.
    """
    visit, planned = ctx.extraction.visit_number, ctx.extraction.visits_planned
    if visit is None or planned is None or not visit.verified or not planned.verified:
        return
    if visit.value > planned.value:
        yield Violation(
            f"Visit {visit.value} is beyond the {planned.value} visits the note says are planned.",
            evidence=[visit.evidence, planned.evidence],
        )


_PART_NAMES: dict[RecordPart, str] = {
    "subjective": "the patient's report (subjective)",
    "objective": "what was observed or measured (objective)",
    "assessment": "an assessment of progress (assessment)",
    "plan": "a plan (plan)",
}


def _part_missing(ctx: ReviewContext, part: RecordPart) -> Iterator[Violation]:
    """A finding when the note records no line for `part` and the model is sure there is none,
    with the evidence of the parts it does record."""
    elements = {e.part: e for e in ctx.extraction.record}
    element = elements.get(part)
    if element is None or element.present is not False:
        return
    shown = [e for e in ctx.extraction.record if e.present and e.verified]
    there = ", ".join(e.part for e in shown) or "none of the four parts"
    yield Violation(
        f"The note records no {_PART_NAMES[part]}; it records: {there}.",
        evidence=[e.evidence for e in shown],
    )


@rule(
    "DOC010",
    "record.subjective_missing",
    flag=None,
    severity="info",
    citation=citations.RECORD_CONTENT,
    fix="Record what the patient (or caregiver) reports today: symptoms, pain, function at home, concerns.",
)
def subjective_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """No line records the patient's own report (symptoms, pain, function at home, concerns).

    Judged by content, not headings: a narrative without headings can record it; an empty "S:"
    heading does not.
    Source: patient self-report is recommended content of the treatment note (Pub. 100-02 Ch. 15
    §220.3) [R]; the product brief's "S: patient reports…" (rules.md §3.1).
    Fix: add the patient's report for the visit.
    """
    yield from _part_missing(ctx, "subjective")


@rule(
    "DOC011",
    "record.objective_missing",
    flag=None,
    severity="warning",
    citation=citations.RECORD_CONTENT,
    fix="Record what was observed or measured: performance, assistance needed, repetitions, ROM or a test score.",
)
def objective_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """No line records what the therapist observed or measured this session.

    Source: the note records "all treatments and skilled interventions" to justify the billing
    (Pub. 100-02 Ch. 15 §220.3.E) [S]; the brief's "O: observed…" (rules.md §3.1).
    Fix: add the observations or measures of the session.
    """
    yield from _part_missing(ctx, "objective")


@rule(
    "DOC012",
    "record.assessment_missing",
    flag=None,
    severity="warning",
    citation=citations.RECORD_CONTENT,
    fix="Assess progress toward the goals: what changed, what still limits the patient, why skilled care continues.",
)
def assessment_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """No line assesses the patient's progress or status toward the goals.

    Source: response to treatment and progression should be documented to show skill (AAPC,
    rules.md §3.1) [S]; the brief's "A: demonstrates…".
    Fix: add an assessment of progress toward the goals.
    """
    yield from _part_missing(ctx, "assessment")


@rule(
    "DOC013",
    "record.plan_missing",
    flag=None,
    severity="warning",
    citation=citations.RECORD_CONTENT,
    fix="State the plan: continue, frequency, and what the next visit will progress.",
)
def plan_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """No line states the plan (continue, frequency, what the next visit will do).

    Source: the treatment note follows the plan of care (Pub. 100-02 Ch. 15 §220.1.2) [S]; the
    brief's "P: continue…" (rules.md §3.1).
    Fix: add the plan for the next visits.
    """
    yield from _part_missing(ctx, "plan")
