"""What a selector matched in the past, rebuilt from the tracker's own records (backfill).

Jira keeps every issue's changelog; GitHub keeps every item's created, closed and merged
times and its events. A connector that can replay them answers `history`: for each selector,
a `SelectorHistory` that gives the items the selector matched at any moment since `since`,
each as it was at that moment, so the engine computes a past value with the same metric
code as a sync. A selector whose past cannot be rebuilt exactly (a JQL function, a relative
date, a field without a changelog, a filter GitHub keeps no history of) gets `Unrebuildable`
with the reason, never a guess.

Selectors are asked together so a connector can fetch what they share once (one search of
everything updated since `since`, one listing per repository).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from connectors.base import Selector, WorkItem


class Unrebuildable(Exception):
    """A selector whose past answers the tracker's records cannot give exactly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SelectorHistory(Protocol):
    """One selector's answers over time."""

    def items_at(self, moment: datetime) -> list[WorkItem]:
        """The items the selector matched at `moment` (UTC), each with its fields as then."""
        ...


@runtime_checkable
class HistoryReader(Protocol):
    """A connector that can rebuild its selectors' past answers."""

    def history(
        self, selectors: Sequence[Selector], since: datetime, needs: frozenset[str]
    ) -> dict[Selector, SelectorHistory | Unrebuildable]: ...
