"""Incremental sync: serve a run's fetches from the store's cache plus what changed since.

Each tracker connector that offers a change feed (`connectors.changes`) is wrapped in a
`CachedSource`, which `run_fetches` drives like any connector. The feed turns the plan's
selectors into fetch units (a JQL, a search, a repository listing shared by several
selectors); this module keeps their cached answers and knows nothing of any tracker.

The first call on a source asks the feed once what changed since the cache was last brought
up to date (less a safety margin). Then each unit is answered: a cached answer that stands
is reused as it is; one the feed can bring up to date gets its `UnitDelta` (members that
left, items written again); anything else is fetched in full: nothing cached yet, cached
under other settings (`item_shape`), a query the feed calls fragile, a full refresh due
(`full_refresh_every`, the safety net for anything missed), or a feed that could not tell.
A unit whose fetch fails keeps its previous cache entry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection

from config.settings import IncrementalSettings
from connectors.base import Connector, ConnectorError, Selector, WorkItem
from connectors.changes import (
    ChangeFeed,
    ChangeSet,
    FetchUnit,
    HeldAnswer,
    StageCost,
    UnitDelta,
    UnitPlan,
    UnitPlanner,
)
from sync.item_cache import CachedUnit, UnitWrite, load_units, prune_units, write_units
from sync.plan import QueryPlan
from sync.store import Store

log = logging.getLogger(__name__)


class CachedSource:
    """A connector that answers from the cache plus the changes since (see the module doc)."""

    def __init__(
        self,
        inner: Connector,
        feed: ChangeFeed,
        units: UnitPlan,
        cached: Mapping[str, CachedUnit],
        settings: IncrementalSettings,
        now: datetime,
    ) -> None:
        self.inner = inner
        self.source = inner.source
        self.feed = feed
        self._units = units
        self._cached = dict(cached)
        self._settings = settings
        self._now = now
        self._probe_lock = threading.Lock()
        self._changes: ChangeSet | None = None  # decided by the first answer's probe
        # Cached answers the changes cannot bring up to date, and why (set by the probe).
        self._unfit: dict[str, str] = {}
        self._fresh: dict[str, CachedUnit] = {}  # unit key -> this run's answer
        self._writes: dict[str, UnitWrite] = {}
        self._unit_locks: dict[str, threading.Lock] = {key: threading.Lock() for key in units.units}
        self.mode: dict[str, str] = {}  # unit key -> "cached" | "incremental" | "full" (reports)
        self.why_full: dict[str, str] = {}  # unit key -> why it was fetched in full

    @property
    def plan(self) -> UnitPlan:
        return self._units

    # -- Connector protocol

    @property
    def requests_made(self) -> int:
        return self.inner.requests_made

    def check(self) -> str:
        return self.inner.check()

    def change_feed(self) -> ChangeFeed | None:
        return None  # already answering from the cache

    def count(self, selector: Selector) -> int:
        key = self._units.by_count.get(selector)
        if key is None:
            return self.inner.count(selector)
        return self.feed.count_from(selector, self._units.units[key], self._answer(key))

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        key = self._units.by_items.get(selector)
        if key is None:
            return self.inner.items(selector, needs)
        found = self.feed.items_from(selector, self._units.units[key], self._answer(key))
        return sorted(found, key=lambda item: item.key)

    # -- what the run writes back

    def writes(self) -> list[UnitWrite]:
        return list(self._writes.values())

    # -- answering one unit

    def _answer(self, key: str) -> CachedUnit:
        changes = self._probe()
        with self._unit_locks[key]:
            done = self._fresh.get(key)
            if done is not None:
                return done
            unit = self._units.units[key]
            cached = self._cached.get(key)
            delta: UnitDelta | None = None
            if cached is not None and key in changes.stands:
                answer = self._restamp(cached, unit)
                self._writes[key] = UnitWrite(answer, replace_all=False)
                self.mode[key] = "cached"
            elif (
                cached is not None
                and key not in self._unfit
                and (delta := changes.delta(unit, cached)) is not None
            ):
                answer = self._apply(unit, cached, delta)
                self.mode[key] = "incremental"
            else:
                self.why_full[key] = self._full_reason(unit, cached, changes)
                answer = self._full(unit)
                self.mode[key] = "full"
            self._fresh[key] = answer
            return answer

    def _full_reason(self, unit: FetchUnit, cached: CachedUnit | None, changes: ChangeSet) -> str:
        """Why a unit is fetched in full, in words for `explain` and the log."""
        if cached is None:
            return "nothing cached yet"
        why = self._unfit.get(unit.key) or changes.reason(unit)
        log.info("%s: %s fetched in full: %s", self.source, unit.description, why)
        return why

    def _unusable(self, unit: FetchUnit, cached: CachedUnit) -> str | None:
        """Why the changes since cannot bring this cached answer up to date; None: they can."""
        if not unit.covers(cached):
            return "the cache lacks fields or history this query now needs"
        if cached.shape is None or not self.feed.item_shape(unit.needs) <= cached.shape:
            return "cached under other settings (site or story-points field)"
        if self._now - cached.full_at >= timedelta(seconds=self._settings.full_refresh_every):
            return "a full refresh was due"
        return self.feed.fragile(unit, cached)

    def _restamp(self, cached: CachedUnit, unit: FetchUnit) -> CachedUnit:
        cached.synced_at = self._now
        cached.description = unit.description
        return cached

    def _full(self, unit: FetchUnit) -> CachedUnit:
        fetched = self.feed.fetch(unit)
        entry = CachedUnit(
            key=unit.key,
            source=unit.source,
            description=unit.description,
            needs=unit.needs,
            horizon=unit.horizon,
            count=fetched.count,
            shape=self.feed.item_shape(unit.needs),
            synced_at=self._now,
            full_at=self._now,
            items=fetched.items,
            members=fetched.members,
        )
        self._writes[unit.key] = UnitWrite(entry, replace_all=True)
        return entry

    def _apply(self, unit: FetchUnit, cached: CachedUnit, delta: UnitDelta) -> CachedUnit:
        """Members and items that left go, then what changed is written again."""
        removed = delta.removed_ids & cached.members.keys()
        for tracker_id in removed:
            key = cached.members.pop(tracker_id)
            if key is not None:
                cached.items.pop(key, None)
        left = (delta.removed_keys & cached.items.keys()) - delta.items.keys()
        for key in left:
            del cached.items[key]
        cached.members.update(delta.members)
        cached.items.update(delta.items)
        member_keys = {key for key in delta.members.values() if key is not None}
        self._writes[unit.key] = UnitWrite(
            self._restamp(cached, unit),
            replace_all=False,
            upserts=set(delta.items) - member_keys,
            upserted_ids=set(delta.members),
            removed_ids=removed - delta.members.keys(),
            removed_keys=left,
        )
        return cached

    # -- the probe: what changed since the cache was last brought up to date

    def _probe(self) -> ChangeSet:
        with self._probe_lock:
            if self._changes is None:
                self._changes = self._ask_changes()
            return self._changes

    def _ask_changes(self) -> ChangeSet:
        held: dict[str, tuple[FetchUnit, HeldAnswer]] = {}
        for key, unit in self._units.units.items():
            cached = self._cached.get(key)
            if cached is None:
                continue
            why = self._unusable(unit, cached)
            if why is None:
                held[key] = (unit, cached)
            else:
                self._unfit[key] = why
        if not held:
            return ChangeSet()
        oldest = min(self._cached[key].synced_at for key in held)
        since = oldest - timedelta(seconds=self._settings.margin_s)
        try:
            return self.feed.changes(held, since, self._now)
        except ConnectorError as exc:
            log.warning("%s: cannot tell what changed (%s); fetching in full", self.source, exc)
            return ChangeSet(why=f"the tracker could not say what changed ({exc})")


def plan_units(plan: QueryPlan, source: str, planner: UnitPlanner) -> UnitPlan:
    """The fetch units of one tracker's selectors in the plan, as its feed groups them."""
    return planner(
        {s: needs for s, needs in plan.item_fetches.items() if s.source == source},
        [s for s in plan.count_fetches if s.source == source],
    )


class IncrementalSync:
    """One run's incremental fetching: wraps the connectors, then writes the cache back."""

    def __init__(self, store: Store, settings: IncrementalSettings, now: datetime) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self.sources: dict[str, CachedSource] = {}

    def wrap(
        self, plan: QueryPlan, connectors: Mapping[str, Connector | ConnectorError]
    ) -> dict[str, Connector | ConnectorError]:
        feeds = {
            source: feed
            for source, connector in connectors.items()
            if not isinstance(connector, ConnectorError)
            and (feed := connector.change_feed()) is not None
        }
        planned = {source: plan_units(plan, source, feed.plan) for source, feed in feeds.items()}
        cached = load_units(self.store, [key for p in planned.values() for key in p.units])
        wrapped = dict(connectors)
        for source, units in planned.items():
            connector = connectors[source]
            assert not isinstance(connector, ConnectorError)
            self.sources[source] = CachedSource(
                connector, feeds[source], units, cached, self.settings, self.now
            )
            wrapped[source] = self.sources[source]
        return wrapped

    def freshness(self) -> dict[Selector, str]:
        """How each selector's answer was obtained, in words for `explain`."""
        found: dict[Selector, str] = {}
        for source in self.sources.values():
            for selectors in (source.plan.by_items, source.plan.by_count):
                for selector, key in selectors.items():
                    mode = source.mode.get(key)
                    if mode == "cached":
                        found[selector] = "from the cache: nothing it holds changed"
                    elif mode == "incremental":
                        found[selector] = "from the cache, with the changes since the last run"
                    elif mode == "full":
                        why = source.why_full.get(key, "")
                        found[selector] = f"fetched in full: {why}" if why else "fetched in full"
        return found

    def costs(self) -> dict[str, StageCost]:
        """Requests and time the change feeds spent, by tracker and stage ("jira change feed",
        "github membership check", ...): what keeping the cache exact costs."""
        return {
            f"{source} {stage}": cost
            for source, cached in self.sources.items()
            for stage, cost in sorted(cached.feed.costs.by_stage.items())
        }

    def modes(self) -> dict[str, int]:
        """How the units were answered: {"cached": n, "incremental": n, "full": n}."""
        counts = {"cached": 0, "incremental": 0, "full": 0}
        for source in self.sources.values():
            for mode in source.mode.values():
                counts[mode] += 1
        return counts

    def write(self, conn: Connection, run_id: int) -> None:
        writes = [w for source in self.sources.values() for w in source.writes()]
        write_units(conn, writes, run_id)
        pruned = prune_units(conn, self.now - timedelta(seconds=self.settings.prune_after))
        if pruned:
            log.info(
                "cache: %d entries unused for %.0f s deleted", pruned, self.settings.prune_after
            )
