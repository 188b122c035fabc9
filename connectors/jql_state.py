"""What backfill's JQL evaluator (`jql_eval`) reads: an issue's searchable fields at one
moment, and the site's names for values (statuses, projects, numeric fields), so a query
may name a value by name, key or id as Jira lets people."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class IssueState:
    """One issue's searchable fields at one moment."""

    identities: frozenset[str]  # its id and every key it had, upper case
    project: str  # project key
    status: str  # status name
    category: str  # status category key: new | indeterminate | done
    resolution: str | None
    resolved: datetime | None
    created: datetime
    labels: tuple[str, ...]
    assignee: frozenset[str]  # the assignee's names, lower case; empty when unassigned
    issue_type: str | None
    priority: str | None
    numbers: Mapping[str, float | None]  # numeric fields by field id


@dataclass(frozen=True)
class SiteTerms:
    """The site's names for values, so a query may name them as Jira lets people."""

    statuses: Mapping[str, str]  # status name or id, lower case -> status name
    projects: Mapping[str, str]  # project key, name or id, lower case -> key (filled late)
    number_fields: Mapping[str, str]  # field name, id or cf[N], lower case -> field id
    categories: Mapping[str, str] = field(
        default_factory=lambda: {
            "to do": "new",
            "new": "new",
            "2": "new",
            "in progress": "indeterminate",
            "indeterminate": "indeterminate",
            "4": "indeterminate",
            "done": "done",
            "complete": "done",
            "3": "done",
        }
    )
