"""Review at scale: notes sent to a PostgreSQL job queue (procrastinate), reviewed by workers on any machine.

Submit with `reviewer batch DIR --out OUT --queue` against a PostgreSQL store; start workers
anywhere that reaches that database with procrastinate's own command:

    procrastinate --app=reviewer.distributed.app worker --concurrency 4

How the guarantees are kept:
- claimed once: procrastinate hands a job to one worker (`SELECT ... FOR UPDATE SKIP LOCKED`); a
  job's `lock` (the note's key) keeps two jobs of one note from running at once, its
  `queueing_lock` keeps at most one waiting job per note however often a folder is submitted.
- nothing lost: every worker sends heartbeats; one silent for `queue_stalled_after_s` (SIGKILL, a
  lost machine) is taken for dead and the periodic task `retry_stalled_reviews`, which live
  workers run, puts its jobs back in the queue. An error outside the review (the database gone
  for a moment) is retried by the task's retry strategy.
- stored once: `review_results.result_key` is unique and the store upserts on it.
- reviewed once: a worker checks the note's row and the store before it reviews.

The job carries only the note's key; the text waits in `batch_items` (`reviewer.batch_items`), so
neither the queue's tables nor its logs (which print a job's arguments) ever hold note text.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import threading
from functools import lru_cache

from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from reviewer.backends import ModelBackend, ModelError, get_backend
from reviewer.backends.base import counting_retries
from reviewer.batch import PlannedNote, model_info, note_key, review_planned
from reviewer.batch_items import (
    OK,
    Progress,
    add_items,
    batch_progress,
    done_items,
    finish_item,
    load_item,
    start_item,
)
from reviewer.report import ModelInfo
from reviewer.settings import Settings, get_settings
from reviewer.store import ResultStore

log = logging.getLogger(__name__)

QUEUE = "reviews"
REVIEW_TASK = "reviewer.review_note"
STALLED_CHECK_CRON = "* * * * * */5"  # every 5 seconds (procrastinate's sixth cron field)
_SCHEMA_LOCK = 7_953_053_002  # PostgreSQL advisory lock: one process applies the queue's schema

# One app per process (procrastinate's tasks link back to their app); `make_app` points it at a database.
_app = App(connector=PsycopgConnector())


class QueueError(Exception):
    """The job queue cannot be used as configured (a store that is not PostgreSQL)."""


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (query options such as
    `options=-csearch_path=...` kept)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise QueueError(
            f"the job queue needs a PostgreSQL store (got {parsed.get_backend_name()}): "
            "set REVIEWER_DATABASE_URL or --db to postgresql+psycopg://user:password@host/database"
        )
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(url: str, settings: Settings) -> App:
    """The process's procrastinate app, with the review tasks, on the PostgreSQL database at `url`."""
    connector = PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=16)  # grows with --concurrency
    _app.connector = connector  # what procrastinate's own `App.replace_connector` does, for good
    _app.job_manager.connector = connector
    _app.worker_defaults = {
        "queues": [QUEUE],
        "update_heartbeat_interval": settings.queue_heartbeat_s,
        "stalled_worker_timeout": settings.queue_stalled_after_s,
        "delete_jobs": "successful",  # a finished note is in batch_items and the store; its job is spent
    }
    return _app


@lru_cache(maxsize=1)
def worker_app() -> App:
    """The app of `procrastinate --app=reviewer.distributed.app`, on REVIEWER_DATABASE_URL."""
    settings = get_settings()
    app = make_app(settings.database_url, settings)
    try:  # ready before it registers: the model client imported, the store migrated
        _worker()
    except (ModelError, SQLAlchemyError) as exc:
        log.warning(
            "worker not ready (%s: %s); its first job tries again", type(exc).__name__, str(exc).splitlines()[0]
        )
    return app


def __getattr__(name: str) -> App:
    # `reviewer.distributed.app` is built when procrastinate's CLI asks for it, not at import.
    if name == "app":
        return worker_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def ensure_queue_schema(app: App, store: ResultStore) -> None:
    """Apply procrastinate's schema to the store's database once (concurrent callers take turns)."""
    with store.engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        if not inspect(connection).has_table("procrastinate_jobs"):
            log.info("applying the job queue's schema")
            app.schema_manager.apply_schema()


def batch_name(label: str, keys: list[str]) -> str:
    """A submission's name: the folder's name and a digest of the notes it sends (a rerun that
    sends the same notes follows the same batch)."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:10]
    return f"{label}-{digest}"


def submit(planned: list[PlannedNote], *, store: ResultStore, app: App, label: str) -> tuple[str, list[str]]:
    """Queue the planned notes not yet stored ok; the batch's name and the keys sent.

    Identical notes share a key and are sent once. Sending a note whose job is still waiting is a
    no-op (its queueing lock), so a folder can be submitted again at any time.
    """
    keys = [p.key for p in planned]
    done = store.done_keys(keys) | done_items(store.engine, keys)
    todo = list({p.key: p for p in planned if p.key not in done}.values())
    name = batch_name(label, [p.key for p in todo])
    sent = add_items(store.engine, todo, name)
    ensure_queue_schema(app, store)
    for key in sent:
        try:
            app.configure_task(REVIEW_TASK, allow_unknown=False, queueing_lock=key, lock=key).defer(item_key=key)
        except AlreadyEnqueued:  # its job is still waiting from an earlier submission
            continue
    log.info(
        "%d notes: %d already done, %d sent to the queue as %s", len(planned), len(planned) - len(todo), len(sent), name
    )
    return name, sent


class ReviewWorker:
    """What one worker process reviews with: its own backend (any endpoint, any model) and the shared store."""

    def __init__(self, settings: Settings, backend: ModelBackend | None = None, store: ResultStore | None = None):
        self.settings = settings
        self.backend = backend or get_backend(settings)
        self.info: ModelInfo = model_info(self.backend, settings)
        self.store = store or ResultStore(settings.database_url)
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def review(self, item_key: str) -> str:
        """Review one queued note into the store; what happened (ok, failed, already done, missing)."""
        engine = self.store.engine
        loaded = load_item(engine, item_key)
        if loaded is None:
            log.warning("no batch item %s: nothing to review", item_key[:12])
            return "missing"
        item, status = loaded
        if status == OK:
            return "already done"
        key = note_key(item.content_hash, self.info, item.payer, item.state)  # this worker's model
        if self.store.has(key):  # stored by a worker that died before finishing its job
            finish_item(engine, item_key, status=OK, result_key=key)
            return "already done"
        start_item(engine, item_key, self.name)
        with counting_retries() as retries:
            report = review_planned(item, self.backend, self.settings, self.info)
        kept_over = not self.store.put(report, source_path=str(item.note.path), key=key)
        stored_status = OK if kept_over else report.status
        finish_item(engine, item_key, status=stored_status, result_key=key, retries=retries.value)
        return stored_status


_WORKER: ReviewWorker | None = None
_WORKER_LOCK = threading.Lock()


def _worker() -> ReviewWorker:
    """This process's worker, built on its first job (the embedded model loads once)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = ReviewWorker(get_settings())
        return _WORKER


@_app.task(name=REVIEW_TASK, queue=QUEUE, retry=RetryStrategy(max_attempts=5, exponential_wait=2))
def review_note(item_key: str) -> str:
    """Review the queued note `item_key` (runs in a worker thread; `--concurrency N` runs N at once)."""
    return _worker().review(item_key)


@_app.periodic(cron=STALLED_CHECK_CRON)
@_app.task(name="reviewer.retry_stalled_reviews", queue=QUEUE, queueing_lock="retry_stalled_reviews", pass_context=True)
async def retry_stalled_reviews(context: JobContext, timestamp: int) -> int:
    """Put back in the queue the reviews held by workers that stopped sending heartbeats."""
    manager = context.app.job_manager
    stalled = list(
        await manager.get_stalled_jobs(
            queue=QUEUE, task_name=REVIEW_TASK, seconds_since_heartbeat=get_settings().queue_stalled_after_s
        )
    )
    for job in stalled:
        log.warning("review job %s was held by a silent worker: queued again", job.id)
        await manager.retry_job(job)
    return len(stalled)


def follow(
    engine: Engine, batch: str, *, total: int, already_done: int, stop: threading.Event, interval: float = 1.0
) -> Progress:
    """Show the batch's progress across all workers until every note is done or failed; raises
    KeyboardInterrupt when `stop` is set (the notes stay queued)."""
    bar = tqdm(total=total, initial=already_done, unit="note", file=sys.stderr, dynamic_ncols=True)
    with bar:
        while True:
            progress = batch_progress(engine, batch)
            bar.n = already_done + progress.done + progress.failed
            bar.set_postfix(failed=progress.failed, in_flight=progress.in_flight, queued=progress.queued, refresh=False)
            bar.refresh()
            if progress.finished:
                return progress
            if stop.wait(interval):
                raise KeyboardInterrupt
