"""Reviewer roles: each user is a reviewer (works the queue) or an admin (also the batch dashboard,
the audit trail of all actions and the overrides export). Existing users become reviewers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triage_users") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="reviewer"))


def downgrade() -> None:
    with op.batch_alter_table("triage_users") as batch:
        batch.drop_column("role")
