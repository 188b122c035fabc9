"""Floors per tracker from the APIs' documented page limits and GitHub's search budget."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bench.floor import FloorFetch, FloorLimits, floor_figures, tracker_floors
from bench.floor_github import ListedSelector, ListingEntry, RepositoryListing
from connectors.base import DateWindow, GitHubListSelector, ItemKind

LIMITS = FloorLimits(latency_s=0.1, concurrency={"jira": 4, "github": 4})


def test_jira_cloud_pages_ids_by_5000_and_items_by_100() -> None:
    fetches = [
        FloorFetch("jira", "count", 12_000),  # 3 pages of ids
        FloorFetch("jira", "count", 0),  # one request to learn there are none
        FloorFetch("jira", "items", 250),  # 3 pages with fields
    ]
    assert tracker_floors(fetches, LIMITS)["jira"].requests == 3 + 1 + 3


def test_jira_server_counts_in_one_request_and_pages_items_by_1000() -> None:
    server = FloorLimits(latency_s=0.1, concurrency={"jira": 4}, jira_flavour="server")
    fetches = [FloorFetch("jira", "count", 12_000), FloorFetch("jira", "items", 2_500)]
    assert tracker_floors(fetches, server)["jira"].requests == 1 + 3


def test_github_counts_are_one_search_and_items_100_a_page() -> None:
    fetches = [
        FloorFetch("github", "count", 5_000, search=True),
        FloorFetch("github", "count", 40),  # a repository's count: a search too
        FloorFetch("github", "items", 250),  # a listing: 3 core requests
        FloorFetch("github", "items", 150, search=True),  # 2 search pages
    ]
    floor = tracker_floors(fetches, LIMITS)["github"]
    assert floor.requests == 1 + 1 + 3 + 2
    assert floor.searches == 1 + 1 + 2
    assert floor.longest_chain == 3


def test_wall_floor_is_latency_bound_by_chain_or_concurrency() -> None:
    one_long = tracker_floors([FloorFetch("jira", "items", 1_000)], LIMITS)["jira"]
    assert one_long.wall_s("jira", LIMITS) == pytest.approx(10 * 0.1)  # a chain of 10 pages
    many = [FloorFetch("jira", "count", 10) for _ in range(20)]
    spread = tracker_floors(many, LIMITS)["jira"]
    assert spread.wall_s("jira", LIMITS) == pytest.approx(5 * 0.1)  # 20 requests over 4


def test_wall_floor_waits_for_the_search_budget() -> None:
    searches = [FloorFetch("github", "count", 1, search=True) for _ in range(61)]
    floor = tracker_floors(searches, LIMITS)["github"]
    # 30 searches in the first minute, 30 in the second, the 61st in the third.
    assert floor.wall_s("github", LIMITS) == pytest.approx(2 * 60 + 0.1)
    faster = FloorLimits(latency_s=0.1, concurrency={"github": 4}, time_scale=20)
    assert floor.wall_s("github", faster) == pytest.approx(2 * 3 + 0.1)


def test_results_keep_totals_and_add_per_tracker() -> None:
    fetches = [FloorFetch("jira", "items", 250), FloorFetch("github", "items", 50)]
    figures = floor_figures(fetches, LIMITS)
    assert figures["requests"] == {"jira": 3, "github": 1, "total": 4}
    assert figures["selectors"] == 2
    assert figures["per_tracker"]["jira"]["requests"] == 3
    assert figures["per_tracker"]["jira"]["wall_s"] == pytest.approx(0.3)
    assert figures["per_tracker"]["github"]["wall_s"] == pytest.approx(0.1)
    assert figures["wall_s"] == pytest.approx(0.3)  # the trackers are asked at the same time


def _listing(*entries: tuple[str, bool, bool]) -> RepositoryListing:
    """Entries (updated on day, open, pull request) of one repository's issue listing."""
    return RepositoryListing(
        tuple(
            ListingEntry(moment, is_open, pull, created_at=moment)  # created when last updated
            for day, is_open, pull in entries
            for moment in [datetime.fromisoformat(day).replace(tzinfo=UTC)]
        )
    )


def _listed(
    kind: ItemKind, state: str = "all", created: str | None = None, closed: str | None = None
) -> ListedSelector:
    window = {
        name: DateWindow(date.fromisoformat(start), date(2026, 12, 31))
        for name, start in (("created", created), ("closed", closed))
        if start is not None
    }
    selector = GitHubListSelector("Acme/App", kind, state, **window)  # type: ignore[arg-type]
    return ListedSelector.of(selector)


# acme/app: 150 issues updated since July (40 of them in October), 300 older closed ones,
# and 30 open pull requests updated in November, which the issue listing lists too.
APP = _listing(
    *[("2026-10-15", False, False)] * 40,
    *[("2026-08-01", False, False)] * 110,
    *[("2025-01-01", False, False)] * 300,
    *[("2026-11-01", True, True)] * 30,
)


def test_two_list_selectors_on_one_repository_share_one_listing() -> None:
    created = _listed("issue", created="2026-10-01")
    closed = _listed("issue", closed="2026-07-01")
    fetches = [
        FloorFetch("github", "items", 40, listed=created),  # on its own: 1 page
        FloorFetch("github", "items", 110, listed=closed),  # on its own: 2 pages
    ]
    floor = tracker_floors(fetches, LIMITS, {"acme/app": APP})["github"]
    # One listing by last update down to July 1st: 150 issues and 30 pull requests, 2 pages.
    assert (floor.requests, floor.searches, floor.longest_chain) == (2, 0, 2)
    # Each on its own (the floor before listings were shared): 1 page and 2 pages; so is
    # the listing down to October 1st (40 issues, 30 pull requests) and the closed ones.
    assert tracker_floors(fetches, LIMITS)["github"].requests == 3


def test_open_only_selectors_read_the_open_listing_when_it_is_shorter() -> None:
    old = _listing(*[("2024-01-01", False, False)] * 1_000, *[("2026-11-01", True, False)] * 5)
    fetches = [
        FloorFetch("github", "items", 5, listed=_listed("issue", "open")),
        FloorFetch("github", "items", 5, listed=_listed("issue", "open", created="2026-01-01")),
    ]
    floor = tracker_floors(fetches, LIMITS, {"acme/app": old})["github"]
    assert floor.requests == 1  # the open listing, not 11 pages of every issue


def test_a_count_no_listing_needs_is_one_search() -> None:
    fetches = [
        FloorFetch("github", "count", 450, listed=_listed("issue")),  # every issue: 5 pages
        FloorFetch("github", "items", 30, listed=_listed("pull_request", "open")),
    ]
    floor = tracker_floors(fetches, LIMITS, {"acme/app": APP})["github"]
    assert (floor.requests, floor.searches) == (1 + 1, 1)


def test_the_pull_request_listing_skips_issues_and_the_issue_listing_does_not() -> None:
    assert APP.pages_since("pull_request", None) == 1  # 30 pull requests
    assert APP.pages_since("issue", None) == 5  # 450 issues and 30 pull requests
    assert APP.pages_since("issue", datetime(2026, 10, 1, tzinfo=UTC)) == 1  # 40 and 30
    assert APP.open_pages("issue") == 1  # an empty or short listing is still one request


def _entries(count: int, updated: str, *, created: str, is_open: bool) -> list[ListingEntry]:
    moment = datetime.fromisoformat(updated).replace(tzinfo=UTC)
    made = datetime.fromisoformat(created).replace(tzinfo=UTC)
    return [ListingEntry(moment, is_open, True, created_at=made)] * count


def test_closed_selectors_read_the_closed_listing_and_created_ones_the_listing_by_creation() -> (
    None
):
    # 60 pull requests closed since October, 50 open ones updated since, 100 old ones updated
    # since October (a comment), 300 older.
    repo = RepositoryListing(
        tuple(
            _entries(60, "2026-10-20", created="2026-10-10", is_open=False)
            + _entries(50, "2026-10-20", created="2025-01-01", is_open=True)
            + _entries(100, "2026-10-15", created="2025-01-01", is_open=False)
            + _entries(300, "2025-06-01", created="2025-01-01", is_open=False)
        )
    )
    closed = [
        FloorFetch("github", "items", 60, listed=_listed("pull_request", closed="2026-10-01")),
        FloorFetch("github", "items", 40, listed=_listed("pull_request", closed="2026-10-05")),
        FloorFetch("github", "items", 50, listed=_listed("pull_request", "closed", "2026-10-01")),
    ]
    # each on its own: 3 pages; by last update since October, every state: 210 entries, 3
    # pages; closed alone: 160 entries, 2 pages
    assert tracker_floors(closed, LIMITS, {"acme/app": repo})["github"].requests == 2
    created = [
        FloorFetch("github", "items", 60, listed=_listed("pull_request", created="2026-10-01")),
        FloorFetch("github", "items", 60, listed=_listed("pull_request", created="2026-10-05")),
    ]
    # by creation since October: 60 entries, 1 page (each on its own: 2; by last update: 3)
    assert tracker_floors(created, LIMITS, {"acme/app": repo})["github"].requests == 1
