"""The period's start on Jira, against the sandbox's scripted quarter (sandbox/jira_asof.py):
`start: period_start` is what the sandbox's own JQL evaluator matches on its own "as of"
records at 00:00 UTC of the quarter's first day, and a frozen `percent_done` measures the
issues matched then, each as now while still matched (as then once it left), through the
real `jira` client. An issue labelled into the set afterwards is scope change: the frozen
percentage stays, the live one moves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.loader import load_mapping
from config.settings import IncrementalSettings, JiraSettings, Settings
from sandbox.jira_api import JiraApp
from sandbox.jira_asof import issue_as_of
from sandbox.jira_data import JiraDataset, JiraIssue
from sandbox.jql import JqlEngine
from sandbox.server import SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN
from sync.engine import KeyResultOutcome, run_sync
from sync.store import Store
from tests.connectors.test_jira import served
from tests.connectors.test_jira_history import QUARTER, scripted_site

OPEN_APP = "project = APP AND statusCategory != Done"
CUSTOMER = "labels = customer"
MAPPING = f"""
version: 1
period: 2026-Q3
objectives:
  - id: o
    title: O
    key_results:
      - id: open-app
        title: Open APP issues, down from the quarter's start
        start: period_start
        target: 0
        metric: {{type: count, jql: '{OPEN_APP}'}}
      - id: customer-frozen
        title: Customer issues done, of those at the start
        target: 100
        metric: {{type: percent_done, scope: frozen, jql: '{CUSTOMER}'}}
      - id: customer-live
        title: Customer issues done
        target: 100
        metric: {{type: percent_done, jql: '{CUSTOMER}'}}
"""


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[JiraDataset, str]]:
    data = scripted_site()
    app = JiraApp(data, flavour="cloud", email=SANDBOX_JIRA_EMAIL, token=SANDBOX_JIRA_TOKEN)
    with served(app) as url:
        yield data, url


def matched(data: JiraDataset, jql: str, *, then: bool) -> dict[str, JiraIssue]:
    """The issues `jql` matches now, or at the quarter's first instant, by key."""
    predicate = JqlEngine(data).compile(jql).predicate
    issues = (issue_as_of(data, i, QUARTER) if then else i for i in data.issues)
    return {i.key: i for i in issues if i is not None and predicate(i)}


def done_percent(issues: list[JiraIssue]) -> float:
    return 100 * sum(1 for i in issues if i.status_category == "done") / len(issues)


def test_the_start_and_the_frozen_set_are_the_sandbox_records_at_the_quarters_start(
    site: tuple[JiraDataset, str], tmp_path: Path
) -> None:
    data, url = site
    path = tmp_path / "okrs.yaml"
    path.write_text(MAPPING)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        jira=JiraSettings(
            url=url, email=SANDBOX_JIRA_EMAIL, token=SecretStr(SANDBOX_JIRA_TOKEN), flavour="cloud"
        ),
        incremental=IncrementalSettings(enabled=False),  # the test edits issues in place
    )
    store = Store(settings.database_url)
    store.migrate()
    mapping = load_mapping(path)
    now = max(issue.updated for issue in data.issues) + timedelta(hours=1)

    def run() -> dict[str, KeyResultOutcome]:
        report = run_sync(settings, mapping, store, as_of=now)
        return {o.plan.key_result.id: o for o in report.key_results}

    first = run()
    assert first["open-app"].start == len(matched(data, OPEN_APP, then=True))
    start, current = matched(data, CUSTOMER, then=True), matched(data, CUSTOMER, then=False)
    assert set(start) != set(current)  # the quarter changed the set: a test that can fail
    frozen = [current.get(key, issue) for key, issue in start.items()]
    assert first["customer-frozen"].value == pytest.approx(done_percent(frozen))
    assert first["customer-live"].value == pytest.approx(done_percent(list(current.values())))

    joining = next(
        i for i in data.issues if "customer" not in i.labels and i.status_category != "done"
    )
    original = replace(joining)
    joining.labels = (*joining.labels, "customer")
    joining.updated = now
    try:
        second = run()
    finally:
        joining.labels, joining.updated = original.labels, original.updated
    assert second["customer-frozen"].value == first["customer-frozen"].value
    assert second["customer-live"].value == pytest.approx(
        done_percent([*current.values(), joining])
    )
    assert second["customer-live"].value < first["customer-live"].value  # type: ignore[operator]
    scope = second["customer-frozen"].lineage["scope"]
    since_last_run = scope["since_last_run"]["added"]["items"]
    assert [(i["key"], i["url"]) for i in since_last_run] == [
        (joining.key, f"{url}/browse/{joining.key}")
    ]
    store.close()
