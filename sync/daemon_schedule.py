"""When the daemon syncs what: each mapping file's key results grouped by the cadence they
sync on (their own `schedule:`, their objective's, the file's, `--every`, else hourly), and
the `schedule` jobs that fire them.

An interval's job fires at the start of each of its slots (epoch-aligned, `Cadence`), not
an interval after the previous run ended as `schedule`'s own interval jobs do: that drift
would shift each replica by a pass's length per pass until one skipped a slot. A pass that
runs past a slot's end fires the next one at once, so every slot gets its pass; the slot
check after the run lock (`sync.daemon`) keeps a slot from being synced twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import schedule

from config.cadence import Cadence
from config.files import LoadedMapping
from config.mapping import MappingFile
from sync.health import DaemonHealth

log = logging.getLogger(__name__)

DEFAULT_CADENCE = Cadence(every_s=3600.0)


def default_cadence(mapping: MappingFile, every_s: float | None) -> Cadence:
    """`--every` or OKRSYNC_DAEMON__EVERY, else the mapping file's `schedule:`, else hourly."""
    if every_s is not None:
        return Cadence(every_s=every_s)
    if mapping.schedule is not None:
        return mapping.schedule.cadence()
    return DEFAULT_CADENCE


def cadence_groups(mapping: MappingFile, default: Cadence) -> dict[Cadence, list[str]]:
    """Key result ids by the cadence they sync on: their own, their objective's, or `default`."""
    groups: dict[Cadence, list[str]] = {}
    for objective, kr in mapping.key_results():
        spec = kr.schedule or objective.schedule
        groups.setdefault(spec.cadence() if spec else default, []).append(kr.id)
    return groups


def file_groups(files: Sequence[LoadedMapping], every_s: float | None) -> dict[Cadence, list[str]]:
    """`cadence_groups` of every file; with several files, each id as `namespace/id`."""
    several = len(files) > 1
    groups: dict[Cadence, list[str]] = {}
    for file in files:
        default = default_cadence(file.mapping, every_s)
        # a file of objectives alone is synced at its own cadence (`due_of_file`)
        own = cadence_groups(file.mapping, default) or {default: []}
        for cadence, ids in own.items():
            refs = [f"{file.namespace}/{kr}" for kr in ids] if several else ids
            groups.setdefault(cadence, []).extend(refs)
    return groups


def ids_of_file(file: LoadedMapping, refs: list[str], several: bool) -> list[str]:
    """The ids among `refs` (a cadence's group) that are `file`'s."""
    if not several:
        return refs
    prefix = f"{file.namespace}/"
    return [ref.removeprefix(prefix) for ref in refs if ref.startswith(prefix)]


def due_of_file(
    file: LoadedMapping,
    cadences: Sequence[Cadence],
    groups: dict[Cadence, list[str]],
    several: bool,
    every_s: float | None,
) -> dict[Cadence, list[str]]:
    """`file`'s key result ids due at those of `cadences` that have some. A file with no key
    result (a company's objectives, rolling up those aligned to them) is due whole, with no
    id, at its own cadence, so that its objectives are written and rolled up too."""
    if next(iter(file.mapping.key_results()), None) is None:
        own = default_cadence(file.mapping, every_s)
        return {own: []} if own in cadences else {}
    mine = {c: ids_of_file(file, groups.get(c, []), several) for c in cadences}
    return {c: ids for c, ids in mine.items() if ids}


def synced_in_slot(
    cadence: Cadence,
    ids: Sequence[str],
    checked: dict[str, datetime | None],
    last_run_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether another run synced `ids` (each key result's `checked_at` in `checked`) in the
    cadence's current slot; with no id, whether the namespace's last run ended in it."""
    start = cadence.slot_start(now)
    if not ids:
        return last_run_at is not None and last_run_at >= start
    return all((at := checked.get(kr)) is not None and at >= start for kr in ids)


def schedule_time(moment: datetime) -> datetime:
    """`moment` as `schedule` keeps its jobs' next runs: naive, in the local timezone."""
    return moment.astimezone().replace(tzinfo=None)


class DaemonSchedule:
    """The cadences scheduled now, their `schedule` jobs, and when each comes due next."""

    def __init__(self, health: DaemonHealth, on_due: Callable[[Cadence], None]) -> None:
        self.health = health
        self.on_due = on_due
        self.scheduler = schedule.Scheduler()
        self.groups: dict[Cadence, list[str]] = {}
        self.pending: dict[Cadence, list[str]] | None = None  # applied between passes
        self.fired: dict[Cadence, datetime] = {}  # an interval's job: the slot it fired in
        self._announced: dict[Cadence, datetime | None] = {}

    def apply(self, groups: dict[Cadence, list[str]]) -> None:
        """(Re)schedule one job per cadence (one per daily time for `at:` cadences)."""
        self.scheduler.clear()
        self.fired = {}
        now = datetime.now(UTC)
        for cadence in groups:
            if cadence.every_s is not None:
                job = self.scheduler.every(round(cadence.every_s)).seconds
                job.do(self._fire, cadence).tag(cadence)
                job.next_run = schedule_time(cadence.next_slot_start(now))
            else:
                for moment in cadence.at:
                    self.scheduler.every().day.at(moment, cadence.timezone).do(
                        self._fire, cadence
                    ).tag(cadence)
        if self.groups and groups != self.groups:
            log.info(
                "schedule changed: %s",
                "; ".join(f"{c.describe()}: {', '.join(ids)}" for c, ids in groups.items()),
            )
        self.groups = groups
        self.pending = None
        self.health.set_jobs(groups)
        self._announced = {}

    def _fire(self, cadence: Cadence) -> None:
        if cadence.every_s is not None:
            self.fired[cadence] = cadence.slot_start(datetime.now(UTC))
        self.on_due(cadence)

    def run_pending(self) -> None:
        """Run the jobs that are due; an interval's job then waits for the slot after the
        one it fired in (at once when its pass ran past that slot's start)."""
        self.scheduler.run_pending()
        for cadence, slot in self.fired.items():
            for job in self.scheduler.get_jobs(cadence):
                job.next_run = schedule_time(cadence.next_slot_start(slot))

    def next_run(self, cadence: Cadence) -> datetime | None:
        runs = [job.next_run for job in self.scheduler.get_jobs(cadence) if job.next_run]
        return min(runs).astimezone(UTC) if runs else None

    def idle_seconds(self) -> float | None:
        return self.scheduler.idle_seconds

    def announce_next_runs(self) -> None:
        """Log when each cadence's next sync is due, once per change."""
        for cadence, ids in self.groups.items():
            when = self.next_run(cadence)
            if self._announced.get(cadence, "unset") == when:
                continue
            self._announced[cadence] = when
            self.health.set_next_run(cadence, when)
            if when is not None:
                log.info(
                    "next sync of %d key results (%s) at %s",
                    len(ids),
                    cadence.describe(),
                    when.isoformat(timespec="seconds"),
                )
