"""The sandbox's Jira REST API: the endpoints the `jira` library calls, shaped like the real ones.

Two flavours, because the library takes different paths for them: Jira Cloud (`search/jql` with
`nextPageToken`, `search/approximate-count`, no `total`) and Jira Server/Data Center (`search`
with `startAt`/`total`, bearer personal access tokens). Both answer under `/rest/api/2`,
`/rest/api/3` and `/rest/api/latest`, with Jira's error bodies, so the connector meets the same
answers it would meet in production.
"""

from __future__ import annotations

import base64
import binascii
import collections
import functools
import json
import logging
import math
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox.jira_data import (
    BUSINESS_VALUE_FIELD,
    CATEGORY_COLOURS,
    CATEGORY_IDS,
    ISSUE_TYPE_IDS,
    PRIORITY_IDS,
    RESOLUTION_IDS,
    SEVERITIES,
    SEVERITY_FIELD,
    STATUSES,
    STORY_POINT_ESTIMATE_FIELD,
    STORY_POINTS_FIELD,
    ChangelogEntry,
    JiraDataset,
    JiraIssue,
    JiraProject,
    JiraStatus,
    JiraUser,
)
from sandbox.jql import CompiledJql, JqlEngine, JqlError
from sandbox.recording import name_chain

log = logging.getLogger(__name__)

Flavour = Literal["cloud", "server"]
JsonObject = dict[str, Any]

CLOUD_PAGE_CAP = 100  # search/jql with fields, *all included (reference: "about 100")
CLOUD_ID_PAGE_CAP = 5000  # search/jql asking for id or key only
HEAVY_FIELD_COUNT = 10
RECONCILE_MAX_IDS = 50  # search/jql: reconcileIssues accepts at most this many ids
KEY_FIELDS = frozenset({"key", "issuekey"})
SERVER_PAGE_CAP = 1000  # jira.search.views.default.max
DEFAULT_PAGE = 50
EXPANDED_HISTORIES_CAP = 100  # Cloud expands only the latest 100 histories
CHANGELOG_PAGE_CAP = 100
SNAPSHOTS_KEPT = 512  # nextPageToken cursors kept in memory
SERVER_RESULT_TTL_S = 30.0  # a Server search result is reused while a client pages through it
SERVER_PAGE_CAP = 1000  # Server/DC's default jira.search.views.default.max
MATCH_MAX_ISSUES = 1000  # jql/match: issue ids per request
MATCH_MAX_JQLS = 1000  # jql/match: queries per request
T = TypeVar("T")
RENDERED_KEY = "okrsync.sandbox.rendered"  # environ key: objects rendered for this answer
BASE_URL_KEY = "okrsync.sandbox.base_url"  # environ key: this request's base URL, computed once

ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
CLOUD_401_TEXT = "Client must be authenticated to access this resource."
SERVER_401_MESSAGE = "You are not authenticated. Authentication required to perform this operation."
ISSUE_404_MESSAGE = "Issue does not exist or you do not have permission to see it."
UNBOUNDED_MESSAGE = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)
SEARCH_GONE_MESSAGE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)
SANDBOX_ACCOUNT_ID = "712020:5a1e0b5e-0000-4000-8000-0000000d3m0"

ALL_FIELD_IDS = (
    "summary",
    "description",
    "status",
    "priority",
    "issuetype",
    "project",
    "labels",
    "assignee",
    "reporter",
    "created",
    "updated",
    "resolutiondate",
    "resolution",
    STORY_POINTS_FIELD,
    STORY_POINT_ESTIMATE_FIELD,
    BUSINESS_VALUE_FIELD,
    SEVERITY_FIELD,
)

VERSIONS = "any('2', '3', 'latest')"


def _rule(path: str, endpoint: str, methods: Iterable[str] = ("GET",)) -> Rule:
    return Rule(f"/rest/api/<{VERSIONS}:version>/{path}", endpoint=endpoint, methods=methods)


URL_MAP = Map(
    [
        _rule("serverInfo", "serverInfo"),
        _rule("myself", "myself"),
        _rule("field", "field"),
        _rule("status", "status"),
        _rule("search/jql", "search/jql", ("GET", "POST")),
        _rule("search/approximate-count", "search/approximate-count", ("POST",)),
        _rule("jql/match", "jql/match", ("POST",)),
        _rule("search", "search", ("GET", "POST")),
        _rule("issue/<issue_id>", "issue"),
        _rule("issue/<issue_id>/changelog", "issue/changelog"),
    ],
    strict_slashes=False,
)


class ApiError(Exception):
    """An answer Jira gives with an `errorMessages` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def jira_datetime(moment: datetime) -> str:
    """Jira's timestamp format: `2026-10-01T09:15:00.000+0000` (isoformat is several times
    faster than strftime, and a page renders a few hundred of them)."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "+0000"


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json;charset=UTF-8")


def _error(status: int, message: str) -> Response:
    return _json({"errorMessages": [message], "errors": {}}, status)


@functools.lru_cache(maxsize=256)
def _wanted_field_ids(fields: tuple[str, ...]) -> tuple[str, ...]:
    """Resolve `*all`, `*navigable`, `-field` and plain ids into the ids to render.

    Cached: every issue of a page asks with the same list.
    """
    chosen: dict[str, None] = {}  # ordered set
    excluded = {f[1:] for f in fields if f.startswith("-")}
    for spec in fields:
        if spec in ("*all", "*navigable"):
            chosen.update(dict.fromkeys(ALL_FIELD_IDS))
        elif spec in ALL_FIELD_IDS:
            chosen[spec] = None
    return tuple(name for name in chosen if name not in excluded)


def _cloud_page_cap(fields: list[str], expand: set[str], heavy_page_cap: int | None) -> int:
    """search/jql's largest page for this request.

    "The greatest number of items returned per page is achieved when requesting `id` or
    `key` only"; otherwise about 100 (measured, `shared/reference/README.md`), `*all`
    included. "API may return fewer items per page where a large number of fields or
    properties are requested": `heavy_page_cap` makes it so for tests, which prove that a
    client follows `nextPageToken` and never infers the end from a short page.
    """
    named = set(fields)
    if named <= {"id"} | KEY_FIELDS and "changelog" not in expand:
        return CLOUD_ID_PAGE_CAP
    if heavy_page_cap is None:
        return CLOUD_PAGE_CAP
    heavy = (
        named & {"*all", "*navigable"} or len(_wanted_field_ids(tuple(fields))) > HEAVY_FIELD_COUNT
    )
    return heavy_page_cap if heavy else CLOUD_PAGE_CAP


class JiraApp:
    """A WSGI application answering like Jira Cloud or Jira Server/DC, over one data set."""

    def __init__(
        self,
        data: JiraDataset,
        *,
        flavour: Flavour,
        email: str,
        token: str,
        latency_s: float = 0.0,
        rate_limit_per_s: float | None = None,
        bare_id_fields: frozenset[str] = frozenset({"id"}),
    ) -> None:
        """`rate_limit_per_s`: answer 429 with Retry-After beyond that many requests a second;
        `bare_id_fields`: field lists that Cloud's search answers with ids alone."""
        if flavour not in ("cloud", "server"):
            raise ValueError(f"unknown Jira flavour {flavour!r}: use 'cloud' or 'server'")
        log.debug("jira sandbox app: %s flavour, %d issues", flavour, len(data.issues))
        self.data = data
        self.bare_id_fields = bare_id_fields | {"id"}
        self.heavy_page_cap: int | None = None  # see _cloud_page_cap
        # Server/DC's largest page (`jira.search.views.default.max`); a site may set it lower
        self.server_page_cap = SERVER_PAGE_CAP
        self.rate_limit_per_s = rate_limit_per_s
        self._bucket = rate_limit_per_s or 0.0
        self._bucket_at = time.monotonic()
        self.flavour: Flavour = flavour
        self.email = email
        self.token = token
        self.latency_s = latency_s
        self.engine = JqlEngine(data)
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._snapshots: collections.OrderedDict[str, list[JiraIssue]] = collections.OrderedDict()
        self._server_results: dict[str, tuple[float, list[JiraIssue]]] = {}
        self.user = JiraUser(
            account_id=SANDBOX_ACCOUNT_ID,
            name=email.split("@", 1)[0],
            display_name="Sandbox Demo",
            email=email,
        )
        self._users = {**data.users_by_id, self.user.account_id: self.user}
        self._handlers: dict[str, Callable[[Request, str, dict[str, str]], Response]] = {
            "serverInfo": self._server_info,
            "myself": self._myself,
            "field": self._fields,
            "status": self._statuses,
            "search/jql": self._search_jql,
            "search/approximate-count": self._approximate_count,
            "jql/match": self._match,
            "search": self._search,
            "issue": self._issue,
            "issue/changelog": self._changelog,
        }

    @property
    def is_cloud(self) -> bool:
        return self.flavour == "cloud"

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def _count(self, endpoint: str) -> None:
        with self._lock:
            self.requests[endpoint] += 1

    # -- WSGI

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except NotFound:
            self._count("not_found")
            return _json({"message": f"null for uri: {request.url}", "status-code": 404}, 404)
        except MethodNotAllowed as exc:
            self._count("method_not_allowed")
            return _json({"message": exc.description, "status-code": 405}, 405)
        except HTTPException as exc:  # redirects for trailing slashes and the like
            return exc.get_response(request.environ)
        name = str(endpoint)
        self._count(name)
        wait_s = self._take_token()
        if wait_s is not None:
            self._count("rate_limited")
            response = _error(429, "Rate limit exceeded.")
            response.headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
            return response
        denied = self._authenticate(request, anonymous_ok=name == "serverInfo")
        if denied is not None:
            return denied
        path_args = {key: str(value) for key, value in arguments.items() if key != "version"}
        try:
            return self._handlers[name](request, str(arguments["version"]), path_args)
        except ApiError as exc:
            return _error(exc.status, exc.message)
        except JqlError as exc:
            return _error(400, str(exc))

    def _take_token(self) -> float | None:
        """Token bucket (one second of burst): None when the request may pass, else the wait."""
        if self.rate_limit_per_s is None:
            return None
        with self._lock:
            now = time.monotonic()
            rate = self.rate_limit_per_s
            self._bucket = min(rate, self._bucket + (now - self._bucket_at) * rate)
            self._bucket_at = now
            if self._bucket >= 1.0:
                self._bucket -= 1.0
                return None
            return (1.0 - self._bucket) / rate

    # -- authentication

    def _authenticate(self, request: Request, *, anonymous_ok: bool) -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header and anonymous_ok:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(value).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, secret = "", ""
            usernames = {self.email.lower()}
            if not self.is_cloud:
                usernames.add(self.user.name.lower())
            if user.lower() in usernames and secret == self.token:
                return None
        elif scheme.lower() == "bearer" and not self.is_cloud and value == self.token:
            return None
        log.info("jira sandbox: rejected credentials for %s", request.path)
        if self.is_cloud:
            return Response(
                CLOUD_401_TEXT,
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Basic realm="Jira", OAuth realm="Jira"'},
            )
        response = _error(401, SERVER_401_MESSAGE)
        response.headers["WWW-Authenticate"] = 'Basic realm="protected-area"'
        response.headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        return response

    # -- small endpoints

    def _base(self, request: Request) -> str:
        # Kept in the request's environ: a page of issues asks for it once per link it renders.
        base = request.environ.get(BASE_URL_KEY)
        if base is None:
            base = request.environ[BASE_URL_KEY] = request.url_root.rstrip("/")
        return str(base)

    def _api(self, request: Request, version: str) -> str:
        return f"{self._base(request)}/rest/api/{version}"

    def _server_info(self, request: Request, version: str, _: dict[str, str]) -> Response:
        cloud = self.is_cloud
        return _json(
            {
                "baseUrl": self._base(request),
                "displayUrl": self._base(request),
                "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.15",
                "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 15],
                "deploymentType": "Cloud" if cloud else "Server",
                "buildNumber": 100297 if cloud else 9120015,
                "buildDate": "2026-01-15T00:00:00.000+0000",
                "serverTime": jira_datetime(datetime.now(UTC)),
                "scmInfo": "0f2a6c1b7e7d4c3f9b1e5f6a7d8c9b0a1e2f3d4c",
                "serverTitle": "okr-sync sandbox",
                "defaultLocale": {"locale": "en_US"},
                "serverTimeZone": "Etc/UTC",
            }
        )

    def _myself(self, request: Request, version: str, _: dict[str, str]) -> Response:
        body = self._user_json(request, version, self.user.account_id)
        assert body is not None
        body["locale"] = "en_US"
        body["groups"] = {"size": 1, "items": []}
        return _json(body)

    def _fields(self, request: Request, version: str, _: dict[str, str]) -> Response:
        body = []
        for field in self.data.fields:
            entry: JsonObject = {
                "id": field.id,
                "key": field.id,
                "name": field.name,
                "custom": field.custom,
                "orderable": field.orderable,
                "navigable": field.navigable,
                "searchable": field.searchable,
                "clauseNames": list(field.clause_names),
                "schema": field.schema,
            }
            if field.custom:
                entry["untranslatedName"] = field.name
            if not field.schema:
                del entry["schema"]
            body.append(entry)
        return _json(body)

    def _statuses(self, request: Request, version: str, _: dict[str, str]) -> Response:
        return _json([self._status_json(request, version, s) for s in self.data.statuses])

    # -- search

    def _search_jql(self, request: Request, version: str, _: dict[str, str]) -> Response:
        """Jira Cloud's enhanced search: a cursor (`nextPageToken`), `isLast`, and no total."""
        if not self.is_cloud:
            return _json({"message": f"null for uri: {request.url}", "status-code": 404}, 404)
        params = self._search_params(request)
        token = params.get("nextPageToken")
        fields = self._field_list(params.get("fields")) or ["id"]  # "The default is `id`."
        expand = self._expand_list(params.get("expand"))
        self._check_reconcile_ids(params)
        page_size = self._int_param(params, "maxResults", DEFAULT_PAGE)
        if page_size <= 0:
            page_size = DEFAULT_PAGE
        page_size = min(page_size, _cloud_page_cap(fields, expand, self.heavy_page_cap))
        if token:
            snapshot_id, offset = self._decode_token(str(token))
            with self._lock:
                matched = self._snapshots.get(snapshot_id)
            if matched is None:
                raise ApiError(400, "The provided next page token is invalid or expired.")
        else:
            compiled = self._compile(request, str(params.get("jql") or ""))
            if not compiled.bounded:
                raise ApiError(400, UNBOUNDED_MESSAGE)
            matched = compiled.run(compiled.candidates(self.data))
            snapshot_id, offset = uuid.uuid4().hex, 0
            with self._lock:
                self._snapshots[snapshot_id] = matched
                while len(self._snapshots) > SNAPSHOTS_KEPT:
                    self._snapshots.popitem(last=False)
        name_chain(request.environ, f"search/jql {snapshot_id}")
        page = matched[offset : offset + page_size]
        body: JsonObject = {
            "issues": [self._issue_json(request, version, i, fields, expand) for i in page]
        }
        next_offset = offset + len(page)
        if next_offset < len(matched):
            body["nextPageToken"] = self._encode_token(snapshot_id, next_offset)
        body["isLast"] = next_offset >= len(matched)
        return _json(body)

    def _check_reconcile_ids(self, params: JsonObject) -> None:
        """`reconcileIssues`: ids whose latest writes the search must reflect (at most 50).

        The sandbox's search has no index lag, so it only checks them the way Jira does.
        """
        ids = self._field_list(params.get("reconcileIssues"))
        if len(ids) > RECONCILE_MAX_IDS:
            raise ApiError(400, f"reconcileIssues accepts at most {RECONCILE_MAX_IDS} issue ids.")
        for value in ids:
            if not value.isdigit():
                raise ApiError(
                    400, f"The value '{value}' is invalid for the 'reconcileIssues' parameter."
                )

    def _approximate_count(self, request: Request, version: str, _: dict[str, str]) -> Response:
        if not self.is_cloud:
            return _json({"message": f"null for uri: {request.url}", "status-code": 404}, 404)
        params = self._search_params(request)
        compiled = self._compile(request, str(params.get("jql") or ""))
        if not compiled.bounded:
            raise ApiError(400, UNBOUNDED_MESSAGE)
        return _json({"count": len(compiled.select(compiled.candidates(self.data)))})

    def _match(self, request: Request, version: str, _: dict[str, str]) -> Response:
        """Jira Cloud's `jql/match`: which of these issues each query matches, in one request."""
        if not self.is_cloud:
            return _json({"message": f"null for uri: {request.url}", "status-code": 404}, 404)
        params = self._search_params(request)
        ids = params.get("issueIds")
        jqls = params.get("jqls")
        if not isinstance(ids, list) or not isinstance(jqls, list):
            raise ApiError(400, "issueIds and jqls must be lists.")
        if len(ids) > MATCH_MAX_ISSUES or len(jqls) > MATCH_MAX_JQLS:
            raise ApiError(
                400, f"At most {MATCH_MAX_ISSUES} issue ids and {MATCH_MAX_JQLS} queries."
            )
        issues = [self.data.by_id[str(i)] for i in ids if str(i) in self.data.by_id]
        matches: list[JsonObject] = []
        for jql in jqls:
            try:
                compiled = self._compile(request, str(jql))
            except JqlError as exc:
                matches.append({"matchedIssues": [], "errors": [str(exc)]})
                continue
            matched = [issue.id for issue in issues if compiled.predicate(issue)]
            matches.append({"matchedIssues": matched, "errors": []})
        return _json({"matches": matches})

    def _search(self, request: Request, version: str, _: dict[str, str]) -> Response:
        """The offset search Jira Server/DC serves; Jira Cloud has removed it (410)."""
        if self.is_cloud:
            return _error(410, SEARCH_GONE_MESSAGE)
        params = self._search_params(request)
        jql = str(params.get("jql") or "")
        start_at = max(0, self._int_param(params, "startAt", 0))
        asked = self._int_param(params, "maxResults", DEFAULT_PAGE)
        max_results = max(0, min(asked, self.server_page_cap))
        matched = self._server_result(request, jql, start_at)
        pages_of = [(k, v) for k, v in request.args.items(multi=True) if k != "startAt"]
        name_chain(request.environ, f"search {pages_of}")
        fields = self._field_list(params.get("fields")) or ["*navigable"]
        expand = self._expand_list(params.get("expand"))
        page = matched[start_at : start_at + max_results] if max_results else []
        return _json(
            {
                "expand": "schema,names",
                "startAt": start_at,
                "maxResults": max_results,
                "total": len(matched),
                "issues": [self._issue_json(request, version, i, fields, expand) for i in page],
            }
        )

    def _server_result(self, request: Request, jql: str, start_at: int) -> list[JiraIssue]:
        """Reuse a recent result while a client pages through it (Jira keeps no cursor).

        Only for later pages: a search from the start always sees the data as it is now.
        """
        now = time.monotonic()
        with self._lock:
            cached = self._server_results.get(jql)
            if start_at > 0 and cached is not None and now - cached[0] < SERVER_RESULT_TTL_S:
                return cached[1]
        compiled = self._compile(request, jql)
        matched = compiled.run(compiled.candidates(self.data))
        with self._lock:
            stale = [
                key
                for key, (at, _) in self._server_results.items()
                if now - at >= SERVER_RESULT_TTL_S
            ]
            for key in stale:
                del self._server_results[key]
            self._server_results[jql] = (now, matched)
        return matched

    def _compile(self, request: Request, jql: str) -> CompiledJql:
        return self.engine.compile(jql, current_user=self.user.account_id)

    @staticmethod
    def _search_params(request: Request) -> JsonObject:
        if request.method == "POST":
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except json.JSONDecodeError as exc:
                raise ApiError(
                    400, f"Unexpected character in the request body: {exc.msg}"
                ) from None
            if not isinstance(body, dict):
                raise ApiError(400, "The request body must be a JSON object.")
            return body
        params: JsonObject = {key: request.args.get(key) for key in request.args}
        params["fields"] = request.args.getlist("fields")
        params["expand"] = request.args.getlist("expand")
        params["reconcileIssues"] = request.args.getlist("reconcileIssues")
        return params

    @staticmethod
    def _int_param(params: JsonObject, name: str, default: int) -> int:
        value = params.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(
                400, f"The value '{value}' is invalid for the '{name}' parameter."
            ) from None

    @staticmethod
    def _field_list(value: object) -> list[str]:
        if value is None:
            return []
        items = (
            [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
        )
        return [part.strip() for item in items for part in str(item).split(",") if part.strip()]

    def _expand_list(self, value: object) -> set[str]:
        return set(self._field_list(value))

    @staticmethod
    def _encode_token(snapshot_id: str, offset: int) -> str:
        raw = json.dumps({"s": snapshot_id, "o": offset}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode_token(token: str) -> tuple[str, int]:
        try:
            padded = token + "=" * (-len(token) % 4)
            decoded = json.loads(base64.urlsafe_b64decode(padded))
            return str(decoded["s"]), int(decoded["o"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise ApiError(400, "The provided next page token is invalid or expired.") from None

    # -- issues

    def _issue(self, request: Request, version: str, args: dict[str, str]) -> Response:
        issue = self.data.issue(args["issue_id"])
        if issue is None:
            raise ApiError(404, ISSUE_404_MESSAGE)
        fields = self._field_list(request.args.getlist("fields")) or ["*all"]
        expand = self._expand_list(request.args.getlist("expand"))
        return _json(self._issue_json(request, version, issue, fields, expand))

    def _changelog(self, request: Request, version: str, args: dict[str, str]) -> Response:
        issue = self.data.issue(args["issue_id"])
        if issue is None:
            raise ApiError(404, ISSUE_404_MESSAGE)
        start_at = max(0, self._int_param(dict(request.args), "startAt", 0))
        max_results = self._int_param(dict(request.args), "maxResults", CHANGELOG_PAGE_CAP)
        max_results = max(1, min(max_results, CHANGELOG_PAGE_CAP))
        entries = issue.changelog[start_at : start_at + max_results]
        total = len(issue.changelog)
        url = f"{self._api(request, version)}/issue/{issue.key}/changelog"
        name_chain(request.environ, f"changelog {issue.key}")
        is_last = start_at + len(entries) >= total
        body: JsonObject = {
            "self": f"{url}?startAt={start_at}&maxResults={max_results}",
            "maxResults": max_results,
            "startAt": start_at,
            "total": total,
            "isLast": is_last,
            "values": [self._history_json(request, version, entry) for entry in entries],
        }
        if not is_last:
            body["nextPage"] = f"{url}?startAt={start_at + len(entries)}&maxResults={max_results}"
        return _json(body)

    def _issue_json(
        self,
        request: Request,
        version: str,
        issue: JiraIssue,
        fields: list[str],
        expand: set[str],
    ) -> JsonObject:
        wanted = _wanted_field_ids(tuple(fields))
        named = set(fields)
        # Cloud: `id` "Returns only issue IDs", no key, no self. Server always sends both.
        bare = self.is_cloud and (
            named <= self.bare_id_fields or (not wanted and not KEY_FIELDS & named)
        )
        if bare and "changelog" not in expand:
            return {"id": str(issue.id)}
        api = self._api(request, version)
        body: JsonObject = {
            "expand": ISSUE_EXPAND,
            "id": str(issue.id),
            "self": f"{api}/issue/{issue.id}",
            "key": issue.key,
            "fields": {name: self._field_value(request, version, issue, name) for name in wanted},
        }
        if "changelog" in expand:
            histories = issue.changelog
            if self.is_cloud:
                histories = histories[-EXPANDED_HISTORIES_CAP:]
            body["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(issue.changelog),
                "histories": [self._history_json(request, version, e) for e in histories],
            }
        return body

    def _field_value(self, request: Request, version: str, issue: JiraIssue, name: str) -> object:
        if name == "summary":
            return issue.summary
        if name == "description":
            if version == "3":
                return {
                    "type": "doc",
                    "version": 1,
                    "content": [
                        {
                            "type": "paragraph",
                            "content": [{"type": "text", "text": issue.description}],
                        }
                    ],
                }
            return issue.description
        if name == "status":
            status = STATUSES[issue.status]
            return self._once(request, ("status", version, status.id), self._status_json, status)
        if name == "project":
            project = self.data.projects_by_key[issue.project]
            return self._once(
                request, ("project", version, project.key), self._project_json, project
            )
        if name == "labels":
            return list(issue.labels)
        if name in ("assignee", "reporter"):
            account: str | None = getattr(issue, name)
            return self._once(request, ("user", version, account), self._user_json, account)
        if name in ("created", "updated", "resolutiondate"):
            moment: datetime | None = getattr(issue, name)
            return jira_datetime(moment) if moment is not None else None
        if name in (STORY_POINTS_FIELD, STORY_POINT_ESTIMATE_FIELD):
            return issue.story_points if issue.story_points_field == name else None
        api = self._api(request, version)
        base = self._base(request)
        if name == "priority":
            priority_id = PRIORITY_IDS[issue.priority]
            return {
                "self": f"{api}/priority/{priority_id}",
                "iconUrl": f"{base}/images/icons/priorities/{issue.priority.lower()}.svg",
                "name": issue.priority,
                "id": priority_id,
            }
        if name == "issuetype":
            type_id = ISSUE_TYPE_IDS[issue.issue_type]
            return {
                "self": f"{api}/issuetype/{type_id}",
                "id": type_id,
                "description": "",
                "iconUrl": f"{base}/images/icons/issuetypes/{issue.issue_type.lower()}.svg",
                "name": issue.issue_type,
                "subtask": False,
                "hierarchyLevel": 1 if issue.issue_type == "Epic" else 0,
            }
        if name == "resolution":
            if issue.resolution is None:
                return None
            resolution_id = RESOLUTION_IDS[issue.resolution]
            return {
                "self": f"{api}/resolution/{resolution_id}",
                "id": resolution_id,
                "description": "",
                "name": issue.resolution,
            }
        if name == SEVERITY_FIELD:
            severity = issue.custom_fields.get(name)
            if severity is None:
                return None
            option_id = str(10100 + SEVERITIES.index(str(severity)))
            return {
                "self": f"{api}/customFieldOption/{option_id}",
                "value": severity,
                "id": option_id,
            }
        return issue.custom_fields.get(name)

    @staticmethod
    def _once(
        request: Request,
        key: tuple[str, str, str | None],
        render: Callable[[Request, str, T], JsonObject | None],
        entity: T,
    ) -> JsonObject | None:
        """Render a status, project or user once per response: a page repeats a few of them.

        The rendered object is shared within the one answer being built, which only
        serializes it, so sharing cannot change what is sent.
        """
        rendered: dict[tuple[str, str, str | None], JsonObject | None] = request.environ.setdefault(
            RENDERED_KEY, {}
        )
        if key not in rendered:
            rendered[key] = render(request, key[1], entity)
        return rendered[key]

    def _status_json(self, request: Request, version: str, status: JiraStatus) -> JsonObject:
        api = self._api(request, version)
        category_id = CATEGORY_IDS[status.category_key]
        return {
            "self": f"{api}/status/{status.id}",
            "description": "",
            "iconUrl": f"{self._base(request)}/images/icons/statuses/generic.png",
            "name": status.name,
            "id": status.id,
            "statusCategory": {
                "self": f"{api}/statuscategory/{category_id}",
                "id": category_id,
                "key": status.category_key,
                "colorName": CATEGORY_COLOURS[status.category_key],
                "name": status.category_name,
            },
        }

    def _project_json(self, request: Request, version: str, project: JiraProject) -> JsonObject:
        body: JsonObject = {
            "self": f"{self._api(request, version)}/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "avatarUrls": self._avatars(request, project.id),
        }
        if self.is_cloud:
            body["simplified"] = project.team_managed
        return body

    def _user_json(
        self, request: Request, version: str, account_id: str | None
    ) -> JsonObject | None:
        if account_id is None:
            return None
        user = self._users[account_id]
        api = self._api(request, version)
        if self.is_cloud:
            return {
                "self": f"{api}/user?accountId={user.account_id}",
                "accountId": user.account_id,
                "emailAddress": user.email,
                "avatarUrls": self._avatars(request, user.account_id),
                "displayName": user.display_name,
                "active": True,
                "timeZone": "Etc/UTC",
                "accountType": "atlassian",
            }
        return {
            "self": f"{api}/user?username={user.name}",
            "name": user.name,
            "key": f"JIRAUSER{zlib.crc32(user.account_id.encode()) % 100000}",
            "emailAddress": user.email,
            "avatarUrls": self._avatars(request, user.name),
            "displayName": user.display_name,
            "active": True,
            "timeZone": "Etc/UTC",
        }

    def _avatars(self, request: Request, owner: str) -> dict[str, str]:
        url = f"{self._base(request)}/secure/useravatar?ownerId={owner}"
        return {size: f"{url}&size={size}" for size in ("48x48", "24x24", "16x16", "32x32")}

    def _history_json(self, request: Request, version: str, entry: ChangelogEntry) -> JsonObject:
        items = []
        for item in entry.items:
            rendered: JsonObject = {
                "field": item.field,
                "fieldtype": "jira",
                "from": item.from_id,
                "fromString": item.from_string,
                "to": item.to_id,
                "toString": item.to_string,
            }
            if self.is_cloud:
                rendered["fieldId"] = item.field_id
            items.append(rendered)
        return {
            "id": entry.id,
            "author": self._user_json(request, version, entry.author),
            "created": jira_datetime(entry.at),
            "items": items,
        }
