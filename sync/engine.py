"""One sync run: plan -> fetch -> compute -> score -> store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from config.mapping import KeyResult, MappingFile
from config.periods import Period
from config.settings import Settings
from config.value_types import DEFAULT_NAMESPACE
from connectors.base import Connector, ConnectorError
from connectors.changes import StageCost
from sync.baselines import (
    Baseline,
    period_start_baselines,
    wants_start,
    without_start,
)
from sync.connections import build_connectors
from sync.demand import compute_as_fetched
from sync.fetch import FetchResults, stream_fetches
from sync.file_cycles import cycle_scope, listing_of
from sync.incremental_run import IncrementalSync, RunCache
from sync.kept_values import fetch_plan_without, kept_key_results, kept_lineage
from sync.key_result_score import score_key_result
from sync.objective_rollup import objective_progress, objective_records
from sync.plan import KeyResultPlan, QueryPlan, plan_queries
from sync.progress import (
    KeyResultProgress,
    Thresholds,
)
from sync.records import (
    KeyResultRecord,
    RunRecord,
    StoredKeyResult,
)
from sync.scope import ComputeInScope
from sync.store import Store

log = logging.getLogger(__name__)


@dataclass
class KeyResultOutcome:
    plan: KeyResultPlan
    value: float | None
    error: str | None
    lineage: dict[str, Any]
    progress: KeyResultProgress
    previous_value: float | None
    start: float | None


@dataclass(frozen=True)
class PreviousState:
    """A key result as the store had it before a run: what the digest compares with."""

    status: str
    progress: float | None  # the stored fraction, as the store holds it


def states_before_run(settings: Settings, store: Store | None) -> dict[str, PreviousState]:
    """Read before a run writes; empty (and no query) when no webhook is set."""
    if settings.notify.webhook_url is None or store is None:
        return {}
    return {row.id: PreviousState(row.status, row.progress) for row in store.all_key_results()}


@dataclass
class SyncReport:
    started_at: datetime
    finished_at: datetime
    key_results: list[KeyResultOutcome]
    skipped: dict[str, str]
    requests: dict[str, int]
    errors: dict[str, list[str]]
    objectives: dict[str, tuple[float | None, str]] = field(default_factory=dict)
    run_id: int | None = None
    dry_run: bool = False
    cache_units: dict[str, int] | None = None  # incremental sync: units cached/patched/fetched
    cache_decoded: int | None = None  # incremental sync: cache entries whose items were decoded
    kept: int = 0  # key results that kept their value: nothing they read changed
    # incremental sync: what telling the changes cost, by "<tracker> <stage>"
    cache_checks: dict[str, StageCost] = field(default_factory=dict)
    # the stored states before the run, which the digest compares with (sync.notify)
    digest_before: dict[str, PreviousState] = field(default_factory=dict)
    namespace: str = DEFAULT_NAMESPACE  # the mapping file's: the digest names it

    @property
    def failed(self) -> list[KeyResultOutcome]:
        return [kr for kr in self.key_results if kr.error is not None]

    @property
    def outcome(self) -> str:
        if not self.failed:
            return "ok"
        return "failed" if len(self.failed) == len(self.key_results) else "partial"

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def thresholds_of(mapping: MappingFile, settings: Settings) -> Thresholds:
    chosen = mapping.thresholds or settings.thresholds
    return Thresholds(on_track=chosen.on_track, at_risk=chosen.at_risk)


def resolve_start(
    kr: KeyResult,
    store: Store | None,
    period: Period,
    value: float | None,
    baseline: Baseline | None = None,
) -> float | None:
    """`start: auto` is the first value a sync or a person recorded in the period (this one,
    on the first run); `period_start` the value at the period's start (`sync.baselines`)."""
    if kr.start == "period_start":
        return baseline.start if baseline is not None else None
    if kr.start != "auto":
        return None if kr.start is None else float(kr.start)
    first = store.first_value_since(kr.id, period.start) if store is not None else None
    return first if first is not None else value


def run_sync(
    settings: Settings,
    mapping: MappingFile,
    store: Store | None,
    *,
    only: list[str] | None = None,
    dry_run: bool = False,
    config_path: str | None = None,
    as_of: datetime | None = None,
    on_fetch_done: Callable[[str], None] | None = None,
    plan_ready: Callable[[QueryPlan], None] | None = None,
    demo: bool = False,
    connectors: Mapping[str, Connector | ConnectorError] | None = None,
    cache: RunCache | None = None,
) -> SyncReport:
    """One pass. The store is only read before fetching and written once at the end.

    The digest is not posted here: the caller posts it (`sync.notify.notify_after_run`)
    once it has released the run lock. The mapping file is read whole even when `only`
    some key results are fetched, so every run retires what it does not list. `demo` marks
    the objectives as the built-in demo's. `connectors`: the trackers to read (a run of
    many files shares them, `sync.file_runs`); default: connected here. `cache`: that
    run's incremental cache, planned over every file's plan (its first file asks what
    changed, each file's transaction writes what was answered by then); default: this
    file's own.
    """
    started = datetime.now(UTC)
    as_of = as_of or started
    if store is not None:  # what it reads of the store, it reads in the file's cycles
        store = store.in_namespace(mapping.namespace).in_cycle(cycle_scope(mapping))
    plan = plan_queries(mapping, today=as_of.date(), only=only)
    if plan_ready is not None:
        plan_ready(plan)
    sources = {m.selector.source for kr in plan.key_results for m in kr.metric_plans}
    connectors = (
        build_connectors(settings, sources)
        if connectors is None
        else {source: c for source, c in connectors.items() if source in sources}
    )
    readers = dict(connectors)  # unwrapped: the history of the period's start is read here
    incremental = (
        IncrementalSync(store, settings.incremental, started, cache)
        if store is not None and settings.incremental.enabled
        else None
    )
    concurrency = {"jira": settings.jira.max_concurrency, "github": settings.github.max_concurrency}
    kept: dict[str, StoredKeyResult] = {}
    fetch_plan = plan
    if incremental is not None:  # the store's cache answers what has not changed
        connectors = incremental.wrap(plan, connectors)
        incremental.prepare(concurrency)
    # Read after the changes were asked: the stored lineages and the id listings the change
    # feeds compare the cache with are not held at once.
    stored = store.stored_key_results() if store is not None else {}
    if incremental is not None:
        kept = kept_key_results(plan, stored, incremental.unchanged_entry)
        fetch_plan = fetch_plan_without(plan, kept)
        if on_fetch_done is not None:  # what only kept key results read is done already
            planned = plan.item_fetches.keys() | plan.count_fetches
            for selector in planned - fetch_plan.item_fetches.keys() - fetch_plan.count_fetches:
                on_fetch_done(selector.describe())
        incremental.expect(fetch_plan)
    fetched = FetchResults(freshness=incremental.freshness() if incremental is not None else {})
    arrivals = stream_fetches(
        fetch_plan, connectors, fetched, concurrency=concurrency, on_done=on_fetch_done
    )
    thresholds = thresholds_of(mapping, settings)
    baselines = period_start_baselines(plan.key_results, store, readers, settings, thresholds)
    compute = ComputeInScope(settings, as_of, baselines, stored)
    computed = compute_as_fetched(fetch_plan.key_results, arrivals, fetched, compute)
    scopes = compute.scopes
    digest_before = states_before_run(settings, store)

    outcomes: list[KeyResultOutcome] = []
    for kr_plan in plan.key_results:
        kr = kr_plan.key_result
        previous = stored.get(kr.id)
        if kr_plan.is_manual:
            value, error, lineage = (
                (previous.value if previous else None),
                None,
                {"metric": "manual"},
            )
        elif kr.id in kept:
            value, error = kept[kr.id].value, None
            lineage = kept_lineage(kr_plan, kept[kr.id], fetched.freshness)
        else:
            value, error, lineage = computed[kr.id]
        shown = value if error is None else (previous.value if previous else None)
        baseline = baselines.get(kr.id)
        start = resolve_start(kr, store, kr_plan.period, shown, baseline)
        progress = score_key_result(
            kr,
            kr_plan.period,
            shown,
            start,
            as_of=as_of,
            thresholds=thresholds,
            failed=error is not None,
        )
        if wants_start(kr_plan) and start is None:  # no baseline: no progress, nothing guessed
            progress = without_start(baseline, progress, lineage, failed=error is not None)
        outcomes.append(
            KeyResultOutcome(
                kr_plan,
                shown,
                error,
                lineage,
                progress,
                previous.value if previous else None,
                start,
            )
        )

    errors: dict[str, list[str]] = {source: [] for source in sources}
    for selector, result in [*fetched.counts.items(), *fetched.items.items()]:
        if result.error:
            errors.setdefault(selector.source, []).append(f"{selector.describe()}: {result.error}")
    requests = {
        source: c.requests_made
        for source, c in connectors.items()
        if not isinstance(c, ConnectorError)
    }
    report = SyncReport(
        started_at=started,
        finished_at=datetime.now(UTC),
        key_results=outcomes,
        skipped=plan.skipped,
        requests=requests,
        errors=errors,
        dry_run=dry_run,
        digest_before=digest_before,
        namespace=mapping.namespace,
    )
    report.cache_units = incremental.modes() if incremental is not None else None
    report.cache_decoded = incremental.decoded_units if incremental is not None else None
    report.kept = len(kept)
    report.cache_checks = incremental.costs() if incremental is not None else {}
    fresh = {o.plan.key_result.id: o.progress for o in outcomes}
    report.objectives = objective_progress(mapping, store, fresh, as_of, thresholds)
    if dry_run or store is None:
        return report
    report.run_id = store.write_run(
        RunRecord(
            started_at=report.started_at,
            finished_at=report.finished_at,
            outcome=report.outcome,
            key_results_total=len(outcomes),
            key_results_failed=len(report.failed),
            requests=requests,
            errors=errors,
            config_path=config_path,
        ),
        objective_records(mapping, report.objectives, demo=demo),
        [key_result_record(o, observed=o.error is None and not o.plan.is_manual) for o in outcomes],
        also=baselines.writer(scopes, incremental.write if incremental is not None else None),
        listing=listing_of(mapping),
    )
    if incremental is not None:
        incremental.committed()
    log.info(
        "run %s: %s, %d key results, %d failed, requests %s, namespace %s",
        report.run_id,
        report.outcome,
        len(outcomes),
        len(report.failed),
        requests,
        mapping.namespace,
        extra={
            "run_id": report.run_id,
            "outcome": report.outcome,
            "requests": requests,
            "namespace": mapping.namespace,
        },
    )
    for failed in report.failed:  # one line per failing key result, for log-based alerts
        log.warning(
            "run %s: key result %s failed: %s",
            report.run_id,
            failed.plan.key_result.id,
            failed.error,
            extra={"run_id": report.run_id, "key_result": failed.plan.key_result.id},
        )
    return report


def key_result_record(outcome: KeyResultOutcome, *, observed: bool) -> KeyResultRecord:
    kr = outcome.plan.key_result
    plan = outcome.plan
    source = (
        plan.metric.selector.source
        if plan.metric is not None
        else ("manual" if plan.is_manual else "formula")
    )
    return KeyResultRecord(
        id=kr.id,
        objective_id=plan.objective.id,
        title=kr.title,
        kind=kr.kind,
        unit=kr.unit,
        metric_type=kr.metric.type,
        source=source,
        start_value=outcome.start,
        target_value=kr.target,
        min_value=kr.min,
        max_value=kr.max,
        weight=kr.weight,
        position=plan.position,
        period_start=plan.period.start,
        period_end=plan.period.end,
        value=outcome.value,
        progress_raw=outcome.progress.progress_raw,
        progress=outcome.progress.progress,
        expected=outcome.progress.expected,
        status=outcome.progress.status,
        error=outcome.error,
        lineage=outcome.lineage,
        observed=observed,
    )
