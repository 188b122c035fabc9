"""The naive way's streaming variant (PyGithub's lists read page by page, none kept) sends
the very requests the plain way sends and finds the same values: only memory differs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bench.naive import NAIVE, Credentials, NaiveWay, Techniques, page_by_page
from bench.runner import Parameters, build_mapping, sandbox_spec
from config.loader import load_mapping_text
from connectors.base import GitHubListSelector
from sandbox.github_data import BIG_REPO_NAME, ORG
from sandbox.server import (
    SANDBOX_GITHUB_TOKEN,
    SANDBOX_JIRA_EMAIL,
    SANDBOX_JIRA_TOKEN,
    Sandbox,
    SandboxOptions,
    build_sandbox,
)

ANCHOR = datetime(2026, 11, 29, 12, tzinfo=UTC)
TINY = Parameters(scale=0.05, key_results=40)
BIG_REPO = f"{ORG}/{BIG_REPO_NAME}"


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    """The benchmark's company (its monorepo too) at a twentieth of the default scale."""
    spec = sandbox_spec(TINY.scaled(), ANCHOR)
    sandbox = build_sandbox(
        SandboxOptions(seed=spec.seed, anchor=ANCHOR),
        jira_issues=spec.jira_issues,
        jira_projects=spec.jira_projects,
        github_repos=spec.github_repos,
        github_pulls=spec.github_pulls,
        github_issues=spec.github_issues,
        history_days=spec.history_days,
        github_big_repo_pulls=spec.github_big_repo_pulls,
    )
    with sandbox.start() as running:
        yield running


def naive(box: Sandbox, techniques: Techniques, *, streaming: bool) -> NaiveWay:
    credentials = Credentials(
        box.jira_url, SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN, box.github_url, SANDBOX_GITHUB_TOKEN
    )
    return NaiveWay(credentials, techniques, streaming=streaming)


def counted(box: Sandbox) -> dict[str, int]:
    assert box.jira_app is not None and box.github_app is not None
    jira = {f"jira {k}": v for k, v in box.jira_app.requests.items()}
    return jira | {f"github {k}": v for k, v in box.github_app.requests.items()}


def reset(box: Sandbox) -> None:
    assert box.jira_app is not None and box.github_app is not None
    box.jira_app.reset_counts()
    box.github_app.reset_counts()


@pytest.mark.parametrize(
    "techniques",
    [NAIVE, Techniques(shared_queries=True, largest_pages=True)],
    ids=["naive", "largest pages"],
)
def test_streaming_sends_the_plain_ways_requests_and_finds_its_values(
    box: Sandbox, techniques: Techniques
) -> None:
    mapping = load_mapping_text(
        build_mapping(TINY.scaled(), ANCHOR.date()), source_name="tiny", today=ANCHOR.date()
    )
    found: dict[bool, tuple[dict[str, float | None], dict[str, int]]] = {}
    for streaming in (False, True):
        reset(box)
        values = naive(box, techniques, streaming=streaming).values(mapping, as_of=ANCHOR)
        found[streaming] = values, counted(box)
    (plain_values, plain_requests), (streamed_values, streamed_requests) = found[False], found[True]
    assert plain_requests["github pulls"] > 0  # the monorepo's pull requests were listed
    assert streamed_requests == plain_requests
    assert streamed_values == plain_values
    assert len(plain_values) == TINY.key_results


def test_a_streamed_listing_keeps_none_of_its_pull_requests(box: Sandbox) -> None:
    """What streaming is for: PyGithub's list holds nothing once read page by page, where
    iterating it keeps every element (its next iteration yields them again, no request)."""
    way = naive(box, NAIVE, streaming=True)
    repo = way.github.client.get_repo(BIG_REPO)
    streamed = repo.get_pulls(state="closed")
    numbers = [pull.number for pull in page_by_page(streamed)]
    assert len(numbers) > 30  # more than one page
    reset(box)
    assert list(streamed) == []
    assert counted(box) == {}
    iterated = repo.get_pulls(state="closed")
    assert [pull.number for pull in iterated] == numbers
    reset(box)
    assert [pull.number for pull in iterated] == numbers  # kept: yielded again
    assert counted(box) == {}


def test_the_streaming_way_lists_a_selectors_items_like_the_plain_way(box: Sandbox) -> None:
    selector = GitHubListSelector(BIG_REPO, "pull_request", state="open")
    plain = naive(box, NAIVE, streaming=False).items(selector, frozenset())
    streamed = naive(box, NAIVE, streaming=True).items(selector, frozenset())
    assert streamed == plain and plain


def test_the_benchmark_streams_where_the_plain_way_would_not_fit_and_says_so() -> None:
    assert not Parameters(scale=5).scaled().naive_streaming
    assert Parameters(scale=20).scaled().naive_streaming
    assert Parameters(scale=1, naive_streaming=True).scaled().naive_streaming  # the flag
    assert vars(Parameters(scale=20).scaled())["naive_streaming"] is True  # in `parameters`
