"""Run the benchmark: the naive way and its variants, okr-sync's runs, the floors; table + JSON.

The sandbox (with per-request latency, GitHub's search limit and per-endpoint counters)
serves on loopback from a process of its own (bench/remote_sandbox.py). Every measured run is
a fresh process of its own (bench/fresh_process.py): `wall_s` is the run itself (for okr-sync
`run_sync`, plan to committed store), `cpu_s` that process's CPU time during it and
`peak_rss_mb` its own peak RSS; requests are what the sandbox counted, read over its
`/_sandbox` control routes, and `sandbox_cpu_s` the sandbox process's CPU time serving the
run. The naive way (bench/naive.py) is a typical integration written with the two libraries;
its variants each add one of okr-sync's techniques (`attribution`); the floors per tracker
come from the APIs' documented limits (bench/floor.py). With `--day`, a day of runs under
churn follows (bench/day.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from bench.company import company_mapping
from bench.day import CHURN_PER_RUN, RUNS_PER_DAY, DayFigures, render_day, run_day
from bench.floor import FloorFetch, FloorLimits, floor_figures
from bench.floor_github import ListedSelector, RepositoryListing, read_listings
from bench.fresh_process import JobFigures, RunJob, run_in_fresh_process
from bench.naive import LADDER, NAIVE, Credentials, NaiveWay, Techniques
from bench.remote_sandbox import RemoteSandbox, SandboxSpec
from config.loader import load_mapping_text
from config.mapping import MappingFile
from connectors.base import GitHubListSelector, GitHubSearchSelector, Selector
from connectors.changes import StageCost
from sandbox.github_data import BIG_REPO_NAME, ORG, REPO_NAMES
from sandbox.jira_data import PROJECT_CATALOGUE
from sandbox.server import (
    SANDBOX_GITHUB_TOKEN,
    SANDBOX_JIRA_EMAIL,
    SANDBOX_JIRA_TOKEN,
    JiraFlavour,
)
from sync.plan import plan_queries
from sync.store import Store

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
DEFAULT_LATENCY_MS = 20.0
TRACKERS = ("jira", "github")
# The sandbox serves a GitHub listing's later pages from its first for this long: the
# monorepo's listings would otherwise cost the sandbox the square of their length.
LISTING_REUSE_S = 60.0
EXACT_RUNGS = frozenset(LADDER) - {"items for counts"}  # rungs whose values must equal the naive's
# PyGithub keeps every pull request a listing returned: about 1 GB at scale 1 (the monorepo's
# 20,000), 4.7 GB at 5; above this scale the naive way streams its lists (bench/naive.py).
PLAIN_NAIVE_MAX_SCALE = 5.0


@dataclass
class Parameters:
    scale: float = 1.0
    key_results: int = 300
    jira_issues: int = 20000
    jira_projects: int = 10
    github_repos: int = 20
    github_pulls: int = 5000
    github_issues: int = 1000
    github_big_repo_pulls: int = 20000  # closed pull requests of acme/monolith
    history_days: int = 3 * 365  # items created over three years, most of them closed
    jira_flavour: JiraFlavour = "cloud"
    latency_ms: float = 20.0
    search_limit_per_minute: int = 30
    time_scale: float = 20.0
    changed_fraction: float = 0.01
    jira_concurrency: int = 4
    github_concurrency: int = 4
    seed: int = 7
    day_runs: int = 0  # a day of runs after the changed run (bench/day.py); 0: none
    naive_streaming: bool = False  # PyGithub's lists read page by page, none kept

    def __post_init__(self) -> None:
        self.naive_streaming = self.naive_streaming or self.scale > PLAIN_NAIVE_MAX_SCALE

    def scaled(self) -> Parameters:
        return Parameters(
            **{
                **vars(self),
                "jira_issues": max(50, round(self.jira_issues * self.scale)),
                "github_pulls": max(40, round(self.github_pulls * self.scale)),
                "github_issues": max(20, round(self.github_issues * self.scale)),
                "github_big_repo_pulls": (
                    max(40, round(self.github_big_repo_pulls * self.scale))
                    if self.github_big_repo_pulls
                    else 0
                ),
            }
        )


@dataclass
class RunFigures:
    name: str
    requests: dict[str, int]
    endpoints: dict[str, int]
    wall_s: float
    peak_rss_mb: float
    cpu_s: float = 0.0  # the run's own process's CPU time during the run
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
        history_days=params.history_days,
        github_big_repo_pulls=params.github_big_repo_pulls,
        jira_flavour=params.jira_flavour,
        github_listing_reuse_s=LISTING_REUSE_S,
    )


def build_mapping(params: Parameters, today: date) -> str:
    """The company's mapping: needs only the projects' keys and the repositories' names."""
    return company_mapping(
        [key for key, _, _ in PROJECT_CATALOGUE[: params.jira_projects]],
        [f"{ORG}/{name}" for name in REPO_NAMES[: params.github_repos]],
        big_repo=f"{ORG}/{BIG_REPO_NAME}" if params.github_big_repo_pulls else None,
        org=ORG,
        start=today - timedelta(days=90),
        end=today + timedelta(days=30),
        key_results=params.key_results,
    )


def request_counts_of(box: RemoteSandbox) -> tuple[dict[str, int], dict[str, int]]:
    """What the sandbox counted since its last reset: per tracker (and total), per endpoint."""
    counts = box.request_counts()
    jira, github = counts["jira"], counts["github"]
    endpoints = {f"jira {k}": v for k, v in sorted(jira.items())}
    endpoints |= {f"github {k}": v for k, v in sorted(github.items())}
    per_source = {"jira": sum(jira.values()), "github": sum(github.values())}
    per_source["total"] = per_source["jira"] + per_source["github"]
    return per_source, endpoints


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


def _progress(label: str, run: RunFigures) -> None:
    print(
        f"{label}: {run.requests['total']} requests (jira {run.requests['jira']}, github "
        f"{run.requests['github']}), {run.wall_s:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB",
        flush=True,
    )


def measure(name: str, box: RemoteSandbox, job: RunJob) -> RunFigures:
    """One run in a fresh process, with the sandbox's request counts and CPU time for it."""
    box.reset_counts()
    sandbox_began = box.cpu_s()
    figures: JobFigures = run_in_fresh_process(job)
    sandbox_cpu = box.cpu_s() - sandbox_began
    if figures.failure is not None:
        raise SystemExit(f"{name} run: {figures.failure}")
    requests, endpoints = request_counts_of(box)
    return RunFigures(
        name,
        requests,
        endpoints,
        figures.wall_s,
        figures.peak_rss_mb,
        figures.cpu_s,
        sandbox_cpu,
        figures.values,
        figures.modes,
        figures.checks,
    )


@dataclass(frozen=True)
class ReplayOf:
    """A run's requests, as the sandbox recorded them, sent again by a bare client
    (`bench/replay.py`): what moving those pages costs before any client does anything
    with them."""

    box: RemoteSandbox
    credentials: Credentials
    mapping_text: str
    as_of: datetime
    concurrency: dict[str, int]

    def measured(self, name: str, run: RunFigures) -> RunFigures:
        """Replay what the sandbox recorded since `start_recording`: `run`'s requests."""
        recorded = tuple(self.box.recorded())
        job = RunJob(
            "replay",
            self.credentials,
            self.mapping_text,
            self.as_of,
            self.concurrency,
            recorded=recorded,
            sandbox_url=self.box.url,
        )
        replayed = measure(name, self.box, job)
        if replayed.requests != run.requests:
            raise SystemExit(
                f"the {name} sent {replayed.requests} requests, the {run.name} run {run.requests}"
            )
        return replayed


def floor_fetches(
    mapping: MappingFile, credentials: Credentials, as_of: datetime, *, streaming: bool = False
) -> tuple[list[FloorFetch], dict[str, RepositoryListing]]:
    """The plan's distinct selectors with their number of items, and the issue listings of
    the repositories its list selectors read, asked through the libraries (bench/naive.py,
    largest pages), independently of okr-sync's own fetching."""
    plan = plan_queries(mapping, today=as_of.date())
    naive = NaiveWay(credentials, Techniques(largest_pages=True), streaming=streaming)

    def fetch(selector: Selector, mode: Literal["count", "items"], items: int) -> FloorFetch:
        listed = ListedSelector.of(selector) if isinstance(selector, GitHubListSelector) else None
        search = isinstance(selector, GitHubSearchSelector)
        return FloorFetch(selector.source, mode, items, search, listed)  # type: ignore[arg-type]

    fetches = [fetch(selector, "count", naive.count(selector)) for selector in plan.count_fetches]
    fetches += [
        fetch(selector, "items", len(naive.items(selector, needs)))
        for selector, needs in plan.item_fetches.items()
    ]
    repos = {f.listed.repo for f in fetches if f.listed is not None}
    return fetches, read_listings(naive.github.client, repos)


def attribution(ladder: dict[str, RunFigures], runs: dict[str, RunFigures]) -> list[dict[str, Any]]:
    """Where okr-sync's gains come from: each row adds one technique to the row above it,
    and saves the difference in requests (per tracker) and wall time."""
    rows = [*ladder.items()]
    rows.append(("okr-sync first run", runs["first"]))
    rows.append(("okr-sync, nothing changed (incremental)", runs["second"]))
    table: list[dict[str, Any]] = []
    previous: RunFigures | None = None
    for label, run in rows:
        row: dict[str, Any] = {
            "row": label,
            "requests": run.requests,
            "wall_s": round(run.wall_s, 3),
        }
        if previous is not None:
            row["saved_requests"] = {
                key: previous.requests[key] - run.requests[key] for key in run.requests
            }
            row["saved_wall_s"] = round(previous.wall_s - run.wall_s, 3)
        table.append(row)
        previous = run
    return table


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else math.inf


def per_tracker_ratios(runs: dict[str, RunFigures], floor: dict[str, Any]) -> dict[str, Any]:
    """The first run's requests against the naive way's and the floor's, tracker by tracker."""
    first, naive = runs["first"].requests, runs["naive"].requests
    ratios: dict[str, Any] = {}
    for tracker in TRACKERS:
        floor_requests = floor["per_tracker"][tracker]["requests"]
        ratios[tracker] = {
            "first_vs_naive": round(_ratio(first[tracker], naive[tracker]), 4),
            "first_vs_floor": round(_ratio(first[tracker], floor_requests), 4),
            "naive_vs_floor": round(_ratio(naive[tracker], floor_requests), 4),
        }
    return ratios


def check_targets(
    runs: dict[str, RunFigures],
    floor: dict[str, Any],
    params: Parameters,
    values_match: bool,
    day: DayFigures | None = None,
) -> dict[str, dict[str, Any]]:
    """Issue #14's targets. `judged` is False where a target holds only at another scale or
    latency than this run's (the figure is still reported)."""
    first, second = runs["first"], runs["second"]
    at_scale_5, at_scale_20 = params.scale == 5, params.scale == 20
    checks: dict[str, tuple[float, float, bool]] = {}
    for tracker in TRACKERS:
        checks[f"first_requests_vs_naive_{tracker}"] = (
            _ratio(first.requests[tracker], runs["naive"].requests[tracker]),
            1 / 3,
            True,
        )
        checks[f"first_requests_vs_floor_{tracker}"] = (
            _ratio(first.requests[tracker], floor["per_tracker"][tracker]["requests"]),
            1.1,
            True,
        )
    checks |= {
        "first_requests_vs_naive": (
            _ratio(first.requests["total"], runs["naive"].requests["total"]),
            1 / 3,
            True,
        ),
        "first_wall_vs_replay": (_ratio(first.wall_s, runs["replay"].wall_s), 1.3, True),
        "first_wall_vs_floor": (
            _ratio(first.wall_s, floor["wall_s"]),
            1.5,
            params.latency_ms >= 200,
        ),
        "second_requests_vs_first": (
            _ratio(second.requests["total"], first.requests["total"]),
            0.01,
            True,
        ),
        "second_wall_s": (second.wall_s, 0.3, at_scale_5),
        "second_peak_rss_mb": (second.peak_rss_mb, 130.0, at_scale_5),
        "first_peak_rss_mb": (
            first.peak_rss_mb,
            300.0 if at_scale_20 else 200.0,
            at_scale_5 or at_scale_20,
        ),
    }
    if day is not None:  # a day is judged only as the 48 runs the issue names
        checks["day_requests_vs_naive"] = (day.ratio, 1 / 20, len(day.runs) == RUNS_PER_DAY)
    checked: dict[str, dict[str, Any]] = {
        name: {
            "ratio": round(value, 4),
            "target": round(limit, 4),
            "met": value <= limit,
            "judged": judged,
        }
        for name, (value, limit, judged) in checks.items()
    }
    checked["values_match"] = {"ratio": None, "target": None, "met": values_match, "judged": True}
    return checked


def overhead_figures(runs: dict[str, RunFigures], floor: dict[str, Any]) -> dict[str, Any]:
    """Where the first run's wall time beyond the floor goes: moving the pages (the replay's
    share of the floor) or okr-sync's own work (the first run's share of the replay); the
    same for the run where nothing changed against its own requests replayed."""
    first, replayed = runs["first"].wall_s, runs["replay"].wall_s
    second, second_replayed = runs["second"].wall_s, runs["second_replay"].wall_s
    return {
        "replay_wall_vs_floor": round(replayed / floor["wall_s"], 3) if floor["wall_s"] else None,
        "first_wall_vs_replay": round(first / replayed, 3) if replayed else None,
        "second_replay_wall_s": round(second_replayed, 3),
        "second_wall_vs_replay": round(second / second_replayed, 3) if second_replayed else None,
    }


def render_attribution(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| row | requests | jira | github | saved (jira / github) | wall s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        r = row["requests"]
        saved = row.get("saved_requests")
        saved_text = f"{saved['jira']} / {saved['github']}" if saved else ""
        lines.append(
            f"| {row['row']} | {r['total']} | {r['jira']} | {r['github']} | {saved_text} | "
            f"{row['wall_s']:.2f} |"
        )
    return "\n".join(lines)


def render_floors(runs: dict[str, RunFigures], floor: dict[str, Any]) -> str:
    lines = [
        "| tracker | naive | first | floor | first / naive | first / floor | floor wall s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for tracker in TRACKERS:
        naive, first = runs["naive"].requests[tracker], runs["first"].requests[tracker]
        fl = floor["per_tracker"][tracker]
        lines.append(
            f"| {tracker} | {naive} | {first} | {fl['requests']} | "
            f"{_ratio(first, naive):.3f} | {_ratio(first, fl['requests']):.3f} | "
            f"{fl['wall_s']:.2f} |"
        )
    return "\n".join(lines)


def default_output(scale: float, latency_ms: float, jira_flavour: JiraFlavour = "cloud") -> Path:
    """results.json at the default scale, latency and Jira Cloud; otherwise named after what
    differs (results-scale5.json, results-jira-server.json, ...)."""
    parts = []
    if scale != 1:
        parts.append(f"scale{scale:g}")
    if latency_ms != DEFAULT_LATENCY_MS:
        parts.append(f"latency{latency_ms:g}")
    if jira_flavour != "cloud":
        parts.append(f"jira-{jira_flavour}")
    return HERE / ("results.json" if not parts else f"results-{'-'.join(parts)}.json")


def run_benchmark(params: Parameters, output: Path, *, ladder: bool = True) -> int:
    params = params.scaled()
    # The generated activity ends an hour ago: "nothing changed" between the runs is then
    # true (a live site's own churn is what the `changed` run measures).
    as_of = datetime.now(UTC).replace(microsecond=0)
    anchor = as_of - timedelta(hours=1)
    print(
        f"building the company: {params.jira_issues} Jira {params.jira_flavour} issues in "
        f"{params.jira_projects} projects, {params.github_pulls} pull requests and "
        f"{params.github_issues} issues in {params.github_repos} repositories and "
        f"{params.github_big_repo_pulls} closed pull requests in {ORG}/{BIG_REPO_NAME}, "
        f"over {params.history_days} days; {params.key_results} key results, "
        f"{params.latency_ms:g} ms a request",
        flush=True,
    )
    if params.naive_streaming:
        print("the naive way reads PyGithub's lists page by page (naive_streaming)", flush=True)
    streaming = params.naive_streaming
    mapping_text = build_mapping(params, as_of.date())
    mapping = load_mapping_text(mapping_text, source_name="bench company", today=as_of.date())
    concurrency = {"jira": params.jira_concurrency, "github": params.github_concurrency}
    with RemoteSandbox(sandbox_spec(params, anchor)) as box:
        print(f"sandbox serving, its peak RSS {box.peak_rss_mb():.0f} MB", flush=True)
        credentials = Credentials(
            box.jira_url,
            SANDBOX_JIRA_EMAIL,
            SANDBOX_JIRA_TOKEN,
            box.github_url,
            SANDBOX_GITHUB_TOKEN,
            params.jira_flavour,
        )
        with tempfile.TemporaryDirectory(prefix="okrsync-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'okrsync.db'}"
            store = Store(url)
            store.migrate()
            store.close()
            job = RunJob("sync", credentials, mapping_text, as_of, concurrency, url)
            # okr-sync's runs before the naive way's: at a large scale their figures are in
            # hand (and printed) before the libraries' long listings start.
            runs: dict[str, RunFigures] = {}
            replaying = ReplayOf(box, credentials, mapping_text, as_of, concurrency)
            box.start_recording()
            runs["first"] = measure("first", box, job)
            _progress("first run", runs["first"])
            runs["replay"] = replaying.measured("replay", runs["first"])
            _progress("  replayed by a bare client", runs["replay"])
            box.start_recording()
            runs["second"] = measure("second", box, job)
            _progress("second run", runs["second"])
            runs["second_replay"] = replaying.measured("second_replay", runs["second"])
            _progress("  replayed by a bare client", runs["second_replay"])
            rungs = LADDER if ladder else {"naive": LADDER["naive"]}
            variants: dict[str, RunFigures] = {}
            for label, techniques in rungs.items():
                print(f"{label} ...", flush=True)
                variants[label] = measure(
                    label,
                    box,
                    RunJob(
                        "naive",
                        credentials,
                        mapping_text,
                        as_of,
                        concurrency,
                        techniques=techniques,
                        naive_streaming=streaming,
                    ),
                )
                _progress(" ", variants[label])
            runs["naive"] = variants["naive"]
            fetches, listings = floor_fetches(mapping, credentials, as_of, streaming=streaming)
            changed = box.change_items(params.changed_fraction, seed=params.seed)
            print(f"changed {changed['jira']} Jira issues and {changed['github']} GitHub items")
            runs["changed"] = measure("changed", box, job)
            _progress("changed run", runs["changed"])
            print("naive way again, on the changed data (reference values only) ...", flush=True)
            # The libraries alone still, with the fastest variant: its values are the naive
            # way's (values_match checks every variant against it).
            fastest = Techniques(shared_queries=True, largest_pages=True, concurrency=4)
            naive_after = run_in_fresh_process(
                RunJob(
                    "naive",
                    credentials,
                    mapping_text,
                    as_of,
                    concurrency,
                    techniques=fastest,
                    naive_streaming=streaming,
                )
            ).values
            day: DayFigures | None = None
            if params.day_runs:
                print(
                    f"a day of runs: {params.day_runs} runs 30 minutes apart, "
                    f"{CHURN_PER_RUN:.1%} of the items changed before each ...",
                    flush=True,
                )
                day = run_day(
                    box,
                    job,
                    RunJob(
                        "naive",
                        credentials,
                        mapping_text,
                        as_of,
                        concurrency,
                        techniques=NAIVE,
                        naive_streaming=streaming,
                    ),
                    lambda name, day_job: measure(name, box, day_job),
                    runs=params.day_runs,
                    seed=params.seed * 1000,
                )
        sandbox_peak = box.peak_rss_mb()

    limits = FloorLimits(
        latency_s=params.latency_ms / 1000,
        concurrency=concurrency,
        jira_flavour=params.jira_flavour,
        searches_per_minute=params.search_limit_per_minute,
        time_scale=params.time_scale,
    )
    floor = floor_figures(fetches, limits, listings)
    naive = runs["naive"]
    mismatches = {
        "first": values_equal(runs["first"].values, naive.values),
        "second": values_equal(runs["second"].values, naive.values),
        "changed": values_equal(runs["changed"].values, naive_after),
    }
    if day is not None:
        mismatches["day"] = values_equal(day.final_values, day.naive_values)
    # Paging a search's items to count them stops at GitHub's 1,000 results a query: that
    # rung is inexact by design (why counts are asked of the server), so it is only reported.
    variant_mismatches = {
        label: values_equal(run.values, naive.values) for label, run in variants.items()
    }
    inexact = {label: keys for label, keys in variant_mismatches.items() if keys}
    mismatches |= {label: variant_mismatches[label] for label in variants if label in EXACT_RUNGS}
    values_match = not any(mismatches.values())
    targets = check_targets(runs, floor, params, values_match, day)
    order = [runs[n] for n in ("naive", "first", "replay", "second", "second_replay", "changed")]
    result: dict[str, Any] = {run.name: run.as_json() for run in order}
    result |= {
        "floor": floor,
        "per_tracker": per_tracker_ratios(runs, floor),
        "attribution": attribution(variants, runs),
        "inexact_variants": inexact,
        "overhead": overhead_figures(runs, floor),
        "peak_rss_mb": round(max(run.peak_rss_mb for run in runs.values()), 1),
        "sandbox_peak_rss_mb": round(sandbox_peak, 1),
        "values_match": values_match,
        "targets": targets,
        "parameters": {**vars(params), "fresh_process_per_run": True},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if day is not None:
        result["day"] = day.as_json()
    if not values_match:
        result["mismatches"] = mismatches
    output.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(render_table(order, floor))
    print()
    print(render_floors(runs, floor))
    print()
    print(render_attribution(result["attribution"]))
    print()
    print(render_checks([runs["second"], runs["changed"]]))
    print()
    if day is not None:
        print(render_day(day))
        print()
    for name, target in targets.items():
        verdict = "met" if target["met"] else "MISSED"
        if not target["judged"]:
            verdict += " (not judged at this scale / latency)"
        if target["ratio"] is None:
            print(f"{name}: {verdict}")
        else:
            print(f"{name}: {target['ratio']:.3f} (target <= {target['target']:.3f}) {verdict}")
    overhead = result["overhead"]
    if overhead["replay_wall_vs_floor"] is not None:
        print(
            f"the first run's requests replayed by a bare client: "
            f"{overhead['replay_wall_vs_floor']:.2f}x the floor; the first run: "
            f"{overhead['first_wall_vs_replay']:.2f}x the replay (okr-sync's own share)"
        )
    print(
        f"nothing changed: {runs['second'].wall_s:.2f} s, its requests replayed by a bare "
        f"client {overhead['second_replay_wall_s']:.2f} s"
    )
    print(f"peak RSS of the sandbox process: {sandbox_peak:.0f} MB")
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
    parser.add_argument(
        "--latency",
        "--latency-ms",
        dest="latency_ms",
        type=float,
        default=DEFAULT_LATENCY_MS,
        metavar="MS",
        help="latency the sandbox adds to every request (default 20 ms)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=20.0,
        help="shortens GitHub's one-minute search window (20: 30 searches per 3 s)",
    )
    parser.add_argument("--changed", type=float, default=0.01, help="share of items changed")
    parser.add_argument(
        "--jira-flavour",
        choices=("cloud", "server"),
        default="cloud",
        help="the Jira the sandbox serves: Cloud (search/jql) or Server/DC (search, startAt)",
    )
    parser.add_argument(
        "--no-ladder",
        action="store_true",
        help="measure the naive way only, not its variants (no attribution rows)",
    )
    parser.add_argument(
        "--naive-streaming",
        action="store_true",
        help="the naive way reads PyGithub's lists page by page, keeping none (same requests; "
        f"always above --scale {PLAIN_NAIVE_MAX_SCALE:g}, where PyGithub's kept lists would "
        "not fit)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="default: bench/results.json, or results-scale5.json, results-latency200.json, "
        "results-jira-server.json, ...",
    )
    parser.add_argument(
        "--day",
        action="store_true",
        help=f"then a day of runs: {RUNS_PER_DAY} runs 30 minutes apart under churn, "
        "one a full refresh, against as many naive runs",
    )
    parser.add_argument(
        "--day-runs",
        type=int,
        default=None,
        metavar="N",
        help=f"the day's number of runs (default {RUNS_PER_DAY}; implies --day)",
    )
    args = parser.parse_args(argv)
    if args.day_runs is not None and args.day_runs < 1:
        parser.error("--day-runs must be at least 1")
    day_runs = args.day_runs if args.day_runs is not None else RUNS_PER_DAY if args.day else 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    params = Parameters(
        scale=args.scale,
        key_results=args.key_results,
        latency_ms=args.latency_ms,
        time_scale=args.time_scale,
        changed_fraction=args.changed,
        day_runs=day_runs,
        jira_flavour=args.jira_flavour,
        naive_streaming=args.naive_streaming,
    )
    output = args.output or default_output(args.scale, args.latency_ms, args.jira_flavour)
    return run_benchmark(params, output, ladder=not args.no_ladder)
