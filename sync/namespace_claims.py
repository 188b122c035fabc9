"""How daemon replicas on one PostgreSQL store share the namespaces, with no coordinator.

Each pass visits the namespaces in an order of its own (shuffled per pass, so replicas that
come due together start on different namespaces), tries each namespace's run lock without
waiting, and leaves one that a peer holds: the peer is syncing it. A namespace left so is
looked at again every `retry_after` seconds until this replica gets its lock: if the peer
finished, the slot check after the lock skips it; if the peer died, its session's advisory
lock died with it, and this replica syncs the namespace, well within one interval.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from config.cadence import Cadence

RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0

T = TypeVar("T")


def retry_after(cadences: Sequence[Cadence]) -> float:
    """A quarter of the shortest interval, within 1 s and 60 s: often enough that a dead
    peer's namespace is taken over within one interval, rarely enough to cost nothing."""
    shortest = min(c.interval_s for c in cadences)
    return max(RETRY_MIN_S, min(RETRY_MAX_S, shortest / 4))


@dataclass
class LeftNamespace:
    """A namespace a peer held when it came due: its due cadences, and when to look again."""

    cadences: list[Cadence]
    retry_at: float  # time.monotonic()


@dataclass
class NamespaceClaims:
    """The namespaces this replica left to peers, and the order of its passes."""

    rng: random.Random = field(default_factory=random.Random)
    left: dict[str, LeftNamespace] = field(default_factory=dict)

    def order(self, items: Sequence[T]) -> list[T]:
        """`items` (one per namespace) in this pass's order."""
        shuffled = list(items)
        self.rng.shuffle(shuffled)
        return shuffled

    def leave(self, namespace: str, cadences: Sequence[Cadence]) -> float:
        """A peer holds `namespace`: look again later; the seconds until then."""
        wait_s = retry_after(cadences)
        earlier = self.left.get(namespace)
        merged = list(earlier.cadences) if earlier else []
        merged += [c for c in cadences if c not in merged]
        self.left[namespace] = LeftNamespace(merged, time.monotonic() + wait_s)
        return wait_s

    def taken(self, namespace: str) -> None:
        """This replica got the namespace's lock (or it left the files): nothing to look at."""
        self.left.pop(namespace, None)

    def due(self) -> dict[str, list[Cadence]]:
        """The left namespaces whose time to look again has come, with their cadences."""
        now = time.monotonic()
        return {ns: entry.cadences for ns, entry in self.left.items() if entry.retry_at <= now}
