"""Change a share of the sandbox's items between two runs, as a working day would.

Every changed item gets `updated` = now, like the trackers do: Jira issues are resolved,
re-prioritised or labelled; GitHub pull requests are merged or labelled, issues closed.
Changes are made in place on the data sets the running sandbox serves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from sandbox.github_data import GitHubPull
from sandbox.server import Sandbox

TOUCHED_LABEL = "okr-touched"


@dataclass(frozen=True)
class Changed:
    jira: int
    github: int


def touch_items(
    box: Sandbox, fraction: float, *, seed: int = 1, now: datetime | None = None
) -> Changed:
    """Change `fraction` of each tracker's items (at least one each); return how many."""
    rng = random.Random(seed)
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    issues = box.jira_data.issues
    chosen = rng.sample(issues, max(1, round(len(issues) * fraction)))
    for n, issue in enumerate(chosen):
        if n % 3 == 0 and issue.resolutiondate is None:
            issue.status = "Done"
            issue.resolution = "Done"
            issue.resolutiondate = moment
        elif n % 3 == 1:
            issue.priority = "Highest" if issue.priority != "Highest" else "Low"
        else:
            issue.labels = (*issue.labels, TOUCHED_LABEL)
        issue.updated = moment
    items = box.github_data.all_items
    picked = rng.sample(items, max(1, round(len(items) * fraction)))
    for item in picked:
        if item.state == "open":
            item.state = "closed"
            item.closed_at = moment
            if isinstance(item, GitHubPull):
                item.merged_at = moment
        else:
            item.labels = (*item.labels, TOUCHED_LABEL)
        item.updated_at = moment
    return Changed(jira=len(chosen), github=len(picked))
