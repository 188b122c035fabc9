"""GitHubConnector.history through the real PyGithub client against the sandbox's scripted
histories (acme/timeline): for every day of the quarter, what each selector matched is
what the data set's own event logs say, replayed forward here, independently of the
connector's backward replay."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.base import (
    NEEDS_FIRST_REVIEW,
    DateWindow,
    GitHubListSelector,
    GitHubSearchSelector,
    Selector,
)
from connectors.github import GitHubConnector
from connectors.history import HistoryReader, Unrebuildable
from sandbox.github_data import GitHubDataset, GitHubPull
from sandbox.github_timeline import TIMELINE_REPO
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from tests.conftest import ANCHOR
from tests.connectors.test_github import connect

QUARTER_START = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def timeline_box() -> Iterator[Sandbox]:
    options = SandboxOptions(seed=11, anchor=ANCHOR, github_data="timeline")
    box = build_sandbox(options).start()
    yield box
    box.stop()


@dataclass(frozen=True)
class Past:
    """An item as its scripted log leaves it at a moment."""

    key: str
    kind: str
    created_at: datetime
    open: bool
    labels: frozenset[str]
    closed_at: datetime | None
    merged_at: datetime | None
    assignee: str | None = None
    title: str = ""
    first_review_at: datetime | None = None
    approved: bool = False


def replayed(data: GitHubDataset, moment: datetime) -> list[Past]:
    """Every item at `moment`, replaying each log forward from its creation."""
    found: list[Past] = []
    for item in data.all_items:
        if item.created_at > moment:
            continue
        labels: set[str] = set()
        is_open, closed_at, merged_at = True, None, None
        assignee: str | None = None
        title = next((e.rename[0] for e in item.events if e.rename), item.title)
        for event in sorted(item.events, key=lambda e: (e.created_at, e.id)):
            if event.created_at > moment:
                break
            if event.event == "labeled" and event.label:
                labels.add(event.label)
            elif event.event == "unlabeled" and event.label:
                labels.discard(event.label)
            elif event.event == "closed":
                is_open, closed_at = False, event.created_at
            elif event.event == "reopened":
                is_open, closed_at = True, None
            elif event.event == "merged":
                merged_at = event.created_at
            elif event.event == "assigned":
                assignee = event.assignee
            elif event.event == "unassigned":
                assignee = None
            elif event.event == "renamed" and event.rename:
                title = event.rename[1]
        kind = "pull_request" if isinstance(item, GitHubPull) else "issue"
        reviews = [
            r
            for r in (item.reviews if isinstance(item, GitHubPull) else ())
            if r.submitted_at <= moment
        ]
        first_review = min((r.submitted_at for r in reviews), default=None)
        approved = any(
            r.state == "APPROVED" and (merged_at is None or r.submitted_at <= merged_at)
            for r in reviews
        )
        found.append(
            Past(
                item.key,
                kind,
                item.created_at,
                is_open,
                frozenset(labels),
                closed_at,
                merged_at,
                assignee,
                title,
                first_review,
                approved,
            )
        )
    return found


def day_in(moment: datetime | None, first: date, last: date) -> bool:
    return moment is not None and first <= moment.date() <= last


# Each selector with what it means, written from GitHub's documentation, not from the code.
Q4 = (date(2026, 10, 1), date(2026, 12, 31))
CASES: dict[Selector, object] = {
    GitHubListSelector(TIMELINE_REPO, "pull_request"): lambda p: p.kind == "pull_request",
    GitHubListSelector(TIMELINE_REPO, "pull_request", state="open"): (
        lambda p: p.kind == "pull_request" and p.open
    ),
    GitHubListSelector(TIMELINE_REPO, "pull_request", merged=DateWindow(*Q4)): (
        lambda p: p.kind == "pull_request" and day_in(p.merged_at, *Q4)
    ),
    GitHubListSelector(TIMELINE_REPO, "issue", state="closed"): (
        lambda p: p.kind == "issue" and not p.open
    ),
    GitHubListSelector(TIMELINE_REPO, "issue", labels=("bug",)): (
        lambda p: p.kind == "issue" and "bug" in p.labels
    ),
    GitHubListSelector(TIMELINE_REPO, "issue", closed=DateWindow(*Q4)): (
        lambda p: p.kind == "issue" and not p.open and day_in(p.closed_at, *Q4)
    ),
    GitHubSearchSelector(f"repo:{TIMELINE_REPO} is:pr is:merged label:customer"): (
        lambda p: p.kind == "pull_request" and p.merged_at is not None and "customer" in p.labels
    ),
    GitHubSearchSelector(f'repo:{TIMELINE_REPO} is:issue is:open label:"tech debt"'): (
        lambda p: p.kind == "issue" and p.open and "tech debt" in p.labels
    ),
    GitHubSearchSelector(f"repo:{TIMELINE_REPO} created:>=2026-10-15"): (
        lambda p: p.created_at.date() >= date(2026, 10, 15)
    ),
}


def days_of_quarter() -> list[datetime]:
    days = []
    moment = QUARTER_START
    while moment <= ANCHOR:
        days.append(moment)
        moment += timedelta(days=1)
    return [*days, ANCHOR]


def test_the_connector_reads_history() -> None:
    assert isinstance(GitHubConnector(base_url="http://127.0.0.1:9"), HistoryReader)


def test_every_day_of_the_quarter_matches_the_scripted_logs(timeline_box: Sandbox) -> None:
    connector = connect(timeline_box)
    rebuilt = connector.history(list(CASES), QUARTER_START, frozenset())
    data = timeline_box.github_data
    checked = 0
    for moment in days_of_quarter():
        items = replayed(data, moment)
        for selector, wanted in CASES.items():
            history = rebuilt[selector]
            assert not isinstance(history, Unrebuildable), history
            got = {item.key: item for item in history.items_at(moment)}
            expected = {p.key: p for p in items if wanted(p)}  # type: ignore[operator]
            assert sorted(got) == sorted(expected), (selector.describe(), moment)
            for key, past in expected.items():
                item = got[key]
                assert (item.status == "open") == past.open, (key, moment)
                assert item.merged_at == past.merged_at, (key, moment)
                assert item.resolved_at == (
                    None if past.open else (past.merged_at or past.closed_at)
                )
                assert {label for label in item.labels} == past.labels, (key, moment)
                assert (item.assignee, item.title) == (past.assignee, past.title), (key, moment)
            checked += len(expected)
    assert checked > 1000  # the scripted data reaches every selector on most days


def test_the_history_at_the_anchor_is_what_a_fetch_returns(timeline_box: Sandbox) -> None:
    connector = connect(timeline_box)
    rebuilt = connector.history(list(CASES), QUARTER_START, frozenset())
    for selector in CASES:
        history = rebuilt[selector]
        assert not isinstance(history, Unrebuildable), history
        now = history.items_at(ANCHOR)
        fetched = connector.items(selector, frozenset())
        assert sorted(i.key for i in now) == sorted(i.key for i in fetched), selector.describe()
        by_key = {i.key: i for i in fetched}
        for item in now:
            assert item.status == by_key[item.key].status
            assert item.resolved_at == by_key[item.key].resolved_at
            assert set(item.labels) == set(by_key[item.key].labels)


def test_shared_selectors_list_once_and_read_events_of_changed_items_only(
    timeline_box: Sandbox,
) -> None:
    app = timeline_box.github_app
    assert app is not None
    app.reset_counts()
    since = datetime(2026, 11, 1, tzinfo=UTC)
    connect(timeline_box).history(list(CASES), since, frozenset())
    data = timeline_box.github_data
    changed = [item for item in data.all_items if item.updated_at >= since]
    assert app.requests["issue_events"] == len(changed)  # fewer than 100 events each
    assert app.requests["issues"] == 2  # 160 items, 100 a page: one listing of issues
    assert app.requests["pulls"] == 1  # and one of pull requests
    assert app.requests["search_issues"] == 0


def test_a_second_call_with_other_needs_lists_and_reads_events_no_more(
    timeline_box: Sandbox,
) -> None:
    """Backfill asks once per set of needs; the timelines are the same for each."""
    app = timeline_box.github_app
    assert app is not None
    github = connect(timeline_box)
    since = datetime(2026, 11, 1, tzinfo=UTC)
    merged = GitHubListSelector(TIMELINE_REPO, "pull_request", state="merged")
    first = github.history([merged], since, frozenset())[merged]
    app.reset_counts()
    second = github.history([merged], since, frozenset({NEEDS_FIRST_REVIEW}))[merged]
    assert app.requests["pulls"] == app.requests["issue_events"] == 0
    assert not isinstance(first, Unrebuildable) and not isinstance(second, Unrebuildable)
    keys = [item.key for item in first.items_at(ANCHOR)]
    assert keys and keys == [item.key for item in second.items_at(ANCHOR)]
    assert app.requests["reviews"] > 0  # the reviews the second needs are read


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (f"repo:{TIMELINE_REPO} is:pr review:approved", "review"),
        (f"repo:{TIMELINE_REPO} is:issue comments:>3", "comments"),
        (f"repo:{TIMELINE_REPO} is:issue reactions:>1", "reactions"),
        (f"repo:{TIMELINE_REPO} is:issue assignee:alice", "assignee"),
        (f"repo:{TIMELINE_REPO} is:issue crash", "text search term"),
        ("org:acme is:pr is:merged", "org"),
        (f"repo:{TIMELINE_REPO} is:pr merged:>=2026-10-01T10:00", "whole days"),
    ],
)
def test_a_qualifier_without_a_past_is_unrebuildable(
    timeline_box: Sandbox, query: str, named: str
) -> None:
    app = timeline_box.github_app
    assert app is not None
    app.reset_counts()
    selector = GitHubSearchSelector(query)
    answer = connect(timeline_box).history([selector], QUARTER_START, frozenset())[selector]
    assert isinstance(answer, Unrebuildable)
    assert named in answer.reason
    assert sum(app.requests.values()) == 0  # nothing is fetched for it


def test_a_draft_state_is_unrebuildable(timeline_box: Sandbox) -> None:
    selector = GitHubListSelector(TIMELINE_REPO, "pull_request")
    answer = connect(timeline_box).history([selector], QUARTER_START, frozenset({"draft"}))[
        selector
    ]
    assert isinstance(answer, Unrebuildable)
    assert "draft" in answer.reason


def test_reviews_as_they_were_each_day(timeline_box: Sandbox) -> None:
    """first_review_at and approved at each day, from the reviews' submission times; each
    pull request's reviews read once, and only those of pull requests a step returned."""
    app = timeline_box.github_app
    assert app is not None
    selector = GitHubListSelector(TIMELINE_REPO, "pull_request")
    connector = connect(timeline_box)
    app.reset_counts()
    history = connector.history([selector], QUARTER_START, frozenset({NEEDS_FIRST_REVIEW}))[
        selector
    ]
    assert not isinstance(history, Unrebuildable)
    reviewed = 0
    for moment in days_of_quarter():
        expected = {p.key: p for p in replayed(timeline_box.github_data, moment)}
        for item in history.items_at(moment):
            past = expected[item.key]
            assert item.first_review_at == past.first_review_at, (item.key, moment)
            assert item.extra["approved"] == past.approved, (item.key, moment)
            reviewed += past.first_review_at is not None
    assert reviewed > 500
    pulls = [p for p in timeline_box.github_data.pulls if p.created_at <= ANCHOR]
    assert app.requests["reviews"] == len(pulls)  # once each, not once a day


def test_the_sandbox_serves_issue_events_as_github(timeline_box: Sandbox) -> None:
    """PyGithub's own `get_events()` reads the sandbox's events endpoint."""
    connector = connect(timeline_box)
    data = timeline_box.github_data
    item = next(i for i in data.all_items if len(i.events) >= 3)
    repo = connector._http.client.get_repo(TIMELINE_REPO)
    events = list(repo.get_issue(item.number).get_events())
    labels = [(e.raw_data.get("label") or {}).get("name") for e in events]
    assert [(e.event, e.created_at) for e in events] == [
        (e.event, e.created_at) for e in sorted(item.events, key=lambda e: e.created_at)
    ]
    assert labels == [e.label for e in sorted(item.events, key=lambda e: e.created_at)]


def test_on_the_generated_organisation_the_history_now_is_a_fetch(sandbox: Sandbox) -> None:
    """The default data set (thousands of items, logs implied by their fields): what each
    selector matched at the anchor, rebuilt, is what a fetch returns."""
    q4 = DateWindow(*Q4)
    selectors: list[Selector] = [
        GitHubListSelector("acme/api", "pull_request", state="closed", merged=q4),
        GitHubListSelector("acme/mobile", "issue", state="open", labels=("bug",)),
        GitHubListSelector("acme/api", "issue", closed=q4),
        GitHubSearchSelector("repo:acme/web is:pr is:merged merged:2026-10-01..2026-12-31"),
    ]
    connector = connect(sandbox)
    rebuilt = connector.history(selectors, QUARTER_START, frozenset())
    for selector in selectors:
        history = rebuilt[selector]
        assert not isinstance(history, Unrebuildable), history
        now = sorted(item.key for item in history.items_at(ANCHOR))
        assert now == sorted(item.key for item in connector.items(selector, frozenset()))
        assert now, selector.describe()
