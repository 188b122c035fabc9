"""A long history's shape in a bounded number of points: each bucket's first, last, lowest
and highest value, in time order."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from sync.downsample import keep_shape


def test_each_bucket_keeps_its_first_last_lowest_and_highest_in_time_order() -> None:
    points = [(float(t), v) for t, v in enumerate([5, 1, 9, 3, 4, 2, 8, 6, 7, 0])]
    # two buckets of five: [5 1 9 3 4] and [2 8 6 7 0]
    assert keep_shape(points, 0.0, 9.0, buckets=2) == [
        (0.0, 5),
        (1.0, 1),
        (2.0, 9),
        (4.0, 4),
        (5.0, 2),
        (6.0, 8),
        (9.0, 0),
    ]


def test_one_time_or_one_value_keeps_it_once() -> None:
    assert keep_shape([(3.0, 7.0)], 3.0, 3.0, buckets=10) == [(3.0, 7.0)]
    assert keep_shape([(3.0, 7.0), (3.0, 8.0)], 3.0, 3.0, buckets=10) == [(3.0, 7.0), (3.0, 8.0)]


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=400),
    st.integers(1, 40),
    st.randoms(use_true_random=False),
)
def test_bounded_ordered_real_points_that_keep_the_extremes(
    values: list[float], buckets: int, rng: random.Random
) -> None:
    times = sorted(rng.uniform(0, 1e6) for _ in values)
    points = list(zip(times, values, strict=True))
    kept = keep_shape(points, times[0], times[-1], buckets)
    assert len(kept) <= 4 * buckets
    assert kept == sorted(kept, key=lambda p: p[0])
    assert set(kept) <= set(points)
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert min(v for _, v in kept) == min(values)
    assert max(v for _, v in kept) == max(values)
