"""The daemon's schedule fires an interval's job once in each of its slots, at the slot's
start, however long a pass takes (issue 16: each slot synced exactly once). In real time
with slots of a few seconds: `schedule` keeps its next runs in the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from config.cadence import Cadence
from sync.daemon_schedule import DaemonSchedule
from sync.health import DaemonHealth

EVERY_S = 2.0


def slot(moment: datetime) -> int:
    return int(moment.timestamp() // EVERY_S)


def fires_of(schedule: DaemonSchedule, fires: list[datetime], count: int) -> None:
    """Drive the schedule as the daemon's loop does until `count` fires."""
    deadline = time.monotonic() + count * EVERY_S + 10
    while len(fires) < count:
        assert time.monotonic() < deadline, fires
        schedule.run_pending()
        time.sleep(min(max(schedule.idle_seconds() or 0.0, 0.01), 0.1))


def test_an_interval_fires_at_each_slot_start_even_after_a_pass_ran_past_one() -> None:
    cadence = Cadence(every_s=EVERY_S)
    fires: list[datetime] = []

    def on_due(due: Cadence) -> None:
        assert due == cadence
        now = datetime.now(UTC)
        fires.append(now)
        if len(fires) == 1:  # a long pass: it ends a quarter into the next slot
            time.sleep((cadence.next_slot_start(now) - now).total_seconds() + EVERY_S / 4)

    schedule = DaemonSchedule(DaemonHealth(3), on_due)
    schedule.apply({cadence: ["kr"]})
    began = datetime.now(UTC)
    assert schedule.next_run(cadence) == cadence.next_slot_start(began)
    fires_of(schedule, fires, 4)

    # first at the start of the slot after the schedule began; the long pass's next slot
    # fired when that pass ended; the next ones at their slots' starts: one per slot
    assert [slot(at) for at in fires] == [slot(began) + 1 + n for n in range(4)]
    assert (fires[1] - cadence.slot_start(fires[1])).total_seconds() >= EVERY_S / 4 - 0.1
    for at in fires[2:]:
        assert (at - cadence.slot_start(at)).total_seconds() < EVERY_S / 2, fires
