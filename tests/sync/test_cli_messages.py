"""The command line's refusals, warnings and help: a clear message naming what was wrong and
where, exit 2 for configuration and usage, never a traceback (issue 12, items 12, 23, 24)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
TODAY = datetime.now(UTC).date()
PERIOD = f"{{start: {TODAY - timedelta(days=30)}, end: {TODAY + timedelta(days=30)}}}"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_okrsync_env: None) -> Path:
    """An empty folder as the working directory with its own store, no stray settings."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    return tmp_path


def chain_mapping(depth: int) -> str:
    """Objectives o0 <- o1 <- ... each aligned to the one before, one manual key result each."""
    lines = ["version: 1", f"period: {PERIOD}", "objectives:"]
    for i in range(depth):
        parent = f", parent: o{i - 1}" if i else ""
        lines.append(
            f"  - {{id: o{i}, title: O{i}{parent}, key_results: "
            f"[{{id: k{i}, title: K{i}, start: 0, target: 10, metric: {{type: manual}}}}]}}"
        )
    return "\n".join(lines) + "\n"


def run_py(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "run.py"), *args],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- item 12: tracebacks instead of messages --------------------------------------------------


def test_a_1000_deep_alignment_chain_syncs_and_shows(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "okrs.yaml").write_text(chain_mapping(1000))
    assert main(["sync"]) == 0
    assert main(["checkin", "k999", "5"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    objectives = {o["id"]: o for o in json.loads(capsys.readouterr().out)["objectives"]}
    assert len(objectives) == 1000
    # every level rolls up the one value below it: k999 at 5 of 10
    assert objectives["o0"]["progress"] == pytest.approx(50.0)
    assert objectives["o999"]["progress"] == pytest.approx(50.0)
    assert main(["status"]) == 0
    assert "O999" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "named"),
    [("mysql://okr@db/okr", "not in 'mysql'"), ("foo://bar", "not in 'foo'")],
)
def test_a_store_url_okr_sync_cannot_use_exits_2_with_one_line(
    workdir: Path, url: str, named: str
) -> None:
    done = run_py("status", env={"OKRSYNC_DATABASE_URL": url})
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: OKRSYNC_DATABASE_URL: {url!r}: okr-sync stores")
    assert named in done.stderr and len(done.stderr.splitlines()) == 1


def test_postgres_url_is_read_as_postgresql(
    workdir: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not database_url.startswith("postgresql://"):
        pytest.skip("only a PostgreSQL URL has a postgres:// spelling")
    (workdir / "okrs.yaml").write_text(chain_mapping(2))
    monkeypatch.setenv(
        "OKRSYNC_DATABASE_URL", database_url.replace("postgresql://", "postgres://", 1)
    )
    assert main(["sync"]) == 0
    assert main(["checkin", "k1", "5"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    objectives = {o["id"]: o for o in json.loads(capsys.readouterr().out)["objectives"]}
    assert objectives["o0"]["progress"] == pytest.approx(50.0)


@pytest.mark.parametrize(
    "command", [["status", "--json"], ["status"], ["report", "--format", "md"], ["history", "k3"]]
)
def test_a_reader_that_stops_reading_gets_no_traceback(workdir: Path, command: list[str]) -> None:
    """`status --json | head -1`: the pipe is closed before okr-sync writes."""
    (workdir / "okrs.yaml").write_text(chain_mapping(40))
    assert main(["sync"]) == 0
    assert main(["checkin", "k3", "5"]) == 0
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "run.py"), *command],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the first line
    _, stderr = process.communicate(timeout=120)
    assert stderr == ""
    assert process.returncode == 1
