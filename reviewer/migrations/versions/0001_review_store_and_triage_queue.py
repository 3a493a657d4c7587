"""Review store and triage queue.

A baseline: a table that already exists (made by `Base.metadata.create_all` before the database
was under Alembic) is kept, so such a database is adopted rather than refused.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY_MESSAGE = "triage_audit_events is append-only"

# The audit trail must hold even against hand-written SQL, so the database itself refuses changes.
_APPEND_ONLY_SQL = {
    "sqlite": [
        (
            "CREATE TRIGGER IF NOT EXISTS triage_audit_events_no_update BEFORE UPDATE ON triage_audit_events "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END"
        ),
        (
            "CREATE TRIGGER IF NOT EXISTS triage_audit_events_no_delete BEFORE DELETE ON triage_audit_events "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END"
        ),
    ],
    "postgresql": [
        (
            "CREATE OR REPLACE FUNCTION triage_audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}'; END $$"
        ),
        (
            "CREATE OR REPLACE TRIGGER triage_audit_events_no_change BEFORE UPDATE OR DELETE ON triage_audit_events "
            "FOR EACH ROW EXECUTE FUNCTION triage_audit_events_append_only()"
        ),
        (
            "CREATE OR REPLACE TRIGGER triage_audit_events_no_truncate BEFORE TRUNCATE ON triage_audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION triage_audit_events_append_only()"
        ),
    ],
}
_DROP_APPEND_ONLY_SQL = {
    "sqlite": ["DROP TRIGGER triage_audit_events_no_update", "DROP TRIGGER triage_audit_events_no_delete"],
    "postgresql": ["DROP FUNCTION triage_audit_events_append_only() CASCADE"],
}


def _create_table(name: str, *columns, indexes: tuple[str, ...] = ()) -> None:
    """Create `name` with its single-column indexes unless an earlier `create_all` made it."""
    if sa.inspect(op.get_bind()).has_table(name):
        return
    op.create_table(name, *columns)
    for column in indexes:
        op.create_index(f"ix_{name}_{column}", name, [column])


def upgrade() -> None:
    _create_table(
        "review_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("result_key", sa.String(length=255), nullable=False),
        sa.Column("note_id", sa.String(length=255), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("prompt_version", sa.String(length=64), nullable=False),
        sa.Column("rules_version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("risk_band", sa.String(length=16), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("provider", sa.String(length=255), nullable=True),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("result_key", name="uq_review_results_key"),
        indexes=("content_hash", "note_id", "provider"),
    )

    _create_table(
        "triage_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("note_id", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("result_key", sa.String(length=255), nullable=True),
        sa.Column("provider", sa.String(length=255), nullable=True),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.Column("review_status", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("risk_band", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("decision_fixes", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_key", name="uq_triage_items_key"),
        indexes=("note_id", "priority", "status"),
    )

    _create_table(
        "triage_users",
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )

    _create_table(
        "triage_audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["triage_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        indexes=("at", "item_id"),
    )
    for statement in _APPEND_ONLY_SQL.get(op.get_bind().dialect.name, []):
        op.execute(statement)

    _create_table(
        "triage_finding_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("finding_index", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("flag", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["triage_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "finding_index", name="uq_triage_finding_decisions_finding"),
        indexes=("item_id",),
    )


def downgrade() -> None:
    op.drop_table("triage_finding_decisions")
    for statement in _DROP_APPEND_ONLY_SQL.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    op.drop_table("triage_audit_events")
    op.drop_table("triage_users")
    op.drop_table("triage_items")
    op.drop_table("review_results")
