"""One run's incremental sync: the tracker connectors wrapped in `CachedSource`s (see
`sync.incremental`), what changed asked before the fetches, how each answer was obtained,
and the cache written back in the run's transactions.

A run of many mapping files (`sync.file_runs`) shares one `RunCache`: its fetch units are
planned over every file's plan, so units one plan of them all would merge are fetched once;
the cache is loaded once and each tracker asked once what changed. Each file's run sees it
through its own `IncrementalSync` (its requests, its units, its transaction). A file's
transaction writes the cache entries answered so far that no earlier file's transaction
wrote: each is final once answered, a later file's failure cannot undo it, and an entry is
only ever written once it was fetched or brought up to date in this run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from config.settings import IncrementalSettings
from connectors.base import Connector, ConnectorError, Selector, WorkItem
from connectors.changes import ChangeFeed, StageCost, UnitPlan, UnitPlanner
from sync.incremental import CachedSource
from sync.item_cache import (
    CachedUnit,
    DecodeTally,
    UnitWrite,
    load_units,
    prune_units,
    write_units,
)
from sync.plan import QueryPlan
from sync.store import Store

log = logging.getLogger(__name__)


def plan_units_over(plans: Sequence[QueryPlan], source: str, planner: UnitPlanner) -> UnitPlan:
    """The fetch units of one tracker's selectors in all these plans, as one plan of them
    all would have them: each selector's needs merged, a count dropped whose items some
    plan fetches (its count is theirs)."""
    items: dict[Selector, frozenset[str]] = {}
    counts: set[Selector] = set()
    for plan in plans:
        for selector, needs in plan.item_fetches.items():
            if selector.source == source:
                items[selector] = items.get(selector, frozenset()) | needs
        counts |= {s for s in plan.count_fetches if s.source == source}
    return planner(items, [s for s in counts if s not in items])


def reads_of(plan: QueryPlan) -> set[Selector]:
    return plan.item_fetches.keys() | plan.count_fetches


class RunCache:
    """The cache of one run (one file or many): units planned over every plan of the run,
    loaded once, each tracker asked once what changed; written back as units are answered."""

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
        self.run_began = run_began  # files synced one by one: when the pass began
        self.sources: dict[str, CachedSource] = {}
        self.decoded = DecodeTally()  # the cache entries this run decoded
        self._prepared = False
        self._prepare_lock = threading.Lock()
        self._committed: dict[str, UnitWrite] = {}  # unit key -> its write a transaction took
        self._in_flight: dict[str, UnitWrite] = {}  # written in the transaction under way

    def plan(
        self, plans: Sequence[QueryPlan], connectors: Mapping[str, Connector | ConnectorError]
    ) -> None:
        """Plan the units of every plan, load their cache entries and count their reads (each
        plan's selectors once)."""
        feeds = {
            source: feed
            for source, connector in connectors.items()
            if not isinstance(connector, ConnectorError)
            and (feed := connector.change_feed()) is not None
        }
        planned = {
            source: plan_units_over(plans, source, feed.plan) for source, feed in feeds.items()
        }
        keys = [key for p in planned.values() for key in p.units]
        cached = load_units(self.store, keys, self.decoded)
        reads = [selector for plan in plans for selector in reads_of(plan)]
        for source, units in planned.items():
            connector = connectors[source]
            assert not isinstance(connector, ConnectorError)
            self.sources[source] = CachedSource(
                connector,
                feeds[source],
                units,
                cached,
                self.settings,
                self.now,
                self.run_began,
                self._reload,
            )
            self.sources[source].expect(s for s in reads if s.source == source)

    def not_read(self, planned: QueryPlan, made: QueryPlan | None) -> None:
        """A plan given to `plan` whose file read only `made`'s selectors (None: the file was
        not synced): the other reads are done, so their units' items can be released."""
        skipped = reads_of(planned) - (reads_of(made) if made is not None else set())
        for name, source in self.sources.items():
            source.skip(s for s in skipped if s.source == name)

    def _reload(self, key: str) -> CachedUnit | None:
        return load_units(self.store, [key], self.decoded).get(key)

    def prepare(self, concurrency: Mapping[str, int]) -> None:
        """Ask each tracker what changed and answer the units its changes bring up to date,
        the trackers side by side, each within its own limit; once a run."""
        with self._prepare_lock:
            if self._prepared or not self.sources:
                return
            self._prepared = True
            with ThreadPoolExecutor(len(self.sources), thread_name_prefix="okrsync-cache") as pool:
                for name, source in self.sources.items():
                    pool.submit(source.answer_held, concurrency.get(name, 1))

    def write(self, conn: Connection, run_id: int) -> None:
        """Write the entries answered since the last committed write, in the caller's
        transaction (`committed` once it is)."""
        self._in_flight = {
            w.unit.key: w
            for source in self.sources.values()
            for w in source.writes()
            if self._committed.get(w.unit.key) is not w
        }
        write_units(conn, self._in_flight.values(), run_id)
        still_read = {key for source in self.sources.values() for key in source.still_read()}
        unused = self.now - timedelta(seconds=self.settings.prune_after)
        pruned = prune_units(conn, unused, keep=still_read)
        if pruned:
            log.info(
                "cache: %d entries unused for %.0f s deleted", pruned, self.settings.prune_after
            )

    def committed(self) -> None:
        """The transaction of the last `write` was committed: its entries are written."""
        self._committed |= self._in_flight
        for write in self._in_flight.values():  # a later file may still decode its items
            write.unit.written_by_this_run()
        self._in_flight = {}


class IncrementalSync:
    """One file's incremental fetching: its view of the run's cache (its own, for a run of
    one file), the requests it makes and the units it reads; then the cache written back."""

    def __init__(
        self,
        store: Store,
        settings: IncrementalSettings,
        now: datetime,
        cache: RunCache | None = None,
    ) -> None:
        self.cache = cache if cache is not None else RunCache(store, settings, now)
        self._own = cache is None
        self._plan = QueryPlan([], {}, {}, set())
        self._decoded_before = 0
        self._costs_before: dict[tuple[str, str], StageCost] = {}

    @property
    def sources(self) -> dict[str, CachedSource]:
        return self.cache.sources

    @property
    def decoded_units(self) -> int:
        """The cache entries decoded while this file was synced."""
        return self.cache.decoded.units - self._decoded_before

    def wrap(
        self, plan: QueryPlan, connectors: Mapping[str, Connector | ConnectorError]
    ) -> dict[str, Connector | ConnectorError]:
        """The connectors this file's run reads: each tracker with a change feed answered
        from the cache (the run's, planned already when shared)."""
        self._plan = plan
        if self._own:
            self.cache.plan([plan], connectors)
        self._decoded_before = self.cache.decoded.units
        self._costs_before = {
            (source, stage): StageCost(cost.requests, cost.seconds)
            for source, cached in self.sources.items()
            for stage, cost in cached.feed.costs.by_stage.items()
        }
        wrapped = dict(connectors)
        for source, cached in self.sources.items():
            if source in connectors:
                wrapped[source] = cached if self._own else FileSource(cached)
        return wrapped

    def prepare(self, concurrency: Mapping[str, int]) -> None:
        """What changed, asked by the run's first file (see `RunCache.prepare`)."""
        self.cache.prepare(concurrency)

    def unchanged_entry(self, selector: Selector) -> CachedUnit | None:
        """The cache entry a selector is answered from, when it was used as it was (nothing
        in it changed); None otherwise."""
        source = self.sources.get(selector.source)
        return source.unchanged_entry(selector) if source is not None else None

    def expect(self, fetch_plan: QueryPlan) -> None:
        """The fetches this file makes (its plan less what kept key results alone read): the
        reads it will not make are done now, so each unit's items are released once the
        last of the run's reads has read it."""
        self.cache.not_read(self._plan, fetch_plan)

    def freshness(self) -> Freshness:
        """How each selector's answer was obtained, in words for `explain`, read as the
        units are answered."""
        return Freshness(self.sources)

    def costs(self) -> dict[str, StageCost]:
        """Requests and time the change feeds spent while this file was synced, by tracker
        and stage ("jira change feed", "github membership check", ...): what keeping the
        cache exact costs."""
        found = {}
        for source, cached in self.sources.items():
            for stage, cost in sorted(cached.feed.costs.by_stage.items()):
                before = self._costs_before.get((source, stage))
                if before is None:
                    found[f"{source} {stage}"] = cost
                elif cost.requests != before.requests or cost.seconds != before.seconds:
                    found[f"{source} {stage}"] = StageCost(
                        cost.requests - before.requests, cost.seconds - before.seconds
                    )
        return found

    def modes(self) -> dict[str, int]:
        """How the units this file reads were answered: {"cached": n, "incremental": n,
        "full": n}."""
        counts = {"cached": 0, "incremental": 0, "full": 0}
        reads = reads_of(self._plan)
        for source in self.sources.values():
            keys = {key for s, key in source.plan.by_items.items() if s in reads}
            keys |= {key for s, key in source.plan.by_count.items() if s in reads}
            for key in keys:
                mode = source.mode.get(key)
                if mode is not None:
                    counts[mode] += 1
        return counts

    def write(self, conn: Connection, run_id: int) -> None:
        self.cache.write(conn, run_id)

    def committed(self) -> None:
        self.cache.committed()


class FileSource:
    """A run's `CachedSource` as one file's run sees it: its requests counted from when the
    file's run began (files are synced one by one)."""

    def __init__(self, cached: CachedSource) -> None:
        self.cached = cached
        self.source = cached.source
        self._requests_before = cached.requests_made

    @property
    def requests_made(self) -> int:
        return self.cached.requests_made - self._requests_before

    def count(self, selector: Selector) -> int:
        return self.cached.count(selector)

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        return self.cached.items(selector, needs)

    def check(self) -> str:
        return self.cached.check()

    def change_feed(self) -> ChangeFeed | None:
        return None  # already answering from the cache

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cached, name)


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
