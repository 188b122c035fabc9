"""Every injected fault, through `run.py sync` (sync.cli.main) against the sandbox.

Each scenario first syncs cleanly, then arms one fault and syncs again. A fault that may
pass must be survived (retries, Retry-After honoured): exit 0 and every value right. A
fault that cannot pass must cost only the key results that read the failing tracker or
selector: exit 1, their error recorded and shown in words a user can act on, their last
good value kept, every other key result written, and no earlier history row changed.
Expected values come from the sandbox's data set (tests.sync.test_cli.expected_values).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.retry import RetryPolicy
from sandbox import faults
from sandbox.faults import Fault
from sandbox.server import Sandbox
from sync.cli import main
from sync.records import KeyResultRow
from sync.store import Store
from sync.tables import kr_values
from tests.reliability.record import record
from tests.sync.test_cli import expected_values

JIRA_KRS = frozenset({"p1-bugs", "points", "web-done", "bug-cycle"})
GITHUB_KRS = frozenset(
    {"lead-time", "lead-time-p90", "fast-reviews", "merged-all-time", "review-share"}
)
JIRA_SELECTORS = 4  # distinct JQLs in the mapping
GITHUB_SELECTORS = 5  # acme/api pulls, acme/web pulls, three searches


@dataclass(frozen=True)
class Scenario:
    id: str
    pattern: str
    fault: Fault
    times: int | None = 1
    query: str | None = None
    fails: frozenset[str] = frozenset()  # empty: the run must recover completely
    message: str = ""  # what the recorded error must say
    max_hits: int | None = None  # not retried: no more requests than this hit the fault
    waits_s: float = 0.0  # a Retry-After that must be honoured

    @property
    def where(self) -> str:
        return "Jira" if self.pattern.startswith("/jira") else "GitHub"


JQL_REFUSED = "Field 'nosuch' does not exist or you do not have permission to view it."

SCENARIOS = [
    # --- faults that pass: retried, nothing lost
    Scenario("jira-latency", "/jira/", faults.latency(0.1), times=None),
    Scenario("jira-timeout", "/jira/.*/search", faults.latency(2.5)),
    Scenario("github-timeout", "/github/search", faults.latency(2.5)),
    Scenario("jira-reset", "/jira/.*/search", faults.connection_reset()),
    Scenario("github-reset", "/github/search", faults.connection_reset()),
    Scenario("jira-500", "/jira/.*/search", faults.http_error(500)),
    Scenario("jira-502", "/jira/.*/search", faults.http_error(502)),
    Scenario("jira-503", "/jira/.*/search", faults.http_error(503, retry_after=1), waits_s=1),
    Scenario("github-500", "/github/search", faults.http_error(500)),
    Scenario("github-502", "/github/repos", faults.http_error(502)),
    Scenario("github-503", "/github/search", faults.http_error(503, retry_after=1), waits_s=1),
    Scenario("jira-429", "/jira/.*/search", faults.rate_limited(1), waits_s=1),
    Scenario("github-429", "/github/search", faults.rate_limited(1), waits_s=1),
    Scenario("github-403-secondary", "/github/search", faults.github_secondary_limit(1), waits_s=1),
    Scenario("jira-malformed", "/jira/.*/search", faults.malformed_json()),
    Scenario("github-malformed", "/github/search", faults.malformed_json()),
    Scenario("jira-truncated", "/jira/.*/search", faults.truncated_page()),
    Scenario("github-truncated", "/github/repos", faults.truncated_page()),
    Scenario("jira-shifted-page", "/jira/.*/search", faults.shifted_page(), times=None),
    # --- faults that stay: only the key results that need them fail
    Scenario(
        "jira-500-always",
        "/jira/",
        faults.http_error(500),
        times=None,
        fails=JIRA_KRS,
        message="(HTTP 500)",
    ),
    Scenario(
        "github-502-always",
        "/github/",
        faults.http_error(502),
        times=None,
        fails=GITHUB_KRS,
        message="kept failing with server errors",
    ),
    Scenario(
        "jira-401",
        "/jira/",
        faults.bad_credentials("jira"),
        times=None,
        fails=JIRA_KRS,
        message="check OKRSYNC_JIRA__EMAIL / OKRSYNC_JIRA__TOKEN",
        max_hits=JIRA_SELECTORS,
    ),
    Scenario(
        "github-401",
        "/github/",
        faults.bad_credentials("github"),
        times=None,
        fails=GITHUB_KRS,
        message="check OKRSYNC_GITHUB__TOKEN",
        max_hits=GITHUB_SELECTORS,
    ),
    Scenario(
        "github-404-deleted-repository",
        "/github/repos/acme/api/",
        faults.not_found("github"),
        times=None,
        fails=frozenset({"lead-time", "lead-time-p90"}),
        message="GitHub has no repository acme/api",
        max_hits=1,
    ),
    Scenario(
        "jira-404-deleted-project",
        "/jira/.*/search",
        faults.not_found("jira"),
        times=None,
        fails=JIRA_KRS,
        message="No project could be found with key 'APP'",
        max_hits=JIRA_SELECTORS,
    ),
    Scenario(
        "jira-400-jql-error",
        "/jira/.*/search",
        faults.jql_error(JQL_REFUSED),
        times=None,
        query=r"project = WEB\b",
        fails=frozenset({"web-done"}),
        message=f"Jira refused the JQL 'project = WEB': {JQL_REFUSED}",
        max_hits=1,
    ),
]


def key_results(store: Store) -> dict[str, KeyResultRow]:
    return {row.id: row for row in store.all_key_results()}


def history_rows(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(kr_values).order_by(kr_values.c.id)).mappings().all()
    return [dict(row) for row in rows]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_fault(
    scenario: Scenario,
    workdir: Path,
    faulty: Sandbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = Store(f"sqlite:///{workdir / 'okrsync.db'}")
    expected = expected_values(faulty)
    assert main(["sync"]) == 0, capsys.readouterr()
    clean = store.runs(limit=1)[0].requests
    before = key_results(store)
    history_before = history_rows(store)
    capsys.readouterr()

    faulty.faults.arm(scenario.pattern, scenario.fault, times=scenario.times, query=scenario.query)
    began = time.monotonic()
    code = main(["sync"])
    elapsed = time.monotonic() - began
    shown = capsys.readouterr().out
    hits = faulty.faults.fired
    faulty.faults.reset()

    after = key_results(store)
    run = store.runs(limit=1)[0]
    assert hits >= 1, "the fault was never hit"
    # Retries are bounded by count, not by the clock: each request of a clean first run is
    # tried at most RetryPolicy's attempts times, and nothing else is asked.
    for tracker, made in run.requests.items():
        bound = RetryPolicy().attempts * clean[tracker]
        assert made <= bound, f"{tracker}: {made} requests, a clean first run made {clean[tracker]}"
    assert history_rows(store)[: len(history_before)] == history_before  # history kept
    failed = {kr_id for kr_id, row in after.items() if row.last_error is not None}
    assert failed == scenario.fails
    for kr_id, value in expected.items():
        assert after[kr_id].value == pytest.approx(value), kr_id  # right or last good
        assert after[kr_id].last_run_id == run.id  # every key result was written
    if scenario.max_hits is not None:
        assert hits <= scenario.max_hits, "an error that cannot pass was retried"
    assert elapsed >= scenario.waits_s, "Retry-After was not honoured"

    if not scenario.fails:
        assert code == 0, shown
        assert run.outcome == "ok"
        outcome = f"recovered: exit 0, all {len(expected)} tracker values correct"
        if scenario.waits_s:
            outcome += f", waited the Retry-After of {scenario.waits_s:g} s"
        elif scenario.times is None:
            outcome += " (no double counting)" if "shifted" in scenario.id else ""
        else:
            outcome += ", after a retry"
        record("fault", f"{scenario.where}: {scenario.fault.name}", hits, outcome)
        return

    assert code == 1
    assert run.outcome == "partial"
    errors = set()
    for kr_id in scenario.fails:
        error = after[kr_id].last_error
        assert error is not None and scenario.message in error, error
        assert "\n" not in error
        assert after[kr_id].status == "error"
        assert after[kr_id].value == before[kr_id].value  # the last good value is kept
        assert f"failed {kr_id}: " in shown  # and the error is shown
        errors.add(error)
    source = "jira" if scenario.where == "Jira" else "github"
    assert any(scenario.message in line for line in run.errors[source])
    example = json.dumps(sorted(errors)[0].replace(faulty.url, "<sandbox>"))
    retried = "not retried" if scenario.max_hits is not None else "retried, then given up"
    record(
        "fault",
        f"{scenario.where}: {scenario.fault.name}"
        + (" (every request)" if scenario.times is None else ""),
        hits,
        f"exit 1; failed: {', '.join(sorted(scenario.fails))}; "
        f"last good values kept, error recorded and shown: {example}; "
        f"the other {len(after) - len(scenario.fails)} written; {retried}",
    )
