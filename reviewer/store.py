"""The result store: one row per reviewed note, so batches resume and evals re-score without the model.

A row is keyed by `result_key(...)`: the note's content hash plus everything that changes the
review (backend, model, prompt version, rules version, payer, state). Writing is an upsert on that
key, so a rerun never duplicates a note. A failed row is replaced by a later ok row; an ok row is
never replaced by a failure, so a flaky rerun cannot lose a good result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reviewer.db import ReviewResult, make_engine, utcnow
from reviewer.report import NoteReport, report_provider

_KEY_CHUNK = 500  # keys per IN (...) query; stays under SQLite's bound-parameter limit


def result_key(
    content_hash: str,
    *,
    backend: str,
    model: str,
    prompt_version: str,
    rules_version: str,
    payer: str,
    state: str | None,
    edit_tables: str = "",
) -> str:
    """The store key of one review: sha256 of every input that changes its outcome.

    `edit_tables` is the fingerprint of the imported CMS edit tables (`EditTableStore.fingerprint`);
    empty when none are imported, which keeps the keys of reviews made before tables existed.
    """
    parts = [content_hash, backend, model, prompt_version, rules_version, payer, state or ""]
    if edit_tables:
        parts.append(edit_tables)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def report_key(report: NoteReport) -> str:
    """The store key of a finished report (the same key `result_key` gives before reviewing)."""
    return result_key(
        report.content_hash,
        backend=report.model.backend,
        model=report.model.model,
        prompt_version=report.model.prompt_version,
        rules_version=report.rules_version,
        payer=report.payer,
        state=report.state,
        edit_tables=report.edit_tables_loaded,
    )


class ResultStore:
    """Reviewed notes in any SQLAlchemy database (SQLite by default); each write commits at once."""

    def __init__(self, url: str):
        """Open the store at `url`, first migrating its database to the current schema."""
        from reviewer.migrations import upgrade

        upgrade(url)
        self.engine = make_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def has(self, key: str) -> bool:
        """True when `key` has an ok result; a failed one does not count, so it is retried."""
        return bool(self.done_keys([key]))

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        """Those of `keys` that have an ok result."""
        done: set[str] = set()
        wanted = list(keys)
        with Session(self.engine) as session:
            for start in range(0, len(wanted), _KEY_CHUNK):
                chunk = wanted[start : start + _KEY_CHUNK]
                query = select(ReviewResult.result_key).where(
                    ReviewResult.result_key.in_(chunk), ReviewResult.status == "ok"
                )
                done.update(session.scalars(query))
        return done

    def put(self, report: NoteReport, source_path: str | None = None, key: str | None = None) -> bool:
        """Insert or replace the row of `report`; False when an ok row was kept over a failure.

        `key` defaults to `report_key(report)`; the batch passes the key it computed before the
        review, so a note that failed before the model was known still lands on its own row.
        """
        key = key or report_key(report)
        for _attempt in range(2):  # a second writer may insert the same key between our read and write
            try:
                with Session(self.engine) as session, session.begin():
                    row = session.scalar(select(ReviewResult).where(ReviewResult.result_key == key))
                    if row is not None and row.status == "ok" and report.status != "ok":
                        return False
                    if row is None:
                        row = ReviewResult(result_key=key)
                        session.add(row)
                    _fill_row(row, report, source_path)
                return True
            except IntegrityError:
                continue
        raise RuntimeError(f"could not store result {key}: the key keeps being written concurrently")

    def get(self, key: str) -> NoteReport | None:
        with Session(self.engine) as session:
            row = session.scalar(select(ReviewResult).where(ReviewResult.result_key == key))
            return NoteReport.model_validate_json(row.report_json) if row else None

    def reports(self, keys: Iterable[str]) -> dict[str, NoteReport]:
        """The stored reports of `keys` by key; keys without a row are left out."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, NoteReport] = {}
        with Session(self.engine) as session:
            for start in range(0, len(wanted), _KEY_CHUNK):
                query = select(ReviewResult.result_key, ReviewResult.report_json).where(
                    ReviewResult.result_key.in_(wanted[start : start + _KEY_CHUNK])
                )
                for key, report_json in session.execute(query):
                    found[key] = NoteReport.model_validate_json(report_json)
        return found

    def earlier_reviews(self, batch_hashes: set[str]) -> list[tuple[str, NoteReport]]:
        """(key, report) of the newest ok review of each stored note whose content is not in
        `batch_hashes`: the visits an episode also holds from earlier batches."""
        query = (
            select(ReviewResult.result_key, ReviewResult.content_hash, ReviewResult.report_json)
            .where(ReviewResult.status == "ok")
            .order_by(ReviewResult.created_at.desc(), ReviewResult.id.desc())
        )
        seen, found = set(batch_hashes), []
        with Session(self.engine) as session:
            for key, digest, report_json in session.execute(query):
                if digest not in seen:
                    seen.add(digest)
                    found.append((key, NoteReport.model_validate_json(report_json)))
        return found

    def latest_model_output(
        self, content_hash: str, *, backend: str, model: str, prompt_version: str
    ) -> NoteReport | None:
        """The newest ok report of this note and model under any rules version: what re-scoring starts from."""
        with Session(self.engine) as session:
            query = (
                select(ReviewResult.report_json)
                .where(
                    ReviewResult.content_hash == content_hash,
                    ReviewResult.backend == backend,
                    ReviewResult.model == model,
                    ReviewResult.prompt_version == prompt_version,
                    ReviewResult.status == "ok",
                )
                .order_by(ReviewResult.created_at.desc(), ReviewResult.id.desc())
                .limit(1)
            )
            report_json = session.scalar(query)
        return NoteReport.model_validate_json(report_json) if report_json else None

    def count(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count(ReviewResult.id))) or 0


def _fill_row(row: ReviewResult, report: NoteReport, source_path: str | None) -> None:
    row.note_id = report.note_id
    row.source_path = source_path
    row.content_hash = report.content_hash
    row.backend = report.model.backend
    row.model = report.model.model
    row.prompt_version = report.model.prompt_version
    row.rules_version = report.rules_version
    row.status = report.status
    row.error = report.error
    row.score = report.score
    row.risk_band = report.risk_band
    row.flags = list(report.flags)
    row.provider = report_provider(report)
    row.report_json = report.model_dump_json()
    row.created_at = utcnow()
