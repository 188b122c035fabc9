"""A GitHub listing's later pages from its first page's listing, only when the sandbox is
asked to (the benchmark's big repository); by default every page sees the data as it is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from werkzeug.test import Client

from sandbox.github_api import GitHubApp
from sandbox.github_data import build_github_dataset
from sandbox.listing_reuse import ListingReuse
from sandbox.server import SANDBOX_GITHUB_TOKEN
from tests.conftest import ANCHOR

AUTH = {"Authorization": f"token {SANDBOX_GITHUB_TOKEN}"}
PAGE = {"state": "closed", "per_page": "10"}


def _client(reuse_s: float) -> tuple[Client, GitHubApp]:
    data = build_github_dataset(seed=7, anchor=ANCHOR, n_repos=1, n_pulls=60, n_issues=5)
    app = GitHubApp(data, token=SANDBOX_GITHUB_TOKEN, listing_reuse_s=reuse_s)
    return Client(app), app


def _numbers(client: Client, page: int) -> list[int]:
    response = client.get(
        "/repos/acme/api/pulls", query_string={**PAGE, "page": str(page)}, headers=AUTH
    )
    assert response.status_code == 200
    body: list[dict[str, Any]] = response.get_json()
    return [pull["number"] for pull in body]


def _newest_closed_reopened(app: GitHubApp) -> int:
    """Reopen the newest closed pull request: every later page of `closed` shifts by one."""
    closed = [p for p in app.data.pulls if p.state == "closed"]
    newest = max(closed, key=lambda p: p.created_at)
    newest.state, newest.closed_at, newest.merged_at = "open", None, None
    newest.updated_at = ANCHOR + timedelta(minutes=1)
    return newest.number


def test_by_default_every_page_sees_the_data_as_it_is() -> None:
    client, app = _client(0.0)
    before = _numbers(client, 2)
    _newest_closed_reopened(app)
    assert _numbers(client, 2) != before  # shifted by the reopened one


def test_with_reuse_later_pages_come_from_the_first_pages_listing() -> None:
    client, app = _client(60.0)
    first = _numbers(client, 1)
    second = _numbers(client, 2)
    reopened = _newest_closed_reopened(app)
    assert _numbers(client, 2) == second  # the listing page 1 computed
    fresh = _numbers(client, 1)  # a listing from its first page sees the data as it is
    assert reopened in first and reopened not in fresh
    assert _numbers(client, 2) != second


def test_reuse_ends_with_its_window() -> None:
    computed: list[int] = []

    def compute() -> list[int]:
        computed.append(1)
        return [len(computed)]

    reuse = ListingReuse(window_s=0.0)
    assert reuse.listing("k", 2, compute) == [1] and reuse.listing("k", 2, compute) == [2]
    windowed = ListingReuse(window_s=60.0)
    assert windowed.listing("k", 1, compute) == [3]
    assert windowed.listing("k", 2, compute) == [3]  # reused
    assert windowed.listing("other", 2, compute) == [4]  # nothing to reuse: computed
