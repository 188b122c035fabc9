"""A GitHub data set with scripted histories over a quarter, for backfill's tests and demos.

Every issue and pull request of acme/timeline has an event log written here (labels added
and removed, assignees, renames, issues closed and reopened, pull requests merged or
closed unmerged and reopened), and its fields are what that log leaves at the anchor, as
GitHub shows them: `closed_at` the last closing, labels and assignee those still on it,
the title the last renaming's, `updated_at` the last event.
The default generated data set is not touched: `SandboxOptions(github_data="timeline")`.
"""

from __future__ import annotations

import random
from dataclasses import replace
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
    GitHubReview,
    GitHubUser,
    ItemState,
    ReviewState,
)

TIMELINE_REPO = f"{ORG}/timeline"
TIMELINE_LABELS = ("bug", "customer", "security", "tech debt")
REVIEW_STATES: tuple[ReviewState, ...] = ("APPROVED", "APPROVED", "CHANGES_REQUESTED", "COMMENTED")


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
            events.append(replace(event, id=serial))
        item.events = tuple(events)
        if isinstance(item, GitHubPull):
            item.reviews = tuple(
                replace(r, id=3_000_000 + 10 * number + i) for i, r in enumerate(item.reviews)
            )
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
    title = f"Scripted {'change' if pull else 'problem'} <{rng.randrange(1000)}>"
    assignee = rng.choice((None, author))
    labels = set(rng.sample(TIMELINE_LABELS, rng.choice((0, 1, 1, 2))))
    log = [GitHubEvent(0, "labeled", author, created, label) for label in sorted(labels)]
    if assignee is not None:
        log.append(GitHubEvent(0, "assigned", author, created, assignee=assignee))
    state: ItemState = "open"
    merged = False
    moment = created
    for _ in range(rng.choice((0, 1, 2, 3, 4, 5, 6))):
        moment = _second(moment + timedelta(hours=rng.uniform(0.5, 24 * 12)))
        if moment >= anchor or (merged and rng.random() < 0.5):
            break
        roll = rng.random()
        if roll < 0.3:  # a label added or taken off
            label = rng.choice(TIMELINE_LABELS)
            kind: EventKind = "unlabeled" if label in labels else "labeled"
            labels ^= {label}
            log.append(GitHubEvent(0, kind, author, moment, label))
        elif roll < 0.42:  # assigned, or unassigned
            if assignee is None:
                assignee = rng.choice(HUMANS)
                log.append(GitHubEvent(0, "assigned", author, moment, assignee=assignee))
            else:
                log.append(GitHubEvent(0, "unassigned", author, moment, assignee=assignee))
                assignee = None
        elif roll < 0.5:  # renamed, into text a view must show as written
            renamed = f"[WIP] {title} & <b>more</b>"
            log.append(GitHubEvent(0, "renamed", author, moment, rename=(title, renamed)))
            title = renamed
        elif merged:
            continue
        elif state == "open" and pull and rng.random() < 0.6:
            log += [
                GitHubEvent(0, "merged", author, moment),
                GitHubEvent(0, "closed", author, moment),
            ]
            state, merged = "closed", True
        elif state == "open":
            log.append(GitHubEvent(0, "closed", author, moment))
            state = "closed"
        else:
            log.append(GitHubEvent(0, "reopened", author, moment))
            state = "open"
    closings = [event.created_at for event in log if event.event == "closed"]
    merged_at = next((event.created_at for event in log if event.event == "merged"), None)
    kind_of_item = GitHubPull if pull else GitHubIssue
    item = kind_of_item(
        repo=TIMELINE_REPO,
        number=0,
        id=0,
        title=title,
        user=author,
        state=state,
        labels=tuple(sorted(labels)),
        assignee=assignee,
        created_at=created,
        updated_at=max(event.created_at for event in log) if log else created,
        closed_at=closings[-1] if state == "closed" else None,
        comments=0,
        events=tuple(log),
    )
    if isinstance(item, GitHubPull):
        item.reviews = _reviews(rng, created, anchor, author)
        item.merged_at = merged_at
        item.head = f"{author}/scripted"
    return item


def _reviews(
    rng: random.Random, created: datetime, anchor: datetime, author: str
) -> tuple[GitHubReview, ...]:
    """None, one or two reviews in the days after opening (some after a merge, as happens)."""
    reviews: list[GitHubReview] = []
    moment = created
    for _ in range(rng.choice((0, 1, 1, 2))):
        moment = _second(moment + timedelta(hours=rng.uniform(1, 24 * 10)))
        if moment >= anchor:
            break
        state = rng.choice(REVIEW_STATES)
        reviewer = rng.choice([h for h in HUMANS if h != author])
        reviews.append(GitHubReview(0, reviewer, state, moment))
    return tuple(reviews)


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
