"""The rate governor, alone and against the sandbox's rate limits (GitHub search, Jira 429)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from connectors.base import GitHubSearchSelector, JiraSelector
from connectors.github import GitHubConnector
from connectors.jira import JiraConnector
from connectors.ratelimit import RateBudgetExceeded, RateGovernor
from sandbox.github_data import build_github_dataset
from sandbox.jira_data import build_jira_dataset
from sandbox.server import SANDBOX_GITHUB_TOKEN, Sandbox, SandboxOptions

ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_spent_budget_waits_until_its_reset() -> None:
    clock = FakeClock()
    governor = RateGovernor("github", clock=clock.time, sleep=clock.sleep)
    headers = {
        "X-RateLimit-Resource": "search",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": "1010",
    }
    governor.observe(200, headers)
    governor.acquire("search")  # the last one left
    governor.acquire("core")  # another budget: not held back
    assert clock.slept == []
    governor.acquire("search")
    assert clock.slept == [pytest.approx(10.05)]
    assert governor.remaining("search") is None  # a new window: the next answer tells


def test_retry_after_holds_every_resource_back() -> None:
    clock = FakeClock()
    governor = RateGovernor("jira", clock=clock.time, sleep=clock.sleep)
    governor.observe(429, {"Retry-After": "3"})
    governor.acquire()
    assert clock.slept == [pytest.approx(3.0)]


def test_waiting_beyond_the_budget_fails_instead() -> None:
    clock = FakeClock()
    governor = RateGovernor("github", budget_s=5, clock=clock.time, sleep=clock.sleep)
    governor.observe(
        403,
        {"x-ratelimit-resource": "core", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1060"},
    )
    with pytest.raises(RateBudgetExceeded, match="5 s budget"):
        governor.acquire()
    assert clock.slept == []


def test_github_searches_beyond_the_search_limit_wait_instead_of_failing() -> None:
    data = build_github_dataset(seed=3, anchor=ANCHOR, n_repos=2, n_pulls=80, n_issues=20)
    # 4 searches a window, windows of 60 s / 30 = 2 s: 10 searches need at least 2 resets.
    options = SandboxOptions(anchor=ANCHOR, search_limit_per_minute=4, time_scale=30)
    box = Sandbox(
        options=options,
        jira_data=build_jira_dataset(seed=3, anchor=ANCHOR, n_issues=50),
        github_data=data,
    ).start()
    try:
        github = GitHubConnector(base_url=box.github_url, token=SecretStr(SANDBOX_GITHUB_TOKEN))
        queries = [f"repo:acme/api is:pr created:>=2026-{month:02d}-01" for month in range(1, 11)]
        with ThreadPoolExecutor(4) as pool:
            totals = list(pool.map(lambda q: github.count(GitHubSearchSelector(q)), queries))
        expected = [
            sum(
                1
                for p in data.pulls
                if p.repo == "acme/api" and p.created_at >= datetime(2026, m, 1, tzinfo=UTC)
            )
            for m in range(1, 11)
        ]
        assert totals == expected
        assert github.governor.waits >= 2
        assert box.github_app is not None
        assert box.github_app.requests["search_issues"] == 10  # no refused request was retried
    finally:
        box.stop()


def test_jira_429s_are_waited_out_by_every_thread() -> None:
    data = build_jira_dataset(seed=3, anchor=ANCHOR, n_issues=200)
    options = SandboxOptions(anchor=ANCHOR, jira_flavour="server", jira_rate_limit_per_s=20)
    box = Sandbox(
        options=options,
        jira_data=data,
        github_data=build_github_dataset(seed=3, anchor=ANCHOR, n_repos=1, n_pulls=10, n_issues=5),
    ).start()
    try:
        settings = box.jira_settings()
        jira = JiraConnector(
            box.jira_url,
            email=str(settings["email"]),
            token=SecretStr("sandbox-jira-token"),
            flavour="server",
        )
        projects = ["APP", "WEB", "OPS", "MOB"] * 15
        lock = threading.Lock()
        got: dict[str, int] = {}

        def count(project: str) -> None:
            value = jira.count(JiraSelector(f"project = {project}"))
            with lock:
                got[project] = value

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(count, projects))
        assert got == {p: sum(1 for i in data.issues if i.project == p) for p in set(projects)}
        assert box.jira_app is not None
        assert box.jira_app.requests["rate_limited"] > 0  # the limit was reached, and survived
    finally:
        box.stop()
