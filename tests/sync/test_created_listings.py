"""Selectors whose only window is a created one share a listing by creation (`sort=created`)
down to the oldest window's start: old items updated since then (a comment, a label) cost no
pages, and the values stay a full fetch's under change.

Requests are counted by the sandbox, per endpoint; every value is compared with a run that
has no cache at all (`full_run`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest

from connectors.base import DateWindow, GitHubListSelector
from connectors.github_units import CREATED_LISTING, LISTING
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.engine import run_sync
from sync.store import Store
from tests.sync.test_incremental import counted, full_run, settings, values
from tests.sync.test_open_listings import REPO, issues_of, key_result, mapping_of, now, plan_of

QUARTER = DateWindow(date(2026, 1, 1), date(2026, 3, 31))
TOUCHED = 600  # old issues and pull requests commented on within the period


def new_issues_mapping(today: date) -> object:
    new_issues = {"repo": REPO, "created": "period"}
    return mapping_of(
        [
            key_result("opened", "issue", new_issues),
            key_result("new-issues-done", "issue", new_issues, type="percent_done"),
            key_result(
                "new-open-issues",
                "issue",
                {"repo": REPO, "state": "open", "created": "period"},
                type="mean",
                field="age_days",
            ),
            key_result(
                "new-pr-age",
                "pull_request",
                {"repo": REPO, "created": "period"},
                type="mean",
                field="age_days",
            ),
        ],
        today,
    )


@pytest.fixture
def touched_items() -> Iterator[Sandbox]:
    """One repository where hundreds of old items were updated within the last quarter;
    quiet for a day."""
    anchor = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    box = build_sandbox(
        SandboxOptions(seed=11, anchor=anchor, time_scale=60.0),
        jira_issues=10,
        jira_projects=1,
        github_repos=1,
        github_pulls=2000,
        github_issues=1000,
    ).start()
    old = [i for i in box.github_data.all_items if i.created_at < anchor - timedelta(days=120)]
    for item in old[:TOUCHED]:
        item.updated_at = anchor - timedelta(days=3)
    try:
        yield box
    finally:
        box.stop()


def test_created_windows_alone_share_a_listing_by_creation() -> None:
    created = GitHubListSelector(REPO, "issue", created=QUARTER)
    labelled = GitHubListSelector(REPO, "issue", created=QUARTER, labels=("bug",))
    open_created = GitHubListSelector(REPO, "issue", state="open", created=QUARTER)
    units = plan_of(created, labelled, counts=(open_created,))
    assert units[created] == units[labelled] == units[open_created]
    assert units[created] == (CREATED_LISTING, "acme/api created issues")

    closed = GitHubListSelector(REPO, "issue", closed=QUARTER, created=QUARTER)
    assert plan_of(created, closed)[created] == (LISTING, "acme/api issues")
    every = GitHubListSelector(REPO, "issue", labels=("bug",))
    assert plan_of(created, every)[created] == (LISTING, "acme/api issues")


def test_new_issues_skip_old_items_updated_since(touched_items: Sandbox, database_url: str) -> None:
    box = touched_items
    store = Store(database_url)
    store.migrate()
    as_of = datetime.now(UTC)
    mapping = new_issues_mapping(as_of.date())
    start = datetime.combine(as_of.date() - timedelta(days=90), time(0), tzinfo=UTC)
    items = box.github_data.items_of(REPO)
    created = [i for i in items if i.created_at >= start]
    updated = [i for i in items if i.updated_at >= start]
    older_updated = len(updated) - len(created)
    assert older_updated >= TOUCHED
    created_pages = math.ceil(len(created) / 100) + (len(created) % 100 == 0)
    assert created_pages + 4 <= math.ceil(len(updated) / 100)
    new_pulls = sum(i.is_pull_request for i in created)
    pull_pages = new_pulls // 100 + 1  # no `since` for pull requests: one older shows the end
    counted(box)

    first = values(run_sync(settings(box, database_url), mapping, store, as_of=as_of))
    requests = counted(box)
    assert first == full_run(box, mapping, as_of)
    assert requests["github issues"] == created_pages
    assert requests["github pulls"] == pull_pages
    assert "github search_issues" not in requests  # the counts are the listing's

    def synced_equals_full() -> dict[str, float | None]:
        found = values(run_sync(settings(box, database_url), mapping, store, as_of=as_of))
        assert found == full_run(box, mapping, as_of)
        return found

    steps = [first]
    box.github_data.open_issue(REPO, ("bug",), now())  # created now: it joins
    steps.append(synced_equals_full())

    new_open = [i for i in issues_of(box, REPO) if i.created_at >= start and i.state == "open"]
    new_open[0].state, new_open[0].closed_at, new_open[0].updated_at = "closed", now(), now()
    old_issue = next(i for i in issues_of(box, REPO) if i.created_at < start)
    old_issue.updated_at = now()  # updated, created long ago: it stays out
    steps.append(synced_equals_full())

    box.github_data.delete(new_open[1])  # no `updated` trace: the `created:>=` count sees it
    steps.append(synced_equals_full())

    assert all(a != b for a, b in pairwise(steps))  # every step moved some value
    store.close()
