"""The cycles a mapping file covers: its period's, and those of key results with a period of
their own. A run reads and writes the store in them (`Store.in_cycle`) and retires only
within them, so next quarter's file never touches this quarter's rows."""

from __future__ import annotations

from config.mapping import MappingFile, Objective
from config.periods import Period
from sync.cycles import CycleScope, cycle_key
from sync.records import Listing


def cycle_scope(mapping: MappingFile) -> CycleScope:
    """The file's cycle (its period), and each key result's (its own period or the file's)."""
    return CycleScope(
        _cycle_of(mapping.period),
        {kr.id: _cycle_of(kr.period or mapping.period) for _, kr in mapping.key_results()},
    )


def _cycle_of(period: Period) -> str:
    return cycle_key(period.start, period.end)


def objective_cycles(mapping: MappingFile, objective: Objective) -> tuple[str, ...]:
    """An objective is written in the file's cycle and in those of its key results with a
    period of their own, so that each cycle shows the objective its key results hang from."""
    scope = cycle_scope(mapping)
    own = {scope.key_results[kr.id] for kr in objective.key_results}
    return tuple(sorted({str(scope.cycle), *own}))


def listing_of(mapping: MappingFile) -> Listing:
    """What the mapping file lists: the store retires everything else in the file's cycles."""
    scope = cycle_scope(mapping)
    return Listing(
        objectives=frozenset(o.id for o in mapping.objectives),
        key_results=frozenset(kr.id for _, kr in mapping.key_results()),
        cycles=frozenset({str(scope.cycle), *scope.key_results.values()}),
    )
