"""Schedules: durations, daily times in a timezone, slots, and `schedule:` in the mapping."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from config.cadence import Cadence, format_duration, parse_duration
from config.loader import MappingError, load_mapping_text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("1.5h", 5400), ("2d", 172800)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [(30, "has no unit"), ("30", "not a duration"), ("0s", "at least 1s"), ("0.5s", "whole")],
)
def test_bad_durations(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


def test_slots_of_an_interval_are_aligned_to_the_epoch() -> None:
    every = Cadence(every_s=1800.0)
    assert every.slot_start(datetime(2026, 11, 20, 9, 47, 3, tzinfo=UTC)) == datetime(
        2026, 11, 20, 9, 30, tzinfo=UTC
    )


def test_the_next_slot_of_an_interval_starts_where_the_slot_of_a_moment_ends() -> None:
    every = Cadence(every_s=1800.0)
    at = datetime(2026, 11, 20, 9, 47, 3, tzinfo=UTC)
    assert every.next_slot_start(at) == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert every.next_slot_start(every.next_slot_start(at)) == datetime(
        2026, 11, 20, 10, 30, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="daily times"):
        Cadence(at=("08:00:00",)).next_slot_start(at)


def test_slots_of_daily_times_follow_the_timezone_and_its_summer_time() -> None:
    daily = Cadence(at=("08:00:00", "14:00:00"), timezone="Europe/Berlin")
    # winter (UTC+1): 08:00 Berlin is 07:00 UTC
    assert daily.slot_start(datetime(2026, 11, 20, 7, 30, tzinfo=UTC)) == datetime(
        2026, 11, 20, 7, 0, tzinfo=UTC
    )
    # before 08:00 Berlin: the slot began at 14:00 the day before
    assert daily.slot_start(datetime(2026, 11, 20, 6, 59, tzinfo=UTC)) == datetime(
        2026, 11, 19, 13, 0, tzinfo=UTC
    )
    # summer (UTC+2): 14:00 Berlin is 12:00 UTC
    assert daily.slot_start(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == datetime(
        2026, 7, 1, 12, 0, tzinfo=UTC
    )
    assert daily.interval_s == 18 * 3600
    assert daily.describe() == "daily at 08:00, 14:00 Europe/Berlin"


TEMPLATE = """version: 1
period: 2026-Q4
{top}
objectives:
  - id: a
    title: A
    key_results:
      - id: k
        title: K
        target: 5
        {kr}
        metric: {{type: manual}}
"""


def load(top: str = "", kr: str = "") -> object:
    text = TEMPLATE.format(top=top, kr=kr)
    return load_mapping_text(text, source_name="okrs.yaml", today=date(2026, 11, 1))


def test_schedule_blocks_load() -> None:
    mapping = load(top="schedule: {at: ['14:00', '08:00'], timezone: Europe/Berlin}")
    assert mapping.schedule.cadence() == Cadence(  # type: ignore[attr-defined]
        at=("08:00:00", "14:00:00"), timezone="Europe/Berlin"
    )
    own = load(kr="schedule: {every: 15m}")
    kr = own.objectives[0].key_results[0]  # type: ignore[attr-defined]
    assert kr.schedule.cadence() == Cadence(every_s=900.0)


@pytest.mark.parametrize(
    ("top", "kr", "expected"),
    [
        (
            "schedule: {at: ['08:00', 14:00]}",
            "",
            "okrs.yaml:3: schedule.at[1]: 840 is a number: YAML reads unquoted times",
        ),
        ("schedule: {every: 30}", "", "okrs.yaml:3: schedule.every: 30 has no unit"),
        (
            "",
            "schedule: {every: 5m, at: ['08:00']}",
            "okrs.yaml:11: objectives[0].key_results[0].schedule: set exactly one of every",
        ),
        (
            "",
            "schedule: {at: ['08:00'], timezone: Mars/Base}",
            "okrs.yaml:11: objectives[0].key_results[0].schedule.timezone: unknown timezone",
        ),
        ("schedule: {evry: 5m}", "", "schedule.evry: unknown key (did you mean 'every'?)"),
        ("schedule: {every: 5m, timezone: UTC}", "", "timezone applies to at: times only"),
        ("schedule: {at: ['25:00']}", "", "schedule.at[0]: '25:00' is not a time of day"),
    ],
)
def test_schedule_errors_name_their_place(top: str, kr: str, expected: str) -> None:
    with pytest.raises(MappingError) as caught:
        load(top=top, kr=kr)
    assert expected in str(caught.value)
