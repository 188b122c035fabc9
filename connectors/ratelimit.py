"""Rate governor: stay inside a tracker's budgets by waiting, never by failing early.

Trackers tell their budgets in response headers: GitHub sends `X-RateLimit-Resource`
(`core`, `search`), `-Remaining` and `-Reset` (epoch seconds) on every answer; Jira Cloud
answers 429 with `Retry-After` when pushed. One `RateGovernor` per tracker is shared by
every thread that talks to it: before a request a thread calls `acquire(resource)`, which
blocks while that resource's budget is spent (until its reset) or while the tracker asked
everyone to back off; after the answer, `observe(...)` records what the headers said.

Waiting is bounded by a total time budget per run (`budget_s`): once it would be exceeded
the governor raises `RateBudgetExceeded`, which the connectors turn into a retryable
`ConnectorError` for the selectors that needed the request, so one starved tracker costs
only its key results.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEFAULT_RESOURCE = "core"
RESET_SLACK_S = 0.05  # servers reset on whole seconds; wake just after


class RateBudgetExceeded(Exception):
    """Waiting for the tracker's budget would overrun the run's total time budget."""


@dataclass
class _Window:
    """What we know of one resource's budget: remaining requests until `reset` (epoch s)."""

    remaining: int | None = None  # None: not told yet, so not limited
    reset: float = 0.0
    limit: int | None = None  # the size of a fresh window, once told
    in_flight: int = 0  # sent, answer not seen yet: the server may count them any moment


class RateGovernor:
    """Per-tracker budget keeper, safe to share between threads."""

    def __init__(
        self,
        name: str,
        *,
        budget_s: float = 600.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.budget_s = budget_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._paused_until = 0.0
        self._waited_s = 0.0
        self.waits = 0  # how many times a request had to wait (for reports and tests)

    @property
    def waited_s(self) -> float:
        return self._waited_s

    def acquire(self, resource: str = DEFAULT_RESOURCE) -> None:
        """Block until a request against `resource` may be sent; count it as sent."""
        while True:
            with self._lock:
                now = self._clock()
                window = self._windows.setdefault(resource, _Window())
                if window.remaining is not None and now >= window.reset:
                    window.remaining = window.limit  # a new window, as large as the last
                wait_until = self._paused_until
                if window.remaining is not None and window.remaining <= 0:
                    wait_until = max(wait_until, window.reset + RESET_SLACK_S)
                if wait_until <= now:
                    if window.remaining is not None:
                        window.remaining -= 1
                    window.in_flight += 1
                    return
                delay = wait_until - now
                if self._waited_s + delay > self.budget_s:
                    raise RateBudgetExceeded(
                        f"{self.name}: waiting {delay:.1f} s more for the {resource} rate limit "
                        f"would exceed the {self.budget_s:g} s budget"
                    )
                self._waited_s += delay
                self.waits += 1
            log.info("%s: %s budget spent, waiting %.2f s", self.name, resource, delay)
            self._sleep(delay)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from one answer's headers (names in any case)."""
        lower = {key.lower(): value for key, value in headers.items()}
        now = self._clock()
        with self._lock:
            resource = lower.get("x-ratelimit-resource", DEFAULT_RESOURCE)
            remaining = _number(lower.get("x-ratelimit-remaining"))
            reset = _number(lower.get("x-ratelimit-reset"))
            limit = _number(lower.get("x-ratelimit-limit"))
            window = self._windows.setdefault(resource, _Window())
            window.in_flight = max(0, window.in_flight - 1)
            if remaining is not None and reset is not None:
                # Requests still in flight may be counted by the server before ours: assume so.
                left = int(remaining) - window.in_flight
                if reset > window.reset or window.remaining is None:
                    window.remaining = left  # a new window, or the first news
                else:
                    window.remaining = min(window.remaining, left)
                window.reset = reset
                if limit is not None:
                    window.limit = int(limit)
            retry_after = _number(lower.get("retry-after"))
            if status in (403, 429) and retry_after is not None:
                self._paused_until = max(self._paused_until, now + retry_after)
            elif status in (403, 429) and remaining == 0 and reset is not None:
                self._paused_until = max(self._paused_until, reset + RESET_SLACK_S)

    def pause(self, seconds: float) -> None:
        """Everyone waits `seconds` (a 429 without headers the governor saw)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def remaining(self, resource: str = DEFAULT_RESOURCE) -> int | None:
        with self._lock:
            window = self._windows.get(resource)
            return None if window is None else window.remaining


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None
