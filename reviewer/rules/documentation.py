"""Treatment-note elements: is it a treatment note, signature, goals, skill, response, outcomes."""

from __future__ import annotations

from collections.abc import Iterator

from reviewer.codes import professional_credentials, split_credentials
from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import ReviewContext


@rule(
    "NOTE001",
    "note.not_a_treatment_note",
    flag="not_a_treatment_note",
    severity="error",
    citation=citations.TREATMENT_NOTE,
    fix="Review only daily treatment notes that bill therapy; route this document elsewhere.",
    gate=True,
)
def not_a_treatment_note(ctx: ReviewContext) -> Iterator[Violation]:
    """The document is not a daily treatment note that bills therapy (a referral, an evaluation, a
    report, a letter, an instruction), or it is a treatment note with no billing lines.

    For another kind of document it is the only finding: its missing signature or minutes are not
    billing problems, because nothing is billed from it. A treatment note without billing lines
    keeps its documentation findings, listed without corpus flags (FORMAT.md).
    Source: Pub. 100-02 Ch. 15 §220.3.E: a treatment note documents each treatment day and its
    billing [P mirror p.205].
    Fix: submit the day's treatment note instead, or add the billing lines to this one.
    """
    kind = ctx.extraction.document_type
    if kind == "other":
        evidence = ctx.extraction.document_evidence
        shown = f" (line: {evidence.text.strip()[:80]!r})" if evidence is not None else ""
        yield Violation(
            f"This document is not a daily therapy treatment note{shown}; it was not reviewed for billing.",
            evidence=[evidence],
        )
    elif kind == "unbilled_note":
        yield Violation(
            "No billing lines were found: this treatment note bills nothing, so there is no billing to check; "
            "its documentation findings are listed below without flags."
        )


@rule(
    "NOTE002",
    "note.instructions_to_the_reader",
    flag=None,
    severity="info",
    citation=citations.TREATMENT_NOTE,
    fix="Remove text addressed to the reviewer or to software; the note records the treatment only.",
)
def instructions_to_the_reader(ctx: ReviewContext) -> Iterator[Violation]:
    """The note carries text addressed to the reviewer or the model ("ignore previous
    instructions", "SYSTEM:", a JSON answer). It was left out of the reading, so it changes no
    value and no flag; the finding shows where it is.
    Source: the record documents the treatment (Pub. 100-02 Ch. 15 §220.3.E) [S]; a note is data,
    never instructions (DEVELOPERS.md).
    Fix: remove it from the note.
    """
    spans = [span for span in ctx.extraction.instructions if span.verified]
    if spans:
        yield Violation(
            f"{len(spans)} passage(s) addressed to the reviewer or the model were left out of the reading.",
            evidence=list(spans),
        )


@rule(
    "DOC001",
    "documentation.signature_credentials",
    flag="missing_signature",
    severity="error",
    citation=citations.TREATMENT_NOTE,
    fix="Sign the note with the treating clinician's name and professional credentials (e.g. 'Jane Doe, PT, DPT').",
)
def missing_signature(ctx: ReviewContext) -> Iterator[Violation]:
    """The note has no signature, or the signature carries no recognised professional credential.

    Recognised credentials are listed in data/credentials.yaml (PT, DPT, PTA, OT, OTR/L, COTA, SLP,
    CCC-SLP, MPT, MSPT, ...); specialty certifications alone (OCS, SCS) do not identify the profession.
    Source: Pub. 100-02 Ch. 15 §220.3.E item 4: "signature and professional identification of the
    qualified professional who furnished or supervised the services" [P mirror p.206].
    Fix: add the clinician's signature with credentials.
    """
    signature = ctx.extraction.signature
    if signature is None or signature.evidence is None or not signature.evidence.verified:
        yield Violation("The note is not signed (no signature found in the note).")
        return
    name_parts = (signature.name or "").split(",")[1:]
    credentials = split_credentials([*signature.credentials, *name_parts])
    if not professional_credentials() & set(credentials):
        shown = ", ".join(credentials) or "none"
        yield Violation(
            f"The signature has no recognised professional credential (found: {shown}).", evidence=[signature.evidence]
        )


@rule(
    "DOC002",
    "documentation.functional_goal",
    flag="no_functional_goal",
    severity="warning",
    citation=citations.PLAN_OF_CARE,
    fix="State or reference a functional, measurable goal (task, level of assistance or distance, time frame).",
)
def no_functional_goal(ctx: ReviewContext) -> Iterator[Violation]:
    """No functional, measurable goal is stated or referenced in the note.

    A goal is functional unless it names no daily-life activity and the model, asked, agrees
    ("increase grip to 75 lb; pain 0-1/10" is an impairment goal).

    Source: Pub. 100-02 Ch. 15 §220.1.2 (plan of care: long-term treatment goals) [S]; 97530 "must be
    part of an active written plan of care and be directed at a specific outcome" (LCD language, rules.md §4.2) [S].
    Fix: add the goal the session works toward, with a measurable target (e.g. "independent car
    transfer in 4 weeks").
    """
    goals = [goal for goal in ctx.extraction.goals if goal.verified]
    if any(goal.measurable and goal.functional is not False for goal in goals) or "goal" in ctx.extraction.doubtful:
        return
    if not goals:
        detail = "no goal is stated"
    elif any(goal.measurable for goal in goals):
        detail = "the goals name only impairments (strength, motion, pain), no daily-life activity"
    else:
        detail = "goals are stated but none is measurable"
    yield Violation(f"No functional, measurable goal: {detail}.", evidence=[goal.evidence for goal in goals])


@rule(
    "DOC003",
    "documentation.skilled_justification",
    flag="no_skilled_justification",
    severity="error",
    citation=citations.SKILLED_CARE,
    fix="Document why a therapist's skill was needed: cueing or facilitation for a deficit, assistance, progression, safety, clinical decisions.",
)
def no_skilled_justification(ctx: ReviewContext) -> Iterator[Violation]:
    """Nothing in the note shows why the skills of a therapist were required.

    Source: Pub. 100-02 Ch. 15 §220.2: services must be of a complexity that "can be safely and
    effectively performed only by a therapist" [P mirror p.186]; OIG A-05-14-00041 found 28 of 300
    claims "did not require the skills of a therapist" [S].
    Fix: describe the cueing, assistance, progression or clinical decision-making provided.
    """
    if (
        not any(span.verified for span in ctx.extraction.skilled_justification)
        and "skill" not in ctx.extraction.doubtful
    ):
        yield Violation(
            "The note does not show why a therapist's skill was required (cueing, assistance, progression, safety)."
        )


@rule(
    "DOC004",
    "documentation.patient_response",
    flag="no_patient_response",
    severity="warning",
    citation=citations.TREATMENT_NOTE,
    fix="Record how the patient responded: tolerance, change in performance, assistance level, pain, symptoms.",
)
def no_patient_response(ctx: ReviewContext) -> Iterator[Violation]:
    """The note does not record how the patient responded to the treatment.

    Source: response to treatment documents skill and progress (AAPC, R. Gawenda, rules.md §3.1) [S];
    §220.3.E lists it among recommended content [R].
    Fix: add the patient's response to the session's activities.
    """
    if not any(span.verified for span in ctx.extraction.patient_response) and "response" not in ctx.extraction.doubtful:
        yield Violation("The note does not record the patient's response to treatment.")


@rule(
    "DOC005",
    "documentation.outcome_measures",
    flag=None,
    severity="warning",
    citation=citations.PLAN_OF_CARE,
    fix="Record a standardised outcome measure (e.g. TUG, Berg, LEFS, FOTO) at the intervals the payer expects.",
)
def no_outcome_measures(ctx: ReviewContext) -> Iterator[Violation]:
    """No outcome measure is recorded: a warning, not a denial reason.

    Payers' authorisation requests ask for objective progress; requiring a standardised measure in
    a daily note is payer practice, not CMS text [R].
    Source: Pub. 100-02 Ch. 15 §220.3.D: progress reports assess improvement toward each goal
    [P mirror p.204].
    Fix: record a standardised measure when one is due.
    """
    if not any(measure.verified for measure in ctx.extraction.outcome_measures):
        yield Violation("No outcome measure is recorded (needed for progress reports and authorisation requests).")
