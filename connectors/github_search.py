"""GitHub's issue search: counts from `total_count`, and every item of a search.

Counts are the search body's `total_count` (PyGithub's `totalCount` reads the last page
number of the Link header and so stops at 1,000). Items of a search are paged in created
order; past GitHub's 1,000-result cap the query is narrowed with `created:>=<last seen>`
and paged again, so every item is reached.
"""

from __future__ import annotations

import logging
from datetime import datetime

from connectors.base import ConnectorError, WorkItem
from connectors.github_errors import IncompleteResults
from connectors.github_http import GitHubHttp
from connectors.github_items import from_issue, iso

log = logging.getLogger(__name__)

SEARCH_CAP = 1000  # GitHub serves at most this many results of one search


def search_total(http: GitHubHttp, query: str) -> int:
    def ask() -> int:
        _, body = http.get_json("/search/issues", {"q": query, "per_page": 1})
        if body.get("incomplete_results"):
            raise IncompleteResults(query)
        return int(body["total_count"])

    with http.errors.translating("the search", query=query), http.searching():
        return http.retry_garbled("the search", ask)


def search_items(http: GitHubHttp, query: str) -> list[WorkItem]:
    """All items of a search, past the 1,000 cap by restarting from the last created time."""
    found: dict[str, WorkItem] = {}
    lower: datetime | None = None
    while True:
        narrowed = query if lower is None else f"{query} created:>={iso(lower)}"
        total, batch = search_round(http, narrowed)
        for item in batch:
            found[item.key] = item
        if total <= len(batch) or not batch:
            break
        newest = batch[-1].created_at
        if lower is not None and newest <= lower:
            raise ConnectorError(
                f"more than {SEARCH_CAP} items of {query!r} share one creation time; "
                "GitHub's search cannot reach them all",
            )
        log.debug("search %r: %d items, continuing from %s", query, total, iso(newest))
        lower = newest
    return sorted(found.values(), key=lambda item: (item.created_at, item.key))


def search_round(http: GitHubHttp, query: str) -> tuple[int, list[WorkItem]]:
    """One query's reachable results (<= 1,000), oldest first, and its true total."""

    def ask() -> tuple[int, list[WorkItem]]:
        results = http.client.search_issues(query, sort="created", order="asc")
        page = results.get_page(0)
        total = results.totalCount  # the body's total_count once a page is read
        if results.incomplete_results:
            raise IncompleteResults(query)
        batch = [from_issue(issue) for issue in page]
        reachable = min(total, SEARCH_CAP)
        number = 1
        while page and len(batch) < reachable:
            page = results.get_page(number)
            batch += [from_issue(issue) for issue in page]
            number += 1
        return total, batch

    with http.errors.translating("the search", query=query), http.searching():
        return http.retry_garbled("the search", ask)
