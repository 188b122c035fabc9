"""Key results computed as their inputs arrive, each input dropped after its last reader.

A run must not hold the whole company's items at once. `SelectorDemand` knows, from the
plan, which key results read each selector: a key result is computed as soon as every
selector it reads has been fetched, and a selector's answer is released (`FetchResults.
release`) once the last key result reading it is computed. Memory then holds the answers
in flight, not every answer of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from connectors.base import Selector
from sync.fetch import FetchResults
from sync.plan import KeyResultPlan

Computed = tuple[float | None, str | None, dict[str, Any]]


class SelectorDemand:
    """Who still needs each selector's answer, and which key results can be computed now."""

    def __init__(self, key_results: Iterable[KeyResultPlan]) -> None:
        self._missing: dict[str, set[Selector]] = {}  # key result id -> selectors not fetched
        self._waiting: dict[Selector, list[KeyResultPlan]] = {}  # selector -> its readers
        self._readers: dict[Selector, int] = {}  # selector -> readers not computed yet
        self._ready: list[KeyResultPlan] = []
        for plan in key_results:
            if plan.is_manual:
                continue
            selectors = {metric.selector for metric in plan.metric_plans}
            if not selectors:
                self._ready.append(plan)
            self._missing[plan.key_result.id] = selectors
            for selector in selectors:
                self._waiting.setdefault(selector, []).append(plan)
                self._readers[selector] = self._readers.get(selector, 0) + 1

    def ready(self) -> list[KeyResultPlan]:
        """Key results that read no selector: computable before any fetch."""
        ready, self._ready = self._ready, []
        return ready

    def fetched(self, selector: Selector) -> list[KeyResultPlan]:
        """`selector` has its answer: the key results that now have all of theirs."""
        ready: list[KeyResultPlan] = []
        for plan in self._waiting.pop(selector, []):
            missing = self._missing[plan.key_result.id]
            missing.discard(selector)
            if not missing:
                ready.append(plan)
        return ready

    def computed(self, plan: KeyResultPlan) -> list[Selector]:
        """`plan` is computed: the selectors no key result needs any more."""
        done: list[Selector] = []
        for selector in {metric.selector for metric in plan.metric_plans}:
            self._readers[selector] -= 1
            if self._readers[selector] == 0:
                del self._readers[selector]
                done.append(selector)
        return done


def compute_as_fetched(
    key_results: Iterable[KeyResultPlan],
    arrivals: Iterator[Selector],
    fetched: FetchResults,
    compute: Callable[[KeyResultPlan, FetchResults], Computed],
) -> dict[str, Computed]:
    """Each key result's (value, error, lineage), computed as `arrivals` names each selector
    whose answer landed in `fetched`; every answer is released after its last reader."""
    demand = SelectorDemand(key_results)
    computed: dict[str, Computed] = {}

    def run(plans: list[KeyResultPlan]) -> None:
        for plan in plans:
            computed[plan.key_result.id] = compute(plan, fetched)
            for selector in demand.computed(plan):
                fetched.release(selector)

    run(demand.ready())
    for selector in arrivals:
        run(demand.fetched(selector))
    return computed
