"""A Jira issue's JSON as a WorkItem; `started_at` from its changelog (the first move into
an in-progress status), paging `issue/{key}/changelog` when Jira expanded only the latest
100 histories."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from functools import partial

from connectors.base import ConnectorError, StatusCategory, WorkItem
from connectors.jira_http import JiraHttp, JsonObject

CATEGORY_BY_KEY: dict[str, StatusCategory] = {
    "new": "todo",
    "indeterminate": "in_progress",
    "done": "done",
}
CHANGELOG_PAGE = 100


def parse_jira_datetime(text: str | None) -> datetime | None:
    """Jira's `2026-10-01T09:15:00.000+0000` as an aware UTC datetime.

    `fromisoformat` reads Jira's `+0000` offsets since Python 3.11, and is many times
    faster than `strptime`, which a page of a hundred issues calls a few hundred times.
    """
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(UTC)


class JiraIssueReader:
    """Reads issues of one site; knows its status categories once a changelog needs them."""

    def __init__(self, http: JiraHttp) -> None:
        self._http = http
        self._status_categories: dict[str, str] | None = None
        self._statuses: dict[str, tuple[str, str]] | None = None
        self._lock = threading.Lock()  # guards the lazily loaded status categories

    def load_status_categories(self) -> None:
        """Status id -> category key, to tell which changelog moves started the work."""
        self.statuses()

    def statuses(self) -> dict[str, tuple[str, str]]:
        """The site's statuses, read once: id -> (name, category key)."""
        with self._lock:
            if self._statuses is None:
                client = self._http.connect()
                self._statuses = {
                    str(status.raw["id"]): (
                        str(status.raw["name"]),
                        str(status.raw["statusCategory"]["key"]),
                    )
                    for status in self._http.call("status", client.statuses)
                }
                self._status_categories = {
                    status_id: category for status_id, (_, category) in self._statuses.items()
                }
            return self._statuses

    def work_item(
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
                url=f"{self._http.url}/browse/{key}",
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
                f"Jira at {self._http.url} returned an issue this connector cannot read ({exc!r})",
                retryable=True,
            ) from None

    def _started_at(self, raw: JsonObject) -> datetime | None:
        """First move into an in-progress status; pages the changelog if Jira cut it short."""
        changelog = raw.get("changelog") or {}
        histories: list[JsonObject] = list(changelog.get("histories") or [])
        total = int(changelog.get("total", len(histories)))
        if total > len(histories):
            histories = self.full_changelog(str(raw["key"]))
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

    def full_changelog(self, key: str) -> list[JsonObject]:
        """Every history of an issue (by key or id), a page of 100 at a time."""
        client = self._http.connect()
        values: list[JsonObject] = []
        while True:
            page = self._http.call(
                "issue changelog",
                partial(
                    client._get_json,
                    f"issue/{key}/changelog",
                    params={"startAt": len(values), "maxResults": CHANGELOG_PAGE},
                ),
            )
            batch = list(self._http.read(page, "values", "issue changelog"))
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
