"""Every rule case in tests/rule_cases/*.yaml: an extraction in, the rule's findings out."""

from __future__ import annotations

import pytest
from casebook import RuleCase, build_extraction, load_cases

from reviewer.findings import Finding
from reviewer.rules import evaluate
from reviewer.rules.engine import INTERNAL_ERROR_RULE

CASES = load_cases()


def _matches(finding: Finding, expected: dict) -> bool:
    for key, value in expected.items():
        if key == "message_contains":
            if value not in finding.message:
                return False
        elif getattr(finding, key) != value:
            return False
    return True


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_rule_case(case: RuleCase) -> None:
    result = evaluate(build_extraction(case.extraction), payer=case.payer, state=case.state)

    assert not [f.message for f in result.findings if f.rule == INTERNAL_ERROR_RULE]
    remaining = [f for f in result.findings if f.rule == case.rule]
    for expected in case.expect:
        match = next((f for f in remaining if _matches(f, expected)), None)
        assert match is not None, f"expected {expected} among {[f.model_dump(exclude={'evidence'}) for f in remaining]}"
        remaining.remove(match)
    assert remaining == [], f"unexpected findings: {[f.message for f in remaining]}"
    if case.flags is not None:
        assert result.flags == sorted(case.flags)


def test_clean_note_raises_nothing() -> None:
    result = evaluate(build_extraction({}), payer="medicare", state="TX")

    assert result.findings == []
    assert (result.score, result.risk_band) == (100, "low")
