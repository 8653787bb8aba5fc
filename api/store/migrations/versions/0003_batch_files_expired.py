"""Batches: when retention removed a batch's files (``files_expired_at``); ``cancelled`` is a new status value.

The status column is a plain ``String(12)`` without a CHECK constraint, so the
new value ``cancelled`` needs no schema change; only the expiry time is new.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("files_expired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("files_expired_at")
