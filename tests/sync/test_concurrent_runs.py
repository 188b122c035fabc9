"""Two real `sync` processes on one store (SQLite and PostgreSQL) never double-write.

The sandbox answers slowly (SandboxOptions.latency_s) so that a run lasts long enough for
the second process to arrive while the first one holds the store's run lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.store import Store
from tests.conftest import ANCHOR
from tests.sync.processes import (
    KEY_RESULTS,
    MAPPING,
    Child,
    assert_consistent,
    lock_is_held,
    okrsync,
    okrsync_env,
    stored_runs,
    wait_for,
)

LATENCY_S = 2.0  # a run makes at least two requests in a row: it lasts >= 4 s


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Sandbox]:
    options = SandboxOptions(seed=7, jira_flavour="cloud", anchor=ANCHOR, latency_s=LATENCY_S)
    box = build_sandbox(options).start()
    yield box
    box.stop()


def first_run_under_way(url: str, workdir: Path, box: Sandbox) -> Child:
    """Start a `sync` and return it once it holds the lock (the run is then in progress)."""
    (workdir / "okrs.yaml").write_text(MAPPING)
    env = okrsync_env(box, url, workdir)
    # Migrate before the race: a fresh store is created by whoever comes first.
    store = Store(url)
    store.migrate()
    store.close()
    first = okrsync("sync", "--wait", "60", env=env, cwd=workdir)
    wait_for(
        lambda: lock_is_held(url) or first.process.poll() is not None, 60, "the first run's lock"
    )
    assert first.process.poll() is None, f"the first run ended too soon:\n{first.log}"
    return first


def test_a_second_sync_waits_and_each_run_writes_once(
    database_url: str, tmp_path: Path, slow_sandbox: Sandbox
) -> None:
    first = first_run_under_way(database_url, tmp_path, slow_sandbox)
    env = okrsync_env(slow_sandbox, database_url, tmp_path)
    second = okrsync("sync", "--wait", "60", env=env, cwd=tmp_path)
    assert first.finish() == 0, first.log
    assert second.finish() == 0, second.log
    runs = assert_consistent(database_url, slow_sandbox)
    assert len(runs) == 2
    assert all(r.outcome == "ok" for r in runs)
    assert [r.key_results_total for r in runs] == [len(KEY_RESULTS)] * 2
    # the second started only after the first had written everything
    assert runs[1].started_at >= runs[0].finished_at


def test_while_the_lock_is_held_no_wait_exits_1_and_wait_waits(
    database_url: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    (tmp_path / "okrs.yaml").write_text(MAPPING)
    env = okrsync_env(sandbox, database_url, tmp_path)
    holder = Store(database_url)  # a run in progress, as far as the lock can tell
    holder.migrate()
    try:
        with holder.in_namespace("okrs").run_lock(wait_s=0):  # okrs.yaml's namespace
            refused = okrsync("sync", "--no-wait", env=env, cwd=tmp_path)
            assert refused.finish() == 1, refused.log
            waiting = okrsync("sync", "--wait", "60", env=env, cwd=tmp_path)
            time.sleep(3)
            assert waiting.process.poll() is None, waiting.log
            assert stored_runs(database_url) == []
    finally:
        holder.close()
    if database_url.startswith("postgresql"):
        assert "another okr-sync run of namespace okrs holds" in refused.log
    else:  # SQLite's one lock: whatever namespace its holder syncs
        assert "another okr-sync run (of any namespace: SQLite has one writer) holds" in refused.log
    assert waiting.finish() == 0, waiting.log  # it ran once the lock was given back
    assert len(assert_consistent(database_url, sandbox)) == 1


def test_first_starts_at_once_on_a_fresh_store_all_run(
    database_url: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    """Processes that find an empty store at the same moment each migrate it: one at a time,
    or all but one failed (PostgreSQL: duplicate key in pg_type_typname_nsp_index)."""
    (tmp_path / "okrs.yaml").write_text(MAPPING)
    env = okrsync_env(sandbox, database_url, tmp_path)
    starts = [okrsync("sync", "--wait", "60", env=env, cwd=tmp_path) for _ in range(4)]
    codes = [start.finish() for start in starts]
    assert codes == [0] * 4, "\n\n".join(start.log for start in starts)
    runs = assert_consistent(database_url, sandbox)
    assert len(runs) == 4 and all(run.outcome == "ok" for run in runs)
