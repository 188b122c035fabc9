"""The benchmark's sandbox in a process of its own, driven over HTTP.

Sharing one interpreter with the sandbox made the measured process hold the sandbox's data
set (146 MB at the default scale) and spend its CPU building the sandbox's pages, so neither
peak RSS nor wall time was okr-sync's own. `RemoteSandbox` starts `python -m
bench.remote_sandbox SPEC` (SPEC is `SandboxSpec` as JSON), which generates the data set,
serves it, prints its URL on one line and serves until its stdin closes; the benchmark reads
counts and changes items through the sandbox's `/_sandbox` control routes.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.recording import RecordedRequest
from sandbox.server import JiraFlavour

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 600.0  # generating 100,000 items takes a while on a slow machine
STOP_TIMEOUT_S = 10.0
CONTROL_TIMEOUT_S = 120.0
# Changing 1% of the items at --scale 20 (4,000 Jira issues among 400,000, some moved,
# deleted or created, each an edit of the sandbox's lists) took longer than 120 s.
CHANGE_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class SandboxSpec:
    """What the sandbox process generates and how it serves (all JSON-friendly)."""

    seed: int
    anchor: str  # ISO timestamp: the data set's "now"
    jira_issues: int
    jira_projects: int
    github_repos: int
    github_pulls: int
    github_issues: int
    latency_ms: float
    search_limit_per_minute: int
    time_scale: float
    history_days: int = 365  # how far back items were created
    github_big_repo_pulls: int = 0  # closed pull requests of the big repository (0: none)
    jira_flavour: JiraFlavour = "cloud"
    github_listing_reuse_s: float = 0.0  # sandbox/listing_reuse.py


class RemoteSandbox:
    """A sandbox process: start it, read and reset its counts, change its items, stop it."""

    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def jira_url(self) -> str:
        return f"{self.url}/jira"

    @property
    def github_url(self) -> str:
        return f"{self.url}/github"

    def start(self) -> RemoteSandbox:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.remote_sandbox", json.dumps(asdict(self.spec))],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # blocks until the data set is served
        if not line:
            code = self._process.wait(timeout=START_TIMEOUT_S)
            raise RuntimeError(f"the sandbox process exited with {code} before serving")
        self.url = json.loads(line)["url"]
        log.info("sandbox process %s serving on %s", self._process.pid, self.url)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()  # the sandbox's signal to stop
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> RemoteSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(
        self,
        method: str,
        route: str,
        body: dict[str, Any] | None = None,
        timeout: float = CONTROL_TIMEOUT_S,
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_sandbox/{route}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def request_counts(self) -> dict[str, dict[str, int]]:
        """Requests per endpoint since the last reset, per tracker ("jira", "github")."""
        counts: dict[str, dict[str, int]] = self._call("GET", "requests")
        return counts

    def reset_counts(self) -> None:
        self._call("POST", "reset-counts", {})

    def change_items(self, fraction: float, seed: int) -> dict[str, int]:
        """Change `fraction` of each tracker's items in the sandbox (bench/changes.py)."""
        changed: dict[str, int] = self._call(
            "POST", "mutate", {"fraction": fraction, "seed": seed}, timeout=CHANGE_TIMEOUT_S
        )
        return changed

    def start_recording(self) -> None:
        """Record the trackers' requests from now on (sandbox/recording.py)."""
        self._call("POST", "record", {})

    def recorded(self) -> list[RecordedRequest]:
        """Stop recording; the requests recorded, in arrival order, with their chains."""
        return [RecordedRequest(**request) for request in self._call("GET", "recorded")]

    def peak_rss_mb(self) -> float:
        """The sandbox process's own peak RSS so far."""
        return float(self._call("GET", "process")["peak_rss_mb"])

    def cpu_s(self) -> float:
        """CPU time the sandbox process has used so far (user + system)."""
        return float(self._call("GET", "process")["cpu_s"])


def serve(spec: SandboxSpec) -> None:
    """The sandbox process: generate, serve, print the URL, serve until stdin closes."""
    from bench.changes import touch_items
    from sandbox.server import Sandbox, SandboxOptions, build_sandbox

    def change(box: Sandbox, fraction: float, seed: int) -> dict[str, int]:
        return asdict(touch_items(box, fraction, seed=seed))

    box = build_sandbox(
        SandboxOptions(
            seed=spec.seed,
            jira_flavour=spec.jira_flavour,
            anchor=datetime.fromisoformat(spec.anchor),
            latency_s=spec.latency_ms / 1000,
            search_limit_per_minute=spec.search_limit_per_minute,
            time_scale=spec.time_scale,
            github_listing_reuse_s=spec.github_listing_reuse_s,
        ),
        jira_issues=spec.jira_issues,
        jira_projects=spec.jira_projects,
        github_repos=spec.github_repos,
        github_pulls=spec.github_pulls,
        github_issues=spec.github_issues,
        history_days=spec.history_days,
        github_big_repo_pulls=spec.github_big_repo_pulls,
        item_changer=change,
    )
    with box.start():
        print(json.dumps({"url": box.url}), flush=True)
        sys.stdin.read()  # returns when the benchmark closes our stdin (or exits)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    serve(SandboxSpec(**json.loads(sys.argv[1])))
