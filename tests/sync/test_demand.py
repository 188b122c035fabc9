"""A run holds an answer only while a key result still has to read it.

Each selector's items are released (`FetchResults.release`) once the last key result reading
it is computed, and a cached unit keeps its rows encoded for the run's write, not its items.
Checked by watching the fetched results as each key result is computed, against a count of
readers kept by the test, and the values against fetching everything first.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from config.settings import Settings
from connectors.base import Selector
from sandbox.server import Sandbox
from sync.connections import build_connectors
from sync.demand import Computed, compute_as_fetched
from sync.fetch import FetchResults, run_fetches, stream_fetches
from sync.incremental_run import IncrementalSync
from sync.lineage import compute_key_result
from sync.plan import KeyResultPlan, QueryPlan, plan_queries
from sync.store import Store
from tests.sync.test_incremental import settings
from tests.sync.test_kept_values import mapping

CONCURRENCY = {"jira": 2, "github": 2}


def held(fetched: FetchResults, selector: Selector) -> int:
    """How many items the fetched results hold for `selector`."""
    outcomes = (fetched.items.get(selector), fetched.counts.get(selector))
    return sum(len(o.items) for o in outcomes if o is not None and o.items is not None)


def selectors_of(plan: KeyResultPlan) -> set[Selector]:
    return {metric.selector for metric in plan.metric_plans}


def the_plan() -> QueryPlan:
    return plan_queries(mapping(), today=datetime.now(UTC).date())


def watched_run(
    plan: QueryPlan, run_settings: Settings, fetched: FetchResults, connectors: dict[str, object]
) -> tuple[dict[str, Computed], int]:
    """Compute as the answers arrive; before each key result, every selector whose readers
    are all computed must hold no item. Returns the values and how many such were seen."""
    readers = Counter(s for kr in plan.key_results for s in selectors_of(kr))
    as_of = datetime.now(UTC)
    released_seen = 0

    def compute(kr_plan: KeyResultPlan, fetched: FetchResults) -> Computed:
        nonlocal released_seen
        for selector, left in readers.items():
            if left == 0:
                assert held(fetched, selector) == 0, f"{selector.describe()} still held"
                released_seen += 1
        for selector in selectors_of(kr_plan):
            readers[selector] -= 1
        return compute_key_result(kr_plan, fetched, run_settings, as_of)

    arrivals = stream_fetches(
        plan,
        connectors,  # type: ignore[arg-type]
        fetched,
        concurrency=CONCURRENCY,
    )
    return compute_as_fetched(plan.key_results, arrivals, fetched, compute), released_seen


def test_each_answer_is_released_once_its_last_key_result_is_computed(sandbox: Sandbox) -> None:
    plan = the_plan()
    run_settings = settings(sandbox, "sqlite://")
    sources = {s.source for s in plan.item_fetches.keys() | plan.count_fetches}
    connectors = build_connectors(run_settings, sources)
    fetched = FetchResults()
    computed, released_seen = watched_run(plan, run_settings, fetched, dict(connectors))
    assert released_seen > 0  # some answer went while other key results were still to come
    assert all(held(fetched, s) == 0 for s in fetched.items.keys() | fetched.counts.keys())
    assert all(o.released for o in fetched.items.values())
    # the same values as fetching everything first, then computing
    everything = run_fetches(plan, connectors, concurrency=CONCURRENCY)
    as_of = datetime.now(UTC)
    for kr in plan.key_results:
        value, error, _ = compute_key_result(kr, everything, run_settings, as_of)
        assert computed[kr.key_result.id][:2] == (value, error), kr.key_result.id


def test_a_cached_unit_keeps_encoded_rows_for_the_write_not_its_items(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/okrsync.db"
    store = Store(url)
    store.migrate()
    try:
        plan = the_plan()
        run_settings = settings(sandbox, url)
        sources = {s.source for s in plan.item_fetches.keys() | plan.count_fetches}
        incremental = IncrementalSync(store, run_settings.incremental, datetime.now(UTC))
        connectors = incremental.wrap(plan, build_connectors(run_settings, sources))
        incremental.prepare(CONCURRENCY)
        incremental.expect(plan)
        watched_run(plan, run_settings, FetchResults(), connectors)
        writes = [w for source in incremental.sources.values() for w in source.writes()]
        assert writes and all(w.replace_all for w in writes)  # nothing cached: all fetched
        for write in writes:
            assert not write.unit.decoded, write.unit.description
            assert write.rows is not None
            assert len(write.rows) >= len(write.unit.members)
        assert sum(len(w.rows or ()) for w in writes) > 0
    finally:
        store.close()
