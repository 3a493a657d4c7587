"""The notes of a distributed batch in the store's database, and how far each one got.

A submitter writes one row per note to review (`add_items`); the job queue carries only the row's
key. A worker reads the row (`load_item`), marks it under way (`start_item`) and, once the review
is stored in `review_results`, finished (`finish_item`). Progress across all workers is counted
from these rows (`batch_progress`), so the dashboard needs no queue library.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from reviewer.batch import NoteFile, PlannedNote
from reviewer.db import BatchItem, utcnow

QUEUED, REVIEWING, OK, FAILED = "queued", "reviewing", "ok", "failed"
_KEY_CHUNK = 500


@dataclass(frozen=True)
class Progress:
    """A batch's notes by state, across every worker."""

    batch: str
    total: int
    done: int
    failed: int
    in_flight: int
    queued: int
    retries: int
    taken_over: int  # notes whose review was started more than once (a worker died or gave up)

    @property
    def finished(self) -> bool:
        return self.done + self.failed >= self.total


def add_items(engine: Engine, planned: Iterable[PlannedNote], batch: str) -> list[str]:
    """Write (or reset) the rows of `planned` under `batch`; the keys to send to the queue.

    A note already stored ok is left alone and not returned; any other row is queued again with
    the note's current text, so a failed note is retried by a resubmission.
    """
    todo: list[str] = []
    with Session(engine) as session, session.begin():
        for item in planned:
            row = session.scalar(select(BatchItem).where(BatchItem.item_key == item.key))
            if row is not None and row.status == OK:
                continue
            if row is None:
                row = BatchItem(item_key=item.key, attempts=0, retries=0, submitted_at=utcnow())
                session.add(row)
            row.batch = batch
            row.note_id = item.note.note_id
            row.source_path = str(item.note.path)
            row.content_hash = item.content_hash
            row.payer = item.payer
            row.state = item.state
            row.text = item.text
            row.read_error = item.read_error
            if row.status != REVIEWING:  # a review under way keeps its state; its job finishes it
                row.status = QUEUED
            row.updated_at = utcnow()
            todo.append(item.key)
    return todo


def done_items(engine: Engine, keys: Iterable[str]) -> set[str]:
    """Those of `keys` whose row is finished ok (under whatever model the worker used)."""
    wanted = list(keys)
    done: set[str] = set()
    with Session(engine) as session:
        for start in range(0, len(wanted), _KEY_CHUNK):
            query = select(BatchItem.item_key).where(
                BatchItem.item_key.in_(wanted[start : start + _KEY_CHUNK]), BatchItem.status == OK
            )
            done.update(session.scalars(query))
    return done


def load_item(engine: Engine, item_key: str) -> tuple[PlannedNote, str] | None:
    """The planned note a worker reviews, rebuilt from its row, and the row's status; None when
    there is no such row."""
    with Session(engine) as session:
        row = session.scalar(select(BatchItem).where(BatchItem.item_key == item_key))
        if row is None:
            return None
        note = NoteFile(note_id=row.note_id, path=Path(row.source_path or ""))
        planned = PlannedNote(note, row.payer, row.state, row.item_key, row.content_hash, row.text, row.read_error)
        return planned, row.status


def start_item(engine: Engine, item_key: str, worker: str) -> None:
    """Mark the note under way by `worker` (a second start means it was taken over)."""
    _update(engine, item_key, status=REVIEWING, worker=worker, attempts=BatchItem.attempts + 1)


def finish_item(engine: Engine, item_key: str, *, status: str, result_key: str, retries: int = 0) -> None:
    """Record where the note's result was stored; an ok note's text is no longer kept."""
    values: dict = {"status": status, "result_key": result_key, "retries": BatchItem.retries + retries}
    if status == OK:
        values["text"] = None
    _update(engine, item_key, **values)


def result_keys(engine: Engine, item_keys: Iterable[str]) -> dict[str, str]:
    """The key each finished note's result was stored under, by item key."""
    wanted = list(item_keys)
    found: dict[str, str] = {}
    with Session(engine) as session:
        for start in range(0, len(wanted), _KEY_CHUNK):
            query = select(BatchItem.item_key, BatchItem.result_key).where(
                BatchItem.item_key.in_(wanted[start : start + _KEY_CHUNK]), BatchItem.result_key.is_not(None)
            )
            found.update({key: stored for key, stored in session.execute(query) if stored})
    return found


def latest_batch(engine: Engine) -> str | None:
    """The batch submitted last, if any."""
    with Session(engine) as session:
        query = select(BatchItem.batch).order_by(BatchItem.submitted_at.desc(), BatchItem.id.desc()).limit(1)
        return session.scalar(query)


def batch_progress(engine: Engine, batch: str) -> Progress:
    """Counts of `batch`'s notes: done, failed, in flight (claimed by a worker), still queued."""
    with Session(engine) as session:
        by_status = dict(
            session.execute(
                select(BatchItem.status, func.count(BatchItem.id))
                .where(BatchItem.batch == batch)
                .group_by(BatchItem.status)
            ).all()
        )
        retries, taken_over = session.execute(
            select(
                func.coalesce(func.sum(BatchItem.retries), 0),
                func.count(BatchItem.id).filter(BatchItem.attempts > 1),
            ).where(BatchItem.batch == batch)
        ).one()
    return Progress(
        batch=batch,
        total=sum(by_status.values()),
        done=by_status.get(OK, 0),
        failed=by_status.get(FAILED, 0),
        in_flight=by_status.get(REVIEWING, 0),
        queued=by_status.get(QUEUED, 0),
        retries=int(retries),
        taken_over=int(taken_over),
    )


def _update(engine: Engine, item_key: str, **values) -> None:
    with Session(engine) as session, session.begin():
        session.execute(update(BatchItem).where(BatchItem.item_key == item_key).values(updated_at=utcnow(), **values))
