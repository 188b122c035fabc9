"""Backfill: each automated key result's value at each step of its period, rebuilt from the
trackers' own records (`connectors.history`) and computed by the code a sync uses
(`compute_key_result`), stored with origin `backfill` beside what syncs and people recorded.

Selectors are planned as a sync plans them (`plan_queries`: one history per distinct
selector). Before anything is written, the value each history gives now is checked against
what a sync gives now: the key results that can be rebuilt are synced (`run_sync`, so the
check reads through the incremental cache and the sync's connectors, and writes the
objective and key result rows a store that never synced them lacks). A key result whose two
values differ is reported and left alone, as is one whose history cannot be rebuilt. Points
are written a batch at a time, each in its own transaction: an interrupted backfill keeps
what it wrote, and a rerun writes only the rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from config.mapping import MappingFile
from config.settings import Settings
from connectors.base import ConnectorError, Selector
from sync.baselines import start_of, wants_scope, wants_start
from sync.connections import build_connectors
from sync.engine import KeyResultOutcome, run_sync, thresholds_of
from sync.fetch import FetchResults
from sync.file_cycles import cycle_scope
from sync.history_reads import History, first_missing, histories_of, items_then, scope_then
from sync.kept_values import definition_of
from sync.key_result_score import score_key_result
from sync.lineage import compute_key_result
from sync.plan import KeyResultPlan, QueryPlan, plan_queries
from sync.progress import KeyResultProgress, Status, Thresholds
from sync.records import BackfillPoint, FrozenScope
from sync.scope import in_scope
from sync.store import Store

BATCH = 30  # points written per transaction
ABS_TOLERANCE = 1e-9  # the value now, rebuilt vs fetched: equal up to float rounding


@dataclass(frozen=True)
class BackfillRequest:
    now: datetime
    step: timedelta
    since: date | None = None  # None: each key result's period start
    only: list[str] | None = None


@dataclass
class KeyResultBackfill:
    """What backfill did for one key result."""

    id: str
    steps: int = 0
    written: int = 0
    kept: int = 0  # points an earlier backfill wrote for the same definition
    taken: int = 0  # steps that already hold a sync's, check-in's or note's value
    failed_steps: int = 0  # steps whose value could not be computed (e.g. no items)
    reason: str | None = None  # why it was not rebuilt; nothing written
    error: bool = False  # the reason is a failure (tracker error, mismatch), not a limit
    value_now: float | None = None  # rebuilt at `now`
    fetched_now: float | None = None  # what a sync computes at `now`
    scope: FrozenScope | None = None  # `scope: frozen`: the items it measures at every step


@dataclass
class BackfillReport:
    key_results: list[KeyResultBackfill]
    skipped: dict[str, str]
    requests: dict[str, int] = field(default_factory=dict)  # the histories', by tracker
    # the sync that checks the value now: its requests by tracker, its run's id
    sync_requests: dict[str, int] = field(default_factory=dict)
    sync_run_id: int | None = None

    @property
    def exit_code(self) -> int:
        return 1 if any(kr.error for kr in self.key_results) else 0


StepDone = Callable[[str, int], None]  # key result id, steps done (of its total)


def steps_of(start: date, now: datetime, step: timedelta) -> list[datetime]:
    """The moments from `start`'s first instant up to, not including, `now`."""
    moment = datetime.combine(start, time(0), tzinfo=UTC)
    moments: list[datetime] = []
    while moment < now:
        moments.append(moment)
        moment += step
    return moments


def first_step(plan: KeyResultPlan, since: date | None) -> date:
    return max(plan.period.start, since) if since is not None else plan.period.start


def run_backfill(
    settings: Settings,
    mapping: MappingFile,
    store: Store,
    request: BackfillRequest,
    *,
    plan_ready: Callable[[dict[str, int]], None] | None = None,
    on_step: StepDone | None = None,
) -> BackfillReport:
    """Rebuild and store the past values of the mapping file's automated key results."""
    plan = plan_queries(mapping, today=request.now.date(), only=request.only)
    outcomes = {p.key_result.id: KeyResultBackfill(p.key_result.id) for p in plan.key_results}
    chosen = [p for p in plan.key_results if _can_backfill(p, outcomes[p.key_result.id])]
    steps = {
        p.key_result.id: steps_of(first_step(p, request.since), request.now, request.step)
        for p in chosen
    }
    sources = {m.selector.source for p in chosen for m in p.metric_plans}
    connectors = build_connectors(settings, sources)
    since = min((moments[0] for moments in steps.values() if moments), default=request.now)
    histories = histories_of(_sub_plan(plan, chosen), connectors, since)
    rebuilt = [p for p in chosen if _rebuildable(p, histories, outcomes[p.key_result.id])]
    if plan_ready is not None:
        plan_ready({p.key_result.id: len(steps[p.key_result.id]) for p in rebuilt})
    synced = (
        run_sync(
            settings, mapping, store, only=[p.key_result.id for p in rebuilt], as_of=request.now
        )
        if rebuilt
        else None
    )
    # each key result's history in its own cycle, in the file's namespace
    store = store.in_namespace(mapping.namespace).in_cycle(cycle_scope(mapping))
    now = {o.plan.key_result.id: o for o in synced.key_results} if synced is not None else {}
    thresholds = thresholds_of(mapping, settings)
    for kr_plan in rebuilt:
        outcome = outcomes[kr_plan.key_result.id]
        if not _scope_taken(kr_plan, store, outcome):
            continue
        if _agrees_now(kr_plan, histories, now[outcome.id], settings, request.now, outcome):
            moments = steps[outcome.id]
            _backfill_one(
                kr_plan, histories, settings, moments, thresholds, store, outcome, on_step
            )
            if moments and moments[0] == start_of(kr_plan.period):
                _keep_start_set(kr_plan, histories, store, outcome)
    requests = {
        source: c.requests_made
        for source, c in connectors.items()
        if not isinstance(c, ConnectorError)
    }
    report = BackfillReport(list(outcomes.values()), plan.skipped, requests)
    if synced is not None:
        report.sync_requests, report.sync_run_id = synced.requests, synced.run_id
    return report


def _can_backfill(plan: KeyResultPlan, outcome: KeyResultBackfill) -> bool:
    """Whether a key result can be backfilled at all; if not, why, in its outcome."""
    if plan.is_manual:
        outcome.reason = "manual: its values come from people, not from a tracker's records"
    return outcome.reason is None


def _scope_taken(plan: KeyResultPlan, store: Store, outcome: KeyResultBackfill) -> bool:
    """A frozen key result's scope, taken by the sync just run; if it could not be, why."""
    if not wants_scope(plan):
        return True
    scope = store.frozen_scope(plan.key_result.id, plan.period)
    if scope is None or scope.definition != definition_of(plan):
        outcome.reason = (
            "scope: frozen: its items at the period's start could not be taken (`explain` says why)"
        )
        outcome.error = True
        return False
    outcome.scope = scope
    return True


def _keep_start_set(
    plan: KeyResultPlan,
    histories: dict[Selector, History],
    store: Store,
    outcome: KeyResultBackfill,
) -> None:
    """A live set's items at the period's start, kept once, so the views can show what
    joined and left it since (a frozen scope was taken by the sync already)."""
    if plan.metric is None or outcome.scope is not None:
        return
    kept = store.frozen_scope(outcome.id, plan.period)
    if kept is not None and kept.definition == definition_of(plan):
        return
    store.write_frozen_scope(
        outcome.id, plan.period, scope_then(plan, histories, start_of(plan.period))
    )


def _then(
    plan: KeyResultPlan,
    histories: dict[Selector, History],
    moment: datetime,
    outcome: KeyResultBackfill,
) -> FetchResults:
    """What a sync would have measured at `moment`: a frozen scope's items, each as the
    selector gave it then (as at the period's start once it no longer matched)."""
    then = items_then(plan, histories, moment)
    return then if outcome.scope is None else in_scope(plan, then, outcome.scope)


def _sub_plan(plan: QueryPlan, chosen: Sequence[KeyResultPlan]) -> QueryPlan:
    """The plan's distinct fetches that `chosen` key results read."""
    selectors = {m.selector for p in chosen for m in p.metric_plans}
    items = {s: needs for s, needs in plan.item_fetches.items() if s in selectors}
    counts = {s for s in plan.count_fetches if s in selectors}
    return QueryPlan(list(chosen), {}, items, counts)


def _rebuildable(
    plan: KeyResultPlan, histories: dict[Selector, History], outcome: KeyResultBackfill
) -> bool:
    found = first_missing(plan, histories)
    if found is None:
        return True
    selector, missing = found
    outcome.reason = (
        missing.reason
        if missing.reason.startswith(f"{selector.source}:")
        else f"{selector.describe()}: {missing.reason}"
    )
    outcome.error = missing.failure
    return False


def _agrees_now(
    plan: KeyResultPlan,
    histories: dict[Selector, History],
    synced: KeyResultOutcome,
    settings: Settings,
    now: datetime,
    outcome: KeyResultBackfill,
) -> bool:
    """The value rebuilt at `now` against the value the sync computed now."""
    outcome.value_now = compute_key_result(
        plan, _then(plan, histories, now, outcome), settings, now
    )[0]
    if synced.error is not None:
        outcome.reason, outcome.error = f"fetching it now failed: {synced.error}", True
        return False
    value = synced.value
    outcome.fetched_now = value
    if not _same(outcome.value_now, value):
        outcome.reason = (
            f"its value rebuilt now ({outcome.value_now}) is not what a sync computes now "
            f"({value}): nothing written"
        )
        outcome.error = True
        return False
    return True


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=ABS_TOLERANCE)


def _backfill_one(
    plan: KeyResultPlan,
    histories: dict[Selector, History],
    settings: Settings,
    moments: Sequence[datetime],
    thresholds: Thresholds,
    store: Store,
    outcome: KeyResultBackfill,
    on_step: StepDone | None,
) -> None:
    """Compute each step's value and write them a batch at a time."""
    batch: list[BackfillPoint] = []
    for done, point in enumerate(
        _points(plan, histories, settings, moments, thresholds, store, outcome), start=1
    ):
        if point is not None:
            batch.append(point)
        if len(batch) == BATCH or done == len(moments):
            written = store.write_backfill(outcome.id, plan.period, batch)
            outcome.written += written.written
            outcome.kept += written.kept
            outcome.taken += written.taken
            batch = []
        if on_step is not None:
            on_step(outcome.id, done)


def _points(
    plan: KeyResultPlan,
    histories: dict[Selector, History],
    settings: Settings,
    moments: Sequence[datetime],
    thresholds: Thresholds,
    store: Store,
    outcome: KeyResultBackfill,
) -> Iterator[BackfillPoint | None]:
    """Each step's point (None where its value could not be computed)."""
    kr = plan.key_result
    definition = definition_of(plan)
    start = _fixed_start(kr.start)
    for moment in moments:
        outcome.steps += 1
        value, error, lineage = compute_key_result(
            plan, _then(plan, histories, moment, outcome), settings, moment
        )
        if error is not None:
            outcome.failed_steps += 1
            yield None
            continue
        if kr.start == "auto" and start is None:  # the first value in the period
            start = store.first_value_since(kr.id, plan.period.start)
            start = value if start is None else start
        if wants_start(plan) and start is None:  # the value at the period's first instant
            recorded = store.recorded_at(kr.id, plan.period)
            if recorded is not None and recorded[1] in (None, definition):
                start = recorded[0]
            elif moment == start_of(plan.period):
                start = value
        progress = score_key_result(
            kr, plan.period, value, start, as_of=moment, thresholds=thresholds
        )
        if wants_start(plan) and start is None:  # no baseline: no progress, nothing guessed
            progress = KeyResultProgress(None, None, progress.expected, Status.NO_DATA)
        lineage["definition"] = definition
        lineage["backfill"] = _how(plan, moment)
        yield BackfillPoint(moment, value, progress.progress_raw, progress.status, lineage)


def _fixed_start(start: object) -> float | None:
    return float(start) if isinstance(start, int | float) else None


def _how(plan: KeyResultPlan, moment: datetime) -> dict[str, Any]:
    return {
        "step": moment.isoformat(),
        "rebuilt_from": "the trackers' records of each item (times, changelogs, events)",
        "selectors": [m.selector.describe() for m in plan.metric_plans],
    }
