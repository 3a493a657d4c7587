"""CMS edit tables: imported NCCI PTP and MUE versions with their rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edit_table_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_kept", sa.Integer(), nullable=False),
        sa.Column("kept", sa.String(length=16), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "version", name="uq_edit_table_versions_kind_version"),
    )
    op.create_table(
        "ncci_ptp_edits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.String(length=255), nullable=False),
        sa.Column("column1", sa.String(length=8), nullable=False),
        sa.Column("column2", sa.String(length=8), nullable=False),
        sa.Column("prior_1996", sa.Boolean(), nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("deleted", sa.Date(), nullable=True),
        sa.Column("modifier_indicator", sa.Integer(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["edit_table_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "column1", "column2", "effective", name="uq_ncci_ptp_edits_pair"),
    )
    op.create_index("ix_ncci_ptp_edits_version_column2", "ncci_ptp_edits", ["version_id", "column2"])
    op.create_table(
        "mue_values",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("mue_value", sa.Integer(), nullable=False),
        sa.Column("indicator", sa.Integer(), nullable=False),
        sa.Column("indicator_text", sa.String(length=255), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["edit_table_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "code", name="uq_mue_values_code"),
    )


def downgrade() -> None:
    op.drop_table("mue_values")
    op.drop_index("ix_ncci_ptp_edits_version_column2", table_name="ncci_ptp_edits")
    op.drop_table("ncci_ptp_edits")
    op.drop_table("edit_table_versions")
