"""Every namespace of the store with its last run and what failed, as typed data: the status
view, `status --json` and the dashboard's namespaces page list the organization from here, so
they say the same thing. Also the one spelling of a key result named across namespaces."""

from __future__ import annotations

from dataclasses import dataclass

from sync.records import RunRow
from sync.store import Store


def qualified(namespace: str, kr_id: str) -> str:
    """A key result as it is named where several namespaces are shown: `platform/lead-time`."""
    return f"{namespace}/{kr_id}"


@dataclass(frozen=True)
class NamespaceStanding:
    """One namespace: its last run (None before any), and the key results of its current
    cycle whose last fetch failed (their ids, in file order)."""

    name: str
    current: bool  # the one views show unless told: the newest sync's
    last_run: RunRow | None
    failing: list[str]

    @property
    def errors(self) -> int:
        """How many error messages its last run recorded, over every source."""
        return 0 if self.last_run is None else sum(map(len, self.last_run.errors.values()))


def namespace_standings(store: Store) -> list[NamespaceStanding]:
    """Every namespace the store holds, in name order (the order `status`, the dashboard and
    `status --json` list them in: stable, whichever team synced last)."""
    current = store.current_namespace()
    standings = []
    for name in store.namespaces():
        scoped = store.in_namespace(name)
        runs = scoped.runs(limit=1)
        failing = [
            kr.id
            for kr in scoped.all_key_results()
            if kr.last_error is not None and kr.retired_at is None
        ]
        standings.append(
            NamespaceStanding(name, name == current, runs[0] if runs else None, failing)
        )
    return standings
