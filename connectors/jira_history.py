"""An issue's fields at any past moment, replayed backwards from now through its changelog.

Jira's changelog records every change of status, resolution, key (a move to another
project), labels, assignee, issue type, priority, summary and custom fields such as story
points, each with the value before and after. Starting from the issue's fields now and
undoing its histories newest first gives its fields just after each history, and so at
any moment since it was created. The resolution date is not itself in the changelog: it
is the time of the history that set the resolution the issue had at that moment.

`updated_at` at a past moment is the time of the latest history at or before it, or the
creation (comments and other edits leave no history, so it can be earlier than Jira's
value was then).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from connectors.base import StatusCategory, WorkItem
from connectors.jira_http import JsonObject
from connectors.jira_items import CATEGORY_BY_KEY, parse_jira_datetime
from connectors.jql_state import IssueState

# Changelog field names (lower case) -> the field a search asks for to read it now.
REPLAYED_AS = {
    "status": "status",
    "resolution": "resolution",
    "labels": "labels",
    "assignee": "assignee",
    "issuetype": "issuetype",
    "issue type": "issuetype",
    "priority": "priority",
    "summary": "summary",
}


@dataclass(frozen=True)
class SiteStatuses:
    """The site's statuses: id and name to (name, category key)."""

    by_id: Mapping[str, tuple[str, str]]
    by_name: Mapping[str, tuple[str, str]]  # lower-case name

    def category(self, status_id: str | None, name: str) -> str:
        found = self.by_id.get(str(status_id)) or self.by_name.get(name.lower())
        return found[1] if found is not None else "new"


@dataclass(frozen=True)
class ReplayFields:
    """Which changelog entries carry the numeric fields replayed, by field id and by name."""

    number_ids: tuple[str, ...]  # numeric fields read (story points and others)
    names: Mapping[str, str]  # lower-case field name -> field id (Server/DC has no fieldId)
    asked: frozenset[str]  # the fields the search asked for: only those are replayed


@dataclass(frozen=True)
class ItemFields:
    """What a replayed WorkItem carries besides Jira's own fields."""

    points_ids: tuple[str, ...]  # story-point fields, the first with a value counts
    extra_ids: Mapping[str, str]  # other numeric fields a metric names -> field id


@dataclass(frozen=True)
class _Snapshot:
    at: datetime  # from this moment (a history's time, or the creation)
    state: IssueState
    key: str
    title: str
    assignee_name: str | None
    started_at: datetime | None
    updated_at: datetime


class IssueTimeline:
    """One issue's states, one per history, oldest first."""

    def __init__(self, snapshots: list[_Snapshot], url: str) -> None:
        self._snapshots = snapshots
        self._moments = [snapshot.at for snapshot in snapshots]
        self._url = url
        self._items: dict[int, WorkItem] = {}

    @property
    def created(self) -> datetime:
        return self._moments[0]

    def snapshot_at(self, moment: datetime) -> int | None:
        """Which snapshot holds at `moment`; None before the issue was created."""
        n = bisect.bisect_right(self._moments, moment) - 1
        return n if n >= 0 else None

    def state(self, n: int) -> IssueState:
        return self._snapshots[n].state

    def item(self, n: int, shape: ItemFields) -> WorkItem:
        """The issue as a WorkItem in snapshot `n`; one object per snapshot, as `shape` is
        the same for every query of one `history` call."""
        found = self._items.get(n)
        if found is None:
            found = self._items[n] = self._make_item(self._snapshots[n], shape)
        return found

    def _make_item(self, snapshot: _Snapshot, shape: ItemFields) -> WorkItem:
        state = snapshot.state
        points = next(
            (state.numbers[f] for f in shape.points_ids if state.numbers.get(f) is not None),
            None,
        )
        category: StatusCategory = CATEGORY_BY_KEY.get(state.category, "todo")
        return WorkItem(
            source="jira",
            key=snapshot.key,
            url=f"{self._url}/browse/{snapshot.key}",
            kind="issue",
            title=snapshot.title,
            status=state.status,
            status_category=category,
            created_at=state.created,
            updated_at=snapshot.updated_at,
            resolved_at=state.resolved,
            started_at=snapshot.started_at,
            labels=state.labels,
            assignee=snapshot.assignee_name,
            story_points=points,
            priority=state.priority,
            issue_type=state.issue_type,
            container=state.project,
            extra={name: state.numbers.get(field_id) for name, field_id in shape.extra_ids.items()},
        )


def user_names(user: object) -> tuple[str | None, frozenset[str]]:
    """A user object's shown name and every name a query may use for it (lower case)."""
    if not isinstance(user, dict):
        return None, frozenset()
    names = {
        str(user[k]).lower() for k in ("accountId", "name", "key", "displayName") if user.get(k)
    }
    if user.get("emailAddress"):
        names.add(str(user["emailAddress"]).lower())
    return user.get("displayName") or user.get("name"), frozenset(names)


def replay_issue(
    raw: JsonObject,
    histories: list[JsonObject],
    statuses: SiteStatuses,
    fields: ReplayFields,
    users: Mapping[str, frozenset[str]],
    url: str,
) -> IssueTimeline:
    """The issue's timeline from its fields now and its whole changelog."""
    body: JsonObject = raw["fields"]
    created = parse_jira_datetime(body.get("created"))
    if created is None:
        raise KeyError("created")
    updated = parse_jira_datetime(body.get("updated")) or created
    status = body.get("status") or {}
    assignee_name, assignee_aliases = user_names(body.get("assignee"))
    key = str(raw["key"])
    keys = {  # Jira finds an issue by any key it ever had, at any moment
        str(item.get(end)).upper()
        for history in histories
        for item in history.get("items") or []
        if str(item.get("field") or "").lower() == "key"
        for end in ("fromString", "toString")
        if item.get(end)
    }
    now = IssueState(
        identities=frozenset({str(raw["id"]), key.upper(), *keys}),
        project=key.rsplit("-", 1)[0],
        status=str(status.get("name") or ""),
        category=str((status.get("statusCategory") or {}).get("key", "new")),
        resolution=(body.get("resolution") or {}).get("name"),
        resolved=parse_jira_datetime(body.get("resolutiondate")),
        created=created,
        labels=tuple(body.get("labels") or ()),
        assignee=assignee_aliases,
        issue_type=(body.get("issuetype") or {}).get("name"),
        priority=(body.get("priority") or {}).get("name"),
        numbers={f: _number(body.get(f)) for f in fields.number_ids},
    )
    ordered = sorted(
        ((parse_jira_datetime(h.get("created")) or created, h) for h in histories),
        key=lambda pair: (pair[0], _history_order(pair[1])),
    )
    snapshot = _Snapshot(
        at=ordered[-1][0] if ordered else created,
        state=now,
        key=key,
        title=str(body.get("summary") or ""),
        assignee_name=assignee_name,
        started_at=None,
        updated_at=updated,
    )
    after: list[_Snapshot] = []
    for n in range(len(ordered) - 1, -1, -1):
        at, history = ordered[n]
        after.append(replace(snapshot, at=at))
        snapshot = _undo(snapshot, history, statuses, fields, users)
    after.append(replace(snapshot, at=created))
    after.reverse()
    return IssueTimeline(_settle(after, ordered, statuses), url)


def _history_order(history: JsonObject) -> int:
    text = str(history.get("id") or "0")
    return int(text) if text.isdigit() else 0


def _undo(
    snapshot: _Snapshot,
    history: JsonObject,
    statuses: SiteStatuses,
    fields: ReplayFields,
    users: Mapping[str, frozenset[str]],
) -> _Snapshot:
    """The snapshot as it was just before `history`."""
    state = snapshot.state
    changes: dict[str, object] = {}
    outer: dict[str, object] = {}
    numbers = dict(state.numbers)
    for item in history.get("items") or []:
        name = str(item.get("field") or "").lower()
        field_id = str(item.get("fieldId") or fields.names.get(name, name))
        before = item.get("fromString")
        read_as = REPLAYED_AS.get(name)
        if read_as is not None and read_as not in fields.asked:
            continue  # not read now, so not undone either: it stays empty at every moment
        if field_id == "status" or name == "status":
            changes["status"] = str(before or "")
            changes["category"] = statuses.category(item.get("from"), str(before or ""))
        elif name == "resolution":
            changes["resolution"] = before or None
        elif field_id == "issuekey" or name == "key":
            if before:
                outer["key"] = str(before)
                changes["project"] = str(before).rsplit("-", 1)[0]
        elif name == "labels":
            changes["labels"] = tuple(str(before or "").split())
        elif name == "assignee":
            account = item.get("from")
            aliases = set(users.get(str(account), frozenset())) if account else set()
            aliases |= {str(v).lower() for v in (account, before) if v}
            changes["assignee"] = frozenset(aliases)
            outer["assignee_name"] = before or None
        elif name in ("issuetype", "issue type"):
            changes["issue_type"] = before or None
        elif name == "priority":
            changes["priority"] = before or None
        elif name == "summary":
            outer["title"] = str(before or "")
        elif field_id in numbers:
            numbers[field_id] = _number(before)
    return replace(snapshot, state=replace(state, numbers=numbers, **changes), **outer)  # type: ignore[arg-type]


def _settle(
    snapshots: list[_Snapshot],
    ordered: list[tuple[datetime, JsonObject]],
    statuses: SiteStatuses,
) -> list[_Snapshot]:
    """Resolution dates, start times and `updated` from the histories, oldest first.

    `snapshots[0]` is the issue at creation, `snapshots[n]` just after history n-1. From
    the last history that touched the resolution on, the resolution date is Jira's own
    (the history's time may differ from it by milliseconds).
    """
    now_resolved = snapshots[-1].state.resolved
    touches = [
        n
        for n, (_, history) in enumerate(ordered, start=1)
        if any(
            str(i.get("field") or "").lower() == "resolution" for i in history.get("items") or []
        )
    ]
    last_touch = touches[-1] if touches else 0
    resolved_at: datetime | None = now_resolved if last_touch == 0 else None
    started: datetime | None = None
    settled: list[_Snapshot] = []
    for n, snapshot in enumerate(snapshots):
        at = snapshot.at
        if n > 0:
            for item in ordered[n - 1][1].get("items") or []:
                name = str(item.get("field") or "").lower()
                if name == "resolution":
                    resolved_at = at if item.get("toString") else None
                    if n == last_touch and resolved_at is not None:
                        resolved_at = now_resolved or at
                elif name == "status" and started is None:
                    to = str(item.get("toString") or "")
                    if statuses.category(item.get("to"), to) == "indeterminate":
                        started = at
        state = snapshot.state
        resolved = resolved_at if state.resolution is not None else None
        settled.append(
            replace(
                snapshot,
                state=replace(state, resolved=resolved),
                started_at=started,
                updated_at=at,
            )
        )
    return settled


def _number(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value))
    except ValueError:
        return None
