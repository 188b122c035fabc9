"""The one retry policy: pauses, Retry-After, and the run's budget (connectors/retry.py)."""

from __future__ import annotations

import time

import pytest

from connectors.retry import RetryClock, RetryPolicy


@pytest.mark.parametrize("retry", [1, 2, 3, 4, 8])
def test_pauses_grow_with_jitter_and_stay_under_the_ceiling(retry: int) -> None:
    policy = RetryPolicy(backoff_s=0.5, backoff_max_s=3.0)
    ceiling = min(3.0, 0.5 * 2 ** (retry - 1))
    pauses = [policy.pause(retry) for _ in range(200)]
    assert all(ceiling / 2 <= pause <= ceiling for pause in pauses)
    assert len(set(pauses)) > 1  # jitter: retries of many clients do not line up


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("3600", 60.0), ("-5", 0.0)],
)
def test_retry_after_is_honoured_within_its_cap(header: str, expected: float) -> None:
    assert RetryPolicy(retry_after_max_s=60.0).pause(1, header) == expected


def test_a_retry_after_that_is_not_seconds_falls_back_on_backoff() -> None:
    pause = RetryPolicy(backoff_s=0.5).pause(1, "Wed, 21 Oct 2026 07:28:00 GMT")
    assert 0.25 <= pause <= 0.5


def test_the_budget_stops_retries_that_would_start_too_late() -> None:
    clock = RetryClock(RetryPolicy(budget_s=0.3))
    assert clock.allows(0.2)
    assert not clock.allows(0.5)
    time.sleep(0.2)
    assert not clock.allows(0.2)  # counted from the first request, not per call
