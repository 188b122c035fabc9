"""Floors per tracker from the APIs' documented page limits and GitHub's search budget."""

from __future__ import annotations

import pytest

from bench.floor import FloorFetch, FloorLimits, floor_figures, tracker_floors

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
