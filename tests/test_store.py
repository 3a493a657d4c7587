"""The result store: one row per key, failures replaced by later successes, never the reverse."""

from __future__ import annotations

import threading

import pytest

from reviewer.report import ModelInfo, NoteReport
from reviewer.schema import Clinician, Extraction
from reviewer.store import ResultStore, report_key, result_key


def make_report(status="ok", *, content_hash="c" * 64, rules_version="r1", score=90, raw="{}", provider="R. Patel"):
    return NoteReport(
        note_id="dev-0001",
        status=status,
        error=None if status == "ok" else "model timed out",
        payer="medicare",
        state="TX",
        score=score if status == "ok" else None,
        flags=["units_exceed_minutes"] if status == "ok" else [],
        extraction=Extraction(signature=Clinician(name=provider)) if status == "ok" else None,
        model=ModelInfo(backend="replay", model="m1", prompt_version="p1"),
        content_hash=content_hash,
        rules_version=rules_version,
        raw_model_output=raw if status == "ok" else None,
        note_text="note text",
    )


@pytest.fixture
def store(tmp_path):
    result_store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    yield result_store
    result_store.close()


def test_put_then_has_and_get_round_trip(store):
    report = make_report()
    assert store.put(report, source_path="/notes/dev-0001.txt")
    assert store.has(report_key(report))
    assert store.get(report_key(report)) == report
    assert store.count() == 1


def test_same_key_twice_keeps_one_row_with_the_latest_result(store):
    store.put(make_report(score=50))
    store.put(make_report(score=70))
    assert store.count() == 1
    assert store.get(report_key(make_report())).score == 70


def test_failed_row_is_not_done_and_is_replaced_by_a_later_ok(store):
    failed = make_report("failed")
    store.put(failed)
    key = report_key(failed)
    assert not store.has(key)
    assert store.put(make_report("ok"))
    assert store.has(key) and store.count() == 1


def test_failure_never_replaces_an_ok_result(store):
    store.put(make_report("ok", score=80))
    assert store.put(make_report("failed")) is False
    kept = store.get(report_key(make_report()))
    assert kept.status == "ok" and kept.score == 80


def test_explicit_key_is_used_for_the_row(store):
    store.put(make_report("failed"), key="planned-key")
    assert store.get("planned-key") is not None
    assert store.get(report_key(make_report())) is None


def test_results_survive_reopening_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'results.db'}"
    first = ResultStore(url)
    first.put(make_report())
    first.close()
    assert ResultStore(url).has(report_key(make_report()))


def test_done_keys_and_reports_pick_the_asked_keys(store):
    ok, failed = make_report(content_hash="a" * 64), make_report("failed", content_hash="b" * 64)
    store.put(ok)
    store.put(failed)
    keys = [report_key(ok), report_key(failed), "absent"]
    assert store.done_keys(keys) == {report_key(ok)}
    assert set(store.reports(keys)) == {report_key(ok), report_key(failed)}


def test_provider_column_is_the_signing_clinician(store):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from reviewer.db import ReviewResult

    store.put(make_report(provider="Tanya Brooks"))
    with Session(store.engine) as session:
        assert session.scalar(select(ReviewResult.provider)) == "Tanya Brooks"


def test_latest_model_output_ignores_rules_version_and_failures(store):
    store.put(make_report(rules_version="r1", raw='{"old": 1}'))
    store.put(make_report(rules_version="r2", raw='{"new": 2}'))
    store.put(make_report("failed", rules_version="r3"))
    found = store.latest_model_output("c" * 64, backend="replay", model="m1", prompt_version="p1")
    assert found.raw_model_output == '{"new": 2}'
    assert store.latest_model_output("c" * 64, backend="replay", model="m1", prompt_version="p2") is None


@pytest.mark.parametrize(
    "change",
    [
        {"content_hash": "d" * 64},
        {"backend": "embedded"},
        {"model": "m2"},
        {"prompt_version": "p2"},
        {"rules_version": "r2"},
        {"payer": "commercial"},
        {"state": "CA"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_review_input_changes_the_key(change):
    base = dict(
        content_hash="c" * 64,
        backend="replay",
        model="m1",
        prompt_version="p1",
        rules_version="r1",
        payer="medicare",
        state="TX",
    )
    content_hash = base.pop("content_hash")
    changed = {**base, "content_hash": content_hash, **change}
    assert result_key(content_hash, **base) != result_key(changed.pop("content_hash"), **changed)
    assert result_key(content_hash, **base) == report_key(make_report())


def test_concurrent_writers_of_one_key_leave_one_row(store):
    reports = [make_report(score=score) for score in range(8)]
    threads = [threading.Thread(target=store.put, args=(report,)) for report in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count() == 1
