"""GitHub's floor counts its listings on each repository's issue listing, read through
PyGithub from the sandbox: pull requests included, as GitHub lists them as issues."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from github import Auth, Github

from bench.floor_github import read_listings
from sandbox.github_data import GitHubPull
from sandbox.server import SANDBOX_GITHUB_TOKEN, Sandbox, SandboxOptions, build_sandbox

ANCHOR = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = build_sandbox(
        SandboxOptions(seed=8, anchor=ANCHOR),
        jira_issues=10,
        jira_projects=1,
        github_repos=2,
        github_pulls=130,
        github_issues=40,
    )
    with sandbox.start() as running:
        yield running


def test_the_issue_listing_holds_every_issue_and_pull_request_with_its_state(
    box: Sandbox,
) -> None:
    repo = next(iter(box.github_data.repos))
    items = box.github_data.items_of(repo)
    client = Github(auth=Auth.Token(SANDBOX_GITHUB_TOKEN), base_url=box.github_url, per_page=100)
    listing = read_listings(client, [repo.upper()])[repo.lower()]
    assert len(listing.entries) == len(items)
    assert sum(entry.pull_request for entry in listing.entries) == sum(
        isinstance(item, GitHubPull) for item in items
    )
    assert sum(entry.is_open for entry in listing.entries) == sum(
        item.state == "open" for item in items
    )
    assert sorted(entry.updated_at for entry in listing.entries) == sorted(
        item.updated_at for item in items
    )
