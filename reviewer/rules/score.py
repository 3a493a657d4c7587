"""The 0-100 audit score and its risk band: the one place the weights are defined.

The score starts at 100 and loses, per finding:

    error    25  (a line or the claim is deniable: units, modifiers, missing required elements)
    warning   8  (an audit weakness or lost payment: under-billing, no goal or response recorded)
    info      0  (context only: review triggers, payer notes)

floored at 0. Bands: 80 and above low risk, 60-79 medium, below 60 high. So one error alone
gives 75 (medium) and two errors 50 (high); a clean note with one warning stays low.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from reviewer.findings import Finding

RiskBand = Literal["low", "medium", "high"]

SEVERITY_WEIGHTS = {"error": 25, "warning": 8, "info": 0}
LOW_RISK_MIN = 80
MEDIUM_RISK_MIN = 60


def audit_score(findings: Iterable[Finding]) -> int:
    return max(0, 100 - sum(SEVERITY_WEIGHTS[finding.severity] for finding in findings))


def risk_band(score: int) -> RiskBand:
    if score >= LOW_RISK_MIN:
        return "low"
    return "medium" if score >= MEDIUM_RISK_MIN else "high"
