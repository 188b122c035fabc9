"""The change-feed capability: what a tracker connector offers incremental sync.

Incremental sync (`sync/incremental.py`) keeps cached answers and knows nothing of any
tracker. A connector that can tell what changed offers a `ChangeFeed`, which

- turns the plan's selectors into fetch units (what is fetched and cached as one answer),
- fetches a unit in full,
- says why a cached answer cannot be brought up to date (a query that depends on more than
  its items), and
- given the cached answers and the moment they were last brought up to date, says which
  still stand and, for each of the others, what changed (`UnitDelta`) or that it must be
  fetched in full.

Members are known by the tracker's stable id where the tracker has one (Jira's issue id),
so a moved item (new key) is replaced, not counted twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol, TypeVar

from connectors.base import ItemKind, Selector, WorkItem
from connectors.request_stages import StageTally, charging

log = logging.getLogger(__name__)


def unit_key(description: str) -> str:
    return hashlib.sha256(description.encode()).hexdigest()


@dataclass
class FetchUnit:
    """One distinct thing to fetch (and cache) for one or more of the plan's selectors."""

    source: str
    kind: str  # the feed's own name for what it fetches ("jira-items", "github-listing", ...)
    description: str
    selector: Selector | None = None  # query units
    repo: str | None = None  # listings of one repository
    item_kind: ItemKind | None = None
    needs: frozenset[str] = frozenset()
    horizon: datetime | None = None  # listings: oldest update they must reach
    reaches_all: bool = False  # listings: some selector needs every item (no window)

    @property
    def key(self) -> str:
        return unit_key(f"{self.kind}\n{self.description}")

    def covers(self, held: HeldAnswer) -> bool:
        """Whether a cached answer holds everything this unit now needs."""
        if not self.needs <= held.needs:
            return False
        if held.horizon is None:  # a query, or a listing that reached every item
            return True
        return not self.reaches_all and self.horizon is not None and held.horizon <= self.horizon


@dataclass
class UnitPlan:
    units: dict[str, FetchUnit] = field(default_factory=dict)  # by key
    by_items: dict[Selector, str] = field(default_factory=dict)  # selector -> unit key
    by_count: dict[Selector, str] = field(default_factory=dict)

    def add(self, unit: FetchUnit) -> str:
        """Plan `unit`, or widen the same unit planned already to its needs; its key."""
        existing = self.units.setdefault(unit.key, unit)
        existing.needs |= unit.needs
        return unit.key


UnitPlanner = Callable[[Mapping[Selector, frozenset[str]], Iterable[Selector]], UnitPlan]


class HeldAnswer(Protocol):
    """A unit's cached answer, as a change feed reads it."""

    @property
    def needs(self) -> frozenset[str]: ...

    @property
    def horizon(self) -> datetime | None: ...

    @property
    def count(self) -> int | None: ...  # a server count without members

    @property
    def items(self) -> dict[str, WorkItem]: ...  # by item key (may decode the whole answer)

    @property
    def size(self) -> int: ...  # how many items it holds, known without reading them

    @property
    def members(self) -> dict[str, str | None]: ...  # tracker id -> item key (None: id only)


@dataclass
class UnitAnswer:
    """A unit's answer fetched in full."""

    items: dict[str, WorkItem] = field(default_factory=dict)
    members: dict[str, str | None] = field(default_factory=dict)
    count: int | None = None


@dataclass
class UnitDelta:
    """What changed in one cached answer: members or items that left, then what is written
    (again)."""

    removed_ids: set[str] = field(default_factory=set)  # tracker ids taken out first
    removed_keys: set[str] = field(default_factory=set)  # item keys taken out first
    members: dict[str, str | None] = field(default_factory=dict)  # tracker id -> key
    items: dict[str, WorkItem] = field(default_factory=dict)  # by key


class ChangeSet:
    """What a feed found since the cache was last brought up to date.

    This base answers "nothing is known": every cached answer is fetched in full.
    """

    def __init__(self, stands: Iterable[str] = (), why: str | None = None) -> None:
        self.stands = set(stands)  # unit keys whose cached answer holds as it is
        self.why = why  # why the others are fetched in full, when it is one reason for all
        self.why_full: dict[str, str] = {}  # unit key -> why it is fetched in full
        # unit key -> its answer in full, fetched beside the checks (`ChangeFeed.changes`)
        self.fetched: dict[str, UnitAnswer] = {}

    def delta(self, unit: FetchUnit, held: HeldAnswer) -> UnitDelta | None:
        """The changes to apply to a unit that does not stand; None: fetch it in full."""
        return None

    def settled(self) -> None:
        """Every cached answer has had its delta: drop what was read to tell them (the
        items listed or fetched again), so the run does not hold it to the end."""

    def reason(self, unit: FetchUnit) -> str:
        """Why a unit with no delta is fetched in full, in words for `explain`."""
        return self.why_full.get(unit.key) or self.why or "the changes since could not be told"


C = TypeVar("C", bound=ChangeSet)


class FetchedAlongside:
    """Units fetched in full beside a feed's checks (`ChangeFeed.changes`): `tasks` to run
    with the checks' requests, their answers put `into` the feed's `ChangeSet`."""

    def __init__(self, feed: ChangeFeed, units: Mapping[str, FetchUnit]) -> None:
        self._feed = feed
        self._answers: dict[str, UnitAnswer] = {}
        self.tasks = [partial(self._fetch, key, unit) for key, unit in units.items()]

    def _fetch(self, key: str, unit: FetchUnit) -> None:
        try:
            self._answers[key] = self._feed.fetch(unit)
        except Exception as exc:  # the run's fetch asks again, and reports what fails
            log.info("%s: %s not fetched beside the checks: %s", unit.source, unit.description, exc)

    def into(self, changes: C) -> C:
        changes.fetched.update(self._answers)
        return changes


@dataclass
class StageCost:
    requests: int = 0
    seconds: float = 0.0


class StageCosts:
    """Requests and wall time a feed spends on each stage of its work (the change feed, the
    membership check, ...), so the benchmark and the log can tell what the cache costs.

    Stages run side by side (`connectors.request_stages`): a stage's requests are those sent
    inside it, and its wall time is the time some part of it was under way, so a stage
    entered by several threads at once is not counted twice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_stage: dict[str, StageCost] = {}
        self._under_way: dict[str, tuple[int, float]] = {}  # stage -> (entered, since)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Charge the requests sent inside, and the time, to stage `name`."""
        tally = StageTally()
        self._enter(name)
        try:
            with charging(tally):
                yield
        finally:
            self._leave(name, tally.count)

    def _enter(self, name: str) -> None:
        with self._lock:
            entered, since = self._under_way.get(name, (0, time.perf_counter()))
            self._under_way[name] = (entered + 1, since)

    def _leave(self, name: str, requests: int) -> None:
        with self._lock:
            cost = self.by_stage.setdefault(name, StageCost())
            cost.requests += requests
            entered, since = self._under_way.pop(name)
            if entered > 1:
                self._under_way[name] = (entered - 1, since)
            else:
                cost.seconds += time.perf_counter() - since


class ChangeFeed(Protocol):
    """A connector's change detection (see the module doc)."""

    costs: StageCosts

    def plan(
        self, item_fetches: Mapping[Selector, frozenset[str]], count_fetches: Iterable[Selector]
    ) -> UnitPlan:
        """Fetch units for this tracker's selectors; selectors may share a unit."""
        ...

    def item_shape(self, needs: frozenset[str]) -> frozenset[str]:
        """Markers of the settings that shape items fetched with `needs`."""
        ...

    def fragile(self, unit: FetchUnit, held: HeldAnswer) -> str | None:
        """Why the changes since cannot bring this cached answer up to date; None: they can."""
        ...

    def fetch(self, unit: FetchUnit) -> UnitAnswer:
        """The unit's answer, fetched in full."""
        ...

    def changes(
        self,
        held: Mapping[str, tuple[FetchUnit, HeldAnswer]],
        since: datetime,
        now: datetime,
        width: int,
        alongside: Mapping[str, FetchUnit],
    ) -> ChangeSet:
        """What changed since `since` in these cached answers (by unit key), sending at most
        `width` requests at a time (the tracker's concurrency limit).

        `alongside`: units fetched in full whatever changed, whose answers hold no items (a
        count asked every run); the feed fetches them in the room its own first requests
        leave, into `ChangeSet.fetched`, so the run does not wait for them after the checks.
        One that fails is left out: the run's fetch asks again and reports it."""
        ...

    def count_from(self, selector: Selector, unit: FetchUnit, held: HeldAnswer) -> int:
        """The selector's count, answered from its unit's answer."""
        ...

    def items_from(self, selector: Selector, unit: FetchUnit, held: HeldAnswer) -> list[WorkItem]:
        """The selector's items, picked from its unit's answer."""
        ...
