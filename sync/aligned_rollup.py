"""After a check-in (or note) in one namespace, the objectives aligned above it in other
namespaces (`parent: company/grow`, transitively: team -> department -> company) rolled up
again from the store, so the organization's tree never shows a parent's number that no
longer matches its children until the parent's next sync.

Only the namespaces whose files were given are rolled up; a parent in another namespace is
named as following at its next sync. Nothing is fetched: each parent's own key results count
as stored, its aligned children as the store now holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from config.mapping import MappingFile
from config.settings import Settings
from sync.engine import thresholds_of
from sync.file_cycles import cycle_scope, objective_cycles
from sync.objective_rollup import objective_progress
from sync.store import Store


@dataclass(frozen=True)
class ObjectiveAbove:
    """An objective of another namespace that a check-in's objective aligns to."""

    namespace: str
    objective_id: str

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.objective_id}"


@dataclass(frozen=True)
class ChainAbove:
    """What a check-in's objective rolls up into across namespaces.

    `levels`: by hops across namespaces (1: the check-in's parents in other namespaces, 2:
    theirs, ...), each namespace given whose objectives on the chain are at that hop, so a
    namespace is rolled up after those it reads from. `objectives`: the chain's objectives
    of each such namespace. `not_given`: parents in namespaces whose files were not given.
    """

    levels: list[list[str]] = field(default_factory=list)
    objectives: dict[str, set[str]] = field(default_factory=dict)
    not_given: list[ObjectiveAbove] = field(default_factory=list)

    @property
    def namespaces(self) -> list[str]:
        return sorted(self.objectives)


@dataclass(frozen=True)
class RolledAbove:
    """What rolling up above a check-in did: the objectives written, and those whose roll-up
    follows at their namespace's next sync: their file was not given, or the store holds no
    listed row of them yet (never synced)."""

    written: list[ObjectiveAbove]
    not_given: list[ObjectiveAbove]
    not_stored: list[ObjectiveAbove]


def chain_above(mappings: Sequence[MappingFile], namespace: str, objective_id: str) -> ChainAbove:
    """The objectives above `namespace/objective_id` in other namespaces: its own parents in
    its file first, then each one aligned to another namespace's, and so on up."""
    by_namespace = {mapping.namespace: mapping for mapping in mappings}
    hops: dict[ObjectiveAbove, int] = {}
    not_given: dict[ObjectiveAbove, None] = {}
    waiting = [(ObjectiveAbove(namespace, objective_id), 0)]
    most = sum(len(mapping.objectives) for mapping in mappings)  # no chain is longer
    while waiting:
        start, hop = waiting.pop()
        if hop > most:  # an alignment cycle: the files' own check refuses them first
            continue
        for above in _local_chain(by_namespace[start.namespace], start.objective_id):
            if hops.get(above, -1) >= hop:
                continue
            hops[above] = hop
            mapping = by_namespace[above.namespace]
            objective = next(o for o in mapping.objectives if o.id == above.objective_id)
            external = mapping.external_parent(objective)
            if external is None:
                continue
            parent = ObjectiveAbove(*external)
            if parent.namespace in by_namespace:
                waiting.append((parent, hop + 1))
            else:
                not_given[parent] = None
    chain = ChainAbove(not_given=list(not_given))
    levels: dict[int, set[str]] = {}
    for above, hop in hops.items():
        if hop == 0:
            continue  # the check-in's own namespace: the check-in wrote it
        levels.setdefault(hop, set()).add(above.namespace)
        chain.objectives.setdefault(above.namespace, set()).add(above.objective_id)
    chain.levels.extend(sorted(levels[hop]) for hop in sorted(levels))
    return chain


def _local_chain(mapping: MappingFile, objective_id: str) -> list[ObjectiveAbove]:
    """The objective and its parents within its own file, up to the top (or to the one
    aligned to another namespace)."""
    parents = {o.id: o.parent for o in mapping.objectives if mapping.external_parent(o) is None}
    chain: list[ObjectiveAbove] = []
    current: str | None = objective_id
    while current is not None and len(chain) <= len(mapping.objectives):
        chain.append(ObjectiveAbove(mapping.namespace, current))
        current = parents.get(current)
    return chain


def roll_up_above(
    settings: Settings,
    mappings: Sequence[MappingFile],
    store: Store,
    chain: ChainAbove,
    as_of: datetime,
) -> RolledAbove:
    """Roll each namespace of `chain` up again from the store, level by level, and write
    its chain objectives' progress and status. The caller holds the namespaces' run locks."""
    by_namespace = {mapping.namespace: mapping for mapping in mappings}
    written: dict[ObjectiveAbove, None] = {}
    missing: dict[ObjectiveAbove, None] = {}
    for level in chain.levels:
        for namespace in level:
            mapping = by_namespace[namespace]
            scoped = store.in_namespace(namespace).in_cycle(cycle_scope(mapping))
            rolled = objective_progress(
                mapping, scoped, {}, as_of, thresholds_of(mapping, settings)
            )
            wanted = {
                (cycle, objective.id): rolled[objective.id]
                for objective in mapping.objectives
                if objective.id in chain.objectives[namespace]
                for cycle in objective_cycles(mapping, objective)
            }
            updated = scoped.write_objective_progress(wanted, at=as_of)
            for cycle, objective_id in wanted:
                above = ObjectiveAbove(namespace, objective_id)
                if (cycle, objective_id) in updated:
                    written[above] = None
                else:
                    missing[above] = None
    not_stored = [above for above in missing if above not in written]
    return RolledAbove(list(written), chain.not_given, not_stored)
