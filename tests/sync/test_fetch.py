"""Fetching a plan: one failing selector costs at most the retry policy's attempts."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.base import GitHubSearchSelector, JiraSelector, Selector
from connectors.github import GitHubConnector
from connectors.jira import JiraConnector
from connectors.retry import RetryPolicy
from sandbox import faults
from sandbox.faults import Fault
from sandbox.server import SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN, Sandbox
from sync.fetch import run_fetches
from sync.plan import QueryPlan

POLICY = RetryPolicy(backoff_s=0.01, backoff_max_s=0.05)


def connectors(box: Sandbox, policy: RetryPolicy) -> dict[str, JiraConnector | GitHubConnector]:
    github = box.github_settings()
    return {
        "jira": JiraConnector(
            box.jira_url,
            email=SANDBOX_JIRA_EMAIL,
            token=SecretStr(SANDBOX_JIRA_TOKEN),
            flavour="cloud",
            retry=policy,
        ),
        "github": GitHubConnector(
            base_url=str(github["base_url"]),
            token=github["token"],  # type: ignore[arg-type]
            retry=policy,
        ),
    }


@pytest.mark.parametrize("source", ["jira", "github"])
@pytest.mark.parametrize(
    "fault",
    [faults.http_error(503), faults.http_error(500), faults.rate_limited(0)],
    ids=["503", "500", "429"],
)
def test_a_tracker_failing_everything_costs_a_selector_the_policys_attempts(
    sandbox: Sandbox, source: str, fault: Fault
) -> None:
    selector: Selector = (
        JiraSelector("project = APP") if source == "jira" else GitHubSearchSelector("is:pr")
    )
    sandbox.faults.arm(f"/{source}/", fault, times=None)
    try:
        results = run_fetches(
            QueryPlan([], {}, {}, {selector}),
            connectors(sandbox, POLICY),
            concurrency={"jira": 1, "github": 1},
        )
        hits = sandbox.faults.fired
    finally:
        sandbox.faults.reset()
    outcome = results.counts[selector]
    assert outcome.count is None and outcome.error
    assert hits == POLICY.attempts  # the connector's retries, and no layer above them


def test_a_spent_budget_stops_retrying(sandbox: Sandbox) -> None:
    selector = JiraSelector("project = APP")
    sandbox.faults.arm("/jira/", faults.http_error(503), times=None)
    try:
        results = run_fetches(
            QueryPlan([], {}, {}, {selector}),
            connectors(sandbox, RetryPolicy(backoff_s=0.01, budget_s=0.0)),
            concurrency={"jira": 1, "github": 1},
        )
        hits = sandbox.faults.fired
    finally:
        sandbox.faults.reset()
    assert results.counts[selector].error and hits == 1


def test_a_transient_failure_passes_on_the_next_attempt(sandbox: Sandbox) -> None:
    expected = sum(1 for issue in sandbox.jira_data.issues if issue.project == "APP")
    selector = JiraSelector("project = APP")
    sandbox.faults.arm("/jira/", faults.connection_reset(), times=1)
    try:
        results = run_fetches(
            QueryPlan([], {}, {}, {selector}),
            connectors(sandbox, POLICY),
            concurrency={"jira": 1, "github": 1},
        )
    finally:
        sandbox.faults.reset()
    assert results.counts[selector].count == expected
