"""GitHub's membership check across many repositories: a run where nothing changed costs one
search per batch of issue listings and decodes no cached item; a deleted or transferred
issue costs the listing that lost it alone, and every value stays a full fetch's.

Requests are counted by the sandbox, per endpoint; the searches sent are read from its
recorder; every value is compared with a run that has no cache at all (`full_run`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import yaml

from config.loader import load_mapping_text
from config.mapping import MappingFile
from connectors.github_membership import LOST, MAX_QUERY_LENGTH
from sandbox.github_data import GitHubIssue
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.engine import SyncReport, run_sync
from sync.store import Store
from tests.sync.test_incremental import counted, full_run, settings, values

REPOSITORIES = 20
ODD = "acme/Web.v2_beta-x"  # every character GitHub allows in a name: case, dot, _, -
PROBE = "org:"  # the change feed's search; the others are membership checks


@pytest.fixture
def many_repositories() -> Iterator[Sandbox]:
    """Twenty repositories with issues, one of them renamed to an odd name; quiet for a day."""
    box = build_sandbox(
        SandboxOptions(
            seed=17,
            anchor=datetime.now(UTC).replace(microsecond=0) - timedelta(days=1),
            time_scale=60.0,
        ),
        jira_issues=10,
        jira_projects=1,
        github_repos=REPOSITORIES,
        github_pulls=40,
        github_issues=600,
    ).start()
    box.github_data.rename("acme/web", ODD)
    try:
        yield box
    finally:
        box.stop()


def repositories(box: Sandbox) -> list[str]:
    return sorted(box.github_data.repos)


def issue_mapping(repos: list[str], today: date) -> MappingFile:
    """Per repository: issues opened this period, and the share of them closed."""
    key_results: list[object] = []
    for number, repo in enumerate(repos):
        new_issues = {"repo": repo, "created": "period"}
        key_results += [
            {
                "id": f"opened-{number}",
                "title": f"Issues opened in {repo}",
                "target": 10,
                "metric": {"type": "count", "issues": new_issues},
            },
            {
                "id": f"closed-{number}",
                "title": f"New issues closed in {repo}",
                "target": 80,
                "metric": {"type": "percent_done", "issues": new_issues},
            },
        ]
    text = yaml.safe_dump(
        {
            "version": 1,
            "period": {
                "start": (today - timedelta(days=90)).isoformat(),
                "end": (today + timedelta(days=30)).isoformat(),
            },
            "objectives": [{"id": "issues", "title": "Issues", "key_results": key_results}],
        },
        sort_keys=False,
    )
    return load_mapping_text(text, source_name="membership", today=today)


def searches(box: Sandbox) -> list[str]:
    """The search queries the sandbox received since recording started."""
    return [
        parse_qs(r.query)["q"][0]
        for r in box.recorder.take()
        if r.path.endswith("/github/search/issues")  # not /repos/acme/search/issues
    ]


def new_issue_in(box: Sandbox, repo: str, as_of: datetime) -> GitHubIssue:
    recent = as_of - timedelta(days=60)  # inside the period the key results count
    return next(i for i in box.github_data.issues if i.repo == repo and i.created_at >= recent)


def with_open_issues(
    box: Sandbox, repos: list[str], least: int, as_of: datetime | None = None
) -> None:
    """Reopen issues until each repository has `least` open ones (with `as_of`, among those
    the key results count, `new_issue_in`): the generated data set's states depend on the
    day it is anchored to."""
    recent = datetime.min.replace(tzinfo=UTC) if as_of is None else as_of - timedelta(days=60)
    for repo in repos:
        issues = [i for i in box.github_data.issues if i.repo == repo and i.created_at >= recent]
        missing = least - sum(i.state == "open" for i in issues)
        for issue in [i for i in issues if i.state == "closed"][: max(missing, 0)]:
            issue.state, issue.closed_at = "open", None
        missing -= sum(i.state == "closed" for i in issues)
        if missing > 0 and as_of is not None:  # too few in the window on this day: bring
            older = [i for i in box.github_data.issues if i.repo == repo and i.created_at < recent]
            for issue in sorted(older, key=lambda i: i.created_at)[-missing:]:
                issue.created_at = issue.updated_at = as_of - timedelta(days=1)
                issue.state, issue.closed_at = "open", None


def sync(box: Sandbox, url: str, store: Store, mapping: MappingFile, as_of: datetime) -> SyncReport:
    counted(box)
    box.recorder.start()
    return run_sync(settings(box, url), mapping, store, as_of=as_of)


def fetched_in_full(report: SyncReport) -> dict[str, str | None]:
    """Key result id -> why its answer was fetched in full, for those that were."""
    found = {o.plan.key_result.id: o.lineage.get("cache") for o in report.key_results}
    return {kr: why for kr, why in found.items() if str(why).startswith("fetched in full")}


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()


def test_nothing_changed_costs_one_search_per_batch_and_decodes_nothing(
    many_repositories: Sandbox, database_url: str, store: Store
) -> None:
    box = many_repositories
    as_of = datetime.now(UTC)
    repos = repositories(box)
    assert ODD in repos and len(repos) == REPOSITORIES
    mapping = issue_mapping(repos, as_of.date())
    first = sync(box, database_url, store, mapping, as_of)
    searches(box)

    second = sync(box, database_url, store, mapping, as_of)
    asked = searches(box)
    requests = counted(box)
    assert values(second) == values(first) == full_run(box, mapping, as_of)
    assert second.cache_decoded == 0  # the sizes are read from the store, no item decoded
    assert second.kept == len(second.key_results)
    assert second.cache_units == {"cached": REPOSITORIES, "incremental": 0, "full": 0}
    checks = [q for q in asked if not q.startswith(PROBE)]
    # twenty repositories do not fit in one query of 256 characters: two batches, no more
    assert len(checks) == 2 == requests["github search_issues"] - 1
    assert all(len(q) <= MAX_QUERY_LENGTH for q in checks)
    named = [t.removeprefix("repo:") for q in checks for t in q.split() if t.startswith("repo:")]
    assert sorted(named, key=str.lower) == sorted(repos, key=str.lower)  # each repository once
    assert "github issues" not in requests


def test_a_deleted_issue_costs_its_listing_alone(
    many_repositories: Sandbox, database_url: str, store: Store
) -> None:
    box = many_repositories
    as_of = datetime.now(UTC)
    repos = repositories(box)
    mapping = issue_mapping(repos, as_of.date())
    before = values(sync(box, database_url, store, mapping, as_of))
    box.github_data.delete(new_issue_in(box, ODD, as_of))

    second = sync(box, database_url, store, mapping, as_of)
    asked = searches(box)
    requests = counted(box)
    after = values(second)
    assert after == full_run(box, mapping, as_of)
    assert after != before
    odd = repos.index(ODD)
    assert fetched_in_full(second) == {
        f"opened-{odd}": f"fetched in full: {LOST}",
        f"closed-{odd}": f"fetched in full: {LOST}",
    }
    assert second.cache_units == {"cached": REPOSITORIES - 1, "incremental": 0, "full": 1}
    assert requests["github issues"] == 1  # its one page; no other listing
    assert second.cache_decoded == 0
    # the batch that differs is halved down to the listing: log2 of its size more searches
    checks = [q for q in asked if not q.startswith(PROBE)]
    batch = max(q.count("repo:") for q in checks)
    assert 2 < len(checks) <= 2 + math.ceil(math.log2(batch))

    third = sync(box, database_url, store, mapping, as_of)
    assert values(third) == after
    assert third.cache_units == {"cached": REPOSITORIES, "incremental": 0, "full": 0}


def test_a_transferred_issue_leaves_its_listing_and_joins_the_other(
    many_repositories: Sandbox, database_url: str, store: Store
) -> None:
    box = many_repositories
    as_of = datetime.now(UTC)
    repos = repositories(box)
    mapping = issue_mapping(repos, as_of.date())
    before = values(sync(box, database_url, store, mapping, as_of))
    issue = new_issue_in(box, "acme/api", as_of)
    box.github_data.transfer(issue, "acme/billing", datetime.now(UTC).replace(microsecond=0))

    second = sync(box, database_url, store, mapping, as_of)
    requests = counted(box)
    after = values(second)
    assert after == full_run(box, mapping, as_of)
    assert after != before
    api = repos.index("acme/api")
    assert set(fetched_in_full(second)) == {f"opened-{api}", f"closed-{api}"}
    # acme/api fetched in full (no trace left there); acme/billing re-listed since the last run
    assert second.cache_units == {"cached": REPOSITORIES - 2, "incremental": 1, "full": 1}
    assert requests["github issues"] == 2
    assert second.cache_decoded == 1  # acme/billing's items, to apply its changes to


def test_changed_issue_listings_are_checked_together(
    many_repositories: Sandbox, database_url: str, store: Store
) -> None:
    box = many_repositories
    as_of = datetime.now(UTC)
    repos = repositories(box)
    mapping = issue_mapping(repos, as_of.date())
    changed = repos[::4]  # five repositories, the odd one among them
    with_open_issues(box, changed, 2, as_of)  # each is closed one issue in two runs
    sync(box, database_url, store, mapping, as_of)
    searches(box)

    def close_one_in_each() -> None:
        moment = datetime.now(UTC).replace(microsecond=0)
        for repo in changed:
            issue = next(
                i
                for i in box.github_data.issues
                if i.repo == repo
                and i.state == "open"
                and i.created_at >= as_of - timedelta(days=60)
            )
            issue.state, issue.closed_at, issue.updated_at = "closed", moment, moment

    close_one_in_each()
    second = sync(box, database_url, store, mapping, as_of)
    checks = [q for q in searches(box) if not q.startswith(PROBE)]
    assert values(second) == full_run(box, mapping, as_of)
    assert second.cache_units == {
        "cached": REPOSITORIES - len(changed),
        "incremental": len(changed),
        "full": 0,
    }
    # the standing fifteen in one or two searches, the five changed ones in one
    assert len(checks) <= 3
    named = [t.removeprefix("repo:") for q in checks for t in q.split() if t.startswith("repo:")]
    assert sorted(named, key=str.lower) == sorted(repos, key=str.lower)  # each repository once
    with_changes = [q for q in checks if all(f"repo:{r}" in q.split() for r in changed)]
    assert len(with_changes) == 1

    close_one_in_each()
    box.github_data.delete(new_issue_in(box, ODD, as_of))  # in a changed repository
    third = sync(box, database_url, store, mapping, as_of)
    assert values(third) == full_run(box, mapping, as_of)
    odd = repos.index(ODD)
    assert set(fetched_in_full(third)) == {f"opened-{odd}", f"closed-{odd}"}
    assert third.cache_units == {
        "cached": REPOSITORIES - len(changed),
        "incremental": len(changed) - 1,
        "full": 1,
    }
