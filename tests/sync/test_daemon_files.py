"""`run.py daemon` with many mapping files (issue 16), as a real process against the sandbox:
`--config` a directory, each file's key results synced into its namespace on its schedule,
a file whose run fails leaves the others' runs alone."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

from config.shards import Shard
from sandbox.server import Sandbox
from sync.store import Store
from tests.sync.processes import (
    KEY_RESULTS,
    MAPPING,
    REPO_ROOT,
    RUN_PY,
    Child,
    expected_values,
    free_port,
    okrsync_env,
    wait_for,
)

BROKEN_QUERY = MAPPING.replace("jql: project = WEB}", "jql: 'project = = WEB'}").replace(
    "    title: Quality\n", "    title: '<b>[red]Quality[/red]</b>'\n"
)


def runs_by_namespace(url: str) -> dict[str, list[str]]:
    store = Store(url)
    try:
        return {ns: [r.outcome for r in store.in_namespace(ns).runs()] for ns in store.namespaces()}
    except Exception:  # not migrated yet
        return {}
    finally:
        store.close()


def test_the_daemon_syncs_every_file_of_a_directory_into_its_namespace(
    database_url: str, tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    folder = tmp_path / "okrs"
    folder.mkdir()
    (folder / "platform.yaml").write_text(MAPPING)
    (folder / "mobile.yaml").write_text(BROKEN_QUERY)
    env = okrsync_env(
        sandbox,
        database_url,
        tmp_path,
        OKRSYNC_CONFIG=str(folder),
        OKRSYNC_DAEMON__EVERY="1s",
        OKRSYNC_DAEMON__HEALTH_PORT=str(free_port()),
        PYTHONPATH=str(REPO_ROOT),
    )
    daemon = Child([sys.executable, RUN_PY, "daemon"], env, tmp_path)
    daemons.append(daemon)

    def both_synced_twice() -> bool:
        runs = runs_by_namespace(database_url)
        return all(len(runs.get(ns, [])) >= 2 for ns in ("mobile", "platform"))

    wait_for(both_synced_twice, 90, "two runs of each namespace")
    assert daemon.terminate() == 0, daemon.log
    runs = runs_by_namespace(database_url)
    assert set(runs["platform"]) == {"ok"}
    assert set(runs["mobile"]) == {"partial"}  # its bad query fails; platform's runs go on
    assert "of namespace mobile" in daemon.log and "of namespace platform" in daemon.log
    store = Store(database_url)
    platform = {kr.id: kr.value for kr in store.in_namespace("platform").all_key_results()}
    mobile = store.in_namespace("mobile")
    assert platform == {kr: pytest.approx(v) for kr, v in expected_values(sandbox).items()}
    assert set(platform) == set(KEY_RESULTS)
    assert [o.title for o in mobile.all_objectives()] == ["<b>[red]Quality[/red]</b>"]
    assert {r.config_path for r in mobile.runs()} == {str(folder / "mobile.yaml")}
    # platform's one GitHub query is mobile's too: the file synced first in a pass asks it
    # (mobile on SQLite, which keeps the files' order; on PostgreSQL replicas shuffle it)
    # and its answer stands for the other file, which asks GitHub nothing.
    runs = sorted([*mobile.runs(), *store.in_namespace("platform").runs()], key=lambda r: r.id)
    asked = [r.requests.get("github", 0) > 0 for r in runs]
    assert asked[0]
    for (before, asked_before), (run, asked_now) in itertools.pairwise(
        zip(runs, asked, strict=True)
    ):
        assert asked_now or (asked_before and before.namespace != run.namespace), runs
    if database_url.startswith("sqlite"):
        assert not any(r.requests.get("github") for r in store.in_namespace("platform").runs())
    store.close()


def test_a_daemon_given_a_shard_syncs_that_shards_namespaces_alone(
    database_url: str, tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    folder = tmp_path / "okrs"
    folder.mkdir()
    names = [f"team-{i}" for i in range(6)]
    for name in names:
        (folder / f"{name}.yaml").write_text(MAPPING)
    shard = Shard(1, 3)
    mine = {name for name in names if shard.holds(name)}
    assert mine and mine != set(names)
    env = okrsync_env(
        sandbox,
        database_url,
        tmp_path,
        OKRSYNC_CONFIG=str(folder),
        OKRSYNC_DAEMON__HEALTH_PORT=str(free_port()),
        OKRSYNC_SHARD=shard.describe(),
        PYTHONPATH=str(REPO_ROOT),
    )
    daemon = Child([sys.executable, RUN_PY, "daemon", "--every", "1h"], env, tmp_path)
    daemons.append(daemon)
    daemon.wait_for_line("next sync", timeout=90)
    assert daemon.terminate() == 0, daemon.log
    assert set(runs_by_namespace(database_url)) == mine
