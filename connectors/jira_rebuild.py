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

from connectors.base import (
    NEEDS_STARTED,
    NEEDS_STORY_POINTS,
    NORMALIZED_FIELDS,
    OPTIONAL_FIELDS,
    ConnectorError,
    JiraSelector,
    QueryError,
    Selector,
    WorkItem,
)
from connectors.history import SelectorHistory, Unrebuildable
from connectors.jira_fields import BASE_FIELDS, OPTIONAL_FIELD_IDS, JiraFields
from connectors.jira_history import (
    IssueTimeline,
    ItemFields,
    ReplayFields,
    SiteStatuses,
    replay_issue,
    user_names,
)
from connectors.jira_http import JiraHttp, JsonObject
from connectors.jira_items import JiraIssueReader
from connectors.jira_search import (
    CLOUD_ITEM_PAGE,
    SERVER_CHANGELOG_PAGE,
    cloud_pages,
    issue_id_of,
    server_pages,
)
from connectors.jql import without_order_by
from connectors.jql_eval import CompiledQuery, Predicate, compile_jql
from connectors.jql_state import SiteTerms

log = logging.getLogger(__name__)

ZONE_MARGIN = timedelta(days=1)  # JQL dates are in the asking user's time zone
ItemsForJql = Callable[[str, frozenset[str]], list[tuple[str, WorkItem]]]


@dataclass(frozen=True)
class JiraSelectorHistory:
    """One query's answers over time: its unchanged members, and the replayed candidates."""

    matches: Predicate
    unchanged: tuple[WorkItem, ...]
    candidates: tuple[IssueTimeline, ...]
    shape: ItemFields
    since: datetime

    def items_at(self, moment: datetime) -> list[WorkItem]:
        if moment < self.since:
            raise ValueError(f"{moment.isoformat()} is before {self.since.isoformat()}")
        found = list(self.unchanged)
        for timeline in self.candidates:
            n = timeline.snapshot_at(moment)
            if n is not None and self.matches(timeline.state(n)):
                found.append(timeline.item(n, self.shape))
        return found


class JiraRebuild:
    """Rebuilds the past answers of a connector's selectors; one per `history` call."""

    def __init__(
        self,
        http: JiraHttp,
        fields: JiraFields,
        issues: JiraIssueReader,
        items_for_jql: ItemsForJql,
        page: int | None,
    ) -> None:
        self._http = http
        self._fields = fields
        self._issues = issues
        self._items_for_jql = items_for_jql
        self._page = page
        self._projects: dict[str, str] = {}  # learnt from the candidates' project objects

    def history(
        self, selectors: Sequence[Selector], since: datetime, needs: frozenset[str]
    ) -> dict[Selector, SelectorHistory | Unrebuildable]:
        self._http.connect()
        answers: dict[Selector, SelectorHistory | Unrebuildable] = {}
        statuses = self._statuses()
        points_ids = tuple(self._fields.story_point_field_ids())
        numbers = self._number_fields(points_ids)
        refusal, extra_ids = self._extra_fields(needs, set(numbers.values()))
        terms = SiteTerms(
            statuses={
                **{found[0].lower(): found[0] for found in statuses.by_id.values()},
                **{status_id: found[0] for status_id, found in statuses.by_id.items()},
            },
            projects=self._projects,
            number_fields=numbers,
        )
        compiled: dict[JiraSelector, CompiledQuery] = {}
        for selector in selectors:
            if not isinstance(selector, JiraSelector):
                answers[selector] = Unrebuildable(f"not a Jira selector: {selector.describe()}")
            elif refusal is not None:
                answers[selector] = Unrebuildable(refusal)
            else:
                try:
                    compiled[selector] = compile_jql(selector.jql, terms)
                except Unrebuildable as exc:
                    answers[selector] = exc
        if not compiled:
            return answers
        boundary = (since.astimezone(UTC) - ZONE_MARGIN).strftime("%Y-%m-%d %H:%M")
        asked = {*BASE_FIELDS, "resolution"}
        asked |= {OPTIONAL_FIELD_IDS[name] for name in needs & OPTIONAL_FIELDS}
        asked |= {field for query in compiled.values() for field in query.fields}
        if NEEDS_STORY_POINTS in needs:
            asked |= set(points_ids)
        asked |= set(extra_ids.values())
        replay = ReplayFields(
            number_ids=tuple(sorted(f for f in set(numbers.values()) if f in asked)),
            names=numbers,
            asked=frozenset(asked),
        )
        shape = ItemFields(tuple(f for f in points_ids if f in asked), extra_ids)
        # The unchanged members first: an issue updated between the two searches then
        # comes in both (and is kept as a candidate), never in neither.
        unchanged: dict[JiraSelector, list[tuple[str, WorkItem]]] = {}
        for selector in list(compiled):
            where = without_order_by(selector.jql).strip()
            jql = f'({where}) AND updated < "{boundary}"' if where else f'updated < "{boundary}"'
            try:
                unchanged[selector] = self._items_for_jql(jql, needs)
            except QueryError as exc:  # Jira refuses the query itself: that query alone
                answers[selector] = Unrebuildable(str(exc))
                del compiled[selector]
        if not compiled:
            return answers
        candidates = self._candidates(boundary, statuses, replay)
        timelines = tuple(candidates.values())
        for selector, query in compiled.items():
            kept = tuple(
                item for issue_id, item in unchanged[selector] if issue_id not in candidates
            )
            answers[selector] = JiraSelectorHistory(query.matches, kept, timelines, shape, since)
        log.info(
            "jira history: %d candidates since %s for %d queries (%d requests so far)",
            len(timelines),
            boundary,
            len(compiled),
            self._http.requests_made,
        )
        return answers

    def _statuses(self) -> SiteStatuses:
        by_id = self._issues.statuses()  # read once per connector, shared with started_at
        return SiteStatuses(
            by_id=by_id, by_name={found[0].lower(): found for found in by_id.values()}
        )

    def _extra_fields(
        self, needs: frozenset[str], numeric: set[str]
    ) -> tuple[str | None, dict[str, str]]:
        """The other fields a metric names, by id; or why they cannot be replayed.

        A number is read back exactly from a changelog's text; an option, a user or a
        date in a custom field is not, so those are refused by name.
        """
        try:
            found = self._fields.extra_field_ids(needs - NORMALIZED_FIELDS - {NEEDS_STARTED})
        except QueryError as exc:
            return str(exc), {}
        others = sorted(name for name, field_id in found.items() if field_id not in numeric)
        if others:
            named = ", ".join(repr(name) for name in others)
            return f"the changelog replay reads back numeric fields only, not {named}", {}
        return None, found

    def _number_fields(self, points_ids: tuple[str, ...]) -> dict[str, str]:
        """Numeric fields (story points and others) by every name a query or a changelog
        may give them."""
        names: dict[str, str] = {}
        for field in self._fields.field_list():
            field_id = str(field["id"])
            schema = field.get("schema") or {}
            if field_id in points_ids or (field.get("custom") and schema.get("type") == "number"):
                names[field_id.lower()] = field_id
                names[str(field.get("name", "")).lower()] = field_id
                for clause in field.get("clauseNames") or ():
                    names[str(clause).lower()] = field_id
        return names

    def _candidates(
        self, boundary: str, statuses: SiteStatuses, replay: ReplayFields
    ) -> dict[str, IssueTimeline]:
        """Every issue updated since `boundary`, with its whole changelog, replayed, by id."""
        jql = f'updated >= "{boundary}"'
        fields = sorted(replay.asked)
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
        url = self._http.url
        try:
            return {
                issue_id: replay_issue(raw, histories, statuses, replay, users, url)
                for issue_id, (raw, histories) in read.items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConnectorError(
                f"Jira at {url} returned an issue whose history this connector "
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
        return self._issues.full_changelog(issue_id)
