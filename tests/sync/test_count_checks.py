"""GitHub's search counts that may include issues, across many repositories: a run where
nothing changed checks them all in one search per batch instead of one search each; a
deleted or transferred issue costs the count that moved alone, a repository with changes
has its counts asked again, and every value stays a full fetch's.

Requests are counted by the sandbox, the searches sent read from its recorder, and every
value compared with a run that has no cache at all (`full_run`).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml

from config.loader import load_mapping_text
from config.mapping import MappingFile
from connectors.github_membership import MAX_QUERY_LENGTH, MOVED
from sandbox.github_data import GitHubIssue
from sandbox.server import Sandbox
from sync.engine import SyncReport
from sync.store import Store
from tests.sync.test_incremental import counted, full_run, values
from tests.sync.test_membership_checks import (
    ODD,
    PROBE,
    REPOSITORIES,
    fetched_in_full,
    repositories,
    searches,
    sync,
    with_open_issues,
)
from tests.sync.test_membership_checks import many_repositories as many_repositories
from tests.sync.test_membership_checks import store as store

CUSTOMER = "customer"
CHANGED = "fetched in full: a repository it searches changed"


def count_mapping(repos: list[str], today: date) -> MappingFile:
    """Per repository: its open customer issues, counted (the search API answers it)."""
    key_results = [
        {
            "id": f"customers-{number}",
            "title": f"Open customer issues in {repo}",
            "target": 2,
            "metric": {
                "type": "count",
                "issues": {"repo": repo, "state": "open", "labels": [CUSTOMER]},
            },
        }
        for number, repo in enumerate(repos)
    ]
    text = yaml.safe_dump(
        {
            "version": 1,
            "period": {
                "start": (today - timedelta(days=90)).isoformat(),
                "end": (today + timedelta(days=30)).isoformat(),
            },
            "objectives": [{"id": "support", "title": "Support", "key_results": key_results}],
        },
        sort_keys=False,
    )
    return load_mapping_text(text, source_name="counts", today=today)


def open_customer_issue(box: Sandbox, repo: str) -> GitHubIssue:
    return next(
        i
        for i in box.github_data.issues
        if i.repo == repo and i.state == "open" and CUSTOMER in i.labels
    )


def with_customer_issues(box: Sandbox, repos: list[str]) -> None:
    """Each repository has open issues, the first of them labelled for customers."""
    with_open_issues(box, repos, 2)
    for repo in repos:
        issue = next(i for i in box.github_data.issues if i.repo == repo and i.state == "open")
        issue.labels = tuple(sorted({*issue.labels, CUSTOMER}))


def checks_sent(box: Sandbox) -> list[str]:
    return [q for q in searches(box) if not q.startswith(PROBE)]


def first_run(box: Sandbox, url: str, store: Store) -> tuple[MappingFile, datetime, SyncReport]:
    as_of = datetime.now(UTC)
    repos = repositories(box)
    with_customer_issues(box, repos)
    mapping = count_mapping(repos, as_of.date())
    report = sync(box, url, store, mapping, as_of)
    searches(box)
    return mapping, as_of, report


def test_nothing_changed_costs_one_search_per_batch(
    many_repositories: Sandbox, database_url: str, store: Store
) -> None:
    box = many_repositories
    repos = repositories(box)
    assert ODD in repos and len(repos) == REPOSITORIES
    mapping, as_of, first = first_run(box, database_url, store)

    second = sync(box, database_url, store, mapping, as_of)
    asked = checks_sent(box)
    requests = counted(box)
    assert values(second) == values(first) == full_run(box, mapping, as_of)
    assert second.cache_units == {"cached": REPOSITORIES, "incremental": 0, "full": 0}
    # twenty counts do not fit in one query of 256 characters: two batches, not twenty
    assert len(asked) == 2 == requests["github search_issues"] - 1
    assert all(len(q) <= MAX_QUERY_LENGTH for q in asked)
    assert all(q.startswith('is:issue is:open label:"customer" repo:') for q in asked)
    named = [t.removeprefix("repo:") for q in asked for t in q.split() if t.startswith("repo:")]
    assert sorted(named, key=str.lower) == sorted(repos, key=str.lower)  # each repository once


def test_a_deleted_issue_costs_its_count_alone(
    many_repositories: Sandbox, database_url: str, store: Store
) -> None:
    box = many_repositories
    repos = repositories(box)
    mapping, as_of, first = first_run(box, database_url, store)
    box.github_data.delete(open_customer_issue(box, ODD))

    second = sync(box, database_url, store, mapping, as_of)
    asked = checks_sent(box)
    after = values(second)
    assert after == full_run(box, mapping, as_of)
    odd = f"customers-{repos.index(ODD)}"
    assert after[odd] == values(first)[odd] - 1  # type: ignore[operator]
    assert fetched_in_full(second) == {odd: f"fetched in full: {MOVED}"}
    assert second.cache_units == {"cached": REPOSITORIES - 1, "incremental": 0, "full": 1}
    # two batches, the one that differs halved down to the count, which is asked again
    batch = max(q.count("repo:") for q in asked)
    assert 3 < len(asked) <= 2 + math.ceil(math.log2(batch)) + 1

    third = sync(box, database_url, store, mapping, as_of)
    assert values(third) == after
    assert third.cache_units == {"cached": REPOSITORIES, "incremental": 0, "full": 0}
    assert len(checks_sent(box)) == 2


def test_a_transferred_issue_moves_its_count_and_changes_the_other(
    many_repositories: Sandbox, database_url: str, store: Store
) -> None:
    box = many_repositories
    repos = repositories(box)
    mapping, as_of, first = first_run(box, database_url, store)
    moment = datetime.now(UTC).replace(microsecond=0)
    box.github_data.transfer(open_customer_issue(box, "acme/api"), "acme/billing", moment)

    second = sync(box, database_url, store, mapping, as_of)
    after = values(second)
    assert after == full_run(box, mapping, as_of)
    api, billing = (f"customers-{repos.index(r)}" for r in ("acme/api", "acme/billing"))
    assert after[api] == values(first)[api] - 1  # type: ignore[operator]
    assert after[billing] == values(first)[billing] + 1  # type: ignore[operator]
    # acme/api kept no trace: its count moved; acme/billing has a changed issue
    assert fetched_in_full(second) == {api: f"fetched in full: {MOVED}", billing: CHANGED}
    assert second.cache_units == {"cached": REPOSITORIES - 2, "incremental": 0, "full": 2}


@pytest.mark.parametrize("change", ["opened", "unlabelled"])
def test_a_repository_with_changes_has_its_count_asked_again(
    many_repositories: Sandbox, database_url: str, store: Store, change: str
) -> None:
    box = many_repositories
    repos = repositories(box)
    mapping, as_of, first = first_run(box, database_url, store)
    moment = datetime.now(UTC).replace(microsecond=0)
    if change == "opened":
        box.github_data.open_issue(ODD, (CUSTOMER,), moment)
    else:  # removing a label updates the issue
        issue = open_customer_issue(box, ODD)
        issue.labels = tuple(label for label in issue.labels if label != CUSTOMER)
        issue.updated_at = moment

    second = sync(box, database_url, store, mapping, as_of)
    asked = checks_sent(box)
    after = values(second)
    assert after == full_run(box, mapping, as_of)
    odd = f"customers-{repos.index(ODD)}"
    assert after[odd] == values(first)[odd] + (1 if change == "opened" else -1)  # type: ignore[operator]
    assert fetched_in_full(second) == {odd: CHANGED}
    assert second.cache_units == {"cached": REPOSITORIES - 1, "incremental": 0, "full": 1}
    # the others in their batches, the changed one asked again: no halving
    assert len(asked) == 3
    assert sum(f"repo:{ODD}" in q.split() for q in asked) == 1
