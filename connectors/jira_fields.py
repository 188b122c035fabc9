"""Which Jira fields a search asks for: the fixed ones, the optional ones a metric names,
story points (a different custom field on every site, found by name) and any other field a
metric names, by name or id, with a did-you-mean."""

from __future__ import annotations

import difflib
import threading

from connectors.base import NEEDS_STARTED, NEEDS_STORY_POINTS, OPTIONAL_FIELDS, QueryError
from connectors.jira_http import JiraHttp, JsonObject

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


class JiraFields:
    """The site's field list, read once, and the field ids a metric's needs come to."""

    def __init__(self, http: JiraHttp, story_points_field: str | None) -> None:
        self._http = http
        self._story_points_override = story_points_field
        self._fields: list[JsonObject] | None = None
        self._lock = threading.Lock()  # guards the lazily loaded field list

    def field_list(self) -> list[JsonObject]:
        with self._lock:
            if self._fields is None:
                client = self._http.connect()
                self._fields = list(self._http.call("field", client.fields))
            return self._fields

    def story_point_field_ids(self) -> list[str]:
        """Story points live in a different custom field on every site: find them by name."""
        wanted = self._story_points_override
        fields = self.field_list()
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

    def extra_field_ids(self, needs: frozenset[str]) -> dict[str, str]:
        """Other fields a metric names (e.g. "Business Value"), by field name or id."""
        candidates = needs - {NEEDS_STARTED, NEEDS_STORY_POINTS} - OPTIONAL_FIELDS
        if not candidates:
            return {}
        by_name = {str(f.get("name", "")).lower(): str(f["id"]) for f in self.field_list()}
        ids = {str(f["id"]) for f in self.field_list()}
        found: dict[str, str] = {}
        for name in sorted(candidates):
            field_id = name if name in ids else by_name.get(name.lower())
            if field_id is None:
                # Every item would lack it: a share or a mean over nothing is no measure.
                names = sorted(str(f.get("name", "")) for f in self.field_list())
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise QueryError(
                    f"Jira at {self._http.url} has no field '{name}', by name or id{hint}"
                )
            if field_id in ALL_FIXED_FIELDS:  # read into the item's own fields, not `extra`
                raise QueryError(
                    f"'{name}' is Jira's {field_id}, which okr-sync reads as "
                    f"'{NORMALIZED_NAME[field_id]}': name that instead"
                )
            found[name] = field_id
        return found
