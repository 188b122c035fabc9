"""`run.py daemon` as a real process against the sandbox: runs land on schedule, /healthz and
/metrics answer, SIGTERM stops it cleanly, a bad mapping file or a failing tracker does not
kill it, logs carry no secret, and two replicas on one store never sync a slot twice.

The daemon is started with the Dockerfile's own CMD and probed with its HEALTHCHECK, so the
container runs what these tests run.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from config.cadence import Cadence
from config.loader import load_mapping_text
from sandbox import faults
from sandbox.server import SANDBOX_GITHUB_TOKEN, Sandbox, SandboxOptions, build_sandbox
from sync.daemon_schedule import cadence_groups, default_cadence
from sync.store import Store
from tests.conftest import ANCHOR
from tests.sync.processes import (
    KEY_RESULTS,
    MAPPING,
    REPO_ROOT,
    RUN_PY,
    Child,
    assert_consistent,
    expected_values,
    free_port,
    lock_is_held,
    okrsync,
    okrsync_env,
    stored_runs,
    wait_for,
)
from tests.sync.webhooks import Receiver

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def dockerfile_exec(instruction: str) -> list[str]:
    """The exec-form command of CMD or HEALTHCHECK ... CMD, made runnable here."""
    joined = DOCKERFILE.replace("\\\n", " ")
    line = next(
        ln for ln in joined.splitlines() if ln.startswith(f"{instruction} ") and "CMD [" in ln
    )
    command: list[str] = json.loads(line[line.index("CMD [") + 4 :])
    here = {"python": sys.executable, "/app/run.py": RUN_PY}
    return [here.get(part, part) for part in command]


def start_daemon(
    box: Sandbox, url: str, workdir: Path, port: int, mapping: str = MAPPING, **env: str
) -> Child:
    (workdir / "okrs.yaml").write_text(mapping)
    settings = okrsync_env(
        box,
        url,
        workdir,
        **{
            "OKRSYNC_DAEMON__EVERY": "1s",
            "OKRSYNC_DAEMON__HEALTH_PORT": str(port),
            "PYTHONPATH": str(REPO_ROOT),
            **env,
        },
    )
    return Child(dockerfile_exec("CMD"), settings, workdir)


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(metrics_text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics_text)
        for s in family.samples
    }


def test_daemon_syncs_on_schedule_serves_health_and_stops_on_sigterm(
    database_url: str, tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    port = free_port()
    daemon = start_daemon(sandbox, database_url, tmp_path, port)
    daemons.append(daemon)
    wait_for(lambda: len(stored_runs(database_url)) >= 2, 90, f"two runs\n{daemon.log}")
    assert daemon.process.poll() is None

    code, body = get(port, "/healthz")
    health = json.loads(body)
    assert code == 200, body
    assert health["status"] == "ok"
    assert health["last_run"]["outcome"] == "ok"
    assert health["jobs"][0]["schedule"] == "every 1s"
    assert health["jobs"][0]["key_results"] == len(KEY_RESULTS)
    ran = datetime.fromisoformat(health["last_run"]["finished_at"])
    assert abs((datetime.now(UTC) - ran).total_seconds()) < 60

    def ok_runs() -> float:  # counted once the run's write returns, just after its commit
        return samples(get(port, "/metrics")[1]).get(
            ("okrsync_runs_total", (("outcome", "ok"),)), 0
        )

    wait_for(lambda: ok_runs() >= 2, 30, f"two runs in /metrics\n{daemon.log}")
    code, text = get(port, "/metrics")
    assert code == 200
    values = samples(text)
    runs_ok = values[("okrsync_runs_total", (("outcome", "ok"),))]
    assert runs_ok >= 2
    # the first run counts the P1 bugs and WEB issues (2 Jira counts) and one GitHub search;
    # each later run asks Jira at least what changed since
    assert values[("okrsync_tracker_requests_total", (("tracker", "jira"),))] >= 1 + runs_ok
    assert values[("okrsync_tracker_requests_total", (("tracker", "github"),))] >= runs_ok
    by_status = {
        dict(labels)["status"]: v
        for (name, labels), v in values.items()
        if name == "okrsync_key_results"
    }
    assert sum(by_status.values()) == len(KEY_RESULTS)
    assert values[("okrsync_run_duration_seconds_count", ())] == runs_ok
    assert values[("okrsync_key_result_failures_total", ())] == 0

    # the health port (0.0.0.0 in the image) serves no dashboard unless told to
    assert [get(port, path)[0] for path in ("/", "/api/objectives", "/runs")] == [404] * 3

    env = okrsync_env(
        sandbox,
        database_url,
        tmp_path,
        OKRSYNC_DAEMON__HEALTH_PORT=str(port),
        PYTHONPATH=str(REPO_ROOT),
    )
    probe = Child(dockerfile_exec("HEALTHCHECK"), env, tmp_path)
    assert probe.finish(30) == 0, probe.log

    assert re.search(r"next sync of 3 key results \(every 1s\) at \d{4}-", daemon.log)
    code = daemon.terminate()  # its timeout guards against a daemon that never stops
    assert code == 0, daemon.log
    assert "daemon stopped" in daemon.log
    runs = assert_consistent(database_url, sandbox)
    assert len(runs) >= 2
    assert all(r.outcome == "ok" for r in runs)


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Sandbox]:
    """Every request takes 2 s: a run is surely in progress when the signal comes."""
    options = SandboxOptions(seed=7, jira_flavour="cloud", anchor=ANCHOR, latency_s=2.0)
    box = build_sandbox(options).start()
    yield box
    box.stop()


def terminated_during_a_run(
    slow_sandbox: Sandbox, tmp_path: Path, daemons: list[Child], grace_s: str, timeout: float
) -> tuple[str, Child]:
    """A daemon sent SIGTERM while its first run waits on the slow sandbox, which must exit 0
    within `timeout`; its store's URL and the stopped daemon."""
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    daemon = start_daemon(
        slow_sandbox, url, tmp_path, free_port(), OKRSYNC_DAEMON__SHUTDOWN_GRACE_S=grace_s
    )
    daemons.append(daemon)
    daemon.wait_for_line("sync started")
    code = daemon.terminate(timeout=timeout)
    assert code == 0, daemon.log
    return url, daemon


def test_sigterm_during_a_run_abandons_it_within_the_grace_period(
    tmp_path: Path, slow_sandbox: Sandbox, daemons: list[Child]
) -> None:
    url, daemon = terminated_during_a_run(slow_sandbox, tmp_path, daemons, "0.5", timeout=30)
    assert "abandoning the run in progress" in daemon.log
    # Not waited for (it would have been stored), nothing half-written: the run is not there.
    assert stored_runs(url) == []


def test_sigterm_during_a_run_lets_it_finish_within_the_grace_period(
    tmp_path: Path, slow_sandbox: Sandbox, daemons: list[Child]
) -> None:
    url, daemon = terminated_during_a_run(slow_sandbox, tmp_path, daemons, "60", timeout=90)
    assert "abandoning" not in daemon.log
    runs = assert_consistent(url, slow_sandbox)
    assert len(runs) == 1  # the run in progress was written, no new one was started


def test_a_bad_mapping_file_is_logged_and_the_daemon_carries_on(
    tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    port = free_port()
    daemon = start_daemon(sandbox, url, tmp_path, port)
    daemons.append(daemon)
    wait_for(lambda: len(stored_runs(url)) >= 1, 60, "the first run")
    broken = MAPPING.replace("target: 1000", "target: lots")
    (tmp_path / "okrs.yaml").write_text(broken)
    daemon.wait_for_line("mapping file is invalid")
    wait_for(lambda: "objectives[0].key_results[1].target" in daemon.log, 10, "the located error")
    before = len(stored_runs(url))
    assert daemon.process.poll() is None
    code, text = get(port, "/metrics")
    assert samples(text)[("okrsync_runs_total", (("outcome", "error"),))] >= 1

    (tmp_path / "okrs.yaml").write_text(MAPPING)
    wait_for(lambda: len(stored_runs(url)) > before, 60, "a run after the fix")
    code = daemon.terminate()
    assert code == 0
    assert_consistent(url, sandbox)


def test_a_bad_mapping_file_at_start_exits_2(tmp_path: Path, sandbox: Sandbox) -> None:
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    daemon = start_daemon(sandbox, url, tmp_path, free_port(), mapping="version: 1\n")
    assert daemon.finish(60) == 2
    assert "okrs.yaml" in daemon.log and "period" in daemon.log


SECRET_TOKEN = "ghp_s3cr3t-never-to-be-logged-4711"

WITH_A_CHECKIN = (
    MAPPING
    + """
      - id: nps
        title: NPS
        target: 40
        metric: {type: manual}
"""
)


def refused_by_both_trackers(
    tmp_path: Path, sandbox: Sandbox, daemons: list[Child], **env: str
) -> tuple[str, int, Child]:
    """A daemon whose tokens both trackers refuse, beside a check-in key result: (store URL,
    health port, the daemon)."""
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    port = free_port()
    daemon = start_daemon(
        sandbox,
        url,
        tmp_path,
        port,
        mapping=WITH_A_CHECKIN,
        OKRSYNC_JIRA__TOKEN="refused",
        OKRSYNC_GITHUB__TOKEN="refused",
        **env,
    )
    daemons.append(daemon)
    return url, port, daemon


def test_healthz_is_degraded_naming_the_failing_key_results_when_every_tracker_fails(
    tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    url, port, daemon = refused_by_both_trackers(tmp_path, sandbox, daemons)
    wait_for(lambda: len(stored_runs(url)) >= 2, 90, f"two runs\n{daemon.log}")
    # every run lands as "partial" (the check-in key result has nothing to fetch), 3 of 4 fail
    assert {r.outcome for r in stored_runs(url)} == {"partial"}
    code, body = get(port, "/healthz")
    health = json.loads(body)
    assert (code, health["status"]) == (200, "degraded"), body
    assert sorted(health["failing_key_results"]) == sorted(KEY_RESULTS)
    assert (health["failed_share"], health["degraded_at_failed_share"]) == (0.75, 0.5)
    env = okrsync_env(sandbox, url, tmp_path, OKRSYNC_DAEMON__HEALTH_PORT=str(port))
    env["PYTHONPATH"] = str(REPO_ROOT)
    probe = Child(dockerfile_exec("HEALTHCHECK"), env, tmp_path)
    assert probe.finish(30) == 0, probe.log  # degraded is not a reason to restart
    assert daemon.terminate() == 0


def test_healthz_degraded_threshold_is_a_setting(
    tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    url, port, daemon = refused_by_both_trackers(
        tmp_path, sandbox, daemons, OKRSYNC_DAEMON__DEGRADED_AT_FAILED_SHARE="0.8"
    )
    wait_for(lambda: len(stored_runs(url)) >= 1, 90, f"a run\n{daemon.log}")
    code, body = get(port, "/healthz")
    health = json.loads(body)
    assert (code, health["status"], health["degraded_at_failed_share"]) == (200, "ok", 0.8)
    assert sorted(health["failing_key_results"]) == sorted(KEY_RESULTS)
    assert daemon.terminate() == 0


def test_json_logs_one_line_per_run_and_failing_key_result_and_no_secret(
    tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    port = free_port()
    daemon = start_daemon(
        sandbox,
        url,
        tmp_path,
        port,
        OKRSYNC_LOG_FORMAT="json",
        OKRSYNC_GITHUB__TOKEN=SECRET_TOKEN,  # the sandbox refuses it: GitHub key results fail
        OKRSYNC_DAEMON__HEALTH_SERVES_DASHBOARD="true",
    )
    daemons.append(daemon)
    wait_for(lambda: len(stored_runs(url)) >= 2, 90, f"two runs\n{daemon.log}")
    served = [get(port, path) for path in ("/healthz", "/metrics", "/", "/runs", "/api/runs")]
    assert all(code == 200 for code, _ in served), served
    assert "merged-api" in served[0][1] or "partial" in served[0][1]
    assert SECRET_TOKEN not in "\n".join(body for _, body in served)
    assert SANDBOX_GITHUB_TOKEN not in "\n".join(body for _, body in served)
    code = daemon.terminate()
    assert code == 0
    entries = [json.loads(line) for line in daemon.lines]  # every line is one JSON object
    run_lines = [e for e in entries if e.get("run_id") is not None and "outcome" in e]
    stored = stored_runs(url)
    assert sorted(e["run_id"] for e in run_lines) == [r.id for r in stored]
    assert all(e["outcome"] == "partial" for e in run_lines)
    failing = [e for e in entries if e.get("key_result")]
    # exactly one line per failing key result per run: only the GitHub one fails
    assert sorted((e["run_id"], e["key_result"]) for e in failing) == [
        (r.id, "merged-api") for r in stored
    ]
    assert all(e["level"] == "warning" for e in failing)
    assert SECRET_TOKEN not in "\n".join(daemon.lines + daemon.out)
    assert SECRET_TOKEN[4:] not in "\n".join(daemon.lines + daemon.out)


def daemon_posting_a_digest(
    box: Sandbox, url: str, workdir: Path, receiver: Receiver, daemons: list[Child]
) -> Child:
    """A daemon whose first run changes a status (p1-bugs: done -> off track), returned once
    its digest has reached the trickling `receiver`, which holds the answer back."""
    count = expected_values(box)["p1-bugs"]
    reached = MAPPING.replace("start: 40", f"start: {count + 10}").replace(
        "target: 5", f"target: {count}"
    )
    behind = MAPPING.replace("start: 40", f"start: {count}").replace(
        "target: 5", f"target: {count - 100}"
    )
    (workdir / "okrs.yaml").write_text(reached)
    first = okrsync("sync", env=okrsync_env(box, url, workdir), cwd=workdir)
    assert first.finish() == 0, first.log
    daemon = start_daemon(
        box,
        url,
        workdir,
        free_port(),
        mapping=behind,
        OKRSYNC_NOTIFY__WEBHOOK_URL=receiver.url,
        OKRSYNC_NOTIFY__TIMEOUT_S="5",
        OKRSYNC_NOTIFY__DEADLINE_S="60",
    )
    daemons.append(daemon)
    wait_for(
        lambda: bool(receiver.received) or daemon.process.poll() is not None,
        60,
        f"the daemon's digest\n{daemon.log}",
    )
    assert daemon.process.poll() is None, daemon.log
    return daemon


@pytest.fixture
def slow_receiver() -> Iterator[Receiver]:
    """A webhook receiver that trickles its answer until released (or 90 s pass)."""
    receiver = Receiver(trickle_s=0.3, trickle_for_s=90.0)
    yield receiver
    receiver.close()


def test_the_daemon_posts_its_digest_after_releasing_the_run_lock(
    tmp_path: Path, sandbox: Sandbox, daemons: list[Child], slow_receiver: Receiver
) -> None:
    """A slow webhook receiver must not hold up the next run, of this replica or another."""
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    daemon = daemon_posting_a_digest(sandbox, url, tmp_path, slow_receiver, daemons)
    assert not lock_is_held(url), daemon.log  # its run is written, the digest on its way
    assert "digest:" not in daemon.log
    slow_receiver.release.set()
    daemon.wait_for_line("digest: 1 change(s) posted")
    assert daemon.terminate() == 0, daemon.log
    assert "very-secret-part" not in daemon.log


def test_sigterm_while_the_digest_is_posted_stops_at_once(
    tmp_path: Path, sandbox: Sandbox, daemons: list[Child], slow_receiver: Receiver
) -> None:
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    daemon = daemon_posting_a_digest(sandbox, url, tmp_path, slow_receiver, daemons)
    code = daemon.terminate()
    assert code == 0, daemon.log
    # Given up because of the signal, not after the 60 s deadline ("no answer within 60 s").
    assert "digest: not delivered after 1 attempt(s): stopping" in daemon.log
    assert "daemon stopped" in daemon.log


def test_two_replicas_on_one_store_never_sync_a_slot_twice(
    database_url: str, tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    every = 2
    first = start_daemon(
        sandbox, database_url, tmp_path, free_port(), OKRSYNC_DAEMON__EVERY=f"{every}s"
    )
    daemons.append(first)
    first.wait_for_line("next sync")
    second = start_daemon(
        sandbox, database_url, tmp_path, free_port(), OKRSYNC_DAEMON__EVERY=f"{every}s"
    )
    daemons.append(second)
    wait_for(lambda: len(stored_runs(database_url)) >= 4, 90, "four runs")
    for child in (first, second):
        code = child.terminate()
        assert code == 0, child.log
    runs = assert_consistent(database_url, sandbox)

    def slot(moment: Any) -> int:
        return int(moment.timestamp()) // every

    for earlier, later in itertools.pairwise(runs):
        assert slot(later.started_at) > slot(earlier.finished_at), (earlier, later)
    skipped = [line for child in (first, second) for line in child.lines if "skipped every" in line]
    assert skipped, "the replicas never met: nothing was skipped"


def test_a_daemon_whose_runs_take_a_good_part_of_a_slot_syncs_every_slot(
    tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    """Each pass fires at its slot's start: a run's length never pushes the next one out of
    its slot. A slot is synced when a run's values are written in it (the daemon's own slot
    check); `schedule`'s interval jobs wait an interval after a run's end, so runs of 1.2 s
    every 4 s slots drift past a slot within the five pairs looked at here."""
    every = 4
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    # every Jira answer late: each run takes a good part of a slot
    sandbox.faults.arm("/jira/", faults.latency(1.2), times=None)
    try:
        daemon = start_daemon(
            sandbox, url, tmp_path, free_port(), OKRSYNC_DAEMON__EVERY=f"{every}s"
        )
        daemons.append(daemon)
        wait_for(lambda: len(stored_runs(url)) >= 6, 90, "six runs")
        assert daemon.terminate() == 0, daemon.log
    finally:
        sandbox.faults.reset()
    runs = stored_runs(url)

    def slot(moment: datetime) -> int:
        return int(moment.timestamp()) // every

    lengths = [(run.finished_at - run.started_at).total_seconds() for run in runs]
    assert sum(length > 1.0 for length in lengths) >= 5, lengths  # the drift would show
    for earlier, later in itertools.pairwise(runs):
        assert slot(later.finished_at) == slot(earlier.finished_at) + 1, (lengths, runs)


def test_a_key_result_dropped_from_the_file_is_retired_by_the_daemons_next_run(
    tmp_path: Path, sandbox: Sandbox, daemons: list[Child]
) -> None:
    """After the first run the daemon syncs only the key results whose slot has come (an
    `--only` run: merged-api is hourly). It reads the file whole, so a key result dropped from
    it is retired by the next run: out of the API and the key-result gauge, its value kept."""
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    port = free_port()
    hourly = MAPPING.replace(
        "title: Merged PRs of acme/api\n",
        "title: Merged PRs of acme/api\n        schedule: {every: 1h}\n",
    )
    daemon = start_daemon(
        sandbox, url, tmp_path, port, mapping=hourly, OKRSYNC_DAEMON__HEALTH_SERVES_DASHBOARD="true"
    )
    daemons.append(daemon)
    wait_for(lambda: len(stored_runs(url)) >= 2, 60, f"two runs\n{daemon.log}")
    web_issues = "      - id: web-issues\n        title: WEB issues\n        target: 1000\n"
    dropped = hourly.replace(web_issues + "        metric: {type: count, jql: project = WEB}\n", "")
    assert "web-issues" not in dropped
    (tmp_path / "okrs.yaml").write_text(dropped)
    after = len(stored_runs(url)) + 1  # a run may have read the file before it changed
    wait_for(lambda: len(stored_runs(url)) > after, 60, f"a run of the new file\n{daemon.log}")
    assert stored_runs(url)[-1].key_results_total == 1  # p1-bugs alone: an `--only` run
    by_status = {
        dict(labels)["status"]: v
        for (name, labels), v in samples(get(port, "/metrics")[1]).items()
        if name == "okrsync_key_results"
    }
    assert sum(by_status.values()) == 2
    code, objectives = get(port, "/api/objectives")
    assert code == 200
    listed = {kr["id"] for o in json.loads(objectives)["objectives"] for kr in o["key_results"]}
    assert listed == {"p1-bugs", "merged-api"}
    code = daemon.terminate()
    assert code == 0, daemon.log
    store = Store(url)
    retired = store.key_result("web-issues")
    assert retired is not None and retired.retired_at is not None
    assert retired.value == expected_values(sandbox)["web-issues"]
    store.close()


# --- choosing cadences (in-process) --------------------------------------------------------

CADENCES = """
version: 1
period: 2026-Q4
schedule: {at: ['08:00', '14:00'], timezone: Europe/Berlin}
objectives:
  - id: a
    schedule: {every: 15m}
    key_results:
      - {id: a1, title: A1, target: 5, metric: {type: manual}}
      - {id: a2, title: A2, target: 5, metric: {type: manual}, schedule: {every: 1h}}
  - id: b
    key_results:
      - {id: b1, title: B1, target: 5, metric: {type: manual}}
"""


def test_a_key_result_or_objective_cadence_beats_the_default() -> None:
    mapping = load_mapping_text(CADENCES, source_name="okrs.yaml", today=date(2026, 11, 1))
    berlin = Cadence(at=("08:00:00", "14:00:00"), timezone="Europe/Berlin")
    assert default_cadence(mapping, None) == berlin
    assert cadence_groups(mapping, default_cadence(mapping, None)) == {
        Cadence(every_s=900.0): ["a1"],
        Cadence(every_s=3600.0): ["a2"],
        berlin: ["b1"],
    }
    # --every / OKRSYNC_DAEMON__EVERY replaces the file's default, not the own cadences
    assert cadence_groups(mapping, default_cadence(mapping, 60.0))[Cadence(every_s=60.0)] == ["b1"]
    plain = load_mapping_text(
        CADENCES.replace("schedule: {at: ['08:00', '14:00'], timezone: Europe/Berlin}\n", ""),
        source_name="okrs.yaml",
        today=date(2026, 11, 1),
    )
    assert default_cadence(plain, None) == Cadence(every_s=3600.0)
