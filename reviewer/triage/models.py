"""Triage tables, on the same metadata as the review store so one migration history covers both.

A queue item freezes the report the reviewer decides on (the batch result may be re-run later).
`version` is bumped by every change to an item and its finding decisions: a write names the
version it was based on and fails when another write got there first (optimistic locking).
Audit events are append-only; the migration adds database triggers that refuse UPDATE/DELETE.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reviewer.db import Base, utcnow

ITEM_STATUSES = ("open", "claimed", "cleared", "returned", "escalated")
NOTE_OUTCOMES = ("cleared", "returned", "escalated")
FINDING_ACTIONS = ("accept", "override")


class QueueItem(Base):
    """One reviewed note waiting for (or past) a human decision."""

    __tablename__ = "triage_items"
    __table_args__ = (UniqueConstraint("item_key", name="uq_triage_items_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_key: Mapped[str] = mapped_column(String(64), nullable=False)
    note_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # "batch" or "upload"
    result_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    provider: Mapped[str | None] = mapped_column(String(255), nullable=True)
    report_json: Mapped[str] = mapped_column(Text, nullable=False)
    review_status: Mapped[str] = mapped_column(String(16), nullable=False)  # the report's: "ok" or "failed"
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    risk_band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open", index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    decision_fixes: Mapped[list] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Every flush of a changed item runs UPDATE ... WHERE version = <version it was loaded at>.
    __mapper_args__: Mapping[str, Any] = {"version_id_col": version}

    finding_decisions: Mapped[list[FindingDecision]] = relationship(
        back_populates="item", order_by="FindingDecision.finding_index"
    )


class FindingDecision(Base):
    """A reviewer's verdict on one finding of an item: accepted, or overridden with a reason."""

    __tablename__ = "triage_finding_decisions"
    __table_args__ = (UniqueConstraint("item_id", "finding_index", name="uq_triage_finding_decisions_finding"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("triage_items.id"), nullable=False, index=True)
    finding_index: Mapped[int] = mapped_column(Integer, nullable=False)
    rule: Mapped[str] = mapped_column(String(32), nullable=False)
    flag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    decided_by: Mapped[str] = mapped_column(String(255), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    item: Mapped[QueueItem] = relationship(back_populates="finding_decisions")


class AuditEvent(Base):
    """Who did what to which item, when, with the state before and after. Never updated."""

    __tablename__ = "triage_audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("triage_items.id"), nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class User(Base):
    """A reviewer who signs in with a password (bcrypt hash), besides those in REVIEWER_USERS; `role`
    is "reviewer" or "admin" (reviewer/triage/users.py says what each may see)."""

    __tablename__ = "triage_users"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="reviewer", server_default="reviewer")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
