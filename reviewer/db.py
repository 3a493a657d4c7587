"""The database: one SQLAlchemy metadata for the review store, the CMS edit tables, the distributed
batch, the episodes and the triage queue.

SQLite by default (`REVIEWER_DATABASE_URL`), any SQLAlchemy URL (e.g. PostgreSQL) otherwise.
Tables are created and upgraded by Alembic migrations (`reviewer/migrations`).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class _NoRowDumps(logging.Filter):
    """SQLAlchemy's debug log writes every row it fetches, and a stored report holds its note: those
    records are dropped (statements stay; their parameters are hidden by `hide_parameters`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


# The engines log through this logger (no engine has echo= or a logging_name, which would give it its own).
logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoRowDumps())


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


class EditTableVersionRow(Base):
    """One imported CMS edit table version (NCCI PTP or MUE): its dates and what was read vs kept."""

    __tablename__ = "edit_table_versions"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_edit_table_versions_kind_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # "ncci_ptp" or "mue"
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    effective_from: Mapped[date] = mapped_column(Date, nullable=False)
    effective_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    rows_read: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_kept: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    kept: Mapped[str] = mapped_column(String(16), nullable=False)  # "therapy" or "all"
    files: Mapped[list] = mapped_column(JSON, default=list)  # [{name, part, sha256, rows_read, rows_kept}]
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PtpEditRow(Base):
    """One NCCI PTP edit of an imported version."""

    __tablename__ = "ncci_ptp_edits"
    __table_args__ = (
        UniqueConstraint("version_id", "column1", "column2", "effective", name="uq_ncci_ptp_edits_pair"),
        Index("ix_ncci_ptp_edits_version_column2", "version_id", "column2"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("edit_table_versions.id"), nullable=False)
    part: Mapped[str] = mapped_column(String(255), nullable=False)
    column1: Mapped[str] = mapped_column(String(8), nullable=False)
    column2: Mapped[str] = mapped_column(String(8), nullable=False)
    prior_1996: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    effective: Mapped[date] = mapped_column(Date, nullable=False)
    deleted: Mapped[date | None] = mapped_column(Date, nullable=True)
    modifier_indicator: Mapped[int] = mapped_column(Integer, nullable=False)
    rationale: Mapped[str] = mapped_column(Text, nullable=False, default="")


class MueValueRow(Base):
    """One code's practitioner MUE in an imported version."""

    __tablename__ = "mue_values"
    __table_args__ = (UniqueConstraint("version_id", "code", name="uq_mue_values_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("edit_table_versions.id"), nullable=False)
    code: Mapped[str] = mapped_column(String(8), nullable=False)
    mue_value: Mapped[int] = mapped_column(Integer, nullable=False)
    indicator: Mapped[int] = mapped_column(Integer, nullable=False)
    indicator_text: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    rationale: Mapped[str] = mapped_column(Text, nullable=False, default="")


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


class EpisodeRow(Base):
    """One episode of care as the latest batch that reviewed its patient's notes built it.

    `data_json` is the episode (`reviewer.episodes.Episode`): visits, billed units, episode keys as
    offsets and the episode findings. It holds no note text and no identifier: the patient is a
    truncated keyed hash, so the table can be read by anyone who may read the results.
    """

    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("episode_id", name="uq_episodes_episode_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    episode_id: Mapped[str] = mapped_column(String(32), nullable=False)
    patient: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    discipline: Mapped[str | None] = mapped_column(String(8), nullable=True)
    first_date: Mapped[date] = mapped_column(Date, nullable=False)
    last_date: Mapped[date] = mapped_column(Date, nullable=False)
    visits: Mapped[int] = mapped_column(Integer, nullable=False)
    findings: Mapped[int] = mapped_column(Integer, nullable=False)
    data_json: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created and a busy timeout (30 s unless the
    URL names one: `sqlite:///results.db?timeout=5`).

    Statement parameters are never logged, even with SQLAlchemy's logging on: they hold note text.
    """
    parsed = make_url(url)
    if url.startswith("sqlite:///") and parsed.database not in (None, "", ":memory:"):
        from pathlib import Path

        Path(str(parsed.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        busy = {} if "timeout" in parsed.query else {"timeout": 30}
        return create_engine(url, connect_args=busy, hide_parameters=True)
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)
