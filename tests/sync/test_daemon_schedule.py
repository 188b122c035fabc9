"""What the daemon schedules and when (issue 16: each slot synced exactly once): an
interval's job fires once in each of its slots, at the slot's start, however long a pass
takes (in real time with slots of a few seconds: `schedule` keeps its next runs in the wall
clock); each file is due at its cadences, a file of objectives alone at its own."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from config.cadence import Cadence
from config.files import load_mapping_files
from sync.daemon_schedule import DaemonSchedule, due_of_file, file_groups, synced_in_slot
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


COMPANY = """
version: 1
namespace: company
period: 2026-Q4
schedule: {every: 30m}
objectives:
  - id: grow
    title: Grow
"""
TEAM = """
version: 1
namespace: team
period: 2026-Q4
objectives:
  - id: ship
    title: Ship
    parent: company/grow
    key_results:
      - id: done
        title: Done
        target: 10
        metric: {type: count, jql: project = APP}
"""


def test_a_file_of_objectives_alone_is_due_whole_at_its_own_cadence(tmp_path: Path) -> None:
    """A company file whose objectives only roll up the teams' is synced too (its objectives
    written, their roll-up computed), on its own schedule, with no key result id. A file
    whose key results all sync on cadences of their own schedules nothing at its default:
    a job no run ever records would turn /healthz stale."""
    (tmp_path / "company.yaml").write_text(COMPANY)
    (tmp_path / "team.yaml").write_text(TEAM)
    (tmp_path / "weekly.yaml").write_text(
        TEAM.replace("namespace: team", "namespace: weekly\nschedule: {every: 2h}").replace(
            "        target: 10\n", "        target: 10\n        schedule: {every: 1d}\n"
        )
    )
    company, team, weekly = load_mapping_files(tmp_path).files
    half_hourly, hourly = Cadence(every_s=1800.0), Cadence(every_s=3600.0)
    daily = Cadence(every_s=86400.0)

    groups = file_groups([company, team, weekly], None)
    assert groups == {half_hourly: [], hourly: ["team/done"], daily: ["weekly/done"]}
    assert due_of_file(company, [half_hourly], groups, True, None) == {half_hourly: []}
    assert due_of_file(company, [hourly], groups, True, None) == {}
    assert due_of_file(team, [half_hourly, hourly], groups, True, None) == {hourly: ["done"]}
    assert file_groups([company], None) == {half_hourly: []}
    assert file_groups([weekly], None) == {daily: ["done"]}
    assert due_of_file(company, [Cadence(every_s=60.0)], groups, True, 60.0) == {
        Cadence(every_s=60.0): []
    }


def test_synced_in_slot_reads_key_results_or_with_none_the_namespaces_last_run() -> None:
    cadence = Cadence(every_s=1800.0)
    now = datetime(2026, 11, 20, 9, 47, tzinfo=UTC)
    inside, before = (
        datetime(2026, 11, 20, 9, 31, tzinfo=UTC),
        datetime(2026, 11, 20, 9, 29, tzinfo=UTC),
    )
    assert synced_in_slot(cadence, ["a", "b"], {"a": inside, "b": inside}, None, now)
    assert not synced_in_slot(cadence, ["a", "b"], {"a": inside, "b": before}, inside, now)
    assert not synced_in_slot(cadence, ["a"], {"a": None}, inside, now)
    assert synced_in_slot(cadence, [], {}, inside, now)
    assert not synced_in_slot(cadence, [], {}, before, now)
    assert not synced_in_slot(cadence, [], {}, None, now)
