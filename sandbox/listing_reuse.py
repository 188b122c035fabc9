"""Reuse of a GitHub listing while a client pages through it, for the benchmark's big data sets.

The sandbox filters and sorts a repository's items for every page it serves, which costs
nothing at the tests' sizes but makes a listing of 400,000 pull requests cost the square of
its length (the benchmark at scale 20). With a reuse window (off unless asked), a listing's
first page is computed from the data as it is now, and its later pages, within the window,
come from what that first page computed, as Jira Server's offset search does in the sandbox.
Counts of requests are unchanged: only the sandbox's own CPU is spared.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class ListingReuse:
    """Listings by what asks for them (endpoint, repository, arguments but the page)."""

    def __init__(self, window_s: float = 0.0) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._listings: dict[Hashable, tuple[float, list[Any]]] = {}

    def listing(self, key: Hashable, page: int, compute: Callable[[], list[Any]]) -> list[Any]:
        """The listing for `key`: computed for a first page, reused for a later one in time."""
        if self.window_s <= 0:
            return compute()
        now = time.monotonic()
        if page > 1:
            with self._lock:
                found = self._listings.get(key)
            if found is not None and now - found[0] < self.window_s:
                return found[1]
        items = compute()
        with self._lock:
            for stale in [k for k, (at, _) in self._listings.items() if now - at >= self.window_s]:
                del self._listings[stale]
            self._listings[key] = (now, items)
        return items
