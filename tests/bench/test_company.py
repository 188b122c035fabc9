"""The benchmark's company looks like a real one: three years of history, a monorepo with
thousands of closed pull requests, and one to three key results a query, some shared.

The data set the benchmark asks its sandbox for (`sandbox_spec`) is checked at a tiny scale;
the demo's and the tests' data set (the generators' defaults) stays a year without a monorepo.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bench.runner import Parameters, build_mapping, sandbox_spec
from config.loader import load_mapping_text
from connectors.base import GitHubListSelector, Selector
from sandbox.github_data import BIG_REPO_NAME, ORG, GitHubDataset, build_github_dataset
from sandbox.jira_data import JiraDataset, build_jira_dataset
from sandbox.server import SandboxOptions, build_sandbox
from sync.plan import plan_queries

ANCHOR = datetime(2026, 11, 29, 12, tzinfo=UTC)
TODAY = ANCHOR.date()
TINY = Parameters(scale=0.05)
BIG_REPO = f"{ORG}/{BIG_REPO_NAME}"


@pytest.fixture(scope="module")
def company() -> tuple[JiraDataset, GitHubDataset]:
    """The sandbox data the benchmark asks for, at a twentieth of the default scale."""
    spec = sandbox_spec(TINY.scaled(), ANCHOR)
    box = build_sandbox(
        SandboxOptions(seed=spec.seed, anchor=ANCHOR),
        jira_issues=spec.jira_issues,
        jira_projects=spec.jira_projects,
        github_repos=spec.github_repos,
        github_pulls=spec.github_pulls,
        github_issues=spec.github_issues,
        history_days=spec.history_days,
        github_big_repo_pulls=spec.github_big_repo_pulls,
    )
    return box.jira_data, box.github_data


def _years_of(created: list[datetime], anchor: datetime) -> float:
    return (anchor - min(created)).days / 365


def test_items_were_created_over_three_years_and_most_are_closed(
    company: tuple[JiraDataset, GitHubDataset],
) -> None:
    jira, github = company
    assert sandbox_spec(TINY.scaled(), ANCHOR).history_days == 3 * 365
    assert 2.5 < _years_of([i.created for i in jira.issues], jira.anchor) <= 3
    assert 2.5 < _years_of([i.created_at for i in github.all_items], github.anchor) <= 3
    done = sum(issue.status_category == "done" for issue in jira.issues)
    assert done > 0.8 * len(jira.issues)
    closed = sum(item.state == "closed" for item in github.all_items)
    assert closed > 0.8 * len(github.all_items)


def test_the_monorepo_holds_its_closed_pull_requests_and_a_few_open_ones(
    company: tuple[JiraDataset, GitHubDataset],
) -> None:
    _, github = company
    params = TINY.scaled()
    assert params.github_big_repo_pulls == round(20_000 * 0.05)
    pulls = github.items_of(BIG_REPO)
    states = Counter(pull.state for pull in pulls)
    assert states["closed"] == params.github_big_repo_pulls
    assert 0 < states["open"] < states["closed"] / 10
    assert all(pull.is_pull_request for pull in pulls)
    assert [pull.number for pull in pulls] == list(range(1, len(pulls) + 1))
    other_repos = [name for name in github.repos if name != BIG_REPO]
    assert len(other_repos) == params.github_repos
    # Ids stay unique across the organisation.
    ids = [item.id for item in github.all_items]
    assert len(ids) == len(set(ids))


def test_the_monorepo_scales_with_the_rest() -> None:
    assert Parameters(scale=5).scaled().github_big_repo_pulls == 100_000
    assert Parameters().scaled().github_big_repo_pulls == 20_000


def test_the_generators_defaults_keep_a_year_and_no_monorepo() -> None:
    """The demo and the tests build with the defaults: their data set does not change."""
    github = build_github_dataset(seed=7, anchor=ANCHOR, n_pulls=200, n_issues=50)
    jira = build_jira_dataset(seed=7, anchor=ANCHOR, n_issues=300)
    assert BIG_REPO not in github.repos
    year_ago = ANCHOR - timedelta(days=365)
    assert min(item.created_at for item in github.all_items) >= year_ago
    assert min(issue.created for issue in jira.issues) >= year_ago
    # The defaults spelled out give the very same items as before the options existed.
    spelled = build_github_dataset(
        seed=7, anchor=ANCHOR, n_pulls=200, n_issues=50, history_days=365, big_repo_closed_pulls=0
    )
    assert [repr(i) for i in spelled.all_items] == [repr(i) for i in github.all_items]


def _key_results_per_query(params: Parameters, today: date) -> Counter[Selector]:
    text = build_mapping(params, today)
    plan = plan_queries(load_mapping_text(text, source_name="company", today=today), today=today)
    readers: Counter[Selector] = Counter()
    for kr in plan.key_results:
        metrics = [kr.metric] if kr.metric is not None else list(kr.inputs.values())
        for metric in metrics:
            readers[metric.selector] += 1
    return readers


def test_one_to_three_key_results_read_each_query_some_of_them_shared() -> None:
    readers = _key_results_per_query(TINY.scaled(), TODAY)
    spread = Counter(readers.values())
    assert set(spread) == {1, 2, 3}
    assert spread[1] > len(readers) / 2  # most queries are a key result's own
    for tracker in ("jira", "github"):
        mine = Counter(n for selector, n in readers.items() if selector.source == tracker)
        assert mine[1] > 0 and mine[2] + mine[3] > 0, tracker


def test_the_monorepo_has_an_open_pull_requests_key_result() -> None:
    readers = _key_results_per_query(TINY.scaled(), TODAY)
    open_pulls = GitHubListSelector(repo=BIG_REPO, kind="pull_request", state="open")
    assert readers[open_pulls] >= 1
    text = build_mapping(TINY.scaled(), TODAY)
    assert "Open pull requests" in text


def test_no_monorepo_in_the_mapping_without_its_pull_requests() -> None:
    without = replace(TINY.scaled(), github_big_repo_pulls=0)
    assert BIG_REPO not in build_mapping(without, TODAY)
