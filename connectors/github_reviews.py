"""Reviews of pull requests, for `first_review_at` and `approved`: one request per pull
request, so fetched only when a metric asks for them, a few pull requests at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial

from github.PaginatedList import PaginatedList
from github.PullRequestReview import PullRequestReview

from connectors.base import WorkItem
from connectors.github_http import GitHubHttp


def add_reviews(http: GitHubHttp, pulls: list[WorkItem], workers: int) -> None:
    """Fill first_review_at and extra["approved"]: one reviews request per pull request."""
    if not pulls:
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="gh-reviews") as pool:
        for item, reviews in zip(pulls, pool.map(partial(_reviews_of, http), pulls), strict=True):
            submitted = [
                r.submitted_at
                for r in reviews
                if r.state != "PENDING" and r.submitted_at is not None
            ]
            item.first_review_at = min(submitted, default=None)
            item.extra["approved"] = any(
                r.state == "APPROVED"
                and r.submitted_at is not None
                and (item.merged_at is None or r.submitted_at <= item.merged_at)
                for r in reviews
            )


def review_log(http: GitHubHttp, item: WorkItem) -> list[tuple[datetime, str]]:
    """A pull request's submitted reviews as (submitted_at, state), oldest first."""
    reviews = _reviews_of(http, item)
    return sorted(
        (r.submitted_at, r.state)
        for r in reviews
        if r.state != "PENDING" and r.submitted_at is not None
    )


def _reviews_of(http: GitHubHttp, item: WorkItem) -> list[PullRequestReview]:
    repo, _, number = item.key.partition("#")
    with http.errors.translating(f"repository {repo}"):
        listing = PaginatedList(
            PullRequestReview,
            http.client.requester,
            f"/repos/{repo}/pulls/{number}/reviews",
            None,
        )
        return http.retry_garbled(f"reviews of {item.key}", partial(list, listing))
