"""Which namespace and cycle the store's reads look at: the namespace asked for
(`in_namespace`), else the current one (`current_namespace`); the cycle asked for
(`in_cycle`), else the current one (`current_cycle`); and the key results a cycle's view
shows from cycles of their own.

`StoreReads` inherits this; every read filters by `_ns` and every read of a key result by
id goes through `_kr_cycle`. Writes go to `_ns` too: a run scopes its store to its file's
namespace before anything else.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import Connection, func, select

from config.value_types import DEFAULT_NAMESPACE
from sync.cycles import CycleScope
from sync.tables import key_results, objectives, sync_runs


class CycleReads(ABC):
    """The namespace and cycle a store's reads look at; `_connect` is the store's
    connection."""

    _scope: CycleScope = CycleScope()
    _namespace: str | None = None

    @abstractmethod
    def _connect(self) -> AbstractContextManager[Connection]: ...

    def in_namespace(self, namespace: str) -> Self:
        """These reads, and writes, in one namespace; the same store underneath. Scope the
        namespace before the cycle: the cycle's borrowed key results are the namespace's."""
        scoped = copy.copy(self)
        scoped._namespace = namespace
        scoped._scope = CycleScope()
        return scoped

    @property
    def namespace(self) -> str:
        """The namespace these reads look at: the one asked for, else the current one."""
        if self._namespace is not None:
            return self._namespace
        return self.current_namespace()

    def current_namespace(self) -> str:
        """The namespace a view shows unless told: the one the newest sync run wrote, else
        the first the store holds, else `default` (an empty store)."""
        with self._connect() as conn:
            return self._current_namespace(conn)

    def _current_namespace(self, conn: Connection) -> str:
        newest = conn.execute(
            select(sync_runs.c.namespace).order_by(sync_runs.c.id.desc()).limit(1)
        ).scalar()
        if newest is not None:
            return str(newest)
        held = self._namespaces(conn)
        return held[0] if held else DEFAULT_NAMESPACE

    def namespaces(self) -> list[str]:
        """Every namespace the store holds rows of, in name order."""
        with self._connect() as conn:
            return self._namespaces(conn)

    def _namespaces(self, conn: Connection) -> list[str]:
        held = set(conn.execute(select(objectives.c.namespace).distinct()).scalars())
        held |= set(conn.execute(select(sync_runs.c.namespace).distinct()).scalars())
        return sorted(held)

    def _ns(self, conn: Connection) -> str:
        return self._namespace if self._namespace is not None else self._current_namespace(conn)

    def in_cycle(self, scope: CycleScope | str | None) -> Self:
        """These reads in one cycle (a cycle key, or a run's `CycleScope`); the same store
        underneath, for writing too. A cycle key is looked at once, here: the key results
        its view shows from cycles of their own are read now, not again at every read."""
        scoped = copy.copy(self)
        if scoped._namespace is None:  # pinned: the borrowed rows below are its namespace's
            scoped._namespace = self.current_namespace()
        if isinstance(scope, str):
            with self._connect() as conn:
                scope = CycleScope(scope, scoped._borrowed(conn, scope))
        scoped._scope = scope if isinstance(scope, CycleScope) else CycleScope(scope)
        return scoped

    @property
    def cycle(self) -> str | None:
        """The cycle these reads look at: the one asked for, else the current one."""
        if self._scope.cycle is not None:
            return self._scope.cycle
        return self.current_cycle()

    def current_cycle(self) -> str | None:
        """The cycle a view shows unless told: the one the newest sync run wrote (most of
        its key results', for a file whose key results have periods of their own), else the
        latest-starting cycle in the store; None in an empty store."""
        with self._connect() as conn:
            return self._current_cycle(conn)

    def _current_cycle(self, conn: Connection) -> str | None:
        namespace = self._ns(conn)
        mine = key_results.c.namespace == namespace
        newest = select(func.max(key_results.c.last_run_id)).where(mine).scalar_subquery()
        written = conn.execute(
            select(key_results.c.cycle).where(mine, key_results.c.last_run_id == newest)
        ).scalars()
        ranked = Counter(written).most_common()
        if ranked:
            return str(max(cycle for cycle, n in ranked if n == ranked[0][1]))
        cycles = self._cycles(conn)
        return cycles[0] if cycles else None

    def cycles(self) -> list[str]:
        """Every cycle the store holds, newest first."""
        with self._connect() as conn:
            return self._cycles(conn)

    def _cycles(self, conn: Connection) -> list[str]:
        namespace = self._ns(conn)
        held = set(
            conn.execute(
                select(objectives.c.cycle).where(objectives.c.namespace == namespace).distinct()
            ).scalars()
        )
        held |= set(
            conn.execute(
                select(key_results.c.cycle).where(key_results.c.namespace == namespace).distinct()
            ).scalars()
        )
        return sorted(held, reverse=True)

    def _cycle(self, conn: Connection) -> str | None:
        return self._scope.cycle if self._scope.cycle is not None else self._current_cycle(conn)

    def _kr_cycle(self, conn: Connection, kr_id: str) -> str | None:
        return self._own_cycles(conn).get(kr_id) or self._cycle(conn)

    def _own_cycles(self, conn: Connection) -> Mapping[str, str]:
        """Key results read in a cycle other than the scope's: a run's with periods of their
        own, or those a cycle's view shows (`_borrowed`)."""
        if self._scope.cycle is not None or self._scope.key_results:
            return self._scope.key_results
        cycle = self._current_cycle(conn)
        return {} if cycle is None else self._borrowed(conn, cycle)

    def _borrowed(self, conn: Connection, cycle: str) -> dict[str, str]:
        """The key results listed under `cycle`'s objectives with a period of their own: a
        row of a cycle begun before this one, not retired, none of that id in this one,
        written with the objective's row of this cycle or since (a key result dropped from
        the file is not, nor is next quarter's shown in this one's)."""
        namespace = self._ns(conn)
        listed = {
            row.id: as_utc(row.updated_at)
            for row in conn.execute(
                select(objectives.c.id, objectives.c.updated_at).where(
                    objectives.c.namespace == namespace, objectives.c.cycle == cycle
                )
            )
        }
        own = set(
            conn.execute(
                select(key_results.c.id).where(
                    key_results.c.namespace == namespace, key_results.c.cycle == cycle
                )
            ).scalars()
        )
        rows = conn.execute(
            select(
                key_results.c.cycle,
                key_results.c.id,
                key_results.c.objective_id,
                key_results.c.checked_at,
            )
            .where(
                key_results.c.namespace == namespace,
                key_results.c.cycle < cycle,  # keys sort by first day: a cycle begun before
                key_results.c.objective_id.in_(listed),
                key_results.c.retired_at.is_(None),
            )
            .order_by(key_results.c.checked_at)
        ).all()
        return {
            row.id: row.cycle
            for row in rows
            if row.id not in own and _written_with(as_utc(row.checked_at), listed[row.objective_id])
        }

    def _in_scope(self, conn: Connection, rows: Iterable[Any]) -> list[Any]:
        """The rows (with `cycle` and `id`) of key results in this scope's cycles."""
        default = self._cycle(conn)
        own = self._own_cycles(conn)
        return [row for row in rows if row.cycle == own.get(row.id, default)]


def _written_with(checked_at: datetime | None, objective_written: datetime | None) -> bool:
    return checked_at is not None and (objective_written is None or checked_at >= objective_written)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
