"""Retirement and the demo's mark: `retired_at` on objectives and key results, `demo` on
objectives.

Nothing ever left the store: a key result or objective removed from the mapping file kept
showing its old value. A run now sets `retired_at` on whatever the mapping file no longer
lists (and clears it on what comes back); rows stay, with their history. `objectives.demo`
says the built-in `demo` wrote the objective, so that `demo` can refuse a store holding
objectives it did not write. Existing rows are listed (NULL) and not the demo's (false):
every value is kept.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("objectives", sa.Column("retired_at", sa.DateTime(timezone=True)))
    op.add_column(
        "objectives",
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("key_results", sa.Column("retired_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("key_results") as batch:
        batch.drop_column("retired_at")
    with op.batch_alter_table("objectives") as batch:
        batch.drop_column("demo")
        batch.drop_column("retired_at")
