"""The deterministic rules engine: billing and documentation rules over an `Extraction`.

Rules are registered by importing their family modules; `evaluate` runs every rule in force on the
date of service. RULES_VERSION names this rule pack (bump it whenever a rule or its data changes;
it is part of stored result keys); RULES_EFFECTIVE is the quarter its data reflects.
"""

from __future__ import annotations

from datetime import date

from reviewer.rules import (  # noqa: F401  (registers rules)
    activity,
    documentation,
    modifiers,
    mue,
    ncci,
    payer,
    reading,
    record,
    time,
    units_rules,
)
from reviewer.rules.base import REGISTRY, Rule, Violation, rule
from reviewer.rules.engine import RulesResult, evaluate

RULES_VERSION = "2025Q4.6"  # .6: the extraction carries the episode keys
RULES_EFFECTIVE = date(2025, 10, 1)

__all__ = ["REGISTRY", "RULES_EFFECTIVE", "RULES_VERSION", "Rule", "RulesResult", "Violation", "evaluate", "rule"]
