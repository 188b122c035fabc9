"""Cycles: the period a key result is judged over, as the store keys it.

A key result's identity is (cycle, id): next quarter's `lead-time` is a new row with a new
history, and this quarter's stays readable as it was. The key is the period's first and last
day, `2026-10-01..2026-12-31`, not the label it was written as: `2026-Q4` and
`{start: 2026-10-01, end: 2026-12-31}` are one cycle whichever way the file spells it, a tool
reading the store with plain SQL sees the dates without knowing our calendar, and the keys
sort by their first day as text. Views show the short label (`config.periods.short_label`)
and accept either form as `--period`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

CYCLE_KEY_LENGTH = 22  # `YYYY-MM-DD..YYYY-MM-DD`


def cycle_key(start: date | datetime, end: date | datetime) -> str:
    """The key of the cycle from `start` to `end` (days, both included)."""
    first = start.date() if isinstance(start, datetime) else start
    last = end.date() if isinstance(end, datetime) else end
    return f"{first.isoformat()}..{last.isoformat()}"


def quarter_of(moment: datetime) -> str:
    """The calendar quarter `moment` is in: the cycle of what names no period of its own."""
    day = moment.date()
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    following = date(day.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return cycle_key(first, following - timedelta(days=1))


@dataclass(frozen=True)
class CycleScope:
    """Which cycle the store's reads look at.

    `cycle` is the cycle of objectives and of key results read by id (None: the current
    cycle, `StoreReads.current_cycle`); a run's key results with a period of their own are
    read in their own cycle (`key_results`: id -> cycle).
    """

    cycle: str | None = None
    key_results: Mapping[str, str] = field(default_factory=dict)

    def of(self, kr_id: str, default: str | None) -> str | None:
        return self.key_results.get(kr_id, default)
