"""Queue workers as separate processes against the fake OpenAI-compatible endpoint, on PostgreSQL.

Used by tests/test_distributed.py and by benchmarks/scaling.py (which publishes the figure).
Each run gets a schema of its own on the server, so runs never see each other's notes or jobs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from fakes import FakeOpenAIServer
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from reviewer.batch import discover_notes, model_info, plan_notes
from reviewer.batch_items import Progress, batch_progress
from reviewer.db import BatchItem, ReviewResult
from reviewer.distributed import ensure_queue_schema, make_app, submit
from reviewer.settings import Settings
from reviewer.store import ResultStore

MODEL = "fake-queue-model"
HEARTBEAT_S, STALLED_AFTER_S = 1.0, 3.0  # a killed worker's note is handed on within ~3-8 s


@contextlib.contextmanager
def pg_schema(base_url: str) -> Iterator[str]:
    """A URL whose tables live in a fresh schema of the server at `base_url`, dropped afterwards."""
    schema = f"scale_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def queue_settings(url: str, endpoint: str) -> Settings:
    return Settings(
        _env_file=None,
        backend="openai",
        openai_base_url=endpoint,
        openai_model=MODEL,
        openai_retry_initial_s=0.05,
        openai_retry_max_s=0.5,
        database_url=url,
        queue_heartbeat_s=HEARTBEAT_S,
        queue_stalled_after_s=STALLED_AFTER_S,
    )


def worker_env(url: str, endpoint: str) -> dict[str, str]:
    """A worker's environment: the same store, endpoint and model as the submitter's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWER_")}
    return {
        **env,
        "REVIEWER_BACKEND": "openai",
        "REVIEWER_OPENAI_BASE_URL": endpoint,
        "REVIEWER_OPENAI_MODEL": MODEL,
        "REVIEWER_OPENAI_RETRY_INITIAL_S": "0.05",
        "REVIEWER_OPENAI_RETRY_MAX_S": "0.5",
        "REVIEWER_DATABASE_URL": url,
        "REVIEWER_QUEUE_HEARTBEAT_S": str(HEARTBEAT_S),
        "REVIEWER_QUEUE_STALLED_AFTER_S": str(STALLED_AFTER_S),
    }


def prepare(url: str, settings: Settings) -> ResultStore:
    """The store migrated and the queue's schema applied, so workers can start before any submission."""
    store = ResultStore(url)
    app = make_app(url, settings)
    with app.open():
        ensure_queue_schema(app, store)
    return store


def start_workers(count: int, env: dict[str, str], cwd: Path) -> list[subprocess.Popen]:
    """`count` worker processes, each with procrastinate's own command (one note at a time)."""
    command = [sys.executable, "-m", "procrastinate", "--app=reviewer.distributed.app", "--log-level=warning"]
    return [
        subprocess.Popen([*command, "worker", "--concurrency", "1"], cwd=cwd, env=env, stdout=subprocess.DEVNULL)
        for _ in range(count)
    ]


def wait_for_workers(store: ResultStore, count: int, processes: list[subprocess.Popen], timeout: float = 90) -> None:
    """Until `count` workers have registered with the queue (imports done, listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.engine.connect() as connection:
            if connection.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one() >= count:
                return
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("a worker exited while starting")
        time.sleep(0.2)
    raise TimeoutError(f"{count} workers did not register within {timeout:.0f} s")


def stop_workers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def submit_folder(folder: Path, store: ResultStore, settings: Settings) -> tuple[str, list[str]]:
    """What `reviewer batch FOLDER --queue` sends: the batch's name and the keys queued."""
    from reviewer.backends import get_backend

    planned = plan_notes(discover_notes(folder), model_info(get_backend(settings), settings), settings)
    app = make_app(settings.database_url, settings)
    with app.open():
        return submit(planned, store=store, app=app, label=folder.name)


def wait_done(
    store: ResultStore, batch: str, timeout: float, processes: list[subprocess.Popen], until: int | None = None
) -> Progress:
    """Until every note of the batch is done or failed (or `until` notes are done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = batch_progress(store.engine, batch)
        if progress.finished or (until is not None and progress.done >= until):
            return progress
        if all(p.poll() is not None for p in processes):
            raise RuntimeError("every worker exited before the batch was done")
        time.sleep(0.1)
    raise TimeoutError(f"batch {batch} not done within {timeout:.0f} s: {batch_progress(store.engine, batch)}")


def wait_finished(store: ResultStore, batch: str, timeout: float, processes: list[subprocess.Popen]) -> Progress:
    return wait_done(store, batch, timeout, processes)


def finished_at(store: ResultStore, batch: str, nth: int) -> datetime:
    """When the batch's `nth` note (1-based, in order of finishing) was finished."""
    with Session(store.engine) as session:
        query = (
            select(BatchItem.updated_at)
            .where(BatchItem.batch == batch, BatchItem.status == "ok")
            .order_by(BatchItem.updated_at)
            .offset(nth - 1)
            .limit(1)
        )
        moment = session.scalar(query)
    assert moment is not None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def stored_counts(store: ResultStore) -> tuple[int, int, int]:
    """Rows of review_results, distinct result keys, distinct note ids."""
    with Session(store.engine) as session:
        return session.execute(
            select(
                func.count(ReviewResult.id),
                func.count(ReviewResult.result_key.distinct()),
                func.count(ReviewResult.note_id.distinct()),
            )
        ).one()


def measure(
    base_url: str, workers: int, notes_dir: Path, delay: float, *, window: int | None = None, timeout: float = 600
) -> dict:
    """Review the folder with `workers` worker processes on a fresh store: throughput and checks.

    The clock starts at submission, once every worker is listening (process start-up is not
    counted), and stops when the `window`-th note is finished (its row's time; default: the last).
    With a window, the workers are stopped there and the rest of the batch is left queued.
    """
    notes = len(discover_notes(notes_dir))
    window = window or notes
    with FakeOpenAIServer(delay=delay) as server, pg_schema(base_url) as url:
        settings = queue_settings(url, server.url)
        store = prepare(url, settings)
        processes = start_workers(workers, worker_env(url, server.url), notes_dir.parent)
        try:
            wait_for_workers(store, workers, processes)
            started = datetime.now(timezone.utc)
            batch, sent = submit_folder(notes_dir, store, settings)
            wait_done(store, batch, timeout, processes, until=window)
            seconds = (finished_at(store, batch, window) - started).total_seconds()
        finally:
            stop_workers(processes)  # SIGTERM: each finishes the note it holds, then exits
        progress = batch_progress(store.engine, batch)
        rows, keys, note_ids = stored_counts(store)
        store.close()
    return {
        "workers": workers,
        "notes": notes,
        "window": window,
        "sent": len(sent),
        "seconds": round(seconds, 2),
        "notes_per_s": round(window / seconds, 3),
        "done": progress.done,
        "failed": progress.failed,
        "stored_rows": rows,
        "duplicates": rows - keys,
        "distinct_notes": note_ids,
        "model_calls": len(server.requests),
        "reviews_started": server.notes,
    }
