"""Downsampling a long history for a chart: first, last, lowest and highest value of each
time bucket (M4), so a line drawn through what is kept has the shape of every value,
spikes included, with a bounded number of points.

The values stream through once, oldest first; only the bucket being filled is held.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Point = tuple[float, float]  # (seconds since the epoch, value)


def keep_shape(
    points: Iterable[Sequence[float]], first: float, last: float, buckets: int
) -> list[Point]:
    """At most 4 points per bucket of equal time between `first` and `last` (the first and
    last times of `points`, which come oldest first, as (time, value) pairs or rows), in
    time order."""
    span = last - first
    kept: list[Point] = []
    current = -1
    # (position, time, value) of the bucket's first, last, lowest and highest point
    bucket: list[tuple[int, float, float]] = []
    for position, (when, value) in enumerate(points):
        index = min(int((when - first) / span * buckets), buckets - 1) if span > 0 else 0
        if index != current:
            kept.extend(_in_order(bucket))
            current = index
            entry = (position, when, value)
            bucket = [entry, entry, entry, entry]
            continue
        bucket[1] = (position, when, value)
        if value < bucket[2][2]:
            bucket[2] = (position, when, value)
        elif value > bucket[3][2]:
            bucket[3] = (position, when, value)
    kept.extend(_in_order(bucket))
    return kept


def _in_order(bucket: list[tuple[int, float, float]]) -> list[Point]:
    """A bucket's kept points, each once, in the order they came."""
    return [(float(when), float(value)) for _, when, value in sorted(set(bucket))]
