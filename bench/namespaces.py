"""The organization benchmark (issue 16): many teams' mapping files over one company's
trackers, synced together (one `sync --config DIR`: a selector several files read is fetched
once) and each file alone (one sync per file, each with a store of its own, as a team running
okr-sync by itself would), with the same values both ways.

The teams' files are the benchmark's company (bench/company.py: 300 key results on 190
queries) split into `namespaces` files of `per_team` key results: each team reads a window
of the company's key results, the windows `300 / namespaces` apart, so neighbouring teams
share a project's queries (several teams on one project), and every query is read by a few
teams. 50 x 20 = 1,000 key results over the company's 190 distinct queries.

A daemon passes over the same files twice (`daemon_first`, `daemon_second`): each file under
its own lock, the pass planned over them all; values equal the files together's (an age's
mean older by no more than the seconds since: its runs are as of their own time).

Then the same first run by 1, 2 and 4 processes at once on one PostgreSQL store, each
`sync --shard I/N` (bench/shard_runs.py): wall time and requests (`shards`), values equal
the files-together run's. The other runs are in this process, one after another; requests
are what the sandbox counted (bench/remote_sandbox.py), wall times are figures only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.fresh_process import RunJob, settings_for
from bench.naive import Credentials
from bench.remote_sandbox import RemoteSandbox
from bench.runner import Parameters, build_mapping, request_counts_of, sandbox_spec, values_equal
from bench.shard_runs import ShardFigures, sync_in_shards
from config.files import LoadedMapping, load_mapping_files
from config.settings import Settings
from sandbox.server import SANDBOX_GITHUB_TOKEN, SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN
from sync.daemon import Daemon
from sync.daemon_schedule import file_groups
from sync.engine import SyncReport, run_sync
from sync.file_runs import run_files
from sync.metrics import CLOCK_FIELDS
from sync.plan import plan_queries
from sync.store import Store

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results-namespaces.json"
SHARD_PROCESSES = (1, 2, 4)
DAEMON_EVERY_S = 1.0


def team_files(company_text: str, namespaces: int, per_team: int) -> dict[str, str]:
    """`team-NN` -> its mapping file (YAML): `per_team` of the company's key results, from
    a window starting `len(pool) // namespaces` after the previous team's (wrapping round),
    under the objectives they belong to, aligned to nothing."""
    company = yaml.safe_load(company_text)
    pool = [(o, kr) for o in company["objectives"] for kr in o["key_results"]]
    if per_team > len(pool):
        raise ValueError(f"a team cannot read {per_team} of {len(pool)} key results")
    stride = max(1, len(pool) // namespaces)
    files = {}
    for team in range(namespaces):
        objectives: dict[str, dict[str, Any]] = {}
        for offset in range(per_team):
            objective, kr = pool[(team * stride + offset) % len(pool)]
            shown = objectives.setdefault(
                objective["id"],
                {
                    "id": objective["id"],
                    "title": objective["title"],
                    "level": "team",
                    "key_results": [],
                },
            )
            shown["key_results"].append(kr)
        document = {
            "version": 1,
            "period": company["period"],
            "objectives": list(objectives.values()),
        }
        files[f"team-{team:02d}"] = yaml.safe_dump(document, sort_keys=False, width=200)
    return files


@dataclass
class WayFigures:
    """One way of syncing the files: requests the sandbox counted, wall time, values."""

    requests: dict[str, int]
    endpoints: dict[str, int]
    wall_s: float
    values: dict[str, float | None]
    failed: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "requests_by_endpoint": self.endpoints,
            "wall_s": round(self.wall_s, 3),
            "failed": len(self.failed),
        }


def _outcomes(namespace: str, report: SyncReport, values: dict[str, float | None]) -> list[str]:
    """The report's values into `values` (by `namespace/id`); the ids that failed."""
    failed = []
    for outcome in report.key_results:
        ref = f"{namespace}/{outcome.plan.key_result.id}"
        values[ref] = outcome.value
        if outcome.error is not None:
            failed.append(ref)
    return failed


def sync_together(
    settings: Settings, files: list[LoadedMapping], url: str, box: RemoteSandbox, as_of: datetime
) -> WayFigures:
    """One `sync --config DIR`: every file planned together, each namespace its own run."""
    store = Store(url)
    store.migrate()
    box.reset_counts()
    began = time.perf_counter()
    runs = run_files(settings, files, store, as_of=as_of)
    wall = time.perf_counter() - began
    store.close()
    values: dict[str, float | None] = {}
    failed = [ref for run in runs for ref in _outcomes(run.file.namespace, run.report, values)]
    requests, endpoints = request_counts_of(box)
    return WayFigures(requests, endpoints, wall, values, failed)


def sync_alone(
    settings: Settings,
    files: list[LoadedMapping],
    folder: Path,
    box: RemoteSandbox,
    as_of: datetime,
) -> WayFigures:
    """One sync per file, each into a store of its own: nothing shared between files."""
    box.reset_counts()
    values: dict[str, float | None] = {}
    failed: list[str] = []
    wall = 0.0
    for file in files:
        store = Store(f"sqlite:///{folder / (file.namespace + '.db')}")
        store.migrate()
        began = time.perf_counter()
        report = run_sync(
            settings,
            file.mapping,
            store.in_namespace(file.namespace),
            config_path=str(file.path),
            as_of=as_of,
        )
        wall += time.perf_counter() - began
        store.close()
        failed += _outcomes(file.namespace, report, values)
    requests, endpoints = request_counts_of(box)
    return WayFigures(requests, endpoints, wall, values, failed)


def daemon_pass(daemon: Daemon, files: list[LoadedMapping], box: RemoteSandbox) -> WayFigures:
    """One pass of a daemon over the files (as of now, in a one-second slot of its own):
    each file under its own lock, the pass planned over them all (`sync.daemon_pass`)."""
    assert daemon.store is not None
    time.sleep(1.05)  # a slot of its own: nothing is fresh
    groups = file_groups(files, DAEMON_EVERY_S)
    daemon.schedule.apply(groups)
    box.reset_counts()
    began = time.perf_counter()
    daemon.sync(list(groups), files)
    wall = time.perf_counter() - began
    values: dict[str, float | None] = {}
    failed: list[str] = []
    for file in files:
        for row in daemon.store.in_namespace(file.namespace).all_key_results():
            values[f"{file.namespace}/{row.id}"] = row.value
            if row.last_error is not None:
                failed.append(f"{file.namespace}/{row.id}")
    requests, endpoints = request_counts_of(box)
    return WayFigures(requests, endpoints, wall, values, failed)


def clock_key_results(files: list[LoadedMapping]) -> set[str]:
    """The key results (`namespace/id`) whose value moves with the clock: an age's mean."""
    return {
        f"{file.namespace}/{kr.id}"
        for file in files
        for _, kr in file.mapping.key_results()
        if getattr(kr.metric, "field", None) in CLOCK_FIELDS
    }


def values_as_of_later(
    then: dict[str, float | None],
    later: dict[str, float | None],
    clock: set[str],
    slack_days: float,
) -> list[str]:
    """Key results whose values differ, `later` computed up to `slack_days` after `then`
    (a daemon's runs are as of their own time): equal, or for an age, older by at most that."""
    return sorted(
        k
        for k in set(then) | set(later)
        if (k in then) != (k in later)
        or (
            then.get(k) != later.get(k)
            and not (
                k in clock
                and (a := then.get(k)) is not None
                and (b := later.get(k)) is not None
                and 0 <= b - a <= slack_days
            )
        )
    )


def distinct_queries(files: list[LoadedMapping], as_of: datetime) -> tuple[int, int]:
    """(key results, distinct selectors) over every file: what sharing can save."""
    selectors = set()
    total = 0
    for file in files:
        plan = plan_queries(file.mapping, today=as_of.date())
        total += len(plan.key_results)
        selectors |= {m.selector for kr in plan.key_results for m in kr.metric_plans}
    return total, len(selectors)


def run_namespaces_benchmark(
    params: Parameters,
    namespaces: int,
    per_team: int,
    output: Path,
    shard_processes: tuple[int, ...] = SHARD_PROCESSES,
) -> int:
    """Both ways, twice each (a first run, then the next with the incremental cache);
    figures printed and written to `output`. Exit 1 when values differ or a run failed."""
    params = params.scaled()
    as_of = datetime.now(UTC).replace(microsecond=0)
    anchor = as_of - timedelta(hours=1)
    texts = team_files(build_mapping(params, as_of.date()), namespaces, per_team)
    concurrency = {"jira": params.jira_concurrency, "github": params.github_concurrency}
    with (
        RemoteSandbox(sandbox_spec(params, anchor)) as box,
        tempfile.TemporaryDirectory(prefix="okrsync-bench-ns-") as tmp,
    ):
        folder = Path(tmp) / "okrs"
        folder.mkdir()
        for name, text in texts.items():
            (folder / f"{name}.yaml").write_text(text)
        files = load_mapping_files(folder, today=as_of.date()).files
        key_results, selectors = distinct_queries(files, as_of)
        print(
            f"{len(files)} team files, {key_results} key results on {selectors} distinct "
            f"queries; {params.jira_issues} Jira issues, {params.github_pulls} pull requests, "
            f"{params.latency_ms:g} ms a request",
            flush=True,
        )
        credentials = Credentials(
            box.jira_url,
            SANDBOX_JIRA_EMAIL,
            SANDBOX_JIRA_TOKEN,
            box.github_url,
            SANDBOX_GITHUB_TOKEN,
            params.jira_flavour,
        )
        url = f"sqlite:///{Path(tmp) / 'together.db'}"
        settings = settings_for(RunJob("sync", credentials, "", as_of, concurrency, url))
        alone_folder = Path(tmp) / "alone"
        alone_folder.mkdir()
        ways: dict[str, WayFigures] = {}
        daemon = Daemon(settings, folder, every_s=DAEMON_EVERY_S, host="127.0.0.1", port=0)
        daemon.store = Store(f"sqlite:///{Path(tmp) / 'daemon.db'}")
        daemon.store.migrate()
        for run in ("first", "second"):
            ways[f"together_{run}"] = sync_together(settings, files, url, box, as_of)
            ways[f"alone_{run}"] = sync_alone(settings, files, alone_folder, box, as_of)
            ways[f"daemon_{run}"] = daemon_pass(daemon, files, box)
            for way in ("together", "alone", "daemon"):
                shown = ways[f"{way}_{run}"]
                print(
                    f"{run} run, {way:>8}: {shown.requests['total']:>6} requests "
                    f"(jira {shown.requests['jira']}, github {shown.requests['github']}), "
                    f"{shown.wall_s:.1f} s",
                    flush=True,
                )
        daemon.store.close()
        slack_days = (datetime.now(UTC) - as_of).total_seconds() / 86400
        clock = clock_key_results(files)
        shards: list[ShardFigures] = []
        for processes in shard_processes:
            shards.append(sync_in_shards(processes, folder, credentials, as_of, concurrency, box))
            print(
                f"first run, {processes} shard process(es) on PostgreSQL: "
                f"{shards[-1].requests['total']} requests, {shards[-1].wall_s:.1f} s",
                flush=True,
            )
    differing = sorted(
        {
            ref
            for run in ("first", "second")
            for ref in values_equal(ways[f"together_{run}"].values, ways[f"alone_{run}"].values)
        }
        | {
            ref
            for shard in shards
            for ref in values_equal(ways["together_first"].values, shard.values)
        }
        | {
            ref
            for run in ("first", "second")
            for ref in values_as_of_later(
                ways[f"together_{run}"].values, ways[f"daemon_{run}"].values, clock, slack_days
            )
        }
    )
    failed = sorted({ref for figures in ways.values() for ref in figures.failed})
    failed += [
        f"{shard.processes} shard process(es): {shard.failed}" for shard in shards if shard.failed
    ]
    ratio = {
        run: round(
            ways[f"alone_{run}"].requests["total"]
            / max(1, ways[f"together_{run}"].requests["total"]),
            2,
        )
        for run in ("first", "second")
    }
    results = {
        "parameters": {**vars(params), "namespaces": namespaces, "per_team": per_team},
        "key_results": key_results,
        "distinct_queries": selectors,
        **{name: figures.as_json() for name, figures in ways.items()},
        "alone_vs_together": ratio,
        "values_match": not differing,
        "differing": differing[:20],
        "failed": failed[:20],
        "shards": [shard.as_json() for shard in shards],
    }
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"each file alone made {ratio['first']}x the requests of the files together on a "
        f"first run, {ratio['second']}x on the next; values "
        f"{'identical' if not differing else 'DIFFER: ' + ', '.join(differing[:5])}"
    )
    print(f"written to {output}")
    return 0 if not differing and not failed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.namespaces", description=__doc__)
    parser.add_argument("--namespaces", type=int, default=50, help="team files")
    parser.add_argument("--per-team", type=int, default=20, help="key results a team file")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 20,000 issues, 5,000 PRs")
    parser.add_argument("--latency", type=float, default=20.0, help="ms a request")
    parser.add_argument("--time-scale", type=float, default=20.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--shards",
        type=int,
        nargs="*",
        default=list(SHARD_PROCESSES),
        metavar="N",
        help="shard processes on PostgreSQL to time (none: skip)",
    )
    args = parser.parse_args(argv)
    params = Parameters(scale=args.scale, latency_ms=args.latency, time_scale=args.time_scale)
    return run_namespaces_benchmark(
        params, args.namespaces, args.per_team, args.output, tuple(args.shards)
    )


if __name__ == "__main__":
    sys.exit(main())
