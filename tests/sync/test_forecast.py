"""The forecast: a least-squares line extended to the period's end, within what the value
can be, the same whether the history is listed or streamed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.forecast import (
    FORECAST_MIN_POINTS,
    FORECAST_MIN_SPAN,
    Forecast,
    StreamedTrend,
    forecast,
)
from sync.metrics import ValueRange

# A ten-day period: the forecast is the value at the end of Oct 10.
END = date(2026, 10, 10)


def day(offset_days: float) -> datetime:
    """A moment `offset_days` after midnight UTC of Oct 1."""
    return datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=offset_days)


def test_forecast_extends_an_exact_line_to_the_end_of_the_period() -> None:
    # 40 on Oct 1, falling 2 a day: at the end of Oct 10 (9 + 1 days later) -> 40 - 20 = 20
    history = [(day(0), 40.0), (day(1), 38.0), (day(3), 34.0), (day(4.5), 31.0)]
    assert forecast(history, period_end=END) == Forecast(pytest.approx(20.0))


def test_forecast_fits_least_squares_through_noisy_points() -> None:
    # points (0, 0), (2, 2), (4, 1): slope 0.25, intercept 0.5; at day 10 -> 3.0
    history = [(day(0), 0.0), (day(2), 2.0), (day(4), 1.0)]
    assert forecast(history, period_end=END).value == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("days", "why"),
    [
        ([], "not enough history: 0 values; a forecast needs 3 over at least 3 days"),
        ([1], "not enough history: 1 value; a forecast needs 3 over at least 3 days"),
        ([1, 1, 1], "not enough history: 1 value; a forecast needs 3 over at least 3 days"),
        ([0, 5], "not enough history: 2 values over 5 days; a forecast needs 3 over at least"),
        ([0, 0.5, 2.99], "not enough history: 3 values over 2 days; a forecast needs 3 over"),
        ([0, 1 / 1440], "not enough history: 2 values over 1 minute; a forecast needs 3 over"),
    ],
)
def test_forecast_needs_enough_values_over_enough_time(days: list[float], why: str) -> None:
    result = forecast([(day(d), 40.0 + 3 * i) for i, d in enumerate(days)], period_end=END)
    assert result.value is None
    assert result.note is not None and result.note.startswith(why)


def test_forecast_at_the_minimum_history() -> None:
    steps = FORECAST_MIN_POINTS - 1
    offsets = [FORECAST_MIN_SPAN / timedelta(days=1) * i / steps for i in range(steps + 1)]
    history = [(day(offset), 10.0 + offset) for offset in offsets]  # one more a day
    assert forecast(history, period_end=END) == Forecast(pytest.approx(20.0))


def test_forecast_of_a_flat_history_is_flat() -> None:
    history = [(day(0), 7.0), (day(2), 7.0), (day(4), 7.0)]
    assert forecast(history, period_end=date(2026, 12, 31)) == Forecast(pytest.approx(7.0))


COUNT = ValueRange("a count", low=0.0)
SHARE = ValueRange("a share", low=0.0, high=100.0)


def test_a_trend_below_what_a_count_can_be_stops_at_zero_and_says_so() -> None:
    # open P1s falling 10 a day from 30: the line reaches -70 by the end of Oct 10
    history = [(day(0), 30.0), (day(1), 20.0), (day(3), 0.0)]
    assert forecast(history, period_end=END).value == pytest.approx(-70.0)
    assert forecast(history, period_end=END, reachable=COUNT) == Forecast(
        0.0, "the trend falls below 0, the least a count can be"
    )


def test_a_share_stays_within_zero_and_a_hundred() -> None:
    rising = [(day(0), 60.0), (day(2), 80.0), (day(4), 100.0)]
    assert forecast(rising, period_end=END, reachable=SHARE) == Forecast(
        100.0, "the trend rises above 100, the most a share can be"
    )
    inside = [(day(0), 50.0), (day(2), 52.0), (day(4), 54.0)]
    assert forecast(inside, period_end=END, reachable=SHARE) == Forecast(pytest.approx(60.0))


def streamed(history: list[tuple[datetime, float]]) -> StreamedTrend:
    trend = StreamedTrend()
    for when, value in history:
        trend.add(when.timestamp(), value)
    return trend


@pytest.mark.parametrize(
    "history",
    [
        [(day(0), 40.0), (day(1), 38.0), (day(3), 34.0), (day(4.5), 31.0)],
        [(day(0), 0.0), (day(2), 2.0), (day(4), 1.0)],
        [(day(0), 7.0), (day(2), 7.0), (day(4), 7.0)],
        [(day(0), 30.0), (day(1), 20.0), (day(3), 0.0)],
        [(day(0), 40.0), (day(0), 41.0), (day(0.5), 42.0), (day(2.99), 43.0)],
        [(day(0), 40.0), (day(1 / 1440), 41.0)],
        [(day(0), 1.0)],
        [],
    ],
)
def test_a_streamed_trend_forecasts_what_the_whole_history_does(
    history: list[tuple[datetime, float]],
) -> None:
    for reachable in (None, COUNT):
        expected = forecast(history, period_end=END, reachable=reachable)
        assert streamed(history).forecast(period_end=END, reachable=reachable) == Forecast(
            None if expected.value is None else pytest.approx(expected.value), expected.note
        )


@given(
    st.lists(
        st.tuples(st.floats(0, 80), st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=3,
        max_size=200,
    )
)
def test_a_streamed_trend_matches_on_any_history(points: list[tuple[float, float]]) -> None:
    history = sorted((day(offset), value) for offset, value in points)
    expected = forecast(history, period_end=END)
    got = streamed(history).forecast(period_end=END)
    assert got.note == expected.note
    if expected.value is None:
        assert got.value is None
    else:
        assert got.value == pytest.approx(expected.value, rel=1e-6, abs=1e-3)
