"""Medically Unlikely Edits: units of one code on one date above the imported CMS MUE value."""

from __future__ import annotations

from collections.abc import Iterator

from reviewer.codes import normalize_code
from reviewer.edit_tables import MueTable, MueValue
from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import ReviewContext

_REMEDY = {
    1: "MAI 1 is a line edit: units above the MUE on one line are denied; report further units on another line only with a modifier the documentation supports.",
    2: "MAI 2 is a date-of-service policy edit: units above the MUE are not paid, and an appeal does not change that; bill no more than the MUE.",
    3: "MAI 3 is a date-of-service clinical edit: units above the MUE are denied, but may be paid on appeal when the note documents their medical necessity.",
}


@rule(
    "MUE001",
    "mue.units_exceed_mue",
    flag=None,
    severity="error",
    citation=citations.MUE,
    fix="Bill no more units than the MUE value unless the record supports more and the adjudication indicator lets them be paid.",
)
def units_exceed_mue(ctx: ReviewContext) -> Iterator[Violation]:
    """Units billed for one code on one date of service are above the imported practitioner MUE value.

    MAI 2 and 3 (date-of-service edits) compare the units of all the code's lines on the date; MAI 1
    (line edit) compares each line. The finding gives the MUE value, its adjudication indicator and
    the table version. Without an imported MUE table this rule cannot check (see MUE002).
    Source: CMS NCCI MUE practitioner services table, as imported by the user (`reviewer data
    import-mue`) [P]; MAI meanings per FCSO and Palmetto (updates-2026.md §1.5) [S].
    Fix: bill at most the MUE value; for MAI 3 document the medical necessity of the extra units.
    """
    table = ctx.edit_tables.mue
    if table is None:
        return
    for code, units in _units(ctx, table):
        value = table.values[code]
        if units <= value.value:
            continue
        scope = "on one line" if value.indicator == 1 else f"on {ctx.service_date.isoformat()}"
        yield Violation(
            f"{code}: {units} units billed {scope}, above the MUE of {value.value} "
            f"(MAI {value.indicator}: {value.indicator_label}; MUE table {table.version.version}).",
            evidence=ctx.billing_evidence(code),
            code=code,
            units_at_risk=units - value.value,
            fix=_REMEDY.get(value.indicator, "Bill no more units than the MUE value."),
            citation=f"{citations.MUE}; edit table: CMS MUE practitioner {table.version.version} (effective {table.version.effective_from.isoformat()})",
        )


@rule(
    "MUE002",
    "mue.table_missing",
    flag=None,
    severity="info",
    citation=citations.MUE,
    fix="Import the CMS practitioner MUE file of the quarter: reviewer data import-mue PATH.",
)
def mue_table_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """No MUE table is imported for the date of service, so the units per code could not be checked.

    Reported once per note that bills anything; it lowers no score. MUE values are not bundled:
    they must come from the CMS file of the quarter (some values are not published at all).
    Source: updates-2026.md §1.5, "MUE values … were not found in any stored page or repo" [R].
    Fix: `reviewer data import-mue MCR_MUE_PractitionerServices_Eff_MM-DD-YYYY.csv`.
    """
    if ctx.edit_tables.mue is None and ctx.billed:
        yield Violation(
            f"Units per code were not checked against MUEs: no CMS MUE table is imported for {ctx.service_date.isoformat()}.",
            evidence=[e for code in sorted(ctx.billed) for e in ctx.billing_evidence(code)][:1],
        )


def _units(ctx: ReviewContext, table: MueTable) -> Iterator[tuple[str, int]]:
    """(code, units) to compare: per date for MAI 2/3, per billing line for MAI 1."""
    for code, units in sorted(ctx.billed.items()):
        value: MueValue | None = table.values.get(code)
        if value is None:
            continue
        if value.indicator != 1:
            yield code, units
            continue
        for line in ctx.extraction.billing:
            line_units = 1 if line.units is None else line.units
            if normalize_code(line.code) == code and line_units > 0:
                yield code, line_units
