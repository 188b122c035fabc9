"""/healthz and /metrics of the daemon, served for real on loopback, and the probe command."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from config.cadence import Cadence
from sync.health import DaemonHealth, HealthServer, probe, probe_url

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
EVERY_10M = Cadence(every_s=600.0)
DAILY = Cadence(at=("08:00:00", "14:00:00"), timezone="UTC")


def fresh_health() -> DaemonHealth:
    health = DaemonHealth(stale_after_intervals=3, started_at=T0)
    health.set_jobs({EVERY_10M: ["a", "b", "c", "d"], DAILY: ["e"]})
    return health


def test_starting_until_the_first_run_then_stale_after_n_intervals() -> None:
    health = fresh_health()
    code, body = health.document(T0 + timedelta(minutes=5))
    assert (code, body["status"], body["last_run"]) == (200, "starting", None)
    # the 10-minute cadence goes stale 3 x 10 min after the start without a success
    code, body = health.document(T0 + timedelta(minutes=31))
    assert (code, body["status"]) == (503, "stale")
    assert [j["stale"] for j in body["jobs"]] == [True, False]


def test_a_success_resets_the_clock_a_failure_does_not() -> None:
    health = fresh_health()
    health.record_run([EVERY_10M, DAILY], "ok", finished_at=T0 + timedelta(minutes=1), run_id=1)
    health.record_run([EVERY_10M], "failed", finished_at=T0 + timedelta(minutes=20), run_id=2)
    code, body = health.document(T0 + timedelta(minutes=30))
    assert (code, body["status"]) == (200, "ok")
    assert body["last_run"]["outcome"] == "failed" and body["last_run"]["run_id"] == 2
    assert body["last_success"] == (T0 + timedelta(minutes=1)).isoformat()
    # 3 intervals after the last success (not after the failed run)
    assert health.document(T0 + timedelta(minutes=31, seconds=1))[0] == 503
    # another replica's run in this slot counts as fresh data
    health.record_run([EVERY_10M], "skipped", finished_at=T0 + timedelta(minutes=32))
    assert health.document(T0 + timedelta(minutes=33))[0] == 200


def test_degraded_while_the_failed_share_reaches_the_threshold_naming_the_key_results() -> None:
    health = DaemonHealth(stale_after_intervals=3, started_at=T0, degraded_at_failed_share=0.4)
    health.set_jobs({EVERY_10M: ["a", "b", "c", "d"], DAILY: ["e"]})
    at = T0 + timedelta(minutes=1)
    health.record_run([EVERY_10M, DAILY], "partial", finished_at=at, failed=["b"])
    code, body = health.document(at)
    assert (code, body["status"], body["failing_key_results"]) == (200, "ok", ["b"])
    assert body["failed_share"] == 0.2 and body["degraded_at_failed_share"] == 0.4
    # 2 of 5 failing reaches 0.4: degraded, still 200 (a restart would not mend a tracker)
    health.record_run([EVERY_10M], "partial", finished_at=at, failed=["a", "b"])
    code, body = health.document(at)
    assert (code, body["status"], body["failing_key_results"]) == (200, "degraded", ["a", "b"])
    assert [job["failing"] for job in body["jobs"]] == [["a", "b"], []]
    # the daily cadence's run does not clear the 10-minute cadence's failures
    health.record_run([DAILY], "ok", finished_at=at)
    assert health.document(at)[1]["status"] == "degraded"
    # a key result that leaves the schedule leaves the failures with it
    health.set_jobs({EVERY_10M: ["a", "c", "d"], DAILY: ["e"]})
    assert health.document(at)[1]["failing_key_results"] == ["a"]
    health.record_run([EVERY_10M], "ok", finished_at=at)
    code, body = health.document(at)
    assert (code, body["status"], body["failing_key_results"]) == (200, "ok", [])


def test_daily_times_are_stale_after_n_of_the_longest_gap() -> None:
    health = DaemonHealth(stale_after_intervals=2, started_at=T0)
    health.set_jobs({DAILY: ["e"]})
    longest_gap = timedelta(hours=18)  # 14:00 -> 08:00 next day
    assert health.document(T0 + 2 * longest_gap)[0] == 200
    assert health.document(T0 + 2 * longest_gap + timedelta(seconds=1))[0] == 503


@pytest.fixture
def served() -> Iterator[tuple[DaemonHealth, int]]:
    health = DaemonHealth(stale_after_intervals=3)
    health.set_jobs({EVERY_10M: ["a", "b"]})
    server = HealthServer(health, "127.0.0.1", 0)
    yield health, server.port
    server.stop()


def fetch(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_metrics_in_prometheus_text_format(served: tuple[DaemonHealth, int]) -> None:
    health, port = served
    now = datetime.now(UTC)
    health.record_run(
        [EVERY_10M],
        "partial",
        finished_at=now,
        duration_s=4.0,
        run_id=7,
        requests={"jira": 5, "github": 3},
        failed=["b"],
        statuses={"on_track": 2, "error": 1},
    )
    health.record_run(
        [EVERY_10M], "ok", finished_at=now, duration_s=2.0, requests={"jira": 1}, statuses={}
    )
    code, kind, text = fetch(port, "/metrics")
    assert code == 200 and kind.startswith("text/plain; version=")
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert found[("okrsync_runs_total", (("outcome", "partial"),))] == 1
    assert found[("okrsync_runs_total", (("outcome", "ok"),))] == 1
    assert found[("okrsync_runs_total", (("outcome", "failed"),))] == 0
    assert found[("okrsync_key_result_failures_total", ())] == 1
    assert found[("okrsync_tracker_requests_total", (("tracker", "jira"),))] == 6
    assert found[("okrsync_tracker_requests_total", (("tracker", "github"),))] == 3
    # the gauge shows the latest statuses: nothing is left over from the run before
    assert found[("okrsync_key_results", (("status", "on_track"),))] == 0
    assert found[("okrsync_key_results", (("status", "error"),))] == 0
    assert found[("okrsync_run_duration_seconds_count", ())] == 2
    assert found[("okrsync_run_duration_seconds_sum", ())] == 6.0
    assert found[("okrsync_last_success_timestamp_seconds", ())] == pytest.approx(now.timestamp())


def test_healthz_json_and_status_codes(served: tuple[DaemonHealth, int]) -> None:
    health, port = served
    code, kind, body = fetch(port, "/healthz")
    assert (code, kind) == (200, "application/json")
    assert json.loads(body)["status"] == "starting"
    assert probe(probe_url("0.0.0.0", port)) == 0
    health.started_at = datetime.now(UTC) - timedelta(hours=1)  # 6 intervals without a run
    code, _, body = fetch(port, "/healthz")
    assert code == 503 and json.loads(body)["status"] == "stale"
    assert probe(probe_url("127.0.0.1", port)) == 1
    assert fetch(port, "/nothing")[0] == 404


def test_probe_of_a_port_nobody_serves_is_unhealthy(served: tuple[DaemonHealth, int]) -> None:
    _, port = served
    assert probe(probe_url("127.0.0.1", 1)) == 1
    assert probe_url("::", port) == f"http://127.0.0.1:{port}/healthz"


def test_what_a_replica_did_with_each_namespace_is_in_healthz_and_metrics() -> None:
    health = DaemonHealth(stale_after_intervals=3, started_at=T0, shard="1/3")
    health.set_jobs({EVERY_10M: ["a"]})
    hostile = "team-<b>[red]x[/red]"
    for namespace, outcome in [
        ("platform", "synced"),
        ("mobile", "held"),
        ("mobile", "synced"),
        (hostile, "skipped"),
        ("platform", "held"),
    ]:
        health.record_namespace(namespace, outcome, at=T0)
    server = HealthServer(health, "127.0.0.1", 0)
    try:
        _, _, text = fetch(server.port, "/metrics")
        _, _, body = fetch(server.port, "/healthz")
    finally:
        server.stop()
    turns = {
        (s.labels["namespace"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "okrsync_namespace_turns_total"
    }
    assert turns[("mobile", "held")] == turns[("mobile", "synced")] == 1
    assert turns[(hostile, "skipped")] == 1
    document = json.loads(body)
    assert document["shard"] == "1/3"
    namespaces = document["namespaces"]
    assert namespaces["platform"] == {
        "synced": 1,
        "skipped": 0,
        "held": 1,
        "error": 0,
        "last": "held",
        "last_at": T0.isoformat(),
    }
    assert namespaces[hostile]["skipped"] == 1
