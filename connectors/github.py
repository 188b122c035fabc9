"""GitHub connector: counts and work items from the search API and repository lists, via PyGithub.

Counts are the search body's `total_count` (PyGithub's `totalCount` reads the last page
number of the Link header and so stops at 1,000). Items of a search are paged in created
order; past GitHub's 1,000-result cap the query is narrowed with `created:>=<last seen>`
and paged again, so every item is reached. Reviews cost one request per pull request and
are only fetched when a metric asks for `first_review_at`.

Every HTTP request is counted (`requests_made`): each call the requester makes passes the
authentication hook once, and each retry urllib3 makes passes the retry policy once.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from operator import attrgetter
from types import TracebackType
from typing import Any, NoReturn, Self, TypeVar, cast

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.GithubException import (
    BadCredentialsException,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.GithubObject import NotSet
from github.Issue import Issue
from github.IssuePullRequest import IssuePullRequest
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest
from github.PullRequestReview import PullRequestReview
from pydantic import SecretStr
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, NewConnectionError, ResponseError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse, HTTPResponse

from connectors.base import (
    NEEDS_FIRST_REVIEW,
    AuthError,
    ConnectorError,
    DateWindow,
    GitHubListSelector,
    GitHubSearchSelector,
    ItemKind,
    QueryError,
    Selector,
    WorkItem,
)
from connectors.changes import ChangeFeed
from connectors.ratelimit import RateBudgetExceeded, RateGovernor
from connectors.redact import redact
from connectors.retry import RETRIED_STATUSES, RetryClock, RetryPolicy, retrying

log = logging.getLogger(__name__)

T = TypeVar("T")

PUBLIC_API_URL = "https://api.github.com"
SEARCH_CAP = 1000  # GitHub serves at most this many results of one search
RATE_LIMIT_MAX_WAIT_S = 90.0  # wait for a search window to reset, not for an hourly one
PUBLIC_REQUEST_INTERVAL_S = 0.25  # PyGithub's courtesy pause, kept for api.github.com
TOKEN_HINT = "check OKRSYNC_GITHUB__TOKEN"


class RequestTally:
    """A thread-safe count of HTTP requests sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


class CountingTokenAuth(Auth.Auth):
    """Token auth (or none) that tallies every request the requester sends.

    It is also the one place PyGithub calls before every request, so it asks the rate
    governor for the resource the calling thread is about to use (core unless a search).
    """

    def __init__(
        self,
        token: str | None,
        tally: RequestTally,
        governor: RateGovernor | None = None,
        resource: threading.local | None = None,
    ) -> None:
        self._token = token
        self._tally = tally
        self._governor = governor
        self._resource = resource

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self._token or ""

    def authentication(self, headers: dict[str, str]) -> None:
        if self._governor is not None:
            resource = getattr(self._resource, "name", "core")
            try:
                self._governor.acquire(resource)
            except RateBudgetExceeded as exc:
                raise ConnectorError(str(exc), retryable=True) from None
        self._tally.add()
        if self._token:
            headers["Authorization"] = f"token {self._token}"

    def mask_authentication(self, headers: dict[str, str]) -> None:
        if "Authorization" in headers:
            headers["Authorization"] = self._masked_token

    @property
    def _masked_token(self) -> str:
        return "token (removed)"


class CountingRetry(GithubRetry):
    """PyGithub's retry (5xx, rate-limit 403) on okr-sync's policy: 429 too, a refused
    connection not at all, no retry past the run's budget; each retry tallied."""

    def __init__(self, *, tally: RequestTally, clock: RetryClock, **kwargs: Any) -> None:
        self.tally = tally
        self.clock = clock
        super().__init__(**kwargs)

    @classmethod
    def on_policy(cls, tally: RequestTally, clock: RetryClock) -> CountingRetry:
        policy = clock.policy
        return cls(
            tally=tally,
            clock=clock,
            total=policy.retries,
            connect=0,  # refused: nobody listens, fail at once
            backoff_factor=policy.backoff_s,
            backoff_max=policy.backoff_max_s,
            backoff_jitter=policy.backoff_s,
            status_forcelist=sorted(RETRIED_STATUSES),
            max_rate_limit_wait=RATE_LIMIT_MAX_WAIT_S,
        )

    def new(self, **kw: Any) -> CountingRetry:
        kw["tally"] = self.tally
        kw["clock"] = self.clock
        return super().new(**kw)

    def parse_retry_after(self, retry_after: str) -> float:
        """A server may ask for hours; a sync waits at most the policy's cap, then fails."""
        cap = self.clock.policy.retry_after_max_s
        return min(super().parse_retry_after(retry_after), cap)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        github_response = cast("HTTPResponse | None", response)  # GithubRetry's narrower type
        retry = super().increment(method, url, github_response, error, _pool, _stacktrace)
        pause = retry.get_backoff_time()
        if response is not None:
            pause = max(pause, retry.get_retry_after(response) or 0.0)
        if not self.clock.allows(pause):
            reason = error or ResponseError("the run's retry budget is spent")
            raise MaxRetryError(cast(ConnectionPool, _pool), url, reason)
        self.tally.add()  # one more attempt will be sent
        return cast(Self, retry)


def _window_bounds(window: DateWindow) -> tuple[datetime, datetime]:
    """The instants [start, end) of an inclusive range of UTC days."""
    start = datetime.combine(window.start, time(0), tzinfo=UTC)
    if window.end == date.max:  # open-ended (e.g. merged at any time): there is no next day
        return start, datetime.max.replace(tzinfo=UTC)
    end = datetime.combine(window.end, time(0), tzinfo=UTC) + timedelta(days=1)
    return start, end


def _in_window(moment: datetime | None, window: DateWindow | None) -> bool:
    if window is None:
        return True
    if moment is None:
        return False
    start, end = _window_bounds(window)
    return start <= moment < end


def search_query_for(selector: GitHubListSelector) -> str:
    """The search query that matches what a structured list selector asks for."""
    parts = [f"repo:{selector.repo}", "is:pr" if selector.kind == "pull_request" else "is:issue"]
    if selector.state != "all":
        parts.append(f"is:{selector.state}")
    if selector.merged is not None:
        parts.append("is:merged")
    parts += [f'label:"{label}"' for label in selector.labels]
    for name in ("created", "closed", "merged"):
        window: DateWindow | None = getattr(selector, name)
        if window is not None:
            parts.append(f"{name}:{window.as_github_range()}")
    return " ".join(parts)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _repo_of(repository_url: str) -> str:
    """`.../repos/acme/api` (api.github.com, Enterprise or sandbox) -> `acme/api`."""
    return repository_url.rsplit("/repos/", 1)[-1].strip("/")


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
        self.base_url = (base_url or PUBLIC_API_URL).rstrip("/")
        self._token = token.get_secret_value() if token is not None else None
        self._timeout = timeout
        self._per_page = max(1, min(per_page, 100))
        self._retry_clock = RetryClock(retry or RetryPolicy())
        self._review_workers = max(1, review_workers)
        self._tally = RequestTally()
        self.governor = governor or RateGovernor("github")
        self._resource = threading.local()  # which budget this thread's next request uses
        if request_interval_s is None and self.base_url == PUBLIC_API_URL:
            request_interval_s = PUBLIC_REQUEST_INTERVAL_S
        self._request_interval_s = request_interval_s
        self._clients = threading.local()
        self._all_clients: list[Github] = []
        self._clients_lock = threading.Lock()

    @property
    def _github(self) -> Github:
        """This thread's PyGithub client.

        PyGithub's Requester keeps one connection object whose `request()` stores the verb
        and URL that `getresponse()` then sends: two threads sharing a client can each get
        the other's answer (found by the differential test: one search's count came back
        as another's). So every thread that fetches has a client of its own.
        """
        client: Github | None = getattr(self._clients, "github", None)
        if client is None:
            client = Github(
                auth=CountingTokenAuth(self._token, self._tally, self.governor, self._resource),
                base_url=self.base_url,
                timeout=max(1, math.ceil(self._timeout)),
                per_page=self._per_page,
                retry=CountingRetry.on_policy(self._tally, self._retry_clock),
                seconds_between_requests=self._request_interval_s or None,
                lazy=True,
            )
            # PyGithub reads X-RateLimit-* into one (resource-blind) pair; every answer also
            # passes this debug hook with all its headers, so the governor learns per resource.
            client.requester.DEBUG_ON_RESPONSE = self._observe_response  # type: ignore[method-assign,assignment]
            self._clients.github = client
            with self._clients_lock:
                self._all_clients.append(client)
        return client

    def item_shape(self, needs: frozenset[str]) -> frozenset[str]:
        """What, besides the query and the fields asked, shapes the items this returns."""
        return frozenset({f"site={self.base_url}"})

    def change_feed(self) -> ChangeFeed:
        # Imported here: the feed is built on this module's selector functions.
        from connectors.github_changes import GitHubChangeFeed

        return GitHubChangeFeed(self)

    def _observe_response(self, status: int, headers: dict[str, Any], data: object) -> None:
        self.governor.observe(status, {str(k): str(v) for k, v in headers.items()})

    @contextmanager
    def _searching(self) -> Iterator[None]:
        """Requests this thread sends inside are charged to the search budget."""
        self._resource.name = "search"
        try:
            yield
        finally:
            self._resource.name = "core"

    # ------------------------------------------------------------ Connector protocol

    @property
    def requests_made(self) -> int:
        return self._tally.count

    def close(self) -> None:
        with self._clients_lock:
            clients, self._all_clients = self._all_clients, []
        for client in clients:
            client.close()

    def check(self) -> str:
        with self._errors("the API"):
            if self._token:
                user = self._retry_garbled("/user", lambda: self._get_json("/user")[1])
                return f"GitHub at {self.base_url} as {user['login']}"
            limits = self._retry_garbled("/rate_limit", lambda: self._get_json("/rate_limit")[1])
            core = limits["resources"]["core"]
            return f"GitHub at {self.base_url} (anonymous, {core['remaining']} requests left)"

    def count(self, selector: Selector) -> int:
        if isinstance(selector, GitHubSearchSelector):
            return self._search_total(selector.query)
        if isinstance(selector, GitHubListSelector):
            self._validate(selector)
            return self._search_total(search_query_for(selector))
        raise QueryError(f"the GitHub connector cannot read {selector.source} selectors")

    def check_query(self, selector: Selector) -> None:
        """A count is already one search request of one result: a refused query or a missing
        repository fails as in a sync."""
        self.count(selector)

    def check_fields(self, needs: frozenset[str]) -> None:
        """Nothing to ask: the mapping file's names were checked against SOURCE_FIELDS."""

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        if isinstance(selector, GitHubSearchSelector):
            found = self._search_items(selector.query)
        elif isinstance(selector, GitHubListSelector):
            self._validate(selector)
            with self._errors(f"repository {selector.repo}"):
                listed = (
                    self._listed_pulls if selector.kind == "pull_request" else self._listed_issues
                )
                found = self._retry_garbled(selector.describe(), partial(listed, selector))
        else:
            raise QueryError(f"the GitHub connector cannot read {selector.source} selectors")
        if NEEDS_FIRST_REVIEW in needs:
            self._add_reviews([item for item in found if item.kind == "pull_request"])
        return found

    # ------------------------------------------------------------ incremental sync

    def list_repository(
        self,
        repo: str,
        kind: ItemKind,
        *,
        updated_from: datetime | None,
        needs: frozenset[str] = frozenset(),
    ) -> list[WorkItem]:
        """Every issue or pull request of `repo` updated at or after `updated_from` (None: all).

        One listing serves every list selector on the repository (`filter_listed` picks each
        one's items locally), and the same call, with the last run's time, fetches only what
        changed since: the listing is sorted by last update, newest first, and stops there.
        """
        if repo.count("/") != 1:
            raise QueryError(f"{repo!r} is not an owner/name repository")
        found: list[WorkItem] = []
        order = {"state": "all", "sort": "updated", "direction": "desc"}
        everything = updated_from is None  # an empty answer since a moment is no sign
        with self._errors(f"repository {repo}"):
            if kind == "pull_request":
                pulls = self._json_listing(f"/repos/{repo}/pulls", order)
                for pull in self._living_in(repo, pulls, _api_url, check_empty=everything):
                    item = _listed_pull(pull, repo)
                    if updated_from is not None and item.updated_at < updated_from:
                        break
                    found.append(item)
            else:
                since = {"since": _iso(updated_from)} if updated_from is not None else {}
                issues = self._json_listing(f"/repos/{repo}/issues", order | since)
                for issue in self._living_in(repo, issues, _api_url, check_empty=everything):
                    moment = _github_time(issue["updated_at"])
                    if updated_from is not None and moment is not None and moment < updated_from:
                        break
                    if "pull_request" not in issue:  # the issues list includes pull requests
                        found.append(_listed_issue(issue, repo))
        found = _distinct(found)
        if NEEDS_FIRST_REVIEW in needs:
            self._add_reviews([item for item in found if item.kind == "pull_request"])
        return found

    def _living_in(
        self,
        repo: str,
        listing: Iterable[T],
        api_url: Callable[[T], str],
        *,
        check_empty: bool = True,
    ) -> Iterator[T]:
        """A listing's items, each checked to live in `repo`; an empty listing is checked
        against the repository's own name.

        GitHub answers a renamed or transferred repository's old name with a redirect, and
        PyGithub follows it without the listing's parameters (state, sort, since, labels):
        the answer would hold other items, or none, with nothing to show it.
        """
        listed = False
        for item in listing:
            listed = True
            home = _repo_of(api_url(item).rsplit("/", 2)[0])
            if home.lower() != repo.lower():
                raise QueryError(_moved(repo, home))
            yield item
        if listed or not check_empty:
            return
        _, body = self._get_json(f"/repos/{repo}")
        home = str(body.get("full_name") or repo)
        if home.lower() != repo.lower():
            raise QueryError(_moved(repo, home))

    def _json_listing(self, path: str, parameters: dict[str, str]) -> Iterator[dict[str, Any]]:
        """A paginated list's items as JSON, following the Link header's `next`.

        A repository listing needs a dozen fields of each item; PyGithub's objects parse
        every field and nested object, which cost about half of a first run's CPU.
        """
        url: str | None = path
        query: dict[str, Any] | None = {**parameters, "per_page": self._per_page}
        while url is not None:
            headers, page = self._retry_garbled(
                "a listing page", partial(self._get_json, url, query, list)
            )
            yield from page
            link = next((v for k, v in headers.items() if k.lower() == "link"), "")
            url = _next_link(str(link))
            query = None  # the next link carries the parameters

    def changed_repositories(
        self, owners: list[str], since: datetime
    ) -> set[tuple[str, ItemKind]] | None:
        """(lower-case owner/name, kind) of `owners`' items updated since `since`.

        One search per owner; None when GitHub cannot list them all (over 1,000 changes),
        so the caller must treat every repository as changed.
        """
        changed: set[tuple[str, ItemKind]] = set()
        for owner in sorted(set(owners)):
            query = f"org:{owner} updated:>={_iso(since)}"
            total, batch = self._search_round(query)
            if total > len(batch):
                return None
            changed |= {(item.container.lower(), item.kind) for item in batch if item.container}
        return changed

    # ------------------------------------------------------------ search

    def _search_total(self, query: str) -> int:
        def ask() -> int:
            _, body = self._get_json("/search/issues", {"q": query, "per_page": 1})
            if body.get("incomplete_results"):
                raise IncompleteResults(query)
            return int(body["total_count"])

        with self._errors("the search", query=query), self._searching():
            return self._retry_garbled("the search", ask)

    def _search_items(self, query: str) -> list[WorkItem]:
        """All items of a search, past the 1,000 cap by restarting from the last created time."""
        found: dict[str, WorkItem] = {}
        lower: datetime | None = None
        while True:
            narrowed = query if lower is None else f"{query} created:>={_iso(lower)}"
            total, batch = self._search_round(narrowed)
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
            log.debug("search %r: %d items, continuing from %s", query, total, _iso(newest))
            lower = newest
        return sorted(found.values(), key=lambda item: (item.created_at, item.key))

    def _search_round(self, query: str) -> tuple[int, list[WorkItem]]:
        """One query's reachable results (<= 1,000), oldest first, and its true total."""

        def ask() -> tuple[int, list[WorkItem]]:
            results = self._github.search_issues(query, sort="created", order="asc")
            page = results.get_page(0)
            total = results.totalCount  # the body's total_count once a page is read
            if results.incomplete_results:
                raise IncompleteResults(query)
            batch = [self._from_issue(issue) for issue in page]
            reachable = min(total, SEARCH_CAP)
            number = 1
            while page and len(batch) < reachable:
                page = results.get_page(number)
                batch += [self._from_issue(issue) for issue in page]
                number += 1
            return total, batch

        with self._errors("the search", query=query), self._searching():
            return self._retry_garbled("the search", ask)

    # ------------------------------------------------------------ repository lists

    def _validate(self, selector: GitHubListSelector) -> None:
        if selector.kind != "pull_request" and selector.merged is not None:
            raise QueryError(f"{selector.describe()}: a merged window needs pull requests")
        if selector.repo.count("/") != 1:
            raise QueryError(f"{selector.repo!r} is not an owner/name repository")

    def _listed_pulls(self, selector: GitHubListSelector) -> list[WorkItem]:
        """Pull requests of one repository, newest first, stopping once the windows are passed."""
        resolved = selector.closed or selector.merged
        if resolved is not None and selector.state == "open":
            return []
        state = "closed" if resolved is not None else selector.state
        sort, horizon = self._list_order(selector)
        wanted = {label.lower() for label in selector.labels}
        repo = self._github.get_repo(selector.repo)
        found: list[WorkItem] = []
        pulls = repo.get_pulls(state=state, sort=sort, direction="desc")
        for pull in self._living_in(selector.repo, pulls, attrgetter("url")):
            moment = pull.created_at if sort == "created" else (pull.updated_at or pull.created_at)
            if horizon is not None and moment < horizon:
                break
            labels = {label.name.lower() for label in pull.labels}
            if not wanted <= labels:
                continue
            if not (
                _in_window(pull.created_at, selector.created)
                and _in_window(pull.closed_at, selector.closed)
                and _in_window(pull.merged_at, selector.merged)
            ):
                continue
            found.append(self._from_pull(pull, selector.repo))
        return _distinct(found)

    def _listed_issues(self, selector: GitHubListSelector) -> list[WorkItem]:
        if selector.closed is not None and selector.state == "open":
            return []
        state = "closed" if selector.closed is not None else selector.state
        sort, horizon = self._list_order(selector)
        repo = self._github.get_repo(selector.repo)
        listing = repo.get_issues(
            state=state,
            labels=list(selector.labels),
            sort=sort,
            direction="desc",
            since=horizon if sort == "updated" and horizon is not None else NotSet,
        )
        found: list[WorkItem] = []
        for issue in self._living_in(selector.repo, listing, attrgetter("url")):
            moment = issue.created_at if sort == "created" else issue.updated_at
            if horizon is not None and moment < horizon:
                break
            if _pull_part(issue) is not None:
                continue  # the issues list includes pull requests
            if _in_window(issue.created_at, selector.created) and _in_window(
                issue.closed_at, selector.closed
            ):
                found.append(self._from_issue(issue, selector.repo))
        return _distinct(found)

    @staticmethod
    def _list_order(selector: GitHubListSelector) -> tuple[str, datetime | None]:
        """Sort newest first by the field that lets the listing stop early, and where to stop.

        A created window stops at its start in created order; a closed or merged window
        stops at its start in updated order (closing or merging updates an item).
        """
        if selector.created is not None:
            return "created", _window_bounds(selector.created)[0]
        windows = [w for w in (selector.closed, selector.merged) if w is not None]
        if windows:
            return "updated", min(_window_bounds(w)[0] for w in windows)
        return "created", None

    # ------------------------------------------------------------ reviews

    def _add_reviews(self, pulls: list[WorkItem]) -> None:
        """Fill first_review_at and extra["approved"]: one reviews request per pull request."""
        if not pulls:
            return
        with ThreadPoolExecutor(self._review_workers, thread_name_prefix="gh-reviews") as pool:
            for item, reviews in zip(pulls, pool.map(self._reviews_of, pulls), strict=True):
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

    def _reviews_of(self, item: WorkItem) -> list[PullRequestReview]:
        repo, _, number = item.key.partition("#")
        with self._errors(f"repository {repo}"):
            listing = PaginatedList(
                PullRequestReview,
                self._github.requester,
                f"/repos/{repo}/pulls/{number}/reviews",
                None,
            )
            return self._retry_garbled(f"reviews of {item.key}", partial(list, listing))

    # ------------------------------------------------------------ conversion

    def _from_issue(self, issue: Issue, repo: str | None = None) -> WorkItem:
        """A work item from an issue or search result (pull requests carry `pull_request`)."""
        full_name = repo or _repo_of(issue.repository_url)
        pull = _pull_part(issue)
        merged_at = pull.merged_at if pull is not None else None
        status = "merged" if merged_at is not None else issue.state
        assignees = issue.assignees
        return WorkItem(
            source=self.source,
            key=f"{full_name}#{issue.number}",
            url=issue.html_url,
            kind="pull_request" if pull is not None else "issue",
            title=issue.title,
            status=status,
            status_category="todo" if issue.state == "open" else "done",
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            resolved_at=merged_at or issue.closed_at,
            merged_at=merged_at,
            started_at=issue.created_at if pull is not None else None,
            labels=tuple(label.name for label in issue.labels),
            assignee=assignees[0].login if assignees else None,
            container=full_name,
            extra={"author": issue.user.login if issue.user else None},
        )

    def _from_pull(self, pull: PullRequest, repo: str) -> WorkItem:
        status = "merged" if pull.merged_at is not None else pull.state
        assignees = pull.assignees
        return WorkItem(
            source=self.source,
            key=f"{repo}#{pull.number}",
            url=pull.html_url,
            kind="pull_request",
            title=pull.title,
            status=status,
            status_category="todo" if pull.state == "open" else "done",
            created_at=pull.created_at,
            updated_at=pull.updated_at or pull.created_at,
            resolved_at=pull.merged_at or pull.closed_at,
            merged_at=pull.merged_at,
            started_at=pull.created_at,
            labels=tuple(label.name for label in pull.labels),
            assignee=assignees[0].login if assignees else None,
            container=repo,
            extra={
                "author": pull.user.login if pull.user else None,
                "draft": pull.draft,
                "base": pull.base.ref,
            },
        )

    # ------------------------------------------------------------ requests and errors

    def _get_json(
        self, url: str, parameters: dict[str, Any] | None = None, shape: type = dict
    ) -> tuple[dict[str, Any], Any]:
        """One GET through PyGithub's requester (its urllib3 retry covers the transport);
        a body of another shape than expected is garbled (PyGithub wraps text in a dict)."""
        headers, body = self._github.requester.requestJsonAndCheck(
            "GET", url, parameters=parameters
        )
        if not isinstance(body, shape):
            raise TypeError(f"expected a JSON {shape.__name__}, got {type(body).__name__}")
        return headers, body

    def _retry_garbled(self, what: str, call: Callable[[], T]) -> T:
        """Ask again, under the run's retry policy, when an answer came but is garbled.

        Statuses and broken connections are retried below, by urllib3; a 200 whose body is
        not the API's JSON (a proxy's page, a body cut short, an incomplete search) only
        shows here. The two never nest: a failure is of one kind or the other.
        """
        attempts = retrying(
            self._retry_clock,
            f"github: {what} (a garbled answer)",
            transient=_garbled,
        )
        return attempts(call)

    # ------------------------------------------------------------ errors

    @contextmanager
    def _errors(self, subject: str, *, query: str | None = None) -> Iterator[None]:
        """Turn PyGithub / requests failures into ConnectorErrors a person can act on."""
        try:
            yield
        except ConnectorError:
            raise
        except IncompleteResults as error:
            self._fail(
                f"GitHub timed out on the search {error.query!r} and returned only part of it",
                retryable=True,
            )
        except GithubException as error:
            self._raise_for_status(error, subject, query)
        except requests.exceptions.Timeout:
            self._fail(
                f"GitHub at {self.base_url} did not answer within {self._timeout:g} s",
                retryable=True,
            )
        except requests.exceptions.RetryError:
            self._fail(
                f"GitHub at {self.base_url} kept failing with server errors "
                f"after {self._retry_clock.policy.retries} retries",
                retryable=True,
            )
        except requests.exceptions.ConnectionError as error:
            if _timed_out(error):
                self._fail(
                    f"GitHub at {self.base_url} did not answer within {self._timeout:g} s",
                    retryable=True,
                )
            self._fail(
                f"cannot reach GitHub at {self.base_url} ({_reason(error)})",
                retryable=True,
            )
        except requests.exceptions.RequestException as error:
            self._fail(f"request to GitHub at {self.base_url} failed ({_reason(error)})", True)
        except (ValueError, KeyError, TypeError, AttributeError, AssertionError) as error:
            log.debug("unexpected answer from GitHub", exc_info=True)
            self._fail(
                f"GitHub at {self.base_url} answered with something that is not the GitHub API "
                f"({type(error).__name__})",
                retryable=True,
            )

    def _raise_for_status(
        self, error: GithubException, subject: str, query: str | None
    ) -> NoReturn:
        status = error.status
        data = error.data if isinstance(error.data, dict) else {}
        message = str(data.get("message") or error.message or "")
        if isinstance(error, BadCredentialsException) or status == 401:
            raise AuthError(
                self._scrub(
                    f"GitHub rejected the token for {self.base_url} (HTTP 401): {TOKEN_HINT}"
                )
            )
        if isinstance(error, RateLimitExceededException) or status == 429:
            self._fail(
                f"GitHub's rate limit at {self.base_url} is used up (HTTP {status}): {message}",
                retryable=True,
            )
        if status == 403:
            raise AuthError(
                self._scrub(
                    f"GitHub refused access to {subject} at {self.base_url} (HTTP 403): "
                    f"{message}; {TOKEN_HINT} and its scopes"
                )
            )
        if isinstance(error, UnknownObjectException) or status == 404:
            self._fail(
                f"GitHub has no {subject} at {self.base_url} (HTTP 404): check the name and "
                "that the token can see it"
            )
        if status == 422:
            details = [
                str(e.get("message") or f"{e.get('field')} {e.get('code')}")
                for e in data.get("errors", [])
                if isinstance(e, dict)
            ]
            text = "; ".join([message, *details]) if details else message
            what = f"the search {query!r}" if query is not None else subject
            raise QueryError(self._scrub(f"GitHub refused {what} (HTTP 422): {text}"))
        self._fail(
            f"GitHub at {self.base_url} answered HTTP {status} for {subject}: {message}",
            retryable=status is not None and status >= 500,
        )

    def _fail(self, message: str, retryable: bool = False) -> NoReturn:
        raise ConnectorError(self._scrub(message), retryable=retryable)

    def _scrub(self, message: str) -> str:
        short = not self._token or len(self._token) < 8  # shorter strings are not real tokens
        return redact(message, None if short else self._token)


def _api_url(raw: dict[str, Any]) -> str:
    return str(raw["url"])


def _moved(repo: str, home: str) -> str:
    return (
        f"GitHub repository {repo} is now {home} (renamed or transferred): "
        "put its new name in the mapping file"
    )


def _pull_part(issue: Issue) -> IssuePullRequest | None:
    """`issue.pull_request`, without its hidden cost: on a plain issue the attribute is
    absent, and PyGithub then fetches the whole issue again to be sure (a request per issue).
    Only a pull request's page is under /pull/."""
    if "/pull/" not in (issue.html_url or ""):
        return None
    return issue.pull_request


def _next_link(header: str) -> str | None:
    """The `rel="next"` URL of a Link header, None on the last page."""
    for link in requests.utils.parse_header_links(header):
        if link.get("rel") == "next":
            return link["url"]
    return None


def _github_time(value: str | None) -> datetime | None:
    """GitHub's `2024-05-01T12:00:00Z` as an aware UTC datetime (as PyGithub gives it)."""
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _required_time(value: str | None) -> datetime:
    moment = _github_time(value)
    if moment is None:
        raise ConnectorError("GitHub listed an item without a creation time")
    return moment


def _logins(users: list[dict[str, Any]] | None) -> str | None:
    return str(users[0]["login"]) if users else None


def _listed_pull(pull: dict[str, Any], repo: str) -> WorkItem:
    """A work item from a pull request of a repository listing (as `_from_pull` makes it)."""
    created = _required_time(pull["created_at"])
    merged_at = _github_time(pull.get("merged_at"))
    user = pull.get("user")
    return WorkItem(
        source="github",
        key=f"{repo}#{pull['number']}",
        url=pull["html_url"],
        kind="pull_request",
        title=pull["title"],
        status="merged" if merged_at is not None else pull["state"],
        status_category="todo" if pull["state"] == "open" else "done",
        created_at=created,
        updated_at=_github_time(pull.get("updated_at")) or created,
        resolved_at=merged_at or _github_time(pull.get("closed_at")),
        merged_at=merged_at,
        started_at=created,
        labels=tuple(label["name"] for label in pull.get("labels") or ()),
        assignee=_logins(pull.get("assignees")),
        container=repo,
        extra={
            "author": user["login"] if user else None,
            "draft": pull.get("draft"),
            "base": (pull.get("base") or {}).get("ref"),
        },
    )


def _listed_issue(issue: dict[str, Any], repo: str) -> WorkItem:
    """A work item from a plain issue of a repository listing (as `_from_issue` makes it)."""
    created = _required_time(issue["created_at"])
    user = issue.get("user")
    return WorkItem(
        source="github",
        key=f"{repo}#{issue['number']}",
        url=issue["html_url"],
        kind="issue",
        title=issue["title"],
        status=issue["state"],
        status_category="todo" if issue["state"] == "open" else "done",
        created_at=created,
        updated_at=_github_time(issue.get("updated_at")) or created,
        resolved_at=_github_time(issue.get("closed_at")),
        merged_at=None,
        started_at=None,
        labels=tuple(label["name"] for label in issue.get("labels") or ()),
        assignee=_logins(issue.get("assignees")),
        container=repo,
        extra={"author": user["login"] if user else None},
    )


def filter_listed(selector: GitHubListSelector, items: list[WorkItem]) -> list[WorkItem]:
    """The items of a repository listing that a list selector asks for, as the API would.

    A closed window reads `resolved_at`: GitHub closes a pull request when it merges it, at
    the same moment, so merged_at or closed_at is the closing time.
    """
    wanted = {label.lower() for label in selector.labels}
    chosen: list[WorkItem] = []
    for item in items:
        if item.kind != selector.kind:
            continue
        if selector.state == "open" and item.status != "open":
            continue
        if selector.state == "closed" and item.status == "open":
            continue
        if (selector.closed is not None or selector.merged is not None) and item.status == "open":
            continue
        if not wanted <= {label.lower() for label in item.labels}:
            continue
        if (
            _in_window(item.created_at, selector.created)
            and _in_window(item.resolved_at, selector.closed)
            and _in_window(item.merged_at, selector.merged)
        ):
            chosen.append(item)
    return chosen


def listing_horizon(selector: GitHubListSelector) -> datetime | None:
    """How far back (by last update) a repository listing must reach to serve `selector`.

    Creating, closing or merging an item updates it, so an item inside a created, closed or
    merged window was updated at or after the window's start.
    """
    starts = [
        _window_bounds(window)[0]
        for window in (selector.created, selector.closed, selector.merged)
        if window is not None
    ]
    return max(starts) if starts else None


def _distinct(items: list[WorkItem]) -> list[WorkItem]:
    """Each item once: one that moves between two page requests is listed twice."""
    by_key: dict[str, WorkItem] = {}
    for item in items:
        by_key.setdefault(item.key, item)
    return list(by_key.values())


def _timed_out(error: requests.exceptions.ConnectionError) -> bool:
    """Read timeouts under a retry policy arrive as a ConnectionError around MaxRetryError.
    urllib3 makes a refused connection a kind of connect timeout too: it is not one, nobody
    listens, and it comes at once, not after the timeout."""
    cause = error.args[0] if error.args else None
    return (
        isinstance(cause, MaxRetryError)
        and isinstance(cause.reason, Urllib3Timeout)
        and not isinstance(cause.reason, NewConnectionError)
    )


def _reason(error: Exception) -> str:
    """The innermost readable cause of a requests error (e.g. `[Errno 111] Connection refused`)."""
    text = str(error)
    match = re.search(r"\[Errno -?\d+\][^')\"]*", text)
    if match:
        return match.group(0).strip()
    return type(error).__name__


class IncompleteResults(Exception):
    """A search answered with `incomplete_results`: GitHub timed out and counted part of it."""

    def __init__(self, query: str) -> None:
        super().__init__(query)
        self.query = query


def _garbled(failure: BaseException) -> bool:
    """An answer came but is not what the API sends (see `_retry_garbled`)."""
    return isinstance(
        failure,
        ValueError
        | KeyError
        | TypeError
        | IncompleteResults
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    )
