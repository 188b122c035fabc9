"""GitHub's issues and pull requests as WorkItems: from PyGithub objects (searches and
PyGithub listings) and from the JSON of repository listings, the same fields either way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from github.Issue import Issue
from github.IssuePullRequest import IssuePullRequest
from github.PullRequest import PullRequest

from connectors.base import ConnectorError, WorkItem


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def repo_of(repository_url: str) -> str:
    """`.../repos/acme/api` (api.github.com, Enterprise or sandbox) -> `acme/api`."""
    return repository_url.rsplit("/repos/", 1)[-1].strip("/")


def from_issue(issue: Issue, repo: str | None = None) -> WorkItem:
    """A work item from an issue or search result (pull requests carry `pull_request`)."""
    full_name = repo or repo_of(issue.repository_url)
    pull = pull_part(issue)
    merged_at = pull.merged_at if pull is not None else None
    status = "merged" if merged_at is not None else issue.state
    assignees = issue.assignees
    return WorkItem(
        source="github",
        key=f"{full_name}#{issue.number}",
        url=issue.html_url,
        kind="pull_request" if pull is not None else "issue",
        title=issue.title,
        status=status,
        status_category="todo" if issue.state == "open" else "done",
        created_at=issue.created_at,
        updated_at=issue.updated_at,
        resolved_at=merged_at or issue.closed_at,
        merged_at=merged_at,
        started_at=issue.created_at if pull is not None else None,
        labels=tuple(label.name for label in issue.labels),
        assignee=assignees[0].login if assignees else None,
        container=full_name,
        extra={"author": issue.user.login if issue.user else None},
    )


def from_pull(pull: PullRequest, repo: str) -> WorkItem:
    status = "merged" if pull.merged_at is not None else pull.state
    assignees = pull.assignees
    return WorkItem(
        source="github",
        key=f"{repo}#{pull.number}",
        url=pull.html_url,
        kind="pull_request",
        title=pull.title,
        status=status,
        status_category="todo" if pull.state == "open" else "done",
        created_at=pull.created_at,
        updated_at=pull.updated_at or pull.created_at,
        resolved_at=pull.merged_at or pull.closed_at,
        merged_at=pull.merged_at,
        started_at=pull.created_at,
        labels=tuple(label.name for label in pull.labels),
        assignee=assignees[0].login if assignees else None,
        container=repo,
        extra={
            "author": pull.user.login if pull.user else None,
            "draft": pull.draft,
            "base": pull.base.ref,
        },
    )


def pull_part(issue: Issue) -> IssuePullRequest | None:
    """`issue.pull_request`, without its hidden cost: on a plain issue the attribute is
    absent, and PyGithub then fetches the whole issue again to be sure (a request per issue).
    Only a pull request's page is under /pull/."""
    if "/pull/" not in (issue.html_url or ""):
        return None
    return issue.pull_request


def github_time(value: str | None) -> datetime | None:
    """GitHub's `2024-05-01T12:00:00Z` as an aware UTC datetime (as PyGithub gives it)."""
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _required_time(value: str | None) -> datetime:
    moment = github_time(value)
    if moment is None:
        raise ConnectorError("GitHub listed an item without a creation time")
    return moment


def _logins(users: list[dict[str, Any]] | None) -> str | None:
    return str(users[0]["login"]) if users else None


def listed_pull(pull: dict[str, Any], repo: str) -> WorkItem:
    """A work item from a pull request of a repository listing (as `from_pull` makes it)."""
    created = _required_time(pull["created_at"])
    merged_at = github_time(pull.get("merged_at"))
    user = pull.get("user")
    return WorkItem(
        source="github",
        key=f"{repo}#{pull['number']}",
        url=pull["html_url"],
        kind="pull_request",
        title=pull["title"],
        status="merged" if merged_at is not None else pull["state"],
        status_category="todo" if pull["state"] == "open" else "done",
        created_at=created,
        updated_at=github_time(pull.get("updated_at")) or created,
        resolved_at=merged_at or github_time(pull.get("closed_at")),
        merged_at=merged_at,
        started_at=created,
        labels=tuple(label["name"] for label in pull.get("labels") or ()),
        assignee=_logins(pull.get("assignees")),
        container=repo,
        extra={
            "author": user["login"] if user else None,
            "draft": pull.get("draft"),
            "base": (pull.get("base") or {}).get("ref"),
        },
    )


def listed_issue(issue: dict[str, Any], repo: str) -> WorkItem:
    """A work item from a plain issue of a repository listing (as `from_issue` makes it)."""
    created = _required_time(issue["created_at"])
    user = issue.get("user")
    return WorkItem(
        source="github",
        key=f"{repo}#{issue['number']}",
        url=issue["html_url"],
        kind="issue",
        title=issue["title"],
        status=issue["state"],
        status_category="todo" if issue["state"] == "open" else "done",
        created_at=created,
        updated_at=github_time(issue.get("updated_at")) or created,
        resolved_at=github_time(issue.get("closed_at")),
        merged_at=None,
        started_at=None,
        labels=tuple(label["name"] for label in issue.get("labels") or ()),
        assignee=_logins(issue.get("assignees")),
        container=repo,
        extra={"author": user["login"] if user else None},
    )
