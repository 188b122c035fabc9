"""Which GitHub fetch units answer a plan's selectors (see `connectors.github_changes`).

A repository's list selectors of one kind, but those of open items alone, share one listing,
whose shape is the cheapest that holds every item they may keep:
- closed items alone (`state=closed`), by last update, when every one of them keeps closed
  items alone (closed or merged windows, `state: closed`): the open items updated within
  their windows would be pages read for nothing;
- every state by creation, newest first, down to the oldest created window's start, when
  every one of them has a created window and no other: the items created since then are
  among those updated since then (creating updates an item), and an old item's later
  updates (a comment, a label) cost no page;
- otherwise every state by last update, down to the oldest window's start (or every item).
Selectors of open items alone share the open listing (`state=open`): as many pages as there
are open items, however many closed ones the repository holds (the open issue listing also
pages through open pull requests, which GitHub lists as issues). They use the shared listing
instead only when it holds every item they may keep anyway, which costs nothing more. So a
repository has at most two listings of a kind. A count is answered from a listing fetched
anyway, else asked of the search API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from connectors.base import OPTIONAL_FIELDS, GitHubListSelector, GitHubSearchSelector, Selector
from connectors.changes import FetchUnit, UnitPlan
from connectors.github_selectors import (
    closed_only,
    created_only,
    listing_horizon,
    open_only,
    search_query_for,
)

LISTING = "github-listing"  # every state, by last update, down to a horizon (or all)
CLOSED_LISTING = "github-closed-listing"  # closed items only, by last update, likewise
CREATED_LISTING = "github-created-listing"  # every state, by creation, down to a horizon
OPEN_LISTING = "github-open-listing"  # open items only, whatever their age
LISTINGS = (LISTING, CLOSED_LISTING, CREATED_LISTING, OPEN_LISTING)
ListingState = Literal["open", "closed", "all"]
Group = tuple[str, str]  # (lower-case repository, item kind)


def plan_units(
    item_fetches: Mapping[Selector, frozenset[str]], count_fetches: Iterable[Selector]
) -> UnitPlan:
    result = UnitPlan()
    listings: dict[Group, FetchUnit] = {}
    open_selectors: dict[GitHubListSelector, frozenset[str]] = {}
    shapes = _listing_shapes(item_fetches)
    for selector, needs in item_fetches.items():
        needs = needs - OPTIONAL_FIELDS  # GitHub's answers carry them all anyway
        if isinstance(selector, GitHubSearchSelector):
            result.by_items[selector] = result.add(
                FetchUnit(
                    "github", "github-search-items", selector.query, selector=selector, needs=needs
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
            kind = shapes[group]
            named = {CLOSED_LISTING: "closed ", CREATED_LISTING: "created "}.get(kind, "")
            unit = FetchUnit(
                "github",
                kind,
                f"{group[0]} {named}{selector.kind}s",
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
    open_listings: dict[Group, FetchUnit] = {}
    for selector, needs in open_selectors.items():
        group = (selector.repo.lower(), selector.kind)
        unit = listings.get(group)
        if unit is None or not serves(unit, selector):
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
            if listing is not None and serves(listing, selector):
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


def listing_state(unit: FetchUnit) -> ListingState:
    """The `state` a listing unit lists."""
    if unit.kind == OPEN_LISTING:
        return "open"
    return "closed" if unit.kind == CLOSED_LISTING else "all"


def _listing_shapes(item_fetches: Iterable[Selector]) -> dict[Group, str]:
    """Each (repository, kind)'s shared listing: closed items alone when every selector it
    serves (all but those of open items) keeps closed ones alone; by creation when every one
    has a created window alone; else every state by last update."""
    served: dict[Group, list[GitHubListSelector]] = {}
    for selector in item_fetches:
        if isinstance(selector, GitHubListSelector) and not open_only(selector):
            served.setdefault((selector.repo.lower(), selector.kind), []).append(selector)
    shapes: dict[Group, str] = {}
    for group, selectors in served.items():
        if all(closed_only(selector) for selector in selectors):
            shapes[group] = CLOSED_LISTING
        elif all(created_only(selector) for selector in selectors):
            shapes[group] = CREATED_LISTING
        else:
            shapes[group] = LISTING
    return shapes


def serves(listing: FetchUnit, selector: GitHubListSelector) -> bool:
    """Whether a shared listing holds every item `selector` may keep."""
    if listing.kind == CLOSED_LISTING and not closed_only(selector):
        return False
    if listing.kind == CREATED_LISTING and not created_only(selector):
        return False
    return reaches(listing, listing_horizon(selector))


def reaches(listing: FetchUnit, horizon: datetime | None) -> bool:
    """Whether a listing reaches back far enough to count a selector with this horizon."""
    if listing.reaches_all:
        return True
    return horizon is not None and listing.horizon is not None and horizon >= listing.horizon
