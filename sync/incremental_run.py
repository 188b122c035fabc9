"""One run's incremental sync: the tracker connectors wrapped in `CachedSource`s (see
`sync.incremental`), what changed asked before the fetches, how each answer was obtained,
and the cache written back in the run's transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import Connection

from config.settings import IncrementalSettings
from connectors.base import Connector, ConnectorError, Selector
from connectors.changes import StageCost, UnitPlan, UnitPlanner
from sync.incremental import CachedSource
from sync.item_cache import CachedUnit, DecodeTally, load_units, prune_units, write_units
from sync.plan import QueryPlan
from sync.store import Store

log = logging.getLogger(__name__)


def plan_units(plan: QueryPlan, source: str, planner: UnitPlanner) -> UnitPlan:
    """The fetch units of one tracker's selectors in the plan, as its feed groups them."""
    return planner(
        {s: needs for s, needs in plan.item_fetches.items() if s.source == source},
        [s for s in plan.count_fetches if s.source == source],
    )


class IncrementalSync:
    """One run's incremental fetching: wraps the connectors, then writes the cache back."""

    def __init__(
        self,
        store: Store,
        settings: IncrementalSettings,
        now: datetime,
        run_began: datetime | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self.run_began = run_began  # a run of many files: when it began (`CachedSource`)
        self.sources: dict[str, CachedSource] = {}
        self.decoded = DecodeTally()  # the cache entries this run decoded

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
        keys = [key for p in planned.values() for key in p.units]
        cached = load_units(self.store, keys, self.decoded)
        wrapped = dict(connectors)
        for source, units in planned.items():
            connector = connectors[source]
            assert not isinstance(connector, ConnectorError)
            self.sources[source] = CachedSource(
                connector, feeds[source], units, cached, self.settings, self.now, self.run_began
            )
            wrapped[source] = self.sources[source]
        return wrapped

    def prepare(self, concurrency: Mapping[str, int]) -> None:
        """Ask each tracker what changed and answer the units its changes bring up to date,
        the trackers side by side, each within its own limit."""
        if not self.sources:
            return
        with ThreadPoolExecutor(len(self.sources), thread_name_prefix="okrsync-cache") as pool:
            for name, source in self.sources.items():
                pool.submit(source.answer_held, concurrency.get(name, 1))

    def unchanged_entry(self, selector: Selector) -> CachedUnit | None:
        """The cache entry a selector is answered from, when it was used as it was (nothing
        in it changed); None otherwise."""
        source = self.sources.get(selector.source)
        return source.unchanged_entry(selector) if source is not None else None

    def expect(self, plan: QueryPlan) -> None:
        """The fetches the run makes (the plan less what kept key results alone read): each
        unit's items are released once the last of them has read it."""
        for source in self.sources.values():
            source.expect(plan.item_fetches, plan.count_fetches)

    def freshness(self) -> Freshness:
        """How each selector's answer was obtained, in words for `explain`, read as the
        units are answered."""
        return Freshness(self.sources)

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


class Freshness(Mapping[Selector, str]):
    """How each selector's answer was obtained ("from the cache", "fetched in full: why"),
    a live view of the sources: a selector is in it once its unit is answered."""

    def __init__(self, sources: Mapping[str, CachedSource]) -> None:
        self._sources = sources

    def __getitem__(self, selector: Selector) -> str:
        source = self._sources.get(selector.source)
        if source is None:
            raise KeyError(selector)
        key = source.plan.by_count.get(selector) or source.plan.by_items.get(selector)
        mode = source.mode.get(key) if key is not None else None
        if key is None or mode is None:
            raise KeyError(selector)
        if mode == "cached":
            return "from the cache: nothing it holds changed"
        if mode == "incremental":
            return "from the cache, with the changes since the last run"
        why = source.why_full.get(key, "")
        return f"fetched in full: {why}" if why else "fetched in full"

    def __iter__(self) -> Iterator[Selector]:
        for source in self._sources.values():
            for selector in source.plan.by_items.keys() | source.plan.by_count.keys():
                if selector in self:
                    yield selector

    def __len__(self) -> int:
        return sum(1 for _ in self)
