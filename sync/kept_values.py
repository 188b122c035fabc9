"""Which key results keep the value they have: nothing they read changed, nor the time it
depends on (it depends on none), nor what they compute.

A run where nothing changed should not decode a single cached item. The incremental sync
tells which fetch units were answered by their cache entry as it was (`unchanged_entry`);
a key result whose every input is such a unit, written by the very run that last computed
or kept its value, keeps that value: it is neither fetched nor computed again. Its progress
and status are still scored for the run's `as_of` (they move with the elapsed period).

The rule is `why_recompute`, and when in doubt it recomputes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from config.metric_models import FormulaMetric
from connectors.base import GitHubSearchSelector, JiraSelector, Selector
from connectors.jql import dependencies
from sync.item_cache import CachedUnit
from sync.metrics import CLOCK_FIELDS
from sync.plan import KeyResultPlan, MetricPlan, QueryPlan
from sync.records import StoredKeyResult

UnchangedEntry = Callable[[Selector], CachedUnit | None]


def value_depends_on_time(plan: KeyResultPlan) -> str | None:
    """Why the key result's value may differ at another `as_of` over the very same items;
    None when it cannot.

    - A field or `where` condition that reads the clock (`age_days`: an open item ages).
    - A JQL that depends on more than its issues (`-30d`, `startOfWeek()`, a saved filter,
      `WAS`/`CHANGED`; see `connectors.jql`): its matches move with time or elsewhere. The
      change feed fetches such a query in full, so it is never unchanged; said here too, so
      this rule does not lean on the feed.
    - A GitHub search with `@today`: GitHub resolves it when it searches.

    Formula inputs count one by one. GitHub `issues:`/`pulls:` windows are calendar dates
    fixed at load (`period` or `YYYY-MM-DD..`), and `{today}` is written into the query at
    load: a new day gives a new query, so a new definition (`definition_of`).
    """
    for metric in plan.metric_plans:
        names = set(metric.where.names) if metric.where is not None else set()
        if metric.field is not None:
            names.add(metric.field)
        if clock := sorted(names & CLOCK_FIELDS):
            return f"it reads {', '.join(clock)}, which moves with time"
        selector = metric.selector
        if isinstance(selector, JiraSelector) and (found := dependencies(selector.jql)).volatile:
            return f"its query depends on more than its issues: {found.reason}"
        if isinstance(selector, GitHubSearchSelector) and "@today" in selector.query.lower():
            return "its search reads @today"
    return None


def definition_of(plan: KeyResultPlan) -> str:
    """A digest of what the value is computed from: metric type, query, field and `where` of
    each input, and the formula. Stored in the lineage, so a mapping-file edit that keeps the
    query but changes the computation (count to sum, another field) recomputes."""
    written = plan.key_result.metric
    document: dict[str, Any] = {
        "metric": _metric_definition(plan.metric) if plan.metric is not None else None,
        "expr": written.expr if isinstance(written, FormulaMetric) else None,
        "inputs": {name: _metric_definition(m) for name, m in sorted(plan.inputs.items())},
    }
    text = json.dumps(document, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _metric_definition(metric: MetricPlan) -> list[str | None]:
    """A live scope adds nothing, so definitions written before `scope` existed still hold."""
    written = [metric.metric_type, repr(metric.selector), metric.field, metric.where_text]
    return written if metric.scope == "live" else [*written, metric.scope]


def why_recompute(
    plan: KeyResultPlan, previous: StoredKeyResult | None, unchanged_entry: UnchangedEntry
) -> str | None:
    """Why the key result is computed again in this run; None: it keeps its stored value.

    It keeps it only when all of these hold:
    - the last run that looked at it stored a value, without an error;
    - the value was computed from the same definition (`definition_of`);
    - its value cannot depend on the time (`value_depends_on_time`);
    - every input was answered by its cache entry as it was (`unchanged_entry`: the change
      feed says it stands, or what changed leaves it as it was; its fetch settings, fields
      and shape, still fit), and that entry was last written by the run that last looked at
      the key result: so the value was computed from (or kept over) exactly these items.
      A run that changed the entry for other key results only (`--only`) fails this.
    """
    if plan.is_manual:
        return "a manual value"
    if previous is None or previous.value is None or previous.last_run_id is None:
        return "no stored value"
    if previous.last_error is not None:
        return "the last run failed"
    if previous.lineage is None or previous.lineage.definition != definition_of(plan):
        return "its definition changed"
    if why := value_depends_on_time(plan):
        return why
    for metric in plan.metric_plans:
        entry = unchanged_entry(metric.selector)
        if entry is None:
            return f"{metric.selector.describe()} changed"
        if entry.run_id != previous.last_run_id:
            return f"{metric.selector.describe()} was written by another run"
    return None


def kept_key_results(
    plan: QueryPlan, stored: Mapping[str, StoredKeyResult], unchanged_entry: UnchangedEntry
) -> dict[str, StoredKeyResult]:
    """The key results of the plan that keep their stored value, by id."""
    kept: dict[str, StoredKeyResult] = {}
    for kr_plan in plan.key_results:
        previous = stored.get(kr_plan.key_result.id)
        if previous is not None and why_recompute(kr_plan, previous, unchanged_entry) is None:
            kept[kr_plan.key_result.id] = previous
    return kept


def fetch_plan_without(plan: QueryPlan, kept: Mapping[str, object]) -> QueryPlan:
    """The plan's fetches that the key results computed in this run need: what only kept
    ones read is not fetched (a count stays answered from items fetched anyway)."""
    computed = [kr for kr in plan.key_results if kr.key_result.id not in kept]
    needed = {metric.selector for kr in computed for metric in kr.metric_plans}
    return QueryPlan(
        key_results=computed,
        skipped=plan.skipped,
        item_fetches={s: needs for s, needs in plan.item_fetches.items() if s in needed},
        count_fetches={s for s in plan.count_fetches if s in needed},
    )


def kept_lineage(
    plan: KeyResultPlan, previous: StoredKeyResult, freshness: Mapping[Selector, str]
) -> dict[str, Any]:
    """The stored lineage, saying the value was kept and how each input was answered now."""
    assert previous.lineage is not None
    lineage = previous.lineage.to_json()
    computed = previous.lineage.fetched_at or "an earlier run"
    lineage["kept"] = f"nothing it reads changed since it was computed at {computed}"
    scope = lineage.get("scope")
    if isinstance(scope, dict):  # nothing joined or left the set since the last run
        lineage["scope"] = {k: v for k, v in scope.items() if k != "since_last_run"}
    if plan.metric is not None and plan.metric.selector in freshness:
        lineage["cache"] = freshness[plan.metric.selector]
    for name, metric in plan.inputs.items():
        sub = lineage.get("inputs", {}).get(name)
        if isinstance(sub, dict) and metric.selector in freshness:
            sub["cache"] = freshness[metric.selector]
    return lineage
