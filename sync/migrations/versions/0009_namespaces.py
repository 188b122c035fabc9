"""Namespaces: `namespace` on objectives, key results, their values, frozen scopes and runs;
(namespace, cycle, id) identifies a row.

One store now serves many mapping files (a company's, one per team), each its own
namespace (`namespace:` in the file, else the file's name without extension). Every existing
row is kept, in the namespace its file will have, so that the next `sync` of the same file
goes on writing the same history:

- what the built-in demo wrote (`objectives.demo`) goes to `demo`, with its key results,
  values and scopes;
- everything else to the namespace of the file the newest sync run read (its
  `config_path` without folder and extension, lower-cased) when that is a valid namespace
  and not the demo's own file, else `default` (write `namespace: default` in the file to
  go on with it, or `prune` it);
- a run to `demo` when it read the demo's file and the store holds the demo's rows, else to
  the same namespace as the rest.

Columns are added, none renamed: readers of the old columns go on working, and see one row
per (namespace, cycle, id) where they saw one per (cycle, id).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import re
import warnings
from pathlib import PurePath
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_WIDTH = 64
_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # config.value_types at 0009
DEFAULT = "default"
DEMO = "demo"
_DEMO_FILE = "demo.yaml"  # config/examples/demo.yaml, the file the demo syncs
_SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_PG_KEYS = {"kr_scopes": "kr_scopes_pkey"}


def _namespace_of(config_path: str | None) -> str | None:
    if not config_path:
        return None
    stem = PurePath(config_path.replace("\\", "/")).stem.lower()
    return stem if _NAMESPACE.match(stem) else None


def upgrade() -> None:
    conn = op.get_bind()
    for table in ("objectives", "key_results", "kr_values", "kr_scopes", "sync_runs"):
        op.add_column(table, sa.Column("namespace", sa.String(_WIDTH)))
    _fill(conn)
    batch: dict[str, Any] = {"recreate": "auto"}
    if conn.dialect.name == "sqlite":
        batch = {"recreate": "always", "naming_convention": _SQLITE_NAMES}
    with warnings.catch_warnings():
        # SQLite's copy of a table is declared with the old key, then given the new one.
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_.*primary_key")
        _new_keys(conn, batch)


def _fill(conn: sa.Connection) -> None:
    runs = sa.table("sync_runs", sa.column("id"), sa.column("config_path"), sa.column("namespace"))
    paths = conn.execute(sa.select(runs.c.id, runs.c.config_path).order_by(runs.c.id.desc()))
    newest = [(row.id, row.config_path) for row in paths]
    owned = [_namespace_of(path) for _, path in newest]
    rest = next((ns for ns in owned if ns is not None and ns != DEMO), DEFAULT)

    objectives = sa.table(
        "objectives", sa.column("namespace"), sa.column("demo"), sa.column("cycle"), sa.column("id")
    )
    key_results = sa.table(
        "key_results",
        sa.column("namespace"),
        sa.column("cycle"),
        sa.column("id"),
        sa.column("objective_id"),
    )
    kr_values = sa.table(
        "kr_values", sa.column("namespace"), sa.column("cycle"), sa.column("key_result_id")
    )
    kr_scopes = sa.table(
        "kr_scopes",
        sa.column("namespace"),
        sa.column("key_result_id"),
        sa.column("period_start"),
        sa.column("period_end"),
    )
    demo_objectives = {
        (row.cycle, row.id)
        for row in conn.execute(
            sa.select(objectives.c.cycle, objectives.c.id).where(objectives.c.demo.is_(True))
        )
    }
    demo_krs = {
        (row.cycle, row.id)
        for row in conn.execute(
            sa.select(key_results.c.cycle, key_results.c.id, key_results.c.objective_id)
        )
        if (row.cycle, row.objective_id) in demo_objectives
    }
    for cycle, objective_id in demo_objectives:
        conn.execute(
            sa.update(objectives)
            .where(objectives.c.cycle == cycle, objectives.c.id == objective_id)
            .values(namespace=DEMO)
        )
    for cycle, kr_id in demo_krs:
        conn.execute(
            sa.update(key_results)
            .where(key_results.c.cycle == cycle, key_results.c.id == kr_id)
            .values(namespace=DEMO)
        )
        conn.execute(
            sa.update(kr_values)
            .where(kr_values.c.cycle == cycle, kr_values.c.key_result_id == kr_id)
            .values(namespace=DEMO)
        )
    for row in conn.execute(
        sa.select(kr_scopes.c.key_result_id, kr_scopes.c.period_start, kr_scopes.c.period_end)
    ).all():
        cycle = f"{_iso(row.period_start)}..{_iso(row.period_end)}"
        if (cycle, row.key_result_id) in demo_krs:
            conn.execute(
                sa.update(kr_scopes)
                .where(
                    kr_scopes.c.key_result_id == row.key_result_id,
                    kr_scopes.c.period_start == row.period_start,
                    kr_scopes.c.period_end == row.period_end,
                )
                .values(namespace=DEMO)
            )
    for table in (objectives, key_results, kr_values, kr_scopes):
        conn.execute(sa.update(table).where(table.c.namespace.is_(None)).values(namespace=rest))
    demo_runs = [
        run_id
        for run_id, path in newest
        if demo_objectives and path and PurePath(path.replace("\\", "/")).name == _DEMO_FILE
    ]
    if demo_runs:
        conn.execute(sa.update(runs).where(runs.c.id.in_(demo_runs)).values(namespace=DEMO))
    conn.execute(sa.update(runs).where(runs.c.namespace.is_(None)).values(namespace=rest))


def _iso(day: Any) -> str:
    return day.isoformat() if hasattr(day, "isoformat") else str(day)[:10]


def _new_keys(conn: sa.Connection, batch: dict[str, Any]) -> None:
    """(namespace, cycle, id) the key of objectives and key results, and their references."""
    postgresql = conn.dialect.name == "postgresql"
    text = sa.String(_WIDTH)
    with op.batch_alter_table("kr_values", **batch) as values:
        values.drop_constraint("fk_kr_values_key_result", type_="foreignkey")
        values.alter_column("namespace", existing_type=text, nullable=False)
    op.drop_index("ix_kr_values_cycle_kr_observed", "kr_values")
    with op.batch_alter_table("key_results", **batch) as key_results:
        key_results.drop_constraint("fk_kr_objective", type_="foreignkey")
        if postgresql:
            key_results.drop_constraint("pk_key_results", type_="primary")
        key_results.alter_column("namespace", existing_type=text, nullable=False)
        key_results.create_primary_key("pk_key_results", ["namespace", "cycle", "id"])
    with op.batch_alter_table("objectives", **batch) as objectives:
        if postgresql:
            objectives.drop_constraint("pk_objectives", type_="primary")
        objectives.alter_column("namespace", existing_type=text, nullable=False)
        objectives.create_primary_key("pk_objectives", ["namespace", "cycle", "id"])
    with op.batch_alter_table("kr_scopes", **batch) as scopes:
        if postgresql:
            scopes.drop_constraint(_PG_KEYS["kr_scopes"], type_="primary")
        scopes.alter_column("namespace", existing_type=text, nullable=False)
        scopes.create_primary_key(
            "pk_kr_scopes", ["namespace", "key_result_id", "period_start", "period_end"]
        )
    with op.batch_alter_table("sync_runs", **batch) as runs:
        runs.alter_column("namespace", existing_type=text, nullable=False)
    with op.batch_alter_table("key_results", **batch) as key_results:
        key_results.create_foreign_key(
            "fk_kr_objective",
            "objectives",
            ["namespace", "cycle", "objective_id"],
            ["namespace", "cycle", "id"],
        )
    with op.batch_alter_table("kr_values", **batch) as values:
        values.create_foreign_key(
            "fk_kr_values_key_result",
            "key_results",
            ["namespace", "cycle", "key_result_id"],
            ["namespace", "cycle", "id"],
        )
    op.create_index("ix_sync_runs_namespace_id", "sync_runs", ["namespace", "id"])
    op.create_index(
        "ix_kr_values_ns_cycle_kr_observed",
        "kr_values",
        ["namespace", "cycle", "key_result_id", "observed_at"],
    )


def downgrade() -> None:
    raise NotImplementedError("0009 cannot be undone without merging namespaces that share ids")
