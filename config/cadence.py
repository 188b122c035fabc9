"""How often the daemon syncs: `every: 30m`, or daily times `at: ["08:00", "14:00"]` in a
timezone. A mapping file, an objective or a key result may set one (`schedule:`).

Intervals are also cut into slots (epoch-aligned for `every`, from one daily time to the
next for `at`), so that several daemon replicas can tell that a key result was already
synced in the current slot by another one, and skip it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Annotated

import pytz
from pydantic import BaseModel, ConfigDict, PlainValidator, WithJsonSchema, model_validator

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?[smhdw])+")
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdw])")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$")
DAY_S = 86400.0


def duration_parts(text: str) -> list[tuple[str, str]] | None:
    """`1h30m` -> [("1", "h"), ("30", "m")]: the one grammar of durations, numbers and units
    s, m, h, d, w as written; None for any other text. Callers say which of them they take."""
    if not _DURATION.fullmatch(text):
        return None
    return [(number, unit) for number, unit in _PART.findall(text)]


def parse_duration(value: object) -> float:
    """`30m`, `1h30m`, `90s`, `1.5h`, `2d` -> whole seconds (>= 1), or a clear error."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a duration: use e.g. 30s, 15m, 1h or 1h30m")
    if not isinstance(value, str):
        raise ValueError(f"{value!r} has no unit: write e.g. {value}m or {value}s")
    text = value.strip().lower().replace(" ", "")
    parts = duration_parts(text)
    if parts is None or any(unit == "w" for _, unit in parts):  # weeks: report windows only
        raise ValueError(f"{value!r} is not a duration: use e.g. 30s, 15m, 1h or 1h30m")
    seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if seconds < 1 or seconds != int(seconds):
        raise ValueError(f"{value!r}: a duration is a whole number of seconds, at least 1s")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as the shortest duration text that parses back to them: 5400 -> `1h30m`."""
    out, rest = "", round(seconds)
    for unit in ("d", "h", "m", "s"):
        count, rest = divmod(rest, int(_UNITS[unit]))
        if count:
            out += f"{count}{unit}"
    return out or "0s"


def _time_of_day(value: object) -> str:
    """`HH:MM` or `HH:MM:SS` -> `HH:MM:SS`. YAML 1.1 reads an unquoted 14:00 as 840."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f"{value} is a number: YAML reads unquoted times such as 14:00 as numbers, "
            "so quote them: at: ['08:00', '14:00']"
        )
    if not isinstance(value, str) or not (match := _TIME.match(value.strip())):
        raise ValueError(f"{value!r} is not a time of day: use HH:MM or HH:MM:SS, e.g. '08:00'")
    return f"{match[1]}:{match[2]}:{match[3] or '00'}"


def _timezone(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a timezone name such as Europe/Berlin or UTC")
    try:
        return str(pytz.timezone(value.strip()))
    except pytz.UnknownTimeZoneError:
        raise ValueError(
            f"unknown timezone {value!r}: use a name such as Europe/Berlin or UTC"
        ) from None


# The JSON Schema lets an editor flag a bad value while typing (config/schema.py).
Duration = Annotated[
    float,
    PlainValidator(parse_duration),
    WithJsonSchema({"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]+)?\s*[smhdSMHD]\s*)+$"}),
]
TimeOfDay = Annotated[
    str,
    PlainValidator(_time_of_day),
    WithJsonSchema({"type": "string", "pattern": _TIME.pattern}),
]
TimezoneName = Annotated[
    str, PlainValidator(_timezone), WithJsonSchema({"type": "string", "minLength": 1})
]


class ScheduleSpec(BaseModel):
    """A `schedule:` block: exactly one of `every` and `at`; `timezone` goes with `at`."""

    model_config = ConfigDict(extra="forbid")

    every: Duration | None = None
    at: list[TimeOfDay] | None = None
    timezone: TimezoneName | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSpec:
        if (self.every is None) == (self.at is None):
            raise ValueError("set exactly one of every (e.g. every: 30m) and at (daily times)")
        if self.at is not None and not self.at:
            raise ValueError("at: give at least one time of day, e.g. at: ['08:00']")
        if self.every is not None and self.timezone is not None:
            raise ValueError("timezone applies to at: times only, not to every")
        if self.at is not None and len(set(self.at)) != len(self.at):
            raise ValueError(f"at: a time is listed twice ({', '.join(self.at)})")
        return self

    def cadence(self) -> Cadence:
        if self.every is not None:
            return Cadence(every_s=self.every)
        return Cadence(at=tuple(sorted(self.at or ())), timezone=self.timezone or "UTC")


@dataclass(frozen=True)
class Cadence:
    """One schedule as the daemon runs it: an interval, or daily times in a timezone."""

    every_s: float | None = None
    at: tuple[str, ...] = ()
    timezone: str = "UTC"

    def describe(self) -> str:
        if self.every_s is not None:
            return f"every {format_duration(self.every_s)}"
        times = ", ".join(t.removesuffix(":00") if t.count(":") == 2 else t for t in self.at)
        return f"daily at {times} {self.timezone}"

    @property
    def interval_s(self) -> float:
        """The longest wait between two runs: what "N intervals" of staleness is counted in."""
        if self.every_s is not None:
            return self.every_s
        seconds = sorted(_seconds_of_day(t) for t in self.at)
        gaps = [b - a for a, b in pairwise(seconds)]
        gaps.append(seconds[0] + DAY_S - seconds[-1])
        return max(gaps)

    def slot_start(self, now: datetime) -> datetime:
        """The start of the slot holding `now`: one sync per key result per slot is enough."""
        if self.every_s is not None:
            stamp = now.timestamp()
            return datetime.fromtimestamp(stamp - stamp % self.every_s, UTC)
        zone = pytz.timezone(self.timezone)
        local = now.astimezone(zone)
        candidates: list[datetime] = []
        for days_back in (0, 1):
            day = (local - timedelta(days=days_back)).date()
            for text in self.at:
                hour, minute, second = (int(part) for part in text.split(":"))
                naive = datetime(day.year, day.month, day.day, hour, minute, second)
                candidates.append(zone.localize(naive).astimezone(UTC))
        return max(c for c in candidates if c <= now)

    def next_slot_start(self, moment: datetime) -> datetime:
        """The start of the slot after the one holding `moment` (an interval's slots)."""
        if self.every_s is None:
            raise ValueError("daily times come due through their own times, not slots")
        return self.slot_start(moment) + timedelta(seconds=self.every_s)


def _seconds_of_day(text: str) -> float:
    hour, minute, second = (int(part) for part in text.split(":"))
    return hour * 3600.0 + minute * 60.0 + second
