"""The words the mapping file and the computations share: key-result kinds and metric types.

Defined once, in the lowest layer, so the loader, the metrics and the progress model cannot
drift apart. Members are `StrEnum`s: they equal their strings and serialize as them, so what
is stored and shown does not change.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TypeGuard


class KeyResultKind(StrEnum):
    """How a key result's value is scored against its target."""

    LINEAR = "linear"
    STAY_ABOVE = "stay_above"
    STAY_BELOW = "stay_below"
    BAND = "band"
    BASELINE = "baseline"
    MILESTONE = "milestone"


class MetricType(StrEnum):
    """How a key result's value is measured; every `p<N>` (N in 1..99) is one more."""

    COUNT = "count"
    SUM = "sum"
    PERCENT_DONE = "percent_done"
    MEAN = "mean"
    MEDIAN = "median"
    SHARE = "share"
    FORMULA = "formula"
    MANUAL = "manual"


# Types computed over work items (formula and manual values come from elsewhere).
ITEM_METRIC_TYPES = frozenset(MetricType) - {MetricType.FORMULA, MetricType.MANUAL}
# Types that take a numeric `field` of each item, besides every p<N>.
FIELD_METRIC_TYPES = frozenset({MetricType.SUM, MetricType.MEAN, MetricType.MEDIAN})

_PERCENTILE = re.compile(r"p([0-9]{1,2})")
_NAMES = frozenset(MetricType)
# How messages list the types, for the loader and the computations alike.
METRIC_TYPE_CHOICES = (
    "count, sum, percent_done, mean, median, p1..p99 (e.g. p90), share, formula or manual"
)


def percentile_of(metric_type: str) -> int | None:
    """N of a `p<N>` metric type with N in 1..99, None for any other type."""
    match = _PERCENTILE.fullmatch(metric_type)
    if match is None or not 1 <= int(match[1]) <= 99:
        return None
    return int(match[1])


def is_metric_type(name: object) -> TypeGuard[str]:
    """Whether `name` is a metric type a mapping file may write (a `p<N>` included)."""
    return isinstance(name, str) and (name in _NAMES or percentile_of(name) is not None)


def is_item_metric_type(name: str) -> bool:
    """Whether `name` is computed over work items (every type but formula and manual)."""
    return name in ITEM_METRIC_TYPES or percentile_of(name) is not None


def takes_field(name: str) -> bool:
    """Whether a metric of this type reads a numeric `field` of each item."""
    return name in FIELD_METRIC_TYPES or percentile_of(name) is not None
