"""The replay sends a recorded run's requests again, page chains in order, with fresh tokens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from bench.replay import Credentials, ReplayError, chains_of, replay
from connectors.base import GitHubListSelector, JiraSelector
from connectors.github import GitHubConnector
from connectors.jira import JiraConnector
from sandbox.github_data import ORG, REPO_NAMES
from sandbox.recording import RecordedRequest
from sandbox.server import (
    SANDBOX_GITHUB_TOKEN,
    SANDBOX_JIRA_EMAIL,
    SANDBOX_JIRA_TOKEN,
    Sandbox,
    SandboxOptions,
    build_sandbox,
)

ANCHOR = datetime(2026, 3, 1, 12, tzinfo=UTC)
CREDENTIALS = Credentials(SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN, SANDBOX_GITHUB_TOKEN)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    sandbox = build_sandbox(
        SandboxOptions(seed=6, anchor=ANCHOR),
        jira_issues=200,
        jira_projects=2,
        github_repos=2,
        github_pulls=160,
        github_issues=10,
    )
    with sandbox.start() as running:
        yield running


def record_a_run(box: Sandbox) -> list[RecordedRequest]:
    jira = JiraConnector(
        box.jira_url,
        email=SANDBOX_JIRA_EMAIL,
        token=SecretStr(SANDBOX_JIRA_TOKEN),
        item_page_size=30,
    )
    github = GitHubConnector(
        base_url=box.github_url, token=SecretStr(SANDBOX_GITHUB_TOKEN), per_page=30
    )
    box.recorder.start()
    jira.items(JiraSelector("project = APP"), frozenset())
    jira.items(JiraSelector("project = WEB AND statusCategory != Done"), frozenset())
    jira.count(JiraSelector("project = WEB", approximate_count=True))
    for name in REPO_NAMES[:2]:
        github.items(GitHubListSelector(f"{ORG}/{name}", "pull_request"), frozenset())
    return box.recorder.take()


def endpoint_counts(box: Sandbox) -> Counter[str]:
    assert box.jira_app is not None and box.github_app is not None
    return Counter({f"jira {k}": v for k, v in box.jira_app.requests.items()}) + Counter(
        {f"github {k}": v for k, v in box.github_app.requests.items()}
    )


def test_replay_sends_every_recorded_request_again_in_its_chains(box: Sandbox) -> None:
    recorded = record_a_run(box)
    chains = chains_of(recorded)
    assert sum(len(chain.requests) for chain in chains) == len(recorded)
    assert max(len(c.requests) for c in chains if c.tracker == "jira") >= 3  # pages of APP
    assert sum(1 for c in chains if c.tracker == "github" and len(c.requests) > 1) == 2
    before = endpoint_counts(box)
    assert box.jira_app is not None
    box.jira_app._snapshots.clear()  # the run's page tokens are dead: the replay needs its own

    sent = replay(box.url, recorded, concurrency={"jira": 2, "github": 2}, credentials=CREDENTIALS)

    replayed = endpoint_counts(box) - before
    assert sent["jira"] + sent["github"] == len(recorded)
    assert replayed == before  # the same requests per endpoint as the recorded run
    assert replayed["jira search/approximate-count"] == 1


def test_a_request_the_sandbox_refuses_stops_the_replay(box: Sandbox) -> None:
    recorded = record_a_run(box)
    recorded[-1] = replace(recorded[-1], path="/github/repos/acme/no-such-repo/pulls")
    with pytest.raises(ReplayError, match="no-such-repo/pulls: 404"):
        replay(box.url, recorded, concurrency={"jira": 1, "github": 1}, credentials=CREDENTIALS)
