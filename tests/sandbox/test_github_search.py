"""The sandbox's GitHub data set and its issue-search language, without HTTP.

Expected values are computed here from the data set with plain comprehensions.
"""

from __future__ import annotations

import cProfile
import pstats
from datetime import UTC, date, datetime, timedelta

import pytest

from sandbox.github_data import GitHubDataset, GitHubIssue, GitHubPull, build_github_dataset
from sandbox.github_search import SearchError, search_issues
from tests.conftest import ANCHOR


@pytest.fixture(scope="module")
def data() -> GitHubDataset:
    return build_github_dataset(seed=7, anchor=ANCHOR)


def keys(items: list[GitHubIssue]) -> set[str]:
    return {f"{i.repo}#{i.number}" for i in items}


def found(data: GitHubDataset, query: str) -> set[str]:
    return keys(search_issues(data, query).items)


def pulls_of(data: GitHubDataset, repo: str) -> list[GitHubPull]:
    return [p for p in data.pulls if p.repo == repo]


# ------------------------------------------------------------------ the data set


def test_dataset_is_deterministic_and_seed_dependent() -> None:
    first = build_github_dataset(seed=11, anchor=ANCHOR)
    second = build_github_dataset(seed=11, anchor=ANCHOR)
    other = build_github_dataset(seed=12, anchor=ANCHOR)
    assert [(p.repo, p.number, p.created_at, p.merged_at) for p in first.pulls] == [
        (p.repo, p.number, p.created_at, p.merged_at) for p in second.pulls
    ]
    assert [p.created_at for p in first.pulls] != [p.created_at for p in other.pulls]


def test_dataset_shape(data: GitHubDataset) -> None:
    assert list(data.repos) == ["acme/api", "acme/web", "acme/mobile", "acme/infra"]
    assert len(data.pulls) == 2400 and len(data.issues) == 1200
    for repo in data.repos:
        numbers = sorted(i.number for i in [*data.issues, *data.pulls] if i.repo == repo)
        assert numbers == list(range(1, len(numbers) + 1))  # one sequence for both kinds
    year_ago = ANCHOR - timedelta(days=365)
    for item in [*data.issues, *data.pulls]:
        assert item.created_at.tzinfo == UTC
        assert year_ago <= item.created_at <= item.updated_at <= ANCHOR
        assert (item.state == "closed") == (item.closed_at is not None)
    merged = [p for p in data.pulls if p.merged_at is not None]
    assert all(p.closed_at == p.merged_at for p in merged)
    assert any(p.state == "closed" and p.merged_at is None for p in data.pulls)
    assert sum(1 for p in merged if p.repo == "acme/api") > 1000
    unapproved = [p for p in merged if not any(r.state == "APPROVED" for r in p.reviews)]
    assert 0 < len(unapproved) < len(merged) / 3
    assert any(p.draft for p in data.pulls)
    assert any(p.user == "dependabot[bot]" for p in data.pulls)
    hours = sorted((p.merged_at - p.created_at).total_seconds() / 3600 for p in merged)  # type: ignore[operator]
    assert hours[0] < 1 and hours[-1] > 24 * 7  # from under an hour to weeks


def calls_to_build(n_pulls: int, n_issues: int) -> tuple[GitHubDataset, int]:
    """A data set of 20 repositories and the Python function calls its generation made."""
    profile = cProfile.Profile()
    profile.enable()
    data = build_github_dataset(
        seed=3, anchor=ANCHOR, n_repos=20, n_pulls=n_pulls, n_issues=n_issues
    )
    profile.disable()
    return data, pstats.Stats(profile).total_calls


def test_dataset_work_grows_linearly_with_its_size() -> None:
    # Ten times the items may cost ten times the calls, not more: no step of the generation
    # looks through all items for each item (calls are counted, not timed).
    _, small = calls_to_build(n_pulls=500, n_issues=200)
    big, calls = calls_to_build(n_pulls=5000, n_issues=2000)
    assert len(big.repos) == 20 and len(big.pulls) == 5000
    assert calls <= 10 * small * 1.05


# ------------------------------------------------------------------ qualifiers


def test_repo_kind_and_state(data: GitHubDataset) -> None:
    api = pulls_of(data, "acme/api")
    assert found(data, "repo:acme/api is:pr is:merged") == keys(
        [p for p in api if p.merged_at is not None]
    )
    assert found(data, "repo:acme/api is:pr is:unmerged") == keys(
        [p for p in api if p.merged_at is None]
    )
    assert found(data, "repo:acme/web type:issue state:closed") == keys(
        [i for i in data.issues if i.repo == "acme/web" and i.state == "closed"]
    )
    assert found(data, "repo:acme/api is:open is:pr is:draft") == keys(
        [p for p in api if p.state == "open" and p.draft]
    )
    assert found(data, "repo:acme/api draft:false is:open") == keys(
        [p for p in api if p.state == "open" and not p.draft]
    )


def test_several_repos_widen_and_org_covers_all(data: GitHubDataset) -> None:
    assert found(data, "repo:acme/api repo:acme/web is:pr") == keys(
        [p for p in data.pulls if p.repo in ("acme/api", "acme/web")]
    )
    assert found(data, "org:acme is:issue") == keys(data.issues)


def test_labels_quoted_or_and_negated(data: GitHubDataset) -> None:
    issues = data.issues
    assert found(data, 'label:"good first issue"') == keys(
        [i for i in issues if "good first issue" in i.labels]
    )
    assert found(data, "is:issue label:bug,security") == keys(
        [i for i in issues if {"bug", "security"} & set(i.labels)]
    )
    assert found(data, "is:issue label:bug label:customer") == keys(
        [i for i in issues if {"bug", "customer"} <= set(i.labels)]
    )
    assert found(data, "is:pr -label:bug") == keys([p for p in data.pulls if "bug" not in p.labels])
    assert found(data, "is:issue no:label") == keys([i for i in issues if not i.labels])


def test_people_and_branches(data: GitHubDataset) -> None:
    assert found(data, "is:pr author:alice") == keys([p for p in data.pulls if p.user == "alice"])
    assert found(data, "is:pr author:app/dependabot") == keys(
        [p for p in data.pulls if p.user == "dependabot[bot]"]
    )
    assert found(data, "is:issue assignee:bob") == keys(
        [i for i in data.issues if i.assignee == "bob"]
    )
    assert found(data, "is:pr no:assignee") == keys([p for p in data.pulls if p.assignee is None])
    assert found(data, "base:develop") == keys([p for p in data.pulls if p.base == "develop"])


def test_date_forms(data: GitHubDataset) -> None:
    pulls = data.pulls
    day = date(2026, 10, 1)
    assert found(data, "is:pr created:2026-10-01") == keys(
        [p for p in pulls if p.created_at.date() == day]
    )
    assert found(data, "is:pr created:>2026-10-01") == keys(
        [p for p in pulls if p.created_at.date() > day]
    )
    assert found(data, "is:pr created:>=2026-10-01") == keys(
        [p for p in pulls if p.created_at.date() >= day]
    )
    assert found(data, "is:pr created:<2026-10-01") == keys(
        [p for p in pulls if p.created_at.date() < day]
    )
    assert found(data, "is:pr created:<=2026-10-01") == keys(
        [p for p in pulls if p.created_at.date() <= day]
    )
    assert found(data, "is:pr merged:2026-09-01..2026-09-30") == keys(
        [
            p
            for p in pulls
            if p.merged_at and date(2026, 9, 1) <= p.merged_at.date() <= date(2026, 9, 30)
        ]
    )
    assert found(data, "is:issue closed:2026-11-01..*") == keys(
        [i for i in data.issues if i.closed_at and i.closed_at.date() >= date(2026, 11, 1)]
    )
    assert found(data, "is:issue updated:*..2026-01-31") == keys(
        [i for i in data.issues if i.updated_at.date() <= date(2026, 1, 31)]
    )
    # The last day there is: its end is the end of time, not an overflow.
    assert found(data, "is:pr merged:2026-09-01..9999-12-31") == keys(
        [p for p in pulls if p.merged_at and p.merged_at.date() >= date(2026, 9, 1)]
    )
    assert found(data, "is:pr created:9999-12-31") == set()


def test_datetimes_are_exact_and_offsets_are_honoured(data: GitHubDataset) -> None:
    moment = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    assert found(data, "is:pr created:>=2026-10-01T12:00:00Z") == keys(
        [p for p in data.pulls if p.created_at >= moment]
    )
    assert found(data, "is:pr created:<2026-10-01T14:00:00+02:00") == keys(
        [p for p in data.pulls if p.created_at < moment]
    )


def decision(pull: GitHubPull) -> str:
    latest = {}
    for review in sorted(pull.reviews, key=lambda r: r.submitted_at):
        if review.state != "COMMENTED":
            latest[review.user] = review.state
    if "CHANGES_REQUESTED" in latest.values():
        return "changes_requested"
    return "approved" if "APPROVED" in latest.values() else "required"


def test_review_states(data: GitHubDataset) -> None:
    pulls = data.pulls
    for state in ("approved", "changes_requested", "required"):
        expected = keys([p for p in pulls if decision(p) == state])
        assert expected and found(data, f"review:{state}") == expected
    assert found(data, "review:none") == keys([p for p in pulls if not p.reviews])


def test_boolean_operators_and_parentheses(data: GitHubDataset) -> None:
    pulls = data.pulls
    assert found(data, "is:pr (label:bug OR label:security) NOT is:merged") == keys(
        [p for p in pulls if {"bug", "security"} & set(p.labels) and p.merged_at is None]
    )
    assert found(data, "is:pr label:bug AND author:carol") == keys(
        [p for p in pulls if "bug" in p.labels and p.user == "carol"]
    )


def test_text_in_title(data: GitHubDataset) -> None:
    everything = [*data.issues, *data.pulls]
    assert found(data, '"cache layer" in:title') == keys(
        [i for i in everything if "cache layer" in i.title.lower()]
    )
    assert found(data, "Bump requests") == keys(
        [i for i in everything if "bump" in i.title.lower() and "requests" in i.title.lower()]
    )
    assert found(data, "frobnicate:yes") == set()  # an unknown qualifier is text, as on GitHub


def test_sorting(data: GitHubDataset) -> None:
    oldest_first = search_issues(data, "repo:acme/infra is:pr sort:created-asc").items
    assert [i.created_at for i in oldest_first] == sorted(
        p.created_at for p in pulls_of(data, "acme/infra")
    )
    overridden = search_issues(data, "repo:acme/infra is:pr sort:created-asc", sort="updated").items
    assert [i.updated_at for i in overridden] == sorted(
        (p.updated_at for p in pulls_of(data, "acme/infra")), reverse=True
    )
    best_match = search_issues(data, "repo:acme/infra is:issue").items
    assert best_match[0].created_at == max(
        i.created_at for i in data.issues if i.repo == "acme/infra"
    )


# ------------------------------------------------------------------ errors and limits


def error_of(data: GitHubDataset, query: str) -> SearchError:
    with pytest.raises(SearchError) as caught:
        search_issues(data, query)
    return caught.value


def test_unknown_repository_or_owner(data: GitHubDataset) -> None:
    for query in ("repo:acme/nope is:pr", "org:nobody-here is:pr"):
        body = error_of(data, query).body()
        assert body["message"] == "Validation Failed"
        assert body["errors"] == [
            {
                "message": (
                    "The listed users and repositories cannot be searched either because the "
                    "resources do not exist or you do not have permission to view them."
                ),
                "resource": "Search",
                "field": "q",
                "code": "invalid",
            }
        ]


@pytest.mark.parametrize(
    "query",
    ["is:foo", "review:maybe", "created:yesterday", "merged:2026-02-30", "no:idea", "sort:stars"],
)
def test_bad_qualifier_values(data: GitHubDataset, query: str) -> None:
    error = error_of(data, query)
    assert error.body()["message"] == "Validation Failed"
    assert error.errors[0]["code"] == "invalid"


def test_length_limit(data: GitHubDataset) -> None:
    padding = " " + "x" * 200
    query = "is:pr" + padding
    query = query + "y" * (256 - len(query))
    assert len(query) == 256
    search_issues(data, query)
    assert "longer than 256" in error_of(data, query + "z").errors[0]["message"]


def test_operator_limit(data: GitHubDataset) -> None:
    five = "is:pr label:a OR label:b OR label:c OR label:d OR label:e OR label:f"
    search_issues(data, five)
    six = five + " OR label:g"
    assert "more than 5" in error_of(data, six).errors[0]["message"]


def test_missing_query(data: GitHubDataset) -> None:
    assert error_of(data, "  ").errors == [{"resource": "Search", "field": "q", "code": "missing"}]
