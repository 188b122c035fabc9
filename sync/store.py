"""The central store: SQLite by default, PostgreSQL for teams (SQLAlchemy 2 Core).

A run's results are written in one transaction, so a crash leaves the previous state and
never a half-written run. A failed fetch never overwrites the last good value. The reads are
in `sync.store_reads`, the rows a run writes in `sync.store_writes`, the locks in
`sync.run_lock`, the records both use in `sync.records`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    insert,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from config.periods import Period
from sync.backfill_rows import write_points
from sync.cycles import cycle_key, quarter_of
from sync.namespace_rows import count_rows, delete_rows
from sync.records import (
    BackfillPoint,
    BackfillWrite,
    FrozenScope,
    KeyResultRecord,
    Listing,
    ObjectiveRecord,
    RunRecord,
)
from sync.run_lock import (
    MIGRATION_LOCK,
    MIGRATION_WAIT_S,
    PRIVATE_FILE_MODE,
    RUN_LOCK,
    StoreLock,
    exclusive,
)
from sync.scope_rows import write_scope
from sync.store_errors import StoreError
from sync.store_reads import StoreReads
from sync.store_writes import update_objective_progress, write_results
from sync.tables import sync_runs
from sync.value_reads import day_start

log = logging.getLogger(__name__)


class Store(StoreReads):
    """One store: migrate, read (`StoreReads`), write a run or a check-in, lock."""

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

    @contextmanager
    def run_lock(self, *, wait_s: float = 0.0) -> Iterator[None]:
        """Serialise the runs of this namespace: an advisory lock per namespace on
        PostgreSQL, a lock file beside SQLite (one for the store: SQLite writes one at a
        time)."""
        namespace = self.namespace
        if self.dialect == "postgresql":
            holder = f"another okr-sync run of namespace {namespace}"
        else:  # the holder may be syncing any namespace of the store
            holder = "another okr-sync run (of any namespace: SQLite has one writer)"
        with self._exclusive(RUN_LOCK.of(namespace), wait_s=wait_s, holder=holder):
            yield

    @contextmanager
    def run_locks(self, namespaces: Iterable[str], *, wait_s: float = 0.0) -> Iterator[None]:
        """Hold the run locks of several namespaces (a sync of many files): taken in name
        order, so that two runs of overlapping namespaces never wait for each other in a
        circle; SQLite's one lock of the store is taken once."""
        wanted = sorted(set(namespaces))
        if self.dialect != "postgresql":
            wanted = wanted[:1]
        with ExitStack() as held:
            for namespace in wanted:
                held.enter_context(self.in_namespace(namespace).run_lock(wait_s=wait_s))
            yield

    def _exclusive(
        self, lock: StoreLock, *, wait_s: float, holder: str
    ) -> AbstractContextManager[None]:
        """Hold `lock` of this store across processes, waiting for it up to `wait_s`."""
        return exclusive(
            lock,
            dialect=self.dialect,
            connect=self._connect,
            sqlite_path=self._sqlite_path,
            wait_s=wait_s,
            holder=holder,
        )

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
                    namespace=self._ns(conn),
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
            write_results(
                conn,
                self._ns(conn),
                objective_records,
                key_result_records,
                run.finished_at,
                fallback_cycle=self._fallback_cycle(conn, run.finished_at),
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
            write_results(
                conn,
                self._ns(conn),
                objective_records,
                [record],
                at,
                fallback_cycle=self._fallback_cycle(conn, at),
                run_id=None,
                origin=origin,
                note=note,
                listing=listing,
            )

    def write_objective_progress(
        self, progress: Mapping[tuple[str, str], tuple[float | None, str]], *, at: datetime
    ) -> set[tuple[str, str]]:
        """This namespace's objectives rolled up again after a check-in below them, by
        (cycle, id), in one transaction: no run, no key result touched. The (cycle, id) of
        the rows updated (a row the store does not hold waits for a sync)."""
        with self._connect() as conn, conn.begin():
            return update_objective_progress(conn, self._ns(conn), progress, at)

    def write_backfill(
        self, kr_id: str, period: Period, points: Sequence[BackfillPoint]
    ) -> BackfillWrite:
        """A batch of one key result's backfilled values in one transaction, so an interrupted
        backfill keeps the batches written (`sync.backfill_rows`: never over another origin's
        value, never twice)."""
        first, last = day_start(period.start), day_start(period.end + timedelta(days=1))
        outside = [p.observed_at for p in points if not first <= p.observed_at < last]
        if outside:
            raise StoreError(f"{kr_id}: backfill point {outside[0]} is outside {period.label}")
        with self._connect() as conn, conn.begin():
            cycle = cycle_key(period.start, period.end)
            return write_points(conn, self._ns(conn), cycle, kr_id, points)

    def write_frozen_scope(self, kr_id: str, period: Period, scope: FrozenScope) -> None:
        """Keep a set's items at its period's start (a run writes its own in its transaction)."""
        with self._connect() as conn, conn.begin():
            namespace = self._ns(conn)
            write_scope(
                conn, namespace, kr_id, period, scope.taken_at, scope.definition, scope.items
            )

    def _fallback_cycle(self, conn: Connection, at: datetime) -> Callable[[], str]:
        """The cycle of objectives written without key results: the store's current one,
        else the quarter of `at`."""
        return lambda: self._current_cycle(conn) or quarter_of(at)

    def prune_namespace(self, namespace: str) -> dict[str, int]:
        """Remove every row of `namespace` in one transaction (`sync.namespace_rows`); the
        rows removed, per table."""
        with self._connect() as conn, conn.begin():
            return delete_rows(conn, namespace)

    def namespace_rows(self, namespace: str) -> dict[str, int]:
        """How many rows of each table `namespace` holds: what `prune` would remove."""
        with self._connect() as conn:
            return count_rows(conn, namespace)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (status, dashboard) go on while a run writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


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
