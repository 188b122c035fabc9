"""The sandbox's GitHub REST API over raw HTTP, compared with what real GitHub sends.

The shapes follow the recorded exchanges in shared/reference/github/octokit-fixtures.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox.github_api import GitHubApp
from sandbox.github_data import build_github_dataset
from sandbox.server import SANDBOX_GITHUB_TOKEN, Sandbox
from tests.conftest import ANCHOR

AUTH = {"Authorization": f"token {SANDBOX_GITHUB_TOKEN}"}
LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def links(response: requests.Response) -> list[tuple[str, str]]:
    """(rel, url) pairs in the order the server sent them."""
    return [(rel, url) for url, rel in LINK.findall(response.headers.get("Link", ""))]


def page_of(url: str) -> int:
    match = re.search(r"[?&]page=(\d+)", url)
    assert match is not None, url
    return int(match.group(1))


def get(box: Sandbox, path: str, **params: object) -> requests.Response:
    return requests.get(f"{box.github_url}{path}", params=params, headers=AUTH, timeout=10)


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:
        pass


@pytest.fixture
def own_app() -> Iterator[tuple[GitHubApp, str]]:
    """An app of our own (search limited to 2 a minute), served at /github-less root."""
    app = GitHubApp(
        build_github_dataset(seed=7, anchor=ANCHOR, n_pulls=300, n_issues=100),
        token=SANDBOX_GITHUB_TOKEN,
        search_limit_per_minute=2,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------ pagination


def test_link_headers_follow_githubs_order(sandbox: Sandbox) -> None:
    repo = sandbox.github_data.repos["acme/api"]
    everything = [*sandbox.github_data.issues, *sandbox.github_data.pulls]
    total = sum(1 for i in everything if i.repo == "acme/api")
    last = math.ceil(total / 3)
    first = get(sandbox, "/repos/acme/api/issues", state="all", per_page=3)
    assert first.status_code == 200 and len(first.json()) == 3
    assert [rel for rel, _ in links(first)] == ["next", "last"]
    assert [page_of(url) for _, url in links(first)] == [2, last]
    next_url = links(first)[0][1]
    assert next_url.startswith(f"{sandbox.github_url}/repositories/{repo.id}/issues?")
    assert "state=all" in next_url and "per_page=3" in next_url
    middle = requests.get(next_url, headers=AUTH, timeout=10)
    assert [(rel, page_of(url)) for rel, url in links(middle)] == [
        ("prev", 1),
        ("next", 3),
        ("last", last),
        ("first", 1),
    ]
    final = get(sandbox, "/repos/acme/api/issues", state="all", per_page=3, page=last)
    assert [(rel, page_of(url)) for rel, url in links(final)] == [("prev", last - 1), ("first", 1)]
    assert len(final.json()) == total - 3 * (last - 1)


def test_per_page_default_and_cap(sandbox: Sandbox) -> None:
    assert len(get(sandbox, "/repos/acme/api/pulls", state="all").json()) == 30
    assert len(get(sandbox, "/repos/acme/api/pulls", state="all", per_page=500).json()) == 100


def test_single_page_has_no_link(sandbox: Sandbox) -> None:
    response = get(sandbox, "/search/issues", q="repo:acme/api is:pr author:nobody")
    assert response.json()["total_count"] == 0 and "Link" not in response.headers


# ------------------------------------------------------------------ lists and objects


def test_issues_list_includes_pull_requests_with_merged_at(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    rows = get(sandbox, "/repos/acme/web/issues", state="closed", per_page=100).json()
    expected = sorted(
        (i for i in [*data.issues, *data.pulls] if i.repo == "acme/web" and i.state == "closed"),
        key=lambda i: i.created_at,
        reverse=True,
    )[:100]
    assert [r["number"] for r in rows] == [i.number for i in expected]
    for row, item in zip(rows, expected, strict=True):
        if item in data.pulls:
            merged = item.merged_at  # type: ignore[attr-defined]
            assert row["pull_request"]["merged_at"] == (
                merged.strftime("%Y-%m-%dT%H:%M:%SZ") if merged else None
            )
            assert row["html_url"] == f"https://github.com/acme/web/pull/{item.number}"
        else:
            assert "pull_request" not in row
        assert row["closed_at"] == item.closed_at.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[union-attr]
        assert [label["name"] for label in row["labels"]] == list(item.labels)


def test_issue_filters(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    rows = get(sandbox, "/repos/acme/api/issues", labels="bug,customer", state="all", per_page=100)
    expected = [
        i
        for i in [*data.issues, *data.pulls]
        if i.repo == "acme/api" and {"bug", "customer"} <= set(i.labels)
    ]
    assert {r["number"] for r in rows.json()} == {i.number for i in expected}
    default_state = get(sandbox, "/repos/acme/mobile/issues", per_page=100).json()
    assert {r["state"] for r in default_state} == {"open"}
    since = "2026-11-15T00:00:00Z"
    recent = get(sandbox, "/repos/acme/infra/issues", state="all", since=since, per_page=100)
    moment = datetime.fromisoformat(since)
    assert {r["number"] for r in recent.json()} == {
        i.number
        for i in [*data.issues, *data.pulls]
        if i.repo == "acme/infra" and i.updated_at >= moment
    }


def test_pulls_sort_and_base(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    rows = get(
        sandbox, "/repos/acme/api/pulls", state="all", sort="updated", direction="asc", per_page=50
    ).json()
    expected = sorted((p for p in data.pulls if p.repo == "acme/api"), key=lambda p: p.updated_at)
    assert [r["number"] for r in rows] == [p.number for p in expected[:50]]
    develop = get(sandbox, "/repos/acme/api/pulls", state="all", base="develop", per_page=100)
    assert {r["base"]["ref"] for r in develop.json()} == {"develop"}


def test_single_pull_and_reviews(sandbox: Sandbox) -> None:
    pull = next(p for p in sandbox.github_data.pulls if p.repo == "acme/api" and len(p.reviews) > 1)
    body = get(sandbox, f"/repos/acme/api/pulls/{pull.number}").json()
    assert body["merged"] == (pull.merged_at is not None)
    assert (body["additions"], body["deletions"]) == (pull.additions, pull.deletions)
    reviews = get(sandbox, f"/repos/acme/api/pulls/{pull.number}/reviews").json()
    assert [(r["user"]["login"], r["state"]) for r in reviews] == [
        (r.user, r.state) for r in sorted(pull.reviews, key=lambda r: r.submitted_at)
    ]
    issue = next(i for i in sandbox.github_data.issues if i.repo == "acme/api")
    assert get(sandbox, f"/repos/acme/api/pulls/{issue.number}").status_code == 404
    assert get(sandbox, f"/repos/acme/api/issues/{issue.number}").json()["title"] == issue.title


@pytest.mark.parametrize(
    "path", ["", "/issues", "/issues/{issue}", "/pulls", "/pulls/{pull}", "/pulls/{pull}/reviews"]
)
def test_a_repository_answers_the_same_under_its_id(sandbox: Sandbox, path: str) -> None:
    """Every repository route also stands under `/repositories/<id>` (redirects, paging)."""
    repo = sandbox.github_data.repos["acme/api"]
    pull = next(p for p in sandbox.github_data.pulls if p.repo == "acme/api" and p.reviews)
    issue = next(i for i in sandbox.github_data.issues if i.repo == "acme/api")
    rest = path.format(issue=issue.number, pull=pull.number)
    by_name = get(sandbox, f"/repos/acme/api{rest}", state="all")
    by_id = get(sandbox, f"/repositories/{repo.id}{rest}", state="all")
    assert by_name.status_code == by_id.status_code == 200
    assert by_id.json() == by_name.json()


@pytest.mark.parametrize(("listing", "resource"), [("issues", "Issue"), ("pulls", "PullRequest")])
def test_a_listing_refuses_an_unknown_state(sandbox: Sandbox, listing: str, resource: str) -> None:
    response = get(sandbox, f"/repos/acme/api/{listing}", state="merged")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"resource": resource, "field": "state", "code": "invalid"}
    ]


# ------------------------------------------------------------------ search


def test_search_counts_everything_but_serves_1000(sandbox: Sandbox) -> None:
    data = sandbox.github_data
    query = "repo:acme/api is:pr is:merged"
    expected = sum(1 for p in data.pulls if p.repo == "acme/api" and p.merged_at is not None)
    assert expected > 1000
    first = get(sandbox, "/search/issues", q=query, per_page=100)
    body = first.json()
    assert body["total_count"] == expected and body["incomplete_results"] is False
    assert [rel for rel, _ in links(first)] == ["next", "last"]
    assert page_of(links(first)[1][1]) == 10
    thirty = get(sandbox, "/search/issues", q=query)
    assert page_of(links(thirty)[1][1]) == 34  # ceil(1000 / 30)
    tenth = get(sandbox, "/search/issues", q=query, per_page=100, page=10)
    assert len(tenth.json()["items"]) == 100 and "next" not in dict(links(tenth))
    beyond = get(sandbox, "/search/issues", q=query, per_page=100, page=11)
    assert beyond.status_code == 422
    assert beyond.json()["message"] == "Only the first 1000 search results are available"


def test_search_items_look_like_issues(sandbox: Sandbox) -> None:
    body = get(sandbox, "/search/issues", q="repo:acme/api is:pr is:merged", per_page=5).json()
    item = body["items"][0]
    for key in ("url", "repository_url", "html_url", "number", "user", "labels", "state"):
        assert key in item
    assert item["pull_request"]["merged_at"] is not None and item["score"] == 1.0
    assert item["repository_url"] == f"{sandbox.github_url}/repos/acme/api"


def test_search_422_body(sandbox: Sandbox) -> None:
    response = get(sandbox, "/search/issues", q="repo:acme/does-not-exist is:pr")
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"message", "errors", "documentation_url"}
    assert body["message"] == "Validation Failed"
    assert body["errors"][0]["resource"] == "Search" and body["errors"][0]["code"] == "invalid"
    assert get(sandbox, "/search/issues").json()["errors"][0]["code"] == "missing"


# ------------------------------------------------------------------ auth, errors, limits


def test_bad_credentials(sandbox: Sandbox) -> None:
    response = requests.get(
        f"{sandbox.github_url}/user", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"
    assert "documentation_url" in response.json()


def test_bearer_and_anonymous(sandbox: Sandbox) -> None:
    bearer = requests.get(
        f"{sandbox.github_url}/user",
        headers={"Authorization": f"Bearer {SANDBOX_GITHUB_TOKEN}"},
        timeout=10,
    )
    assert bearer.json()["login"] == sandbox.github_data.viewer
    anonymous = requests.get(f"{sandbox.github_url}/repos/acme/api", timeout=10)
    assert anonymous.status_code == 200 and anonymous.headers["X-RateLimit-Limit"] == "60"


def test_unknown_repository(sandbox: Sandbox) -> None:
    for path in ("/repos/acme/nope", "/repos/acme/nope/pulls", "/repos/acme/nope/issues"):
        response = get(sandbox, path)
        assert response.status_code == 404
        assert response.json()["message"] == "Not Found"
        assert response.json()["documentation_url"].startswith("https://docs.github.com/")


def test_rate_limit_headers(sandbox: Sandbox) -> None:
    core = get(sandbox, "/repos/acme/api")
    assert core.headers["X-RateLimit-Resource"] == "core"
    assert core.headers["X-RateLimit-Limit"] == "5000"
    used = int(core.headers["X-RateLimit-Used"])
    again = get(sandbox, "/repos/acme/api")
    assert int(again.headers["X-RateLimit-Used"]) == used + 1
    assert int(again.headers["X-RateLimit-Remaining"]) == 5000 - used - 1
    search = get(sandbox, "/search/issues", q="is:pr")
    assert search.headers["X-RateLimit-Resource"] == "search"
    assert search.headers["X-RateLimit-Limit"] == "30"
    assert int(search.headers["X-RateLimit-Reset"]) > datetime.now().timestamp()
    free = get(sandbox, "/rate_limit")
    assert free.headers["X-RateLimit-Used"] == str(used + 1)
    assert get(sandbox, "/nowhere").headers["X-RateLimit-Resource"] == "core"
    limits = free.json()
    assert limits["resources"]["core"]["used"] == used + 1  # /rate_limit itself is free
    assert limits["resources"]["search"]["limit"] == 30


def test_conditional_request(sandbox: Sandbox) -> None:
    first = get(sandbox, "/repos/acme/api/pulls")
    used = int(first.headers["X-RateLimit-Used"])
    second = requests.get(
        f"{sandbox.github_url}/repos/acme/api/pulls",
        headers={**AUTH, "If-None-Match": first.headers["ETag"]},
        timeout=10,
    )
    assert second.status_code == 304 and second.content == b""
    assert int(second.headers["X-RateLimit-Used"]) == used  # not charged


def test_search_limit_is_enforced_when_asked(own_app: tuple[GitHubApp, str]) -> None:
    app, url = own_app
    answers = [
        requests.get(f"{url}/search/issues", params={"q": "is:pr"}, headers=AUTH, timeout=10)
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 403]
    limited = answers[2]
    assert limited.json()["message"].startswith("API rate limit exceeded")
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Resource"] == "search"
    core = requests.get(f"{url}/repos/acme/api", headers=AUTH, timeout=10)
    assert core.status_code == 200  # the core budget is separate
    assert app.requests["search_issues"] == 3 and app.requests["repo"] == 1


def test_request_counter_and_links_without_prefix(own_app: tuple[GitHubApp, str]) -> None:
    app, url = own_app
    app.reset_counts()
    response = requests.get(f"{url}/repos/acme/api/pulls", params={"per_page": 2}, timeout=10)
    assert links(response)[0][1].startswith(f"{url}/repositories/")
    requests.get(f"{url}/nowhere", timeout=10)
    assert app.requests == {"pulls": 1, "not_found": 1}


def test_deleted_and_transferred_issues_leave_listings_and_answer_410_and_301(
    own_app: tuple[GitHubApp, str],
) -> None:
    """As GitHub's "Get an issue" documents: 301 for a transferred issue, 410 for a deleted one."""
    app, url = own_app
    data = app.data
    deleted, moved = [i for i in data.issues if i.repo == "acme/api"][:2]
    old_number = moved.number
    data.delete(deleted)
    data.transfer(moved, "acme/web", ANCHOR)
    assert moved.repo == "acme/web" and moved.number == max(
        i.number for i in data.items_of("acme/web")
    )

    def fetch(path: str, **params: object) -> requests.Response:
        return requests.get(
            f"{url}{path}", params=params, headers=AUTH, timeout=10, allow_redirects=False
        )

    gone = fetch(f"/repos/acme/api/issues/{deleted.number}")
    assert gone.status_code == 410
    redirect = fetch(f"/repos/acme/api/issues/{old_number}")
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == f"{url}/repos/acme/web/issues/{moved.number}"
    listed: set[int] = set()
    page: str | None = f"{url}/repos/acme/api/issues?state=all&per_page=100"
    while page is not None:
        answer = requests.get(page, headers=AUTH, timeout=10)
        listed |= {row["number"] for row in answer.json()}
        page = answer.links.get("next", {}).get("url")
    assert len(listed) == len(data.items_of("acme/api"))
    assert deleted.number not in listed and old_number not in listed
    web = fetch("/repos/acme/web/issues", state="all", sort="updated", per_page=1).json()
    assert web[0]["number"] == moved.number and web[0]["id"] == moved.id


def test_issue_events_follow_an_items_record(sandbox: Sandbox) -> None:
    """Without a scripted log, a merged pull request's events are its labels at creation,
    then merged and closed at its merge time, oldest first, as GitHub lists them."""
    data = sandbox.github_data
    pull = next(p for p in data.pulls if p.merged_at is not None and p.labels)
    answer = get(sandbox, f"/repos/{pull.repo}/issues/{pull.number}/events")
    assert answer.status_code == 200
    events = answer.json()
    assert [(e["event"], (e.get("label") or {}).get("name")) for e in events] == [
        *(("labeled", label) for label in pull.labels),
        ("merged", None),
        ("closed", None),
    ]
    assert events[-1]["created_at"] == pull.merged_at.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[union-attr]
    assert events[1 if len(pull.labels) == 1 else 2]["commit_id"]  # a merge names its commit
    assert {"id", "node_id", "url", "actor", "event", "created_at"} <= set(events[0])
    one = get(sandbox, f"/repos/{pull.repo}/issues/events/{events[0]['id']}")
    assert one.status_code == 200 and one.json()["issue"]["number"] == pull.number
    assert get(sandbox, f"/repos/{pull.repo}/issues/999999/events").status_code == 404
    assert get(sandbox, f"/repos/{pull.repo}/issues/events/1").status_code == 404
    open_issue = next(i for i in data.issues if i.state == "open" and not i.labels)
    empty = get(sandbox, f"/repos/{open_issue.repo}/issues/{open_issue.number}/events")
    assert empty.json() == []
