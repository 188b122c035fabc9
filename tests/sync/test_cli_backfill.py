"""`run.py backfill` through the command line: bad input is refused with exit 2 before the
store is opened, a backfill after a sync writes every day of the period once, and one on a
store never synced needs no sync first."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.cli import main
from sync.store import Store
from sync.tables import kr_values
from tests.conftest import ANCHOR
from tests.sync.processes import REPO_ROOT, TODAY

P_START = "2026-10-01"
MAPPING = f"""
version: 1
period: {{start: {P_START}, end: {TODAY + timedelta(days=30)}}}
objectives:
  - id: delivery
    title: Deliver
    key_results:
      - id: merged
        title: Pull requests merged
        target: 60
        metric: {{type: count, pulls: {{repo: acme/timeline, state: merged, merged: period}}}}
      - id: hostile
        title: A query with markup in it
        target: 1
        metric: {{type: count, search: 'repo:acme/timeline label:"[red]x[/red]" comments:>1 <b>\\x1b'}}
      - id: p1-bugs
        title: Open P1 bugs in APP
        target: 5
        metric: {{type: count, jql: project = APP AND priority = Highest AND statusCategory != Done}}
"""


@pytest.fixture(scope="module")
def timeline_box() -> Iterator[Sandbox]:
    options = SandboxOptions(seed=5, anchor=ANCHOR, github_data="timeline", time_scale=60.0)
    box = build_sandbox(options).start()
    yield box
    box.stop()


@pytest.fixture
def workdir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    sandbox: Sandbox,
    timeline_box: Sandbox,
) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "okrs.yaml").write_text(MAPPING)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    for key, value in sandbox.settings_env().items():  # Jira from the usual sandbox
        monkeypatch.setenv(key, value)
    for key, value in timeline_box.settings_env().items():  # GitHub: scripted histories
        if key.startswith("OKRSYNC_GITHUB"):
            monkeypatch.setenv(key, value)
    return tmp_path


def backfill_rows(workdir: Path) -> int:
    store = Store(f"sqlite:///{workdir / 'okrsync.db'}")
    try:
        with store.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(kr_values.c.origin == "backfill")
                ).scalar_one()
            )
    finally:
        store.close()


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--since", str(TODAY + timedelta(days=1))], "after today"),
        (["--since", "2026-09-30"], "before the period of merged"),
        (["--since", "yesterday"], "neither a day"),
        (["--only", "mergd"], "unknown key result 'mergd'"),
        (["--step", "0m"], "--step"),
        (["--step", "30m"], "shorter than the shortest step"),
        (["--step", "often"], "--step"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], said: str
) -> None:
    assert main(["backfill", *arguments]) == 2
    assert said in capsys.readouterr().err
    assert not (workdir / "okrsync.db").exists()  # refused before the store was opened


def test_a_backfill_after_a_sync(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert main(["backfill"]) == 0
    out = capsys.readouterr().out
    days = (TODAY - date.fromisoformat(P_START)).days + 1  # each day, today's too
    assert f"p1-bugs: {days} of {days} values written" in out  # Jira from its changelogs
    assert 'not rebuilt hostile: repo:acme/timeline label:"[red]x[/red]" comments:>1' in out
    assert "comments: GitHub keeps no record of its past" in out
    written = backfill_rows(workdir)
    assert written == 2 * days  # p1-bugs and merged
    assert f"merged: {days} of {days} values written" in out
    assert main(["backfill"]) == 0  # a rerun: every point is there already
    assert f"merged: 0 of {days} values written ({days} already backfilled)" in (
        capsys.readouterr().out
    )
    assert backfill_rows(workdir) == written
    assert main(["history", "merged", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    origins = [v["origin"] for v in history["values"]]
    assert origins.count("backfill") == days and origins.count("sync") >= 1
    assert history["period"]["start"] == P_START  # the backfill wrote into the file's cycle


def test_a_backfill_on_a_store_never_synced(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No `sync` first: backfill's check of the value now is a sync run, which writes the
    rows its values belong to."""
    assert main(["backfill", "--only", "merged", "p1-bugs"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    days = (TODAY - date.fromisoformat(P_START)).days + 1
    assert f"merged: {days} of {days} values written" in out
    assert f"p1-bugs: {days} of {days} values written" in out
    assert "the sync of the value now (run 1)" in out
    assert backfill_rows(workdir) == 2 * days


def test_the_sandbox_command_serves_the_scripted_histories() -> None:
    process = subprocess.Popen(
        [sys.executable, "run.py", "sandbox", "--port", "0", "--github-data", "timeline"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        settings = dict(process.stdout.readline().strip().split("=", 1) for _ in range(6))
        url = settings["OKRSYNC_GITHUB__BASE_URL"]
        token = {"Authorization": f"token {settings['OKRSYNC_GITHUB__TOKEN']}"}
        assert requests.get(f"{url}/repos/acme/timeline", headers=token, timeout=10).ok
        assert requests.get(f"{url}/repos/acme/api", headers=token, timeout=10).status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=10)
