"""`run.py daemon`: sync at start, then on a schedule, until SIGTERM or SIGINT.

`--config` may name many files (a directory or a glob, `config.files`): each file's due key
results are synced into its namespace, under its namespace's run lock, one file after
another; a file whose run fails does not stop the others. Each run re-reads the mapping
files (so `{today}` is fresh and edits apply without a restart); a bad file or a failed run
is logged and the daemon carries on. Passes start at their slot's start
(`sync.daemon_schedule`); a cadence whose key results were already synced in the current
slot (by another replica on the same store) is skipped, so replicas never sync the same key
results twice. On PostgreSQL replicas share the namespaces
(`sync.namespace_claims`): a replica never waits for a namespace a peer holds, it leaves it
to the peer and looks again soon; on SQLite (one writer) it waits for the lock. `--shard
I/N` keeps the files whose namespace is in that shard (`config.shards`). A stop request
lets the run in progress finish within the grace period, or abandons it
(`sync.run_worker`): the store writes a run in one transaction, so nothing half-written
remains."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from config.cadence import Cadence
from config.files import LoadedMapping, load_mapping_files
from config.loader import MappingError
from config.settings import Settings
from config.shards import Shard
from sync.daemon_pass import DaemonPass, only_of
from sync.daemon_schedule import DaemonSchedule, due_of_file, file_groups, synced_in_slot
from sync.dashboard import make_dashboard_app
from sync.dashboard.serving import warn_if_exposed
from sync.engine import SyncReport, run_sync
from sync.file_cycles import cycle_scope
from sync.file_runs import aligned_order
from sync.health import DaemonHealth, HealthServer
from sync.namespace_claims import NamespaceClaims
from sync.notify import notify_after_run
from sync.run_worker import describe_error, exit_now, run_in_worker
from sync.store import Store, ensure_sqlite_dir
from sync.store_errors import RunLockedError, StoreError

log = logging.getLogger(__name__)

LOCK_POLL_S = 0.5


class DaemonStartError(Exception):
    """The daemon cannot start (e.g. its health port is taken); the message says why."""


class Daemon:
    def __init__(
        self,
        settings: Settings,
        config_path: Path,
        *,
        every_s: float | None,
        host: str,
        port: int,
        shard: Shard | None = None,
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.every_s = every_s
        self.host = host
        self.port = port
        self.shard = shard
        self.claims = NamespaceClaims()
        self.shares_work = False  # on PostgreSQL: replicas share the namespaces
        self.files: list[LoadedMapping] = []  # the last read, of this replica's shard
        self.stop_requested = threading.Event()
        self.health = DaemonHealth(
            settings.daemon.unhealthy_after_intervals,
            degraded_at_failed_share=settings.daemon.degraded_at_failed_share,
            shard=shard.describe() if shard else None,
        )
        self.schedule = DaemonSchedule(self.health, self.scheduled)
        self.store: Store | None = None

    # --- life cycle ----------------------------------------------------------------------

    def run(self) -> int:
        """Serve until stopped; 0 on a clean stop. A bad mapping file at start raises."""
        files = self.of_shard(load_mapping_files(self.config_path).files)
        ensure_sqlite_dir(self.settings.database_url)
        self.store = Store(self.settings.database_url)
        self.store.migrate()
        self.shares_work = self.store.dialect == "postgresql"
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
            self.schedule.apply(file_groups(files, self.every_s))
            self.sync(list(self.schedule.groups), files)
            while not self.stop_requested.is_set():
                self.schedule.run_pending()
                self.retry_left()
                if self.schedule.pending is not None:
                    self.schedule.apply(self.schedule.pending)
                self.schedule.announce_next_runs()
                idle = self.schedule.idle_seconds()
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

    # --- scheduling ---------------------------------------------------------------------

    def scheduled(self, cadence: Cadence) -> None:
        """A job came due: re-read the mapping files, then sync this cadence's key results."""
        if self.stop_requested.is_set():
            return
        try:
            files = self.of_shard(load_mapping_files(self.config_path).files)
        except MappingError as exc:
            log.error("mapping file is invalid, sync skipped until it is fixed:\n%s", exc)
            self.health.record_run(
                [cadence], "error", finished_at=datetime.now(UTC), message="invalid mapping file"
            )
            return
        groups = file_groups(files, self.every_s)
        if groups != self.schedule.groups:
            self.schedule.pending = groups
        if cadence in groups:
            self.sync([cadence], files, groups)

    def of_shard(self, files: Sequence[LoadedMapping]) -> list[LoadedMapping]:
        """The files whose namespace is in this replica's shard (all without `--shard`)."""
        mine = [f for f in files if self.shard is None or self.shard.holds(f.namespace)]
        if self.shard is not None and not mine:
            log.warning(
                "shard %s holds none of the %d namespace(s): nothing to sync",
                self.shard.describe(),
                len(files),
            )
        return mine

    def retry_left(self) -> None:
        """Look again at the namespaces left to peers whose time has come."""
        due = self.claims.due()
        if not due:
            return
        by_namespace = {f.namespace: f for f in self.files}
        several = len(self.files) > 1
        for namespace, cadences in due.items():
            file = by_namespace.get(namespace)
            groups = self.schedule.groups
            mine = due_of_file(file, cadences, groups, several, self.every_s) if file else {}
            if file is None or not mine or self.stop_requested.is_set():
                self.claims.taken(namespace)  # it left the files, or nothing of it is due
                continue
            self.sync_file(list(mine), file, mine)

    # --- one run -------------------------------------------------------------------------

    def sync(
        self,
        cadences: list[Cadence],
        files: Sequence[LoadedMapping],
        groups: dict[Cadence, list[str]] | None = None,
    ) -> None:
        """Sync each file's key results of `cadences`, one file after another."""
        groups = groups or self.schedule.groups
        self.files = list(files)
        several = len(files) > 1
        due: list[tuple[LoadedMapping, dict[Cadence, list[str]]]] = []  # with its due ids
        # children before parents, as `sync` does: a parent's roll-up counts this pass's
        # progress of the objectives aligned to it
        if self.shares_work:
            ordered = aligned_order(self.claims.order(files), keep_order=True)
        else:
            ordered = aligned_order(files)
        for file in ordered:
            mine = due_of_file(file, cadences, groups, several, self.every_s)
            if mine:
                due.append((file, mine))
        run_pass = self.begin_pass(due) if several else None
        for file, mine in due:
            if self.stop_requested.is_set():
                return  # the pass is dropped whole: a run abandoned may still be reading it
            self.sync_file(list(mine), file, mine, run_pass)
            if run_pass is not None and not self.stop_requested.is_set():
                run_pass.file_done(file)

    def begin_pass(
        self, due: list[tuple[LoadedMapping, dict[Cadence, list[str]]]]
    ) -> DaemonPass | None:
        """The files' answers and cache shared over the pass; None (each file on its own)
        when the store cannot be read for it."""
        assert self.store is not None
        files = [(file, [kr for ids in mine.values() for kr in ids]) for file, mine in due]
        try:
            return DaemonPass.begin(self.settings, self.store, files)
        except StoreError as exc:
            log.error("store error planning the pass, each file synced on its own: %s", exc)
            return None

    def sync_file(
        self,
        cadences: list[Cadence],
        file: LoadedMapping,
        groups: dict[Cadence, list[str]],
        run_pass: DaemonPass | None = None,
    ) -> None:
        """Sync the key results of `cadences` that no run has synced in their current slot."""
        assert self.store is not None
        mapping = file.mapping
        # the file's namespace and cycles, read and written
        store = self.store.in_namespace(mapping.namespace).in_cycle(cycle_scope(mapping))
        namespace = mapping.namespace
        report: SyncReport | None = None
        try:
            with ExitStack() as held:
                if not self.take_lock(held, store, namespace, cadences):
                    return
                self.claims.taken(namespace)
                now = datetime.now(UTC)
                checked = {row.id: row.checked_at for row in store.all_key_results()}
                last_run_at = None  # read for a file of objectives alone (no id to check)
                if not all(groups[c] for c in cadences):
                    last_run = next(iter(store.runs(limit=1)), None)
                    last_run_at = last_run.finished_at if last_run is not None else None
                fresh = [
                    c for c in cadences if synced_in_slot(c, groups[c], checked, last_run_at, now)
                ]
                if fresh:
                    log.info(
                        "skipped %s of namespace %s: already synced since %s by another run",
                        ", ".join(c.describe() for c in fresh),
                        namespace,
                        min(c.slot_start(now) for c in fresh).isoformat(timespec="seconds"),
                        extra={"namespace": namespace},
                    )
                    self.health.record_run(fresh, "skipped", finished_at=now)
                due = [c for c in cadences if c not in fresh]
                if due:
                    report = self.run_due(due, file, groups, store, run_pass)
                turn = "skipped" if not due else "synced" if report is not None else "error"
                self.health.record_namespace(namespace, turn, at=datetime.now(UTC))
        except StoreError as exc:
            log.error("store error, run skipped: %s", exc)
            self.health.record_namespace(namespace, "error", at=datetime.now(UTC))
            self.health.record_run(
                cadences, "error", finished_at=datetime.now(UTC), message=str(exc)
            )
        if report is not None:  # the lock is released: a slow receiver holds up no run
            notify_after_run(self.settings, report, stop=self.stop_requested)

    def take_lock(
        self, held: ExitStack, store: Store, namespace: str, cadences: list[Cadence]
    ) -> bool:
        """Take the namespace's run lock. On PostgreSQL never wait: a peer holding it is
        syncing it, so leave it and look again soon. On SQLite wait up to an interval."""
        if self.shares_work:
            try:
                held.enter_context(store.run_lock(wait_s=0))
                return True
            except RunLockedError:
                again_s = self.claims.leave(namespace, cadences)
                log.info(
                    "namespace %s is being synced by another run: left to it, looking again "
                    "in %.0f s",
                    namespace,
                    again_s,
                    extra={"namespace": namespace},
                )
                self.health.record_namespace(namespace, "held", at=datetime.now(UTC))
                return False
        wait_s = max(self.settings.lock_timeout_s, min(c.interval_s for c in cadences))
        if self.acquire_lock(held, store, wait_s):
            return True
        log.warning("the store stayed locked by another run for %.0f s: skipped", wait_s)
        self.health.record_run(
            cadences, "locked", finished_at=datetime.now(UTC), message="store locked"
        )
        return False

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
        run_pass: DaemonPass | None,
    ) -> SyncReport | None:
        """Sync the due key results (on the pass's shared answers and cache, when in one);
        the report of a run that completed, for its digest."""
        mapping = file.mapping
        ids = [kr for c in cadences for kr in groups[c]]
        only = only_of(file, ids)
        log.info(
            "sync started: %d key results (%s) of namespace %s",
            len(ids),
            ", ".join(c.describe() for c in cadences),
            mapping.namespace,
            extra={"namespace": mapping.namespace},
        )
        outcome = run_in_worker(
            lambda: (
                run_pass.run(file, store, only)
                if run_pass is not None
                else run_sync(self.settings, mapping, store, only=only, config_path=str(file.path))
            ),
            self.stop_requested,
            self.settings.daemon.shutdown_grace_s,
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


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
