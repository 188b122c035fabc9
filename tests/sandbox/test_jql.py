"""JQL parser and evaluator: results checked against plain comprehensions over the data set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sandbox.jira_data import JiraDataset, JiraIssue, build_jira_dataset
from sandbox.jql import (
    AndNode,
    Clause,
    JqlEngine,
    JqlError,
    NotNode,
    OrNode,
    evaluate_date_function,
    parse_jql,
    parse_period,
)
from tests.conftest import ANCHOR

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # a fixed "real now" for relative dates


@pytest.fixture(scope="module")
def data() -> JiraDataset:
    return build_jira_dataset(seed=7, anchor=ANCHOR)


@pytest.fixture(scope="module")
def engine(data: JiraDataset) -> JqlEngine:
    return JqlEngine(data)


def keys(issues: list[JiraIssue]) -> set[str]:
    return {issue.key for issue in issues}


def test_and_binds_tighter_than_or() -> None:
    query = parse_jql("project = APP OR project = WEB AND priority = High")
    assert isinstance(query.where, OrNode)
    assert isinstance(query.where.children[1], AndNode)


def test_not_and_parentheses() -> None:
    query = parse_jql("NOT (project = APP OR labels = x) order by created DESC, key")
    assert isinstance(query.where, NotNode)
    assert isinstance(query.where.child, OrNode)
    assert [(t.field.name, t.descending) for t in query.order_by] == [
        ("created", True),
        ("key", False),
    ]


def test_keywords_and_field_names_are_case_insensitive(
    engine: JqlEngine, data: JiraDataset
) -> None:
    expected = {i.key for i in data.issues if i.project == "APP" and i.priority == "Highest"}
    assert keys(engine.search("PROJECT = app and Priority = HIGHEST", now=NOW)) == expected
    clause = parse_jql('"Story Points" Not In (1, 2)').where
    assert isinstance(clause, Clause) and clause.operator == "not in"


@pytest.mark.parametrize(
    ("jql", "predicate"),
    [
        (
            "project = APP AND priority = Highest AND statusCategory != Done",
            lambda i: (
                i.project == "APP" and i.priority == "Highest" and i.status_category != "done"
            ),
        ),
        (
            "project in (APP, WEB) AND type = Bug",
            lambda i: i.project in ("APP", "WEB") and i.issue_type == "Bug",
        ),
        ("project not in (APP, WEB)", lambda i: i.project not in ("APP", "WEB")),
        (
            'status = "In Review" OR status = Blocked',
            lambda i: i.status in ("In Review", "Blocked"),
        ),
        ('statusCategory = "In Progress"', lambda i: i.status_category == "indeterminate"),
        ("statusCategory = new", lambda i: i.status_category == "new"),
        ("labels = customer", lambda i: "customer" in i.labels),
        (
            "labels in (security, regression)",
            lambda i: bool({"security", "regression"} & set(i.labels)),
        ),
        ("labels != customer", lambda i: bool(i.labels) and "customer" not in i.labels),
        ("labels is EMPTY", lambda i: not i.labels),
        ("assignee is empty", lambda i: i.assignee is None),
        ("assignee = null", lambda i: i.assignee is None),
        ("assignee is not EMPTY", lambda i: i.assignee is not None),
        ("resolution = Unresolved", lambda i: i.resolution is None),
        ('resolution = "Won\'t Do"', lambda i: i.resolution == "Won't Do"),
        (
            '"Story Points" >= 5',
            lambda i: i.story_points_field == "customfield_10016" and (i.story_points or 0) >= 5,
        ),
        (
            '"Story point estimate" is not empty',
            lambda i: i.story_points_field == "customfield_10026" and i.story_points is not None,
        ),
        (
            "cf[10016] = 3",
            lambda i: i.story_points_field == "customfield_10016" and i.story_points == 3,
        ),
        ("priority > Medium", lambda i: i.priority in ("Highest", "High")),
        ("NOT project = APP", lambda i: i.project != "APP"),
        ('summary ~ "checkout"', lambda i: "checkout" in i.summary.lower()),
        ('summary !~ "Crash"', lambda i: "crash" not in i.summary.lower()),
        (
            'text ~ "slow response"',
            lambda i: all(w in (i.summary + i.description).lower() for w in ("slow", "response")),
        ),
        (
            'resolved >= "2026-10-01"',
            lambda i: (
                i.resolutiondate is not None
                and i.resolutiondate >= datetime(2026, 10, 1, tzinfo=UTC)
            ),
        ),
        (
            'created < "2026/06/01 12:30"',
            lambda i: i.created < datetime(2026, 6, 1, 12, 30, tzinfo=UTC),
        ),
        (
            "resolutiondate <= 2026-01-31",
            lambda i: (
                i.resolutiondate is not None
                and i.resolutiondate <= datetime(2026, 1, 31, tzinfo=UTC)
            ),
        ),
        ("created >= -30d", lambda i: i.created >= NOW - timedelta(days=30)),
        ("updated > -2w", lambda i: i.updated > NOW - timedelta(weeks=2)),
        ("created >= -10080m", lambda i: i.created >= NOW - timedelta(minutes=10080)),
        (
            "resolved >= startOfMonth()",
            lambda i: (
                i.resolutiondate is not None
                and i.resolutiondate >= datetime(2026, 11, 1, tzinfo=UTC)
            ),
        ),
        (
            "resolved >= startOfMonth(-1) AND resolved < startOfMonth()",
            lambda i: (
                i.resolutiondate is not None
                and datetime(2026, 10, 1, tzinfo=UTC)
                <= i.resolutiondate
                < datetime(2026, 11, 1, tzinfo=UTC)
            ),
        ),
        ("created >= startOfYear()", lambda i: i.created >= datetime(2026, 1, 1, tzinfo=UTC)),
        ("key in (APP-1, WEB-2, APP-3)", lambda i: i.key in ("APP-1", "WEB-2", "APP-3")),
        ("issuekey = MOB-7", lambda i: i.key == "MOB-7"),
        ("Severity = S1", lambda i: i.custom_fields.get("customfield_10060") == "S1"),
        (
            "project = APP && (labels = customer || labels = ux)",
            lambda i: i.project == "APP" and ("customer" in i.labels or "ux" in i.labels),
        ),
    ],
)
def test_search_matches_plain_python(
    engine: JqlEngine, data: JiraDataset, jql: str, predicate: object
) -> None:
    assert callable(predicate)
    expected = {issue.key for issue in data.issues if predicate(issue)}
    assert expected, f"the data set should have matches for {jql!r}"
    assert keys(engine.search(jql, now=NOW)) == expected


def test_relative_dates_use_the_real_clock_not_the_anchor() -> None:
    anchor = datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    data = build_jira_dataset(seed=3, anchor=anchor, n_issues=400)
    result = keys(JqlEngine(data).search("created >= -40d"))
    cutoff = datetime.now(UTC) - timedelta(days=40)
    assert result == {i.key for i in data.issues if i.created >= cutoff}
    assert result != {i.key for i in data.issues if i.created >= anchor - timedelta(days=40)}


def test_user_values_match_account_id_name_or_display_name(
    engine: JqlEngine, data: JiraDataset
) -> None:
    user = data.users[3]
    expected = {i.key for i in data.issues if i.assignee == user.account_id}
    assert expected
    for value in (user.account_id, user.name, user.display_name):
        assert keys(engine.search(f'assignee = "{value}"', now=NOW)) == expected


def test_order_by(engine: JqlEngine, data: JiraDataset) -> None:
    app = [i for i in data.issues if i.project == "APP"]
    by_key = engine.search("project = APP ORDER BY key ASC", now=NOW)
    assert [i.key for i in by_key] == [i.key for i in sorted(app, key=lambda i: i.number)]
    newest = engine.search("project = APP order by created desc", now=NOW)
    assert [i.created for i in newest] == sorted((i.created for i in app), reverse=True)
    default = engine.search("project = APP", now=NOW)
    assert [i.id for i in default] == sorted((i.id for i in app), reverse=True)
    resolved = engine.search("project = APP ORDER BY resolved ASC", now=NOW)
    assert resolved[-1].resolutiondate is None  # empty values last when ascending
    assert resolved[0].resolutiondate == min(i.resolutiondate for i in app if i.resolutiondate)


def test_date_functions_and_periods() -> None:
    now = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # a Wednesday
    call = parse_jql("created > startOfMonth(-1)").where
    assert isinstance(call, Clause) and not isinstance(call.operand, tuple)
    assert evaluate_date_function(call.operand, now) == datetime(2026, 10, 1, tzinfo=UTC)  # type: ignore[arg-type]
    week = parse_jql("created > startOfWeek()").where
    assert isinstance(week, Clause)
    assert evaluate_date_function(week.operand, now) == datetime(2026, 11, 22, tzinfo=UTC)  # type: ignore[arg-type]
    end = parse_jql('created < endOfDay("+1d")').where
    assert isinstance(end, Clause)
    assert evaluate_date_function(end.operand, now) == datetime(  # type: ignore[arg-type]
        2026, 11, 26, 23, 59, 59, 999000, tzinfo=UTC
    )
    assert parse_period("-4h", now) == now - timedelta(hours=4)
    assert parse_period("4w 2d", now) == now + timedelta(weeks=4, days=2)
    assert parse_period("-1m", now) == now - timedelta(minutes=1)
    assert parse_period("2026-10-01", now) is None


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = XYZ", "The value 'XYZ' does not exist for the field 'project'."),
        ("foo = bar", "Field 'foo' does not exist or you do not have permission to view it."),
        ("priority = P9", "The value 'P9' does not exist for the field 'priority'."),
        ("type = Saga", "The value 'Saga' does not exist for the field 'type'."),
        ("assignee = nobody", "The value 'nobody' does not exist for the field 'assignee'."),
        (
            "project APP",
            "Error in the JQL Query: Expecting operator but got 'APP'. The valid operators are "
            "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'. "
            "(line 1, character 9)",
        ),
        (
            "project = APP foo",
            "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'foo'. (line 1, character 15)",
        ),
        (
            "project = ",
            "Error in the JQL Query: Expecting either a value, list or function before the end of the query.",
        ),
        ("(project = APP", "Error in the JQL Query: Expecting ')' before the end of the query."),
        ("summary = login", "The operator '=' is not supported by the 'summary' field."),
        ("project ~ APP", "The operator '~' is not supported by the 'project' field."),
        ("created > yesterday()", "Unable to find JQL function 'yesterday()'."),
        ('created > "2026-13-45"', "Date value '2026-13-45' for field 'created' is invalid."),
        ("key = APP-999999", "An issue with key 'APP-999999' does not exist for field 'key'."),
        ("status = 50%", "Error in the JQL Query: The character '%' is a reserved JQL character."),
        (
            'project = "APP',
            "Error in the JQL Query: The quoted string 'APP' has not been completed.",
        ),
        ("project = APP ORDER BY text", "Not able to sort using field 'text'."),
    ],
)
def test_errors_use_jiras_wording(engine: JqlEngine, jql: str, message: str) -> None:
    with pytest.raises(JqlError) as caught:
        engine.compile(jql, now=NOW)
    assert str(caught.value).startswith(message)


def test_unbounded_query_is_marked(engine: JqlEngine) -> None:
    assert not engine.compile("ORDER BY key DESC", now=NOW).bounded
    assert engine.compile("project = APP", now=NOW).bounded


@pytest.mark.parametrize(
    ("jql", "scope"),
    [
        ("project = APP AND type = Bug", {"APP"}),
        ("type = Bug AND project in (app, WEB)", {"APP", "WEB"}),
        ("project in (APP, WEB) AND project = WEB", {"WEB"}),
        ("project = APP OR project = MOB", {"APP", "MOB"}),
        ("project = APP OR labels = ux", None),
        ("NOT project = APP", None),
        ("project != APP AND type = Bug", None),
        ("key in (APP-1, WEB-2, APP-3) AND project = APP", {"APP"}),
    ],
)
def test_project_scope_narrows_without_changing_matches(
    engine: JqlEngine, data: JiraDataset, jql: str, scope: set[str] | None
) -> None:
    """The first pass by project (and key) is an index, never a filter of its own."""
    compiled = engine.compile(jql, now=NOW)
    assert compiled.projects == (frozenset(scope) if scope is not None else None)
    everything = [issue for issue in data.issues if compiled.predicate(issue)]
    assert everything, f"the data set should have matches for {jql!r}"
    assert compiled.run(data.issues) == compiled.sort(everything)
    assert compiled.run(compiled.candidates(data)) == compiled.sort(everything)


@pytest.mark.parametrize(
    ("jql", "keys"),
    [
        ("key in (APP-1, web-2, APP-3)", {"APP-1", "WEB-2", "APP-3"}),
        ("issuekey = MOB-7 OR key = APP-2", {"MOB-7", "APP-2"}),
        ("key in (APP-1, APP-2) AND key = APP-2", {"APP-2"}),
        ("key in (APP-1, APP-2) OR type = Bug", None),
        ("key != APP-1", None),
    ],
)
def test_key_scope_narrows_without_changing_matches(
    engine: JqlEngine, data: JiraDataset, jql: str, keys: set[str] | None
) -> None:
    compiled = engine.compile(jql, now=NOW)
    assert compiled.keys == (frozenset(keys) if keys is not None else None)
    everything = [issue for issue in data.issues if compiled.predicate(issue)]
    assert everything
    assert compiled.run(compiled.candidates(data)) == compiled.sort(everything)


def test_a_moved_issue_is_found_by_its_old_key_and_a_deleted_one_is_an_error() -> None:
    """Jira keeps a moved issue's old key as an alias; a deleted issue's key is unknown."""
    data = build_jira_dataset(seed=5, anchor=ANCHOR, n_issues=80, n_projects=2)
    engine = JqlEngine(data)
    issue = next(i for i in data.issues if i.project == "APP")
    old_key = issue.key
    new_key = data.move(issue, "WEB", ANCHOR)
    assert keys(engine.search(f"key = {old_key}", now=NOW)) == {new_key}
    assert keys(engine.search(f"issue in ({old_key}, {new_key})", now=NOW)) == {new_key}
    assert keys(engine.search(f"project = APP AND key = {old_key}", now=NOW)) == set()
    gone = next(i for i in data.issues if i.project == "APP")
    data.delete(gone)
    with pytest.raises(JqlError, match=f"An issue with key '{gone.key}' does not exist"):
        engine.search(f"key = {gone.key}", now=NOW)


def test_saved_filters_are_their_jql_now() -> None:
    data = build_jira_dataset(seed=5, anchor=ANCHOR, n_issues=200, n_projects=2)
    engine = JqlEngine(data)
    p1 = {i.key for i in data.issues if i.priority == "Highest" and i.status_category != "done"}
    app_bugs = {i.key for i in data.issues if i.project == "APP" and i.issue_type == "Bug"}
    assert p1 and app_bugs
    assert keys(engine.search("filter = 10042", now=NOW)) == p1
    assert keys(engine.search('savedFilter = "open p1 bugs"', now=NOW)) == p1
    assert keys(engine.search("filter in (10042, 10043)", now=NOW)) == p1 | app_bugs
    assert (
        keys(engine.search("project = APP AND filter != 10043", now=NOW))
        == {i.key for i in data.issues if i.project == "APP"} - app_bugs
    )
    data.filters["10042"].jql = "project = WEB"  # edited: no issue changed
    assert keys(engine.search("filter = 10042", now=NOW)) == {
        i.key for i in data.issues if i.project == "WEB"
    }
    with pytest.raises(JqlError, match="The value '999' does not exist for the field 'filter'"):
        engine.search("filter = 999", now=NOW)
    data.filters["10042"].jql = "filter = 10042"
    with pytest.raises(JqlError, match="too deeply"):
        engine.search("filter = 10042", now=NOW)
