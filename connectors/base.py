"""The one small interface every tracker connector implements, and the normalized work item.

Connectors know nothing of OKRs: they receive selectors (what to read) and the names of the
fields a metric needs, and return counts or `WorkItem`s. Everything is timezone-aware UTC.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, Protocol, get_args, runtime_checkable

if TYPE_CHECKING:
    from connectors.changes import ChangeFeed

StatusCategory = Literal["todo", "in_progress", "done"]
ItemKind = Literal["issue", "pull_request"]
# The literal values themselves, to share one string per value (see WorkItem.__post_init__).
_CATEGORIES: dict[str, StatusCategory] = {value: value for value in get_args(StatusCategory)}
_KINDS: dict[str, ItemKind] = {value: value for value in get_args(ItemKind)}


@dataclass(frozen=True)
class DateWindow:
    """An inclusive range of calendar days (UTC), as in GitHub's `2026-10-01..2026-12-31`."""

    start: date
    end: date

    def as_github_range(self) -> str:
        if self.end == date.max:  # open-ended: "on or after", as GitHub's docs write it
            return f">={self.start.isoformat()}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True)
class JiraSelector:
    """Items matched by a JQL query (already expanded: no placeholders left)."""

    jql: str
    approximate_count: bool = False  # count with Jira Cloud's estimate endpoint, on request only

    @property
    def source(self) -> str:
        return "jira"

    def describe(self) -> str:
        return self.jql


@dataclass(frozen=True)
class GitHubSearchSelector:
    """Items matched by a GitHub search-API query (`repo:acme/api is:pr is:merged ...`)."""

    query: str

    @property
    def source(self) -> str:
        return "github"

    def describe(self) -> str:
        return self.query


@dataclass(frozen=True)
class GitHubListSelector:
    """Issues or pull requests of one repository, with structured filters."""

    repo: str  # owner/name
    kind: ItemKind
    state: Literal["open", "closed", "all"] = "all"
    labels: tuple[str, ...] = ()
    created: DateWindow | None = None
    closed: DateWindow | None = None
    merged: DateWindow | None = None  # pull requests only; implies merged

    @property
    def source(self) -> str:
        return "github"

    def describe(self) -> str:
        parts = [f"{self.kind}s of {self.repo}", f"state={self.state}"]
        if self.labels:
            parts.append("labels=" + ",".join(self.labels))
        for name in ("created", "closed", "merged"):
            window = getattr(self, name)
            if window is not None:
                parts.append(f"{name}={window.as_github_range()}")
        return " ".join(parts)


Selector = JiraSelector | GitHubSearchSelector | GitHubListSelector


@dataclass(slots=True)
class WorkItem:
    """One issue or pull request, the same shape whichever tracker it came from."""

    source: str  # "jira" | "github"
    key: str  # APP-123, acme/api#42
    url: str  # browse link for people
    kind: ItemKind
    title: str
    status: str
    status_category: StatusCategory
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None  # resolution date (Jira), closed_at / merged_at (GitHub)
    merged_at: datetime | None = None
    first_review_at: datetime | None = None  # only filled when a metric asks for it
    started_at: datetime | None = None  # first move to in-progress (Jira changelog); PR: created
    labels: tuple[str, ...] = ()
    assignee: str | None = None
    story_points: float | None = None
    priority: str | None = None
    issue_type: str | None = None
    container: str | None = None  # Jira project key or GitHub owner/repo
    extra: dict[str, object] = field(default_factory=dict)  # other requested fields, by name

    def __post_init__(self) -> None:
        # Thousands of items share a handful of statuses, types, projects and people: one
        # string each instead of one per item keeps a run of 100,000 items in memory small.
        self.source = sys.intern(self.source)
        self.kind = _KINDS.get(self.kind, self.kind)
        self.status = sys.intern(self.status)
        self.status_category = _CATEGORIES.get(self.status_category, self.status_category)
        if self.priority is not None:
            self.priority = sys.intern(self.priority)
        if self.issue_type is not None:
            self.issue_type = sys.intern(self.issue_type)
        if self.container is not None:
            self.container = sys.intern(self.container)
        if self.assignee is not None:
            self.assignee = sys.intern(self.assignee)
        if self.labels:
            self.labels = tuple(sys.intern(label) for label in self.labels)

    @property
    def lead_time_hours(self) -> float | None:
        end = self.merged_at if self.kind == "pull_request" else self.resolved_at
        return _hours_between(self.created_at, end)

    @property
    def cycle_time_hours(self) -> float | None:
        end = self.merged_at if self.kind == "pull_request" else self.resolved_at
        return _hours_between(self.started_at, end)

    @property
    def review_time_hours(self) -> float | None:
        return _hours_between(self.created_at, self.first_review_at)

    def age_days(self, as_of: datetime) -> float:
        """Days from creation to resolution, or to `as_of` while still open."""
        end = self.resolved_at or as_of
        return (end - self.created_at).total_seconds() / 86400.0


def _hours_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 3600.0


# Field names a metric can ask for that need more than the default fetch.
NEEDS_FIRST_REVIEW = "first_review_at"  # GitHub: one reviews request per pull request
NEEDS_STARTED = "started_at"  # Jira: changelog; asked for by cycle_time_hours
NEEDS_STORY_POINTS = "story_points"
# Descriptive fields a connector may leave empty unless a metric names them: on Jira each is
# a field of every issue in the answer (a user or project object with its avatars), so a
# query that only sums story points does not pay for them.
OPTIONAL_FIELDS = frozenset({"title", "labels", "assignee", "priority", "issue_type", "container"})

# The names a metric's `field` or `where` may use for what every work item has: WorkItem's
# own fields and the durations derived from them. Set by the GitHub connector's review fetch
# (extra["approved"]), the same fetch that fills first_review_at.
APPROVED = "approved"
NUMERIC_FIELDS = frozenset(
    {"story_points", "lead_time_hours", "cycle_time_hours", "review_time_hours", "age_days"}
)
DESCRIPTIVE_FIELDS = frozenset(
    {
        "status",
        "status_category",
        "labels",
        "assignee",
        "priority",
        "issue_type",
        "kind",
        "container",
        "title",
    }
)
NORMALIZED_FIELDS = NUMERIC_FIELDS | DESCRIPTIVE_FIELDS | {APPROVED}
# What each tracker's items can carry, so a misspelt name is refused when the mapping file
# is read instead of measuring nothing: Jira has no reviews; GitHub has no story points,
# priority or issue type, and adds these few fields of its own (its items' `extra`).
SOURCE_FIELDS: dict[str, frozenset[str]] = {
    "jira": NORMALIZED_FIELDS - {"review_time_hours", APPROVED},
    "github": (NORMALIZED_FIELDS - {"story_points", "priority", "issue_type"})
    | {"author", "draft", "base"},
}
# On GitHub these come from a pull request's reviews, start (its creation) or branches: an
# issue never has them.
PULL_REQUEST_FIELDS = frozenset(
    {APPROVED, "review_time_hours", "cycle_time_hours", "draft", "base"}
)
# Jira items also carry the site's own fields (by name, e.g. "Business Value", or id), which
# only the server knows: any other name on Jira is looked up there.
SITE_FIELD_SOURCES = frozenset({"jira"})


class ConnectorError(Exception):
    """A tracker failed for one selector; the message is safe to show and store (no secrets)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class AuthError(ConnectorError):
    """Bad or missing credentials: never retried, reported in words a user can act on."""


class QueryError(ConnectorError):
    """The tracker refused the query itself (bad JQL, invalid search): never retried."""


class Connector(Protocol):
    """What the engine needs from a tracker."""

    source: str

    def count(self, selector: Selector) -> int:
        """How many items match, asked of the server without paging through items."""
        ...

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        """Every matching item, with the extra fields in `needs` filled in."""
        ...

    def check(self) -> str:
        """Make one cheap authenticated request; return a short description of the server."""
        ...

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far (for sync_runs and the benchmark)."""
        ...

    def change_feed(self) -> ChangeFeed | None:
        """What changed since a moment, for incremental sync; None: this tracker cannot tell."""
        ...


@runtime_checkable
class QueryChecker(Protocol):
    """A tracker that can try a query without fetching it (`validate --check-connections`)."""

    def check_query(self, selector: Selector) -> None:
        """Run the query once in its cheapest form; raise ConnectorError as a fetch would."""
        ...

    def check_fields(self, needs: frozenset[str]) -> None:
        """Raise QueryError for a field in `needs` the tracker does not have."""
        ...
