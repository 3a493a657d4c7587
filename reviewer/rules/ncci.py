"""NCCI procedure-to-procedure edits and the 59/X modifiers that bypass them.

The pairs come from the CMS PTP practitioner table the user imported (`reviewer data import-ncci`),
the version in force on the date of service; without one, from the bundled pairs of
`data/ncci_ptp.yaml`, which are compiled from secondary sources and cited as an unverified edit table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import cache

from pydantic import BaseModel

from reviewer.codes import normalize_code
from reviewer.data import load_yaml
from reviewer.edit_tables import PtpPair
from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import ReviewContext, block_interval, overlaps
from reviewer.schema import TreatmentBlock


class PtpEdit(BaseModel):
    """One NCCI pair: column 2 is denied with column 1 unless a modifier is allowed and used."""

    column1: str
    column2: str
    modifier_indicator: int
    effective: date | None = None
    deleted: date | None = None
    verified: bool = False
    tag: str
    note: str = ""

    def active_on(self, day: date) -> bool:
        return (self.effective is None or self.effective <= day) and (self.deleted is None or day < self.deleted)


@cache
def ptp_edits() -> tuple[PtpEdit, ...]:
    return tuple(PtpEdit(**pair) for pair in load_yaml("ncci_ptp.yaml")["pairs"])


@cache
def associated_modifiers() -> frozenset[str]:
    """Modifiers that may bypass a CCMI-1 edit: 59, XE, XS, XP, XU."""
    return frozenset(load_yaml("ncci_ptp.yaml")["associated_modifiers"])


def billed_edits(ctx: ReviewContext) -> list[PtpEdit | PtpPair]:
    """Edits in force on the date of service whose two codes are both billed (imported table, else bundled)."""
    table = ctx.edit_tables.ptp
    edits: tuple[PtpEdit | PtpPair, ...] = table.pairs if table is not None else ptp_edits()
    return [
        e
        for e in edits
        if e.active_on(ctx.service_date)
        and e.column1 != e.column2
        and e.column1 in ctx.billed
        and e.column2 in ctx.billed
    ]


def table_cited(ctx: ReviewContext) -> str:
    """The edit table the NCCI findings rest on, as the finding names it."""
    table = ctx.edit_tables.ptp
    if table is None:
        return "unverified edit table: bundled pairs from secondary sources (data/ncci_ptp.yaml)"
    version = table.version
    to = f" to {version.effective_to.isoformat()}" if version.effective_to else ""
    return f"CMS NCCI PTP practitioner table {version.version} (effective {version.effective_from.isoformat()}{to})"


def _citation(ctx: ReviewContext, base: str) -> str:
    return f"{base}; edit table: {table_cited(ctx)}"


def _table_tag(ctx: ReviewContext) -> str:
    table = ctx.edit_tables.ptp
    return f"(NCCI PTP {table.version.version})" if table is not None else "(unverified edit table)"


def bypass_modifiers(ctx: ReviewContext, code: str) -> set[str]:
    return ctx.modifiers.get(code, set()) & associated_modifiers()


def time_blocks_problem(ctx: ReviewContext, first: str, second: str) -> str | None:
    """Why the note does not show `first` and `second` in distinct time blocks; None when it does.

    Distinct means: each code has its own verified block(s) with readable start and stop times, every
    other block of it only restates their minutes (a charge line, or a total such as "97140 = 14 min
    (10 + 4)"), and no block of one code overlaps a block of the other (back-to-back is fine, as are
    split blocks such as 97140, then 97530, then 97140 again). Separate minutes without times do not
    show the services were not interleaved; a lump block or a shared interval shows they were not distinct.
    """
    blocks = {code: ctx.blocks_for(code) for code in (first, second)}
    lacking = [code for code, found in blocks.items() if not found]
    if lacking:
        return f"the note has no separate block for {' or '.join(lacking)}"
    intervals = {code: [span for b in found if (span := block_interval(b))] for code, found in blocks.items()}
    untimed = [b for code, found in blocks.items() for b in found if block_interval(b) is None]
    if not all(intervals.values()) or not all(_restates(b, intervals[normalize_code(b.code or "")]) for b in untimed):
        return f"the {first} and {second} blocks have no start/stop times showing they did not overlap"
    if any(overlaps(a, b) for a in intervals[first] for b in intervals[second]):
        return f"the {first} and {second} blocks share the same time"
    return None


def _restates(block: TreatmentBlock, intervals: list[tuple[int, int]]) -> bool:
    """A block without times that adds no service: a restatement the reading did not count, or
    minutes equal to one timed block's or to their sum."""
    if not block.counted:
        return True
    lengths = [stop - start for start, stop in intervals]
    return block.minutes is not None and block.minutes in (*lengths, sum(lengths))


@rule(
    "NCCI001",
    "ncci.pair_missing_modifier",
    flag="ncci_pair_missing_modifier",
    severity="error",
    citation=citations.NCCI_PTP,
    fix="If the services were in distinct time blocks, document the blocks and add 59 (or XU) to the column 2 code; otherwise bill only the column 1 code.",
)
def ncci_pair_missing_modifier(ctx: ReviewContext) -> Iterator[Violation]:
    """Both codes of an NCCI pair with modifier indicator 1 are billed on one day and neither carries 59/X.

    The column 2 code is denied. A 59/X on either code is accepted here; it belongs on column 2.
    Pairs: the imported CMS PTP practitioner table in force on the date of service (the finding
    names its version); without one, data/ncci_ptp.yaml ("unverified edit table"). Indicator 9
    (not applicable) raises nothing.
    Source: NCCI PTP edits; CMS MLN1783722 (modifier indicator 1, "the modifier goes on the Column 2
    code") [P]; 97140/97530 pair (rules.md §5.2) [S].
    Fix: add 59 or XU to the column 2 code when the note shows distinct time blocks; else drop it.
    """
    for edit in billed_edits(ctx):
        if edit.modifier_indicator != 1 or bypass_modifiers(ctx, edit.column1) | bypass_modifiers(ctx, edit.column2):
            continue
        yield Violation(
            f"{edit.column1} and {edit.column2} are an NCCI pair billed without 59/X; {edit.column2} (column 2) will be denied {_table_tag(ctx)}.",
            evidence=[*ctx.billing_evidence(edit.column1), *ctx.billing_evidence(edit.column2)],
            code=edit.column2,
            units_at_risk=ctx.billed[edit.column2],
            fix=f"If the note shows distinct time blocks, add 59 (or XU) to {edit.column2}; otherwise do not bill {edit.column2} with {edit.column1}.",
            citation=_citation(ctx, citations.NCCI_PTP),
        )


@rule(
    "NCCI002",
    "ncci.pair_never_together",
    flag=None,
    severity="error",
    citation=citations.NCCI_PTP,
    fix="Do not bill the column 2 code with the column 1 code on this date; no modifier bypasses the edit.",
)
def ncci_pair_never_together(ctx: ReviewContext) -> Iterator[Violation]:
    """Both codes of an NCCI pair with modifier indicator 0 are billed on one day.

    Such pairs are never paid together; a modifier does not help, so 59/X on either code changes
    nothing. Example: the January 2020 evaluation edits (97161-97167 with 97530/97150), in force from
    2020-01-01 until their reversal. Pairs: the imported CMS table in force, else data/ncci_ptp.yaml.
    Source: CMS MLN1783722 (modifier indicator 0) [P]; APTA/AOTA on the 2020 edits (rules.md §5.2) [S].
    Fix: bill only the column 1 code.
    """
    for edit in billed_edits(ctx):
        if edit.modifier_indicator == 0:
            yield Violation(
                f"{edit.column1} and {edit.column2} may not be billed together on {ctx.service_date.isoformat()} {_table_tag(ctx)}; modifier indicator 0: no modifier unbundles them.",
                evidence=[*ctx.billing_evidence(edit.column1), *ctx.billing_evidence(edit.column2)],
                code=edit.column2,
                units_at_risk=ctx.billed[edit.column2],
                citation=_citation(ctx, citations.NCCI_PTP),
            )


@rule(
    "NCCI003",
    "ncci.modifier_59_unsupported",
    flag="modifier_59_unsupported",
    severity="error",
    citation=citations.NCCI_MODIFIER_59,
    fix="Document each service's start and stop times showing separate 15-minute blocks, or remove 59/X and the column 2 code.",
)
def modifier_59_unsupported(ctx: ReviewContext) -> Iterator[Violation]:
    """59 or X{E,S,P,U} is billed but the note does not document distinct time blocks for the services.

    Distinct blocks (see `time_blocks_problem`): each code of the pair has its own verified block with
    start/stop times and no block of one overlaps a block of the other. A lump total, a shared
    interval, or separate minutes without times ("performed between reps") do not qualify. The
    partner codes are the billed NCCI partners of the modified code, else the other billed timed codes.
    Source: CMS MLN1783722 Example 9: 59 "may be reported if the two procedures are performed in
    distinctly different 15 minute time blocks … should not be reported … if the two procedures are
    performed during the same time block" [S verbatim via WebPT]; OIG OEI-03-02-00771 [S].
    Fix: document the time blocks (e.g. 9:02-9:14 manual, 9:14-9:40 activities), or remove the modifier.
    """
    for code, modifiers in ctx.modifiers.items():
        used = modifiers & associated_modifiers()
        if not used or code not in ctx.billed:
            continue
        partners = {
            e.column1 if e.column2 == code else e.column2 for e in billed_edits(ctx) if code in (e.column1, e.column2)
        }
        partners = partners or {other for other in ctx.billed_timed if other != code}
        evidence = [*ctx.billing_evidence(code), *ctx.block_evidence(code)]
        if not partners:
            yield Violation(
                f"{code} carries {'/'.join(sorted(used))} but no other service is billed that day.",
                evidence=evidence,
                code=code,
            )
            continue
        for partner in sorted(partners):
            problem = time_blocks_problem(ctx, code, partner)
            if problem:
                column2 = next(
                    (e.column2 for e in billed_edits(ctx) if {e.column1, e.column2} == {code, partner}), code
                )
                yield Violation(
                    f"{code} carries {'/'.join(sorted(used))} but {problem}.",
                    evidence=[*evidence, *ctx.block_evidence(partner)],
                    code=code,
                    units_at_risk=ctx.billed.get(column2, 0),
                    citation=_citation(ctx, citations.NCCI_MODIFIER_59),
                )
