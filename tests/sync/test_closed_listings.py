"""Selectors of closed items alone (merged or closed windows) share a listing of closed items
(`state=closed`): the open items updated within their windows cost no pages, and their values
stay a full fetch's under change.

Requests are counted by the sandbox, per endpoint; every value is compared with a run that
has no cache at all (`full_run`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from connectors.base import DateWindow, GitHubListSelector
from connectors.github_units import CLOSED_LISTING, LISTING, OPEN_LISTING
from sandbox.github_data import GitHubPull
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.engine import run_sync
from sync.store import Store
from sync.tables import fetch_cache, fetch_cache_items
from tests.sync.test_incremental import counted, full_run, settings, values
from tests.sync.test_open_listings import REPO, issues_of, key_result, mapping_of, now, plan_of

QUARTER = DateWindow(date(2026, 1, 1), date(2026, 3, 31))
REOPENED = 400  # old closed pull requests opened again (and so updated) within the period


def closed_work_mapping(today: date) -> object:
    """Merged pull requests and closed issues of the period, and open pull requests."""
    return mapping_of(
        [
            key_result("merged", "pull_request", {"repo": REPO, "merged": "period"}),
            key_result(
                "lead-time",
                "pull_request",
                {"repo": REPO, "merged": "period"},
                type="median",
                field="lead_time_hours",
            ),
            key_result(
                "bug-fixes",
                "pull_request",
                {"repo": REPO, "merged": "period", "labels": ["bug"]},
                type="p90",
                field="lead_time_hours",
            ),
            key_result(
                "open-pr-age",
                "pull_request",
                {"repo": REPO, "state": "open"},
                type="mean",
                field="age_days",
            ),
            key_result("closed-issues", "issue", {"repo": REPO, "closed": "period"}),
            key_result(
                "closed-issue-age",
                "issue",
                {"repo": REPO, "closed": "period"},
                type="mean",
                field="age_days",
            ),
        ],
        today,
    )


@pytest.fixture
def reopened_pulls() -> Iterator[Sandbox]:
    """One repository whose open pull requests were all updated within the last quarter
    (hundreds of old ones opened again), quiet for a day."""
    anchor = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    box = build_sandbox(
        SandboxOptions(seed=5, anchor=anchor, time_scale=60.0),
        jira_issues=10,
        jira_projects=1,
        github_repos=1,
        github_pulls=3000,
        github_issues=300,
    ).start()
    pulls = [p for p in box.github_data.all_items if isinstance(p, GitHubPull)]
    old = [p for p in pulls if p.state == "closed" and p.updated_at < anchor - timedelta(days=120)]
    for pull in old[:REOPENED]:
        pull.state, pull.closed_at, pull.merged_at = "open", None, None
    for pull in pulls:
        if pull.state == "open":
            pull.updated_at = anchor - timedelta(hours=1)
    try:
        yield box
    finally:
        box.stop()


def pages_until(listed: int, older: int) -> int:
    """Pages a listing newest first reads down to its horizon: one older item shows the end."""
    return math.ceil(listed / 100) if older == 0 else listed // 100 + 1


# -- planning


def test_closed_and_merged_windows_share_a_closed_listing() -> None:
    merged = GitHubListSelector(REPO, "pull_request", merged=QUARTER)
    closed_bugs = GitHubListSelector(REPO, "pull_request", closed=QUARTER, labels=("bug",))
    merged_count = GitHubListSelector(REPO, "pull_request", merged=QUARTER, labels=("docs",))
    open_pulls = GitHubListSelector(REPO, "pull_request", state="open")
    created = GitHubListSelector(REPO, "pull_request", created=QUARTER)
    units = plan_of(merged, closed_bugs, open_pulls, counts=(merged_count, created))
    assert units[merged] == units[closed_bugs] == units[merged_count]
    assert units[merged] == (CLOSED_LISTING, "acme/api closed pull_requests")
    assert units[open_pulls] == (OPEN_LISTING, "acme/api open pull_requests")
    assert units[created][0] == "github-search-count"  # it may count open ones

    issues = GitHubListSelector(REPO, "issue", closed=QUARTER)
    new_issues = GitHubListSelector(REPO, "issue", created=QUARTER)
    assert plan_of(issues, new_issues)[issues] == (LISTING, "acme/api issues")


# -- cost, and exact under change


def test_merged_pull_requests_skip_the_open_ones_updated_since(
    reopened_pulls: Sandbox, database_url: str
) -> None:
    box = reopened_pulls
    store = Store(database_url)
    store.migrate()
    as_of = datetime.now(UTC)
    mapping = closed_work_mapping(as_of.date())
    start = datetime.combine(as_of.date() - timedelta(days=90), time(0), tzinfo=UTC)
    pulls = [p for p in box.github_data.all_items if isinstance(p, GitHubPull)]
    since = [p for p in pulls if p.updated_at >= start]
    closed = [p for p in since if p.state == "closed"]
    opened = [p for p in pulls if p.state == "open"]
    assert len(since) - len(closed) == len(opened) >= REOPENED  # every open one is recent
    closed_pages = pages_until(len(closed), len(pulls) - len(since))
    open_pages = math.ceil(len(opened) / 100)
    assert closed_pages + 3 <= pages_until(len(since), len(pulls) - len(since))
    counted(box)

    first = values(run_sync(settings(box, database_url), mapping, store, as_of=as_of))
    requests = counted(box)
    assert first == full_run(box, mapping, as_of)
    assert requests["github pulls"] == closed_pages + open_pages
    with store.engine.connect() as conn:
        held = dict(
            conn.execute(
                select(fetch_cache.c.description, func.count())
                .join(fetch_cache_items, fetch_cache_items.c.unit_key == fetch_cache.c.unit_key)
                .group_by(fetch_cache.c.description)
            ).all()
        )
    assert held[f"{REPO} closed pull_requests"] == len(closed)

    def synced_equals_full() -> dict[str, float | None]:
        found = values(run_sync(settings(box, database_url), mapping, store, as_of=as_of))
        assert found == full_run(box, mapping, as_of)
        return found

    steps = [first]
    merging = sorted(opened, key=lambda p: p.created_at)[-3:]
    for pull in merging:  # merged now: they join the closed listing
        pull.state, pull.closed_at, pull.merged_at, pull.updated_at = (
            "closed",
            now(),
            now(),
            now(),
        )
    steps.append(synced_equals_full())

    reopening = [p for p in closed if p.merged_at is not None and p not in merging][:5]
    for pull in reopening:  # open again: they leave it
        pull.state, pull.closed_at, pull.merged_at, pull.updated_at = "open", None, None, now()
    steps.append(synced_equals_full())

    gone = [i for i in issues_of(box, REPO) if i.closed_at is not None and i.closed_at >= start]
    box.github_data.delete(gone[0])  # no `updated` trace: the `is:closed` count check sees it
    steps.append(synced_equals_full())

    assert all(a != b for a, b in pairwise(steps))  # every step moved some value
    store.close()
