"""The request recorder: what reached the trackers, grouped into chains of pages."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from connectors.base import GitHubListSelector, JiraSelector
from connectors.github import GitHubConnector
from connectors.jira import JiraConnector
from sandbox.github_data import ORG, REPO_NAMES
from sandbox.server import (
    SANDBOX_GITHUB_TOKEN,
    SANDBOX_JIRA_EMAIL,
    SANDBOX_JIRA_TOKEN,
    Sandbox,
    SandboxOptions,
    build_sandbox,
)

ANCHOR = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    sandbox = build_sandbox(
        SandboxOptions(seed=5, anchor=ANCHOR),
        jira_issues=150,
        jira_projects=1,
        github_repos=1,
        github_pulls=130,
        github_issues=10,
    )
    with sandbox.start() as running:
        yield running


def jira(box: Sandbox) -> JiraConnector:
    return JiraConnector(
        box.jira_url,
        email=SANDBOX_JIRA_EMAIL,
        token=SecretStr(SANDBOX_JIRA_TOKEN),
        item_page_size=40,
    )


def test_pages_of_one_query_share_a_chain_and_other_requests_stand_alone(box: Sandbox) -> None:
    box.recorder.start()
    items = jira(box).items(JiraSelector("created >= -3650d"), frozenset())
    github = GitHubConnector(
        base_url=box.github_url, token=SecretStr(SANDBOX_GITHUB_TOKEN), per_page=50
    )
    pulls = github.items(GitHubListSelector(f"{ORG}/{REPO_NAMES[0]}", "pull_request"), frozenset())
    recorded = box.recorder.take()

    searches = [r for r in recorded if r.path.endswith("/search/jql")]
    assert len(items) == 150 and len(searches) == 4  # 40 a page
    assert len({r.chain for r in searches}) == 1 and searches[0].chain is not None
    assert "nextPageToken" not in searches[0].query
    assert all("nextPageToken" in r.query for r in searches[1:])

    listings = [r for r in recorded if r.path.endswith("/pulls")]
    assert len(pulls) == 130 and len(listings) == 3  # 50 a page
    assert len({r.chain for r in listings}) == 1 and listings[0].chain is not None
    assert listings[0].chain != searches[0].chain

    others = [r for r in recorded if r not in searches and r not in listings]
    assert others and all(r.chain is None for r in others)  # e.g. the field list
    assert all(r.path.startswith(("/jira/", "/github/")) for r in recorded)


def test_recording_keeps_bodies_ignores_control_routes_and_stops_when_taken(box: Sandbox) -> None:
    box.recorder.start()
    connector = jira(box)
    assert connector.count(JiraSelector("project = APP", approximate_count=True)) >= 0
    urllib.request.urlopen(f"{box.url}/_sandbox/requests", timeout=10).close()
    recorded = box.recorder.take()
    counts = [r for r in recorded if r.path.endswith("/search/approximate-count")]
    assert len(counts) == 1
    assert counts[0].method == "POST" and "project = APP" in counts[0].body
    assert counts[0].content_type.startswith("application/json")
    assert not [r for r in recorded if r.path.startswith("/_sandbox")]

    connector.count(JiraSelector("project = APP", approximate_count=True))
    assert box.recorder.take() == []  # not recording any more
