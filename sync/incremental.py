"""Incremental sync: serve a run's fetches from the store's cache plus what changed since.

Each tracker connector is wrapped in a `CachedSource`, which `run_fetches` drives like any
connector. Behind it the plan's selectors become fetch units:

- a Jira JQL (its items, or for a count its members' ids), a GitHub search (items or count);
- one listing per GitHub repository and kind (issues / pull requests) for all list
  selectors on it, sorted by last update and reaching back as far as the oldest window
  needs; each selector's items are picked from it locally (`filter_listed`).

The first call on a source asks once what changed since the cache was last brought up to
date (less a safety margin), then every unit is answered:

- Jira: `updated >= -Nm` gives the ids of changed issues (ids only, 5,000 a page), and one
  id listing of all cached queries OR'ed shows members deleted or no longer visible, which
  leave no `updated` trace. Nothing either way: every cached unit stands. Some: `jql/match`
  says, in one request, which of them each cached JQL matches now; members that changed
  and no longer match leave (so do members gone from the listing), those that match
  are (re)fetched by id. Members are known by issue id, never by key: an issue moved to
  another project keeps its id and gets a new key. An issue that leaves a query was updated
  to leave it, so this is exact; a JQL whose matches can change with no issue updated
  (functions, relative dates, saved filters, WAS/CHANGED: `connectors.jql`) is always
  fetched in full. Jira Server/DC has no `jql/match`: each cached query is asked for the
  changed issues it matches (`(<jql>) AND id in (...)`), and its counts, which keep no
  members, are asked again every run (one request each).
- GitHub: one search per owner, `org:<owner> updated:>=<since>`, names the repositories
  with changes. Listings of the others stand; a changed one is listed again by last update
  down to `since` and merged by key. A search is reused only when none of the repositories
  or owners it is scoped to changed, else asked again.

GitHub deletions and transfers leave no trace yet: a unit is fetched in full again once it
is older than `full_refresh_every`, the safety net for anything missed. A unit whose fetch
fails keeps its previous cache entry.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection

from config.settings import IncrementalSettings
from connectors.base import (
    OPTIONAL_FIELDS,
    Connector,
    ConnectorError,
    GitHubListSelector,
    GitHubSearchSelector,
    ItemKind,
    JiraSelector,
    Selector,
    WorkItem,
)
from connectors.github import GitHubConnector, filter_listed, listing_horizon, search_query_for
from connectors.jira import JiraConnector
from connectors.jql import dependencies
from sync.item_cache import (
    CachedUnit,
    UnitWrite,
    load_units,
    prune_units,
    unit_key,
    write_units,
)
from sync.plan import QueryPlan
from sync.store import Store

log = logging.getLogger(__name__)

UnitKind = Literal[
    "jira-items", "jira-count", "github-search-items", "github-search-count", "github-listing"
]

SERVER_PATCH_MAX_IDS = 500  # more changed issues than this: Server/DC queries fetched again
SEARCH_SCOPE = re.compile(r"(?<!-)\b(repo|org|user):(\"[^\"]+\"|\S+)")


@dataclass
class FetchUnit:
    """One distinct thing to fetch (and cache) for one or more of the plan's selectors."""

    kind: UnitKind
    description: str
    selector: Selector | None = None  # Jira and search units
    repo: str | None = None  # listings
    item_kind: ItemKind | None = None
    needs: frozenset[str] = frozenset()
    horizon: datetime | None = None  # listings: oldest update they must reach
    reaches_all: bool = False  # listings: some selector needs every item (no window)

    @property
    def key(self) -> str:
        return unit_key(f"{self.kind}\n{self.description}")

    @property
    def source(self) -> str:
        return "jira" if self.kind.startswith("jira") else "github"

    def covers(self, cached: CachedUnit) -> bool:
        """Whether a cached answer holds everything this unit now needs."""
        if not self.needs <= cached.needs:
            return False
        if self.kind != "github-listing" or cached.horizon is None:
            return True
        return not self.reaches_all and self.horizon is not None and cached.horizon <= self.horizon


@dataclass
class UnitPlan:
    units: dict[str, FetchUnit] = field(default_factory=dict)  # by key
    by_items: dict[Selector, str] = field(default_factory=dict)  # selector -> unit key
    by_count: dict[Selector, str] = field(default_factory=dict)


def plan_units(plan: QueryPlan) -> UnitPlan:
    """Turn the plan's distinct selectors into fetch units; list selectors share listings."""
    result = UnitPlan()

    def add(unit: FetchUnit) -> str:
        existing = result.units.get(unit.key)
        if existing is None:
            result.units[unit.key] = unit
        else:
            existing.needs |= unit.needs
        return unit.key

    listings: dict[tuple[str, str], FetchUnit] = {}
    for selector, needs in plan.item_fetches.items():
        if isinstance(selector, JiraSelector):
            result.by_items[selector] = add(
                FetchUnit("jira-items", selector.jql, selector=selector, needs=needs)
            )
        elif isinstance(selector, GitHubSearchSelector):
            result.by_items[selector] = add(
                FetchUnit(
                    "github-search-items",
                    selector.query,
                    selector=selector,
                    needs=needs - OPTIONAL_FIELDS,  # GitHub's answers carry them all anyway
                )
            )
        else:
            group = (selector.repo.lower(), selector.kind)
            unit = listings.get(group)
            horizon = listing_horizon(selector)
            if unit is None:
                unit = FetchUnit(
                    "github-listing",
                    f"{group[0]} {selector.kind}s",
                    repo=selector.repo,
                    item_kind=selector.kind,
                    horizon=horizon,
                    reaches_all=horizon is None,
                )
                listings[group] = unit
                result.units[unit.key] = unit
            unit.needs |= needs - OPTIONAL_FIELDS
            unit.reaches_all = unit.reaches_all or horizon is None
            if horizon is not None and (unit.horizon is None or horizon < unit.horizon):
                unit.horizon = horizon
            result.by_items[selector] = unit.key
    for selector in plan.count_fetches:
        if isinstance(selector, JiraSelector):
            result.by_count[selector] = add(
                FetchUnit("jira-count", selector.jql, selector=selector)
            )
            continue
        if isinstance(selector, GitHubListSelector):
            listing = listings.get((selector.repo.lower(), selector.kind))
            horizon = listing_horizon(selector)
            if listing is not None and (
                listing.reaches_all
                or (
                    horizon is not None
                    and listing.horizon is not None
                    and horizon >= listing.horizon
                )
            ):
                result.by_count[selector] = listing.key  # counted in a listing fetched anyway
                continue
            description = search_query_for(selector)
        else:
            description = selector.query
        result.by_count[selector] = add(
            FetchUnit("github-search-count", description, selector=selector)
        )
    for unit in result.units.values():
        if unit.kind == "github-listing" and unit.reaches_all:
            unit.horizon = None
    return result


def _search_scopes(query: str) -> tuple[set[str], set[str]] | None:
    """(repositories, owners) a search is confined to; None when it is not confined."""
    repos: set[str] = set()
    owners: set[str] = set()
    for name, value in SEARCH_SCOPE.findall(query):
        value = value.strip('"').lower()
        if name == "repo":
            repos.add(value)
        else:
            owners.add(value)
    if not repos and not owners:
        return None
    return repos, owners


class CachedSource:
    """A connector that answers from the cache plus the changes since (see the module doc)."""

    def __init__(
        self,
        inner: Connector,
        units: UnitPlan,
        cached: Mapping[str, CachedUnit],
        settings: IncrementalSettings,
        now: datetime,
    ) -> None:
        self.inner = inner
        self.source = inner.source
        self._units = units
        self._cached = dict(cached)
        self._settings = settings
        self._now = now
        self._probe_lock = threading.Lock()
        self._probed = False
        self._fresh: dict[str, CachedUnit] = {}  # unit key -> this run's answer
        self._writes: dict[str, UnitWrite] = {}
        self._unit_locks: dict[str, threading.Lock] = {key: threading.Lock() for key in units.units}
        # Decided by the probe: units whose cached answer stands as it is, and for Jira
        # the changed issues each cached JQL matches now.
        self._stands: set[str] = set()
        self._jira_patch: dict[str, tuple[set[str], set[str]]] = {}  # (matched, changed) ids
        self._jira_fresh_items: dict[str, dict[str, WorkItem]] = {}  # unit key -> id -> item
        self._since: datetime | None = None
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

    def count(self, selector: Selector) -> int:
        key = self._units.by_count.get(selector)
        if key is None:
            return self.inner.count(selector)
        unit = self._answer(key)
        if self._units.units[key].kind == "github-listing":
            assert isinstance(selector, GitHubListSelector)
            return len(filter_listed(selector, list(unit.items.values())))
        if unit.count is not None:
            return unit.count
        return len(unit.members) if unit.members else len(unit.items)

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        key = self._units.by_items.get(selector)
        if key is None:
            return self.inner.items(selector, needs)
        unit = self._answer(key)
        found = list(unit.items.values())
        if isinstance(selector, GitHubListSelector):
            found = filter_listed(selector, found)
        return sorted(found, key=lambda item: item.key)

    # -- what the run writes back

    def writes(self) -> list[UnitWrite]:
        return list(self._writes.values())

    # -- answering one unit

    def _answer(self, key: str) -> CachedUnit:
        self._probe()
        with self._unit_locks[key]:
            done = self._fresh.get(key)
            if done is not None:
                return done
            unit = self._units.units[key]
            cached = self._cached.get(key)
            if key in self._stands and cached is not None:
                answer = self._restamp(cached, unit)
                self._writes[key] = UnitWrite(answer, replace_all=False)
                self.mode[key] = "cached"
            elif key in self._jira_patch and cached is not None:
                answer = self._patch_jira(unit, cached)
                self.mode[key] = "incremental"
            elif (
                unit.kind == "github-listing"
                and cached is not None
                and self._since is not None
                and self._usable(unit, cached)
            ):
                answer = self._relist(unit, cached, self._since)
                self.mode[key] = "incremental"
            else:
                self.why_full[key] = self._full_reason(unit, cached)
                answer = self._full(unit)
                self.mode[key] = "full"
            self._fresh[key] = answer
            return answer

    def _full_reason(self, unit: FetchUnit, cached: CachedUnit | None) -> str:
        """Why a unit is fetched in full, in words for `explain` and the log."""
        if cached is None:
            return "nothing cached yet"
        why = self._unusable(unit, cached) or "the changes since could not be applied to the cache"
        log.info("%s: %s fetched in full: %s", self.source, unit.description, why)
        return why

    def _usable(self, unit: FetchUnit, cached: CachedUnit) -> bool:
        """A cached answer the changes since can bring up to date (else: fetch it in full)."""
        return self._unusable(unit, cached) is None

    def _unusable(self, unit: FetchUnit, cached: CachedUnit) -> str | None:
        """Why the changes since cannot bring this cached answer up to date; None: they can."""
        if not unit.covers(cached):
            return "the cache lacks fields or history this query now needs"
        if cached.shape is None or not self._shape(unit) <= cached.shape:
            return "cached under other settings (site or story-points field)"
        if self._now - cached.full_at >= timedelta(seconds=self._settings.full_refresh_every):
            return "a full refresh was due"
        if unit.kind == "jira-count" and cached.count is not None:
            return "a server count is asked again every run"  # Server/DC: no members to check
        if unit.kind.startswith("jira"):
            found = dependencies(unit.description)
            if found.volatile:
                return f"the query depends on more than its issues: {found.reason}"
        return None

    def _shape(self, unit: FetchUnit) -> frozenset[str]:
        assert isinstance(self.inner, JiraConnector | GitHubConnector)
        return self.inner.item_shape(unit.needs)

    def _restamp(self, cached: CachedUnit, unit: FetchUnit) -> CachedUnit:
        cached.synced_at = self._now
        cached.description = unit.description
        return cached

    def _new_entry(self, unit: FetchUnit) -> CachedUnit:
        return CachedUnit(
            key=unit.key,
            source=unit.source,
            description=unit.description,
            needs=unit.needs,
            horizon=unit.horizon,
            count=None,
            shape=self._shape(unit),
            synced_at=self._now,
            full_at=self._now,
        )

    def _full(self, unit: FetchUnit) -> CachedUnit:
        entry = self._new_entry(unit)
        inner = self.inner
        if unit.kind == "jira-items":
            assert isinstance(inner, JiraConnector) and unit.selector is not None
            for tracker_id, item in inner.items_with_ids(unit.selector, unit.needs):
                entry.items[item.key] = item
                entry.members[tracker_id] = item.key
        elif unit.kind == "jira-count":
            assert isinstance(inner, JiraConnector) and unit.selector is not None
            members = inner.member_ids(unit.selector)
            if members is None:
                entry.count = inner.count(unit.selector)
            else:
                entry.members = dict.fromkeys(members)
        elif unit.kind == "github-search-items":
            assert unit.selector is not None
            entry.items = {item.key: item for item in inner.items(unit.selector, unit.needs)}
        elif unit.kind == "github-search-count":
            assert unit.selector is not None
            entry.count = inner.count(unit.selector)
        else:
            assert isinstance(inner, GitHubConnector)
            assert unit.repo is not None and unit.item_kind is not None
            listed = inner.list_repository(
                unit.repo, unit.item_kind, updated_from=unit.horizon, needs=unit.needs
            )
            entry.items = {item.key: item for item in listed}
        self._writes[unit.key] = UnitWrite(entry, replace_all=True)
        return entry

    def _relist(self, unit: FetchUnit, cached: CachedUnit, since: datetime) -> CachedUnit:
        inner = self.inner
        assert isinstance(inner, GitHubConnector)
        assert unit.repo is not None and unit.item_kind is not None
        changed = inner.list_repository(
            unit.repo, unit.item_kind, updated_from=since, needs=cached.needs
        )
        for item in changed:
            cached.items[item.key] = item
        self._writes[unit.key] = UnitWrite(
            self._restamp(cached, unit), replace_all=False, upserts={i.key for i in changed}
        )
        return cached

    def _patch_jira(self, unit: FetchUnit, cached: CachedUnit) -> CachedUnit:
        matched, changed = self._jira_patch[unit.key]  # issue ids matched now; ids changed
        removed = {tracker_id for tracker_id in cached.members if tracker_id in changed}
        for tracker_id in removed:
            key = cached.members.pop(tracker_id)
            if key is not None:
                cached.items.pop(key, None)
        for tracker_id in matched:
            if unit.kind == "jira-items":
                item = self._jira_fresh_items.get(unit.key, {}).get(tracker_id)
                if item is None:  # matched, then changed again out of reach: fetch in full
                    return self._full(unit)
                cached.items[item.key] = item
                cached.members[tracker_id] = item.key
            else:
                cached.members[tracker_id] = None
        self._writes[unit.key] = UnitWrite(
            self._restamp(cached, unit),
            replace_all=False,
            upserted_ids=set(matched),
            removed_ids=removed - matched,
        )
        return cached

    # -- the probe: what changed since the cache was last brought up to date

    def _probe(self) -> None:
        with self._probe_lock:
            if self._probed:
                return
            self._probed = True
            candidates = {
                key: self._cached[key]
                for key, unit in self._units.units.items()
                if key in self._cached and self._usable(unit, self._cached[key])
            }
            if not candidates:
                return
            oldest = min(c.synced_at for c in candidates.values())
            since = oldest - timedelta(seconds=self._settings.margin_s)
            try:
                if self.source == "jira":
                    self._probe_jira(candidates, since)
                else:
                    self._probe_github(candidates, since)
            except ConnectorError as exc:
                log.warning("%s: cannot tell what changed (%s); fetching in full", self.source, exc)
                self._stands.clear()
                self._jira_patch.clear()
                self._since = None

    def _probe_jira(self, candidates: dict[str, CachedUnit], since: datetime) -> None:
        """Which cached queries changed: issues updated since, and members gone without a trace.

        A deleted issue, or one the token can no longer see, leaves no `updated` trace: the
        cached members are compared with one id listing of all the cached queries OR'ed
        (`present_ids`). Members missing from it leave their queries; issues in it that no
        cache holds (restored, visible again) are treated as changed.
        """
        inner = self.inner
        assert isinstance(inner, JiraConnector)
        minutes = math.ceil((self._now - since).total_seconds() / 60)
        changed = inner.changed_ids(minutes)
        keys = [k for k, c in candidates.items() if c.count is None]  # members known by id
        jqls = [self._units.units[k].description for k in keys]
        vanished: set[str] = set()
        if keys:
            known = set().union(*(candidates[k].members for k in keys))
            present = inner.present_ids(jqls)
            vanished = known - present
            changed |= present - known
        if not changed and not vanished:
            self._stands = set(candidates)
            log.info("jira: nothing changed in the last %d minutes", minutes)
            return
        if not keys:
            return
        ids = sorted(changed, key=int)
        touched = changed | vanished  # members to take out before adding what matches now
        if not inner.can_match:  # Server/DC: each cached query tested against the changed ids
            if len(ids) > SERVER_PATCH_MAX_IDS:
                return  # cheaper to fetch the queries again
            for key in keys:
                unit = self._units.units[key]
                fresh = inner.items_by_ids(ids, candidates[key].needs, within=unit.description)
                self._jira_patch[key] = (set(fresh), touched)
                self._jira_fresh_items[key] = fresh
            log.info("jira: %d issues changed, %d gone", len(changed), len(vanished))
            return
        matched = inner.match(ids, jqls) if ids else [set[str]() for _ in keys]
        wanted: set[str] = set()
        needs: frozenset[str] = frozenset()
        for key, found in zip(keys, matched, strict=True):
            self._jira_patch[key] = (found, touched)
            if self._units.units[key].kind == "jira-items":
                wanted |= found
                needs |= candidates[key].needs
        if wanted:  # one fetch with every unit's fields serves them all
            fresh = inner.items_by_ids(sorted(wanted, key=int), needs)
            self._jira_fresh_items = dict.fromkeys(keys, fresh)
        log.info(
            "jira: %d issues changed, %d gone; %d cached queries patched",
            len(changed),
            len(vanished),
            len(keys),
        )

    def _probe_github(self, candidates: dict[str, CachedUnit], since: datetime) -> None:
        inner = self.inner
        assert isinstance(inner, GitHubConnector)
        scopes: dict[str, tuple[set[str], set[str]]] = {}
        owners: set[str] = set()
        listings: dict[str, tuple[str, ItemKind]] = {}
        for key in candidates:
            unit = self._units.units[key]
            if unit.kind == "github-listing":
                assert unit.repo is not None and unit.item_kind is not None
                listings[key] = (unit.repo.lower(), unit.item_kind)
                scope = ({unit.repo.lower()}, set[str]())
            else:
                found = _search_scopes(unit.description)
                if found is None:
                    continue  # an unconfined search is always asked again
                scope = found
            scopes[key] = scope
            owners |= {repo.split("/", 1)[0] for repo in scope[0]} | scope[1]
        if not scopes:
            return
        changed_items = inner.changed_repositories(sorted(owners), since)
        self._since = since
        if changed_items is None:
            return
        changed = {repo for repo, _ in changed_items}
        for key, (repos, scope_owners) in scopes.items():
            if key in listings:  # a listing of issues stands when only pull requests changed
                if listings[key] not in changed_items:
                    self._stands.add(key)
            elif not (repos & changed or any(r.split("/", 1)[0] in scope_owners for r in changed)):
                self._stands.add(key)
        log.info(
            "github: %d repositories changed; %d of %d cached units stand",
            len(changed),
            len(self._stands),
            len(scopes),
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
        units = plan_units(plan)
        cached = load_units(self.store, units.units)
        wrapped: dict[str, Connector | ConnectorError] = {}
        for source, connector in connectors.items():
            if isinstance(connector, JiraConnector | GitHubConnector):
                mine = {k: u for k, u in units.units.items() if u.source == source}
                source_units = UnitPlan(
                    mine,
                    {s: k for s, k in units.by_items.items() if k in mine},
                    {s: k for s, k in units.by_count.items() if k in mine},
                )
                self.sources[source] = CachedSource(
                    connector, source_units, cached, self.settings, self.now
                )
                wrapped[source] = self.sources[source]
            else:
                wrapped[source] = connector
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
