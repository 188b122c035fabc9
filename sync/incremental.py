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
A unit whose fetch fails keeps its previous cache entry. A cached answer that holds no items
and is fetched in full whatever changed (a count asked every run) is handed to the feed with
the probe, which fetches it in the room its own first requests leave (`ChangeSet.fetched`).

Before the fetches, `IncrementalSync.prepare` (`sync.incremental_run`) answers every unit
the changes can bring up to date, so the engine knows which answers are unchanged (the feed
says they stand, or what it found changes nothing in them) and can keep the values computed
from them (`sync.kept_values`). A cached answer's items are decoded only when an answer is
computed from them (`sync.item_cache`): an unchanged unit whose key results keep their
values is never decoded. Once the last of the run's selectors reading a unit has read it,
its cache rows are encoded for the run's write and its items dropped (`expect`, `_seal`).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from config.settings import IncrementalSettings
from connectors.base import Connector, ConnectorError, Selector, WorkItem
from connectors.changes import (
    ChangeFeed,
    ChangeSet,
    FetchUnit,
    HeldAnswer,
    UnitAnswer,
    UnitDelta,
    UnitPlan,
)
from sync.item_cache import (
    CachedUnit,
    UnitWrite,
    UnreadableEntry,
)
from sync.unit_delta import apply_delta, changes_nothing

log = logging.getLogger(__name__)

T = TypeVar("T")


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
        run_began: datetime | None = None,
        reload: Callable[[str], CachedUnit | None] | None = None,
    ) -> None:
        self.inner = inner
        # A pass over many files, each with its own cache (the daemon's): entries written
        # since it began were fetched or brought up to date for an earlier file; they stand.
        self._run_began = run_began
        # With `run_began`: a unit's entry read again before it is fetched in full, as another
        # process (a shard, a replica) may have fetched it since the run began.
        self._reload = reload
        self.source = inner.source
        self.feed = feed
        self._units = units
        self._cached = dict(cached)
        self._settings = settings
        self._now = now
        self._probe_lock = threading.Lock()
        self._width = 1  # requests the probe may send at a time (`answer_held` says)
        self._changes: ChangeSet | None = None  # decided by the first answer's probe
        # Cached answers the changes cannot bring up to date, and why (set by the probe).
        self._unfit: dict[str, str] = {}
        self._fresh: dict[str, CachedUnit] = {}  # unit key -> this run's answer
        self._writes: dict[str, UnitWrite] = {}
        self._unit_locks: dict[str, threading.Lock] = {key: threading.Lock() for key in units.units}
        self._failed: dict[str, Exception] = {}  # unit key -> why answering it failed
        self.mode: dict[str, str] = {}  # unit key -> "cached" | "incremental" | "full" (reports)
        self.why_full: dict[str, str] = {}  # unit key -> why it was fetched in full
        self.unchanged: set[str] = set()  # unit keys answered by their cache entry as it was
        self._readers: dict[str, int] = {}  # unit key -> the run's selectors yet to read it
        self._readers_lock = threading.Lock()

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
        if key is None and selector in self._units.by_items:
            # A run of many files: another file fetches its items, so the count is theirs,
            # as a plan of one file counts the items it fetches anyway (`plan_queries`).
            return len(self.items(selector, frozenset()))
        if key is None:
            return self.inner.count(selector)
        unit = self._units.units[key]
        return self._read(key, lambda answer: self.feed.count_from(selector, unit, answer))

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        key = self._units.by_items.get(selector)
        if key is None:
            return self.inner.items(selector, needs)
        unit = self._units.units[key]
        found = self._read(key, lambda answer: self.feed.items_from(selector, unit, answer))
        return sorted(found, key=lambda item: item.key)

    def _read(self, key: str, read: Callable[[CachedUnit], T]) -> T:
        """`read` of the unit's answer; a cache entry found unreadable is fetched in full."""
        try:
            answer = self._answer(key)
            try:
                return read(answer)
            except UnreadableEntry as exc:
                return read(self._refetch(key, answer, str(exc)))
        finally:
            self._read_done(key)

    # -- releasing an answer after its last reader

    def expect(self, selectors: Iterable[Selector]) -> None:
        """The reads this run will make (a selector once for each file that reads it): each
        unit's items are released after the last of them (see `_seal`); an answer none of
        them reads is sealed now."""
        keys = [self._key_of(s) for s in selectors]
        with self._readers_lock:
            self._readers = dict(Counter(key for key in keys if key is not None))
        for key in self._units.units.keys() - self._readers.keys():
            self._seal(key)

    def skip(self, selectors: Iterable[Selector]) -> None:
        """Reads `expect` counted that will not be made (a kept key result's selectors)."""
        for selector in selectors:
            key = self._key_of(selector)
            if key is not None:
                self._read_done(key)

    def still_read(self) -> set[str]:
        """The units some read is still expected of: their cache entries must stay."""
        with self._readers_lock:
            return {key for key, left in self._readers.items() if left > 0}

    def _key_of(self, selector: Selector) -> str | None:
        return self._units.by_count.get(selector) or self._units.by_items.get(selector)

    def _read_done(self, key: str) -> None:
        with self._readers_lock:
            left = self._readers.get(key, 0) - 1
            self._readers[key] = left
        if left == 0:
            self._seal(key)

    def _seal(self, key: str) -> None:
        """Encode the unit's cache rows and drop its decoded items: no selector reads it now."""
        with self._unit_locks[key]:
            write = self._writes.get(key)
            if write is not None:
                write.encode()
            for entry in (self._fresh.get(key), self._cached.get(key)):
                if entry is not None:
                    entry.release_items()

    def _refetch(self, key: str, unreadable: CachedUnit, why: str) -> CachedUnit:
        with self._unit_locks[key]:
            if self._fresh.get(key) is unreadable:  # not fetched again by another thread yet
                self.why_full[key] = why
                self._fresh[key] = self._full(self._units.units[key])
                self.mode[key] = "full"
                self.unchanged.discard(key)
            return self._fresh[key]

    # -- before the fetches: which answers are unchanged

    def answer_held(self, width: int) -> None:
        """Answer every unit whose cache entry the changes can bring up to date, `width` at
        a time; the others (nothing cached, unfit) wait for the fetches."""
        self._width = max(1, width)
        try:
            self._probe()
        except Exception:  # the fetches ask again, and each selector reports the failure
            log.exception("%s: asking what changed failed", self.source)
            return
        held = [key for key in self._units.units if key in self._cached and key not in self._unfit]
        with ThreadPoolExecutor(max(1, width), thread_name_prefix=f"okrsync-{self.source}") as pool:
            futures = {key: pool.submit(self._answer, key) for key in held}
        for key, future in futures.items():
            failure = future.exception()
            if isinstance(failure, Exception):
                self._failed[key] = failure  # raised again to each selector that reads it
        if self._changes is not None:  # every held answer has had its delta
            self._changes.settled()

    def unchanged_entry(self, selector: Selector) -> CachedUnit | None:
        """The cache entry a selector is answered from, when it was used as it was."""
        key = self._units.by_items.get(selector) or self._units.by_count.get(selector)
        if key is None or key not in self.unchanged:
            return None
        return self._cached.get(key)

    # -- what the run writes back

    def writes(self) -> list[UnitWrite]:
        return list(self._writes.values())

    # -- answering one unit

    def _answer(self, key: str) -> CachedUnit:
        failed = self._failed.get(key)
        if failed is not None:
            raise failed
        changes = self._probe()
        with self._unit_locks[key]:
            done = self._fresh.get(key)
            if done is not None:
                return done
            unit = self._units.units[key]
            cached = self._cached.get(key)
            delta: UnitDelta | None = None
            answer: CachedUnit | None = None
            try:
                if cached is not None and key in changes.stands:
                    answer = self._as_it_was(unit, cached)
                elif (
                    cached is not None
                    and key not in self._unfit
                    and (delta := changes.delta(unit, cached)) is not None
                ):
                    if changes_nothing(cached, delta):
                        answer = self._as_it_was(unit, cached)
                    else:
                        answer = self._apply(unit, cached, delta)
                        self.mode[key] = "incremental"
            except UnreadableEntry as exc:
                self._unfit[key] = str(exc)
            if answer is None and key not in changes.fetched:
                answer = self._written_since_began(unit)
            if answer is None:
                self.why_full[key] = self._full_reason(unit, cached, changes)
                answer = self._full(unit, changes.fetched.pop(key, None))
                self.mode[key] = "full"
            self._fresh[key] = answer
            return answer

    def _as_it_was(self, unit: FetchUnit, cached: CachedUnit) -> CachedUnit:
        """The cache entry as it is (restamped): nothing in it changed."""
        answer = self._restamp(cached, unit)
        self._writes[unit.key] = UnitWrite(answer, replace_all=False)
        self.mode[unit.key] = "cached"
        self.unchanged.add(unit.key)
        return answer

    def _written_since_began(self, unit: FetchUnit) -> CachedUnit | None:
        """The unit's entry as another process of the run wrote it since the run began (so
        it reflects every change before then, as a fetch now would), used as it is."""
        began = self._run_began
        if self._reload is None or began is None:
            return None
        entry = self._reload(unit.key)
        if entry is None or entry.synced_at < began or self._unusable(unit, entry) is not None:
            return None
        self._cached[unit.key] = entry
        return self._as_it_was(unit, entry)

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

    def _full(self, unit: FetchUnit, fetched: UnitAnswer | None = None) -> CachedUnit:
        """The unit fetched in full (or as fetched already, beside the checks); it reflects
        every change before its fetch began."""
        began = self._now if fetched is not None else max(self._now, datetime.now(UTC))
        fetched = fetched or self.feed.fetch(unit)
        entry = CachedUnit(
            key=unit.key,
            source=unit.source,
            description=unit.description,
            needs=unit.needs,
            horizon=unit.horizon,
            count=fetched.count,
            shape=self.feed.item_shape(unit.needs),
            synced_at=began,
            full_at=self._now,
            loaded_items=fetched.items,
            members=fetched.members,
        )
        self._writes[unit.key] = UnitWrite(entry, replace_all=True)
        return entry

    def _apply(self, unit: FetchUnit, cached: CachedUnit, delta: UnitDelta) -> CachedUnit:
        """Members and items that left go, then what changed is written again."""
        self._writes[unit.key] = apply_delta(cached, delta)
        self._restamp(cached, unit)
        return cached

    # -- the probe: what changed since the cache was last brought up to date

    def _probe(self) -> ChangeSet:
        with self._probe_lock:
            if self._changes is None:
                self._changes = self._ask_changes()
            return self._changes

    def _ask_changes(self) -> ChangeSet:
        held: dict[str, tuple[FetchUnit, HeldAnswer]] = {}
        alongside: dict[str, FetchUnit] = {}  # fetched in full anyway, holding no items
        for key, unit in self._units.units.items():
            cached = self._cached.get(key)
            if cached is None:
                continue
            why = self._unusable(unit, cached)
            if why is None:
                held[key] = (unit, cached)
            else:
                self._unfit[key] = why
                if cached.count is not None:
                    alongside[key] = unit
        began = self._run_began
        this_run = {
            key for key in held if began is not None and self._cached[key].synced_at >= began
        }
        for key in this_run:
            del held[key]
        changes = self._changes_since(held, alongside)
        changes.stands |= this_run
        return changes

    def _changes_since(
        self, held: dict[str, tuple[FetchUnit, HeldAnswer]], alongside: dict[str, FetchUnit]
    ) -> ChangeSet:
        if not held:
            return ChangeSet()
        oldest = min(self._cached[key].synced_at for key in held)
        since = oldest - timedelta(seconds=self._settings.margin_s)
        while True:
            try:
                if not held:
                    return ChangeSet()
                return self.feed.changes(held, since, self._now, self._width, alongside)
            except ConnectorError as exc:
                log.warning("%s: cannot tell what changed (%s); fetching in full", self.source, exc)
                return ChangeSet(why=f"the tracker could not say what changed ({exc})")
            except UnreadableEntry as exc:  # the feed read a damaged entry: asked without it
                self._unfit[exc.unit_key] = str(exc)
                held.pop(exc.unit_key, None)
