"""The floor: the fewest requests the trackers' documented limits allow, and their time.

Per tracker, for the plan's distinct selectors:
- Jira Cloud `search/jql`: a count pages ids, 5,000 a page ("the greatest number of items
  returned per page is achieved when requesting id or key only"; the approximate count is
  no exact count); items with fields, 100 a page. Jira Server/DC `search`: a count is one
  request (`maxResults=0`, `total`); items 1,000 a page (`jira.search.views.default.max`).
  Each JQL is asked on its own: JQL has no listing that serves several queries at once.
- GitHub: 100 items a page (`per_page` at most 100). A search selector: its count one
  search (`total_count`), its items 100 a page of searches. A repository's list selectors
  are covered per repository and kind in the cheapest of the documented shapes
  (bench/floor_github.py): listings shared by them, or each one on its own (a count one
  search, items at least their own pages). Search allows 30 requests a minute (and 1,000
  results a query).

The wall-time lower bound of a tracker is the larger of its latency bound (its longest chain
of pages, or all its requests spread over its concurrency, times the latency) and its search
budget (every 30 searches past the first 30 wait for the next minute); the trackers are asked
at the same time, so the run's floor is the larger of the two.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bench.floor_github import (
    GITHUB_PAGE,
    ListedNeed,
    ListedSelector,
    RepositoryListing,
    cheapest_cover,
)
from connectors.base import ItemKind

Tracker = Literal["jira", "github"]
JIRA_CLOUD_ID_PAGE = 5000
JIRA_CLOUD_ITEM_PAGE = 100
JIRA_SERVER_PAGE = 1000
GITHUB_SEARCHES_PER_MINUTE = 30


@dataclass(frozen=True)
class FloorFetch:
    """One distinct selector of the plan: its tracker, how it is read and how many items."""

    tracker: Tracker
    mode: Literal["count", "items"]
    items: int
    search: bool = False  # GitHub: a search selector (a count is always a search)
    listed: ListedSelector | None = None  # GitHub: a list selector, served by listings


@dataclass(frozen=True)
class FloorLimits:
    """What the floor's time depends on besides the requests."""

    latency_s: float
    concurrency: dict[str, int]
    jira_flavour: Literal["cloud", "server"] = "cloud"
    searches_per_minute: int = GITHUB_SEARCHES_PER_MINUTE
    time_scale: float = 1.0  # the sandbox's minute lasts 60 / time_scale seconds


@dataclass
class TrackerFloor:
    requests: int = 0
    searches: int = 0  # GitHub search requests among them
    longest_chain: int = 0

    def add(self, pages: int, *, search: bool = False) -> None:
        self.requests += pages
        self.searches += pages if search else 0
        self.longest_chain = max(self.longest_chain, pages)

    def wall_s(self, tracker: str, limits: FloorLimits) -> float:
        concurrency = max(1, limits.concurrency.get(tracker, 1))
        rounds = max(self.longest_chain, math.ceil(self.requests / concurrency))
        latency_bound = rounds * limits.latency_s
        minute = 60.0 / limits.time_scale
        waits = max(0, math.ceil(self.searches / limits.searches_per_minute) - 1)
        search_bound = waits * minute + (limits.latency_s if self.searches else 0.0)
        return max(latency_bound, search_bound)


def pages(items: int, page: int) -> int:
    """Requests to read `items` at `page` a request: at least one, to learn there are none."""
    return max(1, math.ceil(items / page))


def tracker_floors(
    fetches: Iterable[FloorFetch],
    limits: FloorLimits,
    listings: Mapping[str, RepositoryListing] | None = None,
) -> dict[str, TrackerFloor]:
    """Each tracker's floor; GitHub's list selectors on a repository of `listings` are
    covered together (bench/floor_github.py), the others each on its own."""
    floors = {"jira": TrackerFloor(), "github": TrackerFloor()}
    listed: dict[tuple[str, ItemKind], list[ListedNeed]] = defaultdict(list)
    for fetch in fetches:
        floor = floors[fetch.tracker]
        if fetch.tracker == "jira":
            if limits.jira_flavour == "server":
                floor.add(1 if fetch.mode == "count" else pages(fetch.items, JIRA_SERVER_PAGE))
            elif fetch.mode == "count":
                floor.add(pages(fetch.items, JIRA_CLOUD_ID_PAGE))
            else:
                floor.add(pages(fetch.items, JIRA_CLOUD_ITEM_PAGE))
        elif fetch.listed is not None and fetch.listed.repo in (listings or {}):
            counted = fetch.mode == "count"
            own = 1 if counted else pages(fetch.items, GITHUB_PAGE)
            listed[fetch.listed.repo, fetch.listed.kind].append(
                ListedNeed(fetch.listed, own_pages=own, own_search=counted)
            )
        elif fetch.mode == "count":
            floor.add(1, search=True)
        else:
            floor.add(pages(fetch.items, GITHUB_PAGE), search=fetch.search)
    for (repo, kind), needs in listed.items():
        assert listings is not None  # only repositories it lists are gathered
        for chain, search in cheapest_cover(needs, listings[repo], kind).chains:
            floors["github"].add(chain, search=search)
    return floors


def floor_figures(
    fetches: list[FloorFetch],
    limits: FloorLimits,
    listings: Mapping[str, RepositoryListing] | None = None,
) -> dict[str, Any]:
    """results.json's `floor`: totals as before, and `per_tracker` {requests, wall_s}."""
    floors = tracker_floors(fetches, limits, listings)
    per_tracker = {
        tracker: {
            "requests": floor.requests,
            "wall_s": round(floor.wall_s(tracker, limits), 3),
            "searches": floor.searches,
        }
        for tracker, floor in floors.items()
    }
    return {
        "requests": {
            **{tracker: floor.requests for tracker, floor in floors.items()},
            "total": sum(floor.requests for floor in floors.values()),
        },
        "wall_s": max(figures["wall_s"] for figures in per_tracker.values()),
        "selectors": len(fetches),
        "per_tracker": per_tracker,
    }
