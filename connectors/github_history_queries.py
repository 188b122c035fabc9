"""Which search queries GitHub's past can answer: a query of one repository whose qualifiers
are all kept in an item's record (kind, state, labels, created/closed/merged days) is read
as the list selectors it matches; any other qualifier or a text term is `Unrebuildable`."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from datetime import date, timedelta
from typing import Literal

from connectors.base import DateWindow, GitHubListSelector, ItemKind
from connectors.history import Unrebuildable

_KINDS: dict[str, ItemKind] = {
    "is:pr": "pull_request",
    "type:pr": "pull_request",
    "is:pull-request": "pull_request",
    "is:issue": "issue",
    "type:issue": "issue",
}
_STATES: dict[str, Literal["open", "closed"]] = {
    "is:open": "open",
    "state:open": "open",
    "is:closed": "closed",
    "state:closed": "closed",
}
_WINDOWS = ("created", "closed", "merged")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def list_selectors_of(query: str) -> list[GitHubListSelector]:
    """The list selectors (one per kind the query reaches) a search query matches."""
    try:
        tokens = shlex.split(query)
    except ValueError as exc:
        raise Unrebuildable(f"{query!r}: cannot read the query ({exc})") from None
    repos: list[str] = []
    kinds: set[ItemKind] = set()
    state: Literal["open", "closed", "all"] = "all"
    merged_only = False
    labels: list[str] = []
    windows: dict[str, DateWindow] = {}
    for token in tokens:
        lowered = token.lower()
        name, _, value = token.partition(":")
        if lowered in _KINDS:
            kinds.add(_KINDS[lowered])
        elif lowered in _STATES:
            state = _STATES[lowered]
        elif lowered == "is:merged":
            merged_only = True
        elif name.lower() == "repo" and value:
            repos.append(value)
        elif name.lower() == "label" and value:
            labels.append(value)
        elif name.lower() in _WINDOWS and value:
            windows[name.lower()] = _day_range(token, value)
        elif name and value:
            raise Unrebuildable(f"{name}: GitHub keeps no record of its past")
        else:
            raise Unrebuildable(f"{token!r}: a text search term; GitHub keeps no past text")
    if len(repos) != 1:
        raise Unrebuildable(
            "a search of one repository (repo:owner/name) is rebuilt, not "
            + (f"of {len(repos)}" if repos else "one without repo:")
        )
    if merged_only or "merged" in windows:
        kinds.discard("issue")
        kinds = kinds or {"pull_request"}
        windows.setdefault("merged", DateWindow(date.min, date.max))
    chosen = GitHubListSelector(
        repos[0],
        "issue",
        state,
        tuple(labels),
        created=windows.get("created"),
        closed=windows.get("closed"),
        merged=windows.get("merged"),
    )
    reached: list[ItemKind] = sorted(kinds) if kinds else ["issue", "pull_request"]
    return [replace(chosen, kind=kind) for kind in reached]


def _day_range(token: str, value: str) -> DateWindow:
    """GitHub's day ranges: `a..b`, `>=a`, `>a`, `<=b`, `<b`, `a`, `*` on either side."""
    try:
        if ".." in value:
            low, high = value.split("..", 1)
            return DateWindow(_day(low, date.min), _day(high, date.max))
        if value.startswith(">="):
            return DateWindow(_day(value[2:], None), date.max)
        if value.startswith("<="):
            return DateWindow(date.min, _day(value[2:], None))
        if value.startswith(">"):
            return DateWindow(_day(value[1:], None) + timedelta(days=1), date.max)
        if value.startswith("<"):
            return DateWindow(date.min, _day(value[1:], None) - timedelta(days=1))
        return DateWindow(_day(value, None), _day(value, None))
    except ValueError:
        raise Unrebuildable(f"{token}: only whole days (YYYY-MM-DD) are rebuilt") from None


def _day(text: str, open_end: date | None) -> date:
    if text == "*" and open_end is not None:
        return open_end
    if not _DAY.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text)
