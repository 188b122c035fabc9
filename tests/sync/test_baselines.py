"""The period's start, against the sandbox's scripted GitHub histories (acme/timeline), through
the real PyGithub client: `start: period_start` is the value the data set's own records give
at the period's first instant, rebuilt once and kept as a backfill point; `scope: frozen`
measures the items matched then, so an item added later is scope change (shown, with its
link) and leaves progress alone while a live twin drops."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from config.loader import load_mapping
from config.mapping import MappingFile
from config.settings import GitHubSettings, IncrementalSettings, Settings
from sandbox.github_data import GitHubEvent, GitHubIssue
from sandbox.server import Sandbox
from sync.backfill import BackfillRequest, run_backfill
from sync.cycle_reads import as_utc
from sync.engine import PreviousState, SyncReport, run_sync
from sync.literal_text import LiteralConsole
from sync.notify import digest_changes
from sync.status_view import render_explain
from sync.store import Store
from sync.tables import kr_values
from tests.conftest import ANCHOR
from tests.connectors.test_github_history import Past, replayed

REPO = "acme/timeline"
Q4_START = datetime(2026, 10, 1, tzinfo=UTC)
MAPPING = f"""
version: 1
period: 2026-Q4
objectives:
  - id: delivery
    title: Deliver
    key_results:
      - id: customer-frozen
        title: Customer issues done, of those planned
        target: 100
        metric: {{type: percent_done, scope: frozen, issues: {{repo: {REPO}, labels: [customer]}}}}
      - id: customer-live
        title: Customer issues done
        target: 100
        metric: {{type: percent_done, issues: {{repo: {REPO}, labels: [customer]}}}}
      - id: open-bugs
        title: Open bugs, down from the quarter's start
        start: period_start
        target: 0
        metric: {{type: count, issues: {{repo: {REPO}, state: open, labels: [bug]}}}}
      - id: customer-owned
        title: Customer issues with an owner
        start: period_start
        target: 100
        metric:
          type: share
          scope: frozen
          where: assignee != None
          issues: {{repo: {REPO}, labels: [customer]}}
"""


@pytest.fixture
def setup(
    timeline_box: Sandbox, tmp_path: Path, database_url: str
) -> Iterator[tuple[Settings, MappingFile, Store]]:
    path = tmp_path / "okrs.yaml"
    path.write_text(MAPPING)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        github=GitHubSettings.model_validate(timeline_box.github_settings()),
        # every run reads the sandbox in full: the test edits its items in place
        incremental=IncrementalSettings(enabled=False),
    )
    store = Store(settings.database_url)
    store.migrate()
    yield settings, load_mapping(path), store
    store.close()


def customer_issues(items: list[Past]) -> dict[str, Past]:
    return {p.key: p for p in items if p.kind == "issue" and "customer" in p.labels}


def percent(done: int, total: int) -> float:
    return 100 * done / total


def frozen_done(start: dict[str, Past], now: dict[str, Past]) -> float:
    """The frozen scope's items, each as now when still matched, else as at the start."""
    states = [now.get(key, past) for key, past in start.items()]
    return percent(sum(1 for p in states if not p.open), len(states))


def backfill_points(store: Store, kr_id: str) -> dict[datetime, float | None]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(kr_values.c.observed_at, kr_values.c.value).where(
                kr_values.c.key_result_id == kr_id, kr_values.c.origin == "backfill"
            )
        ).all()
    return {as_utc(row.observed_at): row.value for row in rows}


def test_period_start_is_the_value_the_records_give_at_the_first_instant(
    setup: tuple[Settings, MappingFile, Store], timeline_box: Sandbox
) -> None:
    settings, mapping, store = setup
    data = timeline_box.github_data
    at_start = replayed(data, Q4_START)
    open_bugs = sum(1 for p in at_start if p.kind == "issue" and p.open and "bug" in p.labels)
    report = run_sync(settings, mapping, store, as_of=ANCHOR)
    outcome = next(o for o in report.key_results if o.plan.key_result.id == "open-bugs")
    assert outcome.start == open_bugs
    assert backfill_points(store, "open-bugs") == {Q4_START: open_bugs}  # frozen from now on
    row = store.key_result("open-bugs")
    assert row is not None and row.start_value == open_bugs
    # Read back, not rebuilt: the stored point is what the next runs score from.
    with store.engine.begin() as conn:
        conn.execute(
            update(kr_values)
            .where(kr_values.c.key_result_id == "open-bugs", kr_values.c.origin == "backfill")
            .values(value=123.0)
        )
    again = run_sync(settings, mapping, store, as_of=ANCHOR)
    kept = next(o for o in again.key_results if o.plan.key_result.id == "open-bugs")
    assert kept.start == 123.0
    assert backfill_points(store, "open-bugs") == {Q4_START: 123.0}


def test_an_item_added_later_is_scope_change_not_progress(
    setup: tuple[Settings, MappingFile, Store], timeline_box: Sandbox
) -> None:
    """A customer issue added to the set after the start: the frozen key result keeps its
    value and lists the addition (key and link); the live one drops."""
    settings, mapping, store = setup
    data = timeline_box.github_data
    start = customer_issues(replayed(data, Q4_START))
    now = customer_issues(replayed(data, ANCHOR))
    first = {
        o.plan.key_result.id: o
        for o in run_sync(settings, mapping, store, as_of=ANCHOR).key_results
    }
    assert first["customer-frozen"].value == pytest.approx(frozen_done(start, now))
    assert first["customer-live"].value == pytest.approx(
        percent(sum(1 for p in now.values() if not p.open), len(now))
    )
    added = next(
        i
        for i in data.issues
        if i.state == "open" and "customer" not in i.labels and i.key not in start
    )
    original = replace(added)
    labelled = ANCHOR - timedelta(minutes=5)
    added.labels = (*added.labels, "customer")
    added.events = (
        *added.events,
        GitHubEvent(99_999_999, "labeled", "alice", labelled, "customer"),
    )
    added.updated_at = labelled
    try:
        second = {
            o.plan.key_result.id: o
            for o in run_sync(
                settings, mapping, store, as_of=ANCHOR + timedelta(minutes=1)
            ).key_results
        }
    finally:
        restore(added, original)
    assert second["customer-frozen"].value == first["customer-frozen"].value
    assert second["customer-live"].value < first["customer-live"].value  # type: ignore[operator]
    scope = second["customer-frozen"].lineage["scope"]
    assert scope["mode"] == "frozen" and scope["frozen_total"] == len(start)
    shown = {i["key"]: i["url"] for i in scope["since_start"]["added"]["items"]}
    assert shown[added.key].endswith(f"/{REPO}/issues/{added.number}")
    assert scope["since_start"]["added"]["total"] == len(set(now) - set(start)) + 1
    assert [i["key"] for i in scope["since_last_run"]["added"]["items"]] == [added.key]
    live_scope = second["customer-live"].lineage["scope"]
    assert [i["key"] for i in live_scope["since_last_run"]["added"]["items"]] == [added.key]
    # The digest names it too, as a change since the last run.
    report = SyncReport(ANCHOR, ANCHOR, list(second.values()), {}, {}, {})
    before = {kr_id: PreviousState("on_track", 0.3) for kr_id in second}
    digest = {c.key_result: c for c in digest_changes(report, before)}
    assert "scope_changed" in digest["customer-frozen"].reasons
    assert [i.key for i in digest["customer-frozen"].scope[0].items] == [added.key]


def restore(item: GitHubIssue, original: GitHubIssue) -> None:
    item.labels, item.events, item.updated_at = (
        original.labels,
        original.events,
        original.updated_at,
    )


def test_a_start_that_cannot_be_rebuilt_is_named_and_no_progress_is_guessed(
    setup: tuple[Settings, MappingFile, Store], tmp_path: Path
) -> None:
    """A search qualifier GitHub keeps no history of: no baseline, the reason, no progress."""
    settings, _, store = setup
    path = tmp_path / "unrebuildable.yaml"
    path.write_text(
        f"""
version: 1
period: 2026-Q4
objectives:
  - id: o
    title: O
    key_results:
      - id: commented
        title: Issues with comments
        start: period_start
        target: 10
        metric: {{type: count, search: 'repo:{REPO} is:issue comments:>0'}}
      - id: commented-done
        title: Commented issues done, of those at the start
        target: 100
        metric: {{type: percent_done, scope: frozen, search: 'repo:{REPO} is:issue comments:>0'}}
"""
    )
    report = run_sync(settings, load_mapping(path), store, as_of=ANCHOR)
    outcome, frozen = report.key_results
    # A frozen scope that cannot be rebuilt fails its key result, naming why; never live.
    assert frozen.value is None and frozen.error is not None
    assert frozen.error.startswith("scope: frozen: the items at the period's start were not")
    assert "comments" in frozen.error
    assert store.frozen_scope("commented-done", frozen.plan.period) is None
    assert outcome.error is None and outcome.value is not None
    assert outcome.start is None and outcome.progress.progress is None
    assert outcome.progress.status == "no_data"
    assert "start: period_start: " in outcome.lineage["start_problem"]
    assert "comments" in outcome.lineage["start_problem"]
    assert backfill_points(store, "commented") == {}
    console = LiteralConsole(record=True, width=300)
    render_explain(store, "commented", console)
    assert "no baseline: start: period_start: " in console.export_text()


def test_backfill_measures_the_frozen_scope_at_every_step(
    setup: tuple[Settings, MappingFile, Store], timeline_box: Sandbox
) -> None:
    """Each day's value is the start's items as the records leave them that day (as at the
    start once they no longer match); progress scores from the value at the start."""
    settings, mapping, store = setup
    data = timeline_box.github_data
    run_sync(settings, mapping, store, as_of=ANCHOR)  # takes the scope and the start value
    only = ["customer-frozen", "open-bugs", "customer-live"]
    report = run_backfill(
        settings, mapping, store, BackfillRequest(now=ANCHOR, step=timedelta(days=7), only=only)
    )
    assert [(kr.id, kr.reason) for kr in report.key_results] == [
        ("customer-frozen", None),
        ("customer-live", None),
        ("open-bugs", None),
    ]
    start = customer_issues(replayed(data, Q4_START))
    points = backfill_points(store, "customer-frozen")
    assert len(points) == 8
    for moment, value in points.items():
        assert value == pytest.approx(frozen_done(start, customer_issues(replayed(data, moment))))
    with store.engine.connect() as conn:
        first = conn.execute(
            select(kr_values.c.value, kr_values.c.progress_raw).where(
                kr_values.c.key_result_id == "open-bugs", kr_values.c.observed_at == Q4_START
            )
        ).one()
    assert first.progress_raw == 0  # the start scores from itself
    # Backfill kept the live set's items at the start: a sync shows what joined since.
    now = customer_issues(replayed(data, ANCHOR))
    live = next(
        o
        for o in run_sync(settings, mapping, store, as_of=ANCHOR).key_results
        if o.plan.key_result.id == "customer-live"
    )
    since_start = live.lineage["scope"]["since_start"]
    assert since_start["added"]["total"] == len(set(now) - set(start))
    assert since_start["removed"]["total"] == len(set(start) - set(now))
    assert live.value == pytest.approx(
        percent(sum(1 for p in now.values() if not p.open), len(now))
    )


def test_auto_is_the_first_value_a_sync_recorded_not_a_backfilled_one(
    setup: tuple[Settings, MappingFile, Store],
) -> None:
    """Backfill writes points before the first sync's: `auto` stays the value people saw
    first, so running backfill later never moves a baseline behind their back."""
    settings, mapping, store = setup
    report = run_sync(settings, mapping, store, as_of=ANCHOR)
    synced = next(o for o in report.key_results if o.plan.key_result.id == "open-bugs")
    assert backfill_points(store, "open-bugs") == {Q4_START: synced.start}  # earlier
    assert synced.start != synced.value
    assert store.first_value_since("open-bugs", Q4_START.date()) == synced.value
