"""Frozen scopes: the items a `scope: frozen` key result measures, taken once at its
period's start and kept (`kr_scopes`, one row per key result and period).

A new table: no existing row changes. Keyed by the key result's id and its period's start
and end, so a later cycle of the same id freezes a scope of its own.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kr_scopes",
        sa.Column("key_result_id", sa.String(100), primary_key=True),
        sa.Column("period_start", sa.Date, primary_key=True),
        sa.Column("period_end", sa.Date, primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("definition", sa.String(64), nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kr_scopes")
