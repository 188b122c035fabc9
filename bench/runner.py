"""Run the benchmark: naive way, first run, second run, run after changes; table + JSON.

The sandbox (with per-request latency, GitHub's search limit and per-endpoint counters)
serves on loopback from a process of its own (bench/remote_sandbox.py), so this process holds
only okr-sync and the clients; each run goes through the real connectors. `wall_s` of a run
is `run_sync` itself (plan to committed store); requests are what the sandbox counted, read
over its `/_sandbox` control routes; `peak_rss_mb` is this process's peak while the run
lasted (the kernel's high-water mark, reset before each run), `sandbox_peak_rss_mb` the
sandbox process's; `cpu_s` and `sandbox_cpu_s` are the CPU time each process spent on the
run, which is where a run's wall time beyond the latency-only floor goes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench.company import company_mapping
from bench.naive import naive_connectors, naive_values
from bench.remote_sandbox import RemoteSandbox, SandboxSpec
from bench.replay import Credentials, replay
from config.loader import load_mapping_text
from config.mapping import MappingFile
from config.settings import GitHubSettings, JiraSettings, Settings
from connectors.base import GitHubListSelector, GitHubSearchSelector, JiraSelector
from connectors.changes import StageCost
from sandbox.github_data import ORG, REPO_NAMES
from sandbox.jira_data import PROJECT_CATALOGUE
from sandbox.recording import RecordedRequest
from sandbox.server import SANDBOX_GITHUB_TOKEN, SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN
from sync.engine import run_sync
from sync.plan import plan_queries
from sync.store import Store

log = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent / "results.json"
LARGEST_PAGE = {"jira": 100, "github": 100}  # search/jql with fields; GitHub per_page


@dataclass
class Parameters:
    scale: float = 1.0
    key_results: int = 300
    jira_issues: int = 20000
    jira_projects: int = 10
    github_repos: int = 20
    github_pulls: int = 5000
    github_issues: int = 1000
    latency_ms: float = 20.0
    search_limit_per_minute: int = 30
    time_scale: float = 20.0
    changed_fraction: float = 0.01
    jira_concurrency: int = 4
    github_concurrency: int = 4
    seed: int = 7

    def scaled(self) -> Parameters:
        return Parameters(
            **{
                **vars(self),
                "jira_issues": max(50, round(self.jira_issues * self.scale)),
                "github_pulls": max(40, round(self.github_pulls * self.scale)),
                "github_issues": max(20, round(self.github_issues * self.scale)),
            }
        )


@dataclass
class RunFigures:
    name: str
    requests: dict[str, int]
    endpoints: dict[str, int]
    wall_s: float
    peak_rss_mb: float
    cpu_s: float = 0.0  # this process's CPU time during the run (okr-sync and the clients)
    sandbox_cpu_s: float = 0.0  # the sandbox process's, serving the run
    values: dict[str, float | None] = field(default_factory=dict)
    modes: dict[str, int] | None = None
    checks: dict[str, StageCost] = field(default_factory=dict)  # what the change feeds cost

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "requests": self.requests,
            "requests_by_endpoint": self.endpoints,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "sandbox_cpu_s": round(self.sandbox_cpu_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }
        if self.modes is not None:
            data["units"] = self.modes
        if self.checks:
            data["cache_checks"] = {
                stage: {"requests": cost.requests, "wall_s": round(cost.seconds, 3)}
                for stage, cost in self.checks.items()
            }
        return data


class PeakRss:
    """This process's peak resident set size while a block runs.

    On Linux the kernel's high-water mark (VmHWM) is reset on entry (`/proc/self/clear_refs`)
    and read on exit, so nothing is missed between samples and an earlier run's peak does not
    carry over; elsewhere it is the lifetime peak, `getrusage(RUSAGE_SELF).ru_maxrss`.
    """

    def __init__(self) -> None:
        self.peak_kb = 0
        self._reset = False

    @staticmethod
    def _status_kb(key: str) -> int | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(f"{key}:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

    @staticmethod
    def lifetime_kb() -> int:
        """ru_maxrss: KiB on Linux (bytes on macOS, where this benchmark is not tuned)."""
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

    @classmethod
    def current_kb(cls) -> int:
        return cls._status_kb("VmRSS") or cls.lifetime_kb()

    def __enter__(self) -> PeakRss:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self._reset = True
        except OSError:
            self._reset = False
        return self

    def __exit__(self, *exc: object) -> None:
        hwm = self._status_kb("VmHWM") if self._reset else None
        self.peak_kb = hwm if hwm is not None else self.lifetime_kb()


class CpuTime:
    """CPU seconds this process and the sandbox process spend while a block runs.

    The floor counts latency only; these say where the rest of a run's wall time went.
    """

    def __init__(self, box: RemoteSandbox) -> None:
        self.box = box
        self.own_s = 0.0
        self.sandbox_s = 0.0

    def __enter__(self) -> CpuTime:
        self._own = time.process_time()
        self._sandbox = self.box.cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.own_s = time.process_time() - self._own
        self.sandbox_s = self.box.cpu_s() - self._sandbox


def sandbox_spec(params: Parameters, anchor: datetime) -> SandboxSpec:
    return SandboxSpec(
        seed=params.seed,
        anchor=anchor.isoformat(),
        jira_issues=params.jira_issues,
        jira_projects=params.jira_projects,
        github_repos=params.github_repos,
        github_pulls=params.github_pulls,
        github_issues=params.github_issues,
        latency_ms=params.latency_ms,
        search_limit_per_minute=params.search_limit_per_minute,
        time_scale=params.time_scale,
    )


def build_mapping(params: Parameters, today: date) -> str:
    """The company's mapping: needs only the projects' keys and the repositories' names."""
    return company_mapping(
        [key for key, _, _ in PROJECT_CATALOGUE[: params.jira_projects]],
        [f"{ORG}/{name}" for name in REPO_NAMES[: params.github_repos]],
        org=ORG,
        start=today - timedelta(days=90),
        end=today + timedelta(days=30),
        key_results=params.key_results,
    )


def settings_for(box: RemoteSandbox, params: Parameters, database_url: str) -> Settings:
    jira = JiraSettings.model_validate(
        {
            "url": box.jira_url,
            "email": SANDBOX_JIRA_EMAIL,
            "token": SecretStr(SANDBOX_JIRA_TOKEN),
            "flavour": "cloud",
            "max_concurrency": params.jira_concurrency,
        }
    )
    github = GitHubSettings.model_validate(
        {
            "base_url": box.github_url,
            "token": SecretStr(SANDBOX_GITHUB_TOKEN),
            "max_concurrency": params.github_concurrency,
        }
    )
    return Settings(_env_file=None, jira=jira, github=github, database_url=database_url)


def _counters(box: RemoteSandbox) -> tuple[dict[str, int], dict[str, int]]:
    counts = box.request_counts()
    jira, github = counts["jira"], counts["github"]
    endpoints = {f"jira {k}": v for k, v in sorted(jira.items())}
    endpoints |= {f"github {k}": v for k, v in sorted(github.items())}
    per_source = {"jira": sum(jira.values()), "github": sum(github.values())}
    per_source["total"] = per_source["jira"] + per_source["github"]
    return per_source, endpoints


def measure_naive(
    box: RemoteSandbox, mapping: MappingFile, settings: Settings, as_of: datetime
) -> RunFigures:
    box.reset_counts()
    connectors = naive_connectors(settings)
    with PeakRss() as rss, CpuTime(box) as cpu:
        began = time.perf_counter()
        values = naive_values(mapping, connectors, as_of=as_of)
        wall = time.perf_counter() - began
    requests, endpoints = _counters(box)
    return RunFigures(
        "naive", requests, endpoints, wall, rss.peak_kb / 1024, cpu.own_s, cpu.sandbox_s, values
    )


def measure_sync(
    name: str,
    box: RemoteSandbox,
    mapping: MappingFile,
    settings: Settings,
    store: Store,
    as_of: datetime,
) -> RunFigures:
    box.reset_counts()
    with PeakRss() as rss, CpuTime(box) as cpu:
        began = time.perf_counter()
        report = run_sync(settings, mapping, store, as_of=as_of)
        wall = time.perf_counter() - began
    requests, endpoints = _counters(box)
    if report.failed:
        raise SystemExit(
            f"{name} run: {len(report.failed)} key results failed, e.g. "
            f"{report.failed[0].plan.key_result.id}: {report.failed[0].error}"
        )
    values = {o.plan.key_result.id: o.value for o in report.key_results}
    modes = report.cache_units
    peak = rss.peak_kb / 1024
    return RunFigures(
        name,
        requests,
        endpoints,
        wall,
        peak,
        cpu.own_s,
        cpu.sandbox_s,
        values,
        modes,
        report.cache_checks,
    )


def measure_replay(
    box: RemoteSandbox, recorded: list[RecordedRequest], params: Parameters
) -> RunFigures:
    """The first run's requests again, fetched and decoded by a bare client (bench/replay.py)."""
    box.reset_counts()
    with PeakRss() as rss, CpuTime(box) as cpu:
        began = time.perf_counter()
        replay(
            box.url,
            recorded,
            concurrency={"jira": params.jira_concurrency, "github": params.github_concurrency},
            credentials=Credentials(SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN, SANDBOX_GITHUB_TOKEN),
        )
        wall = time.perf_counter() - began
    requests, endpoints = _counters(box)
    return RunFigures(
        "replay", requests, endpoints, wall, rss.peak_kb / 1024, cpu.own_s, cpu.sandbox_s
    )


def floor_figures(
    mapping: MappingFile, settings: Settings, as_of: datetime, params: Parameters
) -> dict[str, Any]:
    """The fewest requests the APIs allow for the plan's distinct selectors, and their time.

    A count: 1 request. Items: ceil(items / largest page). The number of items of each
    selector is asked of the naive connectors (independent of okr-sync's own fetching).
    """
    plan = plan_queries(mapping, today=as_of.date())
    connectors = naive_connectors(settings, largest_pages=True)
    per_source: Counter[str] = Counter()
    longest: Counter[str] = Counter()
    for selector in plan.count_fetches:
        per_source[selector.source] += 1
        longest[selector.source] = max(longest[selector.source], 1)
    for selector, needs in plan.item_fetches.items():
        assert isinstance(selector, JiraSelector | GitHubSearchSelector | GitHubListSelector)
        items = len(connectors[selector.source].items(selector, needs))
        pages = max(1, math.ceil(items / LARGEST_PAGE[selector.source]))
        per_source[selector.source] += pages
        longest[selector.source] = max(longest[selector.source], pages)
    concurrency = {"jira": params.jira_concurrency, "github": params.github_concurrency}
    latency = params.latency_ms / 1000
    wall = max(
        max(longest[s], math.ceil(per_source[s] / concurrency[s])) * latency for s in per_source
    )
    return {
        "requests": {**dict(per_source), "total": sum(per_source.values())},
        "wall_s": round(wall, 3),
        "selectors": len(plan.count_fetches) + len(plan.item_fetches),
    }


def values_equal(a: dict[str, float | None], b: dict[str, float | None]) -> list[str]:
    """Key results whose values differ (exactly: both None or the same float)."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) or (k in a) != (k in b))


def render_table(runs: list[RunFigures], floor: dict[str, Any]) -> str:
    lines = [
        "| run | requests | jira | github | wall s | CPU s | sandbox CPU s | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        r = run.requests
        lines.append(
            f"| {run.name} | {r['total']} | {r['jira']} | {r['github']} | "
            f"{run.wall_s:.2f} | {run.cpu_s:.2f} | {run.sandbox_cpu_s:.2f} | "
            f"{run.peak_rss_mb:.0f} |"
        )
    fr = floor["requests"]
    lines.append(
        f"| floor | {fr['total']} | {fr.get('jira', 0)} | {fr.get('github', 0)} | "
        f"{floor['wall_s']:.2f} | | | |"
    )
    return "\n".join(lines)


def render_checks(runs: list[RunFigures]) -> str:
    """What the repeat runs spend on telling what changed, stage by stage."""
    lines = [
        "| run | stage | requests | wall s |",
        "| --- | --- | ---: | ---: |",
    ]
    for run in runs:
        for stage, cost in run.checks.items():
            lines.append(f"| {run.name} | {stage} | {cost.requests} | {cost.seconds:.2f} |")
    return "\n".join(lines)


def check_targets(runs: dict[str, RunFigures], floor: dict[str, Any]) -> dict[str, dict[str, Any]]:
    first, naive = runs["first"], runs["naive"]

    def share(part: float, whole: float) -> float:
        return part / whole if whole else math.inf

    ratios = {
        "first_requests_vs_naive": (share(first.requests["total"], naive.requests["total"]), 1 / 5),
        "first_wall_vs_naive": (share(first.wall_s, naive.wall_s), 1 / 5),
        "first_requests_vs_floor": (
            share(first.requests["total"], floor["requests"]["total"]),
            1.5,
        ),
        "first_wall_vs_floor": (share(first.wall_s, floor["wall_s"]), 1.5),
        "second_requests_vs_first": (
            share(runs["second"].requests["total"], first.requests["total"]),
            0.05,
        ),
        "changed_requests_vs_first": (
            share(runs["changed"].requests["total"], first.requests["total"]),
            0.15,
        ),
    }
    checked: dict[str, dict[str, Any]] = {}
    for name, (ratio, limit) in ratios.items():
        checked[name] = {"ratio": round(ratio, 4), "target": round(limit, 4), "met": ratio <= limit}
    return checked


def overhead_figures(runs: dict[str, RunFigures], floor: dict[str, Any]) -> dict[str, Any]:
    """Where the first run's wall time beyond the floor goes: moving the pages (the replay's
    share of the floor) or okr-sync's own work (the first run's share of the replay)."""
    first, replayed = runs["first"].wall_s, runs["replay"].wall_s
    return {
        "replay_wall_vs_floor": round(replayed / floor["wall_s"], 3) if floor["wall_s"] else None,
        "first_wall_vs_replay": round(first / replayed, 3) if replayed else None,
    }


def run_benchmark(params: Parameters, output: Path) -> int:
    params = params.scaled()
    # The generated activity ends an hour ago: "nothing changed" between the runs is then
    # true (a live site's own churn is what the `changed` run measures).
    as_of = datetime.now(UTC).replace(microsecond=0)
    anchor = as_of - timedelta(hours=1)
    print(
        f"building the company: {params.jira_issues} Jira issues in {params.jira_projects} "
        f"projects, {params.github_pulls} pull requests and {params.github_issues} issues in "
        f"{params.github_repos} repositories, {params.key_results} key results",
        flush=True,
    )
    mapping_text = build_mapping(params, as_of.date())
    mapping = load_mapping_text(mapping_text, source_name="bench company", today=as_of.date())
    baseline = PeakRss.current_kb() / 1024
    with RemoteSandbox(sandbox_spec(params, anchor)) as box:
        with tempfile.TemporaryDirectory(prefix="okrsync-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'okrsync.db'}"
            settings = settings_for(box, params, url)
            store = Store(url)
            store.migrate()
            print("naive way ...", flush=True)
            naive = measure_naive(box, mapping, settings, as_of)
            print(f"  {naive.requests['total']} requests, {naive.wall_s:.1f} s", flush=True)
            runs = {"naive": naive}
            box.start_recording()
            runs["first"] = measure_sync("first", box, mapping, settings, store, as_of)
            recorded = box.recorded()
            print(f"first run: {runs['first'].requests['total']} requests", flush=True)
            runs["replay"] = measure_replay(box, recorded, params)
            if runs["replay"].requests != runs["first"].requests:
                raise SystemExit(
                    f"the replay sent {runs['replay'].requests} requests, "
                    f"the first run {runs['first'].requests}"
                )
            print(f"  replayed by a bare client: {runs['replay'].wall_s:.2f} s", flush=True)
            runs["second"] = measure_sync("second", box, mapping, settings, store, as_of)
            print(f"second run: {runs['second'].requests['total']} requests", flush=True)
            changed = box.change_items(params.changed_fraction, seed=params.seed)
            print(f"changed {changed['jira']} Jira issues and {changed['github']} GitHub items")
            runs["changed"] = measure_sync("changed", box, mapping, settings, store, as_of)
            print(f"changed run: {runs['changed'].requests['total']} requests", flush=True)
            print("naive way again, on the changed data (reference values only) ...", flush=True)
            naive_after = naive_values(mapping, naive_connectors(settings), as_of=as_of)
            floor = floor_figures(mapping, settings, as_of, params)
            store.close()
        sandbox_peak = box.peak_rss_mb()
    process_peak = max(PeakRss.lifetime_kb() / 1024, *(run.peak_rss_mb for run in runs.values()))

    mismatches = {
        "first": values_equal(runs["first"].values, naive.values),
        "second": values_equal(runs["second"].values, naive.values),
        "changed": values_equal(runs["changed"].values, naive_after),
    }
    values_match = not any(mismatches.values())
    targets = check_targets(runs, floor)
    order = [runs[n] for n in ("naive", "first", "replay", "second", "changed")]
    result: dict[str, Any] = {name: runs[name].as_json() for name in runs}
    result |= {
        "floor": floor,
        "overhead": overhead_figures(runs, floor),
        "peak_rss_mb": round(process_peak, 1),
        "sandbox_peak_rss_mb": round(sandbox_peak, 1),
        "values_match": values_match,
        "targets": targets,
        "parameters": {**vars(params), "baseline_rss_mb": round(baseline, 1)},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if not values_match:
        result["mismatches"] = mismatches
    output.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(render_table(order, floor))
    print()
    print(render_checks([runs["second"], runs["changed"]]))
    print()
    for name, target in targets.items():
        verdict = "met" if target["met"] else "MISSED"
        print(f"{name}: {target['ratio']:.3f} (target <= {target['target']:.3f}) {verdict}")
    overhead = result["overhead"]
    if overhead["replay_wall_vs_floor"] is not None:
        print(
            f"the first run's requests replayed by a bare client: "
            f"{overhead['replay_wall_vs_floor']:.2f}x the floor; the first run: "
            f"{overhead['first_wall_vs_replay']:.2f}x the replay (okr-sync's own share)"
        )
    print(
        f"peak RSS: this process {process_peak:.0f} MB (okr-sync and the clients), "
        f"the sandbox process {sandbox_peak:.0f} MB"
    )
    print(f"\nwrote {output}")
    if not values_match:
        print(f"VALUES DIFFER FROM THE NAIVE WAY: {mismatches}", file=sys.stderr)
        return 1
    print(f"values_match: every one of the {len(naive.values)} key results equals the naive way's")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 20,000 issues, 5,000 PRs")
    parser.add_argument("--key-results", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=20.0,
        help="shortens GitHub's one-minute search window (20: 30 searches per 3 s)",
    )
    parser.add_argument("--changed", type=float, default=0.01, help="share of items changed")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    params = Parameters(
        scale=args.scale,
        key_results=args.key_results,
        latency_ms=args.latency_ms,
        time_scale=args.time_scale,
        changed_fraction=args.changed,
    )
    return run_benchmark(params, args.output)
