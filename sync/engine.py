"""One sync run: plan -> fetch -> compute -> score -> store, and check-ins by people."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from config.mapping import KeyResult, MappingFile, Objective
from config.periods import Period
from config.settings import Settings
from config.vocabulary import MetricType
from connectors.base import (
    Connector,
    ConnectorError,
    GitHubListSelector,
    GitHubSearchSelector,
    JiraSelector,
    Selector,
)
from connectors.changes import StageCost
from connectors.github import search_query_for
from connectors.ratelimit import RateGovernor
from sync.fetch import FetchResults, run_fetches
from sync.incremental import IncrementalSync
from sync.metrics import MetricValue, compute, compute_formula
from sync.plan import KeyResultPlan, MetricPlan, QueryPlan, plan_queries
from sync.progress import (
    KeyResultProgress,
    ObjectiveNode,
    Status,
    Target,
    Thresholds,
    expected_progress,
    roll_up,
    score,
)
from sync.records import KeyResultRecord, Listing, ObjectiveRecord, RunRecord
from sync.store import Store

log = logging.getLogger(__name__)

MAX_LINEAGE_KEYS = 1000  # item keys kept per value; the total is always kept


class CheckinError(ValueError):
    """A check-in names an unknown key result or carries a value that cannot be stored."""


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
    # incremental sync: what telling the changes cost, by "<tracker> <stage>"
    cache_checks: dict[str, StageCost] = field(default_factory=dict)
    # the stored states before the run, which the digest compares with (sync.notify)
    digest_before: dict[str, PreviousState] = field(default_factory=dict)

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


def build_connectors(
    settings: Settings, sources: set[str]
) -> dict[str, Connector | ConnectorError]:
    """Connect to each tracker the plan needs; an unusable one is kept as its error."""
    connectors: dict[str, Connector | ConnectorError] = {}
    for source in sorted(sources):
        try:
            connectors[source] = _connect(settings, source)
        except ConnectorError as exc:
            # DEBUG: each key result it costs is reported with this error, once
            log.debug("cannot use %s: %s", source, exc)
            connectors[source] = exc
    return connectors


def _connect(settings: Settings, source: str) -> Connector:
    if source == "jira":
        from connectors.jira import JiraConnector

        jira = settings.jira
        if not jira.url or jira.token is None:
            raise ConnectorError(
                "Jira is not configured: set OKRSYNC_JIRA__URL and OKRSYNC_JIRA__TOKEN "
                "(and OKRSYNC_JIRA__EMAIL for Jira Cloud)"
            )
        return JiraConnector(
            jira.url,
            email=jira.email,
            token=jira.token,
            flavour=jira.flavour,
            timeout=(min(10.0, jira.timeout_s), jira.timeout_s),
            story_points_field=jira.story_points_field,
            governor=RateGovernor("jira", budget_s=settings.incremental.rate_wait_budget_s),
        )
    from connectors.github import GitHubConnector

    github = settings.github
    return GitHubConnector(
        base_url=github.base_url,
        token=github.token,
        timeout=github.timeout_s,
        governor=RateGovernor("github", budget_s=settings.incremental.rate_wait_budget_s),
    )


def query_link(selector: Selector, settings: Settings) -> str | None:
    """Where a person can see the same items in the tracker's own UI."""
    if isinstance(selector, JiraSelector):
        base = (settings.jira.url or "").rstrip("/")
        return f"{base}/issues/?jql={quote(selector.jql)}" if base else None
    web = github_web_url(settings.github.base_url)
    if isinstance(selector, GitHubSearchSelector):
        return f"{web}/search?q={quote(selector.query)}"
    if isinstance(selector, GitHubListSelector):
        # The very query a count asks the search API, so the page lists the counted items.
        kind = "pullrequests" if selector.kind == "pull_request" else "issues"
        return f"{web}/search?q={quote(search_query_for(selector))}&type={kind}"
    return None


def github_web_url(api_base: str | None) -> str:
    if not api_base:
        return "https://github.com"
    parts = urlsplit(api_base.rstrip("/"))
    path = parts.path.removesuffix("/api/v3")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _metric_value(
    metric: MetricPlan, fetched: FetchResults, settings: Settings, as_of: datetime
) -> tuple[MetricValue | None, str | None, dict[str, Any]]:
    """Compute one tracker metric; return (value, error, lineage)."""
    selector = metric.selector
    lineage: dict[str, Any] = {
        "source": selector.source,
        "metric": metric.metric_type,
        "query": selector.describe(),
        "link": query_link(selector, settings),
        "fetched_at": as_of.isoformat(),
    }
    if selector in fetched.freshness:
        lineage["cache"] = fetched.freshness[selector]
    if metric.field:
        lineage["field"] = metric.field
    if metric.where_text:
        lineage["where"] = metric.where_text
    if metric.metric_type == MetricType.COUNT:
        outcome = fetched.for_count(selector)
        if outcome.error is not None or outcome.count is None:
            lineage["error"] = outcome.error
            return None, outcome.error or "no count returned", lineage
        lineage["count"] = outcome.count
        lineage["counted_by"] = "server" if selector in fetched.counts else "items"
        return MetricValue(float(outcome.count), outcome.count, None), None, lineage
    outcome = fetched.for_items(selector)
    if outcome.error is not None or outcome.items is None:
        lineage["error"] = outcome.error
        return None, outcome.error or "no items returned", lineage
    items = outcome.items
    lineage["items_total"] = len(items)
    lineage["items"] = [item.key for item in items[:MAX_LINEAGE_KEYS]]
    try:
        value = compute(
            metric.metric_type, items, field=metric.field, where=metric.where, as_of=as_of
        )
        if value.value is not None and not math.isfinite(value.value):
            raise ValueError(f"{metric.metric_type} is not a finite number ({value.value})")
    except (ValueError, ArithmeticError) as exc:  # e.g. an overflowing sum: never stored
        error = str(exc) if isinstance(exc, ValueError) else f"{metric.metric_type}: {exc}"
        lineage["error"] = error
        return None, error, lineage
    lineage["sample_size"] = value.sample_size
    if value.reason:
        lineage["note"] = value.reason
    return value, None, lineage


def compute_key_result(
    plan: KeyResultPlan, fetched: FetchResults, settings: Settings, as_of: datetime
) -> tuple[float | None, str | None, dict[str, Any]]:
    """The value of one key result from the fetched data, with its lineage."""
    if plan.metric is not None:
        value, error, lineage = _metric_value(plan.metric, fetched, settings, as_of)
        return (value.value if value else None), error, lineage
    assert plan.formula is not None
    inputs: dict[str, float | None] = {}
    input_lineage: dict[str, Any] = {}
    errors: list[str] = []
    for name, metric in plan.inputs.items():
        value, error, lineage = _metric_value(metric, fetched, settings, as_of)
        inputs[name] = value.value if value else None
        lineage["value"] = inputs[name]
        input_lineage[name] = lineage
        if error:
            errors.append(f"{name}: {error}")
    lineage = {
        "metric": "formula",
        "expr": plan.key_result.metric.expr,
        "inputs": input_lineage,
        "fetched_at": as_of.isoformat(),
    }
    if errors:
        lineage["error"] = "; ".join(errors)
        return None, lineage["error"], lineage
    result = compute_formula(plan.formula, inputs)
    if result.reason:
        lineage["note"] = result.reason
    return result.value, None, lineage


def target_of(kr: KeyResult, start: float | None) -> Target:
    return Target(kind=kr.kind, start=start, target=kr.target, minimum=kr.min, maximum=kr.max)


def thresholds_of(mapping: MappingFile, settings: Settings) -> Thresholds:
    chosen = mapping.thresholds or settings.thresholds
    return Thresholds(on_track=chosen.on_track, at_risk=chosen.at_risk)


def resolve_start(
    kr: KeyResult, store: Store | None, period: Period, value: float | None
) -> float | None:
    """`start: auto` is the first value seen in the period (this one, on the first run)."""
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
) -> SyncReport:
    """One pass. The store is only read before fetching and written once at the end.

    The digest is not posted here: the caller posts it (`sync.notify.notify_after_run`)
    once it has released the run lock. The mapping file is read whole even when `only`
    some key results are fetched, so every run retires what it does not list. `demo` marks
    the objectives as the built-in demo's.
    """
    started = datetime.now(UTC)
    as_of = as_of or started
    plan = plan_queries(mapping, today=as_of.date(), only=only)
    if plan_ready is not None:
        plan_ready(plan)
    sources = {m.selector.source for kr in plan.key_results for m in kr.metric_plans}
    connectors = build_connectors(settings, sources)
    incremental = (
        IncrementalSync(store, settings.incremental, started)
        if store is not None and settings.incremental.enabled
        else None
    )
    if incremental is not None:  # the store's cache answers what has not changed
        connectors = incremental.wrap(plan, connectors)
    fetched = run_fetches(
        plan,
        connectors,
        concurrency={
            "jira": settings.jira.max_concurrency,
            "github": settings.github.max_concurrency,
        },
        on_done=on_fetch_done,
    )
    if incremental is not None:
        fetched.freshness = incremental.freshness()
    stored = store.stored_key_results() if store is not None else {}
    digest_before = states_before_run(settings, store)
    thresholds = thresholds_of(mapping, settings)

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
        else:
            value, error, lineage = compute_key_result(kr_plan, fetched, settings, as_of)
        shown = value if error is None else (previous.value if previous else None)
        start = resolve_start(kr, store, kr_plan.period, shown)
        progress = score(
            target_of(kr, start),
            shown,
            period_start=kr_plan.period.start,
            period_end=kr_plan.period.end,
            as_of=as_of,
            thresholds=thresholds,
            failed=error is not None,
        )
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
    )
    report.cache_units = incremental.modes() if incremental is not None else None
    report.cache_checks = incremental.costs() if incremental is not None else {}
    report.objectives = objective_progress(mapping, store, outcomes, as_of, thresholds)
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
        also=incremental.write if incremental is not None else None,
        listing=listing_of(mapping),
    )
    log.info(
        "run %s: %s, %d key results, %d failed, requests %s",
        report.run_id,
        report.outcome,
        len(outcomes),
        len(report.failed),
        requests,
        extra={"run_id": report.run_id, "outcome": report.outcome, "requests": requests},
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


def objective_progress(
    mapping: MappingFile,
    store: Store | None,
    outcomes: list[KeyResultOutcome],
    as_of: datetime,
    thresholds: Thresholds,
) -> dict[str, tuple[float | None, str]]:
    """Roll key results up into objectives; key results not in this run keep their stored
    progress, expected by now within their own period."""
    fresh = {o.plan.key_result.id: o.progress for o in outcomes}
    stored_rows = {row.id: row for row in store.all_key_results()} if store is not None else {}
    nodes: list[ObjectiveNode] = []
    for objective in mapping.objectives:
        entries: list[tuple[float, KeyResultProgress]] = []
        for kr in objective.key_results:
            if kr.id in fresh:
                entries.append((kr.weight, fresh[kr.id]))
            elif kr.id in stored_rows:
                row = stored_rows[kr.id]
                period = kr.period or mapping.period
                entries.append(
                    (
                        kr.weight,
                        KeyResultProgress(
                            row.progress_raw,
                            row.progress,
                            expected_progress(period.start, period.end, as_of),
                            row.status,
                        ),
                    )
                )
        nodes.append(ObjectiveNode(objective.id, objective.parent, objective.weight, entries))
    rolled = roll_up(nodes, thresholds=thresholds)
    return {oid: (p.progress, p.status) for oid, p in rolled.items()}


def listing_of(mapping: MappingFile) -> Listing:
    """What the mapping file lists: the store retires everything else."""
    return Listing(
        objectives=frozenset(o.id for o in mapping.objectives),
        key_results=frozenset(kr.id for _, kr in mapping.key_results()),
    )


def objective_records(
    mapping: MappingFile,
    progress: Mapping[str, tuple[float | None, str]],
    *,
    demo: bool = False,
) -> list[ObjectiveRecord]:
    return [
        ObjectiveRecord(
            id=o.id,
            title=o.title,
            owner=o.owner,
            level=o.level,
            parent_id=o.parent,
            weight=o.weight,
            position=position,
            progress=progress.get(o.id, (None, Status.NO_DATA))[0],
            status=progress.get(o.id, (None, Status.NO_DATA))[1],
            demo=demo,
        )
        for position, o in enumerate(mapping.objectives)
    ]


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


def find_key_result(mapping: MappingFile, kr_id: str) -> tuple[Objective, KeyResult]:
    for objective in mapping.objectives:
        for kr in objective.key_results:
            if kr.id == kr_id:
                return objective, kr
    known = ", ".join(kr.id for o in mapping.objectives for kr in o.key_results)
    raise CheckinError(f"unknown key result '{kr_id}' (known: {known})")


def parse_value(text: str) -> float:
    """A number a person typed; NaN and infinities are refused, never stored."""
    try:
        value = float(text)
    except ValueError:
        raise CheckinError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise CheckinError(f"'{text}' is not a finite number")
    return value


def apply_checkin(
    settings: Settings,
    mapping: MappingFile,
    store: Store,
    kr_id: str,
    value: float | None,
    note: str | None,
    *,
    as_of: datetime | None = None,
) -> KeyResultOutcome:
    """A person's value (or only a note) for a key result, kept in its history."""
    as_of = as_of or datetime.now(UTC)
    objective, kr = find_key_result(mapping, kr_id)
    if value is not None and kr.metric.type != "manual":
        source = f"from {kr.metric.source}" if kr.metric.source else "by a formula"
        raise CheckinError(
            f"key result '{kr_id}' is computed {source} ({kr.metric.type}): the next sync "
            f"would overwrite a checked-in value. Add context with `note {kr_id} TEXT`, "
            "or make its metric `{type: manual}` to set it by hand"
        )
    period = kr.period or mapping.period
    previous = store.stored_key_results().get(kr_id)
    if value is None and previous is None:
        raise CheckinError(f"key result '{kr_id}' has no value yet: a note needs a value first")
    shown = value if value is not None else (previous.value if previous else None)
    start = resolve_start(kr, store, period, shown)
    thresholds = thresholds_of(mapping, settings)
    progress = score(
        target_of(kr, start),
        shown,
        period_start=period.start,
        period_end=period.end,
        as_of=as_of,
        thresholds=thresholds,
    )
    position = [k.id for _, k in mapping.key_results()].index(kr_id)
    plan = KeyResultPlan(objective, kr, period, position)
    lineage: dict[str, Any] = {"metric": "checkin", "at": as_of.isoformat()}
    if value is None:  # a note leaves the value, and how it was obtained, as they were
        stored = store.key_result(kr_id)
        kept = stored.lineage if stored is not None else None
        lineage = (kept.to_json() if kept is not None else {}) or {"metric": "note"}
    outcome = KeyResultOutcome(
        plan, shown, None, lineage, progress, previous.value if previous else None, start
    )
    rolled = objective_progress(mapping, store, [outcome], as_of, thresholds)
    store.write_checkin(
        objective_records(mapping, rolled),
        key_result_record(outcome, observed=value is not None),
        at=as_of,
        origin="checkin" if value is not None else "note",
        note=note,
        listing=listing_of(mapping),
    )
    return outcome
