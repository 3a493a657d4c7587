"""Review at scale: queue workers (procrastinate) on a shared PostgreSQL store.

The worker's own logic runs on SQLite in process; the queue tests start real worker processes
with procrastinate's command against the fake OpenAI-compatible endpoint (REVIEWER_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_batch import CountingBackend, write_notes

pytest.importorskip("procrastinate")

from reviewer.batch import batch_reports, discover_notes, model_info, plan_notes
from reviewer.batch_items import add_items, batch_progress, done_items, result_keys
from reviewer.db import BatchItem
from reviewer.distributed import QueueError, ReviewWorker, batch_name, conninfo
from reviewer.settings import Settings
from reviewer.store import ResultStore

POSTGRES_URL = os.environ.get("REVIEWER_TEST_POSTGRES_URL")
NEEDS_POSTGRES = "REVIEWER_TEST_POSTGRES_URL is not set (scripts/start_postgres.sh starts a server)"


@pytest.fixture
def settings(tmp_path):
    return Settings(_env_file=None, backend="replay", database_url=f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def store(settings):
    opened = ResultStore(settings.database_url)
    yield opened
    opened.close()


def queued(tmp_path, store, settings, backend, count=3):
    """Notes written, planned with `backend`'s key and added to the batch table, as a submitter does."""
    write_notes(tmp_path / "notes", count)
    planned = plan_notes(discover_notes(tmp_path / "notes"), model_info(backend, settings), settings)
    return planned, add_items(store.engine, planned, "notes-test")


def test_a_worker_reviews_a_queued_note_once_and_stores_it_under_its_key(tmp_path, store, settings):
    backend = CountingBackend()
    planned, keys = queued(tmp_path, store, settings, backend)
    worker = ReviewWorker(settings, backend=backend, store=store)
    assert [worker.review(key) for key in keys] == ["ok", "ok", "ok"]
    assert backend.notes == 3 and store.count() == 3 and store.done_keys(keys) == set(keys)
    assert [worker.review(key) for key in keys] == ["already done"] * 3  # a retried job reviews nothing
    assert backend.notes == 3 and store.count() == 3
    progress = batch_progress(store.engine, "notes-test")
    assert (progress.total, progress.done, progress.failed, progress.in_flight, progress.queued) == (3, 3, 0, 0, 0)
    with Session(store.engine) as session:
        rows = session.scalars(select(BatchItem)).all()
    assert all(row.text is None for row in rows)  # a reviewed note's text is not kept in the queue table
    assert [r.note_id for r in batch_reports(store, planned)] == [p.note.note_id for p in planned]


def test_a_note_stored_by_a_worker_that_died_before_finishing_is_not_reviewed_again(tmp_path, store, settings):
    backend = CountingBackend()
    _, keys = queued(tmp_path, store, settings, backend, count=1)
    first = ReviewWorker(settings, backend=backend, store=store)
    first.review(keys[0])
    with Session(store.engine) as session, session.begin():  # as if killed between storing and finishing
        session.scalars(select(BatchItem)).one().status = "reviewing"
    again = CountingBackend()
    assert ReviewWorker(settings, backend=again, store=store).review(keys[0]) == "already done"
    assert again.calls == 0 and store.count() == 1
    assert batch_progress(store.engine, "notes-test").done == 1


def test_a_worker_on_another_model_stores_under_its_own_key_and_the_batch_finds_it(tmp_path, store, settings):
    planned, keys = queued(tmp_path, store, settings, CountingBackend(), count=2)
    other = CountingBackend()
    other.model_id = "another-model"
    worker = ReviewWorker(settings, backend=other, store=store)
    assert [worker.review(key) for key in keys] == ["ok", "ok"]
    stored = result_keys(store.engine, keys)
    assert set(stored) == set(keys) and not set(stored.values()) & set(keys)  # same notes, that model's keys
    reports = batch_reports(store, planned, stored_under=stored)
    assert [r.model.model for r in reports] == ["another-model", "another-model"]
    assert done_items(store.engine, keys) == set(keys)


def test_an_unreadable_note_is_stored_failed_and_queued_again_on_resubmission(tmp_path, store, settings):
    backend = CountingBackend()
    queued(tmp_path, store, settings, backend, count=1)
    (tmp_path / "notes" / "empty.txt").write_text("")
    planned = plan_notes(discover_notes(tmp_path / "notes"), model_info(backend, settings), settings)
    keys = add_items(store.engine, planned, "notes-test")
    worker = ReviewWorker(settings, backend=backend, store=store)
    assert sorted(worker.review(key) for key in keys) == ["failed", "ok"]
    assert batch_progress(store.engine, "notes-test").failed == 1
    assert len(add_items(store.engine, planned, "again")) == 1  # only the failed note goes back to the queue


def test_a_batch_name_follows_the_notes_it_sends():
    assert batch_name("clinic", ["b", "a"]) == batch_name("clinic", ["a", "b"]) != batch_name("clinic", ["a"])
    assert batch_name("clinic", ["a"]).startswith("clinic-")


def test_the_queue_needs_a_postgresql_store():
    with pytest.raises(QueueError, match="PostgreSQL"):
        conninfo("sqlite:///x.db")
    assert conninfo("postgresql+psycopg://u:p@h:5432/d?options=-csearch_path%3Ds") == (
        "postgresql://u:p@h:5432/d?options=-csearch_path%3Ds"
    )


def test_a_missing_item_is_reported_not_reviewed(store, settings):
    backend = CountingBackend()
    assert ReviewWorker(settings, backend=backend, store=store).review("nope") == "missing"
    assert backend.calls == 0


# -- worker processes on PostgreSQL ------------------------------------------------------------------


@pytest.fixture
def postgres_url():
    if not POSTGRES_URL:
        pytest.skip(NEEDS_POSTGRES)
    return POSTGRES_URL


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_a_worker_killed_with_sigkill_loses_nothing_and_nothing_is_done_twice(tmp_path, postgres_url):
    from fakes import FakeOpenAIServer
    from scale_harness import (
        pg_schema,
        prepare,
        queue_settings,
        start_workers,
        stop_workers,
        stored_counts,
        submit_folder,
        wait_finished,
        wait_for_workers,
        worker_env,
    )

    count = 40
    write_notes(tmp_path / "notes", count)
    with FakeOpenAIServer(delay=0.05, error_rate=0.05) as server, pg_schema(postgres_url) as url:
        settings = queue_settings(url, server.url)
        store = prepare(url, settings)
        workers = start_workers(2, worker_env(url, server.url), tmp_path)
        try:
            wait_for_workers(store, 2, workers)
            batch, sent = submit_folder(tmp_path / "notes", store, settings)
            victim, survivor = workers
            victim_name = f"{socket.gethostname()}:{victim.pid}"
            deadline = time.monotonic() + 60
            killed_item = None
            while killed_item is None and time.monotonic() < deadline:
                time.sleep(0.02)
                if batch_progress(store.engine, batch).done >= count // 4:
                    killed_item = _held_by(store, victim_name)
            assert killed_item is not None, "the worker to kill never held a note a quarter of the way in"
            victim.send_signal(signal.SIGKILL)  # no cleanup: its note stays claimed until its lease runs out
            victim.wait()
            progress = wait_finished(store, batch, 120, [survivor])
            rows, keys, note_ids = stored_counts(store)
            resent = submit_folder(tmp_path / "notes", store, settings)[1]
        finally:
            stop_workers(workers)
        store.close()
    assert len(sent) == count and (progress.done, progress.failed) == (count, 0)
    assert (rows, keys, note_ids) == (count, count, count)  # nothing lost, nothing stored twice
    assert progress.taken_over >= 1  # the killed worker's note was finished by the other
    assert count <= server.notes <= count + 1  # only the note under way at the kill was started again
    # every 429 was retried and counted, but for those of the killed worker's last note, lost with it
    assert 0 < progress.retries <= server.errors_sent <= progress.retries + 10
    assert resent == []  # a finished folder sends nothing on resubmission


def _held_by(store: ResultStore, worker: str) -> str | None:
    """The note `worker` is reviewing now, if any."""
    with Session(store.engine) as session:
        query = select(BatchItem.item_key).where(BatchItem.worker == worker, BatchItem.status == "reviewing")
        return session.scalar(query)


SCALE_NOTES = 200
SCALE_WINDOW = 60  # throughput over the first 60 notes finished: 60, 30 and 15 rounds of 1, 2 and 4 workers
SCALE_DELAY_S = 0.15  # per model call; a note makes 7 calls here, so one worker takes ~1.15 s a note
MIN_SPEEDUP_AT_4 = 3.5


@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_four_workers_review_at_least_3_5_times_as_fast_as_one(tmp_path, postgres_url):
    from scale_harness import measure

    write_notes(tmp_path / "notes", SCALE_NOTES)
    runs = {
        workers: measure(postgres_url, workers, tmp_path / "notes", SCALE_DELAY_S, window=SCALE_WINDOW)
        for workers in (1, 2, 4)
    }
    throughput = {workers: run["notes_per_s"] for workers, run in runs.items()}
    for workers, run in runs.items():
        assert run["sent"] == SCALE_NOTES and run["failed"] == 0
        assert run["duplicates"] == 0 and run["stored_rows"] == run["done"] >= SCALE_WINDOW
        # each note reviewed by one worker: the ones started are the ones done and those under way at the stop
        assert run["done"] <= run["reviews_started"] <= run["done"] + workers
    assert throughput[2] / throughput[1] >= 1.75, throughput
    assert throughput[4] / throughput[1] >= MIN_SPEEDUP_AT_4, throughput


def test_reviewer_batch_queue_refuses_a_store_that_is_not_postgresql(tmp_path, fresh_settings, monkeypatch):
    from typer.testing import CliRunner

    from reviewer.cli import app

    write_notes(tmp_path / "notes", 1)
    monkeypatch.setenv("REVIEWER_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    outcome = CliRunner().invoke(app, ["batch", str(tmp_path / "notes"), "--out", str(tmp_path / "out"), "--queue"])
    assert outcome.exit_code == 2 and "needs a PostgreSQL store" in outcome.output


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_reviewer_batch_queue_follows_the_workers_and_writes_the_outputs(tmp_path, postgres_url):
    import json
    import subprocess
    import sys

    from fakes import FakeOpenAIServer
    from scale_harness import (
        pg_schema,
        prepare,
        queue_settings,
        start_workers,
        stop_workers,
        wait_for_workers,
        worker_env,
    )

    write_notes(tmp_path / "notes", 6)
    with FakeOpenAIServer(delay=0.01, errors=[429]) as server, pg_schema(postgres_url) as url:
        store = prepare(url, queue_settings(url, server.url))
        env = worker_env(url, server.url)
        workers = start_workers(2, env, tmp_path)
        try:
            wait_for_workers(store, 2, workers)
            command = [sys.executable, "-m", "reviewer", "batch", "notes", "--out", "out", "--queue"]
            first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
            again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        finally:
            stop_workers(workers)
        store.close()
    assert first.returncode == 0, first.stderr[-2000:]
    summary = first.stderr.strip().splitlines()[-1]
    assert summary.startswith("6 notes: 6 ok, 0 failed (0 already stored by an earlier run; 1 model calls retried")
    lines = (tmp_path / "out" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["note_id"] for line in lines) == [f"note-{n:03d}" for n in range(1, 7)]
    assert again.returncode == 0 and "0 notes queued" in again.stderr and "6 already stored" in again.stderr
    assert server.notes == 6  # the second run reviewed nothing
