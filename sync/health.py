"""The daemon's health and metrics: `/healthz` (JSON; 503 when syncs have stopped landing,
"degraded" when too many key results failed their last run) and `/metrics` (Prometheus text
format), served by a small Werkzeug app on a thread.

`python -m sync.health` probes `/healthz` and exits 0 or 1: the container HEALTHCHECK.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from config.cadence import Cadence
from config.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from sync.progress import Status

log = logging.getLogger(__name__)

# Outcomes that mean the store is fresh: the run wrote (some key results may have failed:
# restarting would not mend a tracker), or another replica had already synced this slot.
SUCCESSFUL = frozenset({"ok", "partial", "skipped"})
# Outcomes of a run that tried every key result it was given, so its failures are current.
RAN = frozenset({"ok", "partial", "failed"})
RUN_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)


@dataclass
class JobHealth:
    """One cadence's key results: when they last synced well, which of them failed their last
    run, and when they are next due."""

    cadence: Cadence
    key_results: tuple[str, ...]
    last_success: datetime | None = None
    next_run: datetime | None = None
    failing: tuple[str, ...] = ()


class DaemonHealth:
    """What `/healthz` and `/metrics` report; the daemon updates it after every run."""

    def __init__(
        self,
        stale_after_intervals: float,
        started_at: datetime | None = None,
        *,
        degraded_at_failed_share: float = 0.5,
        shard: str | None = None,
    ) -> None:
        self.shard = shard
        self.stale_after_intervals = stale_after_intervals
        self.degraded_at_failed_share = degraded_at_failed_share
        self.started_at = started_at or datetime.now(UTC)
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "okrsync_runs", "Sync runs by outcome", ["outcome"], registry=self.registry
        )
        self.key_result_failures = Counter(
            "okrsync_key_result_failures",
            "Key results whose value could not be obtained in a run",
            registry=self.registry,
        )
        self.requests = Counter(
            "okrsync_tracker_requests",
            "Requests made to each tracker",
            ["tracker"],
            registry=self.registry,
        )
        self.key_results = Gauge(
            "okrsync_key_results",
            "Key results in the store by status",
            ["status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "okrsync_run_duration_seconds",
            "Wall time of a sync run",
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.last_run_time = Gauge(
            "okrsync_last_run_timestamp_seconds", "When the last run ended", registry=self.registry
        )
        self.last_success_time = Gauge(
            "okrsync_last_success_timestamp_seconds",
            "When the last successful run ended",
            registry=self.registry,
        )
        self.namespace_turns = Counter(
            "okrsync_namespace_turns",
            "What this replica did with a namespace that came due: synced it, skipped it "
            "(already synced in its slot), left it to the peer that held it, or failed",
            ["namespace", "outcome"],
            registry=self.registry,
        )
        for outcome in ("ok", "partial", "failed", "error", "skipped", "locked"):
            self.runs.labels(outcome)  # present at 0 before the first run
        for status in Status:
            self.key_results.labels(status).set(0)
        self._lock = threading.Lock()
        self._jobs: dict[Cadence, JobHealth] = {}
        self.last_run: dict[str, Any] | None = None
        self._namespaces: dict[str, dict[str, Any]] = {}

    def record_namespace(self, namespace: str, outcome: str, *, at: datetime) -> None:
        """A namespace came due here: `synced`, `skipped` (a peer synced its slot), `held`
        (a peer was syncing it: left to it) or `error`."""
        self.namespace_turns.labels(namespace, outcome).inc()
        with self._lock:
            seen = self._namespaces.setdefault(
                namespace, {"synced": 0, "skipped": 0, "held": 0, "error": 0}
            )
            seen[outcome] = seen.get(outcome, 0) + 1
            seen["last"] = outcome
            seen["last_at"] = at.isoformat()

    def set_jobs(self, key_results_by_cadence: Mapping[Cadence, Sequence[str]]) -> None:
        """The cadences now scheduled, with their key results' ids; one that stays keeps its
        last success and those of its key results that are still failing."""
        with self._lock:
            jobs: dict[Cadence, JobHealth] = {}
            for cadence, ids in key_results_by_cadence.items():
                kept = self._jobs.get(cadence)
                jobs[cadence] = JobHealth(
                    cadence,
                    tuple(ids),
                    kept.last_success if kept else None,
                    failing=tuple(kr for kr in (kept.failing if kept else ()) if kr in ids),
                )
            self._jobs = jobs

    def set_next_run(self, cadence: Cadence, when: datetime | None) -> None:
        with self._lock:
            if cadence in self._jobs:
                self._jobs[cadence].next_run = when

    def record_run(
        self,
        cadences: Iterable[Cadence],
        outcome: str,
        *,
        finished_at: datetime,
        duration_s: float | None = None,
        run_id: int | None = None,
        requests: Mapping[str, int] | None = None,
        failed: Sequence[str] = (),
        statuses: Mapping[str, int] | None = None,
        message: str | None = None,
    ) -> None:
        """A run (or a skipped or refused one) of the key results of `cadences`; `failed`
        names the key results whose value it could not obtain."""
        self.runs.labels(outcome).inc()
        self.key_result_failures.inc(len(failed))
        for tracker, count in (requests or {}).items():
            self.requests.labels(tracker).inc(count)
        if duration_s is not None:
            self.duration.observe(duration_s)
        if statuses is not None:
            for status in {*Status, *statuses}:
                self.key_results.labels(status).set(statuses.get(status, 0))
        self.last_run_time.set(finished_at.timestamp())
        with self._lock:
            self.last_run = {
                "finished_at": finished_at.isoformat(),
                "outcome": outcome,
                "run_id": run_id,
                "duration_s": None if duration_s is None else round(duration_s, 3),
                "key_results_failed": len(failed),
                "message": message,
            }
            if outcome in RAN:
                for cadence in cadences:
                    if cadence in self._jobs:
                        job = self._jobs[cadence]
                        job.failing = tuple(kr for kr in job.key_results if kr in failed)
            if outcome in SUCCESSFUL:
                self.last_success_time.set(finished_at.timestamp())
                for cadence in cadences:
                    if cadence in self._jobs:
                        self._jobs[cadence].last_success = finished_at

    def document(self, now: datetime | None = None) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) of `/healthz`: 503 once any cadence's key results have gone
        `stale_after_intervals` of its interval without a successful run (counted from the
        daemon's start before the first one); else "degraded" (still 200: restarting would
        not mend a tracker) while the share of key results that failed their last run
        reaches `degraded_at_failed_share`, naming them."""
        now = now or datetime.now(UTC)
        with self._lock:
            jobs = []
            stale = False
            for job in self._jobs.values():
                since = job.last_success or self.started_at
                limit = self.stale_after_intervals * job.cadence.interval_s
                job_stale = (now - since).total_seconds() > limit
                stale = stale or job_stale
                jobs.append(
                    {
                        "schedule": job.cadence.describe(),
                        "key_results": len(job.key_results),
                        "failing": list(job.failing),
                        "last_success": iso(job.last_success),
                        "next_run": iso(job.next_run),
                        "stale_after_s": limit,
                        "stale": job_stale,
                    }
                )
            last_success = [j.last_success for j in self._jobs.values() if j.last_success]
            failing = [kr for job in self._jobs.values() for kr in job.failing]
            total = sum(len(job.key_results) for job in self._jobs.values())
            failed_share = len(failing) / total if total else 0.0
            degraded = bool(failing) and failed_share >= self.degraded_at_failed_share
            if stale:
                status = "stale"
            elif degraded:
                status = "degraded"
            else:
                status = "ok" if last_success else "starting"
            body = {
                "status": status,
                "now": now.isoformat(),
                "started_at": self.started_at.isoformat(),
                "last_run": dict(self.last_run) if self.last_run else None,
                "last_success": iso(max(last_success)) if last_success else None,
                "failing_key_results": failing,
                "failed_share": round(failed_share, 3),
                "degraded_at_failed_share": self.degraded_at_failed_share,
                "jobs": jobs,
                "shard": self.shard,
                "namespaces": {ns: dict(seen) for ns, seen in sorted(self._namespaces.items())},
            }
        return (503 if stale else 200), body

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.path == "/healthz":
            code, body = self.document()
            response = Response(json.dumps(body, indent=2), code, mimetype="application/json")
        elif request.path == "/metrics":
            response = Response(generate_latest(self.registry), 200)
            response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        else:
            response = Response("not found: try /healthz or /metrics\n", 404, mimetype="text/plain")
        return response(environ, start_response)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


HEALTH_PATHS = ("/healthz", "/metrics")


class QuietHandler(WSGIRequestHandler):
    """Probes hit /healthz every few seconds: keep them out of the log unless debugging."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s -> %s", self.command, self.path, code)


class HealthServer:
    """The health app served on its own thread until `stop()`.

    Anything but /healthz and /metrics goes to `pages` (the dashboard) when given, so one
    port serves both probes and people.
    """

    def __init__(
        self, health: DaemonHealth, host: str, port: int, pages: WSGIApplication | None = None
    ) -> None:
        def route(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            if pages is None or environ.get("PATH_INFO") in HEALTH_PATHS:
                return health.wsgi_app(environ, start_response)
            return pages(environ, start_response)

        self._server: BaseWSGIServer = make_server(
            host, port, route, threaded=True, request_handler=QuietHandler
        )
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="okrsync-health", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def probe_url(host: str, port: int) -> str:
    """Where a probe on the same machine reaches the server (a wildcard bind is loopback too)."""
    reachable = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    if ":" in reachable:
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}/healthz"


def probe(url: str, timeout_s: float = 5.0) -> int:
    """GET /healthz: 0 when it answers 200, else 1 (with one line saying why)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            print(f"{url}: {answer.status}")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"{url}: unhealthy ({exc.code})", file=sys.stderr)
    except OSError as exc:
        print(f"{url}: unreachable ({exc})", file=sys.stderr)
    return 1


def main() -> int:
    """The container HEALTHCHECK: probe the daemon that these settings describe."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return probe(probe_url(settings.daemon.health_host, settings.daemon.health_port))


if __name__ == "__main__":
    sys.exit(main())
