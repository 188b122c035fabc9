"""A day of runs: okr-sync every 30 minutes under churn, with the daily full refresh.

Issue #14 asks what a day costs, not one run: 48 runs at a 30-minute cadence, 1% of the
items changed an hour (0.5% before each run, with the `changed` run's change kinds,
bench/changes.py), and the daily full refresh (`full_refresh_every`, a day by default)
falling on one of them. The day follows the benchmark's `changed` run, on its store and
sandbox. Each run's `as_of` (the plan's dates and windows, scoring) advances 30 minutes; the
engine's incremental side reads the real clock, so the day's one full refresh is that run
being told every cached entry is due (`RunJob.full_refresh`), the first of the day, so the
day ends on 47 incremental runs whose last values must equal the naive way's.

The day is also compressed in real time: its runs follow one another seconds apart, so the
change feeds' default margin (`margin_s`, 600 s, for clock skew and search-index lag) would
reach back over every earlier run of the day and re-read all the day's changes each run
(measured at scale 0.05: 39 requests a run rising to 50 after 10 runs, flat at 38-39 with
the margin below). The sandbox shares the benchmark's clock and has no index lag, so the
day's runs keep a margin of `DAY_MARGIN_S`, enough for the changes' stamps (cut to the
second); a real day's margin is a third of its 30-minute gap, the same reach. Jira's feed
asks in whole minutes (`updated >= -1m`), so it still reads about a minute of the
compressed day's changes: an over-count, never an under-count.

The naive way's requests do not depend on churn beyond a few pages (created, deleted and
moved items): one naive run is measured on the day's final data, with the last run's
`as_of`, and a day of it is 48 times that; its values are the reference for the last run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any, Protocol

from bench.fresh_process import RunJob

if TYPE_CHECKING:
    from bench.runner import RunFigures

CADENCE = timedelta(minutes=30)
RUNS_PER_DAY = 48
CHURN_PER_RUN = 0.005  # 1% of the items an hour, at two runs an hour
FULL_REFRESH_RUN = 1  # which run of the day is the full refresh
DAY_MARGIN_S = 2.0  # the change feeds' margin between runs seconds apart (see above)
TRACKER_KEYS = ("jira", "github", "total")

Measure = Callable[[str, RunJob], "RunFigures"]


class ItemChanger(Protocol):
    """What the day needs of the sandbox (`RemoteSandbox`): change a share of its items."""

    def change_items(self, fraction: float, seed: int) -> dict[str, int]: ...


@dataclass(frozen=True)
class DayRun:
    """One run of the day: what changed before it, what it asked, how its units were answered."""

    number: int
    as_of: datetime
    full_refresh: bool
    changed: dict[str, int]
    requests: dict[str, int]
    units: dict[str, int] | None
    checks: dict[str, int]  # requests per stage of telling what changed

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.number,
            "as_of": self.as_of.isoformat(),
            "full_refresh": self.full_refresh,
            "changed": self.changed,
            "requests": self.requests,
            "units": self.units,
            "cache_checks": self.checks,
        }


@dataclass
class DayFigures:
    runs: list[DayRun]
    naive_per_run: dict[str, int]  # one naive run on the day's final data
    final_values: dict[str, float | None]  # the day's last run
    naive_values: dict[str, float | None]  # the naive way's, on the same data and as_of

    @property
    def requests(self) -> dict[str, int]:
        """The day's requests: the sum of its runs', per tracker."""
        return {key: sum(run.requests[key] for run in self.runs) for key in TRACKER_KEYS}

    @property
    def naive_requests(self) -> dict[str, int]:
        """As many naive runs as the day has runs, each as the one measured."""
        return {key: self.naive_per_run[key] * len(self.runs) for key in TRACKER_KEYS}

    @property
    def ratio(self) -> float:
        naive = self.naive_requests["total"]
        return self.requests["total"] / naive if naive else float("inf")

    def incremental_runs(self) -> list[DayRun]:
        return [run for run in self.runs if not run.full_refresh]

    def as_json(self) -> dict[str, Any]:
        incremental = [run.requests["total"] for run in self.incremental_runs()]
        return {
            "runs": len(self.runs),
            "requests": self.requests,
            "naive_requests": self.naive_requests,
            "naive_requests_per_run": self.naive_per_run,
            "requests_vs_naive": round(self.ratio, 4),
            "cadence_minutes": CADENCE.total_seconds() / 60,
            "churn_per_run": CHURN_PER_RUN,
            "margin_s": DAY_MARGIN_S,
            "full_refresh_runs": [run.number for run in self.runs if run.full_refresh],
            "incremental_run_requests": {
                "min": min(incremental, default=0),
                "median": median(incremental) if incremental else 0,
                "max": max(incremental, default=0),
            },
            "per_run": [run.as_json() for run in self.runs],
        }


def run_day(
    box: ItemChanger,
    sync_job: RunJob,
    naive_job: RunJob,
    measure: Measure,
    *,
    runs: int = RUNS_PER_DAY,
    churn: float = CHURN_PER_RUN,
    seed: int = 0,
) -> DayFigures:
    """`runs` okr-sync runs, each after `churn` of the items changed and 30 minutes on from
    `sync_job.as_of`; then the naive way once on the final data."""
    day: list[DayRun] = []
    last: RunFigures | None = None
    for number in range(1, runs + 1):
        changed = box.change_items(churn, seed=seed + number)
        job = replace(
            sync_job,
            as_of=sync_job.as_of + number * CADENCE,
            full_refresh=number == FULL_REFRESH_RUN,
            margin_s=DAY_MARGIN_S,
        )
        last = measure(f"day run {number}", job)
        checks = {stage: cost.requests for stage, cost in last.checks.items()}
        day.append(
            DayRun(number, job.as_of, job.full_refresh, changed, last.requests, last.modes, checks)
        )
        kind = "full refresh" if job.full_refresh else "incremental"
        print(
            f"  day run {number}/{runs} ({kind}): changed {changed['jira']} Jira issues and "
            f"{changed['github']} GitHub items, {last.requests['total']} requests",
            flush=True,
        )
    assert last is not None, "a day has at least one run"
    print("  the naive way once, on the day's final data ...", flush=True)
    naive = measure("day naive", replace(naive_job, as_of=day[-1].as_of))
    return DayFigures(day, naive.requests, last.values, naive.values)


def render_day(figures: DayFigures) -> str:
    """The day in one table: okr-sync's runs against as many naive runs."""
    requests, naive = figures.requests, figures.naive_requests
    incremental = [run.requests["total"] for run in figures.incremental_runs()]
    refresh = [run.requests["total"] for run in figures.runs if run.full_refresh]
    lines = [
        "| day | runs | requests | jira | github | full refresh | incremental run (median) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| okr-sync | {len(figures.runs)} | {requests['total']} | {requests['jira']} | "
        f"{requests['github']} | {sum(refresh)} | "
        f"{median(incremental) if incremental else 0:g} |",
        f"| naive ({len(figures.runs)} x {figures.naive_per_run['total']}) | "
        f"{len(figures.runs)} | {naive['total']} | {naive['jira']} | {naive['github']} | | |",
    ]
    return "\n".join(lines) + f"\n\nday / naive: {figures.ratio:.4f} (target <= 0.05)"
