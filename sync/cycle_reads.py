"""Which cycle the store's reads look at: the one asked for (`in_cycle`), else the current
one (`current_cycle`), and the key results a cycle's view shows from cycles of their own.

`StoreReads` inherits this; every read of a key result by id goes through `_kr_cycle`.
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

from sync.cycles import CycleScope
from sync.tables import key_results, objectives


class CycleReads(ABC):
    """The cycle a store's reads look at; `_connect` is the store's connection."""

    _scope: CycleScope = CycleScope()

    @abstractmethod
    def _connect(self) -> AbstractContextManager[Connection]: ...

    def in_cycle(self, scope: CycleScope | str | None) -> Self:
        """These reads in one cycle (a cycle key, or a run's `CycleScope`); the same store
        underneath, for writing too. A cycle key is looked at once, here: the key results
        its view shows from cycles of their own are read now, not again at every read."""
        if isinstance(scope, str):
            with self._connect() as conn:
                scope = CycleScope(scope, self._borrowed(conn, scope))
        scoped = copy.copy(self)
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
        newest = select(func.max(key_results.c.last_run_id)).scalar_subquery()
        written = conn.execute(
            select(key_results.c.cycle).where(key_results.c.last_run_id == newest)
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
        held = set(conn.execute(select(objectives.c.cycle).distinct()).scalars())
        held |= set(conn.execute(select(key_results.c.cycle).distinct()).scalars())
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
        listed = {
            row.id: as_utc(row.updated_at)
            for row in conn.execute(
                select(objectives.c.id, objectives.c.updated_at).where(objectives.c.cycle == cycle)
            )
        }
        own = set(
            conn.execute(select(key_results.c.id).where(key_results.c.cycle == cycle)).scalars()
        )
        rows = conn.execute(
            select(
                key_results.c.cycle,
                key_results.c.id,
                key_results.c.objective_id,
                key_results.c.checked_at,
            )
            .where(
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
