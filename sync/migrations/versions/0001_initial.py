"""The first schema: objectives, key_results, kr_values, sync_runs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "objectives",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("level", sa.String(50)),
        sa.Column("parent_id", sa.String(100)),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("progress", sa.Float),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("updated_at", UTC_TIME),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("finished_at", UTC_TIME, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("key_results_total", sa.Integer, nullable=False),
        sa.Column("key_results_failed", sa.Integer, nullable=False),
        sa.Column("requests", sa.JSON, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("config_path", sa.Text),
    )
    op.create_table(
        "key_results",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("objective_id", sa.String(100), sa.ForeignKey("objectives.id"), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("unit", sa.String(20)),
        sa.Column("metric_type", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20)),
        sa.Column("start_value", sa.Float),
        sa.Column("target_value", sa.Float),
        sa.Column("min_value", sa.Float),
        sa.Column("max_value", sa.Float),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("period_start", UTC_TIME),
        sa.Column("period_end", UTC_TIME),
        sa.Column("value", sa.Float),
        sa.Column("progress_raw", sa.Float),
        sa.Column("progress", sa.Float),
        sa.Column("expected", sa.Float),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("lineage", sa.JSON),
        sa.Column("updated_at", UTC_TIME),
        sa.Column("checked_at", UTC_TIME),
        sa.Column("last_run_id", sa.Integer),
    )
    op.create_table(
        "kr_values",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_result_id", sa.String(100), sa.ForeignKey("key_results.id"), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("sync_runs.id")),
        sa.Column("observed_at", UTC_TIME, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("progress_raw", sa.Float),
        sa.Column("status", sa.String(20)),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("lineage", sa.JSON),
    )
    op.create_index("ix_kr_values_kr_observed", "kr_values", ["key_result_id", "observed_at"])


def downgrade() -> None:
    op.drop_index("ix_kr_values_kr_observed", "kr_values")
    op.drop_table("kr_values")
    op.drop_table("key_results")
    op.drop_table("sync_runs")
    op.drop_table("objectives")
