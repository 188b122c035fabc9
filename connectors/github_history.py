"""GitHub's past, rebuilt for backfill: what each selector matched at a moment, each item
as it was then.

Selectors share one listing per repository and kind (every state, as a sync's listing).
An item updated before `since` has not changed since, so it stands as listed; each other
item's event log (`GET /repos/{o}/{r}/issues/{n}/events`: labeled, unlabeled, closed,
reopened, merged, assigned, unassigned, renamed) is read once and replayed backwards from
the item as it is now. GitHub's `assignee` is the first of several: with more than one,
the one rebuilt is the first still assigned. Reviews (`first_review_at`, `approved`) are
read per pull request the first time a step's answer holds it. A search
is read as the list selectors it matches (`github_history_queries`); what GitHub keeps no
past of is `Unrebuildable`, naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from connectors.base import (
    NEEDS_FIRST_REVIEW,
    GitHubListSelector,
    GitHubSearchSelector,
    ItemKind,
    Selector,
    WorkItem,
)
from connectors.github_history_queries import list_selectors_of
from connectors.github_http import GitHubHttp
from connectors.github_items import github_time
from connectors.github_listings import list_repository
from connectors.github_reviews import review_log
from connectors.github_selectors import filter_listed, validate
from connectors.history import SelectorHistory, Unrebuildable

STATE_EVENTS = frozenset({"closed", "reopened", "merged"})
LABEL_EVENTS = frozenset({"labeled", "unlabeled"})
PEOPLE_EVENTS = frozenset({"assigned", "unassigned"})
READ_EVENTS = STATE_EVENTS | LABEL_EVENTS | PEOPLE_EVENTS | {"renamed"}
# Fields of an item that change without an event backfill reads.
_UNREBUILT_NEEDS = {
    "draft": "draft: a pull request's draft state has no past here",
    "base": "base: a pull request's base branch has no past here",
}


@dataclass(frozen=True)
class ItemEvent:
    moment: datetime
    kind: str  # one of READ_EVENTS
    label: str | None = None  # labeled / unlabeled
    assignee: str | None = None  # assigned / unassigned
    rename: tuple[str, str] | None = None  # renamed: (from, to)


@dataclass(frozen=True)
class Timeline:
    """One item as it is now and its events (None: unchanged since `since`, none read)."""

    now: WorkItem
    events: tuple[ItemEvent, ...] | None

    def at(self, moment: datetime) -> WorkItem | None:
        """The item as it was at `moment` (at or after `since`); None before it existed."""
        item = self.now
        if item.created_at > moment:
            return None
        if self.events is None:
            return item
        labels = list(item.labels)
        assignees = [item.assignee] if item.assignee else []
        title = item.title
        for event in reversed(self.events):  # undo what happened after the moment
            if event.moment <= moment:
                break
            if event.kind == "labeled" and event.label is not None:
                labels = [name for name in labels if name.lower() != event.label.lower()]
            elif event.kind == "unlabeled" and event.label is not None:
                labels.append(event.label)
            elif event.kind == "assigned" and event.assignee is not None:
                assignees = [login for login in assignees if login != event.assignee]
            elif event.kind == "unassigned" and event.assignee is not None:
                assignees.append(event.assignee)
            elif event.rename is not None:
                title = event.rename[0]
        past = [e for e in self.events if e.kind in STATE_EVENTS and e.moment <= moment]
        merged_at = next((e.moment for e in past if e.kind == "merged"), None)
        closed = bool(past) and past[-1].kind != "reopened"
        if merged_at is not None:
            closed = True
        closings = [e.moment for e in past if e.kind == "closed"]
        resolved_at = (merged_at or (closings[-1] if closings else None)) if closed else None
        touched = [e.moment for e in self.events if e.moment <= moment]
        return replace(
            item,
            status="merged" if merged_at else ("closed" if closed else "open"),
            status_category="done" if closed else "todo",
            updated_at=max([item.created_at, *touched]),
            resolved_at=resolved_at,
            merged_at=merged_at,
            labels=tuple(labels),
            assignee=assignees[0] if assignees else None,
            title=title,
            extra=dict(item.extra),
        )


def _complete(item: WorkItem, events: list[ItemEvent]) -> tuple[ItemEvent, ...]:
    """An item closed with no closing event listed (an event log cut short) keeps the close
    its record shows, so the present is never contradicted."""
    if item.resolved_at is not None and not any(e.kind in STATE_EVENTS for e in events):
        kinds = ["merged", "closed"] if item.merged_at is not None else ["closed"]
        events += [ItemEvent(item.resolved_at, kind) for kind in kinds]
    return tuple(sorted(events, key=lambda e: e.moment))


class ReviewLogs:
    """Pull requests' reviews, read once each when a step first needs them, so that
    `first_review_at` and `approved` are as they were at a moment."""

    def __init__(self, http: GitHubHttp, workers: int) -> None:
        self._http = http
        self._workers = workers
        self._logs: dict[str, list[tuple[datetime, str]]] = {}

    def fill(self, items: list[WorkItem], moment: datetime) -> None:
        pulls = [item for item in items if item.kind == "pull_request"]
        missing = [item for item in pulls if item.key not in self._logs]
        if missing:
            with ThreadPoolExecutor(self._workers, thread_name_prefix="gh-reviews") as pool:
                read = pool.map(partial(review_log, self._http), missing)
                self._logs |= dict(zip([item.key for item in missing], read, strict=True))
        for item in pulls:
            submitted = [(at, state) for at, state in self._logs[item.key] if at <= moment]
            item.first_review_at = submitted[0][0] if submitted else None
            item.extra["approved"] = any(
                state == "APPROVED" and (item.merged_at is None or at <= item.merged_at)
                for at, state in submitted
            )


@dataclass(frozen=True)
class RebuiltSelector:
    """A selector's answers over time: its list selectors applied to every item as it was."""

    timelines: tuple[Timeline, ...]
    parts: tuple[GitHubListSelector, ...]
    reviews: ReviewLogs | None = None

    def items_at(self, moment: datetime) -> list[WorkItem]:
        past = [item for t in self.timelines if (item := t.at(moment)) is not None]
        chosen = [item for part in self.parts for item in filter_listed(part, past)]
        found = sorted({item.key: item for item in chosen}.values(), key=lambda i: i.key)
        if self.reviews is not None:
            self.reviews.fill(found, moment)
        return found


TimelinesRead = dict[tuple[str, ItemKind, datetime], list[Timeline]]


def rebuild_history(
    http: GitHubHttp,
    selectors: Sequence[Selector],
    since: datetime,
    needs: frozenset[str],
    workers: int,
    read: TimelinesRead | None = None,
) -> dict[Selector, SelectorHistory | Unrebuildable]:
    """Each selector's answers since `since`, from one listing per repository and kind.

    `read` keeps the timelines read by earlier calls on the same connector: backfill asks
    once per set of needs, and a repository's timelines do not depend on them."""
    read = {} if read is None else read
    answers: dict[Selector, SelectorHistory | Unrebuildable] = {}
    parts: dict[Selector, list[GitHubListSelector]] = {}
    unrebuilt = sorted(reason for need, reason in _UNREBUILT_NEEDS.items() if need in needs)
    for selector in selectors:
        try:
            if unrebuilt:
                raise Unrebuildable("; ".join(unrebuilt))
            parts[selector] = _list_parts(selector)
        except Unrebuildable as exc:
            answers[selector] = exc
    units = sorted({(p.repo.lower(), p.kind) for ps in parts.values() for p in ps})
    for repo, kind in units:
        if (repo, kind, since) not in read:
            read[repo, kind, since] = _timelines(http, repo, kind, since, workers)
    timelines = {(repo, kind): read[repo, kind, since] for repo, kind in units}
    reviews = ReviewLogs(http, max(1, workers)) if NEEDS_FIRST_REVIEW in needs else None
    for selector, chosen in parts.items():
        reached = [
            t
            for unit in sorted({(p.repo.lower(), p.kind) for p in chosen})
            for t in timelines[unit]
        ]
        answers[selector] = RebuiltSelector(tuple(reached), tuple(chosen), reviews)
    return answers


def _list_parts(selector: Selector) -> list[GitHubListSelector]:
    if isinstance(selector, GitHubListSelector):
        validate(selector)
        return [selector]
    if isinstance(selector, GitHubSearchSelector):
        return list_selectors_of(selector.query)
    raise Unrebuildable(f"the GitHub connector cannot read {selector.source} selectors")


def _timelines(
    http: GitHubHttp, repo: str, kind: ItemKind, since: datetime, workers: int
) -> list[Timeline]:
    listed = list_repository(http, repo, kind, updated_from=None, state="all")
    changed = [item for item in listed if item.updated_at >= since]
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="gh-events") as pool:
        read = pool.map(partial(_events_of, http), changed)
        logs = dict(zip([item.key for item in changed], read, strict=True))
    return [
        Timeline(item, _complete(item, logs[item.key]) if item.key in logs else None)
        for item in listed
    ]


def _events_of(http: GitHubHttp, item: WorkItem) -> list[ItemEvent]:
    """The item's events backfill replays, oldest first: one request per 100 events."""
    repo, _, number = item.key.partition("#")
    with http.errors.translating(f"the events of {item.key}"):
        found: list[ItemEvent] = []
        for raw in http.json_listing(f"/repos/{repo}/issues/{number}/events", {}):
            moment = github_time(raw.get("created_at"))
            if raw.get("event") not in READ_EVENTS or moment is None:
                continue
            rename = raw.get("rename")
            found.append(
                ItemEvent(
                    moment,
                    str(raw["event"]),
                    label=(raw.get("label") or {}).get("name"),
                    assignee=(raw.get("assignee") or {}).get("login"),
                    rename=(str(rename["from"]), str(rename["to"])) if rename else None,
                )
            )
        return found
