"""A repository's issues and pull requests, listed newest first: as JSON for the
incremental sync (one listing serves every list selector on a repository) and through
PyGithub for a list selector alone; every listed item checked to live in the repository
asked for."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from operator import attrgetter
from typing import Any, Literal, TypeVar

from github.GithubObject import NotSet

from connectors.base import GitHubListSelector, ItemKind, QueryError, WorkItem
from connectors.github_http import GitHubHttp
from connectors.github_items import (
    from_issue,
    from_pull,
    github_time,
    iso,
    listed_issue,
    listed_pull,
    pull_part,
    repo_of,
)
from connectors.github_selectors import in_window, list_order

T = TypeVar("T")


def list_repository(
    http: GitHubHttp,
    repo: str,
    kind: ItemKind,
    *,
    updated_from: datetime | None,
    state: Literal["open", "closed", "all"] = "all",
    created_from: datetime | None = None,
) -> list[WorkItem]:
    """Every issue or pull request of `repo` updated at or after `updated_from` (None: all),
    of one state only when `state` is "open" or "closed".

    One listing serves every list selector on the repository (`filter_listed` picks each
    one's items locally), and the same call, with the last run's time, fetches only what
    changed since: the listing is sorted by last update, newest first, and stops there.
    Selectors of open items alone are served by the open listing, which costs as many pages
    as there are open items, whatever the repository's age; selectors of closed items alone
    (closed or merged windows) by a closed one, which skips the open items updated since.
    With `created_from` (and no `updated_from`), the items created at or after it instead,
    listed by creation, newest first: an old item's later updates cost no page.
    """
    if repo.count("/") != 1:
        raise QueryError(f"{repo!r} is not an owner/name repository")
    found: list[WorkItem] = []
    by_creation = created_from is not None
    order = {"state": state, "sort": "created" if by_creation else "updated", "direction": "desc"}
    horizon = created_from if by_creation else updated_from
    everything = horizon is None  # an empty answer since a moment is no sign
    with http.errors.translating(f"repository {repo}"):
        if kind == "pull_request":
            pulls = http.json_listing(f"/repos/{repo}/pulls", order)
            for pull in living_in(http, repo, pulls, _api_url, check_empty=everything):
                item = listed_pull(pull, repo)
                moment = item.created_at if by_creation else item.updated_at
                if horizon is not None and moment < horizon:
                    break
                found.append(item)
        else:
            # By creation too: an item created since then was updated since then.
            since = {"since": iso(horizon)} if horizon is not None else {}
            issues = http.json_listing(f"/repos/{repo}/issues", order | since)
            for issue in living_in(http, repo, issues, _api_url, check_empty=everything):
                stamp = github_time(issue["created_at" if by_creation else "updated_at"])
                if horizon is not None and stamp is not None and stamp < horizon:
                    break
                if "pull_request" not in issue:  # the issues list includes pull requests
                    found.append(listed_issue(issue, repo))
    return _distinct(found)


def living_in(
    http: GitHubHttp,
    repo: str,
    listing: Iterable[T],
    api_url: Callable[[T], str],
    *,
    check_empty: bool = True,
) -> Iterator[T]:
    """A listing's items, each checked to live in `repo`; an empty listing is checked
    against the repository's own name.

    GitHub answers a renamed or transferred repository's old name with a redirect, and
    PyGithub follows it without the listing's parameters (state, sort, since, labels):
    the answer would hold other items, or none, with nothing to show it.
    """
    listed = False
    for item in listing:
        listed = True
        home = repo_of(api_url(item).rsplit("/", 2)[0])
        if home.lower() != repo.lower():
            raise QueryError(_moved(repo, home))
        yield item
    if listed or not check_empty:
        return
    _, body = http.get_json(f"/repos/{repo}")
    home = str(body.get("full_name") or repo)
    if home.lower() != repo.lower():
        raise QueryError(_moved(repo, home))


def listed_pulls(http: GitHubHttp, selector: GitHubListSelector) -> list[WorkItem]:
    """Pull requests of one repository, newest first, stopping once the windows are passed."""
    resolved = selector.closed or selector.merged
    if resolved is not None and selector.state == "open":
        return []
    state = "closed" if resolved is not None else selector.state
    sort, horizon = list_order(selector)
    wanted = {label.lower() for label in selector.labels}
    repo = http.client.get_repo(selector.repo)
    found: list[WorkItem] = []
    pulls = repo.get_pulls(state=state, sort=sort, direction="desc")
    for pull in living_in(http, selector.repo, pulls, attrgetter("url")):
        moment = pull.created_at if sort == "created" else (pull.updated_at or pull.created_at)
        if horizon is not None and moment < horizon:
            break
        labels = {label.name.lower() for label in pull.labels}
        if not wanted <= labels:
            continue
        if not (
            in_window(pull.created_at, selector.created)
            and in_window(pull.closed_at, selector.closed)
            and in_window(pull.merged_at, selector.merged)
        ):
            continue
        found.append(from_pull(pull, selector.repo))
    return _distinct(found)


def listed_issues(http: GitHubHttp, selector: GitHubListSelector) -> list[WorkItem]:
    if selector.closed is not None and selector.state == "open":
        return []
    state = "closed" if selector.closed is not None else selector.state
    sort, horizon = list_order(selector)
    repo = http.client.get_repo(selector.repo)
    listing = repo.get_issues(
        state=state,
        labels=list(selector.labels),
        sort=sort,
        direction="desc",
        since=horizon if sort == "updated" and horizon is not None else NotSet,
    )
    found: list[WorkItem] = []
    for issue in living_in(http, selector.repo, listing, attrgetter("url")):
        moment = issue.created_at if sort == "created" else issue.updated_at
        if horizon is not None and moment < horizon:
            break
        if pull_part(issue) is not None:
            continue  # the issues list includes pull requests
        if in_window(issue.created_at, selector.created) and in_window(
            issue.closed_at, selector.closed
        ):
            found.append(from_issue(issue, selector.repo))
    return _distinct(found)


def _api_url(raw: dict[str, Any]) -> str:
    return str(raw["url"])


def _moved(repo: str, home: str) -> str:
    return (
        f"GitHub repository {repo} is now {home} (renamed or transferred): "
        "put its new name in the mapping file"
    )


def _distinct(items: list[WorkItem]) -> list[WorkItem]:
    """Each item once: one that moves between two page requests is listed twice."""
    by_key: dict[str, WorkItem] = {}
    for item in items:
        by_key.setdefault(item.key, item)
    return list(by_key.values())
