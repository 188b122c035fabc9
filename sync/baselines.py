"""What a key result was at its period's start, taken once and kept: the value
`start: period_start` scores from, and the items `scope: frozen` measures.

The period's start is its first instant, 00:00 UTC of its first day: the moment backfill's
first step rebuilds. The start value is the value recorded at that moment (by a sync, or by
backfill for the same definition); without one, it is rebuilt through the connectors'
history (`items_at(period start)`) and written as a backfill point, so it never moves again.
A frozen scope is rebuilt the same way, once, and kept in `kr_scopes`. A key result whose
past cannot be rebuilt gets the reason, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import Connection

from config.periods import Period
from config.settings import Settings
from config.value_types import DEFAULT_NAMESPACE
from connectors.base import Connector, ConnectorError
from sync.backfill_rows import write_points
from sync.cycles import cycle_key
from sync.history_reads import History, first_missing, histories_of, items_then, scope_then
from sync.kept_values import definition_of
from sync.key_result_score import score_key_result
from sync.lineage import compute_key_result
from sync.plan import KeyResultPlan, QueryPlan
from sync.progress import KeyResultProgress, Status, Thresholds
from sync.records import BackfillPoint, FrozenScope
from sync.scope_rows import write_scope
from sync.store import Store

PERIOD_START = "period_start"
FROZEN = "frozen"


def start_of(period: Period) -> datetime:
    """A period's first instant, UTC."""
    return datetime.combine(period.start, time(0), tzinfo=UTC)


def wants_start(plan: KeyResultPlan) -> bool:
    return plan.key_result.start == PERIOD_START and not plan.is_manual


def wants_scope(plan: KeyResultPlan) -> bool:
    return plan.metric is not None and plan.metric.scope == FROZEN


@dataclass
class Baseline:
    """One key result's period start: what was found or rebuilt, or why it was not."""

    start: float | None = None
    start_problem: str | None = None
    scope: FrozenScope | None = None
    scope_problem: str | None = None
    rebuilt_start: BackfillPoint | None = None  # to write: rebuilt in this run
    rebuilt_scope: bool = False
    # a live set's items at the period's start, when backfill kept them: shown, not measured
    start_set: FrozenScope | None = None


@dataclass
class Baselines:
    """Every key result's period start in one run, and what the run writes of them."""

    by_id: dict[str, Baseline] = field(default_factory=dict)
    periods: dict[str, Period] = field(default_factory=dict)
    namespace: str = DEFAULT_NAMESPACE  # the run's: where its rows are written

    def get(self, kr_id: str) -> Baseline | None:
        return self.by_id.get(kr_id)

    def writer(
        self,
        scopes: dict[str, FrozenScope],
        before: Callable[[Connection, int], None] | None,
    ) -> Callable[[Connection, int], None]:
        """What a run writes besides its results, in its transaction: `before` (the
        incremental cache), then the rebuilt start values and the frozen scopes."""

        def write(conn: Connection, run_id: int) -> None:
            if before is not None:
                before(conn, run_id)
            self.write(conn, scopes)

        return write

    def write(self, conn: Connection, scopes: dict[str, FrozenScope]) -> None:
        """In the run's transaction: rebuilt start values and every frozen scope as last seen
        (`scopes`, from the run)."""
        for kr_id, baseline in self.by_id.items():
            if baseline.rebuilt_start is not None:
                period = self.periods[kr_id]
                cycle = cycle_key(period.start, period.end)
                write_points(conn, self.namespace, cycle, kr_id, [baseline.rebuilt_start])
            scope = scopes.get(kr_id)
            if scope is not None:
                period = self.periods[kr_id]
                write_scope(
                    conn,
                    self.namespace,
                    kr_id,
                    period,
                    scope.taken_at,
                    scope.definition,
                    scope.items,
                )


def without_start(
    baseline: Baseline | None,
    progress: KeyResultProgress,
    lineage: dict[str, Any],
    *,
    failed: bool,
) -> KeyResultProgress:
    """A `start: period_start` key result without its start: no progress, and why."""
    reason = baseline.start_problem if baseline is not None else None
    lineage["start_problem"] = f"start: period_start: {reason or 'not rebuilt'}"
    unscored = Status.ERROR if failed else Status.NO_DATA
    return KeyResultProgress(None, None, progress.expected, unscored)


def period_start_baselines(
    plans: Sequence[KeyResultPlan],
    store: Store | None,
    connectors: dict[str, Connector | ConnectorError],
    settings: Settings,
    thresholds: Thresholds,
) -> Baselines:
    """Find each wanted start value and frozen scope in the store, and rebuild the rest."""
    found = Baselines(namespace=store.namespace if store is not None else DEFAULT_NAMESPACE)
    missing: list[KeyResultPlan] = []
    sets = [p for p in plans if p.metric is not None]
    wanted = [(p.key_result.id, p.period) for p in sets]
    kept = store.frozen_scopes(wanted) if store is not None else {}
    for plan in plans:
        scope = kept.get(plan.key_result.id)
        if scope is not None and scope.definition != definition_of(plan):
            scope = None  # taken for another definition: retaken (frozen) or not shown
        if scope is not None and not wants_scope(plan):
            found.by_id[plan.key_result.id] = Baseline(start_set=scope)
            found.periods[plan.key_result.id] = plan.period
        if not (wants_start(plan) or wants_scope(plan)):
            continue
        kr_id, definition = plan.key_result.id, definition_of(plan)
        baseline = found.by_id.setdefault(kr_id, Baseline())
        found.periods[kr_id] = plan.period
        if wants_start(plan) and store is not None:
            recorded = store.recorded_at(kr_id, plan.period)
            if recorded is not None and recorded[1] in (None, definition):
                baseline.start = recorded[0]
        if wants_scope(plan):
            baseline.scope = scope
        if (wants_start(plan) and baseline.start is None) or (
            wants_scope(plan) and baseline.scope is None
        ):
            missing.append(plan)
    if missing:
        _rebuild(missing, found, connectors, settings, thresholds)
    return found


def _rebuild(
    plans: Sequence[KeyResultPlan],
    found: Baselines,
    connectors: dict[str, Connector | ConnectorError],
    settings: Settings,
    thresholds: Thresholds,
) -> None:
    """One history per distinct selector, read from the earliest period start asked."""
    selectors = {m.selector for plan in plans for m in plan.metric_plans}
    items = {m.selector: m.needs for plan in plans for m in plan.metric_plans}
    query = QueryPlan(list(plans), {}, {s: items[s] for s in selectors}, set())
    since = min(start_of(plan.period) for plan in plans)
    histories = histories_of(query, connectors, since)
    for plan in plans:
        baseline = found.by_id[plan.key_result.id]
        problem = _missing(plan, histories)
        moment = start_of(plan.period)
        if wants_start(plan) and baseline.start is None:
            baseline.start_problem = problem or _rebuild_start(
                plan, histories, settings, thresholds, baseline
            )
        if wants_scope(plan) and baseline.scope is None:
            if problem is not None:
                baseline.scope_problem = problem
                continue
            baseline.scope = scope_then(plan, histories, moment)
            baseline.rebuilt_scope = True


def _missing(plan: KeyResultPlan, histories: dict[Any, History]) -> str | None:
    found = first_missing(plan, histories)
    return None if found is None else f"{found[0].describe()}: {found[1].reason}"


def _rebuild_start(
    plan: KeyResultPlan,
    histories: dict[Any, History],
    settings: Settings,
    thresholds: Thresholds,
    baseline: Baseline,
) -> str | None:
    """The value at the period's start from the histories; the reason when there is none."""
    moment = start_of(plan.period)
    value, error, lineage = compute_key_result(
        plan, items_then(plan, histories, moment), settings, moment
    )
    if error is not None or value is None:
        return error or str(lineage.get("note") or "no value at the period's start")
    lineage["definition"] = definition_of(plan)
    lineage["backfill"] = {
        "step": moment.isoformat(),
        "rebuilt_from": "the trackers' records of each item (times, changelogs, events)",
        "for": "start: period_start",
    }
    kr = plan.key_result
    progress = score_key_result(kr, plan.period, value, value, as_of=moment, thresholds=thresholds)
    baseline.start = value
    baseline.rebuilt_start = BackfillPoint(
        moment, value, progress.progress_raw, progress.status, lineage
    )
    return None
