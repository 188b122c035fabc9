"""The sandbox's Jira REST API over raw HTTP: page shapes, error bodies and authentication."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import pytest
import requests
from werkzeug.test import Client

from sandbox.jira_api import JiraApp
from sandbox.jira_data import build_jira_dataset
from sandbox.server import SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN, Sandbox
from tests.conftest import ANCHOR

AUTH = (SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN)
JIRA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def jira_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def test_search_jql_pages_with_next_page_token(sandbox: Sandbox) -> None:
    url = f"{sandbox.jira_url}/rest/api/3/search/jql"
    expected = sorted((i.id for i in sandbox.jira_data.issues if i.project == "APP"), reverse=True)
    first = requests.get(url, params={"jql": "project = APP"}, auth=AUTH, timeout=10).json()
    assert len(first["issues"]) == 50  # default page
    assert first["isLast"] is False and first["nextPageToken"]
    assert "total" not in first
    assert first["issues"][0] == {"id": str(expected[0])}  # no fields asked: ids only

    seen: list[int] = []
    token = None
    pages = 0
    while True:
        params = {"jql": "project = APP", "maxResults": 5000, "fields": "id"}
        if token:
            params["nextPageToken"] = token
        body = requests.get(url, params=params, auth=AUTH, timeout=10).json()
        pages += 1
        seen.extend(int(issue["id"]) for issue in body["issues"])
        token = body.get("nextPageToken")
        if body["isLast"]:
            assert token is None
            break
    assert pages == 1 and seen == expected


def test_search_jql_caps_pages_with_fields_at_100(sandbox: Sandbox) -> None:
    url = f"{sandbox.jira_url}/rest/api/3/search/jql"
    body = requests.post(
        url,
        json={"jql": "project = WEB", "fields": ["summary", "status"], "maxResults": 1000},
        auth=AUTH,
        timeout=10,
    ).json()
    assert len(body["issues"]) == 100
    web = sorted((i for i in sandbox.jira_data.issues if i.project == "WEB"), key=lambda i: -i.id)
    first = body["issues"][0]
    assert first["key"] == web[0].key
    assert set(first["fields"]) == {"summary", "status"}
    assert first["fields"]["status"]["statusCategory"]["key"] == web[0].status_category
    assert first["self"].startswith(f"{sandbox.jira_url}/rest/api/3/issue/")


def search_jql(box: Sandbox, **params: object) -> requests.Response:
    url = f"{box.jira_url}/rest/api/3/search/jql"
    return requests.get(url, params=params, auth=AUTH, timeout=10)  # type: ignore[arg-type]


def post_v3(box: Sandbox, path: str, body: dict[str, object]) -> requests.Response:
    """`body` as JSON to `/rest/api/3/<path>`, with the sandbox's credentials."""
    return requests.post(f"{box.jira_url}/rest/api/3/{path}", json=body, auth=AUTH, timeout=10)


def walk_pages(box: Sandbox, **params: object) -> list[list[dict[str, object]]]:
    """Every page of a search/jql, following `nextPageToken` until `isLast`."""
    pages: list[list[dict[str, object]]] = []
    token = None
    while True:
        body = search_jql(box, **params, **({"nextPageToken": token} if token else {})).json()
        assert "total" not in body  # search/jql never says how many match
        pages.append(body["issues"])
        token = body.get("nextPageToken")
        assert body["isLast"] is (token is None)  # a token only while there is more
        if token is None:
            return pages


@pytest.mark.parametrize("fields", [None, "id"])
def test_search_jql_id_pages_hold_ids_alone(sandbox: Sandbox, fields: str | None) -> None:
    """`id` "Returns only issue IDs" and is the default: no key, no self, no fields."""
    params = {"jql": "project = APP", "maxResults": 5000}
    issues = search_jql(sandbox, **params, **({"fields": fields} if fields else {})).json()[
        "issues"
    ]
    app = sorted((i for i in sandbox.jira_data.issues if i.project == "APP"), key=lambda i: -i.id)
    assert issues == [{"id": str(i.id)} for i in app]


def test_search_jql_key_pages_carry_keys_at_the_id_page_size(sandbox: Sandbox) -> None:
    issues = search_jql(sandbox, jql="project = APP", fields="key", maxResults=5000).json()
    app = sorted((i for i in sandbox.jira_data.issues if i.project == "APP"), key=lambda i: -i.id)
    assert len(issues["issues"]) == len(app) > 100
    assert [(i["id"], i["key"]) for i in issues["issues"]] == [(str(i.id), i.key) for i in app]
    assert issues["issues"][0]["self"].endswith(f"/rest/api/3/issue/{app[0].id}")


def test_an_unknown_flavour_is_refused() -> None:
    data = build_jira_dataset(seed=3, anchor=ANCHOR, n_issues=5)
    with pytest.raises(ValueError, match="unknown Jira flavour 'saas'"):
        JiraApp(data, flavour="saas", email=SANDBOX_JIRA_EMAIL, token=SANDBOX_JIRA_TOKEN)  # type: ignore[arg-type]


def test_strict_look_alike_reads_the_librarys_issuekey_as_id() -> None:
    data = build_jira_dataset(seed=3, anchor=ANCHOR, n_issues=40)
    strict = Client(
        JiraApp(
            data,
            flavour="cloud",
            email=SANDBOX_JIRA_EMAIL,
            token=SANDBOX_JIRA_TOKEN,
            bare_id_fields=frozenset({"id", "issuekey"}),
        )
    )
    basic = base64.b64encode(f"{SANDBOX_JIRA_EMAIL}:{SANDBOX_JIRA_TOKEN}".encode()).decode()
    answer = strict.get(
        "/rest/api/2/search/jql",
        query_string={"jql": "project = APP", "fields": "issuekey", "maxResults": 100},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert answer.status_code == 200
    assert all(set(issue) == {"id"} for issue in answer.json["issues"])


@pytest.mark.parametrize(
    ("fields", "expand", "heavy_page_cap", "per_page"),
    [
        ("summary,status", None, None, 100),
        ("*navigable", None, None, 100),
        ("*all", None, None, 100),  # "about 100" (shared/reference/README.md)
        ("status,created", "changelog", None, 100),
        ("summary,status", None, 50, 100),
        ("*navigable", None, 50, 50),
        ("*all", None, 50, 50),
    ],
)
def test_search_jql_answers_at_most_100_and_fewer_when_told_for_heavy_pages(
    sandbox: Sandbox, fields: str, expand: str | None, heavy_page_cap: int | None, per_page: int
) -> None:
    """About 100 a page with fields; "API may return fewer items per page where a large
    number of fields are requested": only the token says whether more follow."""
    params: dict[str, object] = {"jql": "project = WEB", "fields": fields, "maxResults": 1000}
    if expand:
        params["expand"] = expand
    assert sandbox.jira_app is not None
    sandbox.jira_app.heavy_page_cap = heavy_page_cap
    try:
        pages = walk_pages(sandbox, **params)
    finally:
        sandbox.jira_app.heavy_page_cap = None
    web = sorted((i for i in sandbox.jira_data.issues if i.project == "WEB"), key=lambda i: -i.id)
    assert [len(page) for page in pages[:-1]] == [per_page] * (len(pages) - 1)
    assert [issue["key"] for page in pages for issue in page] == [i.key for i in web]


def test_search_jql_reconcile_issues_takes_at_most_50_ids(sandbox: Sandbox) -> None:
    ids = [str(i.id) for i in sandbox.jira_data.issues[:51]]
    fine = search_jql(sandbox, jql="project = APP", reconcileIssues=ids[:50])
    assert fine.status_code == 200
    too_many = search_jql(sandbox, jql="project = APP", reconcileIssues=ids)
    assert too_many.status_code == 400
    assert too_many.json()["errorMessages"] == ["reconcileIssues accepts at most 50 issue ids."]
    not_an_id = search_jql(sandbox, jql="project = APP", reconcileIssues=["APP-1"])
    assert not_an_id.status_code == 400 and "reconcileIssues" in not_an_id.text


def test_server_search_always_carries_keys(sandbox_server: Sandbox) -> None:
    url = f"{sandbox_server.jira_url}/rest/api/2/search"
    body = requests.get(url, params={"jql": "project = APP", "fields": "id"}, auth=AUTH, timeout=10)
    first = body.json()["issues"][0]
    assert {"id", "key", "self"} <= set(first)


def test_issue_shape_like_real_jira(sandbox: Sandbox) -> None:
    data = sandbox.jira_data
    issue = next(
        i for i in data.issues if i.project == "MOB" and i.story_points and i.resolutiondate
    )
    body = requests.get(
        f"{sandbox.jira_url}/rest/api/2/issue/{issue.key}", auth=AUTH, timeout=10
    ).json()
    fields = body["fields"]
    assert body["key"] == issue.key and body["id"] == str(issue.id)
    assert fields["project"]["key"] == "MOB" and fields["project"]["simplified"] is True
    assert fields["issuetype"]["name"] == issue.issue_type
    assert fields["priority"]["name"] == issue.priority
    assert fields["status"]["name"] == issue.status
    assert (
        fields["status"]["statusCategory"]["name"]
        == {
            "new": "To Do",
            "indeterminate": "In Progress",
            "done": "Done",
        }[issue.status_category]
    )
    assert fields["customfield_10026"] == issue.story_points  # team-managed: estimate field
    assert fields["customfield_10016"] is None
    assert fields["created"] == jira_time(issue.created)
    assert fields["resolutiondate"] == jira_time(issue.resolutiondate)  # type: ignore[arg-type]
    assert JIRA_TIME.match(fields["updated"])
    assert fields["resolution"]["name"] == issue.resolution
    assignee = next(u for u in data.users if u.account_id == issue.assignee)
    assert fields["assignee"]["accountId"] == assignee.account_id
    assert fields["assignee"]["displayName"] == assignee.display_name


def test_changelog_is_paged(sandbox: Sandbox) -> None:
    issue = max(sandbox.jira_data.issues, key=lambda i: len(i.changelog))
    url = f"{sandbox.jira_url}/rest/api/3/issue/{issue.key}/changelog"
    ids: list[str] = []
    start = 0
    while True:
        page = requests.get(
            url, params={"startAt": start, "maxResults": 40}, auth=AUTH, timeout=10
        ).json()
        assert page["total"] == len(issue.changelog) and page["startAt"] == start
        ids.extend(history["id"] for history in page["values"])
        start += len(page["values"])
        if page["isLast"]:
            break
        assert page["nextPage"].endswith(f"startAt={start}&maxResults=40")
    assert ids == [entry.id for entry in issue.changelog]

    expanded = search_jql(
        sandbox, jql=f"key = {issue.key}", fields="status", expand="changelog"
    ).json()["issues"][0]["changelog"]
    assert expanded["total"] == len(issue.changelog) > 100
    assert [h["id"] for h in expanded["histories"]] == [e.id for e in issue.changelog[-100:]]


def test_approximate_count(sandbox: Sandbox) -> None:
    body = post_v3(
        sandbox, "search/approximate-count", {"jql": "project = OPS AND type = Bug"}
    ).json()
    expected = sum(
        1 for i in sandbox.jira_data.issues if i.project == "OPS" and i.issue_type == "Bug"
    )
    assert body == {"count": expected}


@pytest.mark.parametrize("path", ["search/jql", "search/approximate-count"])
def test_bad_jql_gives_jiras_400_body(sandbox: Sandbox, path: str) -> None:
    response = post_v3(sandbox, path, {"jql": "project = XYZ"})
    assert response.status_code == 400
    assert response.json() == {
        "errorMessages": ["The value 'XYZ' does not exist for the field 'project'."],
        "errors": {},
    }


def test_cloud_refuses_unbounded_queries_and_the_removed_search(sandbox: Sandbox) -> None:
    unbounded = search_jql(sandbox, jql="order by key")
    assert unbounded.status_code == 400
    assert "Unbounded JQL queries are not allowed" in unbounded.json()["errorMessages"][0]
    gone = requests.get(f"{sandbox.jira_url}/rest/api/3/search", auth=AUTH, timeout=10)
    assert gone.status_code == 410


def test_cloud_authentication(sandbox: Sandbox) -> None:
    url = f"{sandbox.jira_url}/rest/api/3/myself"
    assert requests.get(url, auth=AUTH, timeout=10).status_code == 200
    for auth in [None, (SANDBOX_JIRA_EMAIL, "wrong"), ("someone@example.com", SANDBOX_JIRA_TOKEN)]:
        response = requests.get(url, auth=auth, timeout=10)
        assert response.status_code == 401
        assert response.text == "Client must be authenticated to access this resource."
    bearer = {"Authorization": f"Bearer {SANDBOX_JIRA_TOKEN}"}
    assert requests.get(url, headers=bearer, timeout=10).status_code == 401  # no PATs on Cloud
    info = requests.get(f"{sandbox.jira_url}/rest/api/2/serverInfo", timeout=10).json()
    assert info["deploymentType"] == "Cloud" and info["baseUrl"] == sandbox.jira_url


def test_server_search_pages_with_start_at_and_total(sandbox_server: Sandbox) -> None:
    url = f"{sandbox_server.jira_url}/rest/api/2/search"
    data = sandbox_server.jira_data
    expected = sorted(i.key for i in data.issues if i.issue_type == "Story")
    count_only = requests.get(
        url, params={"jql": "type = Story", "maxResults": 0}, auth=AUTH, timeout=10
    ).json()
    assert count_only["total"] == len(expected) and count_only["issues"] == []

    keys: list[str] = []
    start = 0
    while start < len(expected):
        page = requests.get(
            url,
            params={
                "jql": "type = Story",
                "startAt": start,
                "maxResults": 5000,
                "fields": "summary",
            },
            headers={"Authorization": f"Bearer {SANDBOX_JIRA_TOKEN}"},
            timeout=10,
        ).json()
        assert page["maxResults"] == 1000 and page["startAt"] == start
        assert page["total"] == len(expected)
        keys.extend(issue["key"] for issue in page["issues"])
        start += len(page["issues"])
    assert sorted(keys) == expected and len(keys) == len(set(keys))

    default = requests.post(url, json={"jql": "type = Story"}, auth=AUTH, timeout=10).json()
    assert len(default["issues"]) == 50
    assert "name" in default["issues"][0]["fields"]["reporter"]  # Server users have names


def test_server_flavour(sandbox_server: Sandbox) -> None:
    base = f"{sandbox_server.jira_url}/rest/api/2"
    assert requests.get(f"{base}/search/jql", auth=AUTH, timeout=10).status_code == 404
    info = requests.get(f"{base}/serverInfo", auth=AUTH, timeout=10).json()
    assert info["deploymentType"] == "Server"
    bad = requests.get(f"{base}/myself", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401
    assert bad.json()["errorMessages"] == [
        "You are not authenticated. Authentication required to perform this operation."
    ]
    bad_jql = requests.get(f"{base}/search", params={"jql": "priority = P0"}, auth=AUTH, timeout=10)
    assert bad_jql.status_code == 400
    assert bad_jql.json() == {
        "errorMessages": ["The value 'P0' does not exist for the field 'priority'."],
        "errors": {},
    }


def test_unknown_paths_and_issues_are_404(sandbox: Sandbox) -> None:
    assert (
        requests.get(f"{sandbox.jira_url}/rest/api/3/nothing", auth=AUTH, timeout=10).status_code
        == 404
    )
    missing = requests.get(f"{sandbox.jira_url}/rest/api/3/issue/APP-999999", auth=AUTH, timeout=10)
    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]


def test_request_counts_per_endpoint() -> None:
    data = build_jira_dataset(seed=1, anchor=ANCHOR, n_issues=200)
    app = JiraApp(data, flavour="cloud", email=SANDBOX_JIRA_EMAIL, token=SANDBOX_JIRA_TOKEN)
    client = Client(app)
    credentials = base64.b64encode(f"{SANDBOX_JIRA_EMAIL}:{SANDBOX_JIRA_TOKEN}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}"}
    client.get("/rest/api/2/serverInfo")
    client.get("/rest/api/3/search/jql?jql=project%3DAPP", headers=headers)
    client.get("/rest/api/3/search/jql?jql=project%3DWEB", headers=headers)
    assert app.requests == {"serverInfo": 1, "search/jql": 2}
    app.reset_counts()
    assert sum(app.requests.values()) == 0
