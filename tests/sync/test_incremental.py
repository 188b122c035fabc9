"""Incremental sync against the sandbox: the second run asks only what changed, values stay exact.

The reference for every value is a full run without the store (no cache at all), made right
after the incremental one on the same data, so any item the cache kept wrongly shows up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import func, select, update

from bench.changes import touch_items
from bench.company import company_mapping
from config.loader import load_mapping_text
from config.mapping import MappingFile
from config.settings import GitHubSettings, IncrementalSettings, JiraSettings, Settings
from connectors.changes import FetchUnit
from connectors.github_changes import GitHubChangeFeed, may_hold_issues
from connectors.github_membership import qualifiers_and_repositories
from connectors.github_units import LISTINGS
from connectors.jira_changes import QUERIES_PER_UNION, JiraChangeFeed
from connectors.jira_search import CLOUD_ID_PAGE
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.engine import SyncReport, run_sync
from sync.incremental_run import plan_units_over
from sync.item_codec import ITEM_FORMAT, decode_item, encode_item
from sync.literal_text import LiteralConsole
from sync.plan import QueryPlan, plan_queries
from sync.status_view import render_explain
from sync.store import Store
from sync.tables import fetch_cache, fetch_cache_items, key_results
from tests.conftest import ANCHOR


@dataclass
class CompanyRuns:
    """A small company's sandbox and mapping, synced into one SQLite store of its own, every
    run as of one moment (the test's start)."""

    box: Sandbox
    mapping: MappingFile
    url: str
    store: Store
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))

    def sync(self, only: list[str] | None = None, **incremental: object) -> SyncReport:
        """A run into the store, with `incremental` settings (the defaults when none)."""
        return run_sync(
            settings(self.box, self.url, **incremental),
            self.mapping,
            self.store,
            only=only,
            as_of=self.as_of,
        )

    def full(self) -> dict[str, float | None]:
        """The reference values: a full run without the store, as of the same moment."""
        return full_run(self.box, self.mapping, self.as_of)


def small_sandbox(
    seed: int, flavour: Literal["cloud", "server"], anchor: datetime, **options: object
) -> Sandbox:
    """The small company's trackers, started: 500 Jira issues in 2 projects, 2 repositories."""
    return build_sandbox(
        # GitHub's 30 searches a minute in one-second windows: many syncs, little waiting.
        SandboxOptions(seed=seed, jira_flavour=flavour, anchor=anchor, time_scale=60.0, **options),  # type: ignore[arg-type]
        jira_issues=500,
        jira_projects=2,
        github_repos=2,
        github_pulls=300,
        github_issues=60,
    ).start()


def small_company_text(today: date) -> str:
    """The small company's mapping file: 50 key results over its projects and repositories,
    in a period around `today`."""
    return company_mapping(
        ["APP", "WEB"],
        ["acme/api", "acme/web"],
        org="acme",
        start=today - timedelta(days=90),
        end=today + timedelta(days=30),
        key_results=50,
    )


def small_company(
    flavour: Literal["cloud", "server"], anchor: datetime, folder: Path, **options: object
) -> Iterator[CompanyRuns]:
    box = small_sandbox(11, flavour, anchor, **options)
    today = datetime.now(UTC).date()
    text = small_company_text(today)
    url = f"sqlite:///{folder}/okrsync.db"
    store = Store(url)
    store.migrate()
    try:
        yield CompanyRuns(
            box, load_mapping_text(text, source_name="company", today=today), url, store
        )
    finally:
        store.close()
        box.stop()


@pytest.fixture
def live_company(tmp_path: Path) -> Iterator[CompanyRuns]:
    """Activity up to this minute, as on a live site (the data's "now" is the real now)."""
    yield from small_company("cloud", datetime.now(UTC).replace(microsecond=0), tmp_path)


@pytest.fixture
def strict_live_company(tmp_path: Path) -> Iterator[CompanyRuns]:
    """A live Cloud site read at its strictest: id pages hold ids alone, even for the
    `issuekey` the `jira` library sends when asked for `id`."""
    yield from small_company(
        "cloud",
        datetime.now(UTC).replace(microsecond=0),
        tmp_path,
        jira_bare_id_fields=frozenset({"id", "issuekey"}),
    )


@pytest.fixture
def quiet_company(tmp_path: Path) -> Iterator[CompanyRuns]:
    """Nothing has changed for a day: the data's "now" is yesterday."""
    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    yield from small_company("cloud", yesterday, tmp_path)


@pytest.fixture
def quiet_server_company(tmp_path: Path) -> Iterator[CompanyRuns]:
    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    yield from small_company("server", yesterday, tmp_path)


def fetch_units(plan: QueryPlan) -> list[FetchUnit]:
    """Every fetch unit of the plan, as the two trackers' change feeds group them."""
    jira = plan_units_over([plan], "jira", JiraChangeFeed.plan).units.values()
    return [*jira, *plan_units_over([plan], "github", GitHubChangeFeed.plan).units.values()]


def asked_every_run(mapping: MappingFile, as_of: datetime) -> int:
    """GitHub search counts that may include issues, not confined to repositories alone: a
    deletion leaves no trace in them, and no batch of repositories can check them."""
    units = fetch_units(plan_queries(mapping, today=as_of.date()))
    return sum(
        1
        for u in units
        if u.kind == "github-search-count"
        and may_hold_issues(u)
        and qualifiers_and_repositories(u.description) is None
    )


def settings(box: Sandbox, url: str, **incremental: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        jira=JiraSettings.model_validate(box.jira_settings()),
        github=GitHubSettings.model_validate(box.github_settings()),
        database_url=url,
        incremental=IncrementalSettings.model_validate(incremental),
    )


def values(report: SyncReport) -> dict[str, float | None]:
    assert not report.failed, [(o.plan.key_result.id, o.error) for o in report.failed]
    return {o.plan.key_result.id: o.value for o in report.key_results}


def counted(box: Sandbox) -> dict[str, int]:
    assert box.jira_app is not None and box.github_app is not None
    found = {f"jira {k}": v for k, v in box.jira_app.requests.items()}
    found |= {f"github {k}": v for k, v in box.github_app.requests.items()}
    box.jira_app.reset_counts()
    box.github_app.reset_counts()
    return found


def full_run(box: Sandbox, mapping: MappingFile, as_of: datetime) -> dict[str, float | None]:
    """The reference: no store, so no cache; every selector fetched in full."""
    return values(run_sync(settings(box, "sqlite://"), mapping, None, as_of=as_of))


def patched_run_equals_full(company: CompanyRuns) -> dict[str, float | None]:
    """An incremental run after a change: some units patched, every value a full fetch's."""
    report = company.sync()
    assert report.cache_units is not None and report.cache_units["incremental"] > 0
    after = values(report)
    assert after == company.full()
    return after


def test_changed_items_give_the_same_values_as_a_full_run(
    live_company: CompanyRuns, database_url: str
) -> None:
    store = Store(database_url)
    store.migrate()
    company = replace(live_company, url=database_url, store=store)  # SQLite or PostgreSQL
    box = company.box
    first = company.sync()
    before = values(first)
    assert before == company.full()
    counted(box)

    changed = touch_items(box, 0.05, seed=3)  # resolve, move, delete, create, merge, close, ...
    assert changed.jira >= 20 and changed.github >= 15
    second = company.sync()
    after = values(second)
    requests = counted(box)
    reference = company.full()

    assert after == reference
    assert after != before  # the changes moved some values: the check has teeth
    assert second.cache_units is not None and second.cache_units["incremental"] > 0
    assert requests.get("jira jql/match") == 1  # one request tells which queries changed
    assert sum(second.requests.values()) < sum(first.requests.values())
    with store.engine.connect() as conn:
        units = conn.execute(select(func.count()).select_from(fetch_cache)).scalar_one()
        rows = conn.execute(select(func.count()).select_from(fetch_cache_items)).scalar_one()
    assert units == sum(first.cache_units.values()) if first.cache_units else False
    assert rows > 0
    store.close()


def test_id_only_pages_give_the_full_fetchs_values(strict_live_company: CompanyRuns) -> None:
    """Counts, shares and the change feed from pages that hold ids alone (issue #17)."""
    kinds = {
        kr.metric.type
        for objective in strict_live_company.mapping.objectives
        for kr in objective.key_results
    }
    assert {"count", "share", "sum"} <= kinds
    first = values(strict_live_company.sync())
    assert first == strict_live_company.full()
    touch_items(strict_live_company.box, 0.05, seed=7)
    assert patched_run_equals_full(strict_live_company) != first


def test_an_issue_moved_to_another_project_leaves_its_old_queries(
    live_company: CompanyRuns,
) -> None:
    """A move keeps the issue's id and gives it a new key: the cache must follow the id."""
    before = values(live_company.sync())
    data = live_company.box.jira_data
    open_app = [i for i in data.issues if i.project == "APP" and i.status_category != "done"]
    moved_at = datetime.now(UTC).replace(microsecond=0)
    for issue in open_app[:6]:
        old = issue.key
        assert data.move(issue, "WEB", moved_at) != old
    assert patched_run_equals_full(live_company) != before


def test_deleted_issues_leave_and_restored_ones_come_back(quiet_company: CompanyRuns) -> None:
    """A deletion (or a permission lost) leaves no `updated` trace; the next run sees it."""
    before = values(quiet_company.sync())
    data = quiet_company.box.jira_data
    gone = [i for i in data.issues if i.status_category != "done"][:4]
    gone += [i for i in data.issues if i.status_category == "done"][:4]
    for issue in gone:
        data.delete(issue)
    counted(quiet_company.box)
    second = quiet_company.sync()
    requests = counted(quiet_company.box)
    after = values(second)
    assert after == quiet_company.full()
    assert after != before
    assert second.cache_units is not None
    assert (
        second.cache_units["full"]
        == asked_every_run(quiet_company.mapping, quiet_company.as_of)
        > 0
    )
    assert "jira jql/match" not in requests  # nothing was updated: nothing to match
    for issue in gone:
        data.restore(issue)
    third = values(quiet_company.sync())
    assert third == quiet_company.full() == before


def test_deleted_and_transferred_github_issues_leave_their_repository(
    quiet_company: CompanyRuns,
) -> None:
    """GitHub deletions leave no trace and a transfer updates the issue in its new home only:
    the issue listings and searches are checked against GitHub's own counts."""
    before = values(quiet_company.sync())
    data = quiet_company.box.github_data
    recent = quiet_company.as_of - timedelta(days=85)  # inside the period the key results count
    api = [i for i in data.issues if i.repo == "acme/api" and i.created_at >= recent]
    data.delete(api[0])
    data.delete(next(i for i in data.issues if i.repo == "acme/web" and i.created_at >= recent))
    data.transfer(api[1], "acme/web", datetime.now(UTC).replace(microsecond=0))
    counted(quiet_company.box)
    second = quiet_company.sync()
    requests = counted(quiet_company.box)
    after = values(second)
    assert after == quiet_company.full()
    assert after != before
    assert requests.get("github issues", 0) >= 2  # the issue listings were fetched again
    told = {o.plan.key_result.id: o.lineage.get("cache") for o in second.key_results}
    assert told["repo-web-9"] == (
        "fetched in full: GitHub counts fewer items than the cache holds: "
        "some were deleted or transferred"
    )
    third = quiet_company.sync()
    assert values(third) == after == quiet_company.full()


def test_a_renamed_repository_fails_its_key_results_clearly_and_keeps_their_values(
    quiet_company: CompanyRuns,
) -> None:
    """Nothing is lost: the key results on the old name keep their last good values and say
    what to change; the others are synced as usual."""
    before = values(quiet_company.sync())
    quiet_company.box.github_data.rename("acme/web", "acme/website")
    second = quiet_company.sync()
    failed = {o.plan.key_result.id: o.error for o in second.key_results if o.error}
    on_web = {
        kr.id for _, kr in quiet_company.mapping.key_results() if kr.id.startswith("repo-web-")
    }
    assert on_web and on_web <= failed.keys()
    assert any("acme/web is now acme/website" in str(failed[kr]) for kr in on_web)
    with quiet_company.store.engine.connect() as conn:
        kept = {r.id: r.value for r in conn.execute(select(key_results.c.id, key_results.c.value))}
    assert all(kept[kr] == before[kr] for kr in on_web)  # last good values kept
    assert all(kr.startswith("repo-web-") or kr.startswith("company") for kr in failed)


def test_count_members_cached_by_the_previous_release_are_patched_by_id(
    live_company: CompanyRuns,
) -> None:
    """Until #17 a count's members were cached under their keys; those rows still work."""
    live_company.sync()
    rows = fetch_cache_items
    with live_company.store.engine.begin() as conn:
        members = conn.execute(
            select(rows.c.unit_key, rows.c.tracker_id).where(rows.c.item.is_(None))
        ).all()
        assert members  # the mapping has Jira counts
        for unit_key, tracker_id in members:
            conn.execute(
                update(rows)
                .where(rows.c.unit_key == unit_key, rows.c.tracker_id == tracker_id)
                .values(item_key=live_company.box.jira_data.by_id[tracker_id].key)
            )
    touch_items(live_company.box, 0.05, seed=9)
    second = live_company.sync()
    assert second.cache_units is not None and second.cache_units["incremental"] > 0
    assert values(second) == live_company.full()
    third = live_company.sync()
    assert values(third) == live_company.full()


LIST_QUERIES = """
version: 1
period: {{start: {start}, end: {end}}}
objectives:
  - id: lists
    title: Queries with value lists
    key_results:
      - id: open-across
        title: Open work across two projects
        start: 400
        target: 100
        metric: {{source: jira, type: count, jql: "project in (APP, WEB) AND statusCategory != Done"}}
      - id: closed-points
        title: Points closed or done
        target: 100
        metric:
          source: jira
          type: sum
          field: story_points
          jql: "status in (Done, Closed) AND issuetype in (Bug, Story)"
      - id: not-done-share
        title: Big items outside Done
        target: 10
        metric: {{source: jira, type: share, where: "story_points >= 5", jql: "status not in (Done)"}}
      - id: recent
        title: Updated this month
        target: 10
        metric: {{source: jira, type: count, jql: "updated >= -30d"}}
"""


def test_value_lists_are_patched_and_relative_dates_fetched_in_full(
    live_company: CompanyRuns,
) -> None:
    """`in (...)` and `not in (...)` are ordinary JQL; `-30d` slides with the clock."""
    today = datetime.now(UTC).date()
    text = LIST_QUERIES.format(start=today - timedelta(days=60), end=today + timedelta(days=30))
    lists = replace(live_company, mapping=load_mapping_text(text, source_name="lists", today=today))
    lists.sync()
    touch_items(lists.box, 0.05, seed=4)
    second = lists.sync()
    assert values(second) == lists.full()
    assert second.cache_units == {"cached": 0, "incremental": 3, "full": 1}


def test_a_story_points_setting_change_refetches_exactly_the_entries_it_shapes(
    quiet_company: CompanyRuns,
) -> None:
    wrong = settings(quiet_company.box, quiet_company.url)
    wrong.jira.story_points_field = "customfield_99999"  # no such field: no story points
    first = values(
        run_sync(wrong, quiet_company.mapping, quiet_company.store, as_of=quiet_company.as_of)
    )
    assert first != quiet_company.full()  # sums and shares without story points
    fixed = quiet_company.sync()
    assert values(fixed) == quiet_company.full()
    units = fetch_units(plan_queries(quiet_company.mapping, today=quiet_company.as_of.date()))
    shaped = sum(1 for unit in units if "story_points" in unit.needs)
    assert 0 < shaped < len(units)
    assert fixed.cache_units is not None
    always = asked_every_run(quiet_company.mapping, quiet_company.as_of)
    assert fixed.cache_units["full"] == shaped + always  # the others stand as they were
    assert fixed.cache_units["cached"] == len(units) - shaped - always
    told = {o.plan.key_result.id: o.lineage.get("cache") for o in fixed.key_results}
    sums = [o for o in fixed.key_results if o.plan.metric and o.plan.metric.field == "story_points"]
    assert sums and all(
        told[o.plan.key_result.id] == "fetched in full: cached under other settings "
        "(site or story-points field)"
        for o in sums
    )
    assert "from the cache: nothing it holds changed" in told.values()
    console = LiteralConsole(record=True, width=200)
    render_explain(quiet_company.store, sums[0].plan.key_result.id, console)
    assert "cache: fetched in full: cached under other settings" in console.export_text()


def test_entries_of_the_previous_release_have_no_shape_and_are_fetched_once(
    quiet_company: CompanyRuns,
) -> None:
    first = values(quiet_company.sync())
    with quiet_company.store.engine.begin() as conn:
        conn.execute(update(fetch_cache).values(shape=None))
    second = quiet_company.sync()
    assert values(second) == first
    assert second.cache_units is not None and second.cache_units["full"] == sum(
        second.cache_units.values()
    )
    third = quiet_company.sync()
    assert third.cache_units is not None
    assert third.cache_units["full"] == asked_every_run(quiet_company.mapping, quiet_company.as_of)


def test_nothing_changed_costs_one_probe_per_tracker_and_one_membership_search(
    quiet_company: CompanyRuns,
) -> None:
    first = values(quiet_company.sync())
    counted(quiet_company.box)
    second = quiet_company.sync()
    requests = counted(quiet_company.box)
    assert values(second) == first == quiet_company.full()
    units = fetch_units(plan_queries(quiet_company.mapping, today=quiet_company.as_of.date()))
    jira_units = sum(1 for unit in units if unit.source == "jira")
    assert (
        len(quiet_company.box.jira_data.issues) <= CLOUD_ID_PAGE
    )  # each union of queries is one page
    # updated >= -Nm: nothing; then the cached queries' ids, QUERIES_PER_UNION at a time
    assert requests.get("jira search/jql") == 1 + math.ceil(jira_units / QUERIES_PER_UNION)
    assert "jira jql/match" not in requests
    # org:acme updated:>=...: nothing; the issue listings checked against GitHub's count, one
    # search for the repositories of each horizon; the search counts of repositories alone
    # likewise, one search for those of equal other qualifiers; each other search count that
    # may include issues asked again
    horizons = {  # one batch per listing shape and horizon
        (u.kind, u.horizon) for u in units if u.kind in LISTINGS and u.item_kind == "issue"
    }
    assert len({u.repo for u in units if u.item_kind == "issue"}) == 2 and len(horizons) == 1
    counts = [u for u in units if u.kind == "github-search-count" and may_hold_issues(u)]
    split = [qualifiers_and_repositories(u.description) for u in counts]
    batched = [found[0] for found in split if found is not None]
    assert len(batched) == 2 and len(set(batched)) == 1  # acme/api's and acme/web's: one search
    always = asked_every_run(quiet_company.mapping, quiet_company.as_of)
    assert requests.get("github search_issues") == 1 + len(horizons) + len(set(batched)) + always
    assert "github pulls" not in requests and "github issues" not in requests
    assert second.cache_units == {
        "cached": sum(second.cache_units.values()) - always,
        "incremental": 0,
        "full": always,
    }


def test_jira_server_tests_changed_issues_against_each_cached_query(
    quiet_server_company: CompanyRuns,
) -> None:
    """Server/DC has no jql/match: `(<jql>) AND id in (...)` per cached query, counts by
    their ids like any query (`tests/sync/test_concurrent_checks.py`)."""
    first = quiet_server_company.sync()
    touch_items(quiet_server_company.box, 0.05, seed=5)
    gone = [i for i in quiet_server_company.box.jira_data.issues if i.status_category != "done"][:3]
    for issue in gone:
        quiet_server_company.box.jira_data.delete(issue)
    counted(quiet_server_company.box)
    second = quiet_server_company.sync()
    requests = counted(quiet_server_company.box)
    assert values(second) == quiet_server_company.full()
    assert "jira jql/match" not in requests
    assert second.cache_units is not None and first.cache_units is not None
    units = fetch_units(
        plan_queries(quiet_server_company.mapping, today=quiet_server_company.as_of.date())
    )
    jira_items = sum(1 for unit in units if unit.kind == "jira-items")
    jira_counts = sum(1 for unit in units if unit.kind == "jira-count")
    assert second.cache_units["incremental"] >= jira_items > 0  # patched, not fetched again
    assert jira_counts > 0


def test_a_full_refresh_comes_round_after_the_configured_time(quiet_company: CompanyRuns) -> None:
    first = quiet_company.sync(full_refresh_every="1s")
    time.sleep(1.1)
    second = quiet_company.sync(full_refresh_every="1s")
    assert second.cache_units is not None and first.cache_units is not None
    assert second.cache_units["full"] == sum(first.cache_units.values())
    third = quiet_company.sync(full_refresh_every="1h")
    assert third.cache_units is not None
    assert third.cache_units["full"] == asked_every_run(quiet_company.mapping, datetime.now(UTC))


def test_disabled_incremental_sync_fetches_everything_every_time(
    quiet_company: CompanyRuns,
) -> None:
    first = quiet_company.sync(enabled=False)
    second = quiet_company.sync(enabled=False)
    assert second.cache_units is None
    assert second.requests == first.requests


def test_work_items_survive_the_store_unchanged(sandbox: Sandbox) -> None:
    from connectors.base import GitHubListSelector, JiraSelector
    from connectors.github import GitHubConnector
    from connectors.jira import JiraConnector

    jira = JiraConnector(
        **{k: v for k, v in sandbox.jira_settings().items() if k != "url"}, url=sandbox.jira_url
    )  # type: ignore[arg-type]
    github = GitHubConnector(**sandbox.github_settings())  # type: ignore[arg-type]
    items = jira.items(
        JiraSelector("project = APP AND type = Bug"),
        frozenset({"started_at", "story_points", "Business Value", "Severity"}),
    )[:50]
    items += github.items(GitHubListSelector("acme/api", "pull_request"), frozenset())[:50]
    assert any(i.extra for i in items) and any(i.started_at for i in items)
    for item in items:
        assert decode_item(encode_item(item)) == item


def test_entries_of_another_item_format_are_fetched_again(quiet_company: CompanyRuns) -> None:
    """A cache written for another shape of work item is never read as this one."""
    first = quiet_company.sync()
    with quiet_company.store.engine.begin() as conn:
        conn.execute(update(fetch_cache).values(item_format="0123456789abcdef"))
    second = quiet_company.sync()
    assert second.cache_units is not None
    assert second.cache_units["full"] == sum(second.cache_units.values())
    assert values(second) == values(first)
    with quiet_company.store.engine.connect() as conn:
        formats = set(conn.execute(select(fetch_cache.c.item_format)).scalars())
    assert formats == {ITEM_FORMAT}  # rewritten in the current format


def test_a_damaged_cached_item_costs_only_its_entry(quiet_company: CompanyRuns) -> None:
    first = quiet_company.sync()
    with quiet_company.store.engine.begin() as conn:
        victim = conn.execute(
            select(fetch_cache_items.c.unit_key, fetch_cache_items.c.item_key)
            .where(fetch_cache_items.c.item.is_not(None))
            .limit(1)
        ).one()
        conn.execute(
            update(fetch_cache_items)
            .where(
                fetch_cache_items.c.unit_key == victim.unit_key,
                fetch_cache_items.c.item_key == victim.item_key,
            )
            .values(item='["not", "a work item"]')
        )
        # Every key result computed again, so every entry's items are read (a key result that
        # keeps its value reads none, and a damaged row nothing reads costs nothing).
        conn.execute(update(key_results).values(last_run_id=None))
    second = quiet_company.sync()
    assert second.cache_units is not None
    always = asked_every_run(quiet_company.mapping, quiet_company.as_of)
    assert second.cache_units["full"] == 1 + always
    assert second.cache_units["cached"] == sum(second.cache_units.values()) - 1 - always
    assert values(second) == values(first)


def test_entries_no_run_uses_are_pruned_after_the_configured_time(
    quiet_company: CompanyRuns,
) -> None:

    def entries() -> int:
        with quiet_company.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(fetch_cache)).scalar_one())

    full = quiet_company.sync()
    everything = entries()
    assert full.cache_units is not None and everything == sum(full.cache_units.values())
    few = [kr.id for _, kr in quiet_company.mapping.key_results()][:3]
    quiet_company.sync(only=few)
    assert entries() == everything  # recently used: kept
    subset = quiet_company.sync(only=few, prune_after=0)
    assert subset.cache_units is not None
    used = sum(subset.cache_units.values())
    assert 0 < used < everything
    assert entries() == used  # only what this run used is left
    with quiet_company.store.engine.connect() as conn:
        orphans = conn.execute(
            select(func.count())
            .select_from(fetch_cache_items)
            .where(fetch_cache_items.c.unit_key.not_in(select(fetch_cache.c.unit_key)))
        ).scalar_one()
    assert orphans == 0
    again = quiet_company.sync()
    assert again.cache_units is not None
    pruned, always = everything - used, asked_every_run(quiet_company.mapping, quiet_company.as_of)
    assert pruned <= again.cache_units["full"] <= pruned + always  # and what is asked anyway
    assert values(again) == values(full)


def test_descriptive_fields_shape_jira_units_only() -> None:
    """Jira is asked for labels only when a metric reads them; GitHub always sends them,
    so naming them must not make a cached GitHub listing look incomplete."""
    text = """
version: 1
period: 2026-Q4
objectives:
  - id: o
    title: O
    key_results:
      - id: labelled-bugs
        title: Share of bugs labelled customer
        target: 50
        metric:
          type: share
          where: "'customer' in labels"
          jql: project = APP AND type = Bug
      - id: labelled-prs
        title: Share of merged PRs labelled customer
        target: 50
        metric:
          type: share
          where: "'customer' in labels"
          pulls: {repo: acme/api, state: merged}
"""
    mapping = load_mapping_text(text, source_name="okrs.yaml", today=ANCHOR.date())
    units = fetch_units(plan_queries(mapping, today=ANCHOR.date()))
    needs = {unit.kind: unit.needs for unit in units}
    assert needs["jira-items"] == frozenset({"labels"})
    assert needs["github-closed-listing"] == frozenset()  # merged ones: closed alone


def test_merged_at_any_time_is_counted_with_and_without_the_cache(
    quiet_company: CompanyRuns,
) -> None:
    """`state: merged` without a `merged:` window reaches to the end of time and back."""
    box = quiet_company.box
    text = """
version: 1
period: 2026-Q4
objectives:
  - id: o
    title: O
    key_results:
      - id: merged-ever
        title: Pull requests ever merged in acme/api
        target: 1000
        metric: {type: count, pulls: {repo: acme/api, state: merged}}
      - id: merged-ever-web
        title: Pull requests ever merged in acme/web, counted by the server
        target: 1000
        metric: {type: count, pulls: {repo: acme/web, state: merged}}
      - id: labelled-share
        title: Merged acme/api pull requests labelled customer
        target: 50
        metric:
          type: share
          where: "'customer' in labels"
          pulls: {repo: acme/api, state: merged}
"""
    mapping = load_mapping_text(text, source_name="okrs.yaml", today=datetime.now(UTC).date())
    merged = {
        repo: [p for p in box.github_data.pulls if p.repo == repo and p.merged_at is not None]
        for repo in ("acme/api", "acme/web")
    }
    labelled = sum(1 for p in merged["acme/api"] if "customer" in p.labels)
    expected = {
        "merged-ever": float(len(merged["acme/api"])),
        "merged-ever-web": float(len(merged["acme/web"])),
        "labelled-share": 100.0 * labelled / len(merged["acme/api"]),
    }
    assert all(expected.values())
    merged_ever = replace(quiet_company, mapping=mapping)
    assert values(merged_ever.sync()) == pytest.approx(expected)
    assert merged_ever.full() == pytest.approx(expected)
