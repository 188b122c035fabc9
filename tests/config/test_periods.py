"""Periods: the short forms of the mapping file and the elapsed share that drives status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from config.periods import Period, PeriodError, parse_period


@pytest.mark.parametrize(
    ("value", "start", "end", "label"),
    [
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), "2026-Q1"),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), "2026-Q4"),
        ("2026-q2", date(2026, 4, 1), date(2026, 6, 30), "2026-Q2"),
        ("2026-H1", date(2026, 1, 1), date(2026, 6, 30), "2026-H1"),
        ("2026-H2", date(2026, 7, 1), date(2026, 12, 31), "2026-H2"),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), "2026"),
        (2026, date(2026, 1, 1), date(2026, 12, 31), "2026"),
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30), "2026-11"),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29), "2028-02"),
        (
            {"start": "2026-10-15", "end": "2026-11-14"},
            date(2026, 10, 15),
            date(2026, 11, 14),
            "2026-10-15..2026-11-14",
        ),
        (
            {"start": date(2026, 10, 1), "end": date(2026, 10, 1)},
            date(2026, 10, 1),
            date(2026, 10, 1),
            "2026-10-01..2026-10-01",
        ),
        ("2026-10-01..2026-12-31", date(2026, 10, 1), date(2026, 12, 31), "2026-10-01..2026-12-31"),
    ],
)
def test_parse_period_forms(value: object, start: date, end: date, label: str) -> None:
    period = parse_period(value)
    assert (period.start, period.end, period.label) == (start, end, label)


def test_github_range_and_window() -> None:
    period = parse_period("2026-Q4")
    assert period.github_range == "2026-10-01..2026-12-31"
    assert period.as_window().as_github_range() == "2026-10-01..2026-12-31"
    assert period.days == 92


def test_bad_quarter_message_lists_the_forms() -> None:
    with pytest.raises(PeriodError) as info:
        parse_period("2026-Q5")
    assert str(info.value) == (
        "'2026-Q5' is not a period: use 2026-Q1..Q4, 2026-H1/H2, 2026, 2026-11 or {start, end}"
    )


@pytest.mark.parametrize(
    "value",
    ["2026-H3", "2026-13", "2026-00", "soon", "", "Q4", True, None, 3.5, [2026], date(2026, 10, 1)],
)
def test_not_a_period(value: object) -> None:
    with pytest.raises(PeriodError, match="is not a period"):
        parse_period(value)


def test_end_before_start_is_refused() -> None:
    with pytest.raises(PeriodError, match="before its start"):
        parse_period({"start": "2026-12-31", "end": "2026-10-01"})
    with pytest.raises(PeriodError, match="before its start"):
        Period(date(2026, 2, 1), date(2026, 1, 1), "x")


def test_mapping_needs_exactly_start_and_end() -> None:
    with pytest.raises(PeriodError, match="missing end"):
        parse_period({"start": "2026-10-01"})
    with pytest.raises(PeriodError, match="unknown key stop"):
        parse_period({"start": "2026-10-01", "stop": "2026-12-31"})
    with pytest.raises(PeriodError, match="is not a date"):
        parse_period({"start": "2026-10-01", "end": "end of year"})


def test_contains_is_inclusive() -> None:
    period = parse_period("2026-Q4")
    assert period.contains(date(2026, 10, 1))
    assert period.contains(date(2026, 12, 31))
    assert not period.contains(date(2026, 9, 30))
    assert not period.contains(date(2027, 1, 1))
    assert period.contains(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    # 2027-01-01 00:30 at +02:00 is still 2026-12-31 in UTC
    assert period.contains(datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))))


def test_elapsed_share_counts_the_end_day() -> None:
    period = parse_period({"start": "2026-11-01", "end": "2026-11-10"})  # ten days
    assert period.elapsed_share(datetime(2026, 11, 1, tzinfo=UTC)) == 0.0
    assert period.elapsed_share(datetime(2026, 11, 6, tzinfo=UTC)) == pytest.approx(0.5)
    assert period.elapsed_share(datetime(2026, 11, 10, 12, tzinfo=UTC)) == pytest.approx(0.95)
    assert period.elapsed_share(datetime(2026, 11, 11, tzinfo=UTC)) == 1.0
    assert period.elapsed_share(datetime(2027, 1, 1, tzinfo=UTC)) == 1.0
    assert period.elapsed_share(datetime(2026, 10, 1, tzinfo=UTC)) == 0.0
    assert period.elapsed_share(datetime(2026, 11, 6)) == pytest.approx(0.5)  # naive = UTC
