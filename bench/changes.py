"""Change a share of the sandbox's items between two runs, as a working day would.

Every edited item gets `updated` = now, like the trackers do; a deleted Jira issue leaves
no trace at all. Changes are made in place on the data sets the running sandbox serves.
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
    """Change `fraction` of each tracker's items (at least one each); return how many.

    Jira issues are, in turn, resolved, re-prioritised, labelled, moved to another project,
    deleted (no trace in `updated`) or joined by a new issue like them; GitHub pull
    requests are merged, issues closed, closed items labelled, and one issue in ten
    deleted or transferred to another repository.
    """
    rng = random.Random(seed)
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    data = box.jira_data
    chosen = rng.sample(data.issues, max(1, round(len(data.issues) * fraction)))
    projects = sorted(data.by_project)
    for n, issue in enumerate(chosen):
        kind = n % 6
        if kind == 0 and issue.resolutiondate is None:
            issue.status = "Done"
            issue.resolution = "Done"
            issue.resolutiondate = moment
        elif kind == 1:
            issue.priority = "Highest" if issue.priority != "Highest" else "Low"
        elif kind == 3 and len(projects) > 1:
            others = [p for p in projects if p != issue.project]
            data.move(issue, others[n % len(others)], moment)
            continue
        elif kind == 4:
            data.delete(issue)
            continue
        elif kind == 5:
            data.create(issue, moment)
            continue
        else:
            issue.labels = (*issue.labels, TOUCHED_LABEL)
        issue.updated = moment
    items = box.github_data.all_items
    picked = rng.sample(items, max(1, round(len(items) * fraction)))
    repos = sorted(box.github_data.repos)
    for n, item in enumerate(picked):
        if not isinstance(item, GitHubPull) and n % 10 == 9:
            if n % 20 == 19 and len(repos) > 1:
                box.github_data.transfer(item, next(r for r in repos if r != item.repo), moment)
            else:
                box.github_data.delete(item)
            continue
        if item.state == "open":
            item.state = "closed"
            item.closed_at = moment
            if isinstance(item, GitHubPull):
                item.merged_at = moment
        else:
            item.labels = (*item.labels, TOUCHED_LABEL)
        item.updated_at = moment
    return Changed(jira=len(chosen), github=len(picked))
