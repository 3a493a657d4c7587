"""Every episode rule case in tests/episode_cases/*.yaml, and the episode rule registry as a whole.

A case describes an episode as a series of visits (`series: {start, count, step_days}`, named
v1, v2, ...) with per-visit `overrides` (kind, date, assistant, billing, certification dates,
auth, visits_authorized, clone match); `expect` lists the case's rule's findings, each by `note`
(None: the episode as a whole) and optionally `message_contains`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from reviewer.episodes import BilledLine, CloneMatch, Episode, Visit
from reviewer.fee_schedule import FeeSchedule
from reviewer.rules.episode import EPISODE_RULES, ProgressPolicy, evaluate_episodes
from reviewer.schema import EpisodeKeys, Evidence, Grounded

CASE_DIR = Path(__file__).resolve().parent / "episode_cases"
CASES = [
    (data["rule"], case)
    for path in sorted(CASE_DIR.glob("*.yaml"))
    for data in [yaml.safe_load(path.read_text(encoding="utf-8"))]
    for case in data["cases"]
]


def _keyed(value: object, supports: str) -> Grounded[str]:
    return Grounded[str](value=str(value), evidence=Evidence(text=str(value), start=0, end=len(str(value)), match="exact",
                                                     supports=supports))  # fmt: skip


def _billing(lines: list[str], discipline: str) -> list[BilledLine]:
    parsed = []
    for line in lines:
        code, *modifiers, units = line.replace("-", " ").split()
        parsed.append(BilledLine(code=code, units=int(units.lstrip("x")), modifiers=modifiers))
    return parsed


def _episode(case: dict, prefix: str = "", discipline: str = "PT", with_cert: bool = True) -> Episode:
    series = case["series"]
    start = date.fromisoformat(str(series["start"]))
    overrides = case.get("overrides") or {}
    modifier = {"PT": "GP", "OT": "GO", "SLP": "GN"}[discipline]
    visits = []
    for number in range(1, series["count"] + 1):
        spec = {"date": start + timedelta(days=series["step_days"] * (number - 1)), **overrides.get(number, {})}
        keys = EpisodeKeys()
        if "kind" in spec:
            keys.document_kind = _keyed(spec["kind"], "document_kind")
        for field in ("certified_from", "certified_through"):
            if field in spec:
                setattr(keys, field, _keyed(spec[field], field))
        if "visits_authorized" in spec:
            keys.visits_authorized = Grounded[int](
                value=int(spec["visits_authorized"]),
                evidence=_keyed(spec["visits_authorized"], "visits_authorized").evidence,
            )
        if number == 1 and with_cert:
            keys.certified_from = _keyed(start, "certified_from")
            keys.certified_through = _keyed(start + timedelta(days=89), "certified_through")
        clone = spec.get("clone")
        visits.append(
            Visit(
                note_id=f"{prefix}v{number}",
                date_of_service=date.fromisoformat(str(spec["date"])),
                discipline=discipline,
                assistant_signed=bool(spec.get("assistant")),
                payer=case.get("payer", "medicare"),
                keys=keys,
                authorization=str(spec["auth"]) if "auth" in spec else None,
                billing=_billing(spec.get("billing", [f"97530 {modifier} x1"]), discipline),
                clone_match=CloneMatch(**clone) if clone else None,
            )
        )
    return Episode(
        episode_id=f"E-{prefix}case", patient="P-case", discipline=discipline, payer=case.get("payer", "medicare"),
        visits=visits,
    )  # fmt: skip


def _run(case: dict) -> Episode:
    mentions_cert = "certified_" in str(case.get("overrides"))
    main = _episode(case, with_cert=case.get("certification", True) and not mentions_cert)
    episodes = [main]
    if other := case.get("other_episode"):
        episodes.append(_episode({**case, **other, "overrides": {}}, prefix="other/", discipline=other["discipline"]))
    fees = case.get("fee_schedule")
    schedule = (
        FeeSchedule(amounts={(str(code), int(year)): float(amount) for code, amount, year in fees}, name="cases.csv")
        if fees is not None
        else None
    )
    progress = ProgressPolicy(**case["progress"]) if "progress" in case else None
    evaluate_episodes(episodes, fee_schedule=schedule, progress=progress)
    return main


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{rule}-{case['name']}" for rule, case in CASES])
def test_episode_rule_case(rule: str, case: dict) -> None:
    remaining = [f for f in _run(case).findings if f.rule == rule]
    for expected in case["expect"]:
        match = next(
            (
                f
                for f in remaining
                if ("note" not in expected or f.note_id == expected["note"])
                and expected.get("message_contains", "") in f.message
            ),
            None,
        )
        assert match is not None, f"expected {expected} among {[(f.note_id, f.message) for f in remaining]}"
        remaining.remove(match)
    assert remaining == [], f"unexpected findings: {[(f.note_id, f.message) for f in remaining]}"


@pytest.mark.parametrize("code", sorted(EPISODE_RULES))
def test_episode_rule_is_documented_and_has_cases(code: str) -> None:
    rule = EPISODE_RULES[code]
    assert re.fullmatch(r"EPI\d{3}", code) and re.fullmatch(r"episode\.[a-z0-9_]+", rule.name)
    summary, _, body = rule.doc.partition("\n")
    assert summary.strip() and rule.citation and rule.fix
    assert re.search(r"Source:.*\[(P|S|R)\b", body, re.DOTALL) and "Fix:" in body
    cases = [case for name, case in CASES if name == code]
    assert any(case["expect"] for case in cases) and any(not case["expect"] for case in cases)


def test_clean_episode_raises_nothing() -> None:
    case = {"series": {"start": "2025-02-03", "count": 9, "step_days": 3}, "fee_schedule": [[97530, 30.0, 2025]]}
    assert _run(case).findings == []
