"""Turn a list of normalized work items into one key-result number.

Pure computation: no I/O and no knowledge of trackers or of the mapping-file models, so
every rule here can be tested with hand-built `WorkItem`s. A value that cannot be computed
is `None` with a reason a person can read, never NaN or infinity.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from config.conditions import Condition
from config.expressions import ExpressionError, Formula
from config.vocabulary import MetricType, is_item_metric_type, percentile_of
from connectors.base import (
    APPROVED,
    NEEDS_FIRST_REVIEW,
    NEEDS_STARTED,
    NEEDS_STORY_POINTS,
    NORMALIZED_FIELDS,
    NUMERIC_FIELDS,
    OPTIONAL_FIELDS,
    WorkItem,
)

# Which extra fetch work a normalized name costs; names not listed here cost nothing.
_NEEDS_BY_FIELD: dict[str, str] = {
    "story_points": NEEDS_STORY_POINTS,
    "review_time_hours": NEEDS_FIRST_REVIEW,
    APPROVED: NEEDS_FIRST_REVIEW,
    "cycle_time_hours": NEEDS_STARTED,
} | {name: name for name in OPTIONAL_FIELDS}


@dataclass(frozen=True)
class ValueRange:
    """The values a metric type can produce (None: no bound), named for messages; a trend
    extended past them is a number no tracker could ever report."""

    name: str
    low: float | None = None
    high: float | None = None


# Metric types whose values are bounded whatever is counted.
_TYPE_RANGES: dict[str, ValueRange] = {
    MetricType.COUNT: ValueRange("a count", low=0.0),
    MetricType.PERCENT_DONE: ValueRange("a percentage done", low=0.0, high=100.0),
    MetricType.SHARE: ValueRange("a share", low=0.0, high=100.0),
}


def value_range(metric_type: str, field: str | None) -> ValueRange | None:
    """What a metric's values can be: bounded by its type, or never negative when it sums or
    takes a statistic of a normalized field (durations, story points). Formulas, manual
    values and custom fields can be any number as far as okr-sync knows (None)."""
    if metric_type in _TYPE_RANGES:
        return _TYPE_RANGES[metric_type]
    if field in NUMERIC_FIELDS and metric_type not in (MetricType.FORMULA, MetricType.MANUAL):
        return ValueRange(field, low=0.0)
    return None


@dataclass(frozen=True)
class MetricValue:
    """A computed value, how many items it rests on, and why it is missing when it is."""

    value: float | None
    sample_size: int
    reason: str | None = None


# Fields whose value moves with `as_of` for the same item (an open item ages).
CLOCK_FIELDS = frozenset({"age_days"})


def field_value(item: WorkItem, name: str, *, as_of: datetime) -> object:
    """The value of a normalized or custom field; `None` when the item does not have it."""
    if name in CLOCK_FIELDS:
        return item.age_days(as_of)
    if name == APPROVED:
        return item.extra.get(APPROVED)
    if name in NORMALIZED_FIELDS:
        value: object = getattr(item, name)
        return value
    return item.extra.get(name)


def needs_for(field: str | None, where_names: frozenset[str]) -> frozenset[str]:
    """The extra fetch work (connector `needs`) a metric's field and where-condition cost."""
    names = set(where_names)
    if field is not None:
        names.add(field)
    needs: set[str] = set()
    for name in names:
        if name in _NEEDS_BY_FIELD:
            needs.add(_NEEDS_BY_FIELD[name])
        elif name not in NORMALIZED_FIELDS:
            needs.add(name)
    return frozenset(needs)


def compute(
    metric_type: str,
    items: Sequence[WorkItem],
    *,
    field: str | None = None,
    where: Condition | None = None,
    as_of: datetime,
) -> MetricValue:
    """Compute one metric over `items`.

    - count: number of items. sum: total of `field`, items without it skipped (0 for no
      items). percent_done: 100 * items in status category done / all items.
    - mean, median, p<N> (N in 1..99): over the items that have `field`. Percentiles use
      linear interpolation between closest ranks, i.e. numpy's default 'linear' method
      (`statistics.quantiles(..., method="inclusive")`): rank h = (n - 1) * N / 100,
      value = x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
    - share: 100 * items meeting `where` / all items. An item lacking a field the condition
      names does not meet it (it still counts in the denominator).

    For every type but share, a given `where` first narrows `items` to those meeting it.
    Raises ValueError for an unknown type, a missing `field` or `where`, or a field whose
    values are not numbers.
    """
    if metric_type == MetricType.SHARE:
        if where is None:
            raise ValueError("metric type 'share' needs a 'where' condition")
        return _share(items, where, as_of)
    if not is_item_metric_type(metric_type):
        raise ValueError(
            f"unknown metric type {metric_type!r}: expected one of "
            "count, sum, percent_done, mean, median, share or p<N> with N in 1..99"
        )
    if where is not None:
        items = [item for item in items if _meets(item, where, as_of)]
    if metric_type == MetricType.COUNT:
        return MetricValue(float(len(items)), len(items))
    if metric_type == MetricType.PERCENT_DONE:
        if not items:
            return MetricValue(None, 0, "no items matched")
        done = sum(1 for item in items if item.status_category == "done")
        return MetricValue(100.0 * done / len(items), len(items))
    if field is None:
        raise ValueError(f"metric type {metric_type!r} needs a 'field'")
    values = _numeric_values(items, field, as_of)
    if metric_type == MetricType.SUM:
        if items and not values:
            return MetricValue(None, 0, f"no item has {field}")
        return MetricValue(math.fsum(values), len(values))
    if not items:
        return MetricValue(None, 0, "no items matched")
    if not values:
        return MetricValue(None, 0, f"no item has {field}")
    return MetricValue(_statistic(metric_type)(values), len(values))


def compute_formula(formula: Formula, inputs: Mapping[str, float | None]) -> MetricValue:
    """Evaluate a formula over named input values; sample_size is the number of inputs.

    A missing input or a failed evaluation (division by zero, ...) gives value None with
    the reason, so one bad input costs only this key result.
    """
    missing = sorted(name for name in formula.names if inputs.get(name) is None)
    if missing:
        return MetricValue(None, 0, "no value for input " + ", ".join(missing))
    values = {name: float(value) for name, value in inputs.items() if value is not None}
    used = len(formula.names)
    try:
        result = formula.evaluate(values)
    except ExpressionError as error:
        return MetricValue(None, used, str(error))
    if not math.isfinite(result):
        return MetricValue(None, used, f"formula result is not a finite number ({result})")
    return MetricValue(result, used)


def _share(items: Sequence[WorkItem], where: Condition, as_of: datetime) -> MetricValue:
    if not items:
        return MetricValue(None, 0, "no items matched")
    meeting = sum(1 for item in items if _meets(item, where, as_of))
    return MetricValue(100.0 * meeting / len(items), len(items))


def _meets(item: WorkItem, where: Condition, as_of: datetime) -> bool:
    """An item meets a condition only when it has every field the condition names, but for
    a field compared with None (`assignee == None`), whose absence is what is asked."""
    record = {name: field_value(item, name, as_of=as_of) for name in where.names}
    if any(value is None for name, value in record.items() if name not in where.none_tested):
        return False
    return where.test(record)


def _numeric_values(items: Sequence[WorkItem], field: str, as_of: datetime) -> list[float]:
    """The finite numeric values of `field`; items without one are skipped."""
    values: list[float] = []
    for item in items:
        value = field_value(item, field, as_of=as_of)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"field {field!r} is not numeric: {item.key} has {value!r}")
        if math.isfinite(value):
            values.append(float(value))
    return values


def _statistic(metric_type: str) -> Callable[[list[float]], float]:
    if metric_type == MetricType.MEAN:
        return statistics.fmean
    if metric_type == MetricType.MEDIAN:
        return statistics.median
    percent = percentile_of(metric_type)
    if percent is None:
        raise ValueError(f"unknown metric type {metric_type!r}")
    return lambda values: _percentile(values, percent)


def _percentile(values: list[float], percent: int) -> float:
    if len(values) == 1:  # statistics.quantiles needs two points
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]
