"""What Jira's history refuses to guess (one test per reason), and what it costs in requests."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from connectors.base import (
    NEEDS_STORY_POINTS,
    GitHubSearchSelector,
    JiraSelector,
    Selector,
)
from connectors.history import HistoryReader, Unrebuildable
from sandbox.jira_api import JiraApp
from sandbox.jira_data import STATUSES, ChangeItem, ChangelogEntry
from sandbox.server import SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN, Sandbox
from tests.connectors.test_jira import connector, served
from tests.connectors.test_jira_history import QUARTER, scripted_site


def refusal(sandbox: Sandbox, selector: Selector, needs: frozenset[str] = frozenset()) -> str:
    jira = connector(sandbox)
    answer = jira.history([selector], QUARTER, needs)[selector]
    assert isinstance(answer, Unrebuildable), answer
    assert str(answer) == answer.reason
    return answer.reason


@pytest.mark.parametrize(
    ("jql", "reason"),
    [
        ("assignee = currentUser()", "the function currentUser() in `assignee = currentUser()`"),
        ("sprint in openSprints() AND project = APP", "the function openSprints() in `sprint in"),
        ("created >= startOfMonth(-1)", "the function startOfMonth()"),
        ("created >= -7d", "a relative date (-7d) in `created >= -7d`"),
        ('resolved <= "-2w 3d"', "a relative date (-2w 3d)"),
        ("filter = 10042", "a saved filter in `filter = 10042`"),
        ('savedFilter in ("Open P1 bugs")', "a saved filter"),
        ('status WAS "In Progress"', "a history operator (WAS) on 'status'"),
        ('status CHANGED FROM Done TO "To Do"', "a history operator (CHANGED) on 'status'"),
        ('summary ~ "crash"', 'text search (~) in `summary ~ "crash"`'),
        ('text !~ "login"', "text search (!~)"),
        ('updated >= "2026-07-01"', "'updated' in `updated >= \"2026-07-01\"`: the changelog"),
        ("reporter is EMPTY", "'reporter' in `reporter is EMPTY`: the changelog does not replay"),
        ("sprint = 42", "'sprint' in `sprint = 42`: the changelog does not replay it"),
        ("Severity = S1", "'severity' in `Severity = S1`: a field this replay does not cover"),
        ("status = Nope", "no status 'Nope' on this site, in `status = Nope`"),
        ('status = "Done', "the JQL cannot be read: the string opened at position 9"),
        ("priority > Low", "an ordering (>) on 'priority' in `priority > Low`"),
        ("project = APP AND (status = Done", "misses a ')'"),
    ],
)
def test_a_query_it_cannot_replay_says_which_clause(
    sandbox: Sandbox, jql: str, reason: str
) -> None:
    assert reason in refusal(sandbox, JiraSelector(jql))


def test_a_field_the_metric_needs_without_a_replay(sandbox: Sandbox) -> None:
    reason = refusal(sandbox, JiraSelector("project = APP"), frozenset({"Severity"}))
    assert reason == "the changelog replay reads back numeric fields only, not 'Severity'"


def test_a_field_the_site_does_not_have(sandbox: Sandbox) -> None:
    reason = refusal(sandbox, JiraSelector("project = APP"), frozenset({"Busines Value"}))
    assert "has no field 'Busines Value', by name or id (did you mean 'Business Value'?)" in reason


def test_a_github_selector_is_not_jira_s_to_rebuild(sandbox: Sandbox) -> None:
    selector = GitHubSearchSelector("repo:acme/api is:pr")
    assert refusal(sandbox, selector) == "not a Jira selector: repo:acme/api is:pr"


def test_hostile_text_in_a_refused_query_is_named_as_written(sandbox: Sandbox) -> None:
    jql = 'summary ~ "<b>[x]\x07\\"</b>" AND labels = "a]b"'
    assert (
        refusal(sandbox, JiraSelector(jql)) == 'text search (~) in `summary ~ "<b>[x]\x07\\"</b>"`'
    )


def test_one_refused_query_leaves_the_others_rebuilt(sandbox: Sandbox) -> None:
    jira = connector(sandbox)
    assert isinstance(jira, HistoryReader)
    good, bad = JiraSelector("project = APP"), JiraSelector("assignee = currentUser()")
    answers = jira.history([good, bad], QUARTER, frozenset())
    assert isinstance(answers[bad], Unrebuildable)
    assert not isinstance(answers[good], Unrebuildable)


@pytest.mark.parametrize("flavour", ["cloud", "server"])
def test_the_candidates_are_searched_once_for_every_query(flavour: str) -> None:
    """One paged search of the updated issues with changelogs, however many queries; each
    query adds only its unchanged members' pages; a changelog Cloud cut short is paged."""
    data = scripted_site()
    app = JiraApp(data, flavour=flavour, email=SANDBOX_JIRA_EMAIL, token=SANDBOX_JIRA_TOKEN)  # type: ignore[arg-type]
    boundary = QUARTER - timedelta(days=1)
    updated = [issue for issue in data.issues if issue.updated >= boundary]
    old = [issue for issue in data.issues if issue.updated < boundary]
    queries = {"project = APP": "APP", "project = WEB": "WEB", "project = OPS": "OPS"}
    endpoint = "search/jql" if flavour == "cloud" else "search"
    page = 100  # items with their changelogs, on both flavours
    unchanged_page = 100 if flavour == "cloud" else 1000  # items alone
    with served(app) as url:
        jira = connector(url, flavour=flavour)
        for number in (1, 3):
            app.reset_counts()
            chosen = list(queries)[:number]
            answers = jira.history(
                [JiraSelector(q) for q in chosen], QUARTER, frozenset({NEEDS_STORY_POINTS})
            )
            assert all(not isinstance(a, Unrebuildable) for a in answers.values())
            unchanged_pages = sum(
                max(1, math.ceil(sum(1 for i in old if i.project == queries[q]) / unchanged_page))
                for q in chosen
            )
            assert app.requests[endpoint] == math.ceil(len(updated) / page) + unchanged_pages
            cut_short = [i for i in updated if len(i.changelog) > 100]
            expected_changelogs = (
                sum(math.ceil(len(i.changelog) / 100) for i in cut_short)
                if flavour == "cloud"
                else 0
            )
            assert app.requests["issue/changelog"] == expected_changelogs
            assert app.requests["status"] == (1 if number == 1 else 0)  # once per connector
    assert len(updated) > 100 and (flavour == "server" or expected_changelogs > 0)


def test_the_candidate_search_asks_only_the_fields_read(sandbox: Sandbox) -> None:
    """What the queries and the metric read, and what the replay itself needs, no more."""
    asked: list[str] = []
    app = sandbox.jira_app
    assert app is not None

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].endswith("/search/jql"):
            asked.append(environ["QUERY_STRING"])
        return app(environ, start_response)

    with served(recording) as url:
        jira = connector(url)
        jira.history([JiraSelector("labels = customer")], QUARTER, frozenset({"title"}))
    candidates = [q for q in asked if "expand=changelog" in q]
    assert len(candidates) >= 1
    fields = {parse_qs(q)["fields"][0] for q in candidates}
    assert fields == {"created,labels,resolution,resolutiondate,status,summary,updated"}


def test_an_issue_changed_between_the_two_searches_is_counted_once() -> None:
    """The unchanged members are read before the candidates: an issue updated in between
    comes in both and is kept once, replayed, instead of falling between the two."""
    data = scripted_site()
    app = JiraApp(data, flavour="cloud", email=SANDBOX_JIRA_EMAIL, token=SANDBOX_JIRA_TOKEN)
    boundary = QUARTER - timedelta(days=1)
    issue = next(i for i in data.issues if i.project == "APP" and i.updated < boundary)
    changed_at = QUARTER + timedelta(days=100)
    before = issue.status

    def changing(environ: dict[str, Any], start_response: Any) -> Any:
        if "expand=changelog" in environ["QUERY_STRING"] and issue.updated < boundary:
            after = "Blocked" if before != "Blocked" else "In Progress"
            item = ChangeItem(
                "status", "status", STATUSES[before].id, before, STATUSES[after].id, after
            )
            issue.changelog = (
                *issue.changelog,
                ChangelogEntry("99999", changed_at, issue.reporter, (item,)),
            )
            issue.status, issue.updated = after, changed_at
        return app(environ, start_response)

    with served(changing) as url:
        jira = connector(url)
        selector = JiraSelector("project = APP")
        history = jira.history([selector], QUARTER, frozenset())[selector]
    assert not isinstance(history, Unrebuildable)
    for moment, status in ((changed_at - timedelta(hours=1), before), (changed_at, issue.status)):
        found = [item for item in history.items_at(moment) if item.key == issue.key]
        assert [item.status for item in found] == [status]


def test_a_query_jira_refuses_is_refused_alone_with_jira_s_words(sandbox: Sandbox) -> None:
    jira = connector(sandbox)
    good, refused = JiraSelector("project = APP"), JiraSelector("project = NOPE")
    answers = jira.history([good, refused], QUARTER, frozenset())
    answer = answers[refused]
    assert isinstance(answer, Unrebuildable)
    assert "The value 'NOPE' does not exist for the field 'project'." in answer.reason
    assert not isinstance(answers[good], Unrebuildable)
