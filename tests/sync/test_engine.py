"""One run's lineage: the link beside a number shows the items behind it, no more, no fewer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from config.loader import load_mapping_text
from config.settings import GitHubSettings, JiraSettings, Settings
from sandbox.server import SANDBOX_GITHUB_TOKEN, Sandbox
from sync.engine import SyncReport, run_sync
from tests.conftest import ANCHOR

START, END = (ANCHOR - timedelta(days=60)).date(), (ANCHOR + timedelta(days=30)).date()

# Filters of every kind, with labels that need quoting; each narrows the repository a lot.
MAPPING = f"""
version: 1
period: {{start: {START}, end: {END}}}
objectives:
  - id: delivery
    title: Deliver
    key_results:
      - id: tech-debt-merged
        title: Merged tech-debt PRs
        target: 50
        metric: {{type: count, pulls: {{repo: acme/api, state: merged, labels: [tech debt], merged: period}}}}
      - id: open-first-issues
        title: Open good first issues
        target: 0
        start: 20
        metric: {{type: count, issues: {{repo: acme/web, state: open, labels: [good first issue]}}}}
      - id: customer-lead-time
        title: Customer PR lead time
        target: 24
        start: 100
        metric:
          type: median
          field: lead_time_hours
          pulls: {{repo: acme/api, state: closed, labels: [customer], created: period}}
      - id: closed-bugs
        title: Bugs closed
        target: 40
        metric: {{type: count, issues: {{repo: acme/api, labels: [bug], closed: period}}}}
"""


def sandbox_settings(box: Sandbox) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        jira=JiraSettings.model_validate(box.jira_settings()),
        github=GitHubSettings.model_validate(box.github_settings()),
        database_url="sqlite://",
    )


def searched(box: Sandbox, link: str) -> tuple[str | None, dict[str, Any]]:
    """The link's `type` and what GitHub's search API answers for the link's own query."""
    asked = parse_qs(urlsplit(link).query)
    answer = requests.get(
        f"{box.github_url}/search/issues",
        params={"q": asked["q"][0], "per_page": 100},
        headers={"Authorization": f"Bearer {SANDBOX_GITHUB_TOKEN}"},
        timeout=30,
    )
    answer.raise_for_status()
    return asked.get("type", [None])[0], answer.json()


@pytest.fixture(scope="module")
def report(sandbox: Sandbox) -> SyncReport:
    mapping = load_mapping_text(MAPPING, source_name="okrs.yaml", today=ANCHOR.date())
    done = run_sync(sandbox_settings(sandbox), mapping, None, as_of=ANCHOR)
    assert not done.failed, [(o.plan.key_result.id, o.error) for o in done.failed]
    return done


@pytest.mark.parametrize(
    ("kr_id", "kind"),
    [
        ("tech-debt-merged", "pullrequests"),
        ("open-first-issues", "issues"),
        ("closed-bugs", "issues"),
    ],
)
def test_a_counted_filters_link_searches_exactly_the_counted_items(
    report: SyncReport, sandbox: Sandbox, kr_id: str, kind: str
) -> None:
    outcome = next(o for o in report.key_results if o.plan.key_result.id == kr_id)
    link_type, answer = searched(sandbox, outcome.lineage["link"])
    assert 0 < answer["total_count"] == outcome.value
    assert link_type == kind


def test_a_listed_filters_link_searches_exactly_the_listed_items(
    report: SyncReport, sandbox: Sandbox
) -> None:
    outcome = next(o for o in report.key_results if o.plan.key_result.id == "customer-lead-time")
    link_type, answer = searched(sandbox, outcome.lineage["link"])
    assert answer["total_count"] <= 100  # one page holds them all
    shown = sorted(f"acme/api#{item['number']}" for item in answer["items"])
    assert shown and shown == sorted(outcome.lineage["items"])
    assert link_type == "pullrequests"
