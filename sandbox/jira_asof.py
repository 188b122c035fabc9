"""The sandbox's Jira issues as they were at a past moment, and a quarter of scripted changes.

Test support for backfill's proof: `script_quarter` changes a data set day by day the way
people do (resolutions, reopenings, moves, story points, a number field, labels, statuses,
assignees, priorities, new issues), writing each change into the issue and its changelog as Jira
does. `issue_as_of` undoes the changelog entries after a moment on the sandbox's own
records, so the sandbox's own JQL evaluator (`sandbox.jql`) can say what a query matched
then. It shares nothing with the product's replay (`connectors.jira_history`).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sandbox.jira_data import (
    BUSINESS_VALUE_FIELD,
    FIELD_NAMES,
    LABELS,
    PRIORITIES,
    PRIORITY_IDS,
    RESOLUTION_IDS,
    STATUSES,
    ChangeItem,
    ChangelogEntry,
    JiraDataset,
    JiraIssue,
)

# Labels people type that a query must quote: brackets, quotes and a control character.
HOSTILE_LABELS = ("odd[1]\"q'", "bell\x07ring", "semi;colon")


def issue_as_of(data: JiraDataset, issue: JiraIssue, moment: datetime) -> JiraIssue | None:
    """A copy of `issue` with its fields and changelog as they were at `moment`; None before
    it existed."""
    if issue.created > moment:
        return None
    status, resolution = issue.status, issue.resolution
    key, project = issue.key, issue.project
    labels, assignee, priority = issue.labels, issue.assignee, issue.priority
    points = {issue.story_points_field: issue.story_points}
    custom = dict(issue.custom_fields)
    later = [entry for entry in issue.changelog if entry.at > moment]
    for entry in sorted(later, key=lambda e: (e.at, int(e.id or 0)), reverse=True):
        for item in entry.items:
            if item.field == "status":
                status = item.from_string or status
            elif item.field == "resolution":
                resolution = item.from_string
            elif item.field == "Key":
                key = item.from_string or key
                project = key.rsplit("-", 1)[0]
            elif item.field == "labels":
                labels = tuple((item.from_string or "").split(" ")) if item.from_string else ()
            elif item.field == "assignee":
                assignee = item.from_id
            elif item.field == "priority":
                priority = item.from_string or priority
            elif item.field_id in FIELD_NAMES:
                points[item.field_id] = float(item.from_string) if item.from_string else None
            elif item.field_id == BUSINESS_VALUE_FIELD:
                custom[item.field_id] = float(item.from_string) if item.from_string else None
    field = data.projects_by_key[project].story_points_field
    resolved = None
    if resolution is not None:
        setting = [
            entry.at
            for entry in issue.changelog
            if entry.at <= moment
            for item in entry.items
            if item.field == "resolution" and item.to_string
        ]
        resolved = max(setting) if setting else issue.resolutiondate
    return dataclasses.replace(
        issue,
        key=key,
        project=project,
        status=status,
        resolution=resolution,
        resolutiondate=resolved,
        labels=labels,
        assignee=assignee,
        priority=priority,
        story_points=points.get(field),
        story_points_field=field,
        custom_fields=custom,
        changelog=tuple(entry for entry in issue.changelog if entry.at <= moment),
    )


@dataclass
class _Clock:
    """History ids grow with time across the site, as Jira numbers them."""

    next_id: int

    def take(self) -> str:
        self.next_id += 1
        return str(self.next_id)


def script_quarter(
    data: JiraDataset, start: datetime, days: int, *, seed: int, per_day: int = 6
) -> int:
    """Change `per_day` issues a day for `days` days from `start`; returns changes made."""
    rng = random.Random(seed)
    clock = _Clock(max((int(e.id) for i in data.issues for e in i.changelog), default=10000))
    made = 0
    for day in range(days):
        for slot in range(per_day):
            at = start + timedelta(days=day, hours=1 + slot * 3, minutes=rng.randrange(60))
            issue = rng.choice(data.issues)
            action = rng.choice(_ACTIONS)
            if action(data, issue, at, rng, clock):
                issue.updated = at
                made += 1
    return made


def _record(issue: JiraIssue, at: datetime, clock: _Clock, *items: ChangeItem) -> None:
    entry = ChangelogEntry(clock.take(), at, issue.reporter, items)
    issue.changelog = (*issue.changelog, entry)


def _status_item(before: str, after: str) -> ChangeItem:
    return ChangeItem("status", "status", STATUSES[before].id, before, STATUSES[after].id, after)


def _resolve(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    if issue.status_category == "done":
        return False
    final = rng.choice(("Done", "Closed", "Won't Do"))
    resolution = "Won't Do" if final == "Won't Do" else "Done"
    _record(
        issue,
        at,
        clock,
        _status_item(issue.status, final),
        ChangeItem("resolution", "resolution", None, None, RESOLUTION_IDS[resolution], resolution),
    )
    issue.status, issue.resolution, issue.resolutiondate = final, resolution, at
    return True


def _reopen(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    if issue.status_category != "done":
        return _advance(data, issue, at, rng, clock)
    reopened = rng.choice(("To Do", "In Progress"))
    before = issue.resolution
    items = [_status_item(issue.status, reopened)]
    if before is not None:
        items.append(
            ChangeItem("resolution", "resolution", RESOLUTION_IDS[before], before, None, None)
        )
    _record(issue, at, clock, *items)
    issue.status, issue.resolution, issue.resolutiondate = reopened, None, None
    return True


def _advance(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    if issue.status_category == "done":
        return False
    choices = [s for s in ("To Do", "In Progress", "In Review", "Blocked") if s != issue.status]
    after = rng.choice(choices)
    _record(issue, at, clock, _status_item(issue.status, after))
    issue.status = after
    return True


def _move(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    others = [p.key for p in data.projects if p.key != issue.project]
    data.move(issue, rng.choice(others), at)
    clock.next_id = max(clock.next_id, int(issue.changelog[-1].id))
    return True


def _points(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    after = rng.choice((None, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0))
    if after == issue.story_points:
        return False
    shown = [None if v is None else f"{v:g}" for v in (issue.story_points, after)]
    field = issue.story_points_field
    _record(issue, at, clock, ChangeItem(FIELD_NAMES[field], field, None, shown[0], None, shown[1]))
    issue.story_points = after
    return True


def _value(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    """A plain number field (Business Value) set, changed or cleared."""
    before = issue.custom_fields.get(BUSINESS_VALUE_FIELD)
    after = rng.choice((None, 10.0, 30.0, 50.0, 80.0))
    if after == before:
        return False
    shown = [None if v is None else f"{v:g}" for v in (before, after)]
    _record(
        issue,
        at,
        clock,
        ChangeItem("Business Value", BUSINESS_VALUE_FIELD, None, shown[0], None, shown[1]),
    )
    issue.custom_fields = {**issue.custom_fields, BUSINESS_VALUE_FIELD: after}
    return True


def _labels(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    label = rng.choice((*LABELS[:4], *HOSTILE_LABELS))
    after = tuple(sorted(set(issue.labels) ^ {label}))
    shown = [" ".join(labels) or None for labels in (issue.labels, after)]
    _record(issue, at, clock, ChangeItem("labels", "labels", None, shown[0], None, shown[1]))
    issue.labels = after
    return True


def _assign(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    after = rng.choice([None, *(u.account_id for u in data.users[:6])])
    if after == issue.assignee:
        return False
    names = [data.users_by_id[a].display_name if a else None for a in (issue.assignee, after)]
    _record(
        issue,
        at,
        clock,
        ChangeItem("assignee", "assignee", issue.assignee, names[0], after, names[1]),
    )
    issue.assignee = after
    return True


def _prioritise(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    after = rng.choice([p for p in PRIORITIES if p != issue.priority])
    before = issue.priority
    item = ChangeItem(
        "priority", "priority", PRIORITY_IDS[before], before, PRIORITY_IDS[after], after
    )
    _record(issue, at, clock, item)
    issue.priority = after
    return True


def _create(
    data: JiraDataset, issue: JiraIssue, at: datetime, rng: random.Random, clock: _Clock
) -> bool:
    data.create(issue, at)
    return False  # the new issue carries its own `updated`; `issue` itself did not change


_ACTIONS = (
    _resolve,
    _resolve,
    _reopen,
    _advance,
    _advance,
    _move,
    _points,
    _points,
    _value,
    _labels,
    _labels,
    _assign,
    _prioritise,
    _create,
)
