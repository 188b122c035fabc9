"""Cached work items as compact text, with the item format recorded per cache entry.

Each item was a JSON object (field names repeated in every row, encoded and decoded by the
JSON column type row by row); it is now one positional JSON array in a text column, written
and read by sync/item_cache.py, and `fetch_cache.item_format` says which field order the
arrays of an entry follow, so a later change to the work item invalidates old entries
instead of misreading them. The old rows are a cache: they are dropped, and the next run
fetches in full.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("fetch_cache_items")
    op.execute(sa.text("DELETE FROM fetch_cache"))
    op.add_column("fetch_cache", sa.Column("item_format", sa.String(16)))
    op.create_table(
        "fetch_cache_items",
        sa.Column("unit_key", sa.String(64), primary_key=True),
        sa.Column("item_key", sa.String(200), primary_key=True),
        sa.Column("tracker_id", sa.String(40)),
        sa.Column("item", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("fetch_cache_items")
    op.execute(sa.text("DELETE FROM fetch_cache"))
    with op.batch_alter_table("fetch_cache") as batch:
        batch.drop_column("item_format")
    op.create_table(
        "fetch_cache_items",
        sa.Column("unit_key", sa.String(64), primary_key=True),
        sa.Column("item_key", sa.String(200), primary_key=True),
        sa.Column("tracker_id", sa.String(40)),
        sa.Column("item", sa.JSON),
    )
