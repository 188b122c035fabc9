"""A first run holds the fetch units in flight, not the company's items.

Counted on a company whose items are spread over many fetch units: the work items alive
in the process (`gc`) each time a fetch is done during a whole first run, against the items
its fetch units brought (the cache rows it wrote). A run that kept each answer until its end
(what made a first run's peak RSS grow with the company) comes back to all of them. Objects
counted, never time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from config.loader import load_mapping_text
from config.mapping import MappingFile
from connectors.base import WorkItem
from sandbox.github_data import ORG, REPO_NAMES
from sandbox.jira_data import PROJECT_CATALOGUE
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.engine import run_sync
from sync.plan import plan_queries
from sync.store import Store
from sync.tables import fetch_cache_items
from tests.sync.test_incremental import settings

ANCHOR = datetime(2026, 11, 29, 12, tzinfo=UTC)
PROJECTS = 8
REPOS = 8
# The most work items a first run holds at once against the items its units brought: 0.26
# here (a unit fetched, one being computed, per tracker); holding every answer is 1.
AT_MOST = 0.5


@pytest.fixture(scope="module")
def company() -> Iterator[tuple[Sandbox, MappingFile]]:
    """Every project's issues and every repository's pull requests read by key results of
    their own: sixteen fetch units of about equal size."""
    sandbox = build_sandbox(
        SandboxOptions(seed=11, anchor=ANCHOR),
        jira_issues=1600,
        jira_projects=PROJECTS,
        github_repos=REPOS,
        github_pulls=1600,
        github_issues=40,
    )
    key_results = [
        {
            "id": f"done-{key.lower()}",
            "title": f"[{key}] <b>done</b>",
            "target": 80,
            "metric": {"source": "jira", "type": "percent_done", "jql": f"project = {key}"},
        }
        for key, _, _ in PROJECT_CATALOGUE[:PROJECTS]
    ]
    key_results += [
        {
            "id": f"merged-{name}",
            "title": f"{name} merged \x1b[31m",
            "target": 80,
            "metric": {"type": "percent_done", "pulls": {"repo": f"{ORG}/{name}", "state": "all"}},
        }
        for name in REPO_NAMES[:REPOS]
    ]
    text = yaml.safe_dump(
        {
            "version": 1,
            "period": {"start": str(ANCHOR.date() - timedelta(days=60)), "end": str(ANCHOR.date())},
            "objectives": [{"id": "all", "title": "Everything", "key_results": key_results}],
        }
    )
    mapping = load_mapping_text(text, source_name="company", today=ANCHOR.date())
    with sandbox.start() as running:
        yield running, mapping


def alive_work_items() -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if type(thing) is WorkItem)


def test_a_first_run_holds_the_units_in_flight_not_every_answer(
    company: tuple[Sandbox, MappingFile], tmp_path: Path
) -> None:
    box, mapping = company
    url = f"sqlite:///{tmp_path}/okrsync.db"
    store = Store(url)
    store.migrate()
    seen: list[int] = []
    one_at_a_time = settings(box, url).model_copy(deep=True)
    one_at_a_time.jira.max_concurrency = one_at_a_time.github.max_concurrency = 1
    try:
        before = alive_work_items()
        report = run_sync(
            one_at_a_time,
            mapping,
            store,
            as_of=ANCHOR,
            on_fetch_done=lambda _: seen.append(alive_work_items() - before),
        )
        with store.engine.connect() as conn:  # every unit's items, as the run wrote them
            fetched = conn.execute(
                select(func.count())
                .select_from(fetch_cache_items)
                .where(fetch_cache_items.c.item.is_not(None))
            ).scalar_one()
    finally:
        store.close()
    assert not report.failed
    assert report.cache_units and report.cache_units["full"] == sum(report.cache_units.values())
    plan = plan_queries(mapping, today=ANCHOR.date())
    assert len(seen) >= len(plan.item_fetches)  # looked at as each fetch was done
    print(f"at most {max(seen)} work items alive during the run, {fetched} fetched")
    assert max(seen) < AT_MOST * fetched
