"""Billed units against the units the documented minutes support, under the payer's method."""

from __future__ import annotations

from collections.abc import Iterator

from reviewer.codes import is_timed
from reviewer.report import UnitRow
from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import ReviewContext
from reviewer.units import UNIT_MINUTES, units_for


def _method_text(ctx: ReviewContext) -> str:
    if ctx.payer.unit_method == "medicare":
        return (
            f"the CMS total-time method ({ctx.allocation.total_timed_minutes if ctx.allocation else '?'} timed minutes)"
        )
    return "the per-code method (each code needs its own 8 minutes per unit)"


def _timed_rows(ctx: ReviewContext) -> list[UnitRow]:
    return [row for row in ctx.unit_rows if is_timed(row.code)]


def _row_evidence(ctx: ReviewContext, code: str) -> list:
    return [*ctx.billing_evidence(code), *ctx.block_evidence(code)]


@rule(
    "UNIT001",
    "units.exceed_minutes",
    flag="units_exceed_minutes",
    severity="error",
    citation=citations.UNITS_CMS,
    fix="Reduce the billed units to what the documented minutes support, or document the minutes actually provided.",
)
def units_exceed_minutes(ctx: ReviewContext) -> Iterator[Violation]:
    """Billed timed units exceed what the documented minutes support under the payer's method.

    Medicare: units(T) = floor((T + 7) / 15) over all timed minutes T is a hard cap on the day's
    timed units, shared out by the largest remainders; a code may not take more than its share
    (ties either way) [P FCSO/NGS; S verbatim §20.2 examples]. Commercial: each code alone,
    floor((m + 7) / 15) (AMA per-code method [S]). When per-code minutes are missing (Medicare) the
    stated total timed minutes still cap the total.
    Source: Pub. 100-04 Ch. 5 §20.2 (rules.md R1.1, R1.3, R1.7) [P]; rules.md §2 [S].
    Fix: bill the supported units, or document the minutes if more time was actually given.
    """
    for row in _timed_rows(ctx):
        if row.supported is not None and row.billed and row.billed > row.supported:
            yield Violation(
                f"{row.code}: {row.billed} unit(s) billed, {row.supported} supported by {row.minutes} min under {_method_text(ctx)}.",
                evidence=_row_evidence(ctx, row.code),
                code=row.code,
                units_at_risk=row.billed - row.supported,
                fix=f"Bill {row.code} x{row.supported}, or document the additional minutes if they were provided.",
            )
    stated = ctx.extraction.total_timed_minutes
    if ctx.allocation is None and ctx.stated_total_timed is not None and stated is not None:
        cap = units_for(ctx.stated_total_timed)
        billed = sum(ctx.billed_timed.values())
        if billed > cap:
            yield Violation(
                f"{billed} timed units billed; the stated {ctx.stated_total_timed} total timed minutes support at most {cap}.",
                evidence=[stated.evidence],
                units_at_risk=billed - cap,
            )


@rule(
    "UNIT002",
    "units.below_minutes",
    flag="units_below_minutes",
    severity="warning",
    citation=citations.UNITS_CMS,
    fix="Bill the units the documented minutes require (under-billing loses payment and misstates the service).",
)
def units_below_minutes(ctx: ReviewContext) -> Iterator[Violation]:
    """Billed timed units are fewer than the documented minutes require (under-billing).

    Medicare: a code done for at least 15 minutes "shall be billed for at least one unit", 30 minutes
    at least two (R1.4 [S verbatim]), and the day's units follow units(T) (R1.3 [P]). Commercial: each
    code's own floor((m + 7) / 15). Documented timed services that were not billed still count
    ("unbilled timed services may impact the billing", §220.3.E [P mirror p.206]).
    Source: Pub. 100-04 Ch. 5 §20.2 (rules.md R1.3, R1.4, R1.7) [P/S].
    Fix: bill the supported units per code.
    """
    rows = _timed_rows(ctx)
    shortfall = 0
    for row in rows:
        if row.supported is not None and row.billed is not None and row.billed < row.supported:
            shortfall += row.supported - row.billed
            yield Violation(
                f"{row.code}: {row.billed} unit(s) billed, {row.minutes} min support {row.supported} under {_method_text(ctx)}.",
                evidence=_row_evidence(ctx, row.code),
                code=row.code,
                fix=f"Bill {row.code} x{row.supported}.",
            )
    unbilled = [row for row in rows if row.billed is None and row.supported]
    if unbilled and ctx.allocation and sum(ctx.billed_timed.values()) + shortfall < ctx.allocation.total_units:
        codes = ", ".join(f"{row.code} ({row.minutes} min)" for row in unbilled)
        yield Violation(
            f"Documented timed services {codes} are not billed; the minutes support {ctx.allocation.total_units} timed unit(s) in all.",
            evidence=[e for row in unbilled for e in ctx.block_evidence(row.code)],
            fix="Bill the documented timed services, or mark in the note why they are not billed.",
        )


@rule(
    "UNIT003",
    "units.code_minutes_missing",
    flag="timed_minutes_missing",
    severity="error",
    citation=citations.UNITS_CMS,
    fix="Document the minutes of each billed timed code (e.g. 'Therapeutic activities (97530) x 25 min').",
)
def billed_code_without_minutes(ctx: ReviewContext) -> Iterator[Violation]:
    """A billed timed code has no documented minutes of its own, so its units cannot be checked.

    With several timed codes the units per code depend on each code's minutes (R1.5, R1.7); a lump
    total ("manual therapy + activities 38 min") cannot show them. A single timed code takes the
    stated total timed minutes.
    Source: Pub. 100-04 Ch. 5 §20.2 (rules.md R1.7) [P/S]; CMS MLN1783722 Example 9 [S].
    Fix: record the minutes of each timed intervention.
    """
    for code in ctx.minutes_missing:
        yield Violation(
            f"{code} is billed x{ctx.billed_timed[code]} but the note documents no minutes for it.",
            evidence=ctx.billing_evidence(code),
            code=code,
            units_at_risk=ctx.billed_timed[code],
        )


@rule(
    "UNIT004",
    "units.average_minutes_per_unit",
    flag=None,
    severity="info",
    citation=citations.UNITS_REVIEW_TRIGGER,
    fix="None needed for one note; a consistent pattern of units under 15 minutes should be reviewed.",
)
def average_minutes_per_unit(ctx: ReviewContext) -> Iterator[Violation]:
    """The timed minutes average under 15 per billed timed unit: a review trigger, not an error.

    Source: §20.2: "direct patient contact time for each unit will average 15 minutes … a consistent
    practice of billing less than 15 minutes for a unit … should be highlighted for review" (R1.8) [S].
    Fix: none for a single note; review the provider's pattern across notes.
    """
    units = sum(ctx.billed_timed.values())
    minutes = sum(ctx.timed_minutes.values()) if ctx.allocation is not None else ctx.stated_total_timed
    if units and minutes is not None and minutes / units < UNIT_MINUTES:
        yield Violation(
            f"{minutes} timed minutes over {units} billed units: {minutes / units:.1f} min per unit (expected average 15)."
        )


@rule(
    "UNIT005",
    "units.untimed_repeated",
    flag=None,
    severity="warning",
    citation=citations.UNTIMED_CODES,
    fix="Bill an untimed code once per session, whatever its minutes.",
)
def untimed_code_billed_repeatedly(ctx: ReviewContext) -> Iterator[Violation]:
    """An untimed code (evaluation, group, supervised modality) is billed for more than one unit.

    Source: untimed codes are billed as one unit per session "regardless of" minutes (rules.md R1.11) [S].
    Fix: bill one unit, unless the note documents separate sessions.
    """
    for row in ctx.unit_rows:
        if row.supported == 1 and not is_timed(row.code) and row.at_risk > 0:
            yield Violation(
                f"{row.code} is untimed but billed x{row.billed}.",
                evidence=ctx.billing_evidence(row.code),
                code=row.code,
                units_at_risk=row.at_risk,
            )
