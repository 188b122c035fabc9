"""Backfill against the sandbox's scripted GitHub histories (acme/timeline), through the real
PyGithub client: for every day of the quarter, the stored value is what the data set's
own event logs give, computed here from them (counts, sums, percent done, medians, a
formula); reruns write nothing twice, values a sync or a person recorded are never
touched, an interrupted backfill resumes, and the value now is a sync's."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.loader import load_mapping
from config.mapping import MappingFile
from config.settings import GitHubSettings, Settings
from sandbox.server import Sandbox
from sync.backfill import BackfillRequest, run_backfill
from sync.cycle_reads import as_utc
from sync.engine import run_sync
from sync.records import BackfillPoint
from sync.store import Store
from sync.store_errors import StoreError
from sync.tables import kr_values
from tests.conftest import ANCHOR
from tests.connectors.test_github_history import Past, replayed

Q4 = (date(2026, 10, 1), date(2026, 12, 31))
REPO = "acme/timeline"
MAPPING = f"""
version: 1
period: 2026-Q4
objectives:
  - id: delivery
    title: Deliver <fast> & [well]
    key_results:
      - id: merged
        title: Pull requests merged
        target: 60
        metric: {{type: count, pulls: {{repo: {REPO}, state: merged, merged: period}}}}
      - id: open-bugs
        title: Open bugs
        start: 20
        target: 0
        metric: {{type: count, issues: {{repo: {REPO}, state: open, labels: [bug]}}}}
      - id: lead-sum
        title: Hours from opening to merge, summed
        target: 1000
        metric: {{type: sum, field: lead_time_hours, pulls: {{repo: {REPO}, merged: period}}}}
      - id: customer-done
        title: Customer issues done
        target: 100
        unit: '%'
        metric: {{type: percent_done, issues: {{repo: {REPO}, labels: [customer]}}}}
      - id: lead-median
        title: Median lead time
        start: 100
        target: 24
        metric: {{type: median, field: lead_time_hours, pulls: {{repo: {REPO}, merged: period}}}}
      - id: closed-issues
        title: Issues closed this quarter
        target: 40
        metric: {{type: count, search: 'repo:{REPO} is:issue is:closed closed:{{period}}'}}
      - id: merged-share
        title: Share of this quarter's pull requests merged
        target: 100
        metric:
          type: formula
          expr: 100 * merged / (merged + open)
          inputs:
            merged: {{source: github, type: count, search: 'repo:{REPO} is:pr is:merged merged:{{period}}'}}
            open: {{source: github, type: count, pulls: {{repo: {REPO}, state: open}}}}
      - id: owned
        title: Open issues with an owner
        target: 100
        unit: '%'
        metric:
          type: share
          where: assignee != None and title != 'x'
          issues: {{repo: {REPO}, state: open}}
      - id: review-median
        title: Median hours to a first review
        target: 4
        metric: {{type: median, field: review_time_hours, pulls: {{repo: {REPO}, merged: period}}}}
      - id: approved-share
        title: Merged pull requests approved before merging
        target: 100
        unit: '%'
        metric: {{type: share, where: approved, pulls: {{repo: {REPO}, merged: period}}}}
      - id: approved
        title: Approved pull requests
        target: 10
        metric: {{type: count, search: 'repo:{REPO} is:pr review:approved'}}
      - id: morale
        title: Team morale
        target: 8
        metric: {{type: manual}}
"""


def in_q4(moment: datetime | None) -> bool:
    return moment is not None and Q4[0] <= moment.date() <= Q4[1]


def hours(past: Past) -> float:
    assert past.merged_at is not None
    return (past.merged_at - past.created_at).total_seconds() / 3600


def expected(items: list[Past]) -> dict[str, float | None]:
    """Every key result's value from the items as their logs leave them at a moment."""
    pulls = [p for p in items if p.kind == "pull_request"]
    issues = [p for p in items if p.kind == "issue"]
    merged = [p for p in pulls if in_q4(p.merged_at)]
    customer = [p for p in issues if "customer" in p.labels]
    open_pulls = [p for p in pulls if p.open]
    total = len(merged) + len(open_pulls)
    open_issues = [p for p in issues if p.open]
    review_hours = [
        (p.first_review_at - p.created_at).total_seconds() / 3600
        for p in merged
        if p.first_review_at is not None
    ]
    return {
        "merged": len(merged),
        "open-bugs": sum(1 for p in issues if p.open and "bug" in p.labels),
        "lead-sum": sum(hours(p) for p in merged),
        "customer-done": (
            100 * sum(1 for p in customer if not p.open) / len(customer) if customer else None
        ),
        "lead-median": statistics.median(hours(p) for p in merged) if merged else None,
        "closed-issues": sum(1 for p in issues if not p.open and in_q4(p.closed_at)),
        "merged-share": 100 * len(merged) / total if total else None,
        "review-median": statistics.median(review_hours) if review_hours else None,
        "approved-share": (
            100 * sum(1 for p in merged if p.approved) / len(merged) if merged else None
        ),
        "owned": (
            100 * sum(1 for p in open_issues if p.assignee) / len(open_issues)
            if open_issues
            else None
        ),
    }


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
    )
    store = Store(settings.database_url)
    store.migrate()
    mapping = load_mapping(path)
    run_sync(settings, mapping, store, as_of=ANCHOR)  # the key results are in the store
    yield settings, mapping, store
    store.close()


def request(**options: object) -> BackfillRequest:
    return BackfillRequest(now=ANCHOR, step=timedelta(days=1), **options)  # type: ignore[arg-type]


def backfilled(store: Store, kr_id: str) -> dict[datetime, float | None]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(kr_values.c.observed_at, kr_values.c.value).where(
                kr_values.c.key_result_id == kr_id, kr_values.c.origin == "backfill"
            )
        ).all()
    return {as_utc(row.observed_at): row.value for row in rows}


def test_every_day_of_the_quarter_is_the_logs_value(
    setup: tuple[Settings, MappingFile, Store], timeline_box: Sandbox
) -> None:
    settings, mapping, store = setup
    report = run_backfill(settings, mapping, store, request())
    outcomes = {kr.id: kr for kr in report.key_results}
    days = (ANCHOR - datetime(2026, 10, 1, tzinfo=UTC)).days + 1
    data = timeline_box.github_data
    for kr_id in expected([]):
        outcome = outcomes[kr_id]
        assert outcome.reason is None, (kr_id, outcome.reason)
        assert outcome.steps == days
        assert outcome.value_now == outcome.fetched_now  # rebuilt now is a sync's value
    compared = 0
    for offset in range(days):
        moment = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=offset)
        wanted = expected(replayed(data, moment))
        for kr_id, value in wanted.items():
            stored = backfilled(store, kr_id)
            assert moment in stored, (kr_id, moment)
            if value is None:
                assert stored[moment] is None, (kr_id, moment)
            else:
                assert stored[moment] == pytest.approx(value), (kr_id, moment)
            compared += 1
    assert compared == 10 * days
    values = backfilled(store, "merged")
    assert len(set(values.values())) > 10  # the history moves: a constant would not pass


def test_what_cannot_be_rebuilt_is_named_and_left_alone(
    setup: tuple[Settings, MappingFile, Store],
) -> None:
    settings, mapping, store = setup
    report = run_backfill(settings, mapping, store, request())
    outcomes = {kr.id: kr for kr in report.key_results}
    assert "review" in (outcomes["approved"].reason or "")
    assert not outcomes["approved"].error
    assert "manual" in (outcomes["morale"].reason or "")
    assert backfilled(store, "approved") == {}
    assert backfilled(store, "morale") == {}
    assert report.exit_code == 0


def test_every_request_went_through_the_counted_layer(
    setup: tuple[Settings, MappingFile, Store], timeline_box: Sandbox
) -> None:
    """GitHub answered exactly the requests the connectors counted (their HTTP layer, where
    the rate governor is asked before each), the histories' and the sync's of the value now;
    right after a sync, that sync re-asks only what changed."""
    settings, mapping, store = setup
    app = timeline_box.github_app
    assert app is not None
    app.reset_counts()
    report = run_backfill(settings, mapping, store, request(only=["merged", "open-bugs"]))
    assert sum(app.requests.values()) == report.requests["github"] + report.sync_requests["github"]
    assert report.sync_run_id is not None
    assert report.sync_requests["github"] < report.requests["github"]


def test_a_rerun_writes_nothing_twice(setup: tuple[Settings, MappingFile, Store]) -> None:
    settings, mapping, store = setup
    first = run_backfill(settings, mapping, store, request(only=["merged"]))
    stored = backfilled(store, "merged")
    again = run_backfill(settings, mapping, store, request(only=["merged"]))
    assert first.key_results[0].written == len(stored) > 0
    assert again.key_results[0].written == 0
    assert again.key_results[0].kept == len(stored)
    assert backfilled(store, "merged") == stored


def test_values_recorded_by_others_are_never_touched(
    setup: tuple[Settings, MappingFile, Store],
) -> None:
    settings, mapping, store = setup
    with store.engine.begin() as conn:
        before = conn.execute(select(kr_values)).all()
    moment = datetime(2026, 10, 15, tzinfo=UTC)
    record = store.key_result("open-bugs")
    assert record is not None
    with store.engine.begin() as conn:  # a check-in at a step's moment
        conn.execute(
            kr_values.insert(),
            {
                "namespace": mapping.namespace,
                "cycle": "2026-10-01..2026-12-31",  # the key result's: 2026-Q4
                "key_result_id": "open-bugs",
                "observed_at": moment,
                "value": 123.0,
                "origin": "checkin",
            },
        )
    report = run_backfill(settings, mapping, store, request(only=["open-bugs"]))
    assert report.key_results[0].taken == 1
    with store.engine.connect() as conn:
        rows = conn.execute(select(kr_values).where(kr_values.c.observed_at == moment)).all()
    assert [(r.origin, r.value) for r in rows] == [("checkin", 123.0)]
    with store.engine.connect() as conn:
        after = {repr(tuple(r)) for r in conn.execute(select(kr_values)).all()}
    assert {repr(tuple(r)) for r in before} <= after  # every sync value is still there, unchanged


def test_an_interrupted_backfill_resumes(
    setup: tuple[Settings, MappingFile, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, mapping, store = setup
    calls = 0
    write = Store.write_backfill

    def stopping(self: Store, kr_id: str, period: object, points: list[BackfillPoint]) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return write(self, kr_id, period, points)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "write_backfill", stopping)
    with pytest.raises(KeyboardInterrupt):
        run_backfill(settings, mapping, store, request(only=["lead-sum"]))
    monkeypatch.setattr(Store, "write_backfill", write)
    first_batch = backfilled(store, "lead-sum")
    assert len(first_batch) == 30  # the first batch was written in its own transaction
    resumed = run_backfill(settings, mapping, store, request(only=["lead-sum"]))
    outcome = resumed.key_results[0]
    assert outcome.kept == 30
    assert outcome.written == outcome.steps - 30
    assert backfilled(store, "lead-sum").items() >= first_batch.items()


def test_a_value_now_unlike_a_syncs_is_reported_and_not_written(
    setup: tuple[Settings, MappingFile, Store], timeline_box: Sandbox
) -> None:
    """An issue closed without a closing event (a log the rebuild cannot trust): the value
    rebuilt now differs from a fetch's, so nothing is guessed."""
    settings, mapping, store = setup
    data = timeline_box.github_data
    issue = next(
        i
        for i in data.issues
        if i.state == "open"
        and "bug" in i.labels
        and i.updated_at >= datetime(2026, 10, 1, tzinfo=UTC)  # its events are read
        and any(e.event == "reopened" for e in i.events)
    )
    try:
        issue.state, issue.closed_at = "closed", ANCHOR - timedelta(hours=1)
        report = run_backfill(settings, mapping, store, request(only=["open-bugs"]))
    finally:
        issue.state, issue.closed_at = "open", None
    outcome = report.key_results[0]
    assert outcome.error and report.exit_code == 1
    assert outcome.value_now == outcome.fetched_now + 1  # type: ignore[operator]
    assert "is not what a sync computes now" in (outcome.reason or "")
    assert backfilled(store, "open-bugs") == {}


def test_a_point_outside_the_period_is_refused(
    setup: tuple[Settings, MappingFile, Store],
) -> None:
    _, mapping, store = setup
    point = BackfillPoint(datetime(2026, 9, 30, tzinfo=UTC), 1.0, None, "no_data", {})
    with pytest.raises(StoreError, match="outside 2026-Q4"):
        store.write_backfill("merged", mapping.period, [point])
    assert backfilled(store, "merged") == {}


def test_a_changed_definition_replaces_its_own_points_only(
    setup: tuple[Settings, MappingFile, Store], tmp_path: Path, timeline_box: Sandbox
) -> None:
    settings, mapping, store = setup
    run_backfill(settings, mapping, store, request(only=["lead-sum", "merged"]))
    merged_before = backfilled(store, "merged")
    path = tmp_path / "changed.yaml"  # the same namespace: the same key results
    path.write_text(
        MAPPING.replace(
            "type: sum, field: lead_time_hours", "type: mean, field: lead_time_hours"
        ).replace("version: 1\n", f"version: 1\nnamespace: {mapping.namespace}\n")
    )
    changed = load_mapping(path)
    report = run_backfill(settings, changed, store, request(only=["lead-sum", "merged"]))
    outcomes = {kr.id: kr for kr in report.key_results}
    assert outcomes["lead-sum"].written == outcomes["lead-sum"].steps  # each point rewritten
    assert outcomes["merged"].written == 0
    means = backfilled(store, "lead-sum")
    assert len(means) == outcomes["lead-sum"].steps  # replaced, not added
    data = replayed(timeline_box.github_data, datetime(2026, 11, 1, tzinfo=UTC))
    merged = [p for p in data if p.kind == "pull_request" and in_q4(p.merged_at)]
    assert means[datetime(2026, 11, 1, tzinfo=UTC)] == pytest.approx(
        statistics.mean(hours(p) for p in merged)
    )
    assert backfilled(store, "merged") == merged_before
