"""Jira connector: counts and work items from Jira Cloud or Jira Server/DC via the `jira` library.

What it does beyond calling the library:
- Explicit timeouts (the library has none by default).
- Cloud counts page through ids only (5,000 a page with `nextPageToken`); the approximate-count
  endpoint is used only when a selector asks for it. Server/DC counts read `total` from one
  `search` with `maxResults=0`.
- Searches are asked exactly as written, through the library's JSON getter (`jira_search`):
  its `search_issues` rewrites field names through their JQL clause names (`id` becomes
  `issuekey`, which asks for keys) and loads the field list for that on first use. A page
  asked for `id` is read for ids alone: Jira Cloud answers it with `{"id": ...}` and nothing
  else, so counts and the change feed never read a key or `self`.
- Items ask for the fields the metrics need (`jira_fields`), and read `started_at` from the
  changelog (`jira_items`).
- Retries follow `connectors.retry.RetryPolicy`, in the HTTP layer (`jira_http`) and nowhere
  else; a refused connection fails at once, so one dead tracker costs only its key results.
  Errors are our own messages, with the token taken out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from pydantic import SecretStr

from connectors.base import (
    NEEDS_STARTED,
    NEEDS_STORY_POINTS,
    OPTIONAL_FIELDS,
    ConnectorError,
    JiraSelector,
    QueryError,
    Selector,
    WorkItem,
)
from connectors.changes import ChangeFeed
from connectors.history import SelectorHistory, Unrebuildable
from connectors.jira_changes import JiraChangeFeed
from connectors.jira_fields import BASE_FIELDS, OPTIONAL_FIELD_IDS, JiraFields
from connectors.jira_http import Flavour, JiraHttp
from connectors.jira_items import JiraIssueReader
from connectors.jira_rebuild import JiraRebuild
from connectors.jira_search import (
    CLOUD_ITEM_PAGE,
    ID_FIELDS,
    SERVER_CHANGELOG_PAGE,
    SERVER_ITEM_PAGE,
    cloud_pages,
    ids_for_jql,
    issue_id_of,
    server_count_ids,
    server_pages,
)
from connectors.jql import without_order_by
from connectors.ratelimit import RateGovernor
from connectors.retry import RetryPolicy

log = logging.getLogger(__name__)

DERIVED_NEEDING_START = frozenset({"cycle_time_hours"})
MATCH_ISSUES_PER_REQUEST = 1000  # jql/match accepts this many issue ids per request
MATCH_JQLS_PER_REQUEST = 100
IDS_PER_QUERY = 100  # `id in (...)` lists kept to one page of items (Cloud; Server: 1,000)


class JiraConnector:
    """The Connector for Jira: one `jira.JIRA` client, created on first use."""

    source = "jira"

    def __init__(
        self,
        url: str,
        *,
        email: str | None,
        token: SecretStr,
        flavour: Flavour = "auto",
        timeout: tuple[float, float] = (5.0, 30.0),
        story_points_field: str | None = None,
        retry: RetryPolicy | None = None,
        governor: RateGovernor | None = None,
        item_page_size: int | None = None,
    ) -> None:
        """`retry`: the run's retry policy (default `RetryPolicy()`); `governor`: shared 429 /
        Retry-After keeper; `item_page_size`: None for the largest."""
        self._http = JiraHttp(
            url,
            email=email,
            token=token,
            flavour=flavour,
            timeout=timeout,
            retry=retry,
            governor=governor,
        )
        self.url = self._http.url
        self._story_points_override = story_points_field
        self._fields = JiraFields(self._http, story_points_field)
        self._issues = JiraIssueReader(self._http)
        self._item_page_size = item_page_size

    def __repr__(self) -> str:
        return f"JiraConnector({self.url!r}, flavour={self._http.flavour!r})"

    # -- Connector protocol

    @property
    def requests_made(self) -> int:
        return self._http.requests_made

    def check(self) -> str:
        client = self._http.connect()
        info = self._http.server_info or self._http.call("serverInfo", client.server_info)
        me = self._http.call("myself", client.myself)
        who = me.get("displayName") or me.get("name") or me.get("accountId") or "?"
        kind = "Cloud" if self._http.is_cloud else "Server/DC"
        return f"Jira {kind} {info.get('version', '?')} at {self.url}, signed in as {who}"

    def count(self, selector: Selector) -> int:
        jql = self._jql(selector)
        client = self._http.connect()
        if self._http.is_cloud:
            if isinstance(selector, JiraSelector) and selector.approximate_count:
                answer = self._http.call(
                    "search/approximate-count", lambda: client.approximate_issue_count(jql), jql
                )
                return int(answer)
            return len(ids_for_jql(self._http, jql))
        # `search_issues(maxResults=0, json_result=True)` sends the same request but warns on
        # every call, so the library's own JSON getter is used for this one.
        result = self._http.call(
            "search",
            partial(
                client._get_json, "search", params={"jql": jql, "maxResults": 0, "fields": "id"}
            ),
            jql,
        )
        return int(self._http.read(result, "total", "search"))

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        return [item for _, item in self.items_with_ids(selector, needs)]

    def check_fields(self, needs: frozenset[str]) -> None:
        """The site has every field in `needs` that is not a normalized one (by name or id)."""
        self._fields.extra_field_ids(needs)

    def check_query(self, selector: Selector) -> None:
        """One page of one issue id: a refused JQL or a missing project fails as in a sync."""
        jql = self._jql(selector)
        self._http.connect()
        pages = cloud_pages if self._http.is_cloud else server_pages
        next(pages(self._http, jql, ID_FIELDS, None, 1))

    def item_shape(self, needs: frozenset[str]) -> frozenset[str]:
        """What, besides the query and the fields asked, shapes the items this returns.

        A cached answer is reused only while these markers still hold: a different site, or
        another story-points field for items that carry story points, means a full fetch.
        """
        shape = {f"site={self.url}"}
        if NEEDS_STORY_POINTS in needs:
            shape.add(f"story_points_field={self._story_points_override or '(by name)'}")
        return frozenset(shape)

    def change_feed(self) -> ChangeFeed:
        return JiraChangeFeed(self)

    def history(
        self, selectors: Sequence[Selector], since: datetime, needs: frozenset[str]
    ) -> dict[Selector, SelectorHistory | Unrebuildable]:
        """Each selector's past answers, from the changelogs (`jira_rebuild`)."""
        rebuild = JiraRebuild(
            self._http, self._fields, self._issues, self._items_for_jql, self._item_page_size
        )
        return rebuild.history(selectors, since, needs)

    def items_with_ids(
        self, selector: Selector, needs: frozenset[str]
    ) -> list[tuple[str, WorkItem]]:
        """Every matching item with its Jira issue id (what `jql/match` speaks)."""
        jql = self._jql(selector)
        found = self._items_for_jql(jql, needs)
        log.info("jira: %d items for %r (%d requests so far)", len(found), jql, self.requests_made)
        return found

    def _items_for_jql(self, jql: str, needs: frozenset[str]) -> list[tuple[str, WorkItem]]:
        self._http.connect()
        wants_start = NEEDS_STARTED in needs or bool(needs & DERIVED_NEEDING_START)
        points_ids = self._fields.story_point_field_ids() if NEEDS_STORY_POINTS in needs else []
        extra_ids = self._fields.extra_field_ids(needs)
        optional = [OPTIONAL_FIELD_IDS[name] for name in sorted(needs & OPTIONAL_FIELDS)]
        fields = [*BASE_FIELDS, *optional, *points_ids, *extra_ids.values()]
        expand = "changelog" if wants_start else None
        if wants_start:
            self._issues.load_status_categories()
        if self._http.is_cloud:
            pages = cloud_pages(
                self._http, jql, fields, expand, self._item_page_size or CLOUD_ITEM_PAGE
            )
        else:
            size = SERVER_CHANGELOG_PAGE if wants_start else SERVER_ITEM_PAGE
            pages = server_pages(self._http, jql, fields, expand, self._item_page_size or size)
        by_id: dict[str, tuple[str, WorkItem]] = {}  # an issue moving between pages comes twice
        for page in pages:
            for raw in page:
                issue_id = issue_id_of(self._http, raw, "search")
                if issue_id not in by_id:
                    by_id[issue_id] = (
                        issue_id,
                        self._issues.work_item(raw, points_ids, extra_ids, wants_start),
                    )
        return list(by_id.values())

    # -- incremental sync: what changed, and which queries it touches

    @property
    def can_match(self) -> bool:
        """Whether the server has `jql/match` (Jira Cloud); Server/DC does not."""
        self._http.connect()
        return self._http.is_cloud

    def member_ids(self, selector: Selector) -> set[str] | int:
        """A count's issue ids where they come for the requests the count costs anyway, else
        the count alone.

        On Jira Cloud a count pages through ids anyway (5,000 a page), so the members come
        for the same requests. On Server/DC a count is one request (`total`), which carries
        the ids too when its page (1,000) holds them all; a larger count comes alone.
        """
        jql = self._jql(selector)
        if not self.can_match:
            return server_count_ids(self._http, jql)
        return ids_for_jql(self._http, jql)

    def changed_ids(self, minutes: int) -> set[str]:
        """The ids of every issue updated in the last `minutes` (server clock)."""
        return self.ids_matching(f"updated >= -{max(1, minutes)}m")

    def match(self, ids: list[str], jqls: list[str]) -> list[set[str]]:
        """For each query, which of `ids` it matches now (`jql/match`, Cloud only)."""
        client = self._http.connect()
        matched: list[set[str]] = [set() for _ in jqls]
        for i in range(0, len(ids), MATCH_ISSUES_PER_REQUEST):
            chunk = [int(issue_id) for issue_id in ids[i : i + MATCH_ISSUES_PER_REQUEST]]
            for j in range(0, len(jqls), MATCH_JQLS_PER_REQUEST):
                queries = jqls[j : j + MATCH_JQLS_PER_REQUEST]
                response = self._http.call(
                    "jql/match",
                    partial(
                        client._session.post,
                        client._get_url("jql/match"),
                        data=json.dumps({"issueIds": chunk, "jqls": queries}),
                    ),
                )
                answers = self._http.read(response.json(), "matches", "jql/match")
                for offset, answer in enumerate(answers):
                    if answer.get("errors"):
                        raise QueryError(
                            self._http.scrub(
                                f"Jira refused the JQL {queries[offset]!r}: "
                                + "; ".join(str(e) for e in answer["errors"])
                            )
                        )
                    matched[j + offset] |= {str(x) for x in answer.get("matchedIssues") or []}
        return matched

    def ids_matching(self, jql: str) -> set[str]:
        """The ids of every issue `jql` matches now (ids only, 5,000 a page on Cloud)."""
        return ids_for_jql(self._http, jql)

    @staticmethod
    def union_query(jqls: list[str]) -> str:
        """`jqls` OR'ed: its listing (`ids_matching`) is every issue that matches at least one
        of them now.

        Deletions and lost permissions leave no `updated` trace; comparing a cache's members
        with such listings notices them. A few queries (`QUERIES_PER_UNION`) OR'ed into one
        listing, so the check costs a request per 5,000 distinct issues, not per query.
        """
        return " OR ".join(f"({without_order_by(q)})" for q in jqls)

    def items_by_ids(
        self, ids: list[str], needs: frozenset[str], *, within: str | None = None
    ) -> dict[str, WorkItem]:
        """Items by issue id, a page of ids per query (an id outlives a move to another key).

        `within`: only those the query matches now, `(<jql>) AND id in (...)`; where
        `jql/match` is missing (Server/DC) this tests changed issues against one cached
        query instead of fetching the query again.
        """
        scope = f"({without_order_by(within)}) AND " if within is not None else ""
        per_query = IDS_PER_QUERY if self._http.is_cloud else SERVER_ITEM_PAGE
        found: dict[str, WorkItem] = {}
        for i in range(0, len(ids), per_query):
            chunk = ", ".join(ids[i : i + per_query])
            found.update(self._items_for_jql(f"{scope}id in ({chunk})", needs))
        return found

    def _jql(self, selector: Selector) -> str:
        if not isinstance(selector, JiraSelector):
            raise ConnectorError(f"the Jira connector cannot read {selector.source} selectors")
        return selector.jql
