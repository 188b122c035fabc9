"""A GitHub data set with scripted histories over a quarter, for backfill's tests and demos.

Every issue and pull request of acme/timeline has an event log written here (labels added
and removed, issues closed and reopened, pull requests merged or closed unmerged and
reopened), and its fields are what that log leaves at the anchor, as GitHub shows them:
`closed_at` is the last closing, labels those still on it, `updated_at` the last event.
The default generated data set is not touched: `SandboxOptions(github_data="timeline")`.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sandbox.github_data import (
    HUMANS,
    ORG,
    VIEWER,
    EventKind,
    GitHubDataset,
    GitHubEvent,
    GitHubIssue,
    GitHubPull,
    GitHubRepo,
    GitHubUser,
    ItemState,
)

TIMELINE_REPO = f"{ORG}/timeline"
TIMELINE_LABELS = ("bug", "customer", "security", "tech debt")


def build_timeline_dataset(
    *, seed: int, anchor: datetime, days: int = 110, n_items: int = 160
) -> GitHubDataset:
    """Items created over `days` before the anchor, each with a scripted event log."""
    rng = random.Random(seed)
    start = anchor - timedelta(days=days)
    users = {login: GitHubUser(login, 1000 + i, "User") for i, login in enumerate(HUMANS)}
    users[VIEWER] = GitHubUser(VIEWER, 999, "User")
    owner, name = TIMELINE_REPO.split("/")
    repo = GitHubRepo(owner, name, 790_000, start - timedelta(days=30), "Scripted histories")
    drafts = [_scripted(rng, start, anchor, pull=index % 2 == 0) for index in range(n_items)]
    drafts.sort(key=lambda item: item.created_at)
    serial = 9_000_000
    for number, item in enumerate(drafts, start=1):
        item.number = number
        item.id = 2_000_000 + number
        events = []
        for event in item.events:
            serial += 1
            events.append(
                GitHubEvent(serial, event.event, event.actor, event.created_at, event.label)
            )
        item.events = tuple(events)
    return GitHubDataset(
        org=ORG,
        anchor=anchor,
        viewer=VIEWER,
        users=users,
        repos={repo.full_name: repo},
        issues=[item for item in drafts if not isinstance(item, GitHubPull)],
        pulls=[item for item in drafts if isinstance(item, GitHubPull)],
    )


def _scripted(rng: random.Random, start: datetime, anchor: datetime, *, pull: bool) -> GitHubIssue:
    """One item: created, labelled, then a few changes days apart, all before the anchor."""
    span = (anchor - start).total_seconds()
    created = _second(start + timedelta(seconds=rng.random() * span * 0.95))
    if rng.random() < 0.1:  # on a day's boundary, where a backfill step lands
        created = created.replace(hour=0, minute=0, second=0)
    author = rng.choice(HUMANS)
    log: list[tuple[datetime, EventKind, str | None]] = []
    labels = set(rng.sample(TIMELINE_LABELS, rng.choice((0, 1, 1, 2))))
    log += [(created, "labeled", label) for label in sorted(labels)]
    state: ItemState = "open"
    merged = False
    moment = created
    for _ in range(rng.choice((0, 1, 2, 3, 4, 5))):
        moment = _second(moment + timedelta(hours=rng.uniform(0.5, 24 * 12)))
        if moment >= anchor or (merged and rng.random() < 0.5):
            break
        roll = rng.random()
        if roll < 0.35:  # a label added or taken off
            label = rng.choice(TIMELINE_LABELS)
            kind: EventKind = "unlabeled" if label in labels else "labeled"
            labels ^= {label}
            log.append((moment, kind, label))
        elif merged:
            continue
        elif state == "open" and pull and rng.random() < 0.6:
            log += [(moment, "merged", None), (moment, "closed", None)]
            state, merged = "closed", True
        elif state == "open":
            log.append((moment, "closed", None))
            state = "closed"
        else:
            log.append((moment, "reopened", None))
            state = "open"
    closings = [at for at, kind, _ in log if kind == "closed"]
    merged_at = next((at for at, kind, _ in log if kind == "merged"), None)
    kind_of_item = GitHubPull if pull else GitHubIssue
    item = kind_of_item(
        repo=TIMELINE_REPO,
        number=0,
        id=0,
        title=f"Scripted {'change' if pull else 'problem'} <{rng.randrange(1000)}>",
        user=author,
        state=state,
        labels=tuple(sorted(labels)),
        assignee=None,
        created_at=created,
        updated_at=max(at for at, _, _ in log) if log else created,
        closed_at=closings[-1] if state == "closed" else None,
        comments=0,
        events=tuple(GitHubEvent(0, kind, author, at, label) for at, kind, label in log),
    )
    if isinstance(item, GitHubPull):
        item.merged_at = merged_at
        item.head = f"{author}/scripted"
    return item


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
