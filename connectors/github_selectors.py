"""What a GitHub list selector asks for: its search query, its date windows, where a
listing sorted newest first may stop, whether a listing of open items serves it, and which
listed items it keeps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from connectors.base import DateWindow, GitHubListSelector, QueryError, WorkItem


def window_bounds(window: DateWindow) -> tuple[datetime, datetime]:
    """The instants [start, end) of an inclusive range of UTC days."""
    start = datetime.combine(window.start, time(0), tzinfo=UTC)
    if window.end == date.max:  # open-ended (e.g. merged at any time): there is no next day
        return start, datetime.max.replace(tzinfo=UTC)
    end = datetime.combine(window.end, time(0), tzinfo=UTC) + timedelta(days=1)
    return start, end


def in_window(moment: datetime | None, window: DateWindow | None) -> bool:
    if window is None:
        return True
    if moment is None:
        return False
    start, end = window_bounds(window)
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


def validate(selector: GitHubListSelector) -> None:
    """Refuse what no listing can answer."""
    if selector.kind != "pull_request" and selector.merged is not None:
        raise QueryError(f"{selector.describe()}: a merged window needs pull requests")
    if selector.repo.count("/") != 1:
        raise QueryError(f"{selector.repo!r} is not an owner/name repository")


def list_order(selector: GitHubListSelector) -> tuple[str, datetime | None]:
    """Sort newest first by the field that lets the listing stop early, and where to stop.

    A created window stops at its start in created order; a closed or merged window
    stops at its start in updated order (closing or merging updates an item).
    """
    if selector.created is not None:
        return "created", window_bounds(selector.created)[0]
    windows = [w for w in (selector.closed, selector.merged) if w is not None]
    if windows:
        return "updated", min(window_bounds(w)[0] for w in windows)
    return "created", None


def open_only(selector: GitHubListSelector) -> bool:
    """Whether a list selector keeps open items alone, so a listing of open ones serves it."""
    return selector.state == "open"


def closed_only(selector: GitHubListSelector) -> bool:
    """Whether a list selector keeps closed items alone (`state: closed`, or a closed or
    merged window), so a listing of closed ones serves it."""
    return selector.state == "closed" or selector.closed is not None or selector.merged is not None


def created_only(selector: GitHubListSelector) -> bool:
    """Whether a list selector's only window is a created one, so a listing by creation
    down to its start holds its items."""
    return selector.created is not None and selector.closed is None and selector.merged is None


def is_open(item: WorkItem) -> bool:
    return item.status == "open"


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
            in_window(item.created_at, selector.created)
            and in_window(item.resolved_at, selector.closed)
            and in_window(item.merged_at, selector.merged)
        ):
            chosen.append(item)
    return chosen


def listing_horizon(selector: GitHubListSelector) -> datetime | None:
    """How far back (by last update) a repository listing must reach to serve `selector`.

    Creating, closing or merging an item updates it, so an item inside a created, closed or
    merged window was updated at or after the window's start.
    """
    starts = [
        window_bounds(window)[0]
        for window in (selector.created, selector.closed, selector.merged)
        if window is not None
    ]
    return max(starts) if starts else None
