"""A sync killed with SIGKILL at random points leaves only whole runs, and the next succeeds.

Real `run.py sync` processes against a sandbox with some latency; between two attempts one
Jira issue changes priority, so that every completed run has new values to write. After
each kill the store must hold either exactly what it held before or exactly one more whole
run: its sync_runs row, one kr_values row for each key result whose value changed, and
key_results pointing at it; rows that existed before are never changed.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sandbox.jira_data import JiraIssue
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.store import Store
from sync.tables import key_results, kr_values, objectives, sync_runs
from tests.conftest import ANCHOR
from tests.reliability.record import record
from tests.sync.test_cli import MAPPING

REPO_ROOT = Path(__file__).resolve().parents[2]
KILLS = 20
SEED = 20261120


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Sandbox]:
    """A sandbox of its own (its data changes during the test), 10 ms per request."""
    options = SandboxOptions(seed=7, anchor=ANCHOR, latency_s=0.01, time_scale=60)
    box = build_sandbox(options).start()
    yield box
    box.stop()


Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(url: str) -> Snapshot:
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            return {
                table.name: [
                    dict(row)
                    for row in conn.execute(select(table).order_by(*table.primary_key)).mappings()
                ]
                for table in (objectives, key_results, kr_values, sync_runs)
            }
    finally:
        store.close()


def check_whole(before: Snapshot, after: Snapshot) -> bool:
    """Assert the store went from `before` to `after` by nothing or one whole run;
    return whether a run was added."""
    for table in ("kr_values", "sync_runs"):  # history is never rewritten
        assert after[table][: len(before[table])] == before[table], table
    new_runs = after["sync_runs"][len(before["sync_runs"]) :]
    new_values = after["kr_values"][len(before["kr_values"]) :]
    run_ids = {run["id"] for run in after["sync_runs"]}
    assert all(row["run_id"] in run_ids for row in after["kr_values"])  # no orphans
    if not new_runs:
        assert after == before, "a killed run left part of itself"
        return False
    assert len(new_runs) == 1
    run = new_runs[0]
    assert all(row["run_id"] == run["id"] for row in new_values)
    old = {row["id"]: row["value"] for row in before["key_results"]}
    now = {row["id"]: row for row in after["key_results"]}
    assert len(now) == run["key_results_total"]
    assert all(row["last_run_id"] == run["id"] for row in now.values())
    changed = {
        kr_id
        for kr_id, row in now.items()
        if row["value"] is not None and (kr_id not in old or old[kr_id] != row["value"])
    }
    assert {row["key_result_id"] for row in new_values} == changed
    for row in new_values:
        assert row["value"] == now[row["key_result_id"]]["value"]
    return True


def open_app_issue(box: Sandbox) -> JiraIssue:
    return next(
        i
        for i in box.jira_data.issues
        if i.project == "APP" and i.status_category != "done" and i.priority != "Highest"
    )


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_only_whole_runs(
    slow_sandbox: Sandbox, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "okrs.yaml").write_text(MAPPING)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
    env.update(slow_sandbox.settings_env())
    env.update({"OKRSYNC_DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)})
    command = [sys.executable, str(REPO_ROOT / "run.py"), "sync"]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    began = time.monotonic()
    first = start()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err.decode()
    duration = time.monotonic() - began
    issue = open_app_issue(slow_sandbox)
    original = issue.priority
    rng = random.Random(SEED)
    kills = completed = attempts = 0
    try:
        while kills < KILLS:
            attempts += 1
            assert attempts <= 4 * KILLS, "the kills keep missing the runs"
            issue.priority = "Highest" if issue.priority != "Highest" else original
            before = snapshot(database_url)
            process = start()
            # Half anywhere in the run, half around its end, where the transaction is.
            late = rng.random() < 0.5
            delay = rng.uniform(0.85, 1.05) * duration if late else rng.uniform(0.1, duration)
            time.sleep(delay)
            if process.poll() is None:
                process.kill()  # SIGKILL
                kills += 1
            else:  # it was quicker than we thought: aim earlier from now on
                duration *= 0.8
            process.wait(timeout=60)
            if check_whole(before, snapshot(database_url)):
                completed += 1
        before = snapshot(database_url)
        final = start()
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()
        assert check_whole(before, snapshot(database_url))
    finally:
        issue.priority = original
    backend = database_url.split(":", 1)[0]
    record(
        "crash",
        f"SIGKILL of `run.py sync` at a random point ({backend})",
        kills,
        f"only whole runs: {completed} of {attempts} attempts completed a run (killed in its "
        "last moments or done), the rest left the store exactly as before; history unchanged; "
        "the next run succeeded",
    )
