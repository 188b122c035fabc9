"""The GitHub REST API, as much of it as PyGithub uses for okr-sync, served from the sandbox data.

Answers are shaped like the recorded real exchanges in shared/reference/github: `Link`
headers with next/prev/first/last in GitHub's order and on /repositories/{id}/... paths,
`X-RateLimit-*` headers with separate core and search budgets, search bodies with
`total_count` / `incomplete_results` / `items` and at most 1,000 reachable results, and
GitHub's error bodies (401 Bad credentials, 404 Not Found, 422 Validation Failed, 403 rate
limit). The app is mounted under a prefix (`/github`); every URL it hands out points back
into the sandbox through the request's script root.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox.github_data import (
    GitHubDataset,
    GitHubEvent,
    GitHubIssue,
    GitHubPull,
    GitHubRepo,
    GitHubReview,
    events_of,
)
from sandbox.github_search import MAX_REACHABLE_RESULTS, SEARCH_DOCS_URL, SearchError
from sandbox.github_search import search_issues as run_search
from sandbox.listing_reuse import ListingReuse
from sandbox.recording import name_chain

log = logging.getLogger(__name__)

Json = dict[str, Any]

DOCS = "https://docs.github.com/rest"
CORE_LIMIT = 5000
CORE_LIMIT_ANONYMOUS = 60
SEARCH_LIMIT = 30
SEARCH_LIMIT_ANONYMOUS = 10
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100

_LABEL_COLOURS = {
    "bug": "d73a4a",
    "enhancement": "a2eeef",
    "docs": "0075ca",
    "question": "d876e3",
    "good first issue": "7057ff",
    "security": "b60205",
    "customer": "fbca04",
    "performance": "0e8a16",
    "dependencies": "0366d6",
    "tech debt": "c5def5",
}
_DEFAULT_LABELS = frozenset({"bug", "enhancement", "docs", "question", "good first issue"})
_EXPOSED_HEADERS = (
    "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, "
    "X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, "
    "X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, "
    "X-GitHub-Request-Id, Deprecation, Sunset"
)

# A repository's routes, the same under its name and under its id (where a renamed
# repository's old name redirects, and PyGithub's paging by id).
_REPOSITORY_PREFIXES = ("/repos/<owner>/<name>", "/repositories/<int:repo_id>")
_REPOSITORY_ROUTES = {
    "": "repo",
    "/issues": "issues",
    "/issues/<int:number>": "issue",
    "/issues/<int:number>/events": "issue_events",
    "/issues/events/<int:event_id>": "issue_event",
    "/pulls": "pulls",
    "/pulls/<int:number>": "pull",
    "/pulls/<int:number>/reviews": "reviews",
}

_URLS = Map(
    [
        Rule("/user", endpoint="user", methods=["GET"]),
        Rule("/rate_limit", endpoint="rate_limit", methods=["GET"]),
        *(
            Rule(prefix + path, endpoint=endpoint, methods=["GET"])
            for prefix in _REPOSITORY_PREFIXES
            for path, endpoint in _REPOSITORY_ROUTES.items()
        ),
        Rule("/search/issues", endpoint="search_issues", methods=["GET"]),
    ]
)


class ApiError(Exception):
    """An error answer, with GitHub's body."""

    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body.get("message")))
        self.status = status
        self.body = body
        self.headers = headers or {}


def _not_found(docs: str = DOCS) -> ApiError:
    return ApiError(404, {"message": "Not Found", "documentation_url": docs, "status": "404"})


def _invalid_field(resource: str, name: str, docs: str) -> ApiError:
    body = {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "field": name, "code": "invalid"}],
        "documentation_url": docs,
    }
    return ApiError(422, body)


def _listing_state(args: MultiDict[str, str], resource: str, docs: str) -> str:
    """A listing's `state` filter (open unless asked); GitHub answers 422 to any other."""
    state = args.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise _invalid_field(resource, "state", docs)
    return state


@dataclass
class Reply:
    """A successful answer before headers: body, extra headers, whether it may carry an ETag."""

    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True


@dataclass
class _Budget:
    """One rate-limit window for one caller and one resource (core or search)."""

    limit: int
    window_s: float
    started: float = 0.0
    used: int = 0

    def roll(self, now: float) -> None:
        if now >= self.started + self.window_s:
            self.started = now if self.window_s < 1 else float(int(now))
            self.used = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def reset(self) -> int:
        return math.ceil(self.started + self.window_s)


def _iso(moment: datetime | None) -> str | None:
    """GitHub's `2026-10-01T09:15:00Z` (isoformat is several times faster than strftime)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


@functools.lru_cache(maxsize=1 << 16)  # every page renders a pull's shas again
def _sha(*parts: object) -> str:
    return hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()


def _parse_since(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class GitHubApp:
    """WSGI app answering like api.github.com; counts requests per endpoint for tests/benchmarks."""

    def __init__(
        self,
        data: GitHubDataset,
        *,
        token: str,
        latency_s: float = 0.0,
        search_limit_per_minute: int | None = None,
        time_scale: float = 1.0,
        listing_reuse_s: float = 0.0,
    ) -> None:
        """`time_scale` > 1 shortens the rate-limit windows (60 s search, 1 h core) for tests;
        `listing_reuse_s` > 0 serves a listing's later pages from its first (the benchmark)."""
        self.data = data
        self.listings = ListingReuse(listing_reuse_s)
        self.token = token
        self.latency_s = latency_s
        self.search_limit_per_minute = search_limit_per_minute
        self.time_scale = max(time_scale, 1e-3)
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._request_serial = 0
        self._user_cache: dict[tuple[str, str], Json] = {}

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.respond(request)
        return response(environ, start_response)

    # ------------------------------------------------------------ plumbing

    def respond(self, request: Request) -> Response:
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        with self._lock:
            self._request_serial += 1
            request_id = f"{self._request_serial:04X}:{id(self) & 0xFFFF:04X}"
        adapter = _URLS.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except HTTPException:
            self._count("not_found")
            headers = {"X-GitHub-Request-Id": request_id}
            with self._lock:
                budget = self._budget(self._identity(request) or "anonymous", "core", charge=True)
                headers.update(self._rate_headers(budget, "core"))
            return self._json(404, _not_found().body, headers)
        endpoint = str(endpoint)
        self._count(endpoint)
        resource = "search" if endpoint == "search_issues" else "core"
        identity = self._identity(request)
        headers = {"X-GitHub-Request-Id": request_id}
        if identity is None:
            budget = self._budget("anonymous", resource, charge=False)
            headers.update(self._rate_headers(budget, resource))
            body = {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            return self._json(401, body, headers)
        if identity != "anonymous":
            headers["X-OAuth-Scopes"] = "repo, read:org"
            headers["X-Accepted-OAuth-Scopes"] = "repo" if resource == "core" else ""
        if endpoint == "rate_limit":  # free: shows the core budget without charging it
            with self._lock:
                headers.update(
                    self._rate_headers(self._budget(identity, "core", charge=False), "core")
                )
            return self._json(200, self._rate_limit_body(identity), headers)
        with self._lock:
            budget = self._budget(identity, resource, charge=False)
            enforced = resource == "search" and self.search_limit_per_minute is not None
            if enforced and budget.remaining == 0:
                headers.update(self._rate_headers(budget, resource))
                return self._json(403, self._rate_limited_body(identity, request_id), headers)
            if enforced:  # charged now, so that concurrent searches cannot overdraw
                budget.used += 1
        try:
            reply = self._dispatch(endpoint, arguments, request)
        except ApiError as error:
            with self._lock:
                budget = self._budget(identity, resource, charge=not enforced)
                headers.update(self._rate_headers(budget, resource))
            headers.update(error.headers)
            return self._json(error.status, error.body, headers)
        payload = json.dumps(reply.body, separators=(",", ":")).encode()
        headers.update(reply.headers)
        if reply.conditional:
            etag = f'"{hashlib.sha256(payload).hexdigest()}"'
            headers["ETag"] = etag
            headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            if etag in _etags(request.headers.get("If-None-Match", "")):
                with self._lock:  # a 304 costs nothing against the primary limit
                    budget = self._budget(identity, resource, charge=False)
                    headers.update(self._rate_headers(budget, resource))
                return self._raw(304, b"", headers)
        else:
            headers["Cache-Control"] = "no-cache"
        with self._lock:
            budget = self._budget(identity, resource, charge=not enforced)
            headers.update(self._rate_headers(budget, resource))
        return self._raw(200, payload, headers)

    def _count(self, endpoint: str) -> None:
        with self._lock:
            self.requests[endpoint] += 1

    def _identity(self, request: Request) -> str | None:
        """ "token" for the sandbox token, "anonymous" without one, None for a wrong one."""
        header = request.headers.get("Authorization")
        if not header:
            return "anonymous"
        scheme, _, credential = header.partition(" ")
        if scheme.lower() in ("token", "bearer") and credential.strip() == self.token:
            return "token"
        return None

    def _budget(self, identity: str, resource: str, *, charge: bool) -> _Budget:
        """The caller's current window; call with the lock held (or for a throwaway read)."""
        key = (identity, resource)
        budget = self._budgets.get(key)
        if budget is None:
            anonymous = identity != "token"
            if resource == "search":
                limit = SEARCH_LIMIT_ANONYMOUS if anonymous else SEARCH_LIMIT
                if self.search_limit_per_minute is not None:
                    limit = self.search_limit_per_minute
                budget = _Budget(limit, 60 / self.time_scale)
            else:
                limit = CORE_LIMIT_ANONYMOUS if anonymous else CORE_LIMIT
                budget = _Budget(limit, 3600 / self.time_scale)
            self._budgets[key] = budget
        budget.roll(time.time())
        if charge:
            budget.used += 1
        return budget

    @staticmethod
    def _rate_headers(budget: _Budget, resource: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(budget.limit),
            "X-RateLimit-Remaining": str(budget.remaining),
            "X-RateLimit-Reset": str(budget.reset),
            "X-RateLimit-Used": str(budget.used),
            "X-RateLimit-Resource": resource,
        }

    def _rate_limit_body(self, identity: str) -> Json:
        with self._lock:
            core = self._budget(identity, "core", charge=False)
            search = self._budget(identity, "search", charge=False)
            resources = {
                name: {
                    "limit": b.limit,
                    "used": b.used,
                    "remaining": b.remaining,
                    "reset": b.reset,
                }
                for name, b in (("core", core), ("search", search))
            }
        graphql = dict(resources["core"])
        resources["graphql"] = graphql
        return {"resources": resources, "rate": resources["core"]}

    def _rate_limited_body(self, identity: str, request_id: str) -> Json:
        who = "user ID 999" if identity == "token" else "127.0.0.1"
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return {
            "message": (
                f"API rate limit exceeded for {who}. If you reach out to GitHub Support for "
                f"help, please include the request ID {request_id} and timestamp {stamp}."
            ),
            "documentation_url": (
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
            ),
            "status": "403",
        }

    @staticmethod
    def _json(status: int, body: Any, headers: dict[str, str]) -> Response:
        return GitHubApp._raw(status, json.dumps(body, separators=(",", ":")).encode(), headers)

    @staticmethod
    def _raw(status: int, payload: bytes, headers: dict[str, str]) -> Response:
        response = Response(payload, status=status)
        if status != 304:
            response.headers["Content-Type"] = "application/json; charset=utf-8"
        response.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
        response.headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
        response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
        response.headers["Access-Control-Allow-Origin"] = "*"
        for name, value in headers.items():
            response.headers[name] = value
        return response

    # ------------------------------------------------------------ endpoints

    def _dispatch(self, endpoint: str, arguments: Mapping[str, Any], request: Request) -> Reply:
        base = request.url_root.rstrip("/")
        if endpoint == "user":
            return Reply(self.user_json(base, self.data.viewer, full=True))
        if endpoint == "search_issues":
            return self.search(request, base)
        repo = self._repo(arguments, endpoint, request)
        if endpoint == "repo":
            return Reply(self.repo_json(base, repo))
        if endpoint == "issues":
            return self.issues(request, base, repo)
        if endpoint == "pulls":
            return self.pulls(request, base, repo)
        if endpoint == "issue_event":  # PyGithub completes an event through its url
            return self.issue_event(base, repo, int(arguments["event_id"]))
        number = int(arguments["number"])
        item = self.data.item(repo.full_name, number)
        if endpoint == "issue":
            if item is None:
                return self._missing_issue(base, repo, number)
            return Reply(self.issue_json(base, item))
        if endpoint == "issue_events":
            if item is None:
                return self._missing_issue(base, repo, number)
            events = events_of(item)
            page, link = self._page(request, base, events, request.path)
            return Reply([self.event_json(base, item, e) for e in page], link)
        if not isinstance(item, GitHubPull):
            raise _not_found(f"{DOCS}/pulls/pulls#get-a-pull-request")
        if endpoint == "pull":
            return Reply(self.pull_json(base, item, full=True))
        reviews = sorted(item.reviews, key=lambda r: (r.submitted_at, r.id))
        page, link = self._page(request, base, reviews, request.path)
        return Reply([self.review_json(base, item, r) for r in page], link)

    def issue_event(self, base: str, repo: GitHubRepo, event_id: int) -> Reply:
        """One event of the repository's issues, with the issue it belongs to."""
        for item in self.data.items_of(repo.full_name):
            for event in events_of(item):
                if event.id == event_id:
                    return Reply(
                        {**self.event_json(base, item, event), "issue": self.issue_json(base, item)}
                    )
        raise _not_found(f"{DOCS}/issues/events#get-an-issue-event")

    def _missing_issue(self, base: str, repo: GitHubRepo, number: int) -> Reply:
        """A transferred issue answers 301 to its new place, a deleted one 410 Gone."""
        docs = f"{DOCS}/issues/issues#get-an-issue"
        moved = self.data.moved.get((repo.full_name, number))
        if moved is not None:
            raise ApiError(
                301,
                {
                    "message": "Moved Permanently",
                    "url": f"{base}/repos/{moved[0]}/issues/{moved[1]}",
                },
                {"Location": f"{base}/repos/{moved[0]}/issues/{moved[1]}"},
            )
        if (repo.full_name, number) in self.data.gone:
            raise ApiError(410, {"message": "This issue was deleted", "documentation_url": docs})
        raise _not_found(docs)

    def _repo(self, arguments: Mapping[str, Any], endpoint: str, request: Request) -> GitHubRepo:
        """The repository a path names; a renamed one's old name answers 301 to its id's path."""
        docs = {
            "repo": f"{DOCS}/repos/repos#get-a-repository",
            "issues": f"{DOCS}/issues/issues#list-repository-issues",
            "pulls": f"{DOCS}/pulls/pulls#list-pull-requests",
        }.get(endpoint, DOCS)
        if "repo_id" in arguments:
            found = self.data.repo_by_id(int(arguments["repo_id"]))
        else:
            name = f"{arguments['owner']}/{arguments['name']}"
            found = self.data.repo_named(name)
            renamed = self.data.renamed.get(name.lower())
            if found is None and renamed is not None:
                moved = self.data.repos[renamed]
                rest = request.path.split(f"/repos/{arguments['owner']}/{arguments['name']}", 1)[1]
                query = f"?{request.query_string.decode()}" if request.query_string else ""
                location = f"{request.url_root.rstrip('/')}/repositories/{moved.id}{rest}{query}"
                raise ApiError(
                    301,
                    {"message": "Moved Permanently", "url": location, "documentation_url": docs},
                    {"Location": location},
                )
        if found is None:
            raise _not_found(docs)
        return found

    def _page(
        self, request: Request, base: str, items: list[Any], path: str, *, reachable: int = -1
    ) -> tuple[list[Any], dict[str, str]]:
        """One page of `items` and its Link header, in GitHub's rel order (prev next last first)."""
        per_page = _int_arg(request, "per_page", DEFAULT_PER_PAGE)
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
        page = max(1, _int_arg(request, "page", 1))
        total = len(items) if reachable < 0 else reachable
        last = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        kept = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
        name_chain(request.environ, f"{path}?{urlencode(kept)}")

        def url(number: int) -> str:
            return f"{base}{path}?{urlencode([*kept, ('page', str(number))])}"

        rels: list[tuple[str, int]] = []
        if page > 1:
            rels.append(("prev", min(page - 1, last)))
        if page < last:
            rels += [("next", page + 1), ("last", last)]
        if page > 1:
            rels.append(("first", 1))
        headers = {}
        if rels:
            headers["Link"] = ", ".join(f'<{url(n)}>; rel="{rel}"' for rel, n in rels)
        return chunk, headers

    def _listing_key(self, request: Request, endpoint: str, repo: GitHubRepo) -> Hashable:
        kept = sorted((k, v) for k, v in request.args.items(multi=True) if k != "page")
        return (endpoint, repo.id, tuple(kept))

    def issues(self, request: Request, base: str, repo: GitHubRepo) -> Reply:
        key = self._listing_key(request, "issues", repo)
        page = _int_arg(request, "page", 1)
        items = self.listings.listing(key, page, lambda: self._issues_listed(request, repo))
        page_items, link = self._page(request, base, items, f"/repositories/{repo.id}/issues")
        return Reply([self.issue_json(base, i) for i in page_items], link)

    def _issues_listed(self, request: Request, repo: GitHubRepo) -> list[GitHubIssue]:
        docs = f"{DOCS}/issues/issues#list-repository-issues"
        args = request.args
        state = _listing_state(args, "Issue", docs)
        items = [i for i in self.data.items_of(repo.full_name) if state in ("all", i.state)]
        if args.get("labels"):
            wanted = {part.strip().lower() for part in args["labels"].split(",") if part.strip()}
            items = [i for i in items if wanted <= {label.lower() for label in i.labels}]
        if args.get("since"):
            try:
                since = _parse_since(args["since"])
            except ValueError:
                raise _invalid_field("Issue", "since", docs) from None
            items = [i for i in items if i.updated_at >= since]
        assignee = args.get("assignee")
        if assignee == "none":
            items = [i for i in items if i.assignee is None]
        elif assignee == "*":
            items = [i for i in items if i.assignee is not None]
        elif assignee:
            items = [i for i in items if (i.assignee or "").lower() == assignee.lower()]
        if args.get("creator"):
            items = [i for i in items if i.user.lower() == args["creator"].lower()]
        sort = args.get("sort", "created")
        direction = args.get("direction", "desc")
        if sort not in ("created", "updated", "comments"):
            raise _invalid_field("Issue", "sort", docs)
        if direction not in ("asc", "desc"):
            raise _invalid_field("Issue", "direction", docs)
        items.sort(key=_sorter(sort), reverse=direction == "desc")
        return items

    def pulls(self, request: Request, base: str, repo: GitHubRepo) -> Reply:
        key = self._listing_key(request, "pulls", repo)
        page = _int_arg(request, "page", 1)
        pulls = self.listings.listing(key, page, lambda: self._pulls_listed(request, repo))
        page_items, link = self._page(request, base, pulls, f"/repositories/{repo.id}/pulls")
        return Reply([self.pull_json(base, p, full=False) for p in page_items], link)

    def _pulls_listed(self, request: Request, repo: GitHubRepo) -> list[GitHubPull]:
        docs = f"{DOCS}/pulls/pulls#list-pull-requests"
        args = request.args
        state = _listing_state(args, "PullRequest", docs)
        pulls = [
            p
            for p in self.data.items_of(repo.full_name)
            if isinstance(p, GitHubPull) and state in ("all", p.state)
        ]
        if args.get("base"):
            pulls = [p for p in pulls if p.base == args["base"]]
        if args.get("head"):
            ref = args["head"].partition(":")[2] or args["head"]
            pulls = [p for p in pulls if p.head == ref]
        sort = args.get("sort", "created")
        if sort not in ("created", "updated", "popularity", "long-running"):
            raise _invalid_field("PullRequest", "sort", docs)
        direction = args.get("direction", "desc" if sort == "created" else "asc")
        if direction not in ("asc", "desc"):
            raise _invalid_field("PullRequest", "direction", docs)
        if sort == "long-running":  # open for over a month, with activity in the last month
            month_ago = self.data.anchor - timedelta(days=30)
            pulls = [p for p in pulls if p.created_at < month_ago and p.updated_at >= month_ago]
        key = {"updated": "updated", "popularity": "comments"}.get(sort, "created")
        pulls.sort(key=_sorter(key), reverse=direction == "desc")
        return pulls

    def search(self, request: Request, base: str) -> Reply:
        args = request.args
        try:
            result = run_search(
                self.data, args.get("q", ""), sort=args.get("sort"), order=args.get("order")
            )
        except SearchError as error:
            raise ApiError(422, error.body()) from None
        per_page = _int_arg(request, "per_page", DEFAULT_PER_PAGE)
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
        page = max(1, _int_arg(request, "page", 1))
        if (page - 1) * per_page >= MAX_REACHABLE_RESULTS:
            message = "Only the first 1000 search results are available"
            raise ApiError(422, {"message": message, "documentation_url": SEARCH_DOCS_URL})
        reachable = min(result.total_count, MAX_REACHABLE_RESULTS)
        page_items, link = self._page(
            request, base, result.items[:reachable], "/search/issues", reachable=reachable
        )
        items = [{**self.issue_json(base, item), "score": 1.0} for item in page_items]
        body: Json = {
            "total_count": result.total_count,
            "incomplete_results": False,
            "items": items,
        }
        return Reply(body, link, conditional=False)

    # ------------------------------------------------------------ JSON shapes

    def user_json(self, base: str, login: str, *, full: bool = False) -> Json:
        """A user object; the short form is cached (answers share it and never change it)."""
        if not full:
            cached = self._user_cache.get((base, login))
            if cached is None:
                cached = self._user_cache[(base, login)] = self._build_user_json(base, login)
            return cached
        return self._build_user_json(base, login, full=True)

    def _build_user_json(self, base: str, login: str, *, full: bool = False) -> Json:
        user = self.data.users.get(login)
        user_id = user.id if user else int(_sha(login)[:6], 16)
        kind = user.type if user else "User"
        api = f"{base}/users/{quote(login)}"
        body: Json = {
            "login": login,
            "id": user_id,
            "node_id": f"U_{user_id:08d}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://github.com/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": kind,
            "site_admin": False,
        }
        if full:
            body.update(
                {
                    "name": login.replace("-", " ").title(),
                    "company": "Acme",
                    "email": None,
                    "public_repos": 0,
                    "created_at": "2020-01-06T09:00:00Z",
                }
            )
        return body

    def org_json(self, base: str, owner: str) -> Json:
        body = dict(self.user_json(base, owner))
        body["type"] = "Organization"
        body["url"] = f"{base}/users/{owner}"
        return body

    def repo_json(self, base: str, repo: GitHubRepo) -> Json:
        api = f"{base}/repos/{repo.full_name}"
        items = self.data.items_of(repo.full_name)
        updated = max((i.updated_at for i in items), default=repo.created_at)
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id:010d}",
            "name": repo.name,
            "full_name": repo.full_name,
            "private": False,
            "owner": self.org_json(base, repo.owner),
            "html_url": f"https://github.com/{repo.full_name}",
            "description": repo.description,
            "fork": False,
            "url": api,
            "issues_url": f"{api}/issues{{/number}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "labels_url": f"{api}/labels{{/name}}",
            "created_at": _iso(repo.created_at),
            "updated_at": _iso(updated),
            "pushed_at": _iso(updated),
            "visibility": "public",
            "open_issues_count": sum(1 for i in items if i.state == "open"),
            "open_issues": sum(1 for i in items if i.state == "open"),
            "has_issues": True,
            "archived": False,
            "disabled": False,
            "default_branch": repo.default_branch,
        }

    def label_json(self, base: str, repo: str, name: str) -> Json:
        digest = int(_sha(repo, name)[:8], 16)
        return {
            "id": digest,
            "node_id": f"LA_{digest:010d}",
            "url": f"{base}/repos/{repo}/labels/{quote(name)}",
            "name": name,
            "color": _LABEL_COLOURS.get(name, "ededed"),
            "default": name in _DEFAULT_LABELS,
            "description": None,
        }

    def issue_json(self, base: str, item: GitHubIssue) -> Json:
        """An issue as the issues and search endpoints show it (pull requests included)."""
        api = f"{base}/repos/{item.repo}"
        kind = "pull" if item.is_pull_request else "issues"
        body: Json = {
            "url": f"{api}/issues/{item.number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{item.number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{item.number}/comments",
            "events_url": f"{api}/issues/{item.number}/events",
            "html_url": f"https://github.com/{item.repo}/{kind}/{item.number}",
            "id": item.id,
            "node_id": f"{'PR' if item.is_pull_request else 'I'}_{item.id:010d}",
            "number": item.number,
            "title": item.title,
            "user": self.user_json(base, item.user),
            "labels": [self.label_json(base, item.repo, name) for name in item.labels],
            "state": item.state,
            "locked": False,
            "assignee": self.user_json(base, item.assignee) if item.assignee else None,
            "assignees": [self.user_json(base, item.assignee)] if item.assignee else [],
            "milestone": None,
            "comments": item.comments,
            "created_at": _iso(item.created_at),
            "updated_at": _iso(item.updated_at),
            "closed_at": _iso(item.closed_at),
            "author_association": "MEMBER",
            "active_lock_reason": None,
        }
        if isinstance(item, GitHubPull):
            body["draft"] = item.draft
            body["pull_request"] = {
                "url": f"{api}/pulls/{item.number}",
                "html_url": f"https://github.com/{item.repo}/pull/{item.number}",
                "diff_url": f"https://github.com/{item.repo}/pull/{item.number}.diff",
                "patch_url": f"https://github.com/{item.repo}/pull/{item.number}.patch",
                "merged_at": _iso(item.merged_at),
            }
        body.update(
            {
                "body": None,
                "reactions": {
                    "url": f"{api}/issues/{item.number}/reactions",
                    "total_count": 0,
                    "+1": 0,
                    "-1": 0,
                    "laugh": 0,
                    "hooray": 0,
                    "confused": 0,
                    "heart": 0,
                    "rocket": 0,
                    "eyes": 0,
                },
                "timeline_url": f"{api}/issues/{item.number}/timeline",
                "performed_via_github_app": None,
                "state_reason": (
                    "completed" if item.closed_at and not item.is_pull_request else None
                ),
            }
        )
        return body

    def event_json(self, base: str, item: GitHubIssue, event: GitHubEvent) -> Json:
        """An issue event as "List issue events" shows it: a label event carries the label's
        name and colour alone; closing by a merge names the merge commit."""
        api = f"{base}/repos/{item.repo}"
        commit = _sha(item.repo, item.number, "merge") if event.event == "merged" else None
        body: Json = {
            "id": event.id,
            "node_id": f"IE_{event.id:010d}",
            "url": f"{api}/issues/events/{event.id}",
            "actor": self.user_json(base, event.actor),
            "event": event.event,
            "commit_id": commit,
            "commit_url": f"{api}/commits/{commit}" if commit else None,
            "created_at": _iso(event.created_at),
            "performed_via_github_app": None,
        }
        if event.label is not None:
            colour = _LABEL_COLOURS.get(event.label, "ededed")
            body["label"] = {"name": event.label, "color": colour}
        if event.assignee is not None:
            body["assignee"] = self.user_json(base, event.assignee)
            body["assigner"] = self.user_json(base, event.actor)
        if event.rename is not None:
            body["rename"] = {"from": event.rename[0], "to": event.rename[1]}
        if event.event == "closed":
            body["state_reason"] = None if item.is_pull_request else "completed"
        return body

    def branch_json(self, base: str, pull: GitHubPull, ref: str, side: str) -> Json:
        repo = self.data.repos[pull.repo]
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": _sha(pull.repo, pull.number, side),
            "user": self.org_json(base, repo.owner),
            "repo": {
                "id": repo.id,
                "name": repo.name,
                "full_name": repo.full_name,
                "private": False,
                "url": f"{base}/repos/{repo.full_name}",
                "html_url": f"https://github.com/{repo.full_name}",
                "default_branch": repo.default_branch,
            },
        }

    def pull_json(self, base: str, pull: GitHubPull, *, full: bool) -> Json:
        """A pull request as /pulls lists it; `full` adds what only /pulls/{n} returns."""
        api = f"{base}/repos/{pull.repo}"
        html = f"https://github.com/{pull.repo}/pull/{pull.number}"
        assignee = self.user_json(base, pull.assignee) if pull.assignee else None
        body: Json = {
            "url": f"{api}/pulls/{pull.number}",
            "id": pull.id,
            "node_id": f"PR_{pull.id:010d}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{pull.number}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user_json(base, pull.user),
            "body": None,
            "created_at": _iso(pull.created_at),
            "updated_at": _iso(pull.updated_at),
            "closed_at": _iso(pull.closed_at),
            "merged_at": _iso(pull.merged_at),
            "merge_commit_sha": _sha(pull.repo, pull.number, "merge") if pull.merged_at else None,
            "assignee": assignee,
            "assignees": [assignee] if assignee else [],
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [self.label_json(base, pull.repo, name) for name in pull.labels],
            "milestone": None,
            "draft": pull.draft,
            "commits_url": f"{api}/pulls/{pull.number}/commits",
            "review_comments_url": f"{api}/pulls/{pull.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pull.number}/comments",
            "statuses_url": f"{api}/statuses/{_sha(pull.repo, pull.number, 'head')}",
            "head": self.branch_json(base, pull, pull.head, "head"),
            "base": self.branch_json(base, pull, pull.base, "base"),
            "_links": {
                "self": {"href": f"{api}/pulls/{pull.number}"},
                "html": {"href": html},
                "issue": {"href": f"{api}/issues/{pull.number}"},
                "comments": {"href": f"{api}/issues/{pull.number}/comments"},
                "review_comments": {"href": f"{api}/pulls/{pull.number}/comments"},
                "commits": {"href": f"{api}/pulls/{pull.number}/commits"},
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "active_lock_reason": None,
        }
        if full:
            merger = next(
                (r.user for r in reversed(pull.reviews) if r.state == "APPROVED"), pull.user
            )
            body.update(
                {
                    "merged": pull.merged_at is not None,
                    "mergeable": None if pull.state == "closed" else True,
                    "rebaseable": None if pull.state == "closed" else True,
                    "mergeable_state": "unknown" if pull.state == "closed" else "clean",
                    "merged_by": self.user_json(base, merger) if pull.merged_at else None,
                    "comments": pull.comments,
                    "review_comments": len(pull.reviews),
                    "maintainer_can_modify": False,
                    "commits": max(1, pull.changed_files // 2),
                    "additions": pull.additions,
                    "deletions": pull.deletions,
                    "changed_files": pull.changed_files,
                }
            )
        return body

    def review_json(self, base: str, pull: GitHubPull, review: GitHubReview) -> Json:
        api = f"{base}/repos/{pull.repo}/pulls/{pull.number}"
        html = f"https://github.com/{pull.repo}/pull/{pull.number}#pullrequestreview-{review.id}"
        return {
            "id": review.id,
            "node_id": f"PRR_{review.id:010d}",
            "user": self.user_json(base, review.user),
            "body": "",
            "state": review.state,
            "html_url": html,
            "pull_request_url": api,
            "author_association": "MEMBER",
            "_links": {"html": {"href": html}, "pull_request": {"href": api}},
            "submitted_at": _iso(review.submitted_at),
            "commit_id": _sha(pull.repo, pull.number, "head"),
        }


def _int_arg(request: Request, name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}


def _sorter(field_name: str) -> Any:
    if field_name == "updated":
        return lambda i: (i.updated_at, i.number)
    if field_name == "comments":
        return lambda i: (i.comments, i.number)
    return lambda i: (i.created_at, i.number)
