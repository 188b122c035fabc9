"""Periods: the span of days a key result is measured over.

A period is parsed once from the mapping file's short forms (`2026-Q4`, `2026-H1`, `2026`,
`2026-11`, `{start, end}`) so the rest of the system only ever sees concrete dates.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from connectors.base import DateWindow

_HINT = "use 2026-Q1..Q4, 2026-H1/H2, 2026, 2026-11 or {start, end}"
_SHORT = re.compile(
    r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>\d+)|H(?P<half>\d+)|(?P<month>\d{1,2})))?$",
    re.IGNORECASE,
)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


class PeriodError(ValueError):
    """A value that cannot be read as a period; the message says which forms are accepted."""


@dataclass(frozen=True)
class Period:
    """An inclusive range of calendar days (UTC) with the label it was written as."""

    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(
                f"period end {self.end.isoformat()} is before its start {self.start.isoformat()}"
            )

    @property
    def github_range(self) -> str:
        """The form GitHub search understands: `2026-10-01..2026-12-31`."""
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_window(self) -> DateWindow:
        return DateWindow(self.start, self.end)

    def contains(self, d: date | datetime) -> bool:
        day = _utc(d).date() if isinstance(d, datetime) else d
        return self.start <= day <= self.end

    def elapsed_share(self, at: datetime) -> float:
        """Share of the period gone by at `at`, 0..1, counting the end day as a whole day.

        Expected progress is this share, so a day-granular, end-inclusive measure keeps
        "on track" honest on the last day of the period.
        """
        begin = datetime.combine(self.start, time.min, tzinfo=UTC)
        finish = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)
        share = (_utc(at) - begin) / (finish - begin)
        return min(1.0, max(0.0, share))

    def __str__(self) -> str:
        return self.label


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, as everywhere else in okr-sync."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _as_date(value: object, what: str) -> date:
    if isinstance(value, datetime):
        return _utc(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PeriodError(f"period {what} {value!r} is not a date: use YYYY-MM-DD")


def _from_range(start: date, end: date, label: str | None = None) -> Period:
    if end < start:
        raise PeriodError(f"period end {end.isoformat()} is before its start {start.isoformat()}")
    return Period(start, end, label or f"{start.isoformat()}..{end.isoformat()}")


def _from_short(text: str) -> Period | None:
    match = _SHORT.match(text)
    if match is None:
        return None
    year = int(match["year"])
    if year < 1970 or year > 9998:
        return None
    if match["quarter"] is not None:
        quarter = int(match["quarter"])
        if not 1 <= quarter <= 4:
            return None
        first = 3 * quarter - 2
        last = first + 2
        return Period(
            date(year, first, 1),
            date(year, last, calendar.monthrange(year, last)[1]),
            f"{year}-Q{quarter}",
        )
    if match["half"] is not None:
        half = int(match["half"])
        if half not in (1, 2):
            return None
        if half == 1:
            return Period(date(year, 1, 1), date(year, 6, 30), f"{year}-H1")
        return Period(date(year, 7, 1), date(year, 12, 31), f"{year}-H2")
    if match["month"] is not None:
        month = int(match["month"])
        if not 1 <= month <= 12:
            return None
        last_day = calendar.monthrange(year, month)[1]
        return Period(date(year, month, 1), date(year, month, last_day), f"{year}-{month:02d}")
    return Period(date(year, 1, 1), date(year, 12, 31), str(year))


def parse_period(value: object) -> Period:
    """Read a period from the mapping file's forms; raise PeriodError naming the value."""
    if isinstance(value, Period):
        return value
    if isinstance(value, Mapping):
        keys = set(value)
        if keys != {"start", "end"}:
            unknown = sorted(str(k) for k in keys - {"start", "end"})
            missing = sorted({"start", "end"} - {str(k) for k in keys})
            detail = (
                f"unknown key {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
            )
            raise PeriodError(f"a period mapping needs exactly start and end ({detail})")
        return _from_range(_as_date(value["start"], "start"), _as_date(value["end"], "end"))
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        period = _from_short(text)
        if period is not None:
            return period
        match = _RANGE.match(text)
        if match is not None:
            return _from_range(_as_date(match[1], "start"), _as_date(match[2], "end"), label=text)
    shown = f"'{value.isoformat()}'" if isinstance(value, date) else repr(value)
    raise PeriodError(f"{shown} is not a period: {_HINT}")


def cycle_period(key: str) -> Period:
    """The period a stored cycle key names, labelled with its short form when it has one
    (`2026-Q4`), so that views show what a person would have written."""
    period = parse_period(key)
    return Period(period.start, period.end, short_label(period.start, period.end))


def short_label(start: date, end: date) -> str:
    """`2026-Q4`, `2026-H1`, `2026-11` or `2026` when the days are exactly one of those;
    else `start..end`."""
    year = start.year
    candidates = [str(year), f"{year}-H1", f"{year}-H2", f"{year}-{start.month:02d}"]
    candidates += [f"{year}-Q{quarter}" for quarter in range(1, 5)]
    for label in candidates:
        period = _from_short(label)
        if period is not None and (period.start, period.end) == (start, end):
            return label
    return f"{start.isoformat()}..{end.isoformat()}"
