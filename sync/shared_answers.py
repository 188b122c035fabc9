"""One run of many mapping files: each tracker's answers shared by the files that ask them.

The files' plans are laid side by side before anything is fetched (`plan_queries` per file):
a selector several files read is fetched once, with every field any of them needs, and a
count is the number of items when some file fetches the selector's items anyway. An answer
is dropped once the last file that reads it has been synced, so a run holds what is still
to be read, not every file's answers. Each file's run sees its own view of the connectors,
which counts the requests made while that file was synced.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.base import Connector, ConnectorError, Selector, WorkItem
from connectors.changes import ChangeFeed
from sync.plan import QueryPlan


class SharedAnswers:
    """The answers of one run of many files, by selector; thread-safe, as fetches run side
    by side."""

    def __init__(
        self, connectors: Mapping[str, Connector | ConnectorError], plans: Sequence[QueryPlan]
    ) -> None:
        self._connectors = dict(connectors)
        self._needs: dict[Selector, frozenset[str]] = {}
        self._readers: Counter[Selector] = Counter()
        for plan in plans:
            for selector, needs in plan.item_fetches.items():
                self._needs[selector] = self._needs.get(selector, frozenset()) | needs
            self._readers.update(plan.item_fetches.keys() | plan.count_fetches)
        self._answers: dict[tuple[str, Selector], list[WorkItem] | int | ConnectorError] = {}
        self._locks: dict[tuple[str, Selector], threading.Lock] = {}
        self._guard = threading.Lock()

    def connectors(self) -> dict[str, Connector | ConnectorError]:
        """One file's view: its requests counted from now (files are synced one by one)."""
        return {
            source: c if isinstance(c, ConnectorError) else SharedConnector(c, self)
            for source, c in self._connectors.items()
        }

    def file_done(self, plan: QueryPlan) -> None:
        """A file was synced: drop the answers no file still to be synced reads."""
        with self._guard:
            for selector in plan.item_fetches.keys() | plan.count_fetches:
                self._readers[selector] -= 1
                if self._readers[selector] <= 0:
                    for mode in ("items", "count"):
                        self._answers.pop((mode, selector), None)

    def items(self, inner: Connector, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        wanted = self._needs.get(selector, frozenset()) | needs
        answer = self._answer("items", selector, lambda: inner.items(selector, wanted))
        assert isinstance(answer, list)
        return list(answer)

    def count(self, inner: Connector, selector: Selector) -> int:
        if selector in self._needs:  # another file fetches its items: their number
            return len(self.items(inner, selector, frozenset()))
        answer = self._answer("count", selector, lambda: inner.count(selector))
        assert isinstance(answer, int)
        return answer

    def _answer(
        self, mode: str, selector: Selector, fetch: Callable[[], list[WorkItem] | int]
    ) -> list[WorkItem] | int:
        key = (mode, selector)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # the first asker fetches; the others wait for its answer
            with self._guard:
                held = self._answers.get(key)
            if held is None:
                try:
                    held = fetch()
                except ConnectorError as exc:
                    held = exc  # every file reading it fails alike, without asking again
                with self._guard:
                    if self._readers[selector] > 0:
                        self._answers[key] = held
        if isinstance(held, ConnectorError):
            raise held
        return held


class SharedConnector:
    """A connector as one file's run sees it: answers from `SharedAnswers`, its own
    request count; every other capability (history, checks) is the tracker's own."""

    def __init__(self, inner: Connector, shared: SharedAnswers) -> None:
        self.inner = inner
        self.source = inner.source
        self._shared = shared
        self._requests_before = inner.requests_made

    @property
    def requests_made(self) -> int:
        return self.inner.requests_made - self._requests_before

    def count(self, selector: Selector) -> int:
        return self._shared.count(self.inner, selector)

    def items(self, selector: Selector, needs: frozenset[str]) -> list[WorkItem]:
        return self._shared.items(self.inner, selector, needs)

    def check(self) -> str:
        return self.inner.check()

    def change_feed(self) -> ChangeFeed | None:
        return self.inner.change_feed()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
