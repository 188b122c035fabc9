"""Jira's rebuilt past answers against the sandbox's own records, every day of a quarter.

A data set is generated up to a quarter's first day, then changed day by day through the
quarter by `sandbox.jira_asof.script_quarter` (resolutions, reopenings, moves, story
points, a number field, labels, statuses, assignees, priorities, new issues). For each query and each day,
`items_at(day)` must equal what the sandbox's own JQL evaluator matches on the sandbox's
own "as of" reconstruction of every issue: the product's replay is never its own judge.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import (
    NEEDS_STARTED,
    NEEDS_STORY_POINTS,
    OPTIONAL_FIELDS,
    JiraSelector,
    WorkItem,
)
from connectors.history import SelectorHistory, Unrebuildable
from connectors.jira import JiraConnector
from sandbox.jira_api import JiraApp
from sandbox.jira_asof import HOSTILE_LABELS, issue_as_of, script_quarter
from sandbox.jira_data import (
    BUSINESS_VALUE_FIELD,
    STATUSES,
    JiraDataset,
    JiraIssue,
    build_jira_dataset,
)
from sandbox.jql import JqlEngine
from sandbox.server import SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN
from tests.connectors.test_jira import connector, served

QUARTER = datetime(2026, 7, 1, tzinfo=UTC)
DAYS = 92
NEEDS = OPTIONAL_FIELDS | {NEEDS_STORY_POINTS, NEEDS_STARTED, "Business Value"}
CATEGORY = {"new": "todo", "indeterminate": "in_progress", "done": "done"}

QUERIES = (
    "statusCategory = Done",
    'statusCategory = "In Progress"',
    "statusCategory in (new, Indeterminate)",
    'resolved >= "2026-07-15" AND resolved < "2026-08-15" ORDER BY resolved DESC',
    "resolution = Unresolved AND project = APP",
    'resolution in (Done, "Won\'t Do")',
    "project = APP",
    'project in (WEB, "Mobile") AND NOT issuetype = Epic',
    "labels = customer OR labels = tech-debt",
    "labels is EMPTY",
    "labels in ("
    + ", ".join('"' + label.replace('"', '\\"') + '"' for label in HOSTILE_LABELS)
    + ")",
    '"Story Points" > 3 OR "Story point estimate" >= 5',
    "cf[10016] is not EMPTY AND statusCategory != Done",
    "assignee is EMPTY",
    'priority in (Highest, High) AND status != "In Review"',
    'created >= "2026-08-01"',
    '"Business Value" >= 50 OR cf[10050] = 10',
    "(type = Bug OR type = Story) AND status not in (Done, Closed)",
)


class Quarter:
    """The scripted site, served, and the connector's history of every query in QUERIES."""

    def __init__(
        self,
        data: JiraDataset,
        jira: JiraConnector,
        histories: dict[str, SelectorHistory],
    ) -> None:
        self.data = data
        self.jira = jira
        self.histories = histories
        self.engine = JqlEngine(data)
        self._then: dict[datetime, list[JiraIssue]] = {}

    def then(self, moment: datetime) -> list[JiraIssue]:
        """Every issue that existed at `moment`, as it was then (the sandbox's own records)."""
        if moment not in self._then:
            found = (issue_as_of(self.data, issue, moment) for issue in self.data.issues)
            self._then[moment] = [issue for issue in found if issue is not None]
        return self._then[moment]


def scripted_site() -> JiraDataset:
    data = build_jira_dataset(seed=5, anchor=QUARTER, n_issues=500, n_projects=4)
    assert script_quarter(data, QUARTER, DAYS, seed=17) > 300
    return data


@pytest.fixture(scope="module", params=["cloud", "server"])
def quarter(request: pytest.FixtureRequest) -> Iterator[Quarter]:
    data = scripted_site()
    app = JiraApp(data, flavour=request.param, email=SANDBOX_JIRA_EMAIL, token=SANDBOX_JIRA_TOKEN)
    with served(app) as url:
        jira = connector(url, flavour=request.param)
        answers = jira.history([JiraSelector(q) for q in QUERIES], QUARTER, NEEDS)
        histories: dict[str, SelectorHistory] = {}
        for selector, answer in answers.items():
            assert not isinstance(answer, Unrebuildable), (selector, answer.reason)
            assert isinstance(selector, JiraSelector)
            histories[selector.jql] = answer
        yield Quarter(data, jira, histories)


def rebuilt(item: WorkItem) -> tuple[object, ...]:
    return (
        item.key,
        item.status,
        item.status_category,
        item.resolved_at,
        item.story_points,
        tuple(sorted(item.labels)),
        item.assignee,
        item.container,
        item.priority,
        item.issue_type,
        item.started_at,
        item.title,
        item.extra.get("Business Value"),
    )


def truth(data: JiraDataset, issue: JiraIssue) -> tuple[object, ...]:
    assignee = data.users_by_id[issue.assignee].display_name if issue.assignee else None
    return (
        issue.key,
        issue.status,
        CATEGORY[issue.status_category],
        issue.resolutiondate,
        issue.story_points,
        tuple(sorted(issue.labels)),
        assignee,
        issue.project,
        issue.priority,
        issue.issue_type,
        next(
            (
                at
                for at, _, to in issue.status_transitions()
                if STATUSES[to].category_key == "indeterminate"
            ),
            None,
        ),
        issue.summary,
        issue.custom_fields.get(BUSINESS_VALUE_FIELD),
    )


def moments() -> Iterator[datetime]:
    for day in range(DAYS + 1):
        yield QUARTER + timedelta(days=day, hours=23, minutes=59)


@pytest.mark.parametrize("jql", QUERIES)
def test_every_day_of_the_quarter_matches_the_sandbox_records(quarter: Quarter, jql: str) -> None:
    compiled = quarter.engine.compile(jql)
    history = quarter.histories[jql]
    sizes = set()
    for moment in moments():
        expected = {truth(quarter.data, i) for i in quarter.then(moment) if compiled.predicate(i)}
        got = [rebuilt(item) for item in history.items_at(moment)]
        assert len(got) == len(set(got)), f"{jql} at {moment}: an issue twice"
        assert sorted(set(got) - expected, key=str)[:3] == [], f"{jql} at {moment}: extra"
        assert sorted(expected - set(got), key=str)[:3] == [], f"{jql} at {moment}: missing"
        sizes.add(len(expected))
    assert len(sizes) > 1, f"{jql} never changed over the quarter: a weak test"


def test_story_points_sum_moves_with_changes_and_moves(quarter: Quarter) -> None:
    history = quarter.histories["project = APP"]
    compiled = quarter.engine.compile("project = APP")
    sums = []
    for moment in moments():
        expected = sum(i.story_points or 0 for i in quarter.then(moment) if compiled.predicate(i))
        got = sum(item.story_points or 0 for item in history.items_at(moment))
        assert got == expected, moment
        sums.append(got)
    assert len(set(sums)) > 10


def test_a_moment_before_since_is_refused(quarter: Quarter) -> None:
    with pytest.raises(ValueError, match="before"):
        quarter.histories["project = APP"].items_at(QUARTER - timedelta(days=2))


@pytest.mark.parametrize("jql", QUERIES[::4])
def test_the_answer_rebuilt_for_now_is_what_a_sync_reads_now(quarter: Quarter, jql: str) -> None:
    now = max(issue.updated for issue in quarter.data.issues) + timedelta(minutes=1)
    rebuilt_now = {rebuilt(item) for item in quarter.histories[jql].items_at(now)}
    synced = {rebuilt(item) for item in quarter.jira.items(JiraSelector(jql), NEEDS)}
    assert rebuilt_now == synced
    assert synced


def test_an_issue_is_found_by_any_key_it_had_before_and_after_its_move(quarter: Quarter) -> None:
    moved = [
        (issue, entry.at, item.from_string, item.to_string)
        for issue in quarter.data.issues
        for entry in issue.changelog
        for item in entry.items
        if item.field == "Key" and entry.at >= QUARTER
    ]
    assert moved
    issue, at, old, new = moved[0]
    for key in (old, new):
        selector = JiraSelector(f'key = "{key}"')
        history = quarter.jira.history([selector], QUARTER, NEEDS)[selector]
        assert not isinstance(history, Unrebuildable)
        before = history.items_at(at - timedelta(seconds=1))
        after = history.items_at(at)
        assert [item.key for item in before] == [old]
        assert [item.key for item in after] == [issue_as_of(quarter.data, issue, at).key]
