"""A run where nothing a key result reads changed keeps its value and decodes no cached item.

Decodes are counted by the cache (`SyncReport.cache_decoded`, from `sync.item_cache`), and
every value is compared with a run that has no cache at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.loader import load_mapping_text
from config.mapping import MappingFile
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.engine import run_sync
from sync.literal_text import LiteralConsole
from sync.status_view import render_explain
from sync.store import Store
from tests.sync.test_incremental import full_run, settings, values

MAPPING = """
version: 1
period: {{start: {start}, end: {end}}}
objectives:
  - id: app
    title: App
    key_results:
      - id: done-count
        title: Done
        target: 300
        metric: {{source: jira, type: count, jql: "project = APP AND statusCategory = Done"}}
      - id: done-points
        title: Points done
        target: 900
        metric:
          {{source: jira, type: sum, field: story_points,
            jql: "project = APP AND statusCategory = Done"}}
      - id: done-lead
        title: Lead time
        target: 50
        metric:
          {{source: jira, type: p90, field: lead_time_hours,
            jql: "project = APP AND statusCategory = Done"}}
      - id: done-share
        title: Share done
        target: 90
        metric:
          type: formula
          expr: 100 * done / (done + open)
          inputs:
            done: {{source: jira, type: count, jql: "project = APP AND statusCategory = Done"}}
            open: {{source: jira, type: count, jql: "project = APP AND statusCategory != Done"}}
  - id: web
    title: Web
    key_results:
      - id: web-done
        title: Web done
        target: 80
        metric: {{source: jira, type: percent_done, jql: "project = WEB"}}
      - id: web-big
        title: Big open web items
        target: 10
        metric:
          {{source: jira, type: share, where: "story_points >= 5",
            jql: "project = WEB AND statusCategory != Done"}}
      - id: all-open
        title: Open anywhere
        target: 10
        metric: {{source: jira, type: count, jql: "project in (APP, WEB) AND statusCategory != Done"}}
  - id: code
    title: Code
    key_results:
      - id: prs-merged
        title: PRs merged
        target: 100
        metric: {{type: count, pulls: {{repo: acme/api, merged: period}}}}
      - id: pr-lead
        title: PR lead time
        target: 24
        metric: {{type: median, field: lead_time_hours, pulls: {{repo: acme/api, merged: period}}}}
      - id: web-prs
        title: Web PRs merged
        target: 100
        metric: {{type: count, search: "repo:acme/web is:pr is:merged"}}
{extra}"""

TIME_DEPENDENT = """
      - id: web-age
        title: Age of open web items
        target: 10
        metric:
          {{source: jira, type: mean, field: age_days,
            jql: "project = WEB AND statusCategory != Done"}}
      - id: web-recent
        title: Updated this month
        target: 10
        metric: {{source: jira, type: count, jql: "updated >= -30d"}}
"""


def mapping(extra: str = "", **replace: str) -> MappingFile:
    today = datetime.now(UTC).date()
    text = MAPPING.format(
        start=today - timedelta(days=90),
        end=today + timedelta(days=30),
        extra=extra.format() if extra else "",
    )
    for old, new in replace.items():
        text = text.replace(old, new)
    return load_mapping_text(text, source_name="kept", today=today)


@pytest.fixture
def quiet_box() -> Iterator[Sandbox]:
    """Nothing has changed for a day: the data's "now" is yesterday."""
    box = build_sandbox(
        SandboxOptions(
            seed=5,
            jira_flavour="cloud",
            anchor=datetime.now(UTC).replace(microsecond=0) - timedelta(days=1),
            time_scale=60.0,
        ),
        jira_issues=400,
        jira_projects=2,
        github_repos=2,
        github_pulls=200,
        github_issues=40,
    ).start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    url = f"sqlite:///{tmp_path}/okrsync.db"
    store = Store(url)
    store.migrate()
    yield url, store
    store.close()


def test_nothing_changed_decodes_no_cached_item_and_keeps_every_value(
    quiet_box: Sandbox, store_url: tuple[str, Store]
) -> None:
    url, store = store_url
    plan = mapping()
    as_of = datetime.now(UTC)
    first = run_sync(settings(quiet_box, url), plan, store, as_of=as_of)
    assert first.kept == 0 and first.cache_decoded == 0  # everything fetched in full
    second = run_sync(settings(quiet_box, url), plan, store, as_of=as_of)
    assert values(second) == values(first) == full_run(quiet_box, plan, as_of)
    assert second.cache_decoded == 0
    assert second.kept == len(second.key_results) == 10
    assert second.cache_units is not None and second.cache_units["full"] == 0
    kept = {o.plan.key_result.id: o.lineage for o in second.key_results}
    assert all("kept" in lineage for lineage in kept.values())
    assert kept["done-count"]["cache"] == "from the cache: nothing it holds changed"
    # progress is scored again for the run's moment, from the kept value
    later = run_sync(settings(quiet_box, url), plan, store, as_of=as_of + timedelta(days=7))
    assert later.kept == 10 and later.cache_decoded == 0
    by_id = {o.plan.key_result.id: o for o in later.key_results}
    before = {o.plan.key_result.id: o for o in second.key_results}
    assert by_id["done-count"].value == before["done-count"].value
    assert by_id["done-count"].progress.expected > before["done-count"].progress.expected
    console = LiteralConsole(record=True, width=200)
    render_explain(store, "done-points", console)
    assert "value kept from the previous run: nothing it reads changed" in console.export_text()


def test_one_changed_issue_decodes_only_the_entries_it_belongs_to(
    quiet_box: Sandbox, store_url: tuple[str, Store]
) -> None:
    url, store = store_url
    plan = mapping()
    as_of = datetime.now(UTC)
    first = run_sync(settings(quiet_box, url), plan, store, as_of=as_of)
    data = quiet_box.jira_data
    issue = next(i for i in data.issues if i.project == "APP" and i.resolutiondate is None)
    moment = datetime.now(UTC).replace(microsecond=0)
    issue.status, issue.resolution, issue.resolutiondate = "Done", "Done", moment
    issue.updated = moment
    second = run_sync(settings(quiet_box, url), plan, store, as_of=as_of)
    assert values(second) == full_run(quiet_box, plan, as_of)
    assert values(second) != values(first)
    # Its only entry with items: "project = APP AND statusCategory = Done" (the counts
    # keep ids alone, and their members are patched without decoding anything).
    assert second.cache_decoded == 1
    recomputed = {o.plan.key_result.id for o in second.key_results if "kept" not in o.lineage}
    assert recomputed == {"done-count", "done-points", "done-lead", "done-share", "all-open"}
    assert second.kept == len(second.key_results) - len(recomputed)


def test_time_dependent_values_are_recomputed_when_nothing_changed(
    quiet_box: Sandbox, store_url: tuple[str, Store]
) -> None:
    url, store = store_url
    plan = mapping(TIME_DEPENDENT)
    as_of = datetime.now(UTC)
    run_sync(settings(quiet_box, url), plan, store, as_of=as_of)
    later = as_of + timedelta(days=3)
    second = run_sync(settings(quiet_box, url), plan, store, as_of=later)
    assert values(second) == full_run(quiet_box, plan, later)
    recomputed = {o.plan.key_result.id for o in second.key_results if "kept" not in o.lineage}
    assert recomputed == {"web-age", "web-recent"}
    assert second.cache_decoded == 1  # the open web items, for their age; -30d is fetched again


def test_a_changed_computation_over_the_same_query_is_recomputed(
    quiet_box: Sandbox, store_url: tuple[str, Store]
) -> None:
    url, store = store_url
    as_of = datetime.now(UTC)
    run_sync(settings(quiet_box, url), mapping(), store, as_of=as_of)
    edited = mapping(**{"type: p90, field: lead_time_hours": "type: mean, field: lead_time_hours"})
    second = run_sync(settings(quiet_box, url), edited, store, as_of=as_of)
    assert values(second) == full_run(quiet_box, edited, as_of)
    recomputed = {o.plan.key_result.id for o in second.key_results if "kept" not in o.lineage}
    assert recomputed == {"done-lead"}


def test_a_run_of_some_key_results_makes_the_others_recompute_what_it_changed(
    quiet_box: Sandbox, store_url: tuple[str, Store]
) -> None:
    """`--only` patches an entry other key results read too; their values are older than
    the entry, so they are computed again, never kept."""
    url, store = store_url
    plan = mapping()
    as_of = datetime.now(UTC)
    run_sync(settings(quiet_box, url), plan, store, as_of=as_of)
    issue = next(i for i in quiet_box.jira_data.issues if i.project == "APP" and i.resolutiondate)
    issue.labels = (*issue.labels, "touched")
    issue.updated = datetime.now(UTC).replace(microsecond=0)
    only = run_sync(settings(quiet_box, url), plan, store, only=["done-points"], as_of=as_of)
    assert [o.plan.key_result.id for o in only.key_results] == ["done-points"]
    third = run_sync(settings(quiet_box, url), plan, store, as_of=as_of)
    assert values(third) == full_run(quiet_box, plan, as_of)
    recomputed = {o.plan.key_result.id for o in third.key_results if "kept" not in o.lineage}
    # done-points too: the feed reports the change again to the entry the run of done-points
    # patched already (changes are asked since the oldest entry's stamp), and a change is
    # not compared with what the entry holds
    assert recomputed == {"done-count", "done-lead", "done-share", "done-points"}
