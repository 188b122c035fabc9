"""Plan before fetching: which distinct tracker requests a run needs, and for whom.

Identical selectors are fetched once; a `count` is asked of the server unless the same
selector's items are fetched anyway (then it is their number); the extra fields several
metrics need from one selector are fetched together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from config.conditions import Condition
from config.expressions import Formula
from config.locations import Loc
from config.mapping import KeyResult, MappingFile, Objective
from config.metric_models import (
    FormulaMetric,
    InputMetric,
    ItemMetric,
    SetMetric,
    ShareMetric,
    StatisticMetric,
)
from config.periods import Period
from config.vocabulary import MetricType
from connectors.base import Selector
from sync.metrics import needs_for

FetchMode = Literal["count", "items"]


@dataclass(frozen=True)
class Fetch:
    """One distinct request chain against a tracker."""

    selector: Selector
    mode: FetchMode


@dataclass
class MetricPlan:
    """One metric that reads a tracker: a key result's own, or one input of a formula."""

    metric_type: str
    selector: Selector
    field: str | None
    where: Condition | None
    where_text: str | None
    scope: str = "live"  # "frozen": the items matched at the period's start (sync.scope)

    @property
    def fetch(self) -> Fetch:
        return Fetch(self.selector, "count" if self.metric_type == MetricType.COUNT else "items")

    @property
    def needs(self) -> frozenset[str]:
        where_names = self.where.names if self.where is not None else frozenset()
        return needs_for(self.field, frozenset(where_names))


@dataclass
class KeyResultPlan:
    objective: Objective
    key_result: KeyResult
    period: Period
    position: int = 0  # order in the mapping file, kept for display
    metric: MetricPlan | None = None  # tracker metrics
    formula: Formula | None = None  # formula metrics
    inputs: dict[str, MetricPlan] = field(default_factory=dict)

    @property
    def is_manual(self) -> bool:
        return self.key_result.metric.type == MetricType.MANUAL

    @property
    def metric_plans(self) -> list[MetricPlan]:
        return [self.metric] if self.metric is not None else list(self.inputs.values())


@dataclass
class QueryPlan:
    key_results: list[KeyResultPlan]
    skipped: dict[str, str]  # key result id -> why it is not synced in this run
    item_fetches: dict[Selector, frozenset[str]]  # selector -> extra fields needed
    count_fetches: set[Selector]

    @property
    def request_chains(self) -> int:
        return len(self.item_fetches) + len(self.count_fetches)


def plan_metric(metric: InputMetric, period: Period) -> MetricPlan:
    share = metric if isinstance(metric, ShareMetric) else None
    return MetricPlan(
        metric_type=metric.type,
        selector=metric.selector(period),
        field=metric.field if isinstance(metric, StatisticMetric) else None,
        where=share.condition if share is not None else None,
        where_text=share.where if share is not None else None,
        scope=metric.scope if isinstance(metric, SetMetric) else "live",
    )


def plan_queries(
    mapping: MappingFile, *, today: date, only: Iterable[str] | None = None
) -> QueryPlan:
    wanted = set(only) if only else None
    plans: list[KeyResultPlan] = []
    skipped: dict[str, str] = {}
    for position, (objective, kr) in enumerate(mapping.key_results()):
        if wanted is not None and kr.id not in wanted:
            continue
        period = kr.period or mapping.period
        if not period.start <= today <= period.end:
            skipped[kr.id] = f"outside its period {period.label}"
            continue
        plan = KeyResultPlan(objective, kr, period, position)
        if isinstance(kr.metric, FormulaMetric):
            plan.formula = kr.metric.formula
            plan.inputs = {name: plan_metric(m, period) for name, m in kr.metric.inputs.items()}
        elif isinstance(kr.metric, ItemMetric):
            plan.metric = plan_metric(kr.metric, period)
        plans.append(plan)

    item_fetches: dict[Selector, frozenset[str]] = {}
    count_fetches: set[Selector] = set()
    for plan in plans:
        for metric in plan.metric_plans:
            if metric.fetch.mode == "items":
                needs = item_fetches.get(metric.selector, frozenset())
                item_fetches[metric.selector] = needs | metric.needs
            else:
                count_fetches.add(metric.selector)
    # A count whose items are fetched anyway costs nothing more: it is their number.
    count_fetches -= set(item_fetches)
    return QueryPlan(plans, skipped, item_fetches, count_fetches)


def sources_of(mapping: MappingFile) -> set[str]:
    """The trackers a mapping file reads, whatever the periods of its key results."""
    sources: set[str] = set()
    for objective in mapping.objectives:
        for kr in objective.key_results:
            period = kr.period or mapping.period
            sources |= {metric.selector(period).source for _, metric in _item_metrics(kr)}
    return sources


@dataclass(frozen=True)
class SelectorUse:
    """Where a selector is written in the mapping file, and the key result it serves."""

    key_result: str
    loc: Loc  # e.g. ("objectives", 0, "key_results", 1, "metric", "jql")
    needs: frozenset[str]  # the extra fields it asks of the tracker


def selector_uses(mapping: MappingFile) -> dict[Selector, list[SelectorUse]]:
    """Every distinct selector of the file, whatever the periods, with each place it is used."""
    uses: dict[Selector, list[SelectorUse]] = {}
    for oi, objective in enumerate(mapping.objectives):
        for ki, kr in enumerate(objective.key_results):
            period = kr.period or mapping.period
            loc: Loc = ("objectives", oi, "key_results", ki, "metric")
            for metric_loc, metric in _item_metrics(kr, loc):
                planned = plan_metric(metric, period)
                use = SelectorUse(kr.id, (*metric_loc, metric.SELECTOR), planned.needs)
                uses.setdefault(planned.selector, []).append(use)
    return uses


def _item_metrics(kr: KeyResult, loc: Loc = ()) -> list[tuple[Loc, InputMetric]]:
    """The metrics of a key result that read a tracker (a formula's inputs), with their place."""
    if isinstance(kr.metric, FormulaMetric):
        return [((*loc, "inputs", name), m) for name, m in kr.metric.inputs.items()]
    if isinstance(kr.metric, ItemMetric):
        return [(loc, kr.metric)]
    return []
