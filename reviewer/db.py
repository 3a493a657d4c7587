"""The database: one SQLAlchemy metadata for the review store, the distributed batch and the triage queue.

SQLite by default (`REVIEWER_DATABASE_URL`), any SQLAlchemy URL (e.g. PostgreSQL) otherwise.
Tables are created and upgraded by Alembic migrations (`reviewer/migrations`).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class ReviewResult(Base):
    """One reviewed note, keyed by content hash + model + prompt version + rules version."""

    __tablename__ = "review_results"
    __table_args__ = (UniqueConstraint("result_key", name="uq_review_results_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    result_key: Mapped[str] = mapped_column(String(255), nullable=False)
    note_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    source_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    backend: Mapped[str] = mapped_column(String(32), nullable=False)
    model: Mapped[str] = mapped_column(String(255), nullable=False)
    prompt_version: Mapped[str] = mapped_column(String(64), nullable=False)
    rules_version: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    risk_band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    flags: Mapped[list] = mapped_column(JSON, default=list)
    provider: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    report_json: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BatchItem(Base):
    """One note sent to the job queue: what a worker on any machine needs to review it, and how far it got.

    The job queue (procrastinate) holds only `item_key`; the note's text waits here, so the queue's
    own tables and logs never see it, and is cleared once the note's result is stored ok.
    """

    __tablename__ = "batch_items"
    __table_args__ = (UniqueConstraint("item_key", name="uq_batch_items_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_key: Mapped[str] = mapped_column(String(255), nullable=False)  # the result key the submitter planned
    batch: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    note_id: Mapped[str] = mapped_column(String(255), nullable=False)
    source_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    payer: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str | None] = mapped_column(String(8), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    read_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)  # queued, reviewing, ok, failed
    result_key: Mapped[str | None] = mapped_column(String(255), nullable=True)  # where the worker stored it
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # reviews started (>1: taken over)
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # 429/5xx retries of its model calls
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created and a busy timeout."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url, pool_pre_ping=True)
