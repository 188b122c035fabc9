"""Cycles: `cycle` on objectives, key results and their values; (cycle, id) identifies a row.

A key result was keyed by its id alone, so next quarter's `lead-time` overwrote this
quarter's. Now its cycle (its period as `2026-10-01..2026-12-31`, see `sync.cycles`) is part
of its key, and of its values' reference to it. Every row is kept:

- a key result takes the cycle of its stored period (`period_start`, `period_end`); one
  written before periods were stored, the calendar quarter of its last observation;
- its values take its cycle;
- an objective takes the cycles of its key results, one row per cycle (a copy of the same
  row); one without key results takes the store's most common cycle (the run's), else the
  quarter of its last update.

Columns are added, none renamed: readers of the old columns go on working, and see one row
per (cycle, id) where they saw one per id.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import warnings
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_WIDTH = 40
# The names SQLite's unnamed constraints get for the batch copy, and PostgreSQL's defaults.
_SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_OLD = {
    "sqlite": {
        "kr_values_fk": "fk_kr_values_key_result_id_key_results",
        "key_results_fk": "fk_key_results_objective_id_objectives",
    },
    "postgresql": {
        "kr_values_fk": "kr_values_key_result_id_fkey",
        "key_results_fk": "key_results_objective_id_fkey",
        "objectives_pk": "objectives_pkey",
        "key_results_pk": "key_results_pkey",
    },
}


def _key(start: date, end: date) -> str:
    return f"{start.isoformat()}..{end.isoformat()}"


def _day(moment: Any) -> date | None:
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()
    if isinstance(moment, date):
        return moment
    if isinstance(moment, str) and moment:
        return datetime.fromisoformat(moment).date()
    return None


def _quarter_of(moment: Any) -> str:
    day = _day(moment) or datetime.now(UTC).date()
    first = 3 * ((day.month - 1) // 3) + 1
    end_month = first + 2
    last = date(day.year, end_month, 31 if end_month in (3, 12) else 30)
    return _key(date(day.year, first, 1), last)


def upgrade() -> None:
    conn = op.get_bind()
    for table in ("objectives", "key_results", "kr_values"):
        op.add_column(table, sa.Column("cycle", sa.String(_WIDTH)))
    copies = _fill_cycles(conn)
    batch: dict[str, Any] = {"recreate": "auto"}
    if conn.dialect.name == "sqlite":
        batch = {"recreate": "always", "naming_convention": _SQLITE_NAMES}
    with warnings.catch_warnings():
        # SQLite's copy of a table is declared with the old key, then given the new one;
        # SQLAlchemy warns that it replaced the key, which is what is asked.
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_.*primary_key")
        _new_keys(conn, batch, copies)


def _new_keys(conn: sa.Connection, batch: dict[str, Any], copies: list[dict[str, Any]]) -> None:
    """(cycle, id) the key of objectives and key results, and their references."""
    names = _OLD["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    with op.batch_alter_table("kr_values", **batch) as values:
        values.drop_constraint(names["kr_values_fk"], type_="foreignkey")
        values.alter_column("cycle", existing_type=sa.String(_WIDTH), nullable=False)
    with op.batch_alter_table("key_results", **batch) as key_results:
        key_results.drop_constraint(names["key_results_fk"], type_="foreignkey")
        if "key_results_pk" in names:
            key_results.drop_constraint(names["key_results_pk"], type_="primary")
        key_results.alter_column("cycle", existing_type=sa.String(_WIDTH), nullable=False)
        key_results.create_primary_key("pk_key_results", ["cycle", "id"])
    with op.batch_alter_table("objectives", **batch) as objectives:
        if "objectives_pk" in names:
            objectives.drop_constraint(names["objectives_pk"], type_="primary")
        objectives.alter_column("cycle", existing_type=sa.String(_WIDTH), nullable=False)
        objectives.create_primary_key("pk_objectives", ["cycle", "id"])
    if copies:  # the objectives of key results in more than one cycle, once (cycle, id) is the key
        reflected = sa.Table("objectives", sa.MetaData(), autoload_with=conn)
        conn.execute(sa.insert(reflected), copies)
    with op.batch_alter_table("key_results", **batch) as key_results:
        key_results.create_foreign_key(
            "fk_kr_objective", "objectives", ["cycle", "objective_id"], ["cycle", "id"]
        )
    with op.batch_alter_table("kr_values", **batch) as values:
        values.create_foreign_key(
            "fk_kr_values_key_result", "key_results", ["cycle", "key_result_id"], ["cycle", "id"]
        )
    op.create_index(
        "ix_kr_values_cycle_kr_observed", "kr_values", ["cycle", "key_result_id", "observed_at"]
    )


def _fill_cycles(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every existing row's cycle, as the module's docstring says; the objectives' rows to
    copy into their key results' other cycles come back."""
    key_results = sa.table(
        "key_results",
        sa.column("id"),
        sa.column("cycle"),
        sa.column("objective_id"),
        sa.column("period_start"),
        sa.column("period_end"),
        sa.column("updated_at"),
        sa.column("checked_at"),
    )
    cycle_of: dict[str, str] = {}
    for row in conn.execute(sa.select(key_results)).all():
        start, end = _day(row.period_start), _day(row.period_end)
        cycle_of[row.id] = (
            _key(start, end)
            if start is not None and end is not None
            else _quarter_of(row.updated_at or row.checked_at)
        )
    if cycle_of:
        conn.execute(
            sa.update(key_results).where(key_results.c.id == sa.bindparam("kr_id")),
            [{"kr_id": kr_id, "cycle": cycle} for kr_id, cycle in cycle_of.items()],
        )
    kr_values = sa.table("kr_values", sa.column("key_result_id"), sa.column("cycle"))
    for kr_id, cycle in cycle_of.items():
        conn.execute(
            sa.update(kr_values).where(kr_values.c.key_result_id == kr_id).values(cycle=cycle)
        )
    objective_cycles: dict[str, list[str]] = {}
    for row in conn.execute(sa.select(key_results.c.id, key_results.c.objective_id)).all():
        cycles = objective_cycles.setdefault(row.objective_id, [])
        if cycle_of[row.id] not in cycles:
            cycles.append(cycle_of[row.id])
    common = Counter(cycle_of.values()).most_common(1)
    run_cycle = common[0][0] if common else None
    # Values whose key result is gone (SQLite never enforced the reference): the run's cycle.
    conn.execute(
        sa.update(kr_values)
        .where(kr_values.c.cycle.is_(None))
        .values(cycle=run_cycle or _quarter_of(None))
    )
    return _fill_objective_cycles(conn, objective_cycles, run_cycle)


def _fill_objective_cycles(
    conn: sa.Connection, objective_cycles: dict[str, list[str]], run_cycle: str | None
) -> list[dict[str, Any]]:
    objectives = sa.Table("objectives", sa.MetaData(), autoload_with=conn)
    copies: list[dict[str, Any]] = []
    for row in conn.execute(sa.select(objectives)).mappings().all():
        cycles = objective_cycles.get(row["id"]) or [run_cycle or _quarter_of(row["updated_at"])]
        conn.execute(
            sa.update(objectives).where(objectives.c.id == row["id"]).values(cycle=cycles[0])
        )
        copies += [{**row, "cycle": cycle} for cycle in cycles[1:]]
    return copies


def downgrade() -> None:
    raise NotImplementedError(
        "0007 cannot be undone without merging the histories of cycles that share an id"
    )
