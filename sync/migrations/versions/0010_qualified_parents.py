"""`objectives.parent_id` as wide as `namespace/id`: an objective aligned to another
namespace's stores its parent qualified (`company/grow-revenue`), up to 64 + 1 + 64
characters; within its own namespace, the id alone as before. Widening keeps every value.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("objectives") as batch:
        batch.alter_column("parent_id", type_=sa.String(129), existing_type=sa.String(100))


def downgrade() -> None:
    """Narrows the column again: refused by PostgreSQL while a longer value is stored."""
    with op.batch_alter_table("objectives") as batch:
        batch.alter_column("parent_id", type_=sa.String(100), existing_type=sa.String(129))
