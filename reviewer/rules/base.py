"""Declaring rules: the `@rule` decorator, the registry it fills, and the `Violation` a rule yields.

A rule is a function of a `ReviewContext` that yields `Violation`s. The decorator stamps the rule's
stable code, dotted name, flag, severity and citation on each one to make a `Finding`. The function's
docstring is the rule's documentation: what it checks, its source (with the reference's
[P]/[S]/[R] tag) and the fix; `tests/test_rules_registry.py` holds every rule to that.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from reviewer.findings import FLAGS, Finding, Severity
from reviewer.schema import Evidence

if TYPE_CHECKING:
    from reviewer.rules.context import ReviewContext


@dataclass(frozen=True)
class Violation:
    """One problem a rule found; the engine turns it into a `Finding`."""

    message: str
    evidence: Sequence[Evidence | None] = ()
    code: str | None = None
    units_at_risk: int = 0
    fix: str | None = None  # overrides the rule's default fix when the remedy depends on the case
    citation: str | None = None  # overrides the rule's citation (e.g. naming the edit-table version applied)


RuleCheck = Callable[["ReviewContext"], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    flag: str | None
    severity: Severity
    citation: str
    fix: str
    check: RuleCheck
    since: date | None = None  # first date of service the rule applies to (None: always)
    until: date | None = None  # first date of service it no longer applies to
    gate: bool = False  # when a gate rule fires, no other rule runs (e.g. not a treatment note)

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.check) or ""

    def applies_on(self, service_date: date) -> bool:
        return (self.since is None or self.since <= service_date) and (self.until is None or service_date < self.until)

    def run(self, ctx: ReviewContext) -> list[Finding]:
        return [self._finding(violation) for violation in self.check(ctx)]

    def _finding(self, violation: Violation) -> Finding:
        evidence = []
        for span in violation.evidence:
            if span is not None and span.verified and span not in evidence:
                evidence.append(span)
        return Finding(
            rule=self.code,
            name=self.name,
            flag=self.flag,
            severity=self.severity,
            message=violation.message,
            citation=violation.citation or self.citation,
            fix=violation.fix or self.fix,
            evidence=evidence,
            code=violation.code,
            units_at_risk=max(0, violation.units_at_risk),
        )


REGISTRY: dict[str, Rule] = {}


def rule(
    code: str,
    name: str,
    *,
    flag: str | None,
    severity: Severity,
    citation: str,
    fix: str,
    since: date | None = None,
    until: date | None = None,
    gate: bool = False,
) -> Callable[[RuleCheck], RuleCheck]:
    """Register a rule function under a stable code (e.g. "UNIT001") and a dotted name."""
    if flag is not None and flag not in FLAGS:
        raise ValueError(f"{code}: unknown flag {flag!r}")

    def register(check: RuleCheck) -> RuleCheck:
        if code in REGISTRY:
            raise ValueError(f"rule code {code} registered twice")
        REGISTRY[code] = Rule(code, name, flag, severity, citation, fix, check, since, until, gate)
        return check

    return register
