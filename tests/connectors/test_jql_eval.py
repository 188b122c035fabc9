"""The product's JQL evaluator on issue states: Jira's semantics for the clauses it reads."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from connectors.history import Unrebuildable
from connectors.jql_eval import compile_jql
from connectors.jql_state import IssueState, SiteTerms

TERMS = SiteTerms(
    statuses={"done": "Done", "10001": "Done", "to do": "To Do", "in review": "In Review"},
    projects={"app": "APP", "product app": "APP", "10000": "APP", "web": "WEB"},
    number_fields={"story points": "customfield_10016", "cf[10016]": "customfield_10016"},
)
STATE = IssueState(
    identities=frozenset({"10042", "APP-7", "WEB-3"}),
    project="APP",
    status="In Review",
    category="indeterminate",
    resolution=None,
    resolved=None,
    created=datetime(2026, 7, 3, 9, 30, tzinfo=UTC),
    labels=("customer", 'odd[1]"q'),
    assignee=frozenset({"ada lovelace", "ada@example.com", "5b10a"}),
    issue_type="Bug",
    priority="High",
    numbers={"customfield_10016": 5.0},
)
DONE = dataclasses.replace(
    STATE,
    status="Done",
    category="done",
    resolution="Fixed",
    resolved=datetime(2026, 8, 1, 12, 0, tzinfo=UTC),
    labels=(),
    assignee=frozenset(),
    numbers={"customfield_10016": None},
)


@pytest.mark.parametrize(
    ("jql", "open_issue", "done_issue"),
    [
        ("", True, True),
        ("ORDER BY created DESC", True, True),
        ("PROJECT = app", True, True),
        ('project = "Product App" AND project in (10000)', True, True),
        ("statusCategory = Done", False, True),
        ("statuscategory in (indeterminate, 3)", True, True),
        ('statusCategory != "In Progress"', False, True),
        ("status = 10001", False, True),
        ("resolution = Unresolved", True, False),
        ("resolution != Unresolved", False, True),
        ("resolution is EMPTY", True, False),
        ("resolution = fixed", False, True),
        ('resolved >= "2026-08-01" AND resolved < "2026/08/01 12:01"', False, True),
        ('created = "2026-07-03 09:30"', True, True),
        ('created < "2026-07-03"', False, False),
        ("labels = CUSTOMER", True, False),
        ("labels != customer", False, False),  # != and NOT IN leave out issues without labels
        ("labels not in (ux)", True, False),
        ("labels is EMPTY", False, True),
        ('labels in ("odd[1]\\"q")', True, False),
        ('assignee = "ada@example.com"', True, False),
        ("assignee is EMPTY", False, True),
        ('"Story Points" >= 5', True, False),
        ("cf[10016] = 5", True, False),
        ("cf[10016] is EMPTY", False, True),
        ("key = app-7", True, True),
        ("issuekey in (WEB-3)", True, True),  # a key the issue had before a move
        ("id = 10042", True, True),
        ("key != APP-7", False, False),
        ("type = bug AND NOT priority = Low", True, True),
        ("project = WEB OR statusCategory = Done AND labels is EMPTY", False, True),
        ("(project = WEB OR statusCategory = Done) AND labels is EMPTY", False, True),
        ("project = APP && (labels = customer || resolution = Fixed)", True, True),
        ("NOT (status = Done)", True, False),
    ],
)
def test_clauses_read_the_issue_as_jira_does(jql: str, open_issue: bool, done_issue: bool) -> None:
    predicate = compile_jql(jql, TERMS).matches
    assert (predicate(STATE), predicate(DONE)) == (open_issue, done_issue)


def test_and_binds_tighter_than_or() -> None:
    predicate = compile_jql("project = WEB AND labels = customer OR priority = High", TERMS).matches
    assert predicate(STATE)  # (WEB AND customer) OR High


def test_a_value_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(Unrebuildable, match="'soon' is not a date this replay reads"):
        compile_jql('created > "soon"', TERMS)


def test_a_value_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(Unrebuildable, match="'many' is not a number, in `cf\\[10016\\] > many`"):
        compile_jql("cf[10016] > many", TERMS)


def test_a_stray_word_after_the_query_is_refused() -> None:
    with pytest.raises(Unrebuildable, match="has 'Done' where none fits"):
        compile_jql("status = Done Done", TERMS)


def test_the_fields_a_query_reads_are_the_ones_a_search_asks_for() -> None:
    compiled = compile_jql('statusCategory = Done AND ("Story Points" > 3 OR type = Bug)', TERMS)
    assert compiled.fields == {"status", "customfield_10016", "issuetype"}
    assert compile_jql("key in (APP-1) ORDER BY created", TERMS).fields == set()
