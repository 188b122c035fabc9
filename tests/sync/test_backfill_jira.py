"""Backfill of Jira key results, end to end, on a quarter of scripted changes
(`sandbox.jira_asof.script_quarter`) served as Jira Cloud and as Jira Server/DC: every day's
stored value is what the sandbox's own records give that day (`issue_as_of` and the
sandbox's own JQL evaluator, no product code), for a count, a story-points sum, percent
done, and median cycle and lead times. The value now is a sync's, read through the
incremental cache; the store had never been synced; a query with a function is named and
left alone; every request the site answered went through the connectors' counted layer."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from config.loader import load_mapping
from config.mapping import MappingFile
from config.settings import JiraSettings, Settings
from sandbox.jira_api import JiraApp
from sandbox.jira_asof import issue_as_of, script_quarter
from sandbox.jira_data import STATUSES, JiraDataset, JiraIssue, build_jira_dataset
from sandbox.jql import JqlEngine
from sandbox.server import SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN
from sync.backfill import BackfillReport, BackfillRequest, run_backfill
from sync.cycle_reads import as_utc
from sync.engine import run_sync
from sync.store import Store
from sync.tables import kr_values
from tests.connectors.test_jira import served

QUARTER = datetime(2026, 7, 1, tzinfo=UTC)
DAYS = 92  # July 1 to September 30
NOW = QUARTER + timedelta(days=DAYS, seconds=-1)  # the period's last second, after every change

QUERIES = {
    "app-open": "resolution = Unresolved AND project = APP",
    "app-points": "project = APP",
    "web-done": 'project in (WEB, "Mobile") AND NOT issuetype = Epic',
    "cycle-median": 'resolved >= "2026-07-01" AND project != OPS',
    "lead-median": "statusCategory = Done AND labels is not EMPTY",
}
MAPPING = f"""
version: 1
period: 2026-Q3
objectives:
  - id: jira-delivery
    title: Ship <b>it</b> & [well]
    key_results:
      - id: app-open
        title: Open issues in APP
        target: 10
        metric: {{type: count, jql: '{QUERIES["app-open"]}'}}
      - id: app-points
        title: Story points in APP
        target: 500
        metric: {{type: sum, field: story_points, jql: '{QUERIES["app-points"]}'}}
      - id: web-done
        title: Web and mobile work done
        target: 100
        unit: '%'
        metric: {{type: percent_done, jql: '{QUERIES["web-done"]}'}}
      - id: cycle-median
        title: Median cycle time of what was resolved this quarter
        start: 200
        target: 24
        metric: {{type: median, field: cycle_time_hours, jql: '{QUERIES["cycle-median"]}'}}
      - id: lead-median
        title: Median lead time of labelled done work
        start: 400
        target: 48
        metric: {{type: median, field: lead_time_hours, jql: '{QUERIES["lead-median"]}'}}
      - id: mine
        title: Issues assigned to me
        target: 5
        metric: {{type: count, jql: 'project = APP AND assignee = currentUser()'}}
"""


def hours(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds() / 3600


def started(issue: JiraIssue) -> datetime | None:
    """The first move into an in-progress status, from the issue's changelog as it was."""
    return next(
        (
            at
            for at, _, to in issue.status_transitions()
            if STATUSES[to].category_key == "indeterminate"
        ),
        None,
    )


def median_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def truth(matched: dict[str, list[JiraIssue]]) -> dict[str, float | None]:
    """Each key result's value from the issues each query matched at a moment."""
    web = matched["web-done"]
    points = [i.story_points for i in matched["app-points"] if i.story_points is not None]
    return {
        "app-open": float(len(matched["app-open"])),
        "app-points": sum(points) if points or not matched["app-points"] else None,
        "web-done": (
            100 * sum(1 for i in web if i.status_category == "done") / len(web) if web else None
        ),
        "cycle-median": median_of(
            [hours(started(i), i.resolutiondate) for i in matched["cycle-median"]]
        ),
        "lead-median": median_of(
            [hours(i.created, i.resolutiondate) for i in matched["lead-median"]]
        ),
    }


@dataclass
class Backfilled:
    """A scripted site served in one flavour, and a backfill of MAPPING into a new store."""

    data: JiraDataset
    app: JiraApp
    settings: Settings
    mapping: MappingFile
    store: Store
    report: BackfillReport
    served: int  # requests the site answered during the backfill

    def expected(self, moment: datetime) -> dict[str, float | None]:
        engine = JqlEngine(self.data)
        then = [i for i in (issue_as_of(self.data, i, moment) for i in self.data.issues) if i]
        matched = {
            kr_id: [i for i in then if engine.compile(jql).predicate(i)]
            for kr_id, jql in QUERIES.items()
        }
        return truth(matched)

    def stored(self, kr_id: str) -> dict[datetime, float | None]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(kr_values.c.observed_at, kr_values.c.value).where(
                    kr_values.c.key_result_id == kr_id, kr_values.c.origin == "backfill"
                )
            ).all()
        return {as_utc(row.observed_at): row.value for row in rows}


def backfill_request(**options: object) -> BackfillRequest:
    return BackfillRequest(now=NOW, step=timedelta(days=1), **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["cloud", "server"])
def backfilled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backfilled]:
    data = build_jira_dataset(seed=5, anchor=QUARTER, n_issues=500, n_projects=4)
    assert script_quarter(data, QUARTER, DAYS, seed=17) > 300
    assert max(i.updated for i in data.issues) < NOW
    app = JiraApp(data, flavour=request.param, email=SANDBOX_JIRA_EMAIL, token=SANDBOX_JIRA_TOKEN)
    folder = tmp_path_factory.mktemp(f"jira-{request.param}")
    path = folder / "okrs.yaml"
    path.write_text(MAPPING)
    with served(app) as url:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=f"sqlite:///{folder / 'okrsync.db'}",
            jira=JiraSettings(
                url=url,
                email=SANDBOX_JIRA_EMAIL,
                token=SecretStr(SANDBOX_JIRA_TOKEN),
                flavour=request.param,
            ),
        )
        store = Store(settings.database_url)
        store.migrate()  # a new store: nothing synced into it
        mapping = load_mapping(path)
        app.reset_counts()
        report = run_backfill(settings, mapping, store, backfill_request())
        served_now = sum(app.requests.values())
        yield Backfilled(data, app, settings, mapping, store, report, served_now)
        store.close()


def test_every_day_of_the_quarter_is_the_sites_own_value(backfilled: Backfilled) -> None:
    outcomes = {kr.id: kr for kr in backfilled.report.key_results}
    for kr_id in QUERIES:
        assert outcomes[kr_id].reason is None, (kr_id, outcomes[kr_id].reason)
        assert outcomes[kr_id].written == outcomes[kr_id].steps == DAYS
    stored = {kr_id: backfilled.stored(kr_id) for kr_id in QUERIES}
    for day in range(DAYS):
        moment = QUARTER + timedelta(days=day)
        for kr_id, value in backfilled.expected(moment).items():
            assert moment in stored[kr_id], (kr_id, moment)
            if value is None:
                assert stored[kr_id][moment] is None, (kr_id, moment)
            else:
                assert stored[kr_id][moment] == pytest.approx(value), (kr_id, moment)
    for kr_id in QUERIES:  # each history moves: a constant would not pass
        assert len(set(stored[kr_id].values())) > 3, kr_id


def test_the_value_now_is_a_syncs(backfilled: Backfilled) -> None:
    outcomes = {kr.id: kr for kr in backfilled.report.key_results}
    now = backfilled.expected(NOW)
    for kr_id, value in now.items():
        assert outcomes[kr_id].value_now == outcomes[kr_id].fetched_now
        assert outcomes[kr_id].fetched_now == pytest.approx(value), kr_id
        row = backfilled.store.key_result(kr_id)
        assert row is not None and row.value == pytest.approx(value), kr_id  # the sync's


def test_a_store_never_synced_gets_the_rows_a_sync_writes(backfilled: Backfilled) -> None:
    """The check of the value now is a sync of the key results rebuilt: it writes their
    objective and key result rows, so the backfilled values have their key result."""
    store = backfilled.store
    assert backfilled.report.sync_run_id is not None
    assert {o.id for o in store.all_objectives()} == {"jira-delivery"}
    assert {kr.id for kr in store.all_key_results()} == set(QUERIES)
    title = store.all_objectives()[0].title
    assert title == "Ship <b>it</b> & [well]"  # as written


def test_a_query_with_a_function_is_named_and_left_alone(backfilled: Backfilled) -> None:
    mine = next(kr for kr in backfilled.report.key_results if kr.id == "mine")
    assert "currentUser" in (mine.reason or ""), mine.reason
    assert not mine.error and backfilled.report.exit_code == 0
    assert backfilled.stored("mine") == {}
    assert backfilled.store.key_result("mine") is None  # not synced either: nothing of it


def test_every_request_went_through_the_counted_layer(backfilled: Backfilled) -> None:
    """The site answered exactly the requests the connectors counted (their HTTP layer,
    under the rate governor), the histories' and the sync's."""
    report = backfilled.report
    assert backfilled.served == report.requests["jira"] + report.sync_requests["jira"]


def test_a_backfill_after_a_sync_costs_what_an_incremental_sync_costs(
    backfilled: Backfilled,
) -> None:
    """The module's backfill synced a store with no cache (a full fetch); now the cache is
    there, and the value now costs what an incremental sync costs."""
    settings, mapping, store = backfilled.settings, backfilled.mapping, backfilled.store
    full = backfilled.report.sync_requests["jira"]
    again = run_backfill(settings, mapping, store, backfill_request(only=list(QUERIES)))
    incremental = run_sync(settings, mapping, store, only=list(QUERIES), as_of=NOW)
    assert again.sync_requests["jira"] == incremental.requests["jira"]
    assert again.sync_requests["jira"] < full
    assert all(kr.written == 0 and kr.kept == DAYS for kr in again.key_results)
