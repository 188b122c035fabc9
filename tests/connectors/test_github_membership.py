"""The membership check's batches and halving, against the sandbox through PyGithub: many
repositories a search, within GitHub's query length, and the listing that lost an issue found
in about log2(n) searches more."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from connectors.base import GitHubSearchSelector, QueryError, WorkItem
from connectors.changes import FetchUnit, StageCosts
from connectors.github import GitHubConnector
from connectors.github_membership import (
    LOST,
    MAX_QUERY_LENGTH,
    MOVED,
    STAGE,
    HeldCount,
    MembershipCheck,
    batches,
    count_check,
)
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from tests.connectors.test_github import connect

ODD = "acme/.Web_v2.0-beta"


@pytest.fixture
def box() -> Iterator[Sandbox]:
    box = build_sandbox(
        SandboxOptions(seed=23, anchor=datetime.now(UTC).replace(microsecond=0)),
        jira_issues=10,
        jira_projects=1,
        github_repos=8,
        github_pulls=40,
        github_issues=400,
    ).start()
    box.github_data.rename("acme/web", ODD)
    try:
        yield box
    finally:
        box.stop()


def listing(repo: str, size: int, qualifiers: str = "is:issue") -> HeldCount:
    return HeldCount(repo, f"{repo} issues", qualifiers, (repo,), size)


def held_as_on_github(box: Sandbox) -> list[HeldCount]:
    """Each repository's issue listing as the cache would hold it: every issue it has."""
    return [
        listing(repo, sum(1 for i in box.github_data.issues if i.repo == repo))
        for repo in sorted(box.github_data.repos)
    ]


def membership(connector: GitHubConnector) -> tuple[MembershipCheck, StageCosts]:
    costs = StageCosts()
    check = MembershipCheck(lambda q: connector.count(GitHubSearchSelector(q)), costs)
    return check, costs


def searches(box: Sandbox) -> int:
    assert box.github_app is not None
    found = box.github_app.requests["search_issues"]
    box.github_app.reset_counts()
    return found


def test_listings_of_equal_qualifiers_share_searches_within_the_query_length() -> None:
    open_since = "is:issue is:open updated:>=2026-10-01T00:00:00Z"
    repos = [f"some-long-owner-name/repository-number-{n:02}" for n in range(30)]
    checks = [listing(r, 1) for r in repos] + [listing(r, 1, open_since) for r in repos[:3]]
    searched = HeldCount("s", "a search", "org:acme is:issue label:bug", (), 4)
    found = batches([*checks, searched])
    queries = [batch.query for batch in found]
    assert all(len(q) <= MAX_QUERY_LENGTH for q in queries)
    assert "org:acme is:issue label:bug" in queries  # a search is checked alone
    plain = [b for b in found if b.checks[0].qualifiers == "is:issue"]
    # "is:issue" and five " repo:some-long-owner-name/repository-number-NN": 8 + 5 x 47 = 243
    assert [len(b.checks) for b in plain] == [5] * 6
    assert sorted(r for b in plain for c in b.checks for r in c.repos) == repos  # each once
    opened = [b for b in found if b.checks[0].qualifiers == open_since]
    assert len(opened) == 1 and opened[0].query.startswith(open_since + " repo:")
    assert sum(b.size for b in found) == 30 + 3 + 4


def test_nothing_lost_costs_one_search(box: Sandbox) -> None:
    check, costs = membership(connect(box))
    held = held_as_on_github(box)
    assert any(c.repos == (ODD,) for c in held)
    searches(box)
    assert check.missing(held) == {}
    assert searches(box) == 1 == costs.by_stage[STAGE].requests


def test_the_listing_that_lost_an_issue_is_found_by_halving(box: Sandbox) -> None:
    check, costs = membership(connect(box))
    held = held_as_on_github(box)
    box.github_data.delete(next(i for i in box.github_data.issues if i.repo == ODD))
    searches(box)
    assert check.missing(held) == {ODD: LOST}
    assert searches(box) == 1 + math.log2(len(held)) == costs.by_stage[STAGE].requests


def test_a_deletion_and_a_transfer_are_both_found(box: Sandbox) -> None:
    check, _ = membership(connect(box))
    *held, target = held_as_on_github(box)  # the change feed names the target: not checked
    first, last = held[0].key, held[-1].key
    box.github_data.delete(next(i for i in box.github_data.issues if i.repo == first))
    moved = next(i for i in box.github_data.issues if i.repo == last)
    box.github_data.transfer(moved, target.key, datetime.now(UTC).replace(microsecond=0))
    searches(box)
    assert check.missing(held) == {first: LOST, last: LOST}
    assert searches(box) <= 1 + 2 * math.ceil(math.log2(len(held)))


def test_a_refused_repository_is_found_and_raised(box: Sandbox) -> None:
    check, _ = membership(connect(box))
    held = held_as_on_github(box)
    box.github_data.rename("acme/api", "acme/api-renamed")
    searches(box)
    with pytest.raises(QueryError, match="422"):
        check.missing(held)
    assert searches(box) <= 1 + 2 * math.log2(len(held))


@dataclass
class CachedCount:
    """A cached search count as the change feed reads it (the store's entry in a run)."""

    count: int | None
    needs: frozenset[str] = frozenset()
    horizon: datetime | None = None
    items: dict[str, WorkItem] = field(default_factory=dict)
    size: int = 0
    members: dict[str, str | None] = field(default_factory=dict)


def count_unit(query: str) -> FetchUnit:
    return FetchUnit("github", "github-search-count", query, selector=GitHubSearchSelector(query))


@pytest.mark.parametrize(
    ("query", "repos", "qualifiers"),
    [
        ('repo:acme/api is:issue is:open label:"customer"', ("acme/api",), None),
        (f"repo:{ODD} is:issue", (ODD,), "is:issue"),
        (
            'repo:"acme/api" is:issue label:"good first issue"  label:"a  b"',
            ('"acme/api"',),
            'is:issue label:"good first issue" label:"a  b"',
        ),
        ('repo:a/x repo:a/y is:issue "NOT this (quoted)"', ("a/x", "a/y"), None),
    ],
)
def test_a_count_of_repositories_joins_a_batch_by_its_other_qualifiers(
    query: str, repos: tuple[str, ...], qualifiers: str | None
) -> None:
    check = count_check(count_unit(query), CachedCount(count=3))
    assert check is not None
    assert check.repos == repos and check.size == 3 and check.differs == MOVED
    expected = qualifiers or " ".join(t for t in query.split() if not t.startswith("repo:"))
    assert check.qualifiers == expected


@pytest.mark.parametrize(
    "query",
    [
        "org:acme is:issue label:bug",  # an owner: the change feed cannot say it stood
        "repo:acme/api user:someone is:issue",
        "repo:acme/api is:issue -repo:acme/web",
        "repo:acme/api is:issue label:bug OR label:customer",
        "repo:acme/api is:issue (label:bug label:customer)",
        'repo:acme/api is:issue label:"unclosed',
        "is:issue label:bug",  # not confined
    ],
)
def test_a_count_that_oring_repositories_would_change_is_not_batched(query: str) -> None:
    assert count_check(count_unit(query), CachedCount(count=3)) is None


def test_a_count_held_without_a_count_is_not_batched() -> None:
    assert count_check(count_unit("repo:acme/api is:issue"), CachedCount(count=None)) is None


def test_a_batch_never_names_a_repository_twice() -> None:
    unit = count_unit("repo:acme/api repo:acme/web is:issue")
    both = count_check(unit, CachedCount(count=5))
    assert both is not None
    found = batches([both, listing("acme/API", 2), listing("acme/billing", 1)])
    assert len(found) == 2  # acme/api in both: never one search
    assert sorted(c.key for b in found for c in b.checks) == sorted(
        [both.key, "acme/API", "acme/billing"]
    )
    for batch in found:
        named = [t.lower() for t in batch.query.split() if t.startswith("repo:")]
        assert len(named) == len(set(named))


def test_counts_and_listings_are_checked_together_against_the_sandbox(box: Sandbox) -> None:
    check, costs = membership(connect(box))
    repos = sorted(box.github_data.repos)
    listings = held_as_on_github(box)
    counted = {
        repo: sum(
            1
            for i in box.github_data.issues
            if i.repo == repo and "good first issue" in i.labels and i.state == "open"
        )
        for repo in repos
    }
    query = 'repo:{} is:issue is:open label:"good first issue"'
    counts = [
        count_check(count_unit(query.format(r)), CachedCount(count=counted[r])) for r in repos
    ]
    held = [*listings, *(c for c in counts if c is not None)]
    assert len(held) == 2 * len(repos)
    searches(box)
    assert check.missing(held) == {}
    assert searches(box) == 2 == costs.by_stage[STAGE].requests  # one per qualifiers
    victim = next(r for r in sorted(repos, key=lambda r: r != ODD) if counted[r])
    gone = next(
        i
        for i in box.github_data.issues
        if i.repo == victim and "good first issue" in i.labels and i.state == "open"
    )
    box.github_data.delete(gone)
    moved = next(c for c in counts if c is not None and c.repos == (victim,))
    assert check.missing(held) == {victim: LOST, moved.key: MOVED}


def test_a_count_of_a_renamed_repository_is_found_and_raised(box: Sandbox) -> None:
    check, _ = membership(connect(box))
    query = "repo:{} is:issue label:bug"
    counts = [
        count_check(
            count_unit(query.format(repo)),
            CachedCount(
                count=sum(i.repo == repo and "bug" in i.labels for i in box.github_data.issues)
            ),
        )
        for repo in sorted(box.github_data.repos)
    ]
    held = [c for c in counts if c is not None]
    box.github_data.rename("acme/api", "acme/api-renamed")
    searches(box)
    with pytest.raises(QueryError, match="422"):
        check.missing(held)
    assert searches(box) <= 1 + 2 * math.log2(len(held))
