"""Batch outputs (JSONL, CSV, HTML summary) and the provider-level patterns they show."""

from __future__ import annotations

import csv
import io
import json

import pytest

from reviewer.batch_outputs import (
    to_csv,
    to_html_summary,
    to_jsonl,
    write_batch_outputs,
)
from reviewer.providers import UNSIGNED, provider_patterns
from reviewer.report import ModelInfo, NoteReport, UnitRow
from reviewer.schema import BillingLine, Clinician, Extraction, Grounded


def make_report(note_id, provider, billing, rows, *, total_timed=None, flags=(), score=80):
    """billing: [(code, units, [modifiers])]; rows: [(code, minutes, billed, supported)]."""
    extraction = Extraction(
        signature=Clinician(name=provider) if provider else None,
        billing=[BillingLine(code=code, units=units, modifiers=mods) for code, units, mods in billing],
        total_timed_minutes=Grounded[int](value=total_timed, source="parser") if total_timed is not None else None,
    )
    units = [
        UnitRow(
            code=code,
            minutes=minutes,
            billed=billed,
            supported=supported,
            at_risk=max(0, (billed or 0) - (supported or 0)),
        )
        for code, minutes, billed, supported in rows
    ]
    return NoteReport(
        note_id=note_id,
        status="ok",
        payer="medicare",
        flags=list(flags),
        score=score,
        units=units,
        extraction=extraction,
        model=ModelInfo(backend="replay", model="m", prompt_version="p"),
        note_text="NOTE TEXT MUST NOT LEAK",
    )


def failed_report(note_id="n5"):
    return NoteReport(
        note_id=note_id,
        status="failed",
        error="model timed out",
        payer="medicare",
        model=ModelInfo(backend="replay", model="m", prompt_version="p"),
    )


@pytest.fixture
def reports():
    # Provider A: 70 timed min / 5 timed units = 14.0; 59 on 1 of 2 notes; 97530 = 4 of 5 mix units.
    # Provider B: 75 / 5 = 15.0; no 59; 97530 = 1 of 5.  Batch: 145 / 10 = 14.5; 59 on 1 of 4; 97530 = 5 of 10.
    return [
        make_report("n1", "Ana A", [("97530", 2, ["GP"]), ("97110", 1, ["GP", "59"])],
                    [("97530", 25, 2, 2), ("97110", 15, 1, 1)], total_timed=40, flags=["modifier_59_unsupported"], score=95),
        make_report("n2", "Ana A", [("97530", 2, ["GP"]), ("97018", 1, ["GP"])],
                    [("97530", 30, 2, 2), ("97018", 8, 1, 1)], total_timed=30, score=100),  # untimed 97018 not a timed unit
        make_report("n3", "Ben B", [("97110", 2, ["GP"])], [("97110", 30, 2, 2)], total_timed=30, score=42),
        make_report("n4", "Ben B", [("97110", 2, ["GP"]), ("97530", 1, ["GP"])],
                    [("97110", 30, 2, 2), ("97530", 15, 1, 0)], flags=["units_exceed_minutes", "modifier_59_unsupported"], score=61),
        failed_report(),
    ]  # fmt: skip


def test_provider_patterns_against_the_batch(reports):
    patterns = provider_patterns(reports)
    overall = patterns.overall
    assert overall.notes == 4  # the failed note is left out
    assert overall.minutes_per_unit == pytest.approx(14.5)
    assert overall.modifier_59_share == pytest.approx(0.25)
    assert overall.share_97530 == pytest.approx(0.5)
    by_name = {p.provider: p for p in patterns.providers}
    ana, ben = by_name["Ana A"], by_name["Ben B"]
    assert ana.minutes_per_unit == pytest.approx(14.0)
    assert ana.modifier_59_share == pytest.approx(0.5)
    assert ana.share_97530 == pytest.approx(0.8)
    assert len(ana.triggers) == 3
    assert ben.minutes_per_unit == pytest.approx(15.0)  # total from per-code minutes when none is stated
    assert ben.share_97530 == pytest.approx(0.2)
    assert ben.triggers == []
    assert ben.units_at_risk == 1


def test_unsigned_notes_are_grouped_together():
    report = make_report("n9", None, [("97530", 1, ["GP"])], [("97530", 15, 1, 1)], total_timed=15)
    assert [p.provider for p in provider_patterns([report]).providers] == [UNSIGNED]


def test_csv_has_one_row_per_note_with_units_and_flags(reports):
    rows = list(csv.DictReader(io.StringIO(to_csv(reports))))
    assert [r["note_id"] for r in rows] == ["n1", "n2", "n3", "n4", "n5"]
    n4 = rows[3]
    assert n4["flags"] == "units_exceed_minutes;modifier_59_unsupported"
    assert (n4["units_billed"], n4["units_supported"], n4["units_at_risk"]) == ("3", "2", "1")
    assert n4["provider"] == "Ben B" and n4["score"] == "61"
    assert rows[4]["status"] == "failed" and rows[4]["error"] == "model timed out" and rows[4]["units_billed"] == ""


def test_units_supported_is_blank_when_a_code_cannot_be_checked():
    report = make_report("n6", "Ana A", [("97530", 2, ["GP"])], [("97530", None, 2, None)])
    row = next(csv.DictReader(io.StringIO(to_csv([report]))))
    assert row["units_billed"] == "2" and row["units_supported"] == ""


def test_jsonl_round_trips_without_the_note_text(reports):
    lines = to_jsonl(reports).splitlines()
    assert len(lines) == len(reports)
    back = [NoteReport.model_validate(json.loads(line)) for line in lines]
    assert [r.note_id for r in back] == [r.note_id for r in reports]
    assert all(r.note_text is None for r in back)
    assert back[0].flags == reports[0].flags


def test_html_summary_is_self_contained_and_shows_the_batch(reports):
    page = to_html_summary(reports)
    assert "<script" not in page and "src=" not in page and "href=" not in page and "@import" not in page
    assert page.count("<svg") == 2  # flag frequency and score distribution
    assert "modifier_59_unsupported: 2" in page and "units_exceed_minutes: 1" in page
    assert "90-100: 2" in page and "40-49: 1" in page
    assert "Ana A" in page and "Ben B" in page and "min per timed unit (&lt; 15)" in page
    assert "model timed out" in page
    assert "NOTE TEXT MUST NOT LEAK" not in page


def test_html_escapes_what_the_note_supplies():
    report = make_report(
        "n7", "<img src=x onerror=alert(1)>", [("97530", 1, ["GP"])], [("97530", 15, 1, 1)], total_timed=15
    )
    page = to_html_summary([report])
    assert "<img" not in page and "&lt;img" in page


def test_write_batch_outputs_writes_three_complete_files(reports, tmp_path):
    paths = write_batch_outputs(reports, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["results.csv", "results.jsonl", "summary.html"]
    assert len(paths["jsonl"].read_text(encoding="utf-8").splitlines()) == len(reports)
    assert paths["html"].read_text(encoding="utf-8").rstrip().endswith("</html>")
