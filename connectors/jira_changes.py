"""Jira's change feed: which cached JQL answers still hold, and what changed in the others.

- `updated >= -Nm` gives the ids of changed issues (ids only, 5,000 a page), and the id
  listings of all cached queries OR'ed (a few a listing) show members deleted or no longer
  visible, which leave no `updated` trace; the probe and the listings are asked side by
  side, within the tracker's concurrency. Nothing either way: every cached answer stands.
- Some: `jql/match` says, in one request, which of them each cached JQL matches now;
  members that changed and no longer match leave (so do members gone from the listing),
  those that match are (re)fetched by id. An issue that leaves a query was updated to leave
  it, so this is exact.
- Jira Server/DC has no `jql/match`: each cached query is asked for the changed issues it
  matches (`(<jql>) AND id in (...)`, up to a page of 1,000 ids in one request), among those
  its queries' id listing returned: a changed issue the listing did not return matches none
  of them, and a query whose listing returned none is not asked at all.
- Counts keep their members (issue ids) and are checked like any query. On Cloud a count
  pages ids anyway; on Server/DC a count's one request (`total`) carries the ids when its
  page (1,000) holds them all. A larger Server count keeps no members: it cannot tell
  which issues left it without a trace, so it is asked again every run (one request).

A JQL whose matches can change with no issue updated (functions, relative dates, saved
filters, WAS/CHANGED: `connectors.jql`) is always fetched in full.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from connectors.base import JiraSelector, Selector, WorkItem
from connectors.changes import (
    ChangeSet,
    FetchedAlongside,
    FetchUnit,
    HeldAnswer,
    StageCosts,
    UnitAnswer,
    UnitDelta,
    UnitPlan,
)
from connectors.jql import dependencies
from connectors.request_stages import side_by_side

if TYPE_CHECKING:
    from connectors.jira import JiraConnector

log = logging.getLogger(__name__)

SERVER_PATCH_MAX_IDS = 500  # more changed issues than this: Server/DC queries fetched again
QUERIES_PER_UNION = 25  # cached queries OR'ed into one id listing (membership check)


class JiraChangeFeed:
    """Change detection for one `JiraConnector` (see the module doc)."""

    def __init__(self, connector: JiraConnector) -> None:
        self.connector = connector
        self.costs = StageCosts()

    @staticmethod
    def plan(
        item_fetches: Mapping[Selector, frozenset[str]], count_fetches: Iterable[Selector]
    ) -> UnitPlan:
        result = UnitPlan()

        for selector, needs in item_fetches.items():
            assert isinstance(selector, JiraSelector)
            result.by_items[selector] = result.add(
                FetchUnit("jira", "jira-items", selector.jql, selector=selector, needs=needs)
            )
        for selector in count_fetches:
            assert isinstance(selector, JiraSelector)
            result.by_count[selector] = result.add(
                FetchUnit("jira", "jira-count", selector.jql, selector=selector)
            )
        return result

    def item_shape(self, needs: frozenset[str]) -> frozenset[str]:
        return self.connector.item_shape(needs)

    def fragile(self, unit: FetchUnit, held: HeldAnswer) -> str | None:
        if unit.kind == "jira-count" and held.count is not None:  # Server/DC, over a page
            return "a server count without its members is asked again every run"
        found = dependencies(unit.description)
        if found.volatile:
            return f"the query depends on more than its issues: {found.reason}"
        return None

    def fetch(self, unit: FetchUnit) -> UnitAnswer:
        assert unit.selector is not None
        answer = UnitAnswer()
        if unit.kind == "jira-items":
            for tracker_id, item in self.connector.items_with_ids(unit.selector, unit.needs):
                answer.items[item.key] = item
                answer.members[tracker_id] = item.key
            return answer
        members = self.connector.member_ids(unit.selector)
        if isinstance(members, int):  # Server/DC: more than its one page
            answer.count = members
        else:
            answer.members = dict.fromkeys(members)
        return answer

    def count_from(self, selector: Selector, unit: FetchUnit, held: HeldAnswer) -> int:
        if held.count is not None:
            return held.count
        return len(held.members) if held.members else len(held.items)

    def items_from(self, selector: Selector, unit: FetchUnit, held: HeldAnswer) -> list[WorkItem]:
        return list(held.items.values())

    def changes(
        self,
        held: Mapping[str, tuple[FetchUnit, HeldAnswer]],
        since: datetime,
        now: datetime,
        width: int,
        alongside: Mapping[str, FetchUnit],
    ) -> ChangeSet:
        """Issues updated since, and members gone without a trace.

        A deleted issue, or one the token can no longer see, leaves no `updated` trace: the
        cached members are compared with the id listings of the cached queries, a few
        OR'ed a listing (`union_query`). Members missing from them leave their queries;
        issues in them that no cache holds (restored, visible again) are treated as changed.
        The probe and the listings are independent: they are asked side by side, `width` at
        a time.
        """
        jira = self.connector
        minutes = math.ceil((now - since).total_seconds() / 60)
        keys = [key for key, (_, answer) in held.items() if answer.count is None]
        groups = [keys[i : i + QUERIES_PER_UNION] for i in range(0, len(keys), QUERIES_PER_UNION)]
        asked = [partial(self._listed, "change feed", f"updated >= -{max(1, minutes)}m")]
        asked += [
            partial(
                self._listed,
                "membership check",
                jira.union_query([held[key][0].description for key in group]),
            )
            for group in groups
        ]
        fetched = FetchedAlongside(self, alongside)
        changed, *listed = side_by_side(asked, width, also=fetched.tasks)
        present = {key: ids for group, ids in zip(groups, listed, strict=True) for key in group}
        vanished: set[str] = set()
        if keys:
            known = set().union(*(held[key][1].members for key in keys))
            in_any = set().union(*listed)
            vanished = known - in_any
            changed |= in_any - known
        if not changed and not vanished:
            log.info("jira: nothing changed in the last %d minutes", minutes)
            return fetched.into(ChangeSet(stands=held))
        found = fetched.into(JiraChanges(touched=changed | vanished))
        if not keys:
            return found
        if not jira.can_match:  # Server/DC: each cached query tested against the changed ids
            if len(changed) > SERVER_PATCH_MAX_IDS:  # cheaper to fetch the queries again
                return fetched.into(ChangeSet(why=f"over {SERVER_PATCH_MAX_IDS} issues changed"))
            self._test_each(held, keys, {key: changed & present[key] for key in keys}, width, found)
        else:
            jqls = [held[key][0].description for key in keys]
            self._match(held, keys, jqls, sorted(changed, key=int), found)
        log.info(
            "jira: %d issues changed, %d gone; %d cached queries patched",
            len(changed),
            len(vanished),
            len(keys),
        )
        return found

    def _listed(self, stage: str, jql: str) -> set[str]:
        with self.costs.stage(stage):
            return self.connector.ids_matching(jql)

    def _test_each(
        self,
        held: Mapping[str, tuple[FetchUnit, HeldAnswer]],
        keys: list[str],
        candidates: Mapping[str, set[str]],
        width: int,
        found: JiraChanges,
    ) -> None:
        """Server/DC: which changed issues each cached query matches now, `(<jql>) AND id in
        (...)`, side by side. A changed issue its queries' listing (`union_query`) did not
        return matches none of them: only those it returned are asked, and a query with
        none is not asked at all."""
        asked = [key for key in keys if candidates[key]]
        tested = side_by_side(
            [partial(self._matched_items, candidates[k], held[k]) for k in asked], width
        )
        for key in keys:
            found.matched[key] = set()
            found.fresh_items[key] = {}
        for key, fresh in zip(asked, tested, strict=True):
            found.matched[key] = set(fresh)
            found.fresh_items[key] = fresh

    def _matched_items(
        self, ids: set[str], cached: tuple[FetchUnit, HeldAnswer]
    ) -> dict[str, WorkItem]:
        """The changed issues one cached query matches now (Server/DC), with its fields."""
        unit, answer = cached
        with self.costs.stage("changed issues"):
            return self.connector.items_by_ids(
                sorted(ids, key=int), answer.needs, within=unit.description
            )

    def _match(
        self,
        held: Mapping[str, tuple[FetchUnit, HeldAnswer]],
        keys: list[str],
        jqls: list[str],
        ids: list[str],
        found: JiraChanges,
    ) -> None:
        """Which changed issues each cached query matches (`jql/match`), and those issues."""
        jira = self.connector
        with self.costs.stage("changed issues"):
            matched = jira.match(ids, jqls) if ids else [set[str]() for _ in keys]
            wanted: set[str] = set()
            needs: frozenset[str] = frozenset()
            for key, ids_matched in zip(keys, matched, strict=True):
                found.matched[key] = ids_matched
                if held[key][0].kind == "jira-items":
                    wanted |= ids_matched
                    needs |= held[key][1].needs
            if wanted:  # one fetch with every unit's fields serves them all
                fresh = jira.items_by_ids(sorted(wanted, key=int), needs)
                found.fresh_items = dict.fromkeys(keys, fresh)


class JiraChanges(ChangeSet):
    """Changed (or vanished) issue ids, and which of them each cached query matches now."""

    def __init__(self, touched: set[str]) -> None:
        super().__init__()
        self.touched = touched  # members to take out before adding what matches now
        self.matched: dict[str, set[str]] = {}  # unit key -> changed ids it matches now
        self.fresh_items: dict[str, dict[str, WorkItem]] = {}  # unit key -> id -> item

    def settled(self) -> None:
        self.fresh_items = {}

    def delta(self, unit: FetchUnit, held: HeldAnswer) -> UnitDelta | None:
        matched = self.matched.get(unit.key)
        if matched is None:
            return None
        delta = UnitDelta(removed_ids=self.touched & held.members.keys())
        fresh = self.fresh_items.get(unit.key, {})
        for tracker_id in matched:
            if unit.kind == "jira-count":
                delta.members[tracker_id] = None
                continue
            item = fresh.get(tracker_id)
            if item is None:
                self.why_full[unit.key] = "an issue changed again while it was read"
                return None
            delta.items[item.key] = item
            delta.members[tracker_id] = item.key
        return delta
