"""The central store: SQLite by default, PostgreSQL for teams (SQLAlchemy 2 Core).

A run's results are written in one transaction, so a crash leaves the previous state and
never a half-written run. A failed fetch never overwrites the last good value.
"""

from __future__ import annotations

import logging
import os
import time as time_module
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from sync.downsample import keep_shape
from sync.tables import key_results, kr_values, objectives, sync_runs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreLock:
    """A lock of one store between processes: an advisory lock on PostgreSQL, keyed by
    database and schema so that processes sharing a store contend for it and separate stores
    do not; a file beside a SQLite store."""

    advisory_prefix: str
    file_suffix: str

    @property
    def advisory_key(self) -> str:
        """The SQL expression of the advisory lock's key."""
        return (
            f"hashtext('{self.advisory_prefix}' || current_database() || '.' || current_schema())"
        )


RUN_LOCK = StoreLock("okrsync.", ".lock")
MIGRATION_LOCK = StoreLock("okrsync-migration.", ".migration.lock")
MIGRATION_WAIT_S = 120.0  # migrations take seconds; this is for a slow one on a big store


class StoreError(Exception):
    """The store cannot be opened, migrated or written; the message is safe to show."""


class RunLockedError(StoreError):
    """Another process holds the run lock (or the migration lock) past the wait."""


@dataclass
class ObjectiveRecord:
    id: str
    title: str
    owner: str | None
    level: str | None
    parent_id: str | None
    weight: float
    progress: float | None
    status: str
    position: int = 0
    demo: bool = False  # written by the built-in `demo` (see `Store.objectives_not_from_demo`)


@dataclass
class KeyResultRecord:
    """A key result as one run leaves it; `observed` says a new value was fetched or entered."""

    id: str
    objective_id: str
    title: str
    kind: str
    unit: str | None
    metric_type: str
    source: str | None
    start_value: float | None
    target_value: float | None
    min_value: float | None
    max_value: float | None
    weight: float
    period_start: date
    period_end: date
    value: float | None
    progress_raw: float | None
    progress: float | None
    expected: float | None
    status: str
    error: str | None
    lineage: dict[str, Any] | None
    observed: bool
    position: int = 0


@dataclass
class RunRecord:
    started_at: datetime
    finished_at: datetime
    outcome: str
    key_results_total: int
    key_results_failed: int
    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    config_path: str | None = None


@dataclass(frozen=True)
class Listing:
    """Every objective and key result the mapping file lists. A write given one marks what
    else the store holds as retired (kept with its history) and clears the mark of what is
    listed again."""

    objectives: frozenset[str]
    key_results: frozenset[str]


@dataclass(frozen=True)
class StoredKeyResult:
    """What the engine needs to know of a key result before it computes a new value."""

    value: float | None
    status: str
    updated_at: datetime | None


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


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    return None if moment is None else _utc(moment)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class Store:
    def __init__(self, url: str, *, connections: int | None = None) -> None:
        """`connections` bounds the pool (no overflow): for a server whose concurrent
        requests are bounded to match; None keeps SQLAlchemy's default."""
        self.url = url
        try:
            parsed = make_url(url)
        except Exception as exc:  # SQLAlchemy raises ArgumentError for junk
            raise StoreError(f"OKRSYNC_DATABASE_URL is not a database URL: {exc}") from None
        if parsed.drivername in ("postgresql", "postgres"):  # postgres:// as Heroku spells it
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.dialect = parsed.get_backend_name()
        self.safe_url = parsed.render_as_string(hide_password=True)
        pool: dict[str, Any] = {}
        if connections is not None:
            pool = {"pool_size": connections, "max_overflow": 0}
        try:
            self.engine: Engine = create_engine(parsed, future=True, **pool)
        except (ArgumentError, ImportError) as exc:  # no such dialect, or its driver is missing
            raise StoreError(f"store {self.safe_url}: {exc}".splitlines()[0]) from None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sqlite_path = parsed.database if self.dialect == "sqlite" else None
        if self._sqlite_path not in (None, "", ":memory:"):
            create_private_file(Path(str(self._sqlite_path)))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"store {self.safe_url}: {cause}".splitlines()[0]) from None

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to the newest migration, or to `revision` (idempotent).

        Under the store's migration lock: two processes starting on a fresh store (two
        `sync --wait`, two replicas) would otherwise both create the tables, and one would
        fail. Not the run lock, which a run holds for minutes: a second replica, or `status`,
        would wait for a whole run when it only needs the migration to be done.
        """
        config = AlembicConfig()
        config.set_main_option("script_location", str(resources.files("sync") / "migrations"))
        with (
            self._exclusive(MIGRATION_LOCK, wait_s=MIGRATION_WAIT_S, holder="a migration"),
            self._connect() as conn,
        ):
            config.attributes["connection"] = conn
            self._refuse_a_newer_schema(config, conn)
            command.upgrade(config, revision)
            conn.commit()

    def _refuse_a_newer_schema(self, config: AlembicConfig, conn: Connection) -> None:
        """A store a newer release migrated has a revision this one does not know: say so,
        rather than Alembic's traceback (and never write into a schema we cannot read)."""
        current = MigrationContext.configure(conn).get_current_revision()
        scripts = ScriptDirectory.from_config(config)
        known = {script.revision for script in scripts.walk_revisions()}
        if current is not None and current not in known:
            raise StoreError(
                f"store {self.safe_url} was migrated by a newer okr-sync (schema {current}; "
                f"this one knows up to {scripts.get_current_head()}): upgrade okr-sync, or "
                "point OKRSYNC_DATABASE_URL at another store"
            )

    # --- locking -------------------------------------------------------------------------

    @contextmanager
    def run_lock(self, *, wait_s: float = 0.0) -> Iterator[None]:
        """Serialise runs: a lock file beside SQLite, an advisory lock on PostgreSQL."""
        with self._exclusive(RUN_LOCK, wait_s=wait_s, holder="another okr-sync run"):
            yield

    @contextmanager
    def _exclusive(self, lock: StoreLock, *, wait_s: float, holder: str) -> Iterator[None]:
        """Hold `lock` of this store across processes, waiting for it up to `wait_s`."""
        if self.dialect == "postgresql":
            key = lock.advisory_key
            with self._connect() as conn:
                deadline = time_module.monotonic() + wait_s
                while not conn.execute(text(f"SELECT pg_try_advisory_lock({key})")).scalar():
                    if time_module.monotonic() >= deadline:
                        raise RunLockedError(f"{holder} holds the store's lock")
                    conn.rollback()
                    time_module.sleep(0.2)
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text(f"SELECT pg_advisory_unlock({key})"))
                    conn.commit()
            return
        if self._sqlite_path in (None, "", ":memory:"):
            yield
            return
        lock_path = f"{self._sqlite_path}{lock.file_suffix}"
        file_lock = FileLock(lock_path, timeout=wait_s, mode=PRIVATE_FILE_MODE)
        try:
            file_lock.acquire()
        except FileLockTimeout:
            raise RunLockedError(f"{holder} holds {lock_path}") from None
        try:
            yield
        finally:
            file_lock.release()

    # --- reading -------------------------------------------------------------------------

    def stored_key_results(self) -> dict[str, StoredKeyResult]:
        with self._connect() as conn:
            rows = conn.execute(
                select(
                    key_results.c.id,
                    key_results.c.value,
                    key_results.c.status,
                    key_results.c.updated_at,
                )
            ).all()
        return {
            row.id: StoredKeyResult(row.value, row.status, as_utc(row.updated_at)) for row in rows
        }

    def first_value_since(self, kr_id: str, since: date) -> float | None:
        """The first value observed in a period: what `start: auto` means."""
        with self._connect() as conn:
            return conn.execute(
                select(kr_values.c.value)
                .where(
                    kr_values.c.key_result_id == kr_id,
                    kr_values.c.value.is_not(None),
                    kr_values.c.observed_at >= day_start(since),
                )
                .order_by(kr_values.c.observed_at, kr_values.c.id)
                .limit(1)
            ).scalar()

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
        has_value = (kr_values.c.key_result_id == kr_id, kr_values.c.value.is_not(None))
        with self._connect() as conn:
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
    ) -> tuple[list[dict[str, Any]], int]:
        """(the newest `limit` history rows, oldest first, how many there are in all); all of
        them when `limit` is None. Without lineage: a view shows when, value, status, origin
        and note."""
        where = [kr_values.c.key_result_id == kr_id]
        if notes_only:
            where.append(kr_values.c.note.is_not(None))
        with self._connect() as conn:
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
            rows = conn.execute(query).mappings().all()
        return [{**row, "observed_at": as_utc(row["observed_at"])} for row in reversed(rows)], total

    def fetched_lineage(self, kr_id: str) -> dict[str, Any] | None:
        """The lineage of the newest value fetched from a tracker (a sync or a backfill): a
        check-in replaces the key result's lineage, and this one names the queries."""
        with self._connect() as conn:
            lineage = conn.execute(
                select(kr_values.c.lineage)
                .where(
                    kr_values.c.key_result_id == kr_id,
                    kr_values.c.origin.in_(("sync", "backfill")),
                    kr_values.c.lineage.is_not(None),
                )
                .order_by(kr_values.c.observed_at.desc(), kr_values.c.id.desc())
                .limit(1)
            ).scalar()
        return lineage if isinstance(lineage, dict) else None

    def value_at(self, kr_id: str, moment: datetime | None) -> float | None:
        """The value in force at `moment` (the newest one when None): the last observed by
        then; None if none was."""
        query = select(kr_values.c.value).where(
            kr_values.c.key_result_id == kr_id, kr_values.c.value.is_not(None)
        )
        if moment is not None:
            query = query.where(kr_values.c.observed_at <= moment)
        with self._connect() as conn:
            return conn.execute(
                query.order_by(kr_values.c.observed_at.desc(), kr_values.c.id.desc()).limit(1)
            ).scalar()

    def first_value(self, kr_id: str) -> float | None:
        with self._connect() as conn:
            return conn.execute(
                select(kr_values.c.value)
                .where(kr_values.c.key_result_id == kr_id, kr_values.c.value.is_not(None))
                .order_by(kr_values.c.observed_at, kr_values.c.id)
                .limit(1)
            ).scalar()

    def history(self, kr_id: str) -> list[dict[str, Any]]:
        """Every history row with its lineage: for checks of what was written; views read
        `value_points` and `recent_history`, which stay bounded on a long history."""
        with self._connect() as conn:
            rows = (
                conn.execute(
                    select(kr_values)
                    .where(kr_values.c.key_result_id == kr_id)
                    .order_by(kr_values.c.observed_at, kr_values.c.id)
                )
                .mappings()
                .all()
            )
        return [{**row, "observed_at": as_utc(row["observed_at"])} for row in rows]

    def key_result(self, kr_id: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = (
                conn.execute(select(key_results).where(key_results.c.id == kr_id))
                .mappings()
                .first()
            )
        return None if row is None else _utc_row(row)

    def all_objectives(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = (
                conn.execute(select(objectives).order_by(objectives.c.position, objectives.c.id))
                .mappings()
                .all()
            )
        return [_utc_row(row) for row in rows]

    def all_key_results(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = (
                conn.execute(select(key_results).order_by(key_results.c.position, key_results.c.id))
                .mappings()
                .all()
            )
        return [_utc_row(row) for row in rows]

    def previous_values(self) -> dict[str, float | None]:
        """Each key result's value before its latest one, for the change arrows of `status`.
        The database ranks each key result's values, so only one row each comes back."""
        newest_first = (
            func.row_number()
            .over(
                partition_by=kr_values.c.key_result_id,
                order_by=(kr_values.c.observed_at.desc(), kr_values.c.id.desc()),
            )
            .label("newest_first")
        )
        ranked = (
            select(kr_values.c.key_result_id, kr_values.c.value, newest_first)
            .where(kr_values.c.value.is_not(None))
            .subquery()
        )
        with self._connect() as conn:
            rows = conn.execute(
                select(ranked.c.key_result_id, ranked.c.value).where(ranked.c.newest_first == 2)
            ).all()
        return {kr_id: value for kr_id, value in rows}

    def objectives_not_from_demo(self) -> list[str]:
        """Objectives, retired or not, that the built-in demo did not write."""
        with self._connect() as conn:
            return list(
                conn.execute(
                    select(objectives.c.id)
                    .where(objectives.c.demo.is_(False))
                    .order_by(objectives.c.position, objectives.c.id)
                ).scalars()
            )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = (
                conn.execute(select(sync_runs).order_by(sync_runs.c.id.desc()).limit(limit))
                .mappings()
                .all()
            )
        return [_utc_row(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Row counts per table: lets tests prove that a refused command wrote nothing."""
        with self._connect() as conn:
            return {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (objectives, key_results, kr_values, sync_runs)
            }

    # --- writing -------------------------------------------------------------------------

    def write_run(
        self,
        run: RunRecord,
        objective_records: Sequence[ObjectiveRecord],
        key_result_records: Sequence[KeyResultRecord],
        also: Callable[[Connection, int], None] | None = None,
        *,
        listing: Listing | None = None,
    ) -> int:
        """Write one run's results in a single transaction; return the run's id.

        `also(conn, run_id)` writes more in the same transaction (the incremental-sync cache).
        With a `listing`, what it does not list is marked retired in the same transaction.
        """
        with self._connect() as conn, conn.begin():
            inserted = conn.execute(
                insert(sync_runs).values(
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    outcome=run.outcome,
                    key_results_total=run.key_results_total,
                    key_results_failed=run.key_results_failed,
                    requests=run.requests,
                    errors=run.errors,
                    config_path=run.config_path,
                )
            ).inserted_primary_key
            assert inserted is not None
            run_id = int(inserted[0])
            self._write_results(
                conn,
                objective_records,
                key_result_records,
                run.finished_at,
                run_id=run_id,
                origin="sync",
                note=None,
                listing=listing,
            )
            if also is not None:
                also(conn, run_id)
        return int(run_id)

    def write_checkin(
        self,
        objective_records: Sequence[ObjectiveRecord],
        record: KeyResultRecord,
        *,
        at: datetime,
        origin: str,
        note: str | None,
        listing: Listing | None = None,
    ) -> None:
        """A person's value or note: history row plus the key result's current state."""
        with self._connect() as conn, conn.begin():
            self._write_results(
                conn,
                objective_records,
                [record],
                at,
                run_id=None,
                origin=origin,
                note=note,
                listing=listing,
            )

    def _write_results(
        self,
        conn: Connection,
        objective_records: Sequence[ObjectiveRecord],
        key_result_records: Sequence[KeyResultRecord],
        at: datetime,
        *,
        run_id: int | None,
        origin: str,
        note: str | None,
        listing: Listing | None,
    ) -> None:
        existing_objectives = set(conn.execute(select(objectives.c.id)).scalars())
        objective_rows = [
            {
                "id": obj.id,
                "title": obj.title,
                "owner": obj.owner,
                "level": obj.level,
                "parent_id": obj.parent_id,
                "weight": obj.weight,
                "position": obj.position,
                "progress": obj.progress,
                "status": obj.status,
                "updated_at": at,
                "retired_at": None,
                "demo": obj.demo,
            }
            for obj in objective_records
        ]
        _upsert(conn, objectives, existing_objectives, objective_rows)

        existing = {
            row.id: row.value for row in conn.execute(select(key_results.c.id, key_results.c.value))
        }
        kr_rows: list[dict[str, Any]] = []
        history_rows: list[dict[str, Any]] = []
        for kr in key_result_records:
            values: dict[str, Any] = {
                "id": kr.id,
                "objective_id": kr.objective_id,
                "title": kr.title,
                "kind": kr.kind,
                "unit": kr.unit,
                "metric_type": kr.metric_type,
                "source": kr.source,
                "start_value": kr.start_value,
                "target_value": kr.target_value,
                "min_value": kr.min_value,
                "max_value": kr.max_value,
                "weight": kr.weight,
                "position": kr.position,
                "period_start": day_start(kr.period_start),
                "period_end": day_start(kr.period_end),
                "progress_raw": kr.progress_raw,
                "progress": kr.progress,
                "expected": kr.expected,
                "status": kr.status,
                "last_error": kr.error,
                "lineage": kr.lineage,
                "checked_at": at,
                "last_run_id": run_id,
                "retired_at": None,
            }
            if kr.observed:
                values["value"] = kr.value
                values["updated_at"] = at
            kr_rows.append(values)
            changed = kr.observed and (kr.id not in existing or existing[kr.id] != kr.value)
            if changed or origin != "sync":
                history_rows.append(
                    {
                        "key_result_id": kr.id,
                        "run_id": run_id,
                        "observed_at": at,
                        "value": kr.value if kr.observed else None,
                        "progress_raw": kr.progress_raw,
                        "status": kr.status,
                        "origin": origin,
                        "note": note,
                        "lineage": kr.lineage,
                    }
                )
        _upsert(conn, key_results, set(existing), kr_rows)
        if history_rows:
            conn.execute(insert(kr_values), history_rows)
        if listing is not None:
            _mark_retired(conn, objectives, listing.objectives, at)
            _mark_retired(conn, key_results, listing.key_results, at)


def _mark_retired(conn: Connection, table: Table, listed: frozenset[str], at: datetime) -> None:
    """Retire the rows of `table` not `listed` (at `at`, once) and restore listed ones."""
    rows = conn.execute(select(table.c.id, table.c.retired_at)).all()
    retire = [row.id for row in rows if row.id not in listed and row.retired_at is None]
    restore = [row.id for row in rows if row.id in listed and row.retired_at is not None]
    for ids, retired_at in ((retire, at), (restore, None)):
        if ids:
            conn.execute(
                update(table).where(table.c.id == bindparam("row_id")),
                [{"row_id": row_id, "retired_at": retired_at} for row_id in ids],
            )
    if retire:
        log.info("retiring %s no longer in the mapping file: %s", table.name, ", ".join(retire))


def _upsert(conn: Connection, table: Table, existing: set[str], rows: list[dict[str, Any]]) -> None:
    """Insert new rows and update existing ones (by `id`), one executemany per shape of row.

    One statement per row made SQLAlchemy build and key a new statement for each of a few
    hundred key results; rows of one shape share one statement.
    """
    groups: dict[tuple[bool, tuple[str, ...]], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["id"] in existing, tuple(row)), []).append(row)
    for (update_existing, _), group in groups.items():
        if not update_existing:
            conn.execute(insert(table), group)
            continue
        renamed = [
            {"row_id": row["id"], **{k: v for k, v in row.items() if k != "id"}} for row in group
        ]
        conn.execute(update(table).where(table.c.id == bindparam("row_id")), renamed)


def _passed_to(
    also: Callable[[float, float], None], rows: Iterable[Sequence[float]]
) -> Iterator[Sequence[float]]:
    for row in rows:
        also(row[0], row[1])
        yield row


def _utc_row(row: Any) -> dict[str, Any]:
    return {k: as_utc(v) if isinstance(v, datetime) else v for k, v in dict(row).items()}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (status, dashboard) go on while a run writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


PRIVATE_FILE_MODE = 0o600


def create_private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only, whatever the umask: it holds every
    objective, note and query. SQLite gives its -wal and -shm files the same mode. A file
    that exists is left as it is; a missing folder is left for SQLite to report."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except OSError:  # it exists, or SQLite will say why it cannot be opened
        return
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)  # the umask may have taken bits away
    finally:
        os.close(descriptor)


def open_existing(url: str) -> Store | None:
    """The store if it already exists and has a schema, without creating anything."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and (
        parsed.database in (None, "", ":memory:") or not Path(str(parsed.database)).exists()
    ):
        return None
    store = Store(url)
    try:
        store.stored_key_results()
    except StoreError:
        store.close()
        return None
    return store


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store; None for PostgreSQL or an in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(str(parsed.database))
    return None


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file so that a fresh `sqlite:///data/x.db` just works."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
