"""GitHub connector: counts and work items from the search API and repository lists, via PyGithub.

The pieces, each in its module: the HTTP layer (`github_http`: a client per thread, every
request counted, paced and retried; `github_errors`: failures a person can act on), the
search (`github_search`: counts from `total_count`, items past the 1,000 cap), repository
listings (`github_listings`, which check that a repository has not moved), what a list
selector asks for (`github_selectors`), the conversion to WorkItems (`github_items`) and
reviews (`github_reviews`: one request per pull request, only when a metric asks for
`first_review_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Literal

from pydantic import SecretStr

from connectors.base import (
    NEEDS_FIRST_REVIEW,
    GitHubListSelector,
    GitHubSearchSelector,
    ItemKind,
    QueryError,
    Selector,
    WorkItem,
)
from connectors.changes import ChangeFeed
from connectors.github_changes import GitHubChangeFeed
from connectors.github_history import TimelinesRead, rebuild_history
from connectors.github_http import GitHubHttp
from connectors.github_items import iso
from connectors.github_listings import list_repository, listed_issues, listed_pulls
from connectors.github_reviews import add_reviews
from connectors.github_search import search_items, search_round, search_total
from connectors.github_selectors import search_query_for, validate
from connectors.history import SelectorHistory, Unrebuildable
from connectors.ratelimit import RateGovernor
from connectors.retry import RetryPolicy


class GitHubConnector:
    """Reads GitHub (public, Enterprise or the sandbox) through PyGithub."""

    source = "github"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: SecretStr | None = None,
        timeout: float = 30.0,
        per_page: int = 100,
        retry: RetryPolicy | None = None,
        request_interval_s: float | None = None,
        review_workers: int = 4,
        governor: RateGovernor | None = None,
    ) -> None:
        """`retry`: the run's retry policy (default `RetryPolicy()`); `request_interval_s`
        None: PyGithub's 0.25 s pause on api.github.com, none elsewhere."""
        self._token = token.get_secret_value() if token is not None else None
        self._http = GitHubHttp(
            base_url=base_url,
            token=self._token,
            timeout=timeout,
            per_page=per_page,
            retry=retry,
            request_interval_s=request_interval_s,
            governor=governor,
        )
        self.base_url = self._http.base_url
        self.governor = self._http.governor
        self._review_workers = max(1, review_workers)
        self._timelines_read: TimelinesRead = {}  # backfill's, kept for the connector's life

    def item_shape(self, needs: frozenset[str]) -> frozenset[str]:
        """What, besides the query and the fields asked, shapes the items this returns."""
        return frozenset({f"site={self.base_url}"})

    def change_feed(self) -> ChangeFeed:
        return GitHubChangeFeed(self)

    # ------------------------------------------------------------ Connector protocol

    @property
    def requests_made(self) -> int:
        return self._http.requests_made

    def close(self) -> None:
        self._http.close()

    def check(self) -> str:
        http = self._http
        with http.errors.translating("the API"):
            if self._token:
                user = http.retry_garbled("/user", lambda: http.get_json("/user")[1])
                return f"GitHub at {self.base_url} as {user['login']}"
            limits = http.retry_garbled("/rate_limit", lambda: http.get_json("/rate_limit")[1])
            core = limits["resources"]["core"]
            return f"GitHub at {self.base_url} (anonymous, {core['remaining']} requests left)"

    def count(self, selector: Selector) -> int:
        if isinstance(selector, GitHubSearchSelector):
            return search_total(self._http, selector.query)
        if isinstance(selector, GitHubListSelector):
            validate(selector)
            return search_total(self._http, search_query_for(selector))
        raise QueryError(f"the GitHub connector cannot read {selector.source} selectors")

    def check_query(self, selector: Selector) -> None:
        """A count is already one search request of one result: a refused query or a missing
        repository fails as in a sync."""
        self.count(selector)

    def check_fields(self, needs: frozenset[str]) -> None:
        """Nothing to ask: the mapping file's names were checked against SOURCE_FIELDS."""

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        if isinstance(selector, GitHubSearchSelector):
            found = search_items(self._http, selector.query)
        elif isinstance(selector, GitHubListSelector):
            validate(selector)
            with self._http.errors.translating(f"repository {selector.repo}"):
                listed = listed_pulls if selector.kind == "pull_request" else listed_issues
                found = self._http.retry_garbled(
                    selector.describe(), partial(listed, self._http, selector)
                )
        else:
            raise QueryError(f"the GitHub connector cannot read {selector.source} selectors")
        if NEEDS_FIRST_REVIEW in needs:
            self._add_reviews(found)
        return found

    # ------------------------------------------------------------ backfill

    def history(
        self, selectors: Sequence[Selector], since: datetime, needs: frozenset[str]
    ) -> dict[Selector, SelectorHistory | Unrebuildable]:
        """Each selector's past answers since `since` (see `github_history`)."""
        return rebuild_history(
            self._http, selectors, since, needs, self._review_workers, self._timelines_read
        )

    # ------------------------------------------------------------ incremental sync

    def list_repository(
        self,
        repo: str,
        kind: ItemKind,
        *,
        updated_from: datetime | None,
        needs: frozenset[str] = frozenset(),
        state: Literal["open", "closed", "all"] = "all",
        created_from: datetime | None = None,
    ) -> list[WorkItem]:
        """Every issue or pull request of `repo` updated at or after `updated_from` (None: all),
        of one state only when `state` is "open" or "closed"; see
        `github_listings.list_repository`."""
        found = list_repository(
            self._http,
            repo,
            kind,
            updated_from=updated_from,
            state=state,
            created_from=created_from,
        )
        if NEEDS_FIRST_REVIEW in needs:
            self._add_reviews(found)
        return found

    def changed_repositories(
        self, owners: list[str], since: datetime
    ) -> set[tuple[str, ItemKind]] | None:
        """(lower-case owner/name, kind) of `owners`' items updated since `since`.

        One search per owner; None when GitHub cannot list them all (over 1,000 changes),
        so the caller must treat every repository as changed.
        """
        changed: set[tuple[str, ItemKind]] = set()
        for owner in sorted(set(owners)):
            query = f"org:{owner} updated:>={iso(since)}"
            total, batch = search_round(self._http, query)
            if total > len(batch):
                return None
            changed |= {(item.container.lower(), item.kind) for item in batch if item.container}
        return changed

    def _add_reviews(self, found: list[WorkItem]) -> None:
        pulls = [item for item in found if item.kind == "pull_request"]
        add_reviews(self._http, pulls, self._review_workers)
