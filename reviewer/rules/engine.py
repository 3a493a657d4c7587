"""Run every rule in force on an extraction and collect findings, units, score and locality."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from reviewer.edit_tables import EditTables
from reviewer.findings import Finding
from reviewer.locality import lookup_mac
from reviewer.report import EditTableUse, Locality, UnitRow
from reviewer.rules.base import REGISTRY, Rule
from reviewer.rules.context import ReviewContext
from reviewer.rules.reading import withhold_uncertain
from reviewer.rules.score import audit_score, risk_band
from reviewer.schema import Extraction

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
INTERNAL_ERROR_RULE = "ENG000"


class RulesResult(BaseModel):
    findings: list[Finding]
    flags: list[str]  # sorted unique flags of the findings
    score: int
    risk_band: Literal["low", "medium", "high"]
    units: list[UnitRow]  # per timed/billed code: minutes, billed, supported, at_risk
    locality: Locality | None
    edit_tables: list[EditTableUse] = []  # the CMS edit-table versions applied (or that none was imported)


def evaluate(
    extraction: Extraction,
    *,
    payer: str,
    state: str | None,
    as_of: date | None = None,
    edit_tables: EditTables | None = None,
) -> RulesResult:
    """Review one extraction for a payer ("medicare", "commercial" or a named profile) and a state.

    `as_of` overrides the date of service that selects the rules and NCCI edits in force (default:
    the note's verified date of service, else today). `edit_tables` are the imported CMS tables in
    force on that date (None: none imported; the NCCI rules then use the bundled pairs). Never
    raises on odd input: a rule that fails becomes an ENG000 finding and the other rules still run.
    """
    ctx = ReviewContext.build(extraction, payer=payer, state=state, as_of=as_of, edit_tables=edit_tables)
    findings = withhold_uncertain(
        ctx, _run_rules(ctx, [r for r in REGISTRY.values() if r.applies_on(ctx.service_date)])
    )
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.rule, f.code or ""))
    score = audit_score(findings)
    return RulesResult(
        findings=findings,
        flags=sorted({f.flag for f in findings if f.flag}),
        score=score,
        risk_band=risk_band(score),
        units=_unit_rows(ctx, findings),
        locality=lookup_mac(state) if state else None,
        edit_tables=ctx.edit_tables.uses(ctx.service_date),
    )


def _run_rules(ctx: ReviewContext, rules: list[Rule]) -> list[Finding]:
    """Every rule; a gate that fires stops the others, except on a treatment note without billing
    lines, whose documentation findings are still listed, without their corpus flags."""
    gates = [r for r in rules if r.gate]
    others = [r for r in rules if not r.gate]
    for gate in gates:
        stopped = _run_safely(gate, ctx)
        if stopped and ctx.extraction.document_type == "unbilled_note":
            return stopped + [f.model_copy(update={"flag": None}) for r in others for f in _run_safely(r, ctx)]
        if stopped:
            return stopped
    return [finding for r in others for finding in _run_safely(r, ctx)]


def _run_safely(rule: Rule, ctx: ReviewContext) -> list[Finding]:
    try:
        return rule.run(ctx)
    except Exception as exc:  # one broken rule must not stop a review
        return [_internal_error(rule.code, exc)]


def _unit_rows(ctx: ReviewContext, findings: list[Finding]) -> list[UnitRow]:
    if ctx.extraction.document_type != "treatment_note":
        return []
    try:
        return ctx.unit_rows
    except Exception as exc:
        findings.append(_internal_error("units", exc))
        return []


def _internal_error(where: str, exc: Exception) -> Finding:
    return Finding(
        rule=INTERNAL_ERROR_RULE,
        name="engine.internal_error",
        severity="warning",
        message=f"Rule {where} could not run ({type(exc).__name__}: {exc}); this check was skipped.",
        citation="reviewer rules engine",
        fix="Check this item by hand and report the failure to the reviewer's maintainers.",
    )
