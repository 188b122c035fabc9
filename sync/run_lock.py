"""Locks of one store between processes: the run lock, which serialises the runs of one
namespace, and the migration lock, which serialises migrations. An advisory lock on
PostgreSQL, keyed by namespace, so that teams' runs go on side by side; a lock file beside a
SQLite store for all its namespaces (SQLite has one writer at a time anyway); nothing for an
in-memory store, which no other process can open."""

from __future__ import annotations

import time as time_module
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from sqlalchemy import Connection, text

from sync.store_errors import RunLockedError


@dataclass(frozen=True)
class StoreLock:
    """A lock of one store between processes: an advisory lock on PostgreSQL, keyed by
    database and schema so that processes sharing a store contend for it and separate stores
    do not; a file beside a SQLite store."""

    advisory_prefix: str
    file_suffix: str
    namespace: str | None = None  # the run lock's; a namespace is a slug (no quote in it)

    def of(self, namespace: str) -> StoreLock:
        """This lock for one namespace (on PostgreSQL; SQLite's file stays the store's)."""
        return StoreLock(self.advisory_prefix, self.file_suffix, namespace)

    @property
    def advisory_key(self) -> str:
        """The SQL expression of the advisory lock's key."""
        held = f"|| '/{self.namespace}'" if self.namespace is not None else ""
        return (
            f"hashtext('{self.advisory_prefix}' || current_database() || '.' || current_schema()"
            f" {held})"
        )


RUN_LOCK = StoreLock("okrsync.", ".lock")
MIGRATION_LOCK = StoreLock("okrsync-migration.", ".migration.lock")
MIGRATION_WAIT_S = 120.0  # migrations take seconds; this is for a slow one on a big store

PRIVATE_FILE_MODE = 0o600  # the store's files, its lock files included


@contextmanager
def exclusive(
    lock: StoreLock,
    *,
    dialect: str,
    connect: Callable[[], AbstractContextManager[Connection]],
    sqlite_path: str | None,
    wait_s: float,
    holder: str,
) -> Iterator[None]:
    """Hold `lock` of a store across processes, waiting for it up to `wait_s`."""
    if dialect == "postgresql":
        key = lock.advisory_key
        with connect() as conn:
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
    if sqlite_path in (None, "", ":memory:"):
        yield
        return
    lock_path = f"{sqlite_path}{lock.file_suffix}"
    file_lock = FileLock(lock_path, timeout=wait_s, mode=PRIVATE_FILE_MODE)
    try:
        file_lock.acquire()
    except FileLockTimeout:
        raise RunLockedError(f"{holder} holds {lock_path}") from None
    try:
        yield
    finally:
        file_lock.release()


CACHE_LOCK = StoreLock("okrsync-cache.", "")


def hold_cache_lock(conn: Connection) -> None:
    """Serialise writes of the incremental cache, which every namespace shares, until the
    caller's transaction ends: on PostgreSQL runs of different namespaces write at once, and
    two of them inserting the same entry would make the second one's run fail on the key.
    SQLite writes one transaction at a time anyway."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SELECT pg_advisory_xact_lock({CACHE_LOCK.advisory_key})"))
