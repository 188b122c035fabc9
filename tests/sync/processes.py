"""Real okr-sync processes against a sandbox, for the daemon and concurrency tests.

Expected values are computed here from the sandbox's data set with plain Python.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.server import Sandbox
from sync.records import RunRow
from sync.store import Store
from sync.store_errors import RunLockedError
from tests.conftest import ANCHOR

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_PY = str(REPO_ROOT / "run.py")
TODAY = datetime.now(UTC).date()
# A period that holds today (key results are only synced inside their period) and the
# last two months of the sandbox's data.
P_START = min(ANCHOR.date(), TODAY) - timedelta(days=60)
P_END = TODAY + timedelta(days=30)

MAPPING = f"""
version: 1
period: {{start: {P_START}, end: {P_END}}}
objectives:
  - id: quality
    title: Quality
    key_results:
      - id: p1-bugs
        title: Open P1 bugs
        start: 40
        target: 5
        metric: {{type: count, jql: project = APP AND priority = Highest AND statusCategory != Done}}
      - id: web-issues
        title: WEB issues
        target: 1000
        metric: {{type: count, jql: project = WEB}}
      - id: merged-api
        title: Merged PRs of acme/api
        target: 5000
        metric: {{type: count, search: 'repo:acme/api is:pr is:merged'}}
"""
KEY_RESULTS = ("p1-bugs", "web-issues", "merged-api")


def expected_values(box: Sandbox) -> dict[str, float]:
    issues = box.jira_data.issues
    return {
        "p1-bugs": sum(
            1
            for i in issues
            if i.project == "APP" and i.priority == "Highest" and i.status_category != "done"
        ),
        "web-issues": sum(1 for i in issues if i.project == "WEB"),
        "merged-api": sum(
            1 for p in box.github_data.pulls if p.repo == "acme/api" and p.merged_at is not None
        ),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def okrsync_env(box: Sandbox, database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: the sandbox, the store, nothing stray."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
    secrets = workdir / "no-secrets"
    secrets.mkdir(exist_ok=True)
    env.update(box.settings_env())
    env.update(
        OKRSYNC_DATABASE_URL=database_url,
        OKRSYNC_SECRETS_DIR=str(secrets),
        OKRSYNC_CONFIG=str(workdir / "okrs.yaml"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Child:
    """A child process whose stderr lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.args = args
        self.process = subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.out: list[str] = []
        self._readers = [
            threading.Thread(
                target=self._read, args=(self.process.stderr, self.lines), daemon=True
            ),
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 60.0) -> str:
        found: list[str] = []

        def seen() -> bool:
            found[:] = [line for line in list(self.lines) if text in line]
            return bool(found) or self.process.poll() is not None

        wait_for(seen, timeout, f"{text!r} in the log")
        assert found, f"exited ({self.process.returncode}) before {text!r}:\n{self.log}"
        return found[0]

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM; the exit code (`timeout` guards against a process that never exits)."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def finish(self, timeout: float = 120.0) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def okrsync(*args: str, env: dict[str, str], cwd: Path) -> Child:
    return Child([sys.executable, RUN_PY, *args], env, cwd)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def stored_runs(url: str) -> list[RunRow]:
    store = Store(url)
    try:
        return sorted(store.runs(limit=1000), key=lambda r: r.id)
    except Exception:  # not migrated yet: no runs
        return []
    finally:
        store.close()


def lock_is_held(url: str, namespace: str = "okrs") -> bool:
    """True while another process holds the run lock of `namespace` (okrs.yaml's), taken and
    given back at once if free."""
    store = Store(url).in_namespace(namespace)
    try:
        with store.run_lock(wait_s=0):
            return False
    except RunLockedError:
        return True
    finally:
        store.close()


def assert_consistent(url: str, box: Sandbox) -> list[RunRow]:
    """Every run complete and on its own; key results and history belong to stored runs."""
    store = Store(url)
    try:
        runs = sorted(store.runs(limit=1000), key=lambda r: r.id)
        run_ids = {r.id for r in runs}
        for earlier, later in itertools.pairwise(runs):
            assert later.started_at >= earlier.finished_at, "two runs interleaved"
        expected = expected_values(box)
        rows = {row.id: row for row in store.all_key_results()}
        assert set(rows) == set(KEY_RESULTS)
        for kr_id, value in expected.items():
            assert rows[kr_id].value == value, kr_id
            assert rows[kr_id].last_run_id in run_ids
            history = store.history(kr_id)
            # the sandbox does not change: one history row, from the first run that saw it
            assert [h.run_id for h in history] == [runs[0].id], kr_id
        counts = store.counts()
        assert counts["kr_values"] == len(KEY_RESULTS) if runs else counts["kr_values"] == 0
        return runs
    finally:
        store.close()
