"""Downsampling a long history for a chart: first, last, lowest and highest value of each
time bucket (M4), so a line drawn through what is kept has the shape of every value,
spikes included, with a bounded number of points.

The values stream through once, oldest first; only the bucket being filled is held.
"""

from __future__ import annotations

from collections.abc import Iterable

Point = tuple[float, float]  # (seconds since the epoch, value)


def keep_shape(points: Iterable[Point], first: float, last: float, buckets: int) -> list[Point]:
    """At most 4 points per bucket of equal time between `first` and `last` (the first and
    last times of `points`, which come oldest first), in time order."""
    scale = buckets / (last - first) if last > first else 0.0
    kept: list[Point] = []
    current = -1
    bucket: list[tuple[int, Point]] = []  # (position, point): first, last, lowest, highest
    for position, (when, value) in enumerate(points):
        index = min(int((when - first) * scale), buckets - 1)
        if index != current:
            kept.extend(_in_order(bucket))
            current = index
            entry = (position, (when, value))
            bucket = [entry, entry, entry, entry]
            continue
        bucket[1] = (position, (when, value))
        if value < bucket[2][1][1]:
            bucket[2] = (position, (when, value))
        if value > bucket[3][1][1]:
            bucket[3] = (position, (when, value))
    kept.extend(_in_order(bucket))
    return kept


def _in_order(bucket: list[tuple[int, Point]]) -> list[Point]:
    """A bucket's kept points, each once, in the order they came."""
    return [point for _, point in sorted(dict(bucket).items())]
