"""Selectors of open items alone are listed with `state=open`: their cost follows the open
items, not the repository's age, and their values stay a full fetch's under change.

Requests are counted by the sandbox, per endpoint; every value is compared with a run that
has no cache at all (`full_run`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
import yaml
from sqlalchemy import func, select

from config.loader import load_mapping_text
from config.mapping import MappingFile
from connectors.base import DateWindow, GitHubListSelector
from connectors.github_changes import GitHubChangeFeed
from connectors.github_units import CLOSED_LISTING, CREATED_LISTING, LISTING, OPEN_LISTING
from sandbox.github_data import GitHubIssue, GitHubPull
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.engine import run_sync
from sync.store import Store
from sync.tables import fetch_cache, fetch_cache_items
from tests.sync.test_incremental import counted, full_run, settings, values

REPO = "acme/api"
OTHER = "acme/web"
QUARTER = DateWindow(date(2026, 1, 1), date(2026, 3, 31))


def key_result(kr_id: str, kind: str, filters: dict[str, object], **metric: object) -> object:
    selector = "pulls" if kind == "pull_request" else "issues"
    return {
        "id": kr_id,
        "title": kr_id,
        "target": 10,
        "metric": {"type": "count", **metric, selector: filters},
    }


def mapping_of(key_results: list[object], today: date) -> MappingFile:
    text = yaml.safe_dump(
        {
            "version": 1,
            "period": {
                "start": (today - timedelta(days=90)).isoformat(),
                "end": (today + timedelta(days=30)).isoformat(),
            },
            "objectives": [{"id": "open-work", "title": "Open work", "key_results": key_results}],
        },
        sort_keys=False,
    )
    return load_mapping_text(text, source_name="open-work", today=today)


def open_pull_mapping(today: date) -> MappingFile:
    return mapping_of(
        [
            key_result("open-prs", "pull_request", {"repo": REPO, "state": "open"}),
            key_result(
                "open-pr-age",
                "pull_request",
                {"repo": REPO, "state": "open"},
                type="mean",
                field="age_days",
            ),
        ],
        today,
    )


def open_work_mapping(today: date) -> MappingFile:
    """Open issues and pull requests on two repositories, beside windowed selectors that
    keep their own listing by last update, and open ones that share it."""
    krs: list[object] = []
    for repo in (REPO, OTHER):
        name = repo.split("/")[1]
        krs += [
            key_result(f"{name}-open-issues", "issue", {"repo": repo, "state": "open"}),
            key_result(
                f"{name}-open-okr-issues",
                "issue",
                {"repo": repo, "state": "open", "labels": ["okr"]},
            ),
            key_result(
                f"{name}-open-issue-age",
                "issue",
                {"repo": repo, "state": "open"},
                type="mean",
                field="age_days",
            ),
            key_result(
                f"{name}-new-open-issues",
                "issue",
                {"repo": repo, "state": "open", "created": "period"},
                type="mean",
                field="age_days",
            ),
            key_result(
                f"{name}-new-issues-done",
                "issue",
                {"repo": repo, "created": "period"},
                type="percent_done",
            ),
            key_result(
                f"{name}-open-pr-age",
                "pull_request",
                {"repo": repo, "state": "open"},
                type="mean",
                field="age_days",
            ),
            key_result(f"{name}-merged", "pull_request", {"repo": repo, "merged": "period"}),
        ]
    return mapping_of(krs, today)


@pytest.fixture
def many_closed_pulls() -> Iterator[Sandbox]:
    """One repository with thousands of pull requests, few of them open; quiet for a day."""
    box = build_sandbox(
        SandboxOptions(seed=5, anchor=datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)),
        jira_issues=10,
        jira_projects=1,
        github_repos=1,
        github_pulls=3000,
        github_issues=20,
    ).start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def open_work() -> Iterator[Sandbox]:
    """Two repositories with open and closed issues and pull requests; quiet for a day."""
    box = build_sandbox(
        SandboxOptions(
            seed=13,
            anchor=datetime.now(UTC).replace(microsecond=0) - timedelta(days=1),
            time_scale=60.0,
        ),
        jira_issues=10,
        jira_projects=1,
        github_repos=2,
        github_pulls=400,
        github_issues=300,
    ).start()
    try:
        yield box
    finally:
        box.stop()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def pulls_of(box: Sandbox, repo: str) -> list[GitHubPull]:
    return [p for p in box.github_data.all_items if isinstance(p, GitHubPull) and p.repo == repo]


def issues_of(box: Sandbox, repo: str) -> list[GitHubIssue]:
    return [i for i in box.github_data.issues if i.repo == repo]


# -- planning


def plan_of(
    *selectors: GitHubListSelector, counts: tuple[GitHubListSelector, ...] = ()
) -> dict[GitHubListSelector, tuple[str, str]]:
    """Each selector's unit as (kind, description)."""
    planned = GitHubChangeFeed.plan({s: frozenset() for s in selectors}, counts)
    found = {}
    for selector, key in [*planned.by_items.items(), *planned.by_count.items()]:
        assert isinstance(selector, GitHubListSelector)
        unit = planned.units[key]
        found[selector] = (unit.kind, unit.description)
    return found


def test_open_selectors_get_an_open_listing_beside_the_windowed_one() -> None:
    open_pulls = GitHubListSelector(REPO, "pull_request", state="open")
    open_labelled = GitHubListSelector(REPO, "pull_request", state="open", labels=("bug",))
    merged = GitHubListSelector(REPO, "pull_request", state="closed", merged=QUARTER)
    open_count = GitHubListSelector(REPO, "pull_request", state="open", labels=("docs",))
    other_repo = GitHubListSelector(OTHER, "pull_request", state="open")
    units = plan_of(open_pulls, open_labelled, merged, other_repo, counts=(open_count,))
    assert units[open_pulls] == units[open_labelled] == units[open_count]
    assert units[open_pulls] == (OPEN_LISTING, "acme/api open pull_requests")
    assert units[merged] == (CLOSED_LISTING, "acme/api closed pull_requests")
    assert units[other_repo] == (OPEN_LISTING, "acme/web open pull_requests")


def test_open_selectors_share_a_listing_that_reaches_them_anyway() -> None:
    every = GitHubListSelector(REPO, "issue", state="all")
    open_issues = GitHubListSelector(REPO, "issue", state="open")
    assert plan_of(every, open_issues)[open_issues] == (LISTING, "acme/api issues")

    created = GitHubListSelector(REPO, "issue", created=QUARTER)
    open_created = GitHubListSelector(REPO, "issue", state="open", created=QUARTER)
    open_older = GitHubListSelector(
        REPO, "issue", state="open", created=DateWindow(date(2025, 1, 1), date(2026, 3, 31))
    )
    units = plan_of(created, open_created, open_older)
    assert units[open_created] == (CREATED_LISTING, "acme/api created issues")  # within it
    assert units[open_older] == (OPEN_LISTING, "acme/api open issues")  # would widen it


def test_a_count_of_open_items_alone_is_one_search() -> None:
    open_count = GitHubListSelector(REPO, "pull_request", state="open")
    assert plan_of(counts=(open_count,))[open_count][0] == "github-search-count"


# -- cost


def test_open_pull_requests_cost_the_pages_of_the_open_ones(
    many_closed_pulls: Sandbox, database_url: str
) -> None:
    box = many_closed_pulls
    store = Store(database_url)
    store.migrate()
    as_of = datetime.now(UTC)
    mapping = open_pull_mapping(as_of.date())
    pulls = pulls_of(box, REPO)
    opened = [p for p in pulls if p.state == "open"]
    assert len(pulls) >= 10 * len(opened) > 0  # mostly closed: listing all would be 10x
    counted(box)

    first = values(run_sync(settings(box, database_url), mapping, store, as_of=as_of))
    requests = counted(box)
    assert first == full_run(box, mapping, as_of)
    assert first["open-prs"] == len(opened)
    assert requests["github pulls"] == math.ceil(len(opened) / 100)
    assert "github search_issues" not in requests  # the count is the listing's
    with store.engine.connect() as conn:
        cached = conn.execute(select(func.count()).select_from(fetch_cache_items)).scalar_one()
    assert cached == len(opened)

    counted(box)
    second = values(run_sync(settings(box, database_url), mapping, store, as_of=as_of))
    requests = counted(box)
    assert second == first
    assert requests == {"github search_issues": 1}  # the change probe alone

    for pull in opened[: len(opened) // 2]:
        pull.state, pull.closed_at, pull.merged_at, pull.updated_at = (
            "closed",
            now(),
            now(),
            now(),
        )
    third = values(run_sync(settings(box, database_url), mapping, store, as_of=as_of))
    requests = counted(box)
    assert third == full_run(box, mapping, as_of)
    assert third["open-prs"] == len(opened) - len(opened) // 2
    assert requests["github pulls"] == 1  # re-listed by last update, down to the last run
    store.close()


# -- exact under change


def test_open_answers_follow_closing_reopening_deletion_and_transfer(
    open_work: Sandbox, database_url: str
) -> None:
    box = open_work
    store = Store(database_url)
    store.migrate()
    as_of = datetime.now(UTC)
    mapping = open_work_mapping(as_of.date())
    url = database_url

    def synced_equals_full() -> dict[str, float | None]:
        report = run_sync(settings(box, url), mapping, store, as_of=as_of)
        found = values(report)
        assert found == full_run(box, mapping, as_of)
        return found

    before = synced_equals_full()
    steps: list[dict[str, float | None]] = [before]

    open_issues = [i for i in issues_of(box, REPO) if i.state == "open"]
    closed_issues = [i for i in issues_of(box, REPO) if i.state == "closed"]
    open_pulls = [p for p in pulls_of(box, OTHER) if p.state == "open"]
    assert len(open_issues) >= 6 and closed_issues and open_pulls

    for issue in open_issues[:2]:  # close two issues, one of them labelled okr first
        issue.state, issue.closed_at, issue.updated_at = "closed", now(), now()
    open_issues[0].labels = (*open_issues[0].labels, "okr")
    open_pulls[0].state, open_pulls[0].closed_at, open_pulls[0].updated_at = (
        "closed",
        now(),
        now(),
    )
    steps.append(synced_equals_full())

    closed_issues[0].state, closed_issues[0].closed_at = "open", None  # reopened
    closed_issues[0].labels, closed_issues[0].updated_at = ("okr",), now()
    open_issues[0].state, open_issues[0].closed_at, open_issues[0].updated_at = (
        "open",
        None,
        now(),
    )
    steps.append(synced_equals_full())

    box.github_data.delete(open_issues[2])  # no `updated` trace: the count check sees it
    steps.append(synced_equals_full())

    box.github_data.transfer(open_issues[3], OTHER, now())
    steps.append(synced_equals_full())

    # every step moved some value, so each comparison has teeth
    assert all(a != b for a, b in pairwise(steps))
    # the open listings hold open items alone: closed ones left the cache
    with store.engine.connect() as conn:
        held = conn.execute(
            select(fetch_cache.c.description, func.count())
            .join(fetch_cache_items, fetch_cache_items.c.unit_key == fetch_cache.c.unit_key)
            .group_by(fetch_cache.c.description)
        ).all()
    by_description = dict(held)
    for repo in (REPO, OTHER):
        still_open = [i for i in issues_of(box, repo) if i.state == "open"]
        assert by_description[f"{repo} open issues"] == len(still_open)
        open_now = [p for p in pulls_of(box, repo) if p.state == "open"]
        assert by_description[f"{repo} open pull_requests"] == len(open_now)
    store.close()
