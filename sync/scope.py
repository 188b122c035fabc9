"""Scope: which items a set-based key result measures, and how that set changed.

A `scope: frozen` key result measures the items its selector matched at the period's start
(`FrozenScope`), each in its current state when the selector still matches it, else as it
was last seen (the connectors read items by selector, not by key, so an item that left
cannot be read again without tracker-specific code). Items the selector matches now but did
not then are scope change: shown, never counted. A live key result measures what matches now.

For every key result over fetched items, the lineage's "scope" says what was added to and
removed from the set since the period's start (when a scope was taken) and since the last
run (the previous value's item keys), each a few keys with links and the total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from config.settings import Settings
from connectors.base import WorkItem
from sync.baselines import FROZEN, Baseline, Baselines
from sync.demand import Computed
from sync.fetch import FetchOutcome, FetchResults
from sync.kept_values import definition_of
from sync.lineage import compute_key_result
from sync.plan import KeyResultPlan
from sync.records import FrozenScope, StoredKeyResult

SHOWN_KEYS = 10  # keys listed per change; the rest are counted ("and N more")
MAX_MATCHED = 1000  # a frozen key result's matched keys kept, to tell the next run's change


@dataclass(frozen=True)
class Measured:
    """The items a frozen key result measures now, and what the selector adds and drops."""

    items: list[WorkItem]
    added: list[WorkItem]  # matched now, not at the period's start
    removed: list[WorkItem]  # in the frozen scope, no longer matched (counted as last seen)


def measured(scope: FrozenScope, current: Sequence[WorkItem]) -> Measured:
    """The frozen scope's items, each as the selector gives it now when it still does."""
    now = {item.key: item for item in current}
    frozen = {item.key for item in scope.items}
    return Measured(
        items=[now.get(item.key, item) for item in scope.items],
        added=[item for item in current if item.key not in frozen],
        removed=[item for item in scope.items if item.key not in now],
    )


def last_seen(scope: FrozenScope, current: Sequence[WorkItem]) -> FrozenScope:
    """The scope with each of its items as last seen: what the store keeps after a run."""
    return FrozenScope(scope.taken_at, scope.definition, tuple(measured(scope, current).items))


def listed(items: Sequence[WorkItem]) -> dict[str, Any]:
    """A change as the lineage keeps it: the first keys with their links, and the total."""
    return {
        "items": [{"key": item.key, "url": item.url} for item in items[:SHOWN_KEYS]],
        "total": len(items),
    }


def keys_listed(keys: Sequence[str], by_key: dict[str, WorkItem]) -> dict[str, Any]:
    """Like `listed`, for keys that may have no item at hand (no link then)."""
    return {
        "items": [
            {"key": key, "url": by_key[key].url if key in by_key else None}
            for key in keys[:SHOWN_KEYS]
        ],
        "total": len(keys),
    }


def scope_lineage(
    mode: str,
    current: Sequence[WorkItem],
    previous_keys: Sequence[str] | None,
    frozen: FrozenScope | None,
) -> dict[str, Any]:
    """The lineage's "scope": the mode, the changes since the period's start (with the items
    at the start: a frozen scope, or a live set's kept by backfill) and since the last run
    (with a previous value's keys)."""
    document: dict[str, Any] = {"mode": mode}
    if frozen is not None:
        change = measured(frozen, current)
        document["taken_at"] = frozen.taken_at.isoformat()
        document["since_start"] = {"added": listed(change.added), "removed": listed(change.removed)}
    if frozen is not None and mode == FROZEN:
        document["frozen_total"] = len(frozen.items)
        document["matched"] = [item.key for item in current[:MAX_MATCHED]]
    if previous_keys is not None:
        by_key = {item.key: item for item in current}
        if frozen is not None:
            by_key = {item.key: item for item in frozen.items} | by_key
        before = set(previous_keys)
        added = [item.key for item in current if item.key not in before]
        now = _keys(current)
        removed = [key for key in previous_keys if key not in now]
        document["since_last_run"] = {
            "added": keys_listed(added, by_key),
            "removed": keys_listed(removed, by_key),
        }
    return document


def _keys(items: Sequence[WorkItem]) -> set[str]:
    return {item.key for item in items}


def compute_in_scope(
    plan: KeyResultPlan,
    fetched: FetchResults,
    settings: Settings,
    as_of: datetime,
    baseline: Baseline | None,
    previous: StoredKeyResult | None,
    scopes: dict[str, FrozenScope],
) -> tuple[float | None, str | None, dict[str, Any]]:
    """`compute_key_result` over the items the key result measures: a frozen scope's, else
    the selector's; with the lineage's "scope". A frozen scope as last seen goes in `scopes`."""
    metric = plan.metric
    if metric is None or metric.selector not in fetched.items:
        return compute_key_result(plan, fetched, settings, as_of)
    current = fetched.items[metric.selector].items
    frozen = baseline.scope if baseline is not None else None
    if metric.scope == FROZEN and frozen is None:
        problem = baseline.scope_problem if baseline is not None else None
        missing = f"scope: frozen: the items at the period's start were not rebuilt: {problem}"
        return None, missing, {"metric": metric.metric_type, "error": missing}
    measuring = fetched
    if frozen is not None and current is not None:
        measuring = in_scope(plan, fetched, frozen)
        scopes[plan.key_result.id] = last_seen(frozen, current)
    value, error, lineage = compute_key_result(plan, measuring, settings, as_of)
    at_start = frozen or (baseline.start_set if baseline is not None else None)
    if current is not None:
        previous_keys = _previous_keys(previous)
        lineage["scope"] = scope_lineage(metric.scope, current, previous_keys, at_start)
    return value, error, lineage


def in_scope(plan: KeyResultPlan, fetched: FetchResults, frozen: FrozenScope) -> FetchResults:
    """The fetched results with the key result's items those of its frozen scope (the
    selector's own answer left as it is when it failed)."""
    assert plan.metric is not None
    current = fetched.items[plan.metric.selector].items
    if current is None:
        return fetched
    return FetchResults(
        counts=fetched.counts,
        items={
            **fetched.items,
            plan.metric.selector: FetchOutcome(items=measured(frozen, current).items),
        },
        freshness=fetched.freshness,
    )


def _previous_keys(previous: StoredKeyResult | None) -> list[str] | None:
    """The keys the last run's selector matched, when its lineage kept them all."""
    if previous is None or previous.lineage is None:
        return None
    lineage = previous.lineage
    if lineage.scope is not None and lineage.scope.get("mode") == FROZEN:
        matched = lineage.scope.get("matched")
        return list(matched) if isinstance(matched, list) else None
    if lineage.items_total is None or lineage.items_total != len(lineage.items):
        return None
    return list(lineage.items)


@dataclass
class ComputeInScope:
    """A key result's value from the fetched data, over its frozen scope if it has one
    (`sync.scope`); its lineage records the definition it was computed from
    (`sync.kept_values`). Frozen scopes as last seen are gathered in `scopes`."""

    settings: Settings
    as_of: datetime
    baselines: Baselines
    stored: Mapping[str, StoredKeyResult]
    scopes: dict[str, FrozenScope] = field(default_factory=dict)

    def __call__(self, kr_plan: KeyResultPlan, fetched: FetchResults) -> Computed:
        kr_id = kr_plan.key_result.id
        value, error, lineage = compute_in_scope(
            kr_plan,
            fetched,
            self.settings,
            self.as_of,
            self.baselines.get(kr_id),
            self.stored.get(kr_id),
            self.scopes,
        )
        lineage["definition"] = definition_of(kr_plan)
        return value, error, lineage
