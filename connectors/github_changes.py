"""GitHub's change feed: which cached listings and searches still hold.

- Which units answer the plan's selectors is `connectors.github_units`: list selectors on
  one repository share a listing per kind (every state or closed items alone by last update,
  or every state by creation) and selectors of open items alone the open listing
  (`state=open`); each selector's items are picked from them locally (`filter_listed`). A
  search (`repo:X is:pr is:open`) would cost as many pages as the open listing, but spends
  the search budget (30 a minute), stops at 1,000 results and lags GitHub's index.
- One search per owner, `org:<owner> updated:>=<since>`, names the repositories with
  changes. Listings of the others stand; a changed one is listed again by last update down
  to `since` (every state, once per repository and kind, shared by its listings) and
  merged by key; an item no longer open leaves the open listing, one open again the closed
  listing, and a listing by creation keeps those created since its horizon. A search is
  reused only when none of the repositories or owners it is scoped to changed, else asked
  again.

Deleted and transferred issues leave no `updated` trace (pull requests can be neither). So
an answer that may hold issues is checked against GitHub's own count of the same items
(`connectors.github_membership`): the issue listings that stand share one search per
batch of repositories, compared with the sum of their cached sizes, and a search's items are
compared with the search's `total_count`. Nothing but a deletion or a transfer (or the
search index's lag, caught a run later) makes the cached answer differ from GitHub's count;
a difference means it is fetched in full. The changed issue listings are checked together
the same way, once their changes are listed and applied to their sizes. A search count that
may include issues stands the same way when it is confined to repositories that did not
change: it joins the batches of listings and counts with its other qualifiers, its cached
count their sum; one that moved is asked again. Other such counts are asked every run.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from connectors.base import (
    ConnectorError,
    GitHubListSelector,
    GitHubSearchSelector,
    ItemKind,
    QueryError,
    Selector,
    WorkItem,
)
from connectors.changes import (
    ChangeSet,
    FetchedAlongside,
    FetchUnit,
    HeldAnswer,
    StageCosts,
    UnitAnswer,
    UnitDelta,
)
from connectors.github_membership import HeldCount, MembershipCheck, count_check, held_count
from connectors.github_selectors import filter_listed, is_open
from connectors.github_units import (
    CREATED_LISTING,
    LISTINGS,
    listing_state,
    plan_units,
)
from connectors.request_stages import side_by_side

if TYPE_CHECKING:
    from connectors.github import GitHubConnector

log = logging.getLogger(__name__)

SEARCH_SCOPE = re.compile(r"(?<!-)\b(repo|org|user):(\"[^\"]+\"|\S+)")
UNCONFINED = "a search not confined to repositories or owners is asked again every run"
PULL_REQUESTS_ONLY = re.compile(r"(?<![-\w])(?:is|type):(?:pr|pull-request)\b", re.IGNORECASE)


def search_scopes(query: str) -> tuple[set[str], set[str]] | None:
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


class GitHubChangeFeed:
    """Change detection for one `GitHubConnector` (see the module doc)."""

    def __init__(self, connector: GitHubConnector) -> None:
        self.connector = connector
        self.costs = StageCosts()

    plan = staticmethod(plan_units)

    def item_shape(self, needs: frozenset[str]) -> frozenset[str]:
        return self.connector.item_shape(needs)

    def fragile(self, unit: FetchUnit, held: HeldAnswer) -> str | None:
        if unit.kind != "github-search-count" or not may_hold_issues(unit):
            return None
        if count_check(unit, held) is None or search_scopes(unit.description) is None:
            return "a count that may include issues, not of repositories alone, is asked again"
        return None

    def _changed_repositories(
        self, owners: list[str], since: datetime
    ) -> set[tuple[str, ItemKind]] | None:
        with self.costs.stage("change feed"):
            return self.connector.changed_repositories(owners, since)

    def fetch(self, unit: FetchUnit) -> UnitAnswer:
        github = self.connector
        if unit.kind in LISTINGS:
            assert unit.repo is not None and unit.item_kind is not None
            by_creation = unit.kind == CREATED_LISTING
            listed = github.list_repository(
                unit.repo,
                unit.item_kind,
                updated_from=None if by_creation else unit.horizon,
                created_from=unit.horizon if by_creation else None,
                needs=unit.needs,
                state=listing_state(unit),
            )
            return UnitAnswer(items={item.key: item for item in listed})
        assert unit.selector is not None
        if unit.kind == "github-search-count":
            return UnitAnswer(count=github.count(unit.selector))
        found = github.items(unit.selector, unit.needs)
        return UnitAnswer(items={item.key: item for item in found})

    def count_from(self, selector: Selector, unit: FetchUnit, held: HeldAnswer) -> int:
        if isinstance(selector, GitHubListSelector) and unit.kind in LISTINGS:
            return len(filter_listed(selector, list(held.items.values())))
        return held.count if held.count is not None else len(held.items)

    def items_from(self, selector: Selector, unit: FetchUnit, held: HeldAnswer) -> list[WorkItem]:
        found = list(held.items.values())
        if isinstance(selector, GitHubListSelector):
            return filter_listed(selector, found)
        return found

    def changes(
        self,
        held: Mapping[str, tuple[FetchUnit, HeldAnswer]],
        since: datetime,
        now: datetime,
        width: int,
        alongside: Mapping[str, FetchUnit],
    ) -> ChangeSet:
        scopes: dict[str, tuple[set[str], set[str]]] = {}
        owners: set[str] = set()
        listings: dict[str, tuple[str, ItemKind]] = {}
        for key, (unit, _) in held.items():
            if unit.kind in LISTINGS:
                assert unit.repo is not None and unit.item_kind is not None
                listings[key] = (unit.repo.lower(), unit.item_kind)
                scope = ({unit.repo.lower()}, set[str]())
            else:
                found = search_scopes(unit.description)
                if found is None:
                    continue  # an unconfined search is always asked again
                scope = found
            scopes[key] = scope
            owners |= {repo.split("/", 1)[0] for repo in scope[0]} | scope[1]
        if not scopes:
            return ChangeSet(why=UNCONFINED)
        fetched = FetchedAlongside(self, alongside)
        probe = partial(self._changed_repositories, sorted(owners), since)
        changed_items = side_by_side([probe], width, also=fetched.tasks)[0]
        found_changes = fetched.into(GitHubChanges(self.connector, since, self.costs, width))
        if changed_items is None:  # too many to name: every listing listed again since then
            found_changes.why = "over 1,000 items changed: too many for one search"
            return found_changes
        changed = {repo for repo, _ in changed_items}
        for key, (repos, scope_owners) in scopes.items():
            if key in listings:  # a listing of issues stands when only pull requests changed
                if listings[key] not in changed_items:
                    found_changes.stands.add(key)
            elif not (repos & changed or any(r.split("/", 1)[0] in scope_owners for r in changed)):
                found_changes.stands.add(key)
            else:
                found_changes.why_full[key] = "a repository it searches changed"
        for key in held.keys() - scopes.keys():
            found_changes.why_full[key] = UNCONFINED
        found_changes.changed_issues = [
            held[key]
            for key in sorted(listings.keys() - found_changes.stands)
            if may_hold_issues(held[key][0])
        ]
        standing = [held[key] for key in sorted(found_changes.stands)]
        checks = [  # counted from the store's sizes: nothing decoded
            found_changes.held_count(unit, answer, answer.size)
            for unit, answer in standing
            if may_hold_issues(unit)
        ]
        for key, why in found_changes.membership.missing(checks).items():
            found_changes.stands.discard(key)
            found_changes.lost.add(key)
            found_changes.why_full[key] = why
        log.info(
            "github: %d repositories changed; %d of %d cached units stand",
            len(changed),
            len(found_changes.stands),
            len(scopes),
        )
        return found_changes


def may_hold_issues(unit: FetchUnit) -> bool:
    """Whether a unit's items may include issues, which can be deleted or transferred."""
    if unit.kind in LISTINGS:
        return unit.item_kind == "issue"
    return not PULL_REQUESTS_ONLY.search(unit.description)


class GitHubChanges(ChangeSet):
    """Changed listings are listed again by last update down to `since`; searches re-asked."""

    def __init__(
        self, connector: GitHubConnector, since: datetime, costs: StageCosts, width: int
    ) -> None:
        super().__init__()
        self.connector = connector
        self.since = since
        self.costs = costs
        self.width = width  # requests sent at a time (the tracker's concurrency limit)
        self.lost: set[str] = set()  # unit keys holding items GitHub no longer counts
        self.membership = MembershipCheck(
            lambda query: connector.count(GitHubSearchSelector(query)), costs, width
        )
        # Changed issue listings, checked together once their changes are known.
        self.changed_issues: list[tuple[FetchUnit, HeldAnswer]] = []
        self._verdicts: dict[str, str | None] | None = None  # unit key -> why fetched in full
        self._verdicts_lock = threading.Lock()
        self._relisted: dict[tuple[str, ItemKind, frozenset[str]], list[WorkItem]] = {}
        self._relisting: dict[tuple[str, ItemKind, frozenset[str]], threading.Lock] = {}
        self._relisting_lock = threading.Lock()

    def delta(self, unit: FetchUnit, held: HeldAnswer) -> UnitDelta | None:
        if unit.kind not in LISTINGS or unit.key in self.lost:
            return None
        delta = self._delta(unit, held)
        if may_hold_issues(unit):
            verdicts = self._changed_verdicts()
            if unit.key in verdicts:
                why = verdicts[unit.key]
            else:  # its batch was refused, or its changes could not be read then
                why = self.membership.missing([self._check(unit, held, delta)]).get(unit.key)
            if why is not None:
                self.why_full[unit.key] = why
                return None
        return delta

    def _delta(self, unit: FetchUnit, held: HeldAnswer) -> UnitDelta:
        assert unit.repo is not None and unit.item_kind is not None
        changed = self._changed_items(unit.repo, unit.item_kind, held.needs)
        if unit.kind == CREATED_LISTING and held.horizon is not None:
            start = held.horizon  # an item created before it never joins the listing
            return UnitDelta(items={i.key: i for i in changed if i.created_at >= start})
        state = listing_state(unit)
        if state == "all":
            return UnitDelta(items={item.key: item for item in changed})
        kept = {item.key: item for item in changed if is_open(item) == (state == "open")}
        return UnitDelta(removed_keys={item.key for item in changed} - kept.keys(), items=kept)

    def _check(self, unit: FetchUnit, held: HeldAnswer, delta: UnitDelta) -> HeldCount:
        """The membership check of a changed listing once its changes are applied."""
        after = (held.items.keys() - delta.removed_keys) | delta.items.keys()
        return self.held_count(unit, held, len(after))

    def _changed_verdicts(self) -> dict[str, str | None]:
        """Every changed issue listing checked in one batch (as the standing ones are), by
        the first that asks: their repositories' changes are listed then, side by side,
        and kept for the others. A listing whose changes cannot be read is left out (its own
        `delta` meets the error); a refused batch leaves them all to be checked alone."""
        with self._verdicts_lock:
            if self._verdicts is None:
                listed = side_by_side(
                    [partial(self._changed_check, *changed) for changed in self.changed_issues],
                    self.width,
                )
                checks = [check for check in listed if check is not None]
                try:
                    missing = self.membership.missing(checks)
                    self._verdicts = {check.key: missing.get(check.key) for check in checks}
                except QueryError:
                    self._verdicts = {}
            return self._verdicts

    def _changed_check(self, unit: FetchUnit, held: HeldAnswer) -> HeldCount | None:
        """A changed listing's membership check, or None when its changes cannot be read."""
        try:
            return self._check(unit, held, self._delta(unit, held))
        except (ConnectorError, ValueError):  # failed, or an unreadable entry
            return None

    def settled(self) -> None:
        with self._relisting_lock:
            self._relisted.clear()

    def _changed_items(self, repo: str, kind: ItemKind, needs: frozenset[str]) -> list[WorkItem]:
        """Items of `repo` of this kind updated since `since`, in every state: listed once,
        shared by the repository's listing by last update and its open listing."""
        key = (repo.lower(), kind, needs)
        with self._relisting_lock:
            lock = self._relisting.setdefault(key, threading.Lock())
        with lock:
            found = self._relisted.get(key)
            if found is None:
                found = self.connector.list_repository(
                    repo, kind, updated_from=self.since, needs=needs
                )
                self._relisted[key] = found
            return found

    @staticmethod
    def held_count(unit: FetchUnit, held: HeldAnswer, size: int) -> HeldCount:
        """What GitHub is asked to count for a cached answer holding `size` items."""
        return held_count(
            unit, held, size, state=listing_state(unit), by_creation=unit.kind == CREATED_LISTING
        )
