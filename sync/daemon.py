"""`run.py daemon`: sync at start, then on a schedule, until SIGTERM or SIGINT.

`--config` may name many files (a directory or a glob, `config.files`): each file's due key
results are synced into its namespace, under its namespace's run lock, one file after
another; a file whose run fails does not stop the others. Each run re-reads the mapping
files (so `{today}` is fresh and edits apply without a
restart); a bad file or a failed run is logged and the daemon carries on. Runs happen under
the store's run lock, and a cadence whose key results were already synced in the current
slot (by another replica on the same store) is skipped, so replicas never sync the same key
results twice. A stop request lets the run in progress finish within the grace period, or
abandons it: the store writes a run in one transaction, so nothing half-written remains.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import schedule

from config.cadence import Cadence
from config.files import LoadedMapping, load_mapping_files
from config.loader import MappingError
from config.mapping import MappingFile
from config.settings import Settings
from sync.dashboard import make_dashboard_app
from sync.dashboard.serving import warn_if_exposed
from sync.engine import SyncReport, run_sync
from sync.file_cycles import cycle_scope
from sync.health import DaemonHealth, HealthServer
from sync.notify import notify_after_run
from sync.store import Store, ensure_sqlite_dir
from sync.store_errors import RunLockedError, StoreError

log = logging.getLogger(__name__)

DEFAULT_CADENCE = Cadence(every_s=3600.0)
LOCK_POLL_S = 0.5


class DaemonStartError(Exception):
    """The daemon cannot start (e.g. its health port is taken); the message says why."""


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
    if len(files) == 1:
        mapping = files[0].mapping
        return cadence_groups(mapping, default_cadence(mapping, every_s))
    groups: dict[Cadence, list[str]] = {}
    for file in files:
        default = default_cadence(file.mapping, every_s)
        for cadence, ids in cadence_groups(file.mapping, default).items():
            groups.setdefault(cadence, []).extend(f"{file.namespace}/{kr}" for kr in ids)
    return groups


def ids_of_file(file: LoadedMapping, refs: list[str], several: bool) -> list[str]:
    """The ids among `refs` (a cadence's group) that are `file`'s."""
    if not several:
        return refs
    prefix = f"{file.namespace}/"
    return [ref.removeprefix(prefix) for ref in refs if ref.startswith(prefix)]


@dataclass
class RunOutcome:
    """What a worker thread hands back: a report, or the error that stopped the run."""

    report: SyncReport | None = None
    error: BaseException | None = None


class Daemon:
    def __init__(
        self,
        settings: Settings,
        config_path: Path,
        *,
        every_s: float | None,
        host: str,
        port: int,
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.every_s = every_s
        self.host = host
        self.port = port
        self.stop_requested = threading.Event()
        self.scheduler = schedule.Scheduler()
        self.groups: dict[Cadence, list[str]] = {}
        self.pending_groups: dict[Cadence, list[str]] | None = None
        self.health = DaemonHealth(
            settings.daemon.unhealthy_after_intervals,
            degraded_at_failed_share=settings.daemon.degraded_at_failed_share,
        )
        self.store: Store | None = None
        self.pass_began: datetime | None = None  # a pass over several files: when it began
        self._announced: dict[Cadence, datetime | None] = {}

    # --- life cycle ----------------------------------------------------------------------

    def run(self) -> int:
        """Serve until stopped; 0 on a clean stop. A bad mapping file at start raises."""
        files = load_mapping_files(self.config_path).files
        ensure_sqlite_dir(self.settings.database_url)
        self.store = Store(self.settings.database_url)
        self.store.migrate()
        serves_dashboard = self.settings.daemon.health_serves_dashboard
        # The dashboard reads through connections of its own: a burst of page views never
        # keeps a scheduled sync waiting for one.
        pages_store = Store(
            self.settings.database_url, connections=self.settings.dashboard.max_concurrent
        )
        try:
            server = HealthServer(
                self.health,
                self.host,
                self.port,
                pages=make_dashboard_app(pages_store, self.settings) if serves_dashboard else None,
            )
        except OSError as exc:
            pages_store.close()
            raise DaemonStartError(
                f"health endpoint {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        if serves_dashboard:
            warn_if_exposed(self.settings, server.host, server.port, "the daemon's health port")
        log.info(
            "daemon started: store %s, /healthz and /metrics%s on http://%s:%d/",
            self.store.safe_url,
            " and the dashboard" if serves_dashboard else "",
            server.host,
            server.port,
        )
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            self.apply_groups(file_groups(files, self.every_s))
            self.sync(list(self.groups), files)
            while not self.stop_requested.is_set():
                self.scheduler.run_pending()
                if self.pending_groups is not None:
                    self.apply_groups(self.pending_groups)
                self.announce_next_runs()
                idle = self.scheduler.idle_seconds
                self.stop_requested.wait(timeout=min(max(idle or 1.0, 0.05), 1.0))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            server.stop()
            pages_store.close()
            self.store.close()
        log.info("daemon stopped")
        return 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop_requested.is_set():
            log.warning("second %s: abandoning at once", signal.Signals(signum).name)
            exit_now()
        log.info("%s received: stopping", signal.Signals(signum).name)
        self.stop_requested.set()

    # --- scheduling ----------------------------------------------------------------------

    def apply_groups(self, groups: dict[Cadence, list[str]]) -> None:
        """(Re)schedule one job per cadence (one per daily time for `at:` cadences)."""
        self.scheduler.clear()
        for cadence in groups:
            if cadence.every_s is not None:
                self.scheduler.every(round(cadence.every_s)).seconds.do(
                    self.scheduled, cadence
                ).tag(cadence)
            else:
                for moment in cadence.at:
                    self.scheduler.every().day.at(moment, cadence.timezone).do(
                        self.scheduled, cadence
                    ).tag(cadence)
        if self.groups and groups != self.groups:
            log.info(
                "schedule changed: %s",
                "; ".join(f"{c.describe()}: {', '.join(ids)}" for c, ids in groups.items()),
            )
        self.groups = groups
        self.pending_groups = None
        self.health.set_jobs(groups)
        self._announced = {}

    def announce_next_runs(self) -> None:
        """Log when each cadence's next sync is due, once per change."""
        for cadence, ids in self.groups.items():
            runs = [job.next_run for job in self.scheduler.get_jobs(cadence) if job.next_run]
            when = min(runs).astimezone(UTC) if runs else None
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

    def scheduled(self, cadence: Cadence) -> None:
        """A job came due: re-read the mapping files, then sync this cadence's key results."""
        if self.stop_requested.is_set():
            return
        try:
            files = load_mapping_files(self.config_path).files
        except MappingError as exc:
            log.error("mapping file is invalid, sync skipped until it is fixed:\n%s", exc)
            self.health.record_run(
                [cadence], "error", finished_at=datetime.now(UTC), message="invalid mapping file"
            )
            return
        groups = file_groups(files, self.every_s)
        if groups != self.groups:
            self.pending_groups = groups
        if cadence in groups:
            self.sync([cadence], files, groups)

    # --- one run -------------------------------------------------------------------------

    def sync(
        self,
        cadences: list[Cadence],
        files: Sequence[LoadedMapping],
        groups: dict[Cadence, list[str]] | None = None,
    ) -> None:
        """Sync each file's key results of `cadences`, one file after another."""
        groups = groups or self.groups
        several = len(files) > 1
        # Cache entries an earlier file of this pass wrote stand for the later ones as they
        # are (`CachedSource`): a query several files read is asked once per pass.
        self.pass_began = datetime.now(UTC) if several else None
        for file in files:
            if self.stop_requested.is_set():
                return
            mine = {c: ids_of_file(file, groups.get(c, []), several) for c in cadences}
            due = [c for c in cadences if mine[c]]
            if due:
                self.sync_file(due, file, mine)

    def sync_file(
        self, cadences: list[Cadence], file: LoadedMapping, groups: dict[Cadence, list[str]]
    ) -> None:
        """Sync the key results of `cadences` that no run has synced in their current slot."""
        assert self.store is not None
        mapping = file.mapping
        # the file's namespace and cycles, read and written
        store = self.store.in_namespace(mapping.namespace).in_cycle(cycle_scope(mapping))
        wait_s = max(self.settings.lock_timeout_s, min(c.interval_s for c in cadences))
        report: SyncReport | None = None
        try:
            with ExitStack() as held:
                if not self.acquire_lock(held, store, wait_s):
                    log.warning(
                        "the store stayed locked by another run for %.0f s: skipped", wait_s
                    )
                    self.health.record_run(
                        cadences, "locked", finished_at=datetime.now(UTC), message="store locked"
                    )
                    return
                now = datetime.now(UTC)
                checked = {row.id: row.checked_at for row in store.all_key_results()}
                fresh = [
                    c
                    for c in cadences
                    if all(
                        (at := checked.get(kr)) is not None and at >= c.slot_start(now)
                        for kr in groups[c]
                    )
                ]
                if fresh:
                    log.info(
                        "skipped %s: already synced since %s by another run",
                        ", ".join(c.describe() for c in fresh),
                        min(c.slot_start(now) for c in fresh).isoformat(timespec="seconds"),
                    )
                    self.health.record_run(fresh, "skipped", finished_at=now)
                due = [c for c in cadences if c not in fresh]
                if due:
                    report = self.run_due(due, file, groups, store)
        except StoreError as exc:
            log.error("store error, run skipped: %s", exc)
            self.health.record_run(
                cadences, "error", finished_at=datetime.now(UTC), message=str(exc)
            )
        if report is not None:  # the lock is released: a slow receiver holds up no run
            notify_after_run(self.settings, report, stop=self.stop_requested)

    def acquire_lock(self, held: ExitStack, store: Store, wait_s: float) -> bool:
        """Take the run lock, polling so that a stop request is never kept waiting."""
        deadline = datetime.now(UTC).timestamp() + wait_s
        while not self.stop_requested.is_set():
            try:
                held.enter_context(store.run_lock(wait_s=0))
                return True
            except RunLockedError:
                if datetime.now(UTC).timestamp() >= deadline:
                    return False
                self.stop_requested.wait(LOCK_POLL_S)
        return False

    def run_due(
        self,
        cadences: list[Cadence],
        file: LoadedMapping,
        groups: dict[Cadence, list[str]],
        store: Store,
    ) -> SyncReport | None:
        """Sync the due key results; the report of a run that completed, for its digest."""
        mapping = file.mapping
        ids = [kr for c in cadences for kr in groups[c]]
        every_id = [kr.id for _, kr in mapping.key_results()]
        only = None if sorted(ids) == sorted(every_id) else ids
        log.info(
            "sync started: %d key results (%s) of namespace %s",
            len(ids),
            ", ".join(c.describe() for c in cadences),
            mapping.namespace,
            extra={"namespace": mapping.namespace},
        )
        outcome = self.in_worker(
            lambda: run_sync(
                self.settings,
                mapping,
                store,
                only=only,
                config_path=str(file.path),
                run_began=self.pass_began,
            )
        )
        finished = datetime.now(UTC)
        if outcome.error is not None:
            log.error(
                "sync of namespace %s failed: %s",
                mapping.namespace,
                describe_error(outcome.error),
                extra={"namespace": mapping.namespace},
            )
            self.health.record_run(
                cadences, "error", finished_at=finished, message=describe_error(outcome.error)
            )
            return None
        report = outcome.report
        assert report is not None
        statuses: dict[str, int] = {}
        for row in store.all_key_results():
            if row.retired_at is None:  # what the mapping file no longer lists is no gauge
                statuses[row.status] = statuses.get(row.status, 0) + 1
        self.health.record_run(
            cadences,
            report.outcome,
            finished_at=report.finished_at,
            duration_s=(report.finished_at - report.started_at).total_seconds(),
            run_id=report.run_id,
            requests=report.requests,
            failed=[outcome.plan.key_result.id for outcome in report.failed],
            statuses=statuses,
        )
        return report

    def in_worker(self, work: Callable[[], SyncReport]) -> RunOutcome:
        """Run `work` on a thread; on a stop request give it the grace period, then abandon."""
        outcome = RunOutcome()

        def target() -> None:
            try:
                outcome.report = work()
            except Exception as exc:  # a run that breaks must not take the daemon with it
                outcome.error = exc

        worker = threading.Thread(target=target, name="okrsync-run", daemon=True)
        worker.start()
        while worker.is_alive() and not self.stop_requested.is_set():
            worker.join(timeout=0.2)
        if worker.is_alive():
            grace = self.settings.daemon.shutdown_grace_s
            log.info("waiting up to %g s for the run in progress to finish", grace)
            worker.join(timeout=grace)
            if worker.is_alive():
                log.warning("abandoning the run in progress: none of it is written")
                exit_now()
        return outcome


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def exit_now() -> None:
    """Leave at once with 0: a run not yet written is simply not there (one transaction)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(0)
