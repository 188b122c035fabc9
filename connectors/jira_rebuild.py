"""Jira's side of backfill: each selector's past answers, from one search and the changelogs.

An issue that does not match a query now but matched at a moment t >= since changed after
t, so it was updated since `since`. The candidates are therefore:

- the issues updated since `since` (a day early: JQL dates are read in the asking user's
  time zone), fetched once for every selector with their whole changelogs, replayed back
  to each moment (`jira_history`) and tested with the product's evaluator (`jql_eval`);
- the issues each query matches now that were not updated since then: nothing about them
  changed, so they matched all along, as they are now (`(<jql>) AND updated < "..."`).

A query the evaluator cannot read exactly is `Unrebuildable` with the clause that stops it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from connectors.base import (
    NEEDS_STARTED,
    NEEDS_STORY_POINTS,
    OPTIONAL_FIELDS,
    ConnectorError,
    JiraSelector,
    Selector,
    WorkItem,
)
from connectors.history import SelectorHistory, Unrebuildable
from connectors.jira_fields import JiraFields
from connectors.jira_history import (
    IssueTimeline,
    ReplayFields,
    SiteStatuses,
    replay_issue,
    user_names,
)
from connectors.jira_http import JiraHttp, JsonObject
from connectors.jira_items import CHANGELOG_PAGE
from connectors.jira_search import (
    CLOUD_ITEM_PAGE,
    SERVER_CHANGELOG_PAGE,
    cloud_pages,
    issue_id_of,
    server_pages,
)
from connectors.jql import without_order_by
from connectors.jql_eval import Predicate, SiteTerms, compile_jql

log = logging.getLogger(__name__)

# Read for every candidate: what the evaluator and the replayed items need.
REPLAY_FIELDS = (
    *("status", "created", "updated", "resolutiondate", "resolution", "project"),
    *("labels", "assignee", "issuetype", "priority"),
)
ZONE_MARGIN = timedelta(days=1)  # JQL dates are in the asking user's time zone
REPLAYED_NEEDS = OPTIONAL_FIELDS | {NEEDS_STARTED, NEEDS_STORY_POINTS}
ItemsForJql = Callable[[str, frozenset[str]], list[tuple[str, WorkItem]]]


@dataclass(frozen=True)
class JiraSelectorHistory:
    """One query's answers over time: its unchanged members, and the replayed candidates."""

    predicate: Predicate
    unchanged: tuple[WorkItem, ...]
    candidates: tuple[IssueTimeline, ...]
    points_ids: tuple[str, ...]
    since: datetime

    def items_at(self, moment: datetime) -> list[WorkItem]:
        if moment < self.since:
            raise ValueError(f"{moment.isoformat()} is before {self.since.isoformat()}")
        found = list(self.unchanged)
        for timeline in self.candidates:
            n = timeline.snapshot_at(moment)
            if n is not None and self.predicate(timeline.state(n)):
                found.append(timeline.item(n, self.points_ids))
        return found


class JiraRebuild:
    """Rebuilds the past answers of a connector's selectors; one per `history` call."""

    def __init__(
        self, http: JiraHttp, fields: JiraFields, items_for_jql: ItemsForJql, page: int | None
    ) -> None:
        self._http = http
        self._fields = fields
        self._items_for_jql = items_for_jql
        self._page = page

    def history(
        self, selectors: Sequence[Selector], since: datetime, needs: frozenset[str]
    ) -> dict[Selector, SelectorHistory | Unrebuildable]:
        self._http.connect()
        answers: dict[Selector, SelectorHistory | Unrebuildable] = {}
        unreplayed = sorted(needs - REPLAYED_NEEDS - {"cycle_time_hours", "lead_time_hours"})
        terms = self._site_terms()
        predicates: dict[Selector, Predicate] = {}
        for selector in selectors:
            if not isinstance(selector, JiraSelector):
                answers[selector] = Unrebuildable(f"not a Jira selector: {selector.describe()}")
            elif unreplayed:
                answers[selector] = Unrebuildable(
                    "the changelog replay does not cover the field(s) "
                    + ", ".join(repr(name) for name in unreplayed)
                )
            else:
                try:
                    predicates[selector] = compile_jql(selector.jql, terms)
                except Unrebuildable as exc:
                    answers[selector] = exc
        if not predicates:
            return answers
        boundary = (since.astimezone(UTC) - ZONE_MARGIN).strftime("%Y-%m-%d %H:%M")
        points_ids = tuple(self._fields.story_point_field_ids())
        timelines = self._candidates(boundary, terms, points_ids)
        for selector, predicate in predicates.items():
            assert isinstance(selector, JiraSelector)
            where = without_order_by(selector.jql).strip()
            jql = f'({where}) AND updated < "{boundary}"' if where else f'updated < "{boundary}"'
            unchanged = tuple(item for _, item in self._items_for_jql(jql, needs))
            answers[selector] = JiraSelectorHistory(
                predicate, unchanged, timelines, points_ids, since
            )
        log.info(
            "jira history: %d candidates since %s for %d queries (%d requests so far)",
            len(timelines),
            boundary,
            len(predicates),
            self._http.requests_made,
        )
        return answers

    def _site_terms(self) -> SiteTerms:
        client = self._http.connect()
        statuses = self._http.call("status", client.statuses)
        by_id: dict[str, tuple[str, str]] = {}
        names: dict[str, str] = {}
        for status in statuses:
            raw = status.raw
            name, category = str(raw["name"]), str(raw["statusCategory"]["key"])
            by_id[str(raw["id"])] = (name, category)
            names[name.lower()] = names[str(raw["id"])] = name
        self._statuses = SiteStatuses(
            by_id=by_id, by_name={found[0].lower(): found for found in by_id.values()}
        )
        number_fields: dict[str, str] = {}
        points = set(self._fields.story_point_field_ids())
        for field in self._fields.field_list():
            field_id = str(field["id"])
            if field_id not in points:
                continue
            number_fields[field_id.lower()] = field_id
            number_fields[str(field.get("name", "")).lower()] = field_id
            for clause in field.get("clauseNames") or ():
                number_fields[str(clause).lower()] = field_id
        self._replay_fields = ReplayFields(
            number_ids=tuple(sorted(points)),
            names=dict(number_fields),
            points_ids=tuple(sorted(points)),
        )
        self._projects: dict[str, str] = {}
        return SiteTerms(statuses=names, projects=self._projects, number_fields=number_fields)

    def _candidates(
        self, boundary: str, terms: SiteTerms, points_ids: tuple[str, ...]
    ) -> tuple[IssueTimeline, ...]:
        """Every issue updated since `boundary`, with its whole changelog, replayed."""
        jql = f'updated >= "{boundary}"'
        fields = [*REPLAY_FIELDS, "summary", *points_ids]
        if self._http.is_cloud:
            pages = cloud_pages(self._http, jql, fields, "changelog", self._page or CLOUD_ITEM_PAGE)
        else:
            size = self._page or SERVER_CHANGELOG_PAGE
            pages = server_pages(self._http, jql, fields, "changelog", size)
        read: dict[str, tuple[JsonObject, list[JsonObject]]] = {}
        users: dict[str, frozenset[str]] = {}
        for page in pages:
            for raw in page:
                issue_id = issue_id_of(self._http, raw, "search")
                if issue_id in read:
                    continue
                read[issue_id] = (raw, self._histories(issue_id, raw))
                self._remember(raw, users)
        try:
            return tuple(
                replay_issue(
                    raw, histories, self._statuses, self._replay_fields, users, self._http.url
                )
                for raw, histories in read.values()
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConnectorError(
                f"Jira at {self._http.url} returned an issue whose history this connector "
                f"cannot replay ({exc!r})",
                retryable=True,
            ) from None

    def _remember(self, raw: JsonObject, users: dict[str, frozenset[str]]) -> None:
        """Project and user names seen now, so a query may name them as people do."""
        body = raw.get("fields") or {}
        project = body.get("project") or {}
        if project.get("key"):
            for alias in ("key", "name", "id"):
                if project.get(alias):
                    self._projects[str(project[alias]).lower()] = str(project["key"])
        assignee = body.get("assignee")
        if isinstance(assignee, dict):
            _, aliases = user_names(assignee)
            for ident in ("accountId", "name"):
                if assignee.get(ident):
                    users[str(assignee[ident])] = aliases

    def _histories(self, issue_id: str, raw: JsonObject) -> list[JsonObject]:
        """The whole changelog: Jira Cloud embeds at most the latest 100 histories."""
        changelog = raw.get("changelog") or {}
        histories: list[JsonObject] = list(changelog.get("histories") or [])
        if int(changelog.get("total", len(histories))) <= len(histories):
            return histories
        client = self._http.connect()
        values: list[JsonObject] = []
        while True:
            page = self._http.call(
                "issue changelog",
                partial(
                    client._get_json,
                    f"issue/{issue_id}/changelog",
                    params={"startAt": len(values), "maxResults": CHANGELOG_PAGE},
                ),
            )
            batch = list(self._http.read(page, "values", "issue changelog"))
            values.extend(batch)
            if not batch or page.get("isLast", True) or len(values) >= int(page.get("total", 0)):
                return values
