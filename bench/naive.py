"""The naive way: a typical integration written with the two libraries, key result by key result.

It is the baseline the benchmark measures okr-sync against, and the reference its values must
equal, so it shares none of okr-sync's fetching: it calls `jira` and PyGithub the way their
documentation shows, with their defaults.

- Jira items: `search_issues(jql, maxResults=False)`: the library asks 100 a page on Cloud's
  `search/jql` (its `DEFAULT_BATCH`) with its default fields (`*all`), and pages with
  `nextPageToken`; on Server/DC it takes the server's page (`maxResults` answered) and pages
  with `startAt`. `expand="changelog"` when a metric reads cycle time.
- Jira counts, the cheapest exact count the library offers: on Cloud (no exact count
  endpoint; `approximate_issue_count` is an estimate) `search_issues(jql, maxResults=False,
  fields="id")`, 100 ids a page; on Server/DC `search_issues(jql, maxResults=1,
  fields="id").total`, one request.
- GitHub search counts: `search_issues(q)`, its first page read (`get_page(0)`) so that
  `totalCount` is the body's `total_count` (from the Link header it stops at 1,000).
- GitHub listings: `repo.get_pulls(state=...)` / `repo.get_issues(state=..., labels=...)`
  iterated with PyGithub's default page (30) and filtered here; a count of a listing with no
  window or label is its `totalCount` (one request of one item, the Link header's last page).
- Streaming (`NaiveWay(..., streaming=True)`, for data sets the plain way cannot hold):
  iterating a `PaginatedList` keeps every element it returned (a listing of 400,000 pull
  requests does not fit a small machine), so each list is read page by page with the very
  calls its iteration makes (`_couldGrow`, `_fetchNextPage`: the same URLs, parameters and
  Link-header `next` pages), and a page is dropped once read. Same requests, same values.

`Techniques` turns on okr-sync's techniques one at a time, so the benchmark can say where
each of its gains comes from (`LADDER`): every variant still uses only the libraries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from github import Auth, Github
from github.GithubObject import GithubObject
from github.Issue import Issue
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest
from github.Repository import Repository
from jira import JIRA

from config.mapping import MappingFile
from config.vocabulary import MetricType
from connectors.base import (
    NEEDS_STARTED,
    NEEDS_STORY_POINTS,
    OPTIONAL_FIELDS,
    GitHubListSelector,
    GitHubSearchSelector,
    JiraSelector,
    Selector,
    WorkItem,
)
from connectors.github_selectors import filter_listed
from sync.metrics import compute, compute_formula
from sync.plan import MetricPlan, plan_queries

JIRA_LIBRARY_BATCH = 100  # jira's `DEFAULT_BATCH` for search/jql with maxResults=False
JIRA_ID_PAGE = 5000  # search/jql's largest page when only ids are asked (Atlassian's docs)
GITHUB_LIBRARY_PAGE = 30  # PyGithub's (and GitHub's) default per_page
GITHUB_LARGEST_PAGE = 100
PUBLIC_API_URL = "https://api.github.com"
PUBLIC_PAUSE_S = 0.25  # PyGithub's default seconds_between_requests
STORY_POINT_FIELD_NAMES = ("story points", "story point estimate")
CATEGORY_BY_KEY = {"new": "todo", "indeterminate": "in_progress", "done": "done"}
# What a metric may need besides status and dates, as Jira field ids (when fields are trimmed).
JIRA_FIELD_IDS = {
    "title": "summary",
    "labels": "labels",
    "assignee": "assignee",
    "priority": "priority",
    "issue_type": "issuetype",
    "container": "project",
}
JIRA_BASE_FIELDS = ["status", "created", "updated", "resolutiondate"]
CHANGELOG_PAGE = 100
Listed = TypeVar("Listed", bound=GithubObject)


@dataclass(frozen=True)
class Credentials:
    jira_url: str
    jira_email: str
    jira_token: str
    github_url: str
    github_token: str
    jira_flavour: Literal["cloud", "server"] = "cloud"  # okr-sync's setting; the libraries ask


@dataclass(frozen=True)
class Techniques:
    """Which of okr-sync's techniques this variant of the naive way uses.

    `server_counts`: a count is asked of the server (False: its items are paged, as the old
    baseline did). `shared_queries`: each distinct query once, a count taken from items
    fetched anyway. `largest_pages`: Jira asked only the fields the metrics read (100 a page)
    and ids 5,000 a page, GitHub 100 a page. `concurrency`: requests in flight per tracker.
    """

    server_counts: bool = True
    shared_queries: bool = False
    largest_pages: bool = False
    concurrency: int = 1


NAIVE = Techniques()
# Each rung adds one technique to the one above it; "naive" is the honest baseline.
LADDER: dict[str, Techniques] = {
    "items for counts": Techniques(server_counts=False),
    "naive": NAIVE,
    "+ shared queries": Techniques(shared_queries=True),
    "+ largest pages": Techniques(shared_queries=True, largest_pages=True),
    "+ concurrency": Techniques(shared_queries=True, largest_pages=True, concurrency=4),
}


def _jira_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


class NaiveJira:
    """Jira through the `jira` library: one client, shared by the threads (as okr-sync does)."""

    def __init__(self, credentials: Credentials, techniques: Techniques) -> None:
        self.credentials = credentials
        self.techniques = techniques
        self._lock = threading.RLock()  # the client is made inside the other look-ups
        self._client: JIRA | None = None
        self._points_ids: list[str] | None = None
        self._categories: dict[str, str] | None = None

    @property
    def client(self) -> JIRA:
        with self._lock:
            if self._client is None:  # asks serverInfo, which tells Cloud from Server/DC
                self._client = JIRA(
                    server=self.credentials.jira_url,
                    basic_auth=(self.credentials.jira_email, self.credentials.jira_token),
                )
            return self._client

    def count(self, jql: str) -> int:
        client = self.client
        if not client._is_cloud:
            return int(client.search_issues(jql, maxResults=1, fields="id").total or 0)
        if not self.techniques.largest_pages:
            return len(client.search_issues(jql, maxResults=False, fields="id"))
        ids = 0
        token: str | None = None
        while True:  # the library pages at 100; ids alone come 5,000 a page when asked
            body = client.enhanced_search_issues(
                jql, nextPageToken=token, maxResults=JIRA_ID_PAGE, fields="id", json_result=True
            )
            assert isinstance(body, dict)
            ids += len(body["issues"])
            token = body.get("nextPageToken")
            if not token:
                return ids

    def items(self, jql: str, needs: frozenset[str]) -> list[WorkItem]:
        client = self.client
        wants_start = NEEDS_STARTED in needs or "cycle_time_hours" in needs
        points_ids = self._story_point_ids() if NEEDS_STORY_POINTS in needs else []
        if self.techniques.largest_pages:
            optional = [JIRA_FIELD_IDS[name] for name in sorted(needs & OPTIONAL_FIELDS)]
            fields: str | list[str] = [*JIRA_BASE_FIELDS, *optional, *points_ids]
        else:
            fields = "*all"
            if NEEDS_STORY_POINTS not in needs:  # a typical script reads them anyway
                points_ids = self._story_point_ids()
        categories = self._status_categories() if wants_start else {}
        found = client.search_issues(
            jql,
            maxResults=False,
            fields=fields,
            expand="changelog" if wants_start else None,
        )
        items: dict[str, WorkItem] = {}
        for issue in found:
            raw: dict[str, Any] = issue.raw
            started = self._started_at(raw, categories) if wants_start else None
            items.setdefault(str(raw["key"]), self._work_item(raw, points_ids, started))
        return list(items.values())

    def _story_point_ids(self) -> list[str]:
        with self._lock:
            if self._points_ids is None:
                self._points_ids = [
                    str(field["id"])
                    for field in self.client.fields()
                    if str(field.get("name", "")).lower() in STORY_POINT_FIELD_NAMES
                ]
            return self._points_ids

    def _status_categories(self) -> dict[str, str]:
        with self._lock:
            if self._categories is None:
                self._categories = {
                    str(status.raw["id"]): str(status.raw["statusCategory"]["key"])
                    for status in self.client.statuses()
                }
            return self._categories

    def _started_at(self, raw: dict[str, Any], categories: dict[str, str]) -> datetime | None:
        """First move into an in-progress status (the changelog paged when Jira cut it)."""
        changelog = raw.get("changelog") or {}
        histories: list[dict[str, Any]] = list(changelog.get("histories") or [])
        if int(changelog.get("total", len(histories))) > len(histories):
            histories = []
            while True:
                page = self.client._get_json(
                    f"issue/{raw['key']}/changelog",
                    params={"startAt": len(histories), "maxResults": CHANGELOG_PAGE},
                )
                batch = list(page.get("values") or [])
                histories.extend(batch)
                if not batch or page.get("isLast", True):
                    break
        moves: list[datetime] = []
        for history in histories:
            for change in history.get("items") or []:
                if change.get("field") != "status":
                    continue
                category = categories.get(str(change.get("to")))
                if category is None:
                    category = "indeterminate" if change.get("toString") == "In Progress" else ""
                moment = _jira_time(history.get("created"))
                if category == "indeterminate" and moment is not None:
                    moves.append(moment)
        return min(moves, default=None)

    def _work_item(
        self, raw: dict[str, Any], points_ids: list[str], started: datetime | None
    ) -> WorkItem:
        fields: dict[str, Any] = raw["fields"]
        key = str(raw["key"])
        status = fields.get("status") or {}
        created = _jira_time(fields.get("created"))
        assert created is not None, key
        points = next((float(fields[f]) for f in points_ids if fields.get(f) is not None), None)
        assignee = fields.get("assignee") or {}
        return WorkItem(
            source="jira",
            key=key,
            url=f"{self.credentials.jira_url}/browse/{key}",
            kind="issue",
            title=str(fields.get("summary") or ""),
            status=str(status.get("name") or ""),
            status_category=CATEGORY_BY_KEY.get(  # type: ignore[arg-type]
                (status.get("statusCategory") or {}).get("key", "new"), "todo"
            ),
            created_at=created,
            updated_at=_jira_time(fields.get("updated")) or created,
            resolved_at=_jira_time(fields.get("resolutiondate")),
            started_at=started,
            labels=tuple(fields.get("labels") or ()),
            assignee=assignee.get("displayName") or assignee.get("name"),
            story_points=points,
            priority=(fields.get("priority") or {}).get("name"),
            issue_type=(fields.get("issuetype") or {}).get("name"),
            container=(fields.get("project") or {}).get("key"),
        )


def page_by_page(listing: PaginatedList[Listed]) -> Iterator[Listed]:
    """`listing`'s elements, requested exactly as iterating it requests them (its `__iter__`
    calls `_grow`, which is `_fetchNextPage` plus keeping the page), without keeping them."""
    while listing._couldGrow():
        yield from listing._fetchNextPage()


class NaiveGitHub:
    """GitHub through PyGithub, one client per thread (PyGithub's requester is not shared)."""

    def __init__(
        self, credentials: Credentials, techniques: Techniques, *, streaming: bool = False
    ) -> None:
        self.credentials = credentials
        self.techniques = techniques
        self.streaming = streaming
        self._local = threading.local()
        self._lock = threading.Lock()
        self._known_repos: set[str] = set()  # fetched once; other threads' objects are lazy

    @property
    def client(self) -> Github:
        client: Github | None = getattr(self._local, "client", None)
        if client is None:
            client = Github(
                auth=Auth.Token(self.credentials.github_token),
                base_url=self.credentials.github_url,
                per_page=(
                    GITHUB_LARGEST_PAGE if self.techniques.largest_pages else GITHUB_LIBRARY_PAGE
                ),
                # PyGithub pauses 0.25 s between requests by default; okr-sync does so on
                # api.github.com only, so neither does it against the sandbox.
                seconds_between_requests=(
                    None if self.credentials.github_url != PUBLIC_API_URL else PUBLIC_PAUSE_S
                ),
            )
            self._local.client = client
            self._local.repos = {}
        return client

    def _repo(self, name: str) -> Repository:
        """`get_repo`, asked once per repository (a script keeps the object it got); another
        thread's client makes its own object of it without a request (`lazy`)."""
        client = self.client
        repos: dict[str, Repository] = self._local.repos
        if name not in repos:
            with self._lock:
                known = name in self._known_repos
                self._known_repos.add(name)
            repos[name] = (client.withLazy(True) if known else client).get_repo(name)
        return repos[name]

    def count(self, selector: GitHubSearchSelector | GitHubListSelector) -> int:
        if isinstance(selector, GitHubSearchSelector):
            found = self.client.search_issues(selector.query)
            found.get_page(0)  # totalCount is then the body's total_count, exact above 1,000
            return int(found.totalCount)
        plain = not (selector.labels or selector.created or selector.closed or selector.merged)
        if selector.kind == "pull_request" and plain:
            return int(self._repo(selector.repo).get_pulls(state=selector.state).totalCount)
        return len(self.items(selector))

    def items(self, selector: GitHubSearchSelector | GitHubListSelector) -> list[WorkItem]:
        if isinstance(selector, GitHubSearchSelector):
            found = self._read(self.client.search_issues(selector.query))
            return [_from_issue(issue) for issue in found]
        repo = self._repo(selector.repo)
        resolved = selector.closed is not None or selector.merged is not None
        state = "closed" if resolved else selector.state
        listed: Iterable[WorkItem]
        if selector.kind == "pull_request":
            pulls = self._read(repo.get_pulls(state=state))
            listed = (_from_pull(pull, selector.repo) for pull in pulls)
        else:
            issues = self._read(repo.get_issues(state=state, labels=list(selector.labels)))
            listed = (
                _from_issue(issue, selector.repo)
                for issue in issues
                if not _is_pull(issue)  # the issues list includes pull requests
            )
        distinct = {item.key: item for item in listed}  # an item moving between pages
        return filter_listed(selector, list(distinct.values()))

    def _read(self, listing: PaginatedList[Listed]) -> Iterable[Listed]:
        """The listing iterated (PyGithub keeps every element), or streamed page by page."""
        return page_by_page(listing) if self.streaming else listing


def _is_pull(issue: Issue) -> bool:
    """Whether a listed issue is a pull request, read from its page's address: asking
    `issue.pull_request` of a plain issue makes PyGithub fetch the whole issue again."""
    return "/pull/" in (issue.html_url or "")


def _from_issue(issue: Issue, repo: str | None = None) -> WorkItem:
    full_name = repo or issue.repository_url.rsplit("/repos/", 1)[-1].strip("/")
    pull = issue.pull_request if _is_pull(issue) else None
    merged_at = pull.merged_at if pull is not None else None
    return WorkItem(
        source="github",
        key=f"{full_name}#{issue.number}",
        url=issue.html_url,
        kind="pull_request" if pull is not None else "issue",
        title=issue.title,
        status="merged" if merged_at is not None else issue.state,
        status_category="todo" if issue.state == "open" else "done",
        created_at=issue.created_at,
        updated_at=issue.updated_at,
        resolved_at=merged_at or issue.closed_at,
        merged_at=merged_at,
        started_at=issue.created_at if pull is not None else None,
        labels=tuple(label.name for label in issue.labels),
        assignee=issue.assignees[0].login if issue.assignees else None,
        container=full_name,
        extra={"author": issue.user.login if issue.user else None},
    )


def _from_pull(pull: PullRequest, repo: str) -> WorkItem:
    return WorkItem(
        source="github",
        key=f"{repo}#{pull.number}",
        url=pull.html_url,
        kind="pull_request",
        title=pull.title,
        status="merged" if pull.merged_at is not None else pull.state,
        status_category="todo" if pull.state == "open" else "done",
        created_at=pull.created_at,
        updated_at=pull.updated_at or pull.created_at,
        resolved_at=pull.merged_at or pull.closed_at,
        merged_at=pull.merged_at,
        started_at=pull.created_at,
        labels=tuple(label.name for label in pull.labels),
        assignee=pull.assignees[0].login if pull.assignees else None,
        container=repo,
        extra={
            "author": pull.user.login if pull.user else None,
            "draft": pull.draft,
            "base": pull.base.ref,
        },
    )


class NaiveWay:
    """Key results' values from the libraries, with the techniques asked for."""

    def __init__(
        self, credentials: Credentials, techniques: Techniques = NAIVE, *, streaming: bool = False
    ) -> None:
        self.techniques = techniques
        self.jira = NaiveJira(credentials, techniques)
        self.github = NaiveGitHub(credentials, techniques, streaming=streaming)

    def count(self, selector: Selector) -> int:
        if not self.techniques.server_counts:
            return len(self.items(selector, frozenset()))
        if isinstance(selector, JiraSelector):
            return self.jira.count(selector.jql)
        return self.github.count(selector)

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        if isinstance(selector, JiraSelector):
            return self.jira.items(selector.jql, needs)
        return self.github.items(selector)

    def values(self, mapping: MappingFile, *, as_of: datetime) -> dict[str, float | None]:
        """Every key result's value; a failure is not a value: it stops the benchmark."""
        plan = plan_queries(mapping, today=as_of.date())
        answers = self._shared_answers(plan.item_fetches, plan.count_fetches)

        def value(metric: MetricPlan) -> float | None:
            counted = metric.metric_type == MetricType.COUNT and metric.where is None
            if answers is not None:
                found = answers[metric.selector]
            elif counted:
                found = self.count(metric.selector)
            else:
                found = self.items(metric.selector, metric.needs)
            if isinstance(found, int):
                return float(found)
            if counted:
                return float(len(found))
            return compute(
                metric.metric_type, found, field=metric.field, where=metric.where, as_of=as_of
            ).value

        values: dict[str, float | None] = {}
        for kr in plan.key_results:
            if kr.metric is not None:
                values[kr.key_result.id] = value(kr.metric)
            elif kr.formula is not None:
                inputs = {name: value(m) for name, m in kr.inputs.items()}
                values[kr.key_result.id] = compute_formula(kr.formula, inputs).value
        return values

    def _shared_answers(
        self, item_fetches: dict[Selector, frozenset[str]], count_fetches: set[Selector]
    ) -> dict[Selector, int | list[WorkItem]] | None:
        """With shared queries: each distinct selector's answer, fetched once (None: not)."""
        if not self.techniques.shared_queries:
            return None
        jobs: list[tuple[Selector, Callable[[], int | list[WorkItem]]]] = [
            (s, lambda s=s, n=needs: self.items(s, n))  # type: ignore[misc]
            for s, needs in item_fetches.items()
        ]
        jobs += [(s, lambda s=s: self.count(s)) for s in count_fetches]  # type: ignore[misc]
        workers = max(1, self.techniques.concurrency)
        answers: dict[Selector, int | list[WorkItem]] = {}
        pools = {source: ThreadPoolExecutor(workers) for source in ("jira", "github")}
        try:
            futures = {s: pools[s.source].submit(job) for s, job in jobs}
            for selector, future in futures.items():
                answers[selector] = future.result()
        finally:
            for pool in pools.values():
                pool.shutdown(wait=True)
        return answers
