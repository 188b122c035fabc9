"""The change feeds' stages side by side: a tracker's change probe and its membership
listings (Jira), its membership searches (GitHub), and the counts asked every run beside the
probe, are in flight together, each stage still charged with its own requests; values stay
a full fetch's; a stage that fails costs only its tracker's cached answers.

The sandbox tells requests sent together from requests sent in turn (`faults.meeting`):
matching requests wait for one another, and one left alone is counted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.changes import touch_items
from connectors.github_changes import may_hold_issues
from connectors.github_membership import qualifiers_and_repositories
from connectors.github_units import LISTINGS
from connectors.jira_changes import QUERIES_PER_UNION
from sandbox.faults import http_error, jql_error, latency, meeting
from sync.plan import plan_queries
from tests.sync.test_incremental import (
    CompanyRuns,
    asked_every_run,
    counted,
    fetch_units,
    small_company,
    values,
)


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[CompanyRuns]:
    """Nothing has changed for a day (the data's "now" is yesterday)."""
    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    yield from small_company("cloud", yesterday, tmp_path)


@pytest.fixture
def quiet_server(tmp_path: Path) -> Iterator[CompanyRuns]:
    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    yield from small_company("server", yesterday, tmp_path)


def unit_counts(company: CompanyRuns) -> tuple[int, int, int]:
    """(Jira units, GitHub units, GitHub units asked again every run) of the company's plan."""
    units = fetch_units(plan_queries(company.mapping, today=company.as_of.date()))
    jira = sum(1 for unit in units if unit.source == "jira")
    always = asked_every_run(company.mapping, company.as_of)
    return jira, len(units) - jira, always


def membership_searches(company: CompanyRuns) -> int:
    """GitHub's membership searches of a quiet run: one per horizon of issue listings, one per
    other qualifiers of the counts confined to repositories."""
    units = fetch_units(plan_queries(company.mapping, today=company.as_of.date()))
    horizons = {  # one batch per listing shape and horizon
        (u.kind, u.horizon) for u in units if u.kind in LISTINGS and u.item_kind == "issue"
    }
    counts = [u for u in units if u.kind == "github-search-count" and may_hold_issues(u)]
    split = [qualifiers_and_repositories(u.description) for u in counts]
    return len(horizons) + len({found[0] for found in split if found is not None})


def test_a_quiet_run_asks_each_trackers_checks_side_by_side(quiet: CompanyRuns) -> None:
    first = values(quiet.sync())
    jira_units, _, _ = unit_counts(quiet)
    listings = math.ceil(jira_units / QUERIES_PER_UNION)
    searches = membership_searches(quiet)
    assert listings >= 1 and searches >= 2
    # Jira: `updated >= -Nm` and the id listings of the cached queries, all at once;
    # GitHub: its membership searches (`repo:a repo:b ...`), all at once.
    jira_met = quiet.box.faults.arm(r"/jira/.*search/jql", meeting(1 + listings), times=None)
    github_met = quiet.box.faults.arm(
        r"/github/search/issues", meeting(searches), times=searches, query=r"repo:"
    )
    # GitHub's `org:` probe, and the counts asked every run (`org:` searches) beside it.
    _, _, always = unit_counts(quiet)
    assert always >= 1
    beside = quiet.box.faults.arm(
        r"/github/search/issues", meeting(1 + always), times=1 + always, query=r"org:"
    )
    counted(quiet.box)
    second = quiet.sync()
    requests = counted(quiet.box)
    quiet.box.faults.reset()
    assert values(second) == first == quiet.full()
    assert jira_met.fired == 1 + listings and jira_met.alone == 0
    assert github_met.fired == searches and github_met.alone == 0
    assert beside.fired == 1 + always and beside.alone == 0
    # Each stage charged with its own requests, though they ran together.
    checks = {stage: cost.requests for stage, cost in second.cache_checks.items()}
    assert checks == {
        "jira change feed": 1,
        "jira membership check": listings,
        "github change feed": 1,
        "github membership check": searches,
    }
    assert requests["jira search/jql"] == 1 + listings
    assert all(cost.seconds > 0 for cost in second.cache_checks.values())


def test_a_changed_run_with_checks_side_by_side_equals_a_full_fetch(quiet: CompanyRuns) -> None:
    quiet.sync()
    touch_items(quiet.box, 0.05, seed=3)
    for issue in [i for i in quiet.box.jira_data.issues if i.status_category != "done"][:3]:
        quiet.box.jira_data.delete(issue)
    report = quiet.sync()
    assert report.cache_units is not None and report.cache_units["incremental"] > 0
    assert values(report) == quiet.full()


def test_server_checks_changed_issues_side_by_side_and_stays_exact(
    quiet_server: CompanyRuns,
) -> None:
    """Server/DC tests the changed issues against each cached query, several at a time."""
    quiet_server.sync()
    touch_items(quiet_server.box, 0.05, seed=4)
    met = quiet_server.box.faults.arm(r"/jira/.*search", meeting(2), times=2, query=r"id in \(")
    report = quiet_server.sync()
    assert values(report) == quiet_server.full()
    assert met.fired == 2 and met.alone == 0


def test_a_failing_jira_check_costs_only_jiras_cached_answers(quiet: CompanyRuns) -> None:
    first = values(quiet.sync())
    jira_units, github_units, always = unit_counts(quiet)
    # One of the membership listings (queries OR'ed) refused: Jira cannot tell what changed.
    quiet.box.faults.arm(
        r"/jira/.*search/jql", jql_error("The search <b>failed</b>\x1b[31m"), query=r"\) OR \("
    )
    counted(quiet.box)
    second = quiet.sync()
    requests = counted(quiet.box)
    assert values(second) == first == quiet.full()
    assert second.cache_units == {
        "cached": github_units - always,
        "incremental": 0,
        "full": jira_units + always,
    }
    assert "github pulls" not in requests and "github issues" not in requests


def test_a_failing_github_check_costs_only_githubs_cached_answers(quiet: CompanyRuns) -> None:
    first = values(quiet.sync())
    jira_units, github_units, _ = unit_counts(quiet)
    quiet.box.faults.arm(
        r"/github/search/issues",
        http_error(422, {"message": "Validation <Failed> ]]"}),
        query=r"org:.*updated:",  # the probe, not a count asked beside it (also `org:`)
    )
    counted(quiet.box)
    second = quiet.sync()
    requests = counted(quiet.box)
    assert values(second) == first == quiet.full()
    assert second.cache_units == {"cached": jira_units, "incremental": 0, "full": github_units}
    assert requests["jira search/jql"] == 1 + math.ceil(jira_units / QUERIES_PER_UNION)


def test_a_quiet_server_run_asks_no_count_again(quiet_server: CompanyRuns) -> None:
    """Server/DC counts keep their ids (one page holds them, in the count's own request), so
    they stand like any query: the probe and the id listings, nothing else."""
    first = values(quiet_server.sync())
    jira_units, github_units, always = unit_counts(quiet_server)
    assert len(quiet_server.box.jira_data.issues) <= 1000  # each count's ids fit its page
    counted(quiet_server.box)
    second = quiet_server.sync()
    requests = counted(quiet_server.box)
    assert values(second) == first == quiet_server.full()
    assert requests["jira search"] == 1 + math.ceil(jira_units / QUERIES_PER_UNION)
    assert second.cache_units == {
        "cached": jira_units + github_units - always,
        "incremental": 0,
        "full": always,
    }


def test_a_server_issue_no_cached_query_matches_is_tested_against_none(
    quiet_server: CompanyRuns,
) -> None:
    """A changed issue that the cached queries' id listings do not return matches none of
    them: no `(<jql>) AND id in (...)` is asked for it."""
    quiet_server.sync()
    data = quiet_server.box.jira_data
    like = next(i for i in data.issues if i.issue_type == "Story" and i.priority != "Highest")
    data.create(dataclasses.replace(like, project="ZZZ"), datetime.now(UTC))
    tested = quiet_server.box.faults.arm(
        r"/jira/.*search", latency(0), times=None, query=r"id in \("
    )
    report = quiet_server.sync()
    assert values(report) == quiet_server.full()
    assert tested.fired == 0
    # One changed issue some queries match: only those queries' listings' queries are asked.
    data.create(like, datetime.now(UTC))
    jira_units, _, _ = unit_counts(quiet_server)
    report = quiet_server.sync()
    assert values(report) == quiet_server.full()
    assert 0 < tested.fired <= jira_units
