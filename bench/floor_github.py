"""GitHub's floor for a repository's list selectors: the cheapest documented way to cover
them, per repository and kind, derived from the repository's listing (not from okr-sync's
planner, which the floor judges).

The shapes an exact client has (GitHub's REST docs):
- the listing by last update (`sort=updated`, newest first; `since` for issues), reaching
  back as far as the oldest of the selectors it serves: creating, closing or merging an item
  updates it, so an item inside a window was updated at or after the window's start; of
  every state, or of closed items alone (`state=closed`) for selectors of closed items alone
  (closed or merged windows, `state: closed`);
- the listing by creation (`sort=created`, newest first) down to the oldest created window's
  start, for selectors whose only window is a created one;
- the listing of open items (`state=open`), which serves selectors of open items alone;
- each selector on its own: a count is one search (`total_count`); items need at least as
  many pages as there are items, whatever the listing or search that returns them.
A repository's issue listings list its pull requests too (GitHub treats them as issues), so
they cost pages for both. Every page holds at most 100 items; an empty listing still costs
the one request that shows it is empty.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from itertools import product

from github import Github

from bench.naive import page_by_page
from connectors.base import GitHubListSelector, ItemKind

GITHUB_PAGE = 100


def listing_pages(items: int) -> int:
    return max(1, math.ceil(items / GITHUB_PAGE))


@dataclass(frozen=True)
class ListedSelector:
    """A list selector as the floor sees it: its repository and kind, how far back a
    listing by last update must reach to serve it (None: every item), and whether the
    listing of open items, of closed items or by creation serves it."""

    repo: str
    kind: ItemKind
    horizon: datetime | None
    open_only: bool
    closed_only: bool = False
    created_only: bool = False  # its only window is a created one (`horizon` its start)

    @classmethod
    def of(cls, selector: GitHubListSelector) -> ListedSelector:
        starts = [
            datetime.combine(window.start, time(0), tzinfo=UTC)
            for window in (selector.created, selector.closed, selector.merged)
            if window is not None
        ]
        return cls(
            repo=selector.repo.lower(),
            kind=selector.kind,
            horizon=max(starts) if starts else None,  # an item is in every window at once
            open_only=selector.state == "open",
            closed_only=selector.state == "closed" or bool(selector.closed or selector.merged),
            created_only=bool(selector.created and not (selector.closed or selector.merged)),
        )

    def served_from(self, horizon: datetime | None) -> bool:
        """Whether a listing by last update reaching back to `horizon` holds its items."""
        return horizon is None or (self.horizon is not None and self.horizon >= horizon)


@dataclass(frozen=True)
class ListingEntry:
    """One entry of a repository's issue listing, which holds its pull requests too."""

    updated_at: datetime
    is_open: bool
    pull_request: bool
    created_at: datetime


@dataclass(frozen=True)
class RepositoryListing:
    """Every entry of one repository's issue listing (state=all)."""

    entries: tuple[ListingEntry, ...]

    def listed(self, kind: ItemKind) -> list[ListingEntry]:
        if kind == "pull_request":
            return [entry for entry in self.entries if entry.pull_request]
        return list(self.entries)  # the issue listing pages through pull requests too

    def pages_since(self, kind: ItemKind, horizon: datetime | None) -> int:
        listed = self.listed(kind)
        if horizon is not None:
            listed = [entry for entry in listed if entry.updated_at >= horizon]
        return listing_pages(len(listed))

    def open_pages(self, kind: ItemKind) -> int:
        return listing_pages(sum(entry.is_open for entry in self.listed(kind)))

    def closed_pages_since(self, kind: ItemKind, horizon: datetime | None) -> int:
        listed = [entry for entry in self.listed(kind) if not entry.is_open]
        if horizon is not None:
            listed = [entry for entry in listed if entry.updated_at >= horizon]
        return listing_pages(len(listed))

    def pages_created_since(self, kind: ItemKind, horizon: datetime) -> int:
        return listing_pages(sum(entry.created_at >= horizon for entry in self.listed(kind)))


@dataclass(frozen=True)
class ListedNeed:
    """One list selector and what it costs on its own (a count: one search)."""

    selector: ListedSelector
    own_pages: int
    own_search: bool


@dataclass
class Cover:
    """The request chains that answer a repository's list selectors of one kind: each
    (pages, whether they are searches)."""

    chains: list[tuple[int, bool]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(pages for pages, _ in self.chains)

    @property
    def longest_chain(self) -> int:
        return max((pages for pages, _ in self.chains), default=0)


Reach = tuple[bool, datetime | None]  # (listed at all, down to which horizon: None every item)
NOT_LISTED: Reach = (False, None)


def cheapest_cover(
    needs: Iterable[ListedNeed], listing: RepositoryListing, kind: ItemKind
) -> Cover:
    """The fewest requests that answer `needs` (one repository and kind): which listings to
    page (by last update of every state or of closed items, by creation, each down to one of
    the selectors' horizons, and the open one, each or none), every selector they do not
    serve on its own."""
    needs = list(needs)
    horizons = {need.selector.horizon for need in needs}
    closed = {need.selector.horizon for need in needs if need.selector.closed_only}
    created = {need.selector.horizon for need in needs if need.selector.created_only}
    by_update = [NOT_LISTED, *((True, h) for h in horizons)]
    by_closed = [NOT_LISTED, *((True, h) for h in closed)]
    by_creation = [NOT_LISTED, *((True, h) for h in created if h is not None)]
    opens = (False, True) if any(need.selector.open_only for need in needs) else (False,)
    best: Cover | None = None
    for every, closing, creation, with_open in product(by_update, by_closed, by_creation, opens):
        cover = Cover()
        if every[0]:
            cover.chains.append((listing.pages_since(kind, every[1]), False))
        if closing[0]:
            cover.chains.append((listing.closed_pages_since(kind, closing[1]), False))
        if creation[0] and creation[1] is not None:
            cover.chains.append((listing.pages_created_since(kind, creation[1]), False))
        if with_open:
            cover.chains.append((listing.open_pages(kind), False))
        for need in needs:
            selector = need.selector
            served = (
                (every[0] and selector.served_from(every[1]))
                or (closing[0] and selector.closed_only and selector.served_from(closing[1]))
                or (creation[0] and selector.created_only and selector.served_from(creation[1]))
                or (with_open and selector.open_only)
            )
            if not served:
                cover.chains.append((need.own_pages, need.own_search))
        ranking = (cover.requests, cover.longest_chain)
        if best is None or ranking < (best.requests, best.longest_chain):
            best = cover
    assert best is not None  # every shape may be left out
    return best


def read_listings(client: Github, repos: Iterable[str]) -> dict[str, RepositoryListing]:
    """Each repository's issue listing (every state, pull requests included), read in full
    through PyGithub page by page (the monorepo's would not fit if PyGithub kept it): the
    data the floor's listings are counted on."""
    listings: dict[str, RepositoryListing] = {}
    for name in sorted({repo.lower() for repo in repos}):
        issues = client.get_repo(name).get_issues(state="all", sort="updated", direction="desc")
        entries = {
            issue.number: ListingEntry(
                updated_at=issue.updated_at,
                is_open=issue.state == "open",
                pull_request="/pull/" in (issue.html_url or ""),  # no extra request
                created_at=issue.created_at,
            )
            for issue in page_by_page(issues)
        }
        listings[name] = RepositoryListing(tuple(entries.values()))
    return listings
