"""GitHubConnector through the real PyGithub client against the sandbox.

Expected values are computed here from `box.github_data` with plain comprehensions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any, Literal

import pytest
from pydantic import SecretStr
from werkzeug.serving import WSGIRequestHandler, make_server

from connectors.base import (
    AuthError,
    ConnectorError,
    DateWindow,
    GitHubListSelector,
    GitHubSearchSelector,
    QueryError,
)
from connectors.github import GitHubConnector
from connectors.github_http import CountingRetry, RequestTally
from connectors.retry import RetryClock, RetryPolicy
from sandbox.github_api import GitHubApp
from sandbox.github_data import GitHubPull, build_github_dataset
from sandbox.server import SANDBOX_GITHUB_TOKEN, Sandbox, SandboxOptions, build_sandbox
from tests.busy_threads import answered_by_busy_threads
from tests.conftest import ANCHOR


def connect(box: Sandbox, **options: Any) -> GitHubConnector:
    return GitHubConnector(
        base_url=box.github_url, token=SecretStr(SANDBOX_GITHUB_TOKEN), **options
    )


def day_of(moment: datetime | None) -> date | None:
    return moment.date() if moment else None


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serve any WSGI app on loopback for one test; returns its base URL."""
    servers = []

    def start(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ counts


def test_count_above_1000_is_the_true_total(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    expected = sum(1 for p in data.pulls if p.repo == "acme/api" and p.merged_at is not None)
    assert expected > 1000
    connector = connect(sandbox)
    assert connector.count(GitHubSearchSelector("repo:acme/api is:pr is:merged")) == expected
    assert connector.requests_made == 1


def test_count_of_a_list_selector(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    window = DateWindow(date(2026, 8, 1), date(2026, 10, 31))
    selector = GitHubListSelector(
        repo="acme/api", kind="pull_request", labels=("bug",), merged=window
    )
    expected = sum(
        1
        for p in data.pulls
        if p.repo == "acme/api"
        and "bug" in p.labels
        and p.merged_at
        and window.start <= p.merged_at.date() <= window.end
    )
    assert expected > 0
    assert connect(sandbox).count(selector) == expected
    issues = GitHubListSelector(repo="acme/web", kind="issue", state="open", labels=("customer",))
    assert connect(sandbox).count(issues) == sum(
        1
        for i in data.issues
        if i.repo == "acme/web" and i.state == "open" and "customer" in i.labels
    )


# ------------------------------------------------------------------ items


def test_search_items_beyond_1000_are_all_reached(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    expected = {f"acme/api#{p.number}" for p in data.pulls if p.repo == "acme/api" and p.merged_at}
    connector = connect(sandbox)
    items = connector.items(GitHubSearchSelector("repo:acme/api is:pr is:merged"), frozenset())
    assert len(items) == len(expected) > 1000
    assert {i.key for i in items} == expected
    assert connector.requests_made <= len(expected) // 100 + 4  # pages, plus one restart


def test_search_items_carry_the_fields(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    query = "repo:acme/web label:customer"
    items = {i.key: i for i in connect(sandbox).items(GitHubSearchSelector(query), frozenset())}
    expected = [
        i for i in [*data.issues, *data.pulls] if i.repo == "acme/web" and "customer" in i.labels
    ]
    assert set(items) == {f"acme/web#{i.number}" for i in expected}
    for source in expected:
        item = items[f"acme/web#{source.number}"]
        merged = source.merged_at if isinstance(source, GitHubPull) else None
        assert item.kind == ("pull_request" if isinstance(source, GitHubPull) else "issue")
        assert item.status == ("merged" if merged else source.state)
        assert item.status_category == ("todo" if source.state == "open" else "done")
        assert item.created_at == source.created_at and item.updated_at == source.updated_at
        assert item.merged_at == merged
        assert item.resolved_at == (merged or source.closed_at)
        assert item.labels == source.labels and item.assignee == source.assignee
        assert item.container == "acme/web"
        kind = "pull" if isinstance(source, GitHubPull) else "issues"
        assert item.url == f"https://github.com/acme/web/{kind}/{source.number}"
        assert item.started_at == (source.created_at if isinstance(source, GitHubPull) else None)


def test_list_selector_merged_window_and_labels(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    window = DateWindow(date(2026, 10, 1), date(2026, 11, 30))
    selector = GitHubListSelector(
        repo="acme/api", kind="pull_request", labels=("performance",), merged=window
    )
    expected = {
        f"acme/api#{p.number}"
        for p in data.pulls
        if p.repo == "acme/api"
        and "performance" in p.labels
        and p.merged_at
        and window.start <= p.merged_at.date() <= window.end
    }
    assert expected
    connector = connect(sandbox)
    items = connector.items(selector, frozenset())
    assert {i.key for i in items} == expected
    assert all(i.status == "merged" for i in items)
    all_pages = sum(1 for p in data.pulls if p.repo == "acme/api" and p.state == "closed") / 100
    assert connector.requests_made < all_pages  # the listing stopped early


def test_list_selector_issues_created_and_closed(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    created = DateWindow(date(2026, 6, 1), date(2026, 6, 30))
    selector = GitHubListSelector(repo="acme/mobile", kind="issue", created=created)
    assert {i.key for i in connect(sandbox).items(selector, frozenset())} == {
        f"acme/mobile#{i.number}"
        for i in data.issues
        if i.repo == "acme/mobile" and created.start <= i.created_at.date() <= created.end
    }
    closed = DateWindow(date(2026, 9, 1), date(2026, 11, 20))
    selector = GitHubListSelector(repo="acme/mobile", kind="issue", labels=("bug",), closed=closed)
    assert {i.key for i in connect(sandbox).items(selector, frozenset())} == {
        f"acme/mobile#{i.number}"
        for i in data.issues
        if i.repo == "acme/mobile"
        and "bug" in i.labels
        and i.closed_at
        and closed.start <= i.closed_at.date() <= closed.end
    }


def test_first_review_and_approval(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    window = DateWindow(date(2026, 11, 1), date(2026, 11, 20))
    selector = GitHubListSelector(repo="acme/web", kind="pull_request", merged=window)
    source = {
        f"acme/web#{p.number}": p
        for p in data.pulls
        if p.repo == "acme/web" and p.merged_at and window.start <= p.merged_at.date() <= window.end
    }
    connector = connect(sandbox)
    items = connector.items(selector, frozenset({"first_review_at"}))
    assert {i.key for i in items} == set(source)
    for item in items:
        pull = source[item.key]
        assert item.first_review_at == min((r.submitted_at for r in pull.reviews), default=None)
        assert item.extra["approved"] == any(
            r.state == "APPROVED" and r.submitted_at <= pull.merged_at  # type: ignore[operator]
            for r in pull.reviews
        )
    assert {item.extra["approved"] for item in items} == {True, False}


# ------------------------------------------------------------------ failures


def test_bad_token_is_an_auth_error_without_the_token(sandbox: Sandbox) -> None:
    secret = "ghp_wrongwrongwrong123456"
    connector = GitHubConnector(base_url=sandbox.github_url, token=SecretStr(secret))
    with pytest.raises(AuthError) as caught:
        connector.count(GitHubSearchSelector("repo:acme/api is:pr"))
    assert "401" in str(caught.value) and "OKRSYNC_GITHUB__TOKEN" in str(caught.value)
    assert secret not in str(caught.value) and not caught.value.retryable
    with pytest.raises(AuthError):
        connector.check()


def test_unknown_repository(sandbox: Sandbox) -> None:
    connector = connect(sandbox)
    with pytest.raises(ConnectorError) as caught:
        connector.items(GitHubListSelector(repo="acme/nope", kind="pull_request"), frozenset())
    assert type(caught.value) is ConnectorError
    assert "acme/nope" in str(caught.value) and "404" in str(caught.value)
    assert not caught.value.retryable
    with pytest.raises(QueryError, match="cannot be searched"):
        connector.count(GitHubSearchSelector("repo:acme/nope is:pr"))


def test_invalid_query_is_a_query_error(sandbox: Sandbox) -> None:
    with pytest.raises(QueryError, match="is:") as caught:
        connect(sandbox).items(GitHubSearchSelector("repo:acme/api is:sideways"), frozenset())
    assert not caught.value.retryable


def test_unreachable_port_fails_at_once() -> None:
    connector = GitHubConnector(base_url="http://127.0.0.1:9/api/v3", token=SecretStr("x" * 20))
    with pytest.raises(ConnectorError) as caught:
        connector.check()
    assert connector.requests_made == 1  # a refused connection is not tried again
    assert caught.value.retryable and "127.0.0.1:9" in str(caught.value)
    # nobody listens: said so, not "did not answer within 30 s" after a moment
    assert str(caught.value).startswith("cannot reach GitHub at http://127.0.0.1:9/api/v3 (")
    assert "Connection refused" in str(caught.value)


def test_check_names_the_user(sandbox: Sandbox) -> None:
    assert sandbox.github_data.viewer in connect(sandbox).check()


def test_requests_made_matches_the_server(serve: Callable[[Any], str]) -> None:
    data = build_github_dataset(seed=5, anchor=ANCHOR, n_pulls=400, n_issues=100)
    app = GitHubApp(data, token=SANDBOX_GITHUB_TOKEN)
    connector = GitHubConnector(base_url=serve(app), token=SecretStr(SANDBOX_GITHUB_TOKEN))
    connector.count(GitHubSearchSelector("is:pr"))
    connector.items(
        GitHubListSelector(repo="acme/web", kind="pull_request"), frozenset({"first_review_at"})
    )
    assert connector.requests_made == sum(app.requests.values()) > 2


def test_server_errors_are_retried_a_bounded_number_of_times(
    serve: Callable[[Any], str],
) -> None:
    calls = []

    def failing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("502 Bad Gateway", [("Content-Type", "text/html")])
        return [b"<html>bad gateway</html>"]

    policy = RetryPolicy(attempts=3, backoff_s=0.01)
    connector = GitHubConnector(base_url=serve(failing), token=SecretStr("t" * 20), retry=policy)
    with pytest.raises(ConnectorError) as caught:
        connector.count(GitHubSearchSelector("is:pr"))
    assert caught.value.retryable
    assert len(calls) == 3 and connector.requests_made == 3


def test_garbage_is_a_connector_error(serve: Callable[[Any], str]) -> None:
    def garbage(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"total_count": ']

    policy = RetryPolicy(backoff_s=0.01)
    connector = GitHubConnector(base_url=serve(garbage), token=SecretStr("t" * 20), retry=policy)
    with pytest.raises(ConnectorError, match="not the GitHub API"):
        connector.count(GitHubSearchSelector("is:pr"))
    assert connector.requests_made == policy.attempts  # asked again, then given up


def test_slow_server_times_out(serve: Callable[[Any], str]) -> None:
    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        time.sleep(3)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    connector = GitHubConnector(
        base_url=serve(slow), token=SecretStr("t" * 20), timeout=1, retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(ConnectorError, match="did not answer") as caught:
        connector.check()
    # Waiting out the 3 s would have read `{}` and failed as "not the GitHub API" instead.
    assert caught.value.retryable and connector.requests_made == 1


def test_times_are_utc(sandbox: Sandbox) -> None:
    items = connect(sandbox).items(
        GitHubSearchSelector("repo:acme/infra is:pr is:open"), frozenset()
    )
    assert items and all(i.created_at.tzinfo is not None for i in items)
    assert all(i.created_at.utcoffset() == UTC.utcoffset(None) for i in items)


def test_retry_after_is_capped_so_a_sync_never_sleeps_for_hours() -> None:
    policy = RetryPolicy()
    retry = CountingRetry.on_policy(RequestTally(), RetryClock(policy))
    assert retry.parse_retry_after("5") == 5
    assert retry.parse_retry_after("3600") == policy.retry_after_max_s
    assert retry.new(total=2).parse_retry_after("7200") == policy.retry_after_max_s


def test_concurrent_requests_each_get_their_own_answer() -> None:
    """PyGithub's Requester shares one connection object whose request() and getresponse()
    are separate steps: threads sharing a client could swap answers. One client a thread."""
    options = SandboxOptions(seed=3, anchor=ANCHOR, time_scale=600.0)  # 0.1 s search windows
    with build_sandbox(options, jira_issues=10, github_pulls=200, github_issues=80).start() as box:
        check_concurrent_counts(connect(box))


def check_concurrent_counts(github: GitHubConnector) -> None:
    queries = [
        f"repo:{repo} {kind} {state}"
        for repo in ("acme/api", "acme/web", "acme/mobile", "acme/infra")
        for kind in ("is:pr", "is:issue")
        for state in ("is:open", "is:closed")
    ]
    expected = {query: github.count(GitHubSearchSelector(query)) for query in queries}
    assert len(set(expected.values())) > len(queries) // 2  # answers tell queries apart
    rounds = queries * 24  # the race needs a thread switch inside one request: ask often
    answers = answered_by_busy_threads(lambda q: github.count(GitHubSearchSelector(q)), rounds)
    swapped = [
        (q, a, expected[q]) for q, a in zip(rounds, answers, strict=True) if a != expected[q]
    ]
    assert not swapped


@pytest.mark.parametrize("kind", ["issue", "pull_request"])
def test_a_renamed_repository_is_a_clear_error_never_the_redirects_items(
    serve: Callable[[Any], str], kind: Literal["issue", "pull_request"]
) -> None:
    """GitHub redirects an old name; PyGithub follows without the listing's parameters, so
    the answer would be the open items of the first page. It is refused, naming the new name."""
    data = build_github_dataset(seed=5, anchor=ANCHOR, n_pulls=400, n_issues=100)
    connector = GitHubConnector(
        base_url=serve(GitHubApp(data, token=SANDBOX_GITHUB_TOKEN)),
        token=SecretStr(SANDBOX_GITHUB_TOKEN),
    )
    selector = GitHubListSelector(repo="acme/web", kind=kind, state="closed")
    before = connector.items(selector, frozenset())
    assert len(before) > 0
    data.rename("acme/web", "acme/website")
    moved = "GitHub repository acme/web is now acme/website"
    with pytest.raises(QueryError, match=moved):
        connector.items(selector, frozenset())
    with pytest.raises(QueryError, match=moved):
        connector.list_repository("acme/web", kind, updated_from=None)
    with pytest.raises(QueryError, match="cannot be searched"):
        connector.count(selector)
    renamed = GitHubListSelector(repo="acme/website", kind=kind, state="closed")
    assert [i.key.split("#")[1] for i in connector.items(renamed, frozenset())] == [
        i.key.split("#")[1] for i in before
    ]


def test_an_empty_listing_of_a_renamed_repository_is_checked_by_name(
    serve: Callable[[Any], str],
) -> None:
    data = build_github_dataset(seed=5, anchor=ANCHOR, n_pulls=50, n_issues=10)
    connector = GitHubConnector(
        base_url=serve(GitHubApp(data, token=SANDBOX_GITHUB_TOKEN)),
        token=SecretStr(SANDBOX_GITHUB_TOKEN),
    )
    empty = GitHubListSelector(repo="acme/web", kind="issue", labels=("no-such-label",))
    assert connector.items(empty, frozenset()) == []
    data.rename("acme/web", "acme/website")
    with pytest.raises(QueryError, match="acme/web is now acme/website"):
        connector.items(empty, frozenset())
