"""The central store: SQLite by default, PostgreSQL for teams (SQLAlchemy 2 Core).

A run's results are written in one transaction, so a crash leaves the previous state and
never a half-written run. A failed fetch never overwrites the last good value.
"""

from __future__ import annotations

import logging
import time as time_module
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from sqlalchemy import (
    Connection,
    Engine,
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

from sync.tables import key_results, kr_values, objectives, sync_runs

log = logging.getLogger(__name__)

# The PostgreSQL advisory lock that serialises runs is keyed by database and schema, so
# that replicas sharing one store contend for it and separate stores do not.
ADVISORY_LOCK_KEY = "hashtext('okrsync.' || current_database() || '.' || current_schema())"


class StoreError(Exception):
    """The store cannot be opened, migrated or written; the message is safe to show."""


class RunLockedError(StoreError):
    """Another run holds the lock."""


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
class StoredKeyResult:
    """What the engine needs to know of a key result before it computes a new value."""

    value: float | None
    status: str
    updated_at: datetime | None


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except Exception as exc:  # SQLAlchemy raises ArgumentError for junk
            raise StoreError(f"OKRSYNC_DATABASE_URL is not a database URL: {exc}") from None
        if parsed.drivername in ("postgresql", "postgres"):  # postgres:// as Heroku spells it
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.dialect = parsed.get_backend_name()
        self.safe_url = parsed.render_as_string(hide_password=True)
        try:
            self.engine: Engine = create_engine(parsed, future=True)
        except (ArgumentError, ImportError) as exc:  # no such dialect, or its driver is missing
            raise StoreError(f"store {self.safe_url}: {exc}".splitlines()[0]) from None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sqlite_path = parsed.database if self.dialect == "sqlite" else None

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
        """Bring the schema to the newest migration, or to `revision` (idempotent)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(resources.files("sync") / "migrations"))
        with self._connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            conn.commit()

    # --- locking -------------------------------------------------------------------------

    @contextmanager
    def run_lock(self, *, wait_s: float = 0.0) -> Iterator[None]:
        """Serialise runs: a lock file beside SQLite, an advisory lock on PostgreSQL."""
        if self.dialect == "postgresql":
            with self._connect() as conn:
                deadline = datetime.now(UTC).timestamp() + wait_s
                while not conn.execute(
                    text(f"SELECT pg_try_advisory_lock({ADVISORY_LOCK_KEY})")
                ).scalar():
                    if datetime.now(UTC).timestamp() >= deadline:
                        raise RunLockedError("another okr-sync run holds the store's lock")
                    conn.rollback()
                    time_module.sleep(0.2)
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text(f"SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})"))
                    conn.commit()
            return
        if self._sqlite_path in (None, "", ":memory:"):
            yield
            return
        lock_path = f"{self._sqlite_path}.lock"
        lock = FileLock(lock_path, timeout=wait_s)
        try:
            lock.acquire()
        except FileLockTimeout:
            raise RunLockedError(f"another okr-sync run holds {lock_path}") from None
        try:
            yield
        finally:
            lock.release()

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

    def history(self, kr_id: str) -> list[dict[str, Any]]:
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
        """Each key result's value before its latest one, for the change arrows of `status`."""
        with self._connect() as conn:
            rows = conn.execute(
                select(kr_values.c.key_result_id, kr_values.c.value)
                .where(kr_values.c.value.is_not(None))
                .order_by(
                    kr_values.c.key_result_id, kr_values.c.observed_at.desc(), kr_values.c.id.desc()
                )
            ).all()
        seen: dict[str, int] = {}
        previous: dict[str, float | None] = {}
        for kr_id, value in rows:
            seen[kr_id] = seen.get(kr_id, 0) + 1
            if seen[kr_id] == 2:
                previous[kr_id] = value
        return previous

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
    ) -> int:
        """Write one run's results in a single transaction; return the run's id.

        `also(conn, run_id)` writes more in the same transaction (the incremental-sync cache).
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
    ) -> None:
        """A person's value or note: history row plus the key result's current state."""
        with self._connect() as conn, conn.begin():
            self._write_results(
                conn, objective_records, [record], at, run_id=None, origin=origin, note=note
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


def _utc_row(row: Any) -> dict[str, Any]:
    return {k: as_utc(v) if isinstance(v, datetime) else v for k, v in dict(row).items()}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (status, dashboard) go on while a run writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


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
