"""Run a query plan against the trackers: distinct requests concurrently, within limits.

A failing selector costs only the key results that read it: its error is kept beside the
results of the others. Nothing is retried here: each connector retries a failure that may
pass in its own HTTP layer, under one policy and budget (`connectors.retry`), so a selector
never costs more than that policy's attempts per request.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from connectors.base import Connector, ConnectorError, Selector, WorkItem
from sync.plan import QueryPlan

log = logging.getLogger(__name__)


@dataclass
class FetchOutcome:
    """What one selector gave: a count, items, or the error that stopped it."""

    count: int | None = None
    items: list[WorkItem] | None = None
    error: str | None = None
    released: bool = False  # its items were dropped: no key result reads them any more


class ReleasedAnswer(RuntimeError):
    """A selector's answer read after it was released: a bug in who needs what."""


@dataclass
class FetchResults:
    counts: dict[Selector, FetchOutcome] = field(default_factory=dict)
    items: dict[Selector, FetchOutcome] = field(default_factory=dict)
    freshness: Mapping[Selector, str] = field(default_factory=dict)  # cached, patched or full

    def for_count(self, selector: Selector) -> FetchOutcome:
        """A count comes from the server, or from the items fetched for the same selector."""
        if selector in self.counts:
            return _unreleased(selector, self.counts[selector])
        outcome = self.for_items(selector)
        if outcome.items is None:
            return outcome
        return FetchOutcome(count=len(outcome.items))

    def for_items(self, selector: Selector) -> FetchOutcome:
        return _unreleased(selector, self.items[selector])

    def release(self, selector: Selector) -> None:
        """Drop the selector's items (its count and error stay): nothing reads them now."""
        for outcome in (self.items.get(selector), self.counts.get(selector)):
            if outcome is not None:
                outcome.items = None
                outcome.released = True


def _unreleased(selector: Selector, outcome: FetchOutcome) -> FetchOutcome:
    if outcome.released:
        raise ReleasedAnswer(f"{selector.describe()} was read after it was released")
    return outcome


ProgressCallback = Callable[[str], None]


def run_fetches(
    plan: QueryPlan,
    connectors: Mapping[str, Connector | ConnectorError],
    *,
    concurrency: Mapping[str, int],
    on_done: ProgressCallback | None = None,
) -> FetchResults:
    """Fetch every distinct selector once; `connectors` holds an error for an unusable source."""
    results = FetchResults()
    for _ in stream_fetches(plan, connectors, results, concurrency=concurrency, on_done=on_done):
        pass
    return results


def stream_fetches(
    plan: QueryPlan,
    connectors: Mapping[str, Connector | ConnectorError],
    results: FetchResults,
    *,
    concurrency: Mapping[str, int],
    on_done: ProgressCallback | None = None,
) -> Iterator[Selector]:
    """Fetch as `run_fetches` does, naming each selector as soon as its outcome is in
    `results`, so the caller can compute from it while the other fetches go on."""
    lock = threading.Lock()

    def connector_for(selector: Selector) -> Connector:
        connector = connectors.get(selector.source)
        if connector is None:
            raise ConnectorError(f"no {selector.source} connection is configured")
        if isinstance(connector, ConnectorError):
            raise connector
        return connector

    def fetch(
        selector: Selector,
        what: str,
        call: Callable[[Connector], FetchOutcome],
        into: dict[Selector, FetchOutcome],
    ) -> Selector:
        try:
            connector = connector_for(selector)
            outcome = call(connector)
        except ConnectorError as exc:
            outcome = FetchOutcome(error=str(exc))
            # DEBUG: the engine reports each key result this costs, with this error, once
            log.debug("%s %s failed for %s: %s", selector.source, what, selector.describe(), exc)
        except Exception as exc:  # a connector bug must not cost the other key results
            outcome = FetchOutcome(error=f"unexpected {type(exc).__name__}: {exc}")
            log.exception("%s %s crashed for %s", selector.source, what, selector.describe())
        with lock:
            into[selector] = outcome
        if on_done is not None:
            on_done(selector.describe())
        return selector

    def count_of(selector: Selector) -> Callable[[Connector], FetchOutcome]:
        return lambda connector: FetchOutcome(count=connector.count(selector))

    def items_of(selector: Selector, needs: frozenset[str]) -> Callable[[Connector], FetchOutcome]:
        return lambda connector: FetchOutcome(items=connector.items(selector, needs))

    # Item fetches first: they are chains of pages, a count is one request, so the long
    # chains start early and the counts fill the gaps at the end.
    tasks: dict[str, list[Callable[[], Selector]]] = {}
    for selector, needs in plan.item_fetches.items():
        task = functools.partial(fetch, selector, "items", items_of(selector, needs), results.items)
        tasks.setdefault(selector.source, []).append(task)
    for selector in plan.count_fetches:
        task = functools.partial(fetch, selector, "count", count_of(selector), results.counts)
        tasks.setdefault(selector.source, []).append(task)
    # One pool per tracker, as wide as its limit: a worker never waits on another tracker's
    # limit while its own tracker has room.
    pools = {
        source: ThreadPoolExecutor(
            max_workers=max(1, concurrency.get(source, 1)),
            thread_name_prefix=f"okrsync-{source}",
        )
        for source in tasks
    }
    try:
        futures = [pools[source].submit(task) for source, queue in tasks.items() for task in queue]
        for future in as_completed(futures):
            yield future.result()
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
