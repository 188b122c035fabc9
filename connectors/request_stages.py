"""Which stage of a change feed a request is charged to, when stages run side by side.

A change feed's stages (the change probe, the membership check, ...) run at the same time,
in threads of their own, beside each other and beside the run's fetches. A difference of
the connector's request count would charge each stage with the others' requests, so each
HTTP layer charges every request it sends to the stage its caller is in (`charge_request`),
held in a context variable: `charging` sets it for the code inside, and `side_by_side` runs
tasks in threads that inherit it.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class StageTally:
    """The requests one stage has sent so far (from any of its threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


_current: contextvars.ContextVar[StageTally | None] = contextvars.ContextVar(
    "okrsync_request_stage", default=None
)


def charge_request() -> None:
    """One request sent: charged to the caller's stage, if it is in one."""
    tally = _current.get()
    if tally is not None:
        tally.add()


@contextmanager
def charging(tally: StageTally) -> Iterator[None]:
    """Requests sent inside (and in threads started by `side_by_side`) go to `tally`."""
    token = _current.set(tally)
    try:
        yield
    finally:
        _current.reset(token)


def side_by_side(
    tasks: Sequence[Callable[[], T]], width: int, also: Sequence[Callable[[], object]] = ()
) -> list[T]:
    """Run `tasks`, then `also`, at most `width` at a time, each in the caller's stage; the
    results of `tasks` in order. Every task runs to its end; then the first failure of
    `tasks`, if any, is raised (`also` keep theirs)."""
    if len(tasks) + len(also) <= 1 or width <= 1:
        results = [task() for task in tasks]
        for extra in also:
            extra()
        return results
    lanes = min(width, len(tasks) + len(also))
    with ThreadPoolExecutor(lanes, thread_name_prefix="okrsync-feed") as pool:
        futures = [pool.submit(contextvars.copy_context().run, task) for task in tasks]
        for task in also:
            pool.submit(contextvars.copy_context().run, task)
    return [future.result() for future in futures]
