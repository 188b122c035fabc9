"""GitHub's change feed: which cached listings and searches still hold.

- List selectors on one repository share one listing per kind (issues / pull requests),
  sorted by last update and reaching back as far as the oldest window needs; each
  selector's items are picked from it locally (`filter_listed`). A count of a list selector
  is answered from a listing fetched anyway, else asked of the search API.
- Selectors of open items alone (`state: open`) share the repository's open listing of that
  kind (`state=open`): as many pages as there are open items, however many closed ones the
  repository holds. They use the shared listing instead only when it reaches every item
  they may keep anyway (it lists every item, or its windows reach back past theirs), which
  costs nothing more. So a repository has at most two listings of a kind: the open one and
  the one by last update. A search (`repo:X is:pr is:open`) would cost as many pages, but
  spends the search budget (30 a minute), stops at 1,000 results and lags GitHub's index;
  the open issue listing also pages through open pull requests (GitHub lists them as
  issues), which is cheap while a repository has few of them open.
- When every selector the listing by last update serves keeps closed items alone (closed or
  merged windows, `state: closed`), it lists closed items alone (`state=closed`): the open
  items updated within its windows would be pages read for nothing.
- One search per owner, `org:<owner> updated:>=<since>`, names the repositories with
  changes. Listings of the others stand; a changed one is listed again by last update down
  to `since` (every state, once per repository and kind, shared by its two listings) and
  merged by key; an item no longer open leaves the open listing, one open again the closed
  listing. A search is reused only when none of the repositories or owners it is scoped to
  changed, else asked again.

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
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Literal

from connectors.base import (
    OPTIONAL_FIELDS,
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
    UnitPlan,
)
from connectors.github_membership import HeldCount, MembershipCheck, count_check, held_count
from connectors.github_selectors import (
    closed_only,
    filter_listed,
    is_open,
    listing_horizon,
    open_only,
    search_query_for,
)
from connectors.request_stages import side_by_side

if TYPE_CHECKING:
    from connectors.github import GitHubConnector

log = logging.getLogger(__name__)

SEARCH_SCOPE = re.compile(r"(?<!-)\b(repo|org|user):(\"[^\"]+\"|\S+)")
UNCONFINED = "a search not confined to repositories or owners is asked again every run"
PULL_REQUESTS_ONLY = re.compile(r"(?<![-\w])(?:is|type):(?:pr|pull-request)\b", re.IGNORECASE)
LISTING = "github-listing"  # every state, by last update, down to a horizon (or all)
CLOSED_LISTING = "github-closed-listing"  # closed items only, by last update, likewise
OPEN_LISTING = "github-open-listing"  # open items only, whatever their age
LISTINGS = (LISTING, CLOSED_LISTING, OPEN_LISTING)
ListingState = Literal["open", "closed", "all"]


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

    @staticmethod
    def plan(
        item_fetches: Mapping[Selector, frozenset[str]], count_fetches: Iterable[Selector]
    ) -> UnitPlan:
        result = UnitPlan()

        listings: dict[tuple[str, str], FetchUnit] = {}
        open_selectors: dict[GitHubListSelector, frozenset[str]] = {}
        closed = _closed_groups(item_fetches)
        for selector, needs in item_fetches.items():
            needs = needs - OPTIONAL_FIELDS  # GitHub's answers carry them all anyway
            if isinstance(selector, GitHubSearchSelector):
                result.by_items[selector] = result.add(
                    FetchUnit(
                        "github",
                        "github-search-items",
                        selector.query,
                        selector=selector,
                        needs=needs,
                    )
                )
                continue
            assert isinstance(selector, GitHubListSelector)
            if open_only(selector):
                open_selectors[selector] = needs  # placed once the shared listings are known
                continue
            group = (selector.repo.lower(), selector.kind)
            horizon = listing_horizon(selector)
            unit = listings.get(group)
            if unit is None:
                unit = FetchUnit(
                    "github",
                    CLOSED_LISTING if group in closed else LISTING,
                    f"{group[0]} {'closed ' if group in closed else ''}{selector.kind}s",
                    repo=selector.repo,
                    item_kind=selector.kind,
                    horizon=horizon,
                    reaches_all=horizon is None,
                )
                listings[group] = unit
                result.units[unit.key] = unit
            unit.needs |= needs
            unit.reaches_all = unit.reaches_all or horizon is None
            if horizon is not None and (unit.horizon is None or horizon < unit.horizon):
                unit.horizon = horizon
            result.by_items[selector] = unit.key
        open_listings: dict[tuple[str, str], FetchUnit] = {}
        for selector, needs in open_selectors.items():
            group = (selector.repo.lower(), selector.kind)
            unit = listings.get(group)
            if unit is None or not _serves(unit, selector):
                unit = open_listings.get(group)
                if unit is None:
                    unit = FetchUnit(
                        "github",
                        OPEN_LISTING,
                        f"{group[0]} open {selector.kind}s",
                        repo=selector.repo,
                        item_kind=selector.kind,
                    )
                    open_listings[group] = unit
                    result.units[unit.key] = unit
            unit.needs |= needs
            result.by_items[selector] = unit.key
        for selector in count_fetches:
            if isinstance(selector, GitHubListSelector):
                group = (selector.repo.lower(), selector.kind)
                listing = listings.get(group)
                if listing is not None and _serves(listing, selector):
                    result.by_count[selector] = listing.key  # counted in a listing fetched anyway
                    continue
                if open_only(selector) and group in open_listings:
                    result.by_count[selector] = open_listings[group].key
                    continue
                description = search_query_for(selector)
            else:
                assert isinstance(selector, GitHubSearchSelector)
                description = selector.query
            result.by_count[selector] = result.add(
                FetchUnit("github", "github-search-count", description, selector=selector)
            )
        for unit in listings.values():
            if unit.reaches_all:
                unit.horizon = None
        return result

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
            listed = github.list_repository(
                unit.repo,
                unit.item_kind,
                updated_from=unit.horizon,
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


def listing_state(unit: FetchUnit) -> ListingState:
    """The `state` a listing unit lists."""
    if unit.kind == OPEN_LISTING:
        return "open"
    return "closed" if unit.kind == CLOSED_LISTING else "all"


def _closed_groups(item_fetches: Iterable[Selector]) -> set[tuple[str, str]]:
    """(repository, kind) whose listing by last update serves closed items alone: every list
    selector of items it would serve (all but those of open items) keeps closed ones alone."""
    kept: dict[tuple[str, str], bool] = {}
    for selector in item_fetches:
        if isinstance(selector, GitHubListSelector) and not open_only(selector):
            group = (selector.repo.lower(), selector.kind)
            kept[group] = kept.get(group, True) and closed_only(selector)
    return {group for group, only_closed in kept.items() if only_closed}


def _serves(listing: FetchUnit, selector: GitHubListSelector) -> bool:
    """Whether a listing by last update holds every item `selector` may keep."""
    if listing.kind == CLOSED_LISTING and not closed_only(selector):
        return False
    return _reaches(listing, listing_horizon(selector))


def _reaches(listing: FetchUnit, horizon: datetime | None) -> bool:
    """Whether a listing reaches back far enough to count a selector with this horizon."""
    if listing.reaches_all:
        return True
    return horizon is not None and listing.horizon is not None and horizon >= listing.horizon


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
        return held_count(unit, held, size, state=listing_state(unit))
