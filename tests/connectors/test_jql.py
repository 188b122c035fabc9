"""Reading what a JQL query depends on from its tokens (connectors/jql.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.jql import JqlSyntaxError, dependencies, tokenize, without_order_by


@pytest.mark.parametrize(
    "jql",
    [
        "project in (APP, WEB, MOB)",
        "status in (Done, Closed) AND issuetype in (Bug)",
        'project = APP AND status not in (Done, "Won\'t do")',
        'project = APP AND resolved >= "2026-10-01"',
        'summary ~ "now() and -7d are words here"',
        "key in (APP-1, APP-2, WEB-10)",
        'cf[10016] >= 5 AND "Story Points" > 3',
        "labels = okr-7 AND assignee is EMPTY",
        "project = APP ORDER BY created DESC",
        "statusCategory != Done",
    ],
)
def test_ordinary_queries_depend_on_their_issues_alone(jql: str) -> None:
    found = dependencies(jql)
    assert not found.volatile, found.reason


@pytest.mark.parametrize(
    ("jql", "reason"),
    [
        ("assignee = currentUser()", "functions currentUser()"),
        ("sprint in openSprints() AND project = APP", "functions openSprints()"),
        ("created >= startOfWeek(-1)", "functions startOfWeek()"),
        ('assignee in membersOf("team a")', "functions membersOf()"),
        ("updated >= -7d", "relative dates -7d"),
        ('created > "-2w 3d"', "relative dates -2w 3d"),
        ("resolved >= 4h AND project = APP", "relative dates 4h"),
        ("filter = 10042", "a saved filter"),
        ('savedFilter = "Team A"', "a saved filter"),
        ("project = APP AND (request in (1, 2))", "a saved filter"),
        ("status was Open", "a history operator (WAS/CHANGED)"),
        ("status changed", "a history operator (WAS/CHANGED)"),
        ('summary ~ "never closed', "unreadable JQL"),
    ],
)
def test_what_makes_a_query_depend_on_more_than_its_issues(jql: str, reason: str) -> None:
    found = dependencies(jql)
    assert found.volatile
    assert reason in found.reason


def test_history_with_a_relative_predicate_names_both() -> None:
    found = dependencies("status changed AFTER -1w")
    assert found.history and found.relative_dates == ("-1w",)


def test_tokens_keep_strings_whole_and_unescape_them() -> None:
    tokens = tokenize('summary ~ "a \\"quoted\\" (word)" AND key in (APP-1,APP-2)')
    assert [(t.kind, t.text) for t in tokens] == [
        ("word", "summary"),
        ("operator", "~"),
        ("string", 'a "quoted" (word)'),
        ("word", "AND"),
        ("word", "key"),
        ("word", "in"),
        ("open", "("),
        ("word", "APP-1"),
        ("comma", ","),
        ("word", "APP-2"),
        ("close", ")"),
    ]


def test_an_unterminated_string_says_where_it_opened() -> None:
    with pytest.raises(JqlSyntaxError, match="position 10"):
        tokenize('summary ~ "open')


@given(st.text(max_size=200))
def test_any_text_is_classified_without_crashing(text: str) -> None:
    found = dependencies(text)
    assert isinstance(found.reason, str)
    try:
        tokens = tokenize(text)
    except JqlSyntaxError:
        assert found.unreadable
    else:
        assert all(token.text or token.kind == "string" for token in tokens)


@pytest.mark.parametrize(
    ("jql", "clause"),
    [
        ("project = APP ORDER BY created DESC", "project = APP"),
        ('summary ~ "order by" order by key', 'summary ~ "order by"'),
        ("project = APP", "project = APP"),
        ("ORDER BY key", ""),
        ("labels = order AND x = by", "labels = order AND x = by"),
    ],
)
def test_order_by_is_cut_off_outside_strings(jql: str, clause: str) -> None:
    assert without_order_by(jql) == clause


def test_string_tokens_point_at_their_opening_quote() -> None:
    tokens = tokenize('a = "x y" AND b = c')
    assert tokens[2].position == 4
