"""Calls made from many threads that switch as often as a busy machine makes them switch."""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
Q = TypeVar("Q")


def answered_by_busy_threads(
    ask: Callable[[Q], T], questions: list[Q], workers: int = 8
) -> list[T]:
    """`ask(q)` for every question on a pool of threads switching every microsecond, so that
    two steps of one request that another thread can come between are come between."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(ask, questions))
    finally:
        sys.setswitchinterval(interval)
