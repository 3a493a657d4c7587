"""Every rule case in tests/rule_cases/*.yaml: an extraction in, the rule's findings out."""

from __future__ import annotations

import pytest
from casebook import RuleCase, build_edit_tables, build_extraction, load_cases

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
    result = evaluate(
        build_extraction(case.extraction),
        payer=case.payer,
        state=case.state,
        edit_tables=build_edit_tables(case.edit_tables),
    )

    assert not [f.message for f in result.findings if f.rule == INTERNAL_ERROR_RULE]
    remaining = [f for f in result.findings if f.rule == case.rule]
    for expected in case.expect:
        match = next((f for f in remaining if _matches(f, expected)), None)
        assert match is not None, f"expected {expected} among {[f.model_dump(exclude={'evidence'}) for f in remaining]}"
        remaining.remove(match)
    assert remaining == [], f"unexpected findings: {[f.message for f in remaining]}"
    if case.flags is not None:
        assert result.flags == sorted(case.flags)


CLEAN_NOTE_TABLES = {
    "ptp": {"version": "v310r0", "pairs": [{"column1": "97140", "column2": "97530", "modifier_indicator": 1}]},
    "mue": {"version": "2025Q1", "values": [{"code": "97530", "value": 4, "indicator": 2}]},
}


def test_clean_note_raises_nothing() -> None:
    tables = build_edit_tables(CLEAN_NOTE_TABLES)
    result = evaluate(build_extraction({}), payer="medicare", state="TX", edit_tables=tables)

    assert result.findings == []
    assert (result.score, result.risk_band) == (100, "low")
    assert [(use.table, use.version, use.verified) for use in result.edit_tables] == [
        ("ncci_ptp", "v310r0", True),
        ("mue", "2025Q1", True),
    ]


def test_clean_note_without_imported_tables_only_says_the_mue_check_could_not_run() -> None:
    result = evaluate(build_extraction({}), payer="medicare", state="TX")

    assert [(f.rule, f.severity) for f in result.findings] == [("MUE002", "info")]
    assert (result.score, result.risk_band) == (100, "low")
    assert [(use.table, use.version) for use in result.edit_tables] == [("ncci_ptp", None), ("mue", None)]
