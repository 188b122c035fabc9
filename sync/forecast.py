"""The forecast: a key result's value at the end of its period by the trend of its history,
a least-squares line, from a list of values or streamed one value at a time; none, with the
reason, while the history is too short to show a trend."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sync.metrics import ValueRange
from sync.progress import as_utc

# A forecast extends the trend of at least this many values (at distinct times) spread over
# at least this long; below that there is no trend, only noise.
FORECAST_MIN_POINTS = 3
FORECAST_MIN_SPAN = timedelta(days=3)


@dataclass(frozen=True)
class Forecast:
    """A key result's value at the end of its period by its trend, or None; `note` says why
    there is none, or that the trend was stopped at a bound of what the value can be."""

    value: float | None
    note: str | None = None


def forecast(
    history: Sequence[tuple[datetime, float]],
    *,
    period_end: date,
    reachable: ValueRange | None = None,
) -> Forecast:
    """The value at the end of period_end by a least-squares line through the history.

    None, with the reason, below FORECAST_MIN_POINTS distinct times or FORECAST_MIN_SPAN
    between the first and the last: a line through a few values minutes apart, extended over
    months, is a confident wrong number. A line that leaves `reachable` stops at its bound,
    with a note saying so.
    """
    points = [(as_utc(when), value) for when, value in history]
    times = {when for when, _ in points}
    span = max(times) - min(times) if times else timedelta(0)
    if len(times) < FORECAST_MIN_POINTS or span < FORECAST_MIN_SPAN:
        return Forecast(None, _not_enough_history(len(times), span))
    origin = min(times)
    days = [(when - origin) / timedelta(days=1) for when, _ in points]
    slope, intercept = statistics.linear_regression(days, [value for _, value in points])
    return _extended(slope, intercept, origin, period_end, reachable)


class StreamedTrend:
    """The least-squares line of `forecast`, fed one value at a time, oldest first, so that
    a long history is never held in memory (running means and co-moments, which stay exact
    where sums of squares of large numbers would not)."""

    def __init__(self) -> None:
        self.times = 0  # distinct times seen
        self._first: float | None = None
        self._last: float | None = None
        self._count = 0
        self._mean_days = self._mean_value = self._co_days = self._co_days_value = 0.0

    def add(self, seconds: float, value: float) -> None:
        """One value at `seconds` since 1970, no earlier than the one before."""
        if self._first is None:
            self._first = seconds
        if seconds != self._last:
            self.times += 1
            self._last = seconds
        days = (seconds - self._first) / 86400.0
        self._count += 1
        step = days - self._mean_days
        self._mean_days += step / self._count
        self._mean_value += (value - self._mean_value) / self._count
        self._co_days += step * (days - self._mean_days)
        self._co_days_value += step * (value - self._mean_value)

    def forecast(self, *, period_end: date, reachable: ValueRange | None = None) -> Forecast:
        """What `forecast` says of the same values."""
        span = timedelta(
            seconds=0 if self._first is None or self._last is None else self._last - self._first
        )
        if self.times < FORECAST_MIN_POINTS or span < FORECAST_MIN_SPAN:
            return Forecast(None, _not_enough_history(self.times, span))
        assert self._first is not None
        slope = self._co_days_value / self._co_days
        intercept = self._mean_value - slope * self._mean_days
        origin = datetime.fromtimestamp(self._first, UTC)
        return _extended(slope, intercept, origin, period_end, reachable)


def _extended(
    slope: float,
    intercept: float,
    origin: datetime,
    period_end: date,
    reachable: ValueRange | None,
) -> Forecast:
    """The line (value by days since `origin`) at the end of `period_end`, within reach."""
    end = datetime.combine(period_end + timedelta(days=1), time(), tzinfo=UTC)
    result = intercept + slope * ((end - origin) / timedelta(days=1))
    if not math.isfinite(result):
        return Forecast(None, "no trend: the values are too large to extend")
    if reachable is not None and reachable.low is not None and result < reachable.low:
        return Forecast(
            reachable.low,
            f"the trend falls below {reachable.low:g}, the least {reachable.name} can be",
        )
    if reachable is not None and reachable.high is not None and result > reachable.high:
        return Forecast(
            reachable.high,
            f"the trend rises above {reachable.high:g}, the most {reachable.name} can be",
        )
    return Forecast(result)


def _not_enough_history(points: int, span: timedelta) -> str:
    values = "1 value" if points == 1 else f"{points} values"
    over = "" if points < 2 else f" over {_duration_text(span)}"
    return (
        f"not enough history: {values}{over}; a forecast needs {FORECAST_MIN_POINTS} "
        f"over at least {_duration_text(FORECAST_MIN_SPAN)}"
    )


def _duration_text(span: timedelta) -> str:
    """A duration in the largest whole unit that fits: '3 days', '5 hours', '40 seconds'."""
    seconds = int(span.total_seconds())
    units = (("day", 86400), ("hour", 3600), ("minute", 60))
    unit, size = next(((u, size) for u, size in units if seconds >= size), ("second", 1))
    count = seconds // size
    return f"{count} {unit}{'' if count == 1 else 's'}"
