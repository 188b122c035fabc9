"""The reads of a key result's history (`kr_values`), each in the key result's cycle:
`Store` inherits them through `StoreReads`. A view keeps to the bounded ones
(`value_points`, `recent_history`), which stay small on a history of hundreds of thousands
of values."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Float, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from config.periods import Period
from sync.cycle_reads import CycleReads
from sync.cycles import cycle_key
from sync.downsample import keep_shape
from sync.records import HistoryPoint, Lineage, ValueRow
from sync.tables import kr_values


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


class ValueReads(CycleReads):
    """The reads of `kr_values`, a key result's history in its cycle: bounded ones for the
    views (`value_points`, `recent_history`), whole ones for checks, single values for
    baselines and `explain`."""

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
            ValueRow(
                **{
                    **row,
                    "observed_at": _utc(row["observed_at"]),
                    "lineage": Lineage.from_json(row["lineage"]),
                }
            )
            for row in rows
        ]


def _passed_to(
    also: Callable[[float, float], None], rows: Iterable[Sequence[float]]
) -> Iterator[Sequence[float]]:
    for row in rows:
        also(row[0], row[1])
        yield row
