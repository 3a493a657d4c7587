"""Time documentation: total timed minutes, total treatment time, and their consistency."""

from __future__ import annotations

from collections.abc import Iterator

from reviewer.codes import is_timed, normalize_code
from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import ReviewContext


def _minutes_evidence(ctx: ReviewContext) -> list:
    spans = [
        ctx.extraction.total_timed_minutes,
        ctx.extraction.total_treatment_minutes,
        ctx.extraction.time_in,
        ctx.extraction.time_out,
    ]
    return [span.evidence for span in spans if span is not None]


@rule(
    "TIME001",
    "time.total_timed_minutes_missing",
    flag="total_timed_minutes_missing",
    severity="error",
    citation=citations.TREATMENT_NOTE,
    fix="State the total timed-code treatment minutes (e.g. 'Total timed minutes: 38') or the minutes of each timed code.",
)
def total_timed_minutes_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """Timed codes are billed but the note states neither total timed minutes nor every code's minutes.

    Source: Pub. 100-02 Ch. 15 §220.3.E item 3 requires "total timed code treatment minutes" [P mirror
    p.206]; §20.2 makes them the basis of the units (rules.md R1.13 [S]).
    Fix: document the total timed minutes, or the minutes of each timed intervention.
    """
    codes = set(ctx.billed_timed) | {normalize_code(b.code) for b in ctx.blocks if b.code and is_timed(b.code)}
    if not codes or ctx.stated_total_timed is not None:
        return
    if not ctx.timed_minutes or ctx.minutes_missing:
        without = ", ".join(sorted(ctx.minutes_missing or codes))
        yield Violation(
            f"No total timed minutes, and per-code minutes are missing for {without}: the timed units cannot be checked.",
            evidence=[e for code in sorted(codes) for e in ctx.billing_evidence(code)],
        )


@rule(
    "TIME002",
    "time.total_treatment_time_missing",
    flag="total_treatment_time_missing",
    severity="error",
    citation=citations.TREATMENT_NOTE,
    fix="State the total treatment time in minutes (timed plus untimed services), or time in and time out.",
)
def total_treatment_time_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """The note documents no total treatment time and no time in/out.

    Source: Pub. 100-02 Ch. 15 §220.3.E item 3: "total treatment time in minutes", which includes
    timed and untimed code treatment [P mirror p.206].
    Fix: add the total treatment minutes (or time in and time out) to the note.
    """
    if ctx.total_treatment is None:
        yield Violation("The note states no total treatment time and no time in/out.")


@rule(
    "TIME003",
    "time.per_code_minutes_vs_total",
    flag="minutes_total_mismatch",
    severity="error",
    citation=citations.TREATMENT_NOTE,
    fix="Correct either the per-code minutes or the stated total timed minutes so that they agree.",
)
def per_code_minutes_disagree_with_total(ctx: ReviewContext) -> Iterator[Violation]:
    """The minutes documented per timed code do not add up to the stated total timed minutes.

    Source: Pub. 100-02 Ch. 15 §220.3.E: "The billing and the total timed code treatment minutes must
    be consistent" [P mirror p.206]. Timed blocks the note marks "not billed" may or may not be in
    the stated total (§220.3.E item 2 asks for them either way), so both sums are accepted.
    Fix: correct the per-code minutes or the total so that they agree.
    """
    stated = ctx.stated_total_timed
    total = ctx.extraction.total_timed_minutes  # stated is its verified value: present when stated is
    if stated is None or total is None or not ctx.documented_timed_minutes or ctx.minutes_from_total:
        return
    billed_sum = sum(ctx.documented_timed_minutes.values())
    unbilled_sum = sum(
        b.minutes or 0
        for b in ctx.extraction.blocks
        if b.verified and b.billed_as_not_billed and b.code and is_timed(b.code)
    )
    if ctx.minutes_missing:
        mismatch = billed_sum > stated  # a partial sum can only show a total that is too small
    else:
        mismatch = stated not in (billed_sum, billed_sum + unbilled_sum)
    if mismatch:
        parts = " + ".join(f"{code} {m}" for code, m in ctx.documented_timed_minutes.items())
        yield Violation(
            f"Per-code timed minutes ({parts} = {billed_sum}) do not match the stated total timed minutes ({stated}).",
            evidence=[total.evidence, *(b.evidence for b in ctx.blocks if b.minutes is not None)],
        )


@rule(
    "TIME004",
    "time.timed_exceeds_treatment",
    flag="minutes_total_mismatch",
    severity="error",
    citation=citations.TREATMENT_NOTE,
    fix="Correct the total timed minutes or the total treatment time: timed minutes are part of the treatment time.",
)
def timed_minutes_exceed_treatment_time(ctx: ReviewContext) -> Iterator[Violation]:
    """Total timed minutes exceed the total treatment time (or the time from time in to time out).

    Source: Pub. 100-02 Ch. 15 §220.3.E: total treatment time includes the timed code minutes
    [P mirror p.206]; rules.md §3.1 engine check "total treatment minutes ≥ total timed minutes".
    Fix: correct whichever figure is wrong; timed minutes cannot exceed the session.
    """
    timed = ctx.stated_total_timed
    if timed is None and ctx.documented_timed_minutes and not ctx.minutes_missing:
        timed = sum(ctx.documented_timed_minutes.values())
    limits = [(ctx.total_treatment, "total treatment time"), (ctx.time_in_out_minutes, "time in to time out")]
    for limit, label in limits:
        if timed is not None and limit is not None and timed > limit:
            yield Violation(
                f"Total timed minutes ({timed}) exceed the {label} ({limit} min).", evidence=_minutes_evidence(ctx)
            )
            return
