"""One retry policy for every tracker request: which failures pass, the pauses, the budget.

Each connector applies it in its HTTP layer and nothing above retries again: Jira's calls
through tenacity, GitHub's requests through the urllib3 `Retry` PyGithub mounts. So a
tracker that answers 503 to everything costs one selector `attempts` requests, not the
product of three layers' attempts.

- Transient: a reset or cut connection, a read timeout, HTTP 429, 500, 502, 503, 504 and
  GitHub's secondary-limit 403, and an answer that is not the API's JSON (a proxy's page, a
  body cut short). Not transient: a refused connection (nobody listens: failing at once
  keeps a dead tracker cheap), 401/403/404, a refused query.
- Pauses: `Retry-After` when the tracker sends it (at most `retry_after_max_s`), else
  exponential from `backoff_s` with jitter (half to all of it), at most `backoff_max_s`.
- Budget: no retry starts later than `budget_s` after the connector's first request, so
  one run's retries end in bounded time however many selectors fail.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)
from tenacity.stop import stop_base

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # the first request and three retries
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    retry_after_max_s: float = 60.0
    budget_s: float = 120.0

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)

    def pause(self, retry: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number `retry` (1, 2, ...)."""
        if retry_after:
            try:
                return min(self.retry_after_max_s, max(0.0, float(retry_after)))
            except ValueError:
                pass  # an HTTP date or garbage: back off as usual
        ceiling = min(self.backoff_max_s, self.backoff_s * 2.0 ** max(0, retry - 1))
        return ceiling * random.uniform(0.5, 1.0)


@dataclass
class RetryClock:
    """The run's retry budget, shared by a connector's threads."""

    policy: RetryPolicy
    _started: float | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> None:
        with self._lock:
            if self._started is None:
                self._started = time.monotonic()

    def allows(self, pause: float) -> bool:
        """Whether a retry after `pause` seconds still starts within the budget."""
        self.start()
        assert self._started is not None
        return time.monotonic() - self._started + pause <= self.policy.budget_s


class _BudgetSpent(stop_base):
    """tenacity stop: the next pause would start a retry past the run's budget."""

    def __init__(self, clock: RetryClock) -> None:
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return not self.clock.allows(retry_state.upcoming_sleep)


def retrying(
    clock: RetryClock,
    what: str,
    *,
    transient: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], str | None] = lambda _: None,
    reason: Callable[[BaseException], str] = lambda failure: type(failure).__name__,
) -> Retrying:
    """A tenacity loop for one request (`what`, for the log) under the clock's policy; the
    last failure is raised. Each retry is logged with `reason(failure)` and its pause."""
    policy = clock.policy

    def failure_of(state: RetryCallState) -> BaseException | None:
        return state.outcome.exception() if state.outcome is not None else None

    def pause(state: RetryCallState) -> float:
        failure = failure_of(state)
        header = retry_after(failure) if failure is not None else None
        return policy.pause(state.attempt_number, header)

    def announce(state: RetryCallState) -> None:
        failure = failure_of(state)
        log.warning(
            "%s failed (%s), retry %d/%d in %.1f s",
            what,
            reason(failure) if failure is not None else "?",
            state.attempt_number,
            policy.retries,
            state.upcoming_sleep,
        )

    clock.start()
    return Retrying(
        retry=retry_if_exception(transient),
        wait=pause,
        stop=stop_after_attempt(policy.attempts) | _BudgetSpent(clock),
        before_sleep=announce,
        reraise=True,
    )
