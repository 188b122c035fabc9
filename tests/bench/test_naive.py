"""The naive way pages as the libraries' documented defaults imply, request for request."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bench.naive import NAIVE, Credentials, NaiveWay, Techniques
from connectors.base import GitHubListSelector, GitHubSearchSelector, JiraSelector
from sandbox.github_data import GitHubPull
from sandbox.server import (
    SANDBOX_GITHUB_TOKEN,
    SANDBOX_JIRA_EMAIL,
    SANDBOX_JIRA_TOKEN,
    Sandbox,
    SandboxOptions,
    build_sandbox,
)

ANCHOR = datetime(2026, 3, 1, 12, tzinfo=UTC)
ALL_FIELDS_PAGE = 100  # search/jql with every field (`*all`): "about 100" (shared/reference)
LIBRARY_BATCH = 100  # what `jira` asks a page with maxResults=False on Cloud
PYGITHUB_PAGE = 30


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = build_sandbox(
        SandboxOptions(seed=6, anchor=ANCHOR),
        jira_issues=260,
        jira_projects=2,
        github_repos=2,
        github_pulls=170,
        github_issues=10,
    )
    with sandbox.start() as running:
        yield running


def naive(box: Sandbox, techniques: Techniques = NAIVE) -> NaiveWay:
    return NaiveWay(
        Credentials(
            box.jira_url,
            SANDBOX_JIRA_EMAIL,
            SANDBOX_JIRA_TOKEN,
            box.github_url,
            SANDBOX_GITHUB_TOKEN,
        ),
        techniques,
    )


def counted(box: Sandbox) -> dict[str, int]:
    assert box.jira_app is not None and box.github_app is not None
    jira = {f"jira {k}": v for k, v in box.jira_app.requests.items()}
    return jira | {f"github {k}": v for k, v in box.github_app.requests.items()}


def reset(box: Sandbox) -> None:
    assert box.jira_app is not None and box.github_app is not None
    box.jira_app.reset_counts()
    box.github_app.reset_counts()


def test_jira_items_come_a_full_page_at_a_time_with_the_library_defaults(box: Sandbox) -> None:
    issues = len(box.jira_data.by_project["APP"])
    assert issues > LIBRARY_BATCH  # more than one page either way
    reset(box)
    way = naive(box)
    found = way.items(JiraSelector("project = APP"), frozenset())
    assert len(found) == issues
    # serverInfo when the client is made; the field list twice: once for story points, once
    # by the library itself (the name -> id cache `search_issues` translates fields with);
    # then the pages: the library asks 100 with every field, Cloud answers fewer (50 here).
    assert counted(box) == {
        "jira serverInfo": 1,
        "jira field": 2,
        "jira search/jql": math.ceil(issues / ALL_FIELDS_PAGE),
    }


def test_jira_items_with_only_the_fields_read_come_100_a_page(box: Sandbox) -> None:
    issues = len(box.jira_data.by_project["APP"])
    way = naive(box, Techniques(largest_pages=True))
    reset(box)
    way.items(JiraSelector("project = APP"), frozenset())
    assert counted(box)["jira search/jql"] == math.ceil(issues / LIBRARY_BATCH)


def test_jira_count_pages_ids_100_at_a_time_or_5000_with_largest_pages(box: Sandbox) -> None:
    issues = len(box.jira_data.issues)
    assert issues > LIBRARY_BATCH
    way = naive(box)
    assert way.jira.client.deploymentType == "Cloud"  # made (serverInfo) before counting
    reset(box)
    assert way.count(JiraSelector("project in (APP, WEB)")) == issues
    # (the library's own field list, loaded by its first search, then the pages of ids)
    assert counted(box) == {"jira field": 1, "jira search/jql": math.ceil(issues / LIBRARY_BATCH)}
    largest = naive(box, Techniques(largest_pages=True))
    assert largest.jira.client.deploymentType == "Cloud"
    reset(box)
    assert largest.count(JiraSelector("project in (APP, WEB)")) == issues
    assert counted(box) == {"jira field": 1, "jira search/jql": 1}


def test_github_listing_pages_at_30_and_counts_in_one_request(box: Sandbox) -> None:
    repo = next(iter(box.github_data.repos))
    pulls = [i for i in box.github_data.items_of(repo) if isinstance(i, GitHubPull)]
    opened = [p for p in pulls if p.state == "open"]
    assert len(pulls) > PYGITHUB_PAGE
    way = naive(box)
    reset(box)
    listed = way.github.items(GitHubListSelector(repo, "pull_request", state="all"))
    assert len(listed) == len(pulls)
    assert counted(box) == {
        "github repo": 1,  # get_repo, once
        "github pulls": math.ceil(len(pulls) / PYGITHUB_PAGE),
    }
    reset(box)
    assert way.count(GitHubListSelector(repo, "pull_request", state="open")) == len(opened)
    assert counted(box) == {"github pulls": 1}  # totalCount: one item a page, the last page
    reset(box)
    total = way.count(GitHubSearchSelector(f"repo:{repo} is:pr"))
    assert total == len(pulls)
    assert counted(box) == {"github search_issues": 1}  # total_count of the first page


def test_items_for_counts_pages_the_items_instead(box: Sandbox) -> None:
    repo = next(iter(box.github_data.repos))
    pulls = [i for i in box.github_data.items_of(repo) if isinstance(i, GitHubPull)]
    opened = [p for p in pulls if p.state == "open"]
    way = naive(box, Techniques(server_counts=False))
    way.github.items(GitHubListSelector(repo, "pull_request", state="open"))  # get_repo
    reset(box)
    assert way.count(GitHubListSelector(repo, "pull_request", state="open")) == len(opened)
    assert counted(box) == {"github pulls": max(1, math.ceil(len(opened) / PYGITHUB_PAGE))}
