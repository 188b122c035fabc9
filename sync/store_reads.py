"""The store's reads: each query, and its rows as the records of `sync.records`.

`Store` inherits them; a key result's history is read by `ValueReads` (`sync.value_reads`).
Reads look at one cycle (`in_cycle`; by default the current one, `current_cycle`): a key
result's id names one row per cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, func, select

from config.periods import Period
from sync.cycle_reads import as_utc
from sync.records import (
    FrozenScope,
    KeyResultRow,
    Lineage,
    ObjectiveRow,
    RunRow,
    StoredKeyResult,
)
from sync.scope_rows import read_scope, read_scopes
from sync.tables import key_results, kr_values, objectives, sync_runs
from sync.value_reads import ValueReads


class StoreReads(ValueReads):
    """Every read of the store; `_connect` is the store's connection (errors as StoreError),
    each read in the cycle `CycleReads` chose."""

    def stored_key_results(self) -> dict[str, StoredKeyResult]:
        with self._connect() as conn:
            rows = conn.execute(
                select(
                    key_results.c.cycle,
                    key_results.c.id,
                    key_results.c.value,
                    key_results.c.status,
                    key_results.c.updated_at,
                    key_results.c.last_error,
                    key_results.c.last_run_id,
                    key_results.c.lineage,
                ).where(key_results.c.namespace == self._ns(conn))
            ).all()
            rows = self._in_scope(conn, rows)
        return {
            row.id: StoredKeyResult(
                row.value,
                row.status,
                as_utc(row.updated_at),
                last_error=row.last_error,
                last_run_id=row.last_run_id,
                lineage=Lineage.from_json(row.lineage),
            )
            for row in rows
        }

    def frozen_scope(self, kr_id: str, period: Period) -> FrozenScope | None:
        """The items a `scope: frozen` key result measures in `period`, if taken."""
        with self._connect() as conn:
            return read_scope(conn, self._ns(conn), kr_id, period)

    def frozen_scopes(self, wanted: Iterable[tuple[str, Period]]) -> dict[str, FrozenScope]:
        """The scopes kept of these key results, each in its period (one query)."""
        with self._connect() as conn:
            return read_scopes(conn, self._ns(conn), wanted)

    def key_result(self, kr_id: str) -> KeyResultRow | None:
        with self._connect() as conn:
            row = (
                conn.execute(
                    select(key_results).where(
                        key_results.c.namespace == self._ns(conn),
                        key_results.c.id == kr_id,
                        key_results.c.cycle == self._kr_cycle(conn, kr_id),
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else _key_result_row(row)

    def all_objectives(self) -> list[ObjectiveRow]:
        """The cycle's objectives, retired ones too."""
        with self._connect() as conn:
            rows = self._in_file_order(conn, objectives, {self._cycle(conn)})
        return [ObjectiveRow(**_utc_row(row)) for row in rows]

    def aligned_from_other_namespaces(self) -> list[ObjectiveRow]:
        """The cycle's listed objectives of other namespaces aligned to one of this
        namespace's (`parent_id` `<this namespace>/<id>`): what its roll-up counts."""
        with self._connect() as conn:
            namespace = self._ns(conn)
            rows = conn.execute(
                select(objectives)
                .where(
                    objectives.c.namespace != namespace,
                    objectives.c.cycle == self._cycle(conn),
                    objectives.c.retired_at.is_(None),
                    objectives.c.parent_id.startswith(f"{namespace}/", autoescape=True),
                )
                .order_by(objectives.c.namespace, objectives.c.position)
            ).mappings()
            return [ObjectiveRow(**_utc_row(row)) for row in rows]

    def all_key_results(self) -> list[KeyResultRow]:
        """The cycle's key results (a run's in their own cycles), retired ones too."""
        with self._connect() as conn:
            cycles = {self._cycle(conn), *self._own_cycles(conn).values()}
            rows = self._in_scope(conn, self._in_file_order(conn, key_results, cycles))
        return [_key_result_row(row) for row in rows]

    def _in_file_order(
        self, conn: Connection, table: Table, cycles: set[str | None]
    ) -> Sequence[RowMapping]:
        """The rows of `table` in `cycles` in the mapping file's order: position, then id."""
        return (
            conn.execute(
                select(table)
                .where(table.c.namespace == self._ns(conn), table.c.cycle.in_(cycles))
                .order_by(table.c.position, table.c.id)
            )
            .mappings()
            .all()
        )

    def previous_values(self) -> dict[str, float | None]:
        """Each key result's value before its latest one, for the change arrows of `status`.
        The database ranks each key result's values, so only one row each comes back."""
        newest_first = (
            func.row_number()
            .over(
                partition_by=(kr_values.c.cycle, kr_values.c.key_result_id),
                order_by=(kr_values.c.observed_at.desc(), kr_values.c.id.desc()),
            )
            .label("newest_first")
        )
        with self._connect() as conn:
            cycles = {self._cycle(conn), *self._own_cycles(conn).values()}
            ranked = (
                select(
                    kr_values.c.cycle,
                    kr_values.c.key_result_id.label("id"),
                    kr_values.c.value,
                    newest_first,
                )
                .where(
                    kr_values.c.namespace == self._ns(conn),
                    kr_values.c.value.is_not(None),
                    kr_values.c.cycle.in_(cycles),
                )
                .subquery()
            )
            rows = conn.execute(
                select(ranked.c.cycle, ranked.c.id, ranked.c.value).where(
                    ranked.c.newest_first == 2
                )
            ).all()
            rows = self._in_scope(conn, rows)
        return {row.id: row.value for row in rows}

    def runs(self, limit: int = 20) -> list[RunRow]:
        with self._connect() as conn:
            rows = (
                conn.execute(
                    select(sync_runs)
                    .where(sync_runs.c.namespace == self._ns(conn))
                    .order_by(sync_runs.c.id.desc())
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        return [
            RunRow(**{**_utc_row(row), "requests": row.requests or {}, "errors": row.errors or {}})
            for row in rows
        ]

    def counts(self) -> dict[str, int]:
        """Row counts per table: lets tests prove that a refused command wrote nothing."""
        with self._connect() as conn:
            return {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (objectives, key_results, kr_values, sync_runs)
            }


def _utc_row(row: RowMapping) -> dict[str, Any]:
    return {k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _lineage(row: RowMapping) -> Lineage | None:
    return Lineage.from_json(row["lineage"])


def _key_result_row(row: RowMapping) -> KeyResultRow:
    return KeyResultRow(**{**_utc_row(row), "lineage": _lineage(row)})
