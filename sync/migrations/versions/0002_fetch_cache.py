"""The incremental-sync cache: fetch_cache (one row per fetch unit) and its items.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fetch_cache",
        sa.Column("unit_key", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("needs", sa.JSON, nullable=False),
        sa.Column("horizon", UTC_TIME),
        sa.Column("count", sa.Integer),
        sa.Column("synced_at", UTC_TIME, nullable=False),
        sa.Column("full_at", UTC_TIME, nullable=False),
        sa.Column("run_id", sa.Integer),
    )
    op.create_table(
        "fetch_cache_items",
        sa.Column("unit_key", sa.String(64), primary_key=True),
        sa.Column("item_key", sa.String(200), primary_key=True),
        sa.Column("tracker_id", sa.String(40)),
        sa.Column("item", sa.JSON),
    )


def downgrade() -> None:
    op.drop_table("fetch_cache_items")
    op.drop_table("fetch_cache")
