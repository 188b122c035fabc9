"""Jira's search, asked exactly as written: Cloud's `search/jql` paged by `nextPageToken`,
Server/DC's `search` paged by `startAt` up to `total`, and issue ids alone (5,000 a page on
Cloud) for counts and the change feed."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from connectors.base import ConnectorError
from connectors.jira_http import JiraHttp, JsonObject

CLOUD_ID_PAGE = 5000  # search/jql's largest page when only ids are asked for
CLOUD_ITEM_PAGE = 100  # search/jql's largest page with fields (it may answer fewer)
SERVER_ITEM_PAGE = 1000  # Server's default jira.search.views.default.max
SERVER_CHANGELOG_PAGE = 100  # issues are heavier with their changelog expanded
LONG_JQL = 1500  # characters; longer queries go in a POST body, not the URL
ID_FIELDS = ["id"]  # search/jql: "`id` Returns only issue IDs"


def ids_for_jql(http: JiraHttp, jql: str) -> set[str]:
    """Distinct ids (an issue that moves between two page requests comes twice)."""
    http.connect()
    if http.is_cloud:
        pages = cloud_pages(http, jql, ID_FIELDS, None, CLOUD_ID_PAGE)
    else:
        pages = server_pages(http, jql, ID_FIELDS, None, SERVER_ITEM_PAGE)
    return {issue_id_of(http, raw, "search") for page in pages for raw in page}


def server_count_ids(http: JiraHttp, jql: str) -> set[str] | int:
    """Server/DC, in the one request a count costs (`total`): the ids of every match when
    that request's page holds them all, else the count alone."""
    body = search_page(
        http,
        "search",
        {"jql": jql, "startAt": 0, "fields": ID_FIELDS, "maxResults": SERVER_ITEM_PAGE},
        jql,
    )
    total = int(http.read(body, "total", "search"))
    ids = {issue_id_of(http, raw, "search") for raw in body["issues"]}
    return ids if len(ids) == total else total


def issue_id_of(http: JiraHttp, raw: object, what: str) -> str:
    """An issue's id, which Jira writes as a string of digits (`"10042"`)."""
    issue_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(issue_id, bool) or not str(issue_id).isdigit():
        raise ConnectorError(
            f"Jira at {http.url} answered {what} with an issue without a numeric id "
            f"({str(issue_id)[:40]!r})",
            retryable=True,
        )
    return str(issue_id)


def search_page(http: JiraHttp, endpoint: str, params: JsonObject, jql: str) -> JsonObject:
    """One page of `search/jql` (Cloud) or `search` (Server/DC), asked exactly as written.

    A long query goes in a POST body (both endpoints take one). `fields` comes as a list,
    as the body takes it; the URL takes it comma-separated.
    """
    client = http.connect()
    asked = {name: value for name, value in params.items() if value is not None}
    use_post = len(jql) > LONG_JQL
    if not use_post:
        asked["fields"] = ",".join(asked["fields"])
    body = http.call(
        endpoint, partial(client._get_json, endpoint, params=asked, use_post=use_post), jql
    )
    issues = http.read(body, "issues", endpoint)
    if not isinstance(issues, list):
        raise ConnectorError(
            f"Jira answered {endpoint} with 'issues' that is not a list", retryable=True
        )
    return dict(body)


def cloud_pages(
    http: JiraHttp, jql: str, fields: list[str], expand: str | None, page_size: int
) -> Iterator[list[JsonObject]]:
    """search/jql, one page per `nextPageToken` until Jira says it was the last.

    A page may hold fewer issues than asked ("where a large number of fields are
    requested"), so only the token, never the page's length, says whether more follow.
    """
    token: str | None = None
    while True:
        body = search_page(
            http,
            "search/jql",
            {
                "jql": jql,
                "fields": fields,
                "maxResults": page_size,
                "expand": expand,
                "nextPageToken": token,
            },
            jql,
        )
        yield body["issues"]
        token = body.get("nextPageToken")
        if not token or body.get("isLast", False):
            return


def server_pages(
    http: JiraHttp, jql: str, fields: list[str], expand: str | None, page_size: int
) -> Iterator[list[JsonObject]]:
    """search with startAt/maxResults until `total` is reached."""
    start = 0
    while True:
        body = search_page(
            http,
            "search",
            {
                "jql": jql,
                "startAt": start,
                "fields": fields,
                "maxResults": page_size,
                "expand": expand,
            },
            jql,
        )
        issues: list[JsonObject] = body["issues"]
        total = int(http.read(body, "total", "search"))
        yield issues
        start += len(issues)
        if not issues or start >= total:
            return


# -- fields
