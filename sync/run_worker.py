"""A daemon's sync run on a thread of its own, so that a stop request is heard mid-run: the
run gets the grace period to finish, else the process leaves at once, and since the store
writes a run in one transaction, nothing of the abandoned run is there."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sync.engine import SyncReport

log = logging.getLogger("sync.daemon")  # its lines are the daemon's


@dataclass
class RunOutcome:
    """What a worker thread hands back: a report, or the error that stopped the run."""

    report: SyncReport | None = None
    error: BaseException | None = None


def run_in_worker(
    work: Callable[[], SyncReport], stop: threading.Event, grace_s: float
) -> RunOutcome:
    """Run `work` on a thread; once `stop` is set give it `grace_s`, then abandon it."""
    outcome = RunOutcome()

    def target() -> None:
        try:
            outcome.report = work()
        except Exception as exc:  # a run that breaks must not take the daemon with it
            outcome.error = exc

    worker = threading.Thread(target=target, name="okrsync-run", daemon=True)
    worker.start()
    while worker.is_alive() and not stop.is_set():
        worker.join(timeout=0.2)
    if worker.is_alive():
        log.info("waiting up to %g s for the run in progress to finish", grace_s)
        worker.join(timeout=grace_s)
        if worker.is_alive():
            log.warning("abandoning the run in progress: none of it is written")
            exit_now()
    return outcome


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def exit_now() -> None:
    """Leave at once with 0: a run not yet written is simply not there (one transaction)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(0)
