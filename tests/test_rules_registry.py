"""The rule registry as a whole: documentation, citations, cases, flag coverage, engine and score."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from casebook import build_extraction, case_files, load_cases

from reviewer.findings import FLAGS, Finding
from reviewer.rules import REGISTRY, RULES_VERSION, Violation, evaluate
from reviewer.rules.base import Rule
from reviewer.rules.engine import INTERNAL_ERROR_RULE
from reviewer.rules.score import audit_score, risk_band
from reviewer.schema import BillingLine, Extraction, TreatmentBlock

FORMAT_MD = Path(__file__).resolve().parents[1] / "evals" / "corpora" / "FORMAT.md"
CASES = load_cases()
RULES = sorted(REGISTRY.values(), key=lambda r: r.code)


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_is_documented(rule: Rule) -> None:
    assert re.fullmatch(r"[A-Z]{3,4}\d{3}", rule.code)
    assert re.fullmatch(r"[a-z]+\.[a-z0-9_]+", rule.name)
    assert rule.citation and rule.fix
    summary, _, body = rule.doc.partition("\n")
    assert summary.strip(), "docstring needs a one-line summary of what the rule checks"
    assert re.search(r"Source:.*\[(P|S|R)\b", body, re.DOTALL), "docstring needs 'Source:' with a [P]/[S]/[R] tag"
    assert "Fix:" in body


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_has_positive_and_negative_cases(rule: Rule) -> None:
    cases = [case for case in CASES if case.rule == rule.code]
    assert any(case.expect for case in cases), "needs a case that raises the rule"
    assert any(not case.expect for case in cases), "needs a case that does not"


def test_every_case_file_names_a_registered_rule() -> None:
    assert set(case_files()) <= set(REGISTRY)


def test_every_flag_is_raised_by_a_rule_with_a_passing_case() -> None:
    positive_rules = {case.rule for case in CASES if case.expect}
    covered = {REGISTRY[code].flag for code in positive_rules}
    assert set(FLAGS) <= covered


def test_flags_match_format_md() -> None:
    if not FORMAT_MD.exists():
        pytest.skip(f"{FORMAT_MD} not found")
    vocabulary = FORMAT_MD.read_text(encoding="utf-8").partition("## Finding vocabulary")[2]
    documented = re.findall(r"^\| `([a-z_0-9]+)` \|", vocabulary, re.MULTILINE)
    assert set(documented) == set(FLAGS)


def test_rules_version_names_a_quarter() -> None:
    assert re.fullmatch(r"\d{4}Q[1-4]\.\d+", RULES_VERSION)


def test_a_failing_rule_becomes_an_internal_error_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx):  # type: ignore[no-untyped-def]
        raise KeyError("boom")
        yield Violation("never")

    monkeypatch.setitem(REGISTRY, "TST001", Rule("TST001", "test.broken", None, "error", "test", "none", broken))
    result = evaluate(build_extraction({"signature": None}), payer="medicare", state=None)

    assert [f.rule for f in result.findings if f.rule == INTERNAL_ERROR_RULE] == [INTERNAL_ERROR_RULE]
    assert "missing_signature" in result.flags  # the other rules still ran


def test_odd_input_does_not_break_any_rule() -> None:
    odd = Extraction(
        blocks=[
            TreatmentBlock(code=" 97530 ", minutes=-5, start_time="noon", stop_time="25:99", kind="functional"),
            TreatmentBlock(code="", minutes=None, group=True),
        ],
        billing=[BillingLine(code="97530", units=None, modifiers=["-59", "gp"]), BillingLine(code="abc", units=0)],
    )
    for payer in ("medicare", "commercial", "no such payer"):
        result = evaluate(odd, payer=payer, state="not a state")
        assert INTERNAL_ERROR_RULE not in {f.rule for f in result.findings}
        assert result.locality is None


def test_rule_in_force_only_for_its_dates() -> None:
    rule = REGISTRY["MOD004"]
    assert not rule.applies_on(date(2019, 12, 31))
    assert rule.applies_on(date(2020, 1, 1))


def test_result_carries_flags_units_score_and_locality() -> None:
    extraction = build_extraction(
        {"billing": [{"code": "97530", "units": 3}, {"code": "97110", "units": 1, "modifiers": ["GP"]}]}
    )
    result = evaluate(extraction, payer="medicare", state="TX")

    assert result.flags == ["missing_discipline_modifier", "units_exceed_minutes"]
    assert [(u.code, u.minutes, u.billed, u.supported, u.at_risk) for u in result.units] == [
        ("97530", 30, 3, 2, 1),
        ("97110", 15, 1, 1, 0),
    ]
    assert (result.score, result.risk_band) == (50, "high")
    assert result.locality is not None and result.locality.contractor == "Novitas Solutions"


def _finding(severity: str) -> Finding:
    return Finding(rule="X", severity=severity, message="m", citation="c", fix="f")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("severities", "score", "band"),
    [
        ([], 100, "low"),
        (["info"], 100, "low"),
        (["warning", "warning"], 84, "low"),
        (["error"], 75, "medium"),
        (["error", "warning"], 67, "medium"),
        (["error", "error"], 50, "high"),
        (["error"] * 5, 0, "high"),
    ],
)
def test_score_and_band(severities: list[str], score: int, band: str) -> None:
    assert audit_score([_finding(s) for s in severities]) == score
    assert risk_band(score) == band


def test_band_boundaries() -> None:
    assert [risk_band(s) for s in (80, 79, 60, 59)] == ["low", "medium", "medium", "high"]
