"""GitHub's HTTP layer: a PyGithub client per thread, every request counted, paced by the
rate governor and retried under the run's policy.

Every HTTP request is counted (`requests_made`): each call the requester makes passes the
authentication hook once, and each retry urllib3 makes passes the retry policy once.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import requests
from github import Auth, Github, GithubRetry
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse, HTTPResponse

from connectors.base import ConnectorError
from connectors.github_errors import GitHubErrors, garbled
from connectors.ratelimit import RateBudgetExceeded, RateGovernor
from connectors.request_stages import StageTally, charge_request
from connectors.retry import RETRIED_STATUSES, RetryClock, RetryPolicy, retrying

T = TypeVar("T")

PUBLIC_API_URL = "https://api.github.com"
RATE_LIMIT_MAX_WAIT_S = 90.0  # wait for a search window to reset, not for an hourly one
PUBLIC_REQUEST_INTERVAL_S = 0.25  # PyGithub's courtesy pause, kept for api.github.com


class RequestTally(StageTally):
    """A thread-safe count of HTTP requests sent, each also charged to the caller's stage."""

    def add(self) -> None:
        super().add()
        charge_request()


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


class GitHubHttp:
    """One GitHub site's requests: its clients, request tally, rate governor and errors."""

    def __init__(
        self,
        *,
        base_url: str | None,
        token: str | None,
        timeout: float,
        per_page: int,
        retry: RetryPolicy | None,
        request_interval_s: float | None,
        governor: RateGovernor | None,
    ) -> None:
        """`retry`: the run's retry policy (default `RetryPolicy()`); `request_interval_s`
        None: PyGithub's 0.25 s pause on api.github.com, none elsewhere."""
        self.base_url = (base_url or PUBLIC_API_URL).rstrip("/")
        self._token = token
        self._timeout = timeout
        self.per_page = max(1, min(per_page, 100))
        self._retry_clock = RetryClock(retry or RetryPolicy())
        self._tally = RequestTally()
        self.governor = governor or RateGovernor("github")
        self._resource = threading.local()  # which budget this thread's next request uses
        if request_interval_s is None and self.base_url == PUBLIC_API_URL:
            request_interval_s = PUBLIC_REQUEST_INTERVAL_S
        self._request_interval_s = request_interval_s
        self._clients = threading.local()
        self._all_clients: list[Github] = []
        self._clients_lock = threading.Lock()
        self.errors = GitHubErrors(
            base_url=self.base_url,
            token=token,
            timeout=timeout,
            retries=self._retry_clock.policy.retries,
        )

    @property
    def client(self) -> Github:
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
                per_page=self.per_page,
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

    def _observe_response(self, status: int, headers: dict[str, Any], data: object) -> None:
        self.governor.observe(status, {str(k): str(v) for k, v in headers.items()})

    @contextmanager
    def searching(self) -> Iterator[None]:
        """Requests this thread sends inside are charged to the search budget."""
        self._resource.name = "search"
        try:
            yield
        finally:
            self._resource.name = "core"

    @property
    def requests_made(self) -> int:
        return self._tally.count

    def close(self) -> None:
        with self._clients_lock:
            clients, self._all_clients = self._all_clients, []
        for client in clients:
            client.close()

    def get_json(
        self, url: str, parameters: dict[str, Any] | None = None, shape: type = dict
    ) -> tuple[dict[str, Any], Any]:
        """One GET through PyGithub's requester (its urllib3 retry covers the transport);
        a body of another shape than expected is garbled (PyGithub wraps text in a dict)."""
        headers, body = self.client.requester.requestJsonAndCheck("GET", url, parameters=parameters)
        if not isinstance(body, shape):
            raise TypeError(f"expected a JSON {shape.__name__}, got {type(body).__name__}")
        return headers, body

    def retry_garbled(self, what: str, call: Callable[[], T]) -> T:
        """Ask again, under the run's retry policy, when an answer came but is garbled.

        Statuses and broken connections are retried below, by urllib3; a 200 whose body is
        not the API's JSON (a proxy's page, a body cut short, an incomplete search) only
        shows here. The two never nest: a failure is of one kind or the other.
        """
        attempts = retrying(
            self._retry_clock,
            f"github: {what} (a garbled answer)",
            transient=garbled,
        )
        return attempts(call)

    def json_listing(self, path: str, parameters: dict[str, str]) -> Iterator[dict[str, Any]]:
        """A paginated list's items as JSON, following the Link header's `next`.

        A repository listing needs a dozen fields of each item; PyGithub's objects parse
        every field and nested object, which cost about half of a first run's CPU.
        """
        url: str | None = path
        query: dict[str, Any] | None = {**parameters, "per_page": self.per_page}
        while url is not None:
            headers, page = self.retry_garbled(
                "a listing page", partial(self.get_json, url, query, list)
            )
            yield from page
            link = next((v for k, v in headers.items() if k.lower() == "link"), "")
            url = _next_link(str(link))
            query = None  # the next link carries the parameters


def _next_link(header: str) -> str | None:
    """The `rel="next"` URL of a Link header, None on the last page."""
    for link in requests.utils.parse_header_links(header):
        if link.get("rel") == "next":
            return link["url"]
    return None
