"""JiraConnector through the real `jira` library against the sandbox, Cloud and Server/DC."""

from __future__ import annotations

import math
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.base import (
    NEEDS_STORY_POINTS,
    OPTIONAL_FIELDS,
    AuthError,
    ConnectorError,
    JiraSelector,
    QueryError,
)
from connectors.jira import JiraConnector
from connectors.jira_changes import QUERIES_PER_UNION
from connectors.ratelimit import DEFAULT_RESOURCE, RateGovernor
from connectors.retry import RetryPolicy
from sandbox.jira_api import JiraApp
from sandbox.jira_data import JiraDataset, JiraIssue, build_jira_dataset
from sandbox.server import SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN, Sandbox
from tests.busy_threads import answered_by_busy_threads
from tests.conftest import ANCHOR
from tests.reliability.record import record

CATEGORY = {"new": "todo", "indeterminate": "in_progress", "done": "done"}
IN_PROGRESS_STATUSES = {"In Progress", "In Review", "Blocked"}


@pytest.fixture(params=["cloud", "server"])
def box(request: pytest.FixtureRequest) -> Sandbox:
    name = "sandbox" if request.param == "cloud" else "sandbox_server"
    sandbox: Sandbox = request.getfixturevalue(name)
    return sandbox


@contextmanager
def served(app: Any) -> Iterator[str]:
    """A WSGI app on a loopback port for the length of a test: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def connector(where: Sandbox | str, **overrides: Any) -> JiraConnector:
    """A connector to a sandbox, or to a served app's base URL, with the sandbox's login."""
    settings: dict[str, Any] = {
        "email": SANDBOX_JIRA_EMAIL,
        "token": SecretStr(SANDBOX_JIRA_TOKEN),
        "timeout": (2.0, 10.0),
    }
    settings.update(overrides)
    url = where if isinstance(where, str) else where.jira_url
    return JiraConnector(url, **settings)


def first_start(issue: JiraIssue) -> datetime | None:
    """First move into an in-progress status, read straight from the generated changelog."""
    moves = [
        entry.at
        for entry in issue.changelog
        for item in entry.items
        if item.field == "status" and item.to_string in IN_PROGRESS_STATUSES
    ]
    return min(moves) if moves else None


@pytest.mark.parametrize(
    "jql",
    [
        "project = APP AND priority = Highest AND statusCategory != Done",
        "type = Story",
        "project in (APP, WEB, OPS, MOB)",
    ],
)
def test_count_matches_the_data(box: Sandbox, jql: str) -> None:
    engine_free = {
        "project = APP AND priority = Highest AND statusCategory != Done": lambda i: (
            i.project == "APP" and i.priority == "Highest" and i.status_category != "done"
        ),
        "type = Story": lambda i: i.issue_type == "Story",
        "project in (APP, WEB, OPS, MOB)": lambda i: True,
    }[jql]
    expected = sum(1 for issue in box.jira_data.issues if engine_free(issue))
    jira = connector(box)
    assert jira.count(JiraSelector(jql)) == expected


def test_cloud_count_is_one_id_page_and_approximate_only_on_request(sandbox: Sandbox) -> None:
    jira = connector(sandbox, flavour="cloud")
    jira.count(JiraSelector("project = WEB"))  # warms up the field list the library loads
    before = jira.requests_made
    assert jira.count(JiraSelector("project in (APP, WEB, OPS, MOB)")) == len(
        sandbox.jira_data.issues
    )
    assert jira.requests_made - before == 1  # 3,000 ids fit in one 5,000-id page
    expected = sum(1 for i in sandbox.jira_data.issues if i.project == "OPS")
    assert jira.count(JiraSelector("project = OPS", approximate_count=True)) == expected


def test_server_count_is_one_request(sandbox_server: Sandbox) -> None:
    jira = connector(sandbox_server, email=None, flavour="server")  # personal access token
    jira.count(JiraSelector("project = WEB"))
    before = jira.requests_made
    expected = sum(1 for i in sandbox_server.jira_data.issues if i.issue_type == "Bug")
    assert jira.count(JiraSelector("type = Bug")) == expected
    assert jira.requests_made - before == 1


@pytest.fixture(scope="module")
def big_cloud() -> Iterator[tuple[str, JiraDataset, JiraApp]]:
    """A larger Cloud site than the shared sandbox, so that an exact count needs 3 pages."""
    data = build_jira_dataset(seed=11, anchor=ANCHOR, n_issues=12_000, n_projects=6)
    app = JiraApp(data, flavour="cloud", email=SANDBOX_JIRA_EMAIL, token=SANDBOX_JIRA_TOKEN)
    with served(app) as url:
        yield url, data, app


def test_exact_cloud_count_pages_through_ids(big_cloud: tuple[str, JiraDataset, JiraApp]) -> None:
    url, data, app = big_cloud
    jira = connector(url)
    expected = sum(1 for i in data.issues if i.project != "OPS")
    assert expected > 10_000
    app.reset_counts()
    assert jira.count(JiraSelector("project != OPS")) == expected
    assert app.requests["search/jql"] == 3  # 5,000 + 5,000 + the rest
    assert "search/approximate-count" not in app.requests


def test_items_with_story_points_and_fields(box: Sandbox) -> None:
    data = box.jira_data
    expected = {
        i.key: i for i in data.issues if i.project in ("APP", "MOB") and i.issue_type == "Story"
    }
    jira = connector(box)
    items = jira.items(
        JiraSelector("project in (APP, MOB) AND type = Story"),
        frozenset({"story_points", "Business Value"}) | OPTIONAL_FIELDS,
    )
    assert len(items) > 100  # several pages on both flavours
    assert {item.key for item in items} == set(expected)
    for item in items:
        issue = expected[item.key]
        assert item.story_points == issue.story_points
        assert item.status == issue.status
        assert item.status_category == CATEGORY[issue.status_category]
        assert item.created_at == issue.created and item.updated_at == issue.updated
        assert item.resolved_at == issue.resolutiondate
        assert item.labels == issue.labels
        assert item.priority == issue.priority and item.issue_type == "Story"
        assert item.container == issue.project
        assert item.url == f"{box.jira_url}/browse/{issue.key}"
        assert item.extra == {"Business Value": issue.custom_fields.get("customfield_10050")}
        assert item.started_at is None  # not asked for
    assigned = [i for i in items if expected[i.key].assignee is not None]
    names = {u.account_id: u.display_name for u in data.users}
    assert all(i.assignee == names[expected[i.key].assignee or ""] for i in assigned)
    # MOB is team-managed: its points come from "Story point estimate"
    assert any(i.story_points is not None for i in items if i.container == "MOB")


def test_a_field_the_site_does_not_have_is_refused_by_name(box: Sandbox) -> None:
    """Every item would lack it, and a share or a sum over nothing would look like a number."""
    jira = connector(box)
    with pytest.raises(QueryError) as refused:
        jira.items(JiraSelector("project = APP"), frozenset({"Busines Value"}))
    assert str(refused.value) == (
        f"Jira at {box.jira_url} has no field 'Busines Value', by name or id "
        "(did you mean 'Business Value'?)"
    )
    with pytest.raises(QueryError, match=r"has no field 'reviewed', by name or id$"):
        jira.check_fields(frozenset({"story_points", "reviewed"}))
    jira.check_fields(frozenset({"story_points", "Business Value", "customfield_10060"}))


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("summary", "title"),
        ("Summary", "title"),
        ("resolutiondate", "resolved_at"),
        ("issuetype", "issue_type"),
    ],
)
def test_a_jira_field_read_into_the_items_own_fields_is_named_by_its_okr_sync_name(
    box: Sandbox, name: str, normalized: str
) -> None:
    """`summary` was accepted and every item lacked it: a where over it was never met."""
    with pytest.raises(
        QueryError, match=f"'{name}' is Jira's .*, which okr-sync reads as '{normalized}'"
    ):
        connector(box).items(JiraSelector("project = APP"), frozenset({name}))


def test_descriptive_fields_only_when_asked_for(box: Sandbox) -> None:
    """A query whose metrics read no descriptive field does not fetch users, projects, ..."""
    expected = {i.key: i for i in box.jira_data.issues if i.project == "APP"}
    items = connector(box).items(JiraSelector("project = APP"), frozenset({"story_points"}))
    assert {item.key for item in items} == set(expected)
    for item in items:
        issue = expected[item.key]
        assert (item.title, item.labels, item.assignee) == ("", (), None)
        assert (item.priority, item.issue_type, item.container) == (None, None, None)
        assert item.status == issue.status and item.resolved_at == issue.resolutiondate
        assert item.story_points == issue.story_points
    only_labels = connector(box).items(JiraSelector("project = APP"), frozenset({"labels"}))
    assert {i.key: i.labels for i in only_labels} == {k: i.labels for k, i in expected.items()}
    assert all(i.container is None for i in only_labels)


def test_story_points_field_can_be_overridden(sandbox: Sandbox) -> None:
    jira = connector(sandbox, story_points_field="Story Points")
    items = jira.items(JiraSelector("project = MOB AND type = Story"), frozenset({"story_points"}))
    assert items and all(item.story_points is None for item in items)


def test_started_at_from_the_changelog(box: Sandbox) -> None:
    data = box.jira_data
    long_ones = [i for i in data.issues if len(i.changelog) > 100]
    assert long_ones, "the data set should have issues with more than 100 histories"
    sample = [*long_ones, *[i for i in data.issues if i.project == "OPS"][:150]]
    jql = "key in ({})".format(", ".join(issue.key for issue in sample))
    items = connector(box).items(JiraSelector(jql), frozenset({"started_at"}))
    by_key = {item.key: item for item in items}
    assert set(by_key) == {issue.key for issue in sample}
    for issue in sample:
        assert by_key[issue.key].started_at == first_start(issue), issue.key
    assert any(first_start(i) is not None for i in sample)


def test_bad_jql_is_a_query_error(box: Sandbox) -> None:
    jira = connector(box)
    with pytest.raises(QueryError) as caught:
        jira.count(JiraSelector("project = NOPE"))
    assert "The value 'NOPE' does not exist for the field 'project'." in str(caught.value)
    assert not caught.value.retryable
    with pytest.raises(QueryError):
        jira.items(JiraSelector("project = APP AND"), frozenset())


def test_bad_token_is_an_auth_error_without_the_token(box: Sandbox) -> None:
    secret = "s3cr3t-token-that-must-not-leak"
    jira = connector(box, token=SecretStr(secret))
    with pytest.raises(AuthError) as caught:
        jira.count(JiraSelector("project = APP"))
    message = str(caught.value)
    assert secret not in message and "Authorization" not in message
    assert "HTTP 401" in message and "OKRSYNC_JIRA__TOKEN" in message
    assert caught.value.__cause__ is None  # the library error (with headers) is not chained
    assert secret not in repr(jira)


class AttemptCountingGovernor(RateGovernor):
    """Counts the requests the connector is about to send (each attempt asks the governor)."""

    def __init__(self) -> None:
        super().__init__("jira")
        self.attempts = 0

    def acquire(self, resource: str = DEFAULT_RESOURCE) -> None:
        self.attempts += 1
        super().acquire(resource)


def test_unreachable_port_fails_fast(box: Sandbox) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    governor = AttemptCountingGovernor()
    jira = JiraConnector(
        f"http://127.0.0.1:{port}/jira",
        email=SANDBOX_JIRA_EMAIL,
        token=SecretStr(SANDBOX_JIRA_TOKEN),
        timeout=(1.0, 2.0),
        governor=governor,
    )
    with pytest.raises(ConnectorError) as caught:
        jira.count(JiraSelector("project = APP"))
    assert governor.attempts == 1  # a refused connection is not tried again
    assert caught.value.retryable
    assert not isinstance(caught.value, AuthError | QueryError)


def test_check_and_request_counting(box: Sandbox) -> None:
    jira = connector(box)
    description = jira.check()
    assert ("Cloud" if box.options.jira_flavour == "cloud" else "Server") in description
    assert jira.requests_made == 2  # serverInfo, myself


class RateLimitedOnce:
    """Answers the first search with 429 + Retry-After, then lets the real app answer."""

    def __init__(self, app: JiraApp) -> None:
        self.app = app
        self.limited = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if "search" in request.path and self.limited == 0:
            self.limited += 1
            response = Response(
                '{"errorMessages": ["Rate limit exceeded."], "errors": {}}',
                status=429,
                headers={"Retry-After": "0"},
                mimetype="application/json",
            )
            return response(environ, start_response)
        return self.app(environ, start_response)


def test_429_is_retried_honouring_retry_after() -> None:
    data = build_jira_dataset(seed=5, anchor=ANCHOR, n_issues=300)
    app = JiraApp(data, flavour="server", email=SANDBOX_JIRA_EMAIL, token=SANDBOX_JIRA_TOKEN)
    limited = RateLimitedOnce(app)
    with served(limited) as url:
        jira = JiraConnector(
            url,
            email=None,
            token=SecretStr(SANDBOX_JIRA_TOKEN),
            flavour="server",
        )
        expected = sum(1 for i in data.issues if i.project == "APP")
        assert jira.count(JiraSelector("project = APP")) == expected
        assert limited.limited == 1
        no_retries = JiraConnector(
            url,
            email=None,
            token=SecretStr(SANDBOX_JIRA_TOKEN),
            flavour="server",
            retry=RetryPolicy(attempts=1),
        )
        limited.limited = 0
        with pytest.raises(ConnectorError) as caught:
            no_retries.count(JiraSelector("project = APP"))
        assert caught.value.retryable and "HTTP 429" in str(caught.value)


def test_garbage_answer_is_a_retryable_connector_error() -> None:
    def proxy_error_page(environ: dict[str, Any], start_response: Any) -> Any:
        response = Response("<html>502 from the proxy, but with 200</html>", mimetype="text/html")
        return response(environ, start_response)

    with served(proxy_error_page) as url:
        jira = connector(url)
        with pytest.raises(ConnectorError) as caught:
            jira.count(JiraSelector("project = APP"))
        assert caught.value.retryable and "not JSON" in str(caught.value)


def test_proxies_from_the_environment_still_apply(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment is read once per connector, not per request, but it is still read."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: refused
    with pytest.raises(ConnectorError):
        connector(sandbox).count(JiraSelector("project = APP"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    expected = sum(1 for issue in sandbox.jira_data.issues if issue.project == "APP")
    assert connector(sandbox).count(JiraSelector("project = APP")) == expected


class SearchLog:
    """Lets the app answer, remembering each search/jql request's query string."""

    def __init__(self, app: JiraApp) -> None:
        self.app = app
        self.searches: list[dict[str, list[str]]] = []
        self.methods: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path.endswith("/search/jql"):
            self.searches.append({k: request.args.getlist(k) for k in request.args})
            self.methods.append(request.method)
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def strict_cloud() -> Iterator[tuple[str, JiraDataset, SearchLog]]:
    """Jira Cloud read at its strictest: pages asked for `id` (or the library's `issuekey`)
    hold `{"id": ...}` and nothing else."""
    data = build_jira_dataset(seed=13, anchor=ANCHOR, n_issues=600, n_projects=2)
    app = JiraApp(
        data,
        flavour="cloud",
        email=SANDBOX_JIRA_EMAIL,
        token=SANDBOX_JIRA_TOKEN,
        bare_id_fields=frozenset({"id", "issuekey"}),
    )
    searches = SearchLog(app)
    with served(searches) as url:
        yield url, data, searches


def test_counts_and_the_change_feed_read_ids_alone(
    strict_cloud: tuple[str, JiraDataset, SearchLog],
) -> None:
    url, data, searches = strict_cloud
    jira = connector(url)
    app_ids = {str(i.id) for i in data.issues if i.project == "APP"}
    recent = {str(i.id) for i in data.issues if i.updated >= ANCHOR - timedelta(days=3)}
    assert app_ids and recent  # the check has something to find
    searches.searches.clear()

    assert jira.count(JiraSelector("project = APP")) == len(app_ids)
    assert jira.member_ids(JiraSelector("project = APP")) == app_ids
    minutes = int((datetime.now(UTC) - (ANCHOR - timedelta(days=3))).total_seconds() // 60)
    assert jira.changed_ids(minutes) == recent

    assert len(searches.searches) == 3
    for asked in searches.searches:  # exactly `id`, not the `issuekey` the library makes of it
        assert asked["fields"] == ["id"] and asked["maxResults"] == ["5000"]


def test_items_by_id_follow_an_issue_whatever_its_key(
    strict_cloud: tuple[str, JiraDataset, SearchLog],
) -> None:
    url, data, _ = strict_cloud
    jira = connector(url)
    chosen = sorted(data.issues, key=lambda i: i.id)[::7]  # more than one `id in (...)` query
    assert len(chosen) > 80
    found = jira.items_by_ids([str(i.id) for i in chosen], frozenset({"title"}))
    assert {issue_id: item.key for issue_id, item in found.items()} == {
        str(i.id): i.key for i in chosen
    }
    assert all(found[str(i.id)].title == i.summary for i in chosen)


def test_a_page_without_ids_is_a_connector_error_not_a_crash() -> None:
    def keys_without_ids(environ: dict[str, Any], start_response: Any) -> Any:
        body = '{"issues": [{"key": "APP-1"}, {"id": "<b>1</b>"}], "isLast": true}'
        return Response(body, mimetype="application/json")(environ, start_response)

    with served(keys_without_ids) as url:
        jira = connector(url, flavour="cloud")
        for ask in (
            lambda: jira.count(JiraSelector("project = APP")),
            lambda: jira.member_ids(JiraSelector("project = APP")),
            lambda: jira.changed_ids(5),
        ):
            with pytest.raises(ConnectorError, match="without a numeric id") as caught:
                ask()
            assert caught.value.retryable


def test_a_server_count_brings_its_ids_when_its_one_page_holds_them(
    sandbox_server: Sandbox,
) -> None:
    """Server/DC counts in one request (`total`); that request carries the ids too when its
    page (1,000) holds every match, else the count comes alone, still in one request."""
    jira = connector(sandbox_server, flavour="server")
    issues = sandbox_server.jira_data.issues
    web = {str(i.id) for i in issues if i.project == "WEB"}
    app = [i for i in issues if i.project == "APP"]
    assert len(web) <= 1000 < len(app)
    before = jira.requests_made
    assert jira.member_ids(JiraSelector("project = WEB")) == web
    assert jira.member_ids(JiraSelector("project = APP")) == len(app)
    assert jira.requests_made - before == 2


def test_present_ids_list_many_queries_in_few_requests(
    strict_cloud: tuple[str, JiraDataset, SearchLog],
) -> None:
    """The membership check: every id matching any query, 25 queries OR'ed per listing,
    long unions in a POST body, ORDER BY clauses dropped."""
    url, data, searches = strict_cloud
    jira = connector(url, flavour="cloud")
    labels = sorted({label for issue in data.issues for label in issue.labels})
    every_category = 'statusCategory in ("To Do", "In Progress", Done)'
    queries = [f'labels = "{label}" AND {every_category} ORDER BY created' for label in labels]
    queries += [f"priority = {p} AND project = APP" for p in ("Highest", "High", "Low")]
    queries *= 30 // len(queries) + 1
    assert len(queries) > 25
    expected = {
        str(i.id)
        for i in data.issues
        if i.labels or (i.project == "APP" and i.priority in ("Highest", "High", "Low"))
    }
    searches.methods.clear()
    listings = [
        jira.union_query(queries[i : i + QUERIES_PER_UNION])
        for i in range(0, len(queries), QUERIES_PER_UNION)
    ]
    assert set().union(*(jira.ids_matching(listing) for listing in listings)) == expected
    assert jira.requests_made == math.ceil(len(queries) / 25)
    assert searches.methods[0] == "POST"  # 25 queries OR'ed are too long for a URL


def test_short_pages_do_not_end_a_search_early(sandbox: Sandbox) -> None:
    """Cloud answers fewer issues than asked when many fields are asked for; only the
    missing `nextPageToken` ends a search."""
    assert sandbox.jira_app is not None
    jira = connector(sandbox, flavour="cloud")
    needs = OPTIONAL_FIELDS | {NEEDS_STORY_POINTS}  # twelve fields: a heavy page
    expected = sorted(i.key for i in sandbox.jira_data.issues if i.project == "APP")
    assert len(expected) > 200
    sandbox.jira_app.reset_counts()
    sandbox.jira_app.heavy_page_cap = 50
    try:
        found = jira.items(JiraSelector("project = APP"), frozenset(needs))
    finally:
        sandbox.jira_app.heavy_page_cap = None
    assert sorted(item.key for item in found) == expected
    assert sandbox.jira_app.requests["search/jql"] == math.ceil(len(expected) / 50)


def test_a_saved_filter_that_does_not_exist_is_a_query_error(sandbox: Sandbox) -> None:
    with pytest.raises(QueryError) as caught:
        connector(sandbox, flavour="cloud").count(JiraSelector("filter = 999"))
    assert str(caught.value) == (
        "Jira refused the JQL 'filter = 999': "
        "The value '999' does not exist for the field 'filter'."
    )


def test_concurrent_counts_each_get_their_own_answer(sandbox: Sandbox) -> None:
    """One connector serves a tracker's fetch threads: no answer may reach the wrong one."""
    jira = connector(sandbox, flavour="cloud")
    queries = [
        f"project = {project} AND {clause}"
        for project in ("APP", "WEB", "OPS", "MOB")
        for clause in ("type = Bug", "type = Story", "priority = Highest", "labels = customer")
    ]
    expected = {query: jira.count(JiraSelector(query)) for query in queries}
    assert len(set(expected.values())) > len(queries) // 2  # answers tell queries apart
    rounds = queries * 4
    answers = answered_by_busy_threads(lambda q: jira.count(JiraSelector(q)), rounds)
    assert [a for q, a in zip(rounds, answers, strict=True) if a != expected[q]] == []


@pytest.mark.reliability
def test_a_token_cut_by_the_message_limit_is_still_taken_out() -> None:
    """Issue 12, item 14: the error body is redacted before it is cut to 300 characters."""
    token = "tok3n-SECRET-abcdefghij-0123456789"

    def echoing_proxy(environ: dict[str, Any], start_response: Any) -> Any:
        body = "<html>" + "x" * 280 + f"{token}</html>"  # not JSON; the token straddles 300
        return Response(body, status=500, mimetype="text/html")(environ, start_response)

    with served(echoing_proxy) as url:
        jira = connector(
            url, token=SecretStr(token), flavour="cloud", retry=RetryPolicy(attempts=1)
        )
        with pytest.raises(ConnectorError) as caught:
            jira.count(JiraSelector("project = APP"))
    message = str(caught.value)
    assert "HTTP 500" in message and "xxxx" in message  # the body's text is there
    assert not any(token[i : i + 6] in message for i in range(len(token) - 5))
    record(
        "secret",
        "a non-JSON Jira error echoing the token across the 300-character message limit",
        1,
        "redacted before it is cut: no six characters of the token in the message",
    )
