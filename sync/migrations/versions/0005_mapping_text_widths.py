"""Columns as wide as the mapping file allows: `key_results.unit` 50, `objectives.level` 100.

A unit such as `story points (fibonacci)` (24 characters) passed validation and SQLite, and
failed the whole run on PostgreSQL (`value too long for type character varying(20)`). The
mapping file now limits unit, level and owner (config/mapping.py) to what these columns hold.
Widening keeps every value.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("key_results") as batch:
        batch.alter_column("unit", type_=sa.String(50), existing_type=sa.String(20))
    with op.batch_alter_table("objectives") as batch:
        batch.alter_column("level", type_=sa.String(100), existing_type=sa.String(50))


def downgrade() -> None:
    """Narrows the columns again: refused by PostgreSQL while a longer value is stored."""
    with op.batch_alter_table("objectives") as batch:
        batch.alter_column("level", type_=sa.String(50), existing_type=sa.String(100))
    with op.batch_alter_table("key_results") as batch:
        batch.alter_column("unit", type_=sa.String(20), existing_type=sa.String(50))
