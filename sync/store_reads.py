"""The store's reads: each query, and its rows as the records of `sync.records`.

`Store` inherits them; a view keeps to the bounded reads (`value_points`, `recent_history`),
which stay small on a history of hundreds of thousands of values. Reads look at one cycle
(`in_cycle`; by default the current one, `current_cycle`): a key result's id names one row
per cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, Float, RowMapping, Table, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from config.periods import Period
from sync.cycle_reads import CycleReads, as_utc
from sync.cycles import cycle_key
from sync.downsample import keep_shape
from sync.records import (
    FrozenScope,
    HistoryPoint,
    KeyResultRow,
    Lineage,
    ObjectiveRow,
    RunRow,
    StoredKeyResult,
    ValueRow,
)
from sync.scope_rows import read_scope, read_scopes
from sync.tables import key_results, kr_values, objectives, sync_runs


class EpochSeconds(FunctionElement[float]):
    """A timestamp column as seconds since 1970 (a float), computed by the database."""

    type = Float()
    inherit_cache = True


@compiles(EpochSeconds, "sqlite")
def _sqlite_epoch_seconds(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores naive UTC text; julianday() reads it, 2440587.5 is 1970-01-01.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(EpochSeconds, "postgresql")
def _postgresql_epoch_seconds(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class StoreReads(CycleReads):
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

    def first_value_since(self, kr_id: str, since: date) -> float | None:
        """The first value observed in a period: what `start: auto` means. Backfill's points
        are not observed: a backfill run later must not move a baseline people have seen
        (`start: period_start` is the way to ask for the rebuilt one)."""
        with self._connect() as conn:
            return conn.execute(
                select(kr_values.c.value)
                .where(
                    kr_values.c.key_result_id == kr_id,
                    kr_values.c.namespace == self._ns(conn),
                    kr_values.c.cycle == self._kr_cycle(conn, kr_id),
                    kr_values.c.value.is_not(None),
                    kr_values.c.observed_at >= day_start(since),
                    kr_values.c.origin != "backfill",
                )
                .order_by(kr_values.c.observed_at, kr_values.c.id)
                .limit(1)
            ).scalar()

    def recorded_at(self, kr_id: str, period: Period) -> tuple[float, str | None] | None:
        """The value recorded at the period's first instant (any origin) in the key result's
        cycle of that period, and the definition its lineage names: `start: period_start`."""
        with self._connect() as conn:
            row = conn.execute(
                select(kr_values.c.value, kr_values.c.lineage)
                .where(
                    kr_values.c.key_result_id == kr_id,
                    kr_values.c.namespace == self._ns(conn),
                    kr_values.c.cycle == cycle_key(period.start, period.end),
                    kr_values.c.value.is_not(None),
                    kr_values.c.observed_at == day_start(period.start),
                )
                .order_by(kr_values.c.id)
                .limit(1)
            ).first()
        if row is None:
            return None
        definition = (row.lineage or {}).get("definition")
        return row.value, definition if isinstance(definition, str) else None

    def frozen_scope(self, kr_id: str, period: Period) -> FrozenScope | None:
        """The items a `scope: frozen` key result measures in `period`, if taken."""
        with self._connect() as conn:
            return read_scope(conn, self._ns(conn), kr_id, period)

    def frozen_scopes(self, wanted: Iterable[tuple[str, Period]]) -> dict[str, FrozenScope]:
        """The scopes kept of these key results, each in its period (one query)."""
        with self._connect() as conn:
            return read_scopes(conn, self._ns(conn), wanted)

    def value_points(
        self,
        kr_id: str,
        *,
        max_points: int,
        also: Callable[[float, float], None] | None = None,
    ) -> tuple[list[tuple[datetime, float]], int]:
        """(points, how many values there are): every (observed_at, value) when there are
        at most `max_points`, else their shape in at most `max_points` (`keep_shape`), and
        then `also(seconds since 1970, value)` sees every value as it streams past. Only the
        two columns are read: never the values' lineage."""
        with self._connect() as conn:
            has_value = (
                kr_values.c.key_result_id == kr_id,
                kr_values.c.namespace == self._ns(conn),
                kr_values.c.cycle == self._kr_cycle(conn, kr_id),
                kr_values.c.value.is_not(None),
            )
            first, last, total = conn.execute(
                select(
                    func.min(kr_values.c.observed_at),
                    func.max(kr_values.c.observed_at),
                    func.count(),
                ).where(*has_value)
            ).one()
            if total <= max_points:
                rows = conn.execute(
                    select(kr_values.c.observed_at, kr_values.c.value)
                    .where(*has_value)
                    .order_by(kr_values.c.observed_at, kr_values.c.id)
                )
                return [(_utc(when), float(value)) for when, value in rows], total
            # Seconds since the epoch, not datetimes: parsing one per value was most of the time.
            stream = conn.execution_options(yield_per=5000).execute(
                select(EpochSeconds(kr_values.c.observed_at), kr_values.c.value)
                .where(*has_value)
                .order_by(kr_values.c.observed_at, kr_values.c.id)
            )
            values = (row for chunk in stream.partitions() for row in chunk)
            kept = keep_shape(
                values if also is None else _passed_to(also, values),
                _utc(first).timestamp(),
                _utc(last).timestamp(),
                buckets=max(1, max_points // 4),
            )
        return [(datetime.fromtimestamp(at, UTC), value) for at, value in kept], total

    def recent_history(
        self, kr_id: str, *, limit: int | None, notes_only: bool = False
    ) -> tuple[list[HistoryPoint], int]:
        """(the newest `limit` history rows, oldest first, how many there are in all); all of
        them when `limit` is None. Without lineage: a view shows when, value, status, origin
        and note."""
        with self._connect() as conn:
            where = [
                kr_values.c.key_result_id == kr_id,
                kr_values.c.namespace == self._ns(conn),
                kr_values.c.cycle == self._kr_cycle(conn, kr_id),
            ]
            if notes_only:
                where.append(kr_values.c.note.is_not(None))
            total = conn.execute(
                select(func.count()).select_from(kr_values).where(*where)
            ).scalar_one()
            query = (
                select(
                    kr_values.c.observed_at,
                    kr_values.c.value,
                    kr_values.c.status,
                    kr_values.c.origin,
                    kr_values.c.note,
                )
                .where(*where)
                .order_by(kr_values.c.observed_at.desc(), kr_values.c.id.desc())
            )
            if limit is not None:
                query = query.limit(limit)
            rows = conn.execute(query).all()
        return [
            HistoryPoint(_utc(row.observed_at), row.value, row.status, row.origin, row.note)
            for row in reversed(rows)
        ], total

    def fetched_lineage(self, kr_id: str) -> Lineage | None:
        """The lineage of the newest value fetched from a tracker (a sync or a backfill): a
        check-in replaces the key result's lineage, and this one names the queries."""
        with self._connect() as conn:
            lineage = conn.execute(
                select(kr_values.c.lineage)
                .where(
                    kr_values.c.key_result_id == kr_id,
                    kr_values.c.namespace == self._ns(conn),
                    kr_values.c.cycle == self._kr_cycle(conn, kr_id),
                    kr_values.c.origin.in_(("sync", "backfill")),
                    kr_values.c.lineage.is_not(None),
                )
                .order_by(kr_values.c.observed_at.desc(), kr_values.c.id.desc())
                .limit(1)
            ).scalar()
        return Lineage.from_json(lineage)

    def value_at(self, kr_id: str, moment: datetime | None) -> float | None:
        """The value in force at `moment` (the newest one when None): the last observed by
        then; None if none was."""
        query = select(kr_values.c.value).where(
            kr_values.c.key_result_id == kr_id, kr_values.c.value.is_not(None)
        )
        if moment is not None:
            query = query.where(kr_values.c.observed_at <= moment)
        with self._connect() as conn:
            query = query.where(
                kr_values.c.namespace == self._ns(conn),
                kr_values.c.cycle == self._kr_cycle(conn, kr_id),
            )
            return conn.execute(
                query.order_by(kr_values.c.observed_at.desc(), kr_values.c.id.desc()).limit(1)
            ).scalar()

    def first_value(self, kr_id: str) -> float | None:
        with self._connect() as conn:
            return conn.execute(
                select(kr_values.c.value)
                .where(
                    kr_values.c.key_result_id == kr_id,
                    kr_values.c.namespace == self._ns(conn),
                    kr_values.c.cycle == self._kr_cycle(conn, kr_id),
                    kr_values.c.value.is_not(None),
                )
                .order_by(kr_values.c.observed_at, kr_values.c.id)
                .limit(1)
            ).scalar()

    def history(self, kr_id: str) -> list[ValueRow]:
        """Every history row with its lineage: for checks of what was written; views read
        `value_points` and `recent_history`, which stay bounded on a long history."""
        with self._connect() as conn:
            rows = (
                conn.execute(
                    select(kr_values)
                    .where(
                        kr_values.c.key_result_id == kr_id,
                        kr_values.c.namespace == self._ns(conn),
                        kr_values.c.cycle == self._kr_cycle(conn, kr_id),
                    )
                    .order_by(kr_values.c.observed_at, kr_values.c.id)
                )
                .mappings()
                .all()
            )
        return [
            ValueRow(**{**row, "observed_at": _utc(row["observed_at"]), "lineage": _lineage(row)})
            for row in rows
        ]

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


def _passed_to(
    also: Callable[[float, float], None], rows: Iterable[Sequence[float]]
) -> Iterator[Sequence[float]]:
    for row in rows:
        also(row[0], row[1])
        yield row


def _utc_row(row: RowMapping) -> dict[str, Any]:
    return {k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _lineage(row: RowMapping) -> Lineage | None:
    return Lineage.from_json(row["lineage"])


def _key_result_row(row: RowMapping) -> KeyResultRow:
    return KeyResultRow(**{**_utc_row(row), "lineage": _lineage(row)})
