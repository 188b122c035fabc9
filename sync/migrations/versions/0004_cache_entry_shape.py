"""What shaped a cache entry's items besides its selector: the site and field settings.

`fetch_cache.shape` holds the connector's markers (the site's URL; for Jira items that
carry story points, the story-points field setting). An entry whose markers do not cover
what the connector would now send is fetched in full, so changing a setting invalidates
exactly the entries it shapes. Entries written before have no shape: each is fetched in
full once; nothing else changes.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("fetch_cache", sa.Column("shape", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("fetch_cache") as batch:
        batch.drop_column("shape")
