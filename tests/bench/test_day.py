"""A day of runs (bench/day.py): its bookkeeping, and end to end at a tiny scale.

No timing is asserted: the day's figures are requests, counted by the sandbox.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.day import CADENCE, DAY_MARGIN_S, FULL_REFRESH_RUN, DayFigures, run_day
from bench.fresh_process import RunJob, settings_for
from bench.naive import Credentials
from bench.runner import RunFigures, main

AS_OF = datetime(2026, 11, 29, 12, tzinfo=UTC)
CREDENTIALS = Credentials("http://jira", "a@b.c", "t", "http://github", "t")


class CountingChanger:
    """Stands in for the sandbox: remembers the seeds it was asked to change items with."""

    def __init__(self) -> None:
        self.seeds: list[int] = []

    def change_items(self, fraction: float, seed: int) -> dict[str, int]:
        self.seeds.append(seed)
        return {"jira": 2, "github": 1}


def _figures(name: str, jira: int, github: int, values: dict[str, float | None]) -> RunFigures:
    requests = {"jira": jira, "github": github, "total": jira + github}
    return RunFigures(name, requests, {}, 0.1, 50.0, values=values)


def test_the_day_sums_its_runs_and_multiplies_one_naive_run() -> None:
    changer = CountingChanger()
    jobs: list[RunJob] = []

    def measure(name: str, job: RunJob) -> RunFigures:
        jobs.append(job)
        if job.kind == "naive":
            return _figures(name, 100, 40, {"kr": 3.0})
        number = len(jobs)
        jira = 50 if job.full_refresh else number  # the full refresh asks the most
        return _figures(name, jira, 10, {"kr": float(number)})

    sync_job = RunJob("sync", CREDENTIALS, "", AS_OF, {"jira": 1, "github": 1}, "sqlite://")
    naive_job = RunJob("naive", CREDENTIALS, "", AS_OF, {"jira": 1, "github": 1})
    day = run_day(changer, sync_job, naive_job, measure, runs=4, seed=70)

    assert [run.number for run in day.runs] == [1, 2, 3, 4]
    assert [job.kind for job in jobs] == ["sync"] * 4 + ["naive"]
    # Half an hour apart, from the job's as_of; the naive way reads the last run's moment.
    assert [run.as_of for run in day.runs] == [AS_OF + n * CADENCE for n in range(1, 5)]
    assert jobs[-1].as_of == AS_OF + 4 * CADENCE == AS_OF + timedelta(hours=2)
    # Fresh items change before every run, each time others.
    assert changer.seeds == [71, 72, 73, 74]
    assert [run.full_refresh for run in day.runs] == [n == FULL_REFRESH_RUN for n in range(1, 5)]
    assert [job.full_refresh for job in jobs].count(True) == 1
    # Runs seconds apart keep a margin of seconds, not the default ten minutes.
    assert {job.margin_s for job in jobs[:-1]} == {DAY_MARGIN_S}
    # Requests summed from the runs (50 + 2 + 3 + 4 Jira, 10 each GitHub); naive x runs.
    assert day.requests == {"jira": 59, "github": 40, "total": 99}
    assert day.naive_requests == {"jira": 400, "github": 160, "total": 560}
    assert day.ratio == pytest.approx(99 / 560)
    # The last run's values are compared with the naive way's on the final data.
    assert day.final_values == {"kr": 4.0}
    assert day.naive_values == {"kr": 3.0}
    summary = day.as_json()
    assert summary["runs"] == 4
    assert summary["full_refresh_runs"] == [FULL_REFRESH_RUN]
    assert summary["incremental_run_requests"] == {"min": 12, "median": 13, "max": 14}


def test_a_run_told_to_refresh_finds_every_entry_due_and_keeps_the_margin_it_is_given() -> None:
    plain = RunJob("sync", CREDENTIALS, "", AS_OF, {"jira": 1, "github": 1}, "sqlite://")
    defaults = settings_for(plain).incremental
    refresh = settings_for(replace(plain, full_refresh=True, margin_s=2.0)).incremental
    assert refresh.full_refresh_every == 0 < defaults.full_refresh_every
    assert refresh.margin_s == 2.0 != defaults.margin_s
    assert refresh.enabled and refresh.prune_after == defaults.prune_after


def test_a_day_without_its_full_refresh_is_not_counted_as_one() -> None:
    day = DayFigures([], {"jira": 1, "github": 1, "total": 2}, {}, {})
    assert day.requests == {"jira": 0, "github": 0, "total": 0}
    assert day.as_json()["full_refresh_runs"] == []


@pytest.mark.slow
def test_a_tiny_day_end_to_end(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    code = main(
        [
            "--scale",
            "0.05",
            "--latency",
            "0",
            "--time-scale",
            "60",
            "--no-ladder",
            "--day-runs",
            "3",
            "--output",
            str(output),
        ]
    )
    results = json.loads(output.read_text())
    assert code == 0
    assert results["values_match"] is True  # the day's last run included
    day = results["day"]
    runs = day["per_run"]
    assert day["runs"] == len(runs) == 3
    for key in ("jira", "github", "total"):
        assert day["requests"][key] == sum(run["requests"][key] for run in runs)
        assert day["naive_requests"][key] == 3 * day["naive_requests_per_run"][key]
    assert day["requests"]["total"] == day["requests"]["jira"] + day["requests"]["github"]
    # Items changed before every run, in both trackers.
    assert all(run["changed"]["jira"] >= 1 and run["changed"]["github"] >= 1 for run in runs)
    # One full refresh: every unit fetched in full there, and only there.
    assert day["full_refresh_runs"] == [FULL_REFRESH_RUN]
    refresh = [run for run in runs if run["full_refresh"]]
    assert len(refresh) == 1
    assert refresh[0]["units"]["cached"] == refresh[0]["units"]["incremental"] == 0
    assert "jira change feed" not in refresh[0]["cache_checks"]  # nothing held: nothing asked
    for run in runs:
        if not run["full_refresh"]:
            assert run["units"]["cached"] + run["units"]["incremental"] > 0
            assert run["requests"]["total"] < refresh[0]["requests"]["total"]
            assert run["cache_checks"]["jira change feed"] == 1
    as_ofs = [datetime.fromisoformat(run["as_of"]) for run in runs]
    assert [b - a for a, b in itertools.pairwise(as_ofs)] == [CADENCE, CADENCE]
    # Fewer requests than as many naive runs; judged only as the 48 runs.
    assert day["requests"]["total"] < day["naive_requests"]["total"]
    assert results["targets"]["day_requests_vs_naive"]["judged"] is False
    assert "mismatches" not in results
