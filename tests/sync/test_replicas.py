"""Daemon replicas sharing the namespaces of one store (issue 16), as real processes against
the sandbox: on PostgreSQL 3 replicas and 12 namespaces, each slot of each namespace synced
once (never twice, none skipped); one replica SIGKILLed while it syncs a namespace, whose run the others take over within
one interval, and the store holds only whole runs. On SQLite (one writer) a smaller set:
2 replicas, 4 namespaces, nothing lost."""

from __future__ import annotations

import itertools
import json
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sandbox import faults
from sandbox.server import Sandbox
from sync.records import RunRow
from sync.store import Store
from sync.tables import kr_values
from tests.sync.processes import (
    P_END,
    P_START,
    REPO_ROOT,
    RUN_PY,
    Child,
    free_port,
    okrsync_env,
    wait_for,
)

EVERY_S = 10
QUERIES = (
    "project = APP",
    "project = WEB",
    "project = APP AND priority = Highest AND statusCategory != Done",
    "project = APP AND priority = High",
)
SLOW_QUERY = "project = WEB AND priority = Highest"  # the slow namespace's alone
SLOW = "team-03"
# The slow namespace's first answer comes this late (under the client's timeout, set
# above it): the replica syncing it holds its lock until the test kills it.
SLOW_FOR_S = 45.0
CLIENT_TIMEOUT_S = 60.0


def team_file(index: int) -> str:
    """A small mapping file: one or two count key results (two every other team)."""
    queries = [SLOW_QUERY] if f"team-{index:02d}" == SLOW else [QUERIES[index % len(QUERIES)]]
    if index % 2:
        queries.append(QUERIES[(index + 1) % len(QUERIES)])
    krs = "".join(
        f"""
      - id: count-{n}
        title: '<b>[red]Count {n}[/red]</b> of team {index}'
        target: 1000
        metric: {{type: count, jql: '{query}'}}"""
        for n, query in enumerate(queries)
    )
    return f"""
version: 1
namespace: team-{index:02d}
period: {{start: {P_START}, end: {P_END}}}
objectives:
  - id: delivery
    title: Delivery of team {index}
    key_results:{krs}
"""


def runs_of(url: str) -> dict[str, list[RunRow]]:
    """Each namespace's runs, oldest first."""
    store = Store(url)
    try:
        return {
            ns: sorted(store.in_namespace(ns).runs(limit=1000), key=lambda r: r.id)
            for ns in store.namespaces()
        }
    except Exception:  # not migrated yet: no runs
        return {}
    finally:
        store.close()


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
        body: dict[str, Any] = json.loads(answer.read())
        return body


def slot(moment: datetime) -> int:
    return int(moment.timestamp()) // EVERY_S


def assert_whole_runs(
    url: str, teams: dict[str, int], every_slot_since: datetime
) -> dict[str, list[RunRow]]:
    """Each slot of each namespace synced once: never twice, and from `every_slot_since` on
    none skipped (a run starts in the slot after the one its predecessor ended in); every
    history row belongs to a stored run; each namespace's key results all written by its
    last run."""
    runs = runs_of(url)
    assert set(runs) == set(teams)
    store = Store(url)
    try:
        run_ids = {run.id for ns_runs in runs.values() for run in ns_runs}
        with store.engine.connect() as conn:
            history_runs = {row.run_id for row in conn.execute(select(kr_values.c.run_id))}
        assert history_runs <= run_ids, history_runs - run_ids
        for namespace, ns_runs in runs.items():
            for earlier, later in itertools.pairwise(ns_runs):
                assert slot(later.started_at) > slot(earlier.finished_at), (namespace, ns_runs)
                if earlier.finished_at >= every_slot_since:
                    assert slot(later.started_at) == slot(earlier.finished_at) + 1, (
                        namespace,
                        ns_runs,
                    )
            rows = store.in_namespace(namespace).all_key_results()
            assert len(rows) == teams[namespace], namespace
            last = ns_runs[-1]
            assert {row.last_run_id for row in rows} == {last.id}, namespace
            assert all(row.value is not None and row.last_error is None for row in rows), rows
            assert {run.outcome for run in ns_runs} == {"ok"}, namespace
    finally:
        store.close()
    return runs


def test_replicas_share_the_namespaces_and_take_over_a_killed_ones(
    database_url: str, tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    postgres = database_url.startswith("postgresql")
    replicas, teams = (3, 12) if postgres else (2, 4)
    folder = tmp_path / "teams"
    folder.mkdir()
    counts: dict[str, int] = {}
    for index in range(teams):
        (folder / f"team-{index:02d}.yaml").write_text(team_file(index))
        counts[f"team-{index:02d}"] = 2 if index % 2 else 1
    ports = [free_port() for _ in range(replicas)]
    sandbox.faults.arm(
        "/jira/", faults.latency(SLOW_FOR_S), times=1, query=r"project = WEB AND priority"
    )
    try:
        for port in ports:
            env = okrsync_env(
                sandbox,
                database_url,
                tmp_path,
                OKRSYNC_CONFIG=str(folder),
                OKRSYNC_DAEMON__HEALTH_PORT=str(port),
                OKRSYNC_JIRA__TIMEOUT_S=str(CLIENT_TIMEOUT_S),
                # told to wait long for a lock: on PostgreSQL a replica still never waits
                OKRSYNC_LOCK_TIMEOUT_S=str(CLIENT_TIMEOUT_S),
                PYTHONPATH=str(REPO_ROOT),
            )
            command = [sys.executable, RUN_PY, "daemon", "--every", f"{EVERY_S}s"]
            daemons.append(Child(command, env, tmp_path))

        # The replica that syncs the slow namespace holds its lock: it is killed mid-run.
        started = f"of namespace {SLOW}"

        def holder() -> Child | None:
            return next(
                (d for d in daemons if any(started in line for line in list(d.lines))), None
            )

        wait_for(lambda: holder() is not None, 90, f"a replica syncing {SLOW}")
        victim = holder()
        assert victim is not None
        if postgres:  # the others never wait for it: they sync every other namespace meanwhile

            def others_synced() -> bool:
                return len(runs_of(database_url)) == teams - 1

            wait_for(others_synced, SLOW_FOR_S - 10, "every other namespace synced meanwhile")
        assert SLOW not in runs_of(database_url), "the slow run ended before the kill"
        killed_at = datetime.now(UTC)  # just before: no survivor can have the lock earlier
        victim.process.kill()
        victim.finish(timeout=30)
        survivors = [d for d in daemons if d is not victim]

        wait_for(lambda: SLOW in runs_of(database_url), 90, f"a run of {SLOW} after the kill")
        taken_over = runs_of(database_url)[SLOW][0]
        # the killed run wrote nothing; a survivor synced the namespace within one interval
        assert taken_over.started_at > killed_at
        assert taken_over.started_at - killed_at < timedelta(seconds=EVERY_S), taken_over

        def three_runs_since_the_kill() -> bool:
            runs = runs_of(database_url)
            return len(runs) == teams and all(
                sum(run.finished_at > killed_at for run in r) >= 3 for r in runs.values()
            )

        # the survivors carry every namespace through the kill, slot after slot
        wait_for(three_runs_since_the_kill, 120, "three runs of every namespace since the kill")
        seen = [health(port) for port, d in zip(ports, daemons, strict=True) if d is not victim]
        for survivor in survivors:
            assert survivor.terminate() == 0, survivor.log
    finally:
        sandbox.faults.reset()

    runs = assert_whole_runs(database_url, counts, every_slot_since=killed_at)
    assert all(len(r) >= 3 for r in runs.values())
    synced = {ns for body in seen for ns, turns in body["namespaces"].items() if turns["synced"]}
    assert SLOW in synced
    if postgres:  # the namespaces were shared, and a held one was left to its holder
        logs = [survivor.log for survivor in survivors]
        assert all("sync started" in log for log in logs), logs
        held = [ns for body in seen for ns, turns in body["namespaces"].items() if turns["held"]]
        assert held, seen
