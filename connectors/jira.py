"""Jira connector: counts and work items from Jira Cloud or Jira Server/DC via the `jira` library.

What it does beyond calling the library:
- Explicit timeouts (the library has none by default).
- Cloud counts page through ids only (5,000 a page with `nextPageToken`); the approximate-count
  endpoint is used only when a selector asks for it. Server/DC counts read `total` from one
  `search` with `maxResults=0`.
- Searches are asked exactly as written, through the library's JSON getter: its
  `search_issues` rewrites field names through their JQL clause names (`id` becomes
  `issuekey`, which asks for keys) and loads the field list for that on first use. A page
  asked for `id` is read for ids alone: Jira Cloud answers it with `{"id": ...}` and nothing
  else, so counts and the change feed never read a key or `self`.
- Items ask for the fields the metrics need, and read `started_at` from the changelog, paging
  `issue/{key}/changelog` when Jira expanded only the latest 100 histories.
- Retries follow `connectors.retry.RetryPolicy`, here and nowhere else (the library's own
  retries are switched off: it sleeps 20-80 s between attempts on a refused connection, and
  nothing above the connector retries again). Each library call is one tenacity loop over
  transient failures (429, 5xx, a reset connection, a read timeout, an answer that is not
  JSON); the shared rate governor holds the other threads back for a 429's Retry-After. A
  refused connection fails at once, so one dead tracker costs only its key results.
- Errors are our own messages: the library's `JIRAError` text can carry request headers, and
  the token must never reach logs, the store or the terminal.
"""

from __future__ import annotations

import difflib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TypeVar, cast

import requests
from jira import JIRA, JIRAError
from pydantic import SecretStr
from urllib3.exceptions import NewConnectionError

from connectors.base import (
    NEEDS_STARTED,
    NEEDS_STORY_POINTS,
    OPTIONAL_FIELDS,
    AuthError,
    ConnectorError,
    JiraSelector,
    QueryError,
    Selector,
    StatusCategory,
    WorkItem,
)
from connectors.changes import ChangeFeed
from connectors.jira_changes import JiraChangeFeed
from connectors.jql import without_order_by
from connectors.ratelimit import RateBudgetExceeded, RateGovernor
from connectors.redact import redact
from connectors.retry import RETRIED_STATUSES, RetryClock, RetryPolicy, retrying

log = logging.getLogger(__name__)

T = TypeVar("T")
JsonObject = dict[str, Any]
Flavour = Literal["auto", "cloud", "server"]

# Asked for every item: what status, dates, lead time and the cache's bookkeeping read.
BASE_FIELDS = ("status", "created", "updated", "resolutiondate")
# Asked for only when a metric names the normalized field (connectors.base.OPTIONAL_FIELDS).
OPTIONAL_FIELD_IDS = {
    "title": "summary",
    "labels": "labels",
    "assignee": "assignee",
    "priority": "priority",
    "issue_type": "issuetype",
    "container": "project",
}
ALL_FIXED_FIELDS = frozenset({*BASE_FIELDS, *OPTIONAL_FIELD_IDS.values()})
# Jira's own fields as okr-sync names them on every item (connectors.base.SOURCE_FIELDS).
NORMALIZED_NAME = {
    "status": "status",
    "created": "created_at",
    "updated": "updated_at",
    "resolutiondate": "resolved_at",
    **{field_id: name for name, field_id in OPTIONAL_FIELD_IDS.items()},
}
STORY_POINT_FIELD_NAMES = ("story points", "story point estimate")
CATEGORY_BY_KEY: dict[str, StatusCategory] = {
    "new": "todo",
    "indeterminate": "in_progress",
    "done": "done",
}
CLOUD_ID_PAGE = 5000  # search/jql's largest page when only ids are asked for
CLOUD_ITEM_PAGE = 100  # search/jql's largest page with fields (it may answer fewer)
SERVER_ITEM_PAGE = 1000  # Server's default jira.search.views.default.max
SERVER_CHANGELOG_PAGE = 100  # issues are heavier with their changelog expanded
CHANGELOG_PAGE = 100
DERIVED_NEEDING_START = frozenset({"cycle_time_hours"})
MATCH_ISSUES_PER_REQUEST = 1000  # jql/match accepts this many issue ids per request
MATCH_JQLS_PER_REQUEST = 100
IDS_PER_QUERY = 100  # `id in (...)` lists kept to one page of items
QUERIES_PER_UNION = 25  # cached queries OR'ed into one id listing (membership check)
LONG_JQL = 1500  # characters; longer queries go in a POST body, not the URL
ID_FIELDS = ["id"]  # search/jql: "`id` Returns only issue IDs"


def parse_jira_datetime(text: str | None) -> datetime | None:
    """Jira's `2026-10-01T09:15:00.000+0000` as an aware UTC datetime.

    `fromisoformat` reads Jira's `+0000` offsets since Python 3.11, and is many times
    faster than `strptime`, which a page of a hundred issues calls a few hundred times.
    """
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(UTC)


def _settle_environment(session: requests.Session, url: str) -> None:
    """Read proxies and the CA bundle from the environment once, not on every request.

    requests scans the whole environment per request (`merge_environment_settings`), a
    few percent of a first run's CPU; every request of this session goes to one server, so
    the answer for its URL holds for all of them.
    """
    settled = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(settled["proxies"])
    if settled["verify"] not in (None, True) and session.verify is True:
        session.verify = settled["verify"]
    session.trust_env = False


class JiraConnector:
    """The Connector for Jira: one `jira.JIRA` client, created on first use."""

    source = "jira"

    def __init__(
        self,
        url: str,
        *,
        email: str | None,
        token: SecretStr,
        flavour: Flavour = "auto",
        timeout: tuple[float, float] = (5.0, 30.0),
        story_points_field: str | None = None,
        retry: RetryPolicy | None = None,
        governor: RateGovernor | None = None,
        item_page_size: int | None = None,
    ) -> None:
        """`retry`: the run's retry policy (default `RetryPolicy()`); `governor`: shared 429 /
        Retry-After keeper; `item_page_size`: None for the largest."""
        self.url = url.rstrip("/")
        self._email = email
        self._token = token
        self._flavour: Flavour = flavour
        self._timeout = timeout
        self._story_points_override = story_points_field
        self._retry_clock = RetryClock(retry or RetryPolicy())
        self._client: JIRA | None = None
        self._is_cloud = flavour == "cloud"
        self._server_info: JsonObject = {}
        self._fields: list[JsonObject] | None = None
        self._status_categories: dict[str, str] | None = None
        self._lock = threading.RLock()  # guards the lazily loaded client and lookups
        self._count_lock = threading.Lock()
        self._requests = 0
        self._governor = governor or RateGovernor("jira")
        self._item_page_size = item_page_size

    def __repr__(self) -> str:
        return f"JiraConnector({self.url!r}, flavour={self._flavour!r})"

    # -- Connector protocol

    @property
    def requests_made(self) -> int:
        return self._requests

    def check(self) -> str:
        client = self._connect()
        info = self._server_info or self._call("serverInfo", client.server_info)
        me = self._call("myself", client.myself)
        who = me.get("displayName") or me.get("name") or me.get("accountId") or "?"
        kind = "Cloud" if self._is_cloud else "Server/DC"
        return f"Jira {kind} {info.get('version', '?')} at {self.url}, signed in as {who}"

    def count(self, selector: Selector) -> int:
        jql = self._jql(selector)
        client = self._connect()
        if self._is_cloud:
            if isinstance(selector, JiraSelector) and selector.approximate_count:
                answer = self._call(
                    "search/approximate-count", lambda: client.approximate_issue_count(jql), jql
                )
                return int(answer)
            return len(self._ids_for_jql(jql))
        # `search_issues(maxResults=0, json_result=True)` sends the same request but warns on
        # every call, so the library's own JSON getter is used for this one.
        result = self._call(
            "search",
            partial(
                client._get_json, "search", params={"jql": jql, "maxResults": 0, "fields": "id"}
            ),
            jql,
        )
        return int(self._read(result, "total", "search"))

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        return [item for _, item in self.items_with_ids(selector, needs)]

    def check_fields(self, needs: frozenset[str]) -> None:
        """The site has every field in `needs` that is not a normalized one (by name or id)."""
        self._extra_field_ids(needs)

    def check_query(self, selector: Selector) -> None:
        """One page of one issue id: a refused JQL or a missing project fails as in a sync."""
        jql = self._jql(selector)
        self._connect()
        pages = self._cloud_pages if self._is_cloud else self._server_pages
        next(pages(jql, ID_FIELDS, None, 1))

    def item_shape(self, needs: frozenset[str]) -> frozenset[str]:
        """What, besides the query and the fields asked, shapes the items this returns.

        A cached answer is reused only while these markers still hold: a different site, or
        another story-points field for items that carry story points, means a full fetch.
        """
        shape = {f"site={self.url}"}
        if NEEDS_STORY_POINTS in needs:
            shape.add(f"story_points_field={self._story_points_override or '(by name)'}")
        return frozenset(shape)

    def change_feed(self) -> ChangeFeed:
        return JiraChangeFeed(self)

    def items_with_ids(
        self, selector: Selector, needs: frozenset[str]
    ) -> list[tuple[str, WorkItem]]:
        """Every matching item with its Jira issue id (what `jql/match` speaks)."""
        jql = self._jql(selector)
        found = self._items_for_jql(jql, needs)
        log.info("jira: %d items for %r (%d requests so far)", len(found), jql, self._requests)
        return found

    def _items_for_jql(self, jql: str, needs: frozenset[str]) -> list[tuple[str, WorkItem]]:
        self._connect()
        wants_start = NEEDS_STARTED in needs or bool(needs & DERIVED_NEEDING_START)
        points_ids = self._story_point_field_ids() if NEEDS_STORY_POINTS in needs else []
        extra_ids = self._extra_field_ids(needs)
        optional = [OPTIONAL_FIELD_IDS[name] for name in sorted(needs & OPTIONAL_FIELDS)]
        fields = [*BASE_FIELDS, *optional, *points_ids, *extra_ids.values()]
        expand = "changelog" if wants_start else None
        if wants_start:
            self._load_status_categories()
        if self._is_cloud:
            pages = self._cloud_pages(jql, fields, expand, self._item_page_size or CLOUD_ITEM_PAGE)
        else:
            size = SERVER_CHANGELOG_PAGE if wants_start else SERVER_ITEM_PAGE
            pages = self._server_pages(jql, fields, expand, self._item_page_size or size)
        by_id: dict[str, tuple[str, WorkItem]] = {}  # an issue moving between pages comes twice
        for page in pages:
            for raw in page:
                issue_id = self._issue_id(raw, "search")
                if issue_id not in by_id:
                    by_id[issue_id] = (
                        issue_id,
                        self._work_item(raw, points_ids, extra_ids, wants_start),
                    )
        return list(by_id.values())

    # -- incremental sync: what changed, and which queries it touches

    @property
    def can_match(self) -> bool:
        """Whether the server has `jql/match` (Jira Cloud); Server/DC does not."""
        self._connect()
        return self._is_cloud

    def member_ids(self, selector: Selector) -> set[str] | None:
        """The issue ids of every match, paging ids only; None where that costs more than a count.

        On Jira Cloud a count pages through ids anyway (5,000 a page), so the members come
        for the same requests; on Server/DC a count is one request and this returns None.
        """
        if not self.can_match:
            return None
        return self._ids_for_jql(self._jql(selector))

    def changed_ids(self, minutes: int) -> set[str]:
        """The ids of every issue updated in the last `minutes` (server clock)."""
        return self._ids_for_jql(f"updated >= -{max(1, minutes)}m")

    def match(self, ids: list[str], jqls: list[str]) -> list[set[str]]:
        """For each query, which of `ids` it matches now (`jql/match`, Cloud only)."""
        client = self._connect()
        matched: list[set[str]] = [set() for _ in jqls]
        for i in range(0, len(ids), MATCH_ISSUES_PER_REQUEST):
            chunk = [int(issue_id) for issue_id in ids[i : i + MATCH_ISSUES_PER_REQUEST]]
            for j in range(0, len(jqls), MATCH_JQLS_PER_REQUEST):
                queries = jqls[j : j + MATCH_JQLS_PER_REQUEST]
                response = self._call(
                    "jql/match",
                    partial(
                        client._session.post,
                        client._get_url("jql/match"),
                        data=json.dumps({"issueIds": chunk, "jqls": queries}),
                    ),
                )
                answers = self._read(response.json(), "matches", "jql/match")
                for offset, answer in enumerate(answers):
                    if answer.get("errors"):
                        raise QueryError(
                            self._scrub(
                                f"Jira refused the JQL {queries[offset]!r}: "
                                + "; ".join(str(e) for e in answer["errors"])
                            )
                        )
                    matched[j + offset] |= {str(x) for x in answer.get("matchedIssues") or []}
        return matched

    def present_ids(self, jqls: list[str]) -> set[str]:
        """The ids of every issue that matches at least one of `jqls` now.

        Deletions and lost permissions leave no `updated` trace; comparing a cache's members
        with this listing notices them. Ids only (5,000 a page), a few queries OR'ed into
        one listing, so the check costs a request per 5,000 distinct issues, not per query.
        """
        found: set[str] = set()
        for i in range(0, len(jqls), QUERIES_PER_UNION):
            chunk = jqls[i : i + QUERIES_PER_UNION]
            found |= self._ids_for_jql(" OR ".join(f"({without_order_by(q)})" for q in chunk))
        return found

    def items_by_ids(
        self, ids: list[str], needs: frozenset[str], *, within: str | None = None
    ) -> dict[str, WorkItem]:
        """Items by issue id, a page of ids per query (an id outlives a move to another key).

        `within`: only those the query matches now, `(<jql>) AND id in (...)`; where
        `jql/match` is missing (Server/DC) this tests changed issues against one cached
        query instead of fetching the query again.
        """
        scope = f"({without_order_by(within)}) AND " if within is not None else ""
        found: dict[str, WorkItem] = {}
        for i in range(0, len(ids), IDS_PER_QUERY):
            chunk = ", ".join(ids[i : i + IDS_PER_QUERY])
            found.update(self._items_for_jql(f"{scope}id in ({chunk})", needs))
        return found

    def _ids_for_jql(self, jql: str) -> set[str]:
        """Distinct ids (an issue that moves between two page requests comes twice)."""
        self._connect()
        if self._is_cloud:
            pages = self._cloud_pages(jql, ID_FIELDS, None, CLOUD_ID_PAGE)
        else:
            pages = self._server_pages(jql, ID_FIELDS, None, SERVER_ITEM_PAGE)
        return {self._issue_id(raw, "search") for page in pages for raw in page}

    def _issue_id(self, raw: object, what: str) -> str:
        """An issue's id, which Jira writes as a string of digits (`"10042"`)."""
        issue_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(issue_id, bool) or not str(issue_id).isdigit():
            raise ConnectorError(
                f"Jira at {self.url} answered {what} with an issue without a numeric id "
                f"({str(issue_id)[:40]!r})",
                retryable=True,
            )
        return str(issue_id)

    # -- the client

    def _connect(self) -> JIRA:
        with self._lock:
            if self._client is not None:
                return self._client
            secret = self._token.get_secret_value()
            options: dict[str, Any] = {"server": self.url}
            common: dict[str, Any] = {
                "options": options,
                "timeout": self._timeout,
                "max_retries": 0,  # retries are ours, see the module docstring
                "get_server_info": False,  # asked below, so the request is counted
            }
            if self._email:
                client = JIRA(basic_auth=(self._email, secret), **common)
            else:
                client = JIRA(token_auth=secret, **common)
            client._session.hooks["response"].append(self._count_response)
            _settle_environment(client._session, self.url)
            if self._flavour == "auto":
                self._server_info = self._call("serverInfo", client.server_info)
                self._is_cloud = self._server_info.get("deploymentType") == "Cloud"
            # The library picks search/jql or search from this attribute.
            client.deploymentType = "Cloud" if self._is_cloud else "Server"
            self._client = client
            log.debug("jira: connected to %s (cloud=%s)", self.url, self._is_cloud)
            return client

    def _count_response(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        with self._count_lock:
            self._requests += 1
        self._governor.observe(response.status_code, response.headers)

    def _call(self, what: str, operation: Callable[[], T], jql: str | None = None) -> T:
        """Run one library call under the retry policy, turning every failure into our errors."""
        attempts = retrying(
            self._retry_clock,
            f"jira: {what}",
            transient=_transient,
            retry_after=_retry_after,
            reason=_failure_reason,
        )
        try:
            return cast(T, attempts(self._governed, operation))
        except RateBudgetExceeded as exc:
            raise ConnectorError(str(exc), retryable=True) from None
        except JIRAError as exc:
            raise self._translate(exc, what, jql) from None
        except requests.exceptions.Timeout:
            raise ConnectorError(
                f"Jira at {self.url} did not answer {what} in time "
                f"(timeouts {self._timeout[0]:g} s connect, {self._timeout[1]:g} s read)",
                retryable=True,
            ) from None
        except requests.exceptions.ConnectionError:
            raise ConnectorError(
                f"Could not connect to Jira at {self.url} ({what})", retryable=True
            ) from None
        except requests.exceptions.JSONDecodeError:
            raise ConnectorError(
                f"Jira at {self.url} answered {what} with something that is not JSON",
                retryable=True,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise ConnectorError(
                f"Request to Jira at {self.url} failed ({what}): {type(exc).__name__}",
                retryable=True,
            ) from None
        except ValueError:  # a body that is not JSON
            raise ConnectorError(
                f"Jira at {self.url} answered {what} with something that is not JSON",
                retryable=True,
            ) from None

    def _governed(self, operation: Callable[[], T]) -> T:
        self._governor.acquire()
        return operation()

    def _translate(self, exc: JIRAError, what: str, jql: str | None) -> ConnectorError:
        status = exc.status_code or 0
        if status in (401, 403):
            return AuthError(
                f"Jira rejected the credentials for {self.url} (HTTP {status}): "
                "check OKRSYNC_JIRA__EMAIL / OKRSYNC_JIRA__TOKEN"
            )
        messages = self._error_messages(exc)
        if status == 400 and jql is not None:
            return QueryError(self._scrub(f"Jira refused the JQL {jql!r}: {messages}"))
        if status == 404:
            return ConnectorError(
                self._scrub(f"Jira at {self.url} has no {what} (HTTP 404): {messages}")
            )
        return ConnectorError(
            self._scrub(f"Jira at {self.url} failed on {what} (HTTP {status}): {messages}"),
            retryable=status >= 500 or status in RETRIED_STATUSES or status == 0,
        )

    def _error_messages(self, exc: JIRAError) -> str:
        """What Jira said, cut to 300 characters after the credentials are taken out (cut
        first, a token straddling the cut would leave its first half in the message)."""
        response = exc.response
        if response is not None:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                parts = [str(m) for m in body.get("errorMessages") or []]
                errors = body.get("errors")
                if isinstance(errors, dict):
                    parts.extend(f"{key}: {value}" for key, value in errors.items())
                if not parts and body.get("message"):
                    parts.append(str(body["message"]))
                if parts:
                    return "; ".join(parts)
            text = (response.text or "").strip()
            if text:
                return self._scrub(text)[:300]
        return self._scrub((exc.text or "no details").strip())[:300]

    def _scrub(self, message: str) -> str:
        return redact(message, self._token.get_secret_value(), self._email)

    @staticmethod
    def _read(body: object, key: str, what: str) -> Any:
        if not isinstance(body, dict) or key not in body:
            raise ConnectorError(f"Jira answered {what} without '{key}'", retryable=True)
        return body[key]

    # -- searching

    def _jql(self, selector: Selector) -> str:
        if not isinstance(selector, JiraSelector):
            raise ConnectorError(f"the Jira connector cannot read {selector.source} selectors")
        return selector.jql

    def _search_page(self, endpoint: str, params: JsonObject, jql: str) -> JsonObject:
        """One page of `search/jql` (Cloud) or `search` (Server/DC), asked exactly as written.

        A long query goes in a POST body (both endpoints take one). `fields` comes as a list,
        as the body takes it; the URL takes it comma-separated.
        """
        client = self._connect()
        asked = {name: value for name, value in params.items() if value is not None}
        use_post = len(jql) > LONG_JQL
        if not use_post:
            asked["fields"] = ",".join(asked["fields"])
        body = self._call(
            endpoint, partial(client._get_json, endpoint, params=asked, use_post=use_post), jql
        )
        issues = self._read(body, "issues", endpoint)
        if not isinstance(issues, list):
            raise ConnectorError(
                f"Jira answered {endpoint} with 'issues' that is not a list", retryable=True
            )
        return dict(body)

    def _cloud_pages(
        self, jql: str, fields: list[str], expand: str | None, page_size: int
    ) -> Iterator[list[JsonObject]]:
        """search/jql, one page per `nextPageToken` until Jira says it was the last.

        A page may hold fewer issues than asked ("where a large number of fields are
        requested"), so only the token, never the page's length, says whether more follow.
        """
        token: str | None = None
        while True:
            body = self._search_page(
                "search/jql",
                {
                    "jql": jql,
                    "fields": fields,
                    "maxResults": page_size,
                    "expand": expand,
                    "nextPageToken": token,
                },
                jql,
            )
            yield body["issues"]
            token = body.get("nextPageToken")
            if not token or body.get("isLast", False):
                return

    def _server_pages(
        self, jql: str, fields: list[str], expand: str | None, page_size: int
    ) -> Iterator[list[JsonObject]]:
        """search with startAt/maxResults until `total` is reached."""
        start = 0
        while True:
            body = self._search_page(
                "search",
                {
                    "jql": jql,
                    "startAt": start,
                    "fields": fields,
                    "maxResults": page_size,
                    "expand": expand,
                },
                jql,
            )
            issues: list[JsonObject] = body["issues"]
            total = int(self._read(body, "total", "search"))
            yield issues
            start += len(issues)
            if not issues or start >= total:
                return

    # -- fields

    def _field_list(self) -> list[JsonObject]:
        with self._lock:
            if self._fields is None:
                client = self._connect()
                self._fields = list(self._call("field", client.fields))
            return self._fields

    def _story_point_field_ids(self) -> list[str]:
        """Story points live in a different custom field on every site: find them by name."""
        wanted = self._story_points_override
        fields = self._field_list()
        if wanted:
            for field in fields:
                if wanted in (field.get("id"), field.get("key")) or (
                    str(field.get("name", "")).lower() == wanted.lower()
                ):
                    return [str(field["id"])]
            return [wanted]
        return [
            str(field["id"])
            for field in fields
            if str(field.get("name", "")).lower() in STORY_POINT_FIELD_NAMES
        ]

    def _extra_field_ids(self, needs: frozenset[str]) -> dict[str, str]:
        """Other fields a metric names (e.g. "Business Value"), by field name or id."""
        candidates = needs - {NEEDS_STARTED, NEEDS_STORY_POINTS} - OPTIONAL_FIELDS
        if not candidates:
            return {}
        by_name = {str(f.get("name", "")).lower(): str(f["id"]) for f in self._field_list()}
        ids = {str(f["id"]) for f in self._field_list()}
        found: dict[str, str] = {}
        for name in sorted(candidates):
            field_id = name if name in ids else by_name.get(name.lower())
            if field_id is None:
                # Every item would lack it: a share or a mean over nothing is no measure.
                names = sorted(str(f.get("name", "")) for f in self._field_list())
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise QueryError(f"Jira at {self.url} has no field '{name}', by name or id{hint}")
            if field_id in ALL_FIXED_FIELDS:  # read into the item's own fields, not `extra`
                raise QueryError(
                    f"'{name}' is Jira's {field_id}, which okr-sync reads as "
                    f"'{NORMALIZED_NAME[field_id]}': name that instead"
                )
            found[name] = field_id
        return found

    def _load_status_categories(self) -> None:
        """Status id -> category key, to tell which changelog moves started the work."""
        with self._lock:
            if self._status_categories is not None:
                return
            client = self._connect()
            statuses = self._call("status", client.statuses)
            self._status_categories = {
                str(status.raw["id"]): str(status.raw["statusCategory"]["key"])
                for status in statuses
            }

    # -- mapping

    def _work_item(
        self,
        raw: JsonObject,
        points_ids: list[str],
        extra_ids: dict[str, str],
        wants_start: bool,
    ) -> WorkItem:
        try:
            fields: JsonObject = raw["fields"]
            key = str(raw["key"])
            status = fields.get("status") or {}
            category = (status.get("statusCategory") or {}).get("key", "new")
            created = parse_jira_datetime(fields.get("created"))
            updated = parse_jira_datetime(fields.get("updated")) or created
            if created is None or updated is None:
                raise KeyError("created")
            assignee = fields.get("assignee") or {}
            story_points = None
            for field_id in points_ids:
                value = fields.get(field_id)
                if value is not None:
                    story_points = float(value)
                    break
            return WorkItem(
                source="jira",
                key=key,
                url=f"{self.url}/browse/{key}",
                kind="issue",
                title=str(fields.get("summary") or ""),
                status=str(status.get("name") or ""),
                status_category=CATEGORY_BY_KEY.get(category, "todo"),
                created_at=created,
                updated_at=updated,
                resolved_at=parse_jira_datetime(fields.get("resolutiondate")),
                started_at=self._started_at(raw) if wants_start else None,
                labels=tuple(fields.get("labels") or ()),
                assignee=assignee.get("displayName") or assignee.get("name"),
                story_points=story_points,
                priority=(fields.get("priority") or {}).get("name"),
                issue_type=(fields.get("issuetype") or {}).get("name"),
                container=(fields.get("project") or {}).get("key"),
                extra={name: _plain(fields.get(field_id)) for name, field_id in extra_ids.items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConnectorError(
                f"Jira at {self.url} returned an issue this connector cannot read ({exc!r})",
                retryable=True,
            ) from None

    def _started_at(self, raw: JsonObject) -> datetime | None:
        """First move into an in-progress status; pages the changelog if Jira cut it short."""
        changelog = raw.get("changelog") or {}
        histories: list[JsonObject] = list(changelog.get("histories") or [])
        total = int(changelog.get("total", len(histories)))
        if total > len(histories):
            histories = self._full_changelog(str(raw["key"]))
        categories = self._status_categories or {}
        moves = []
        for history in histories:
            for item in history.get("items") or []:
                if item.get("field") != "status":
                    continue
                category = categories.get(str(item.get("to")))
                if category is None:  # unknown id: fall back on the usual name
                    category = "indeterminate" if item.get("toString") == "In Progress" else ""
                if category == "indeterminate":
                    moves.append(parse_jira_datetime(history.get("created")))
        started = [moment for moment in moves if moment is not None]
        return min(started) if started else None

    def _full_changelog(self, key: str) -> list[JsonObject]:
        client = self._connect()
        values: list[JsonObject] = []
        while True:
            page = self._call(
                "issue changelog",
                partial(
                    client._get_json,
                    f"issue/{key}/changelog",
                    params={"startAt": len(values), "maxResults": CHANGELOG_PAGE},
                ),
            )
            batch = list(self._read(page, "values", "issue changelog"))
            values.extend(batch)
            if not batch or page.get("isLast", True) or len(values) >= int(page.get("total", 0)):
                return values


def _plain(value: object) -> object:
    """A custom field's JSON as a plain value: options by value, users by name."""
    if isinstance(value, dict):
        for key in ("value", "displayName", "name"):
            if key in value:
                return value[key]
    if isinstance(value, list):
        return [_plain(element) for element in value]
    return value


def _transient(failure: BaseException) -> bool:
    """Whether another attempt may pass (see `connectors.retry`)."""
    if isinstance(failure, JIRAError):
        return (failure.status_code or 0) in RETRIED_STATUSES
    if isinstance(failure, requests.exceptions.ConnectTimeout):
        return False  # nobody answers the door: fail at once
    if isinstance(failure, requests.exceptions.ConnectionError):
        reason = getattr(failure.args[0], "reason", None) if failure.args else None
        return not isinstance(reason, NewConnectionError)  # refused: nobody listens
    return isinstance(
        failure,
        requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError
        | ValueError,
    )


def _failure_reason(failure: BaseException) -> str:
    return (
        f"HTTP {failure.status_code}" if isinstance(failure, JIRAError) else type(failure).__name__
    )


def _retry_after(failure: BaseException) -> str | None:
    response = failure.response if isinstance(failure, JIRAError) else None
    return response.headers.get("Retry-After") if response is not None else None
