"""The store's schema (SQLAlchemy Core). Alembic migrations in sync/migrations create it.

This is a contract other tools read with plain SQL: add columns, never rename them.

Objectives, key results and their values carry a `cycle` (migration 0007, `sync.cycles`):
a row is identified by (cycle, id), so the same id in the next quarter is a row of its own.
Since migration 0009 they, the frozen scopes and the runs also carry a `namespace` (the
mapping file's, `config.mapping`): a row is identified by (namespace, cycle, id), so two
teams' files may use the same ids, and a run of one never touches another's rows.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()

CYCLE_WIDTH = 40  # a cycle key is 22 characters (`sync.cycles`); room to spare
NAMESPACE_WIDTH = 64  # as long as config.value_types allows a namespace

objectives = Table(
    "objectives",
    metadata,
    Column("namespace", String(NAMESPACE_WIDTH), primary_key=True),  # migration 0009
    Column("cycle", String(CYCLE_WIDTH), primary_key=True),  # `2026-10-01..2026-12-31`
    Column("id", String(100), primary_key=True),
    Column("title", Text, nullable=False),
    Column("owner", String(200)),  # as wide as the mapping file allows (config/mapping.py)
    Column("level", String(100)),  # likewise; widened by migration 0005
    Column("parent_id", String(129)),  # `namespace/id` across namespaces (0010)
    Column("weight", Float, nullable=False, default=1.0),
    Column("position", Integer, nullable=False, default=0),  # order in the mapping file
    Column("progress", Float),  # fraction, 1.0 = 100 %
    Column("status", String(20), nullable=False, default="no_data"),
    Column("updated_at", DateTime(timezone=True)),
    # When the mapping file stopped listing it (migration 0006): kept with its history, left
    # out of roll-ups and current views; NULL while listed.
    Column("retired_at", DateTime(timezone=True)),
    Column("demo", Boolean, nullable=False, default=False, server_default=false()),  # by `demo`
)

key_results = Table(
    "key_results",
    metadata,
    Column("namespace", String(NAMESPACE_WIDTH), primary_key=True),  # its objective's
    Column("cycle", String(CYCLE_WIDTH), primary_key=True),  # its period (`sync.cycles`)
    Column("id", String(100), primary_key=True),
    Column("objective_id", String(100), nullable=False),  # the objective of the same cycle
    Column("title", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("unit", String(50)),  # as wide as config/mapping.py allows; migration 0005
    Column("metric_type", String(20), nullable=False),
    Column("source", String(20)),
    Column("start_value", Float),
    Column("target_value", Float),
    Column("min_value", Float),
    Column("max_value", Float),
    Column("weight", Float, nullable=False, default=1.0),
    Column("position", Integer, nullable=False, default=0),
    Column("period_start", DateTime(timezone=True)),
    Column("period_end", DateTime(timezone=True)),
    Column("value", Float),  # the last good value; a failed fetch never overwrites it
    Column("progress_raw", Float),
    Column("progress", Float),
    Column("expected", Float),
    Column("status", String(20), nullable=False, default="no_data"),
    Column("last_error", Text),
    Column("lineage", JSON),  # how the last value (or the last failure) came about
    Column("updated_at", DateTime(timezone=True)),  # when `value` was last observed
    Column("checked_at", DateTime(timezone=True)),  # when a run last looked at it
    Column("last_run_id", Integer),
    Column("retired_at", DateTime(timezone=True)),  # as objectives.retired_at (migration 0006)
    ForeignKeyConstraint(
        ["namespace", "cycle", "objective_id"],
        ["objectives.namespace", "objectives.cycle", "objectives.id"],
        name="fk_kr_objective",
    ),
)

kr_values = Table(
    "kr_values",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("namespace", String(NAMESPACE_WIDTH), nullable=False),  # the key result's (0009)
    Column("key_result_id", String(100), nullable=False),
    Column("cycle", String(CYCLE_WIDTH), nullable=False),  # the key result's (migration 0007)
    Column("run_id", Integer, ForeignKey("sync_runs.id")),  # NULL for check-ins and notes
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("value", Float),
    Column("progress_raw", Float),
    Column("status", String(20)),
    Column("origin", String(20), nullable=False),  # sync | checkin | note | backfill
    Column("note", Text),
    Column("lineage", JSON),
    ForeignKeyConstraint(
        ["namespace", "cycle", "key_result_id"],
        ["key_results.namespace", "key_results.cycle", "key_results.id"],
        name="fk_kr_values_key_result",
    ),
)
Index("ix_kr_values_kr_observed", kr_values.c.key_result_id, kr_values.c.observed_at)
Index(
    "ix_kr_values_ns_cycle_kr_observed",
    kr_values.c.namespace,
    kr_values.c.cycle,
    kr_values.c.key_result_id,
    kr_values.c.observed_at,
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(20), nullable=False),  # ok | partial | failed
    Column("key_results_total", Integer, nullable=False),
    Column("key_results_failed", Integer, nullable=False),
    Column("requests", JSON, nullable=False),  # {"jira": 3, "github": 5}
    Column("errors", JSON, nullable=False),  # {"jira": ["..."], "github": []}
    Column("config_path", Text),
    Column("namespace", String(NAMESPACE_WIDTH), nullable=False),  # the file's (0009)
)
Index("ix_sync_runs_namespace_id", sync_runs.c.namespace, sync_runs.c.id)  # a namespace's runs

# The incremental-sync cache (migration 0002): what each fetch unit (a JQL, a search, a
# repository listing) returned last time, so the next run asks only for what changed.
fetch_cache = Table(
    "fetch_cache",
    metadata,
    Column("unit_key", String(64), primary_key=True),  # sha256 of the unit's description
    Column("source", String(20), nullable=False),
    Column("description", Text, nullable=False),
    Column("needs", JSON, nullable=False),  # extra fields the cached items carry
    Column("horizon", DateTime(timezone=True)),  # listings: oldest update they reach back to
    Column("count", Integer),  # server count, when no members are kept
    Column("synced_at", DateTime(timezone=True), nullable=False),  # changes since then unseen
    Column("full_at", DateTime(timezone=True), nullable=False),  # last full fetch
    Column("run_id", Integer),
    Column("item_format", String(16)),  # field order of the item arrays (sync/item_cache.py)
    Column("shape", JSON),  # the connector's markers of what shaped the items (migration 0004)
)

fetch_cache_items = Table(
    "fetch_cache_items",
    metadata,
    Column("unit_key", String(64), primary_key=True),
    Column("item_key", String(200), primary_key=True),
    Column("tracker_id", String(40)),  # Jira issue id (jql/match speaks ids)
    Column("item", Text),  # the work item as a JSON array; NULL for a count's members
)

# Frozen scopes (migration 0008): the items a `scope: frozen` key result measures, taken at
# its period's start; each item as last seen in the selector (sync/scope_rows.py).
kr_scopes = Table(
    "kr_scopes",
    metadata,
    Column("namespace", String(NAMESPACE_WIDTH), primary_key=True),  # migration 0009
    Column("key_result_id", String(100), primary_key=True),
    Column("period_start", Date, primary_key=True),
    Column("period_end", Date, primary_key=True),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("definition", String(64), nullable=False),  # sync.kept_values.definition_of
    Column("items", JSON, nullable=False),  # the items, each as sync.item_cache encodes it
)
