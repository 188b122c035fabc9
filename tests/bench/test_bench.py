"""The benchmark works end to end at a small scale: every run's values equal the naive way's.

No timing is asserted: figures are the benchmark's business, behaviour is the test's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.runner import default_output, main


@pytest.mark.slow
def test_small_benchmark_writes_results_and_values_match(tmp_path: Path) -> None:
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
            "--output",
            str(output),
        ]
    )
    results = json.loads(output.read_text())
    assert code == 0
    assert results["values_match"] is True
    for run in ("naive", "first", "replay", "second", "second_replay", "changed"):
        figures = results[run]
        assert (
            figures["requests"]["total"]
            == figures["requests"]["jira"] + figures["requests"]["github"]
        )
        assert figures["wall_s"] > 0 and figures["peak_rss_mb"] > 0
        assert figures["cpu_s"] >= 0 and figures["sandbox_cpu_s"] >= 0
    # Each run in a process of its own: the replay's peak is not the first run's.
    for run in ("naive", "first"):  # both processes did real work for these
        assert results[run]["cpu_s"] > 0 and results[run]["sandbox_cpu_s"] > 0
    assert results["floor"]["requests"]["total"] > 0
    floor = results["floor"]
    for tracker in ("jira", "github"):
        assert floor["per_tracker"][tracker]["requests"] > 0
        assert floor["per_tracker"][tracker]["wall_s"] >= 0
        assert results["per_tracker"][tracker]["first_vs_naive"] > 0
    assert (
        sum(floor["per_tracker"][t]["requests"] for t in ("jira", "github"))
        == (floor["requests"]["total"])
    )
    # A floor no exact client goes below: okr-sync's first run does not, tracker by tracker.
    for tracker in ("jira", "github"):
        assert floor["per_tracker"][tracker]["requests"] <= results["first"]["requests"][tracker]
    assert results["parameters"]["latency_ms"] == 0
    assert results["parameters"]["fresh_process_per_run"] is True
    assert results["parameters"]["naive_streaming"] is False  # PyGithub's lists kept, as written
    # The naive way (the libraries alone) asks more than okr-sync, tracker by tracker.
    for tracker in ("jira", "github"):
        assert results["naive"]["requests"][tracker] > results["first"]["requests"][tracker]
    assert [row["row"] for row in results["attribution"]] == [
        "naive",
        "okr-sync first run",
        "okr-sync, nothing changed (incremental)",
    ]
    assert results["targets"]["values_match"]["met"] is True
    # The replay sent exactly the first run's requests, endpoint by endpoint.
    assert results["replay"]["requests_by_endpoint"] == results["first"]["requests_by_endpoint"]
    assert results["overhead"]["first_wall_vs_replay"] > 0
    # So did the replay of the run where nothing changed: its wall is the trackers' share.
    second_replay = results["second_replay"]["requests_by_endpoint"]
    assert second_replay == results["second"]["requests_by_endpoint"]
    assert results["overhead"]["second_wall_vs_replay"] > 0
    assert results["parameters"]["jira_issues"] == 1000
    # The cache did its work: the repeat runs asked far less than the first.
    assert results["second"]["requests"]["total"] < results["first"]["requests"]["total"] / 2
    # Only the counts that may include issues and are not of repositories alone
    # (bench/company.py: the company's two `org:` issue searches) are asked again every run,
    # as a deleted issue leaves no trace; each of the 20 repositories' open customer issues
    # is checked in the membership check's batches instead.
    asked_again = 2
    assert results["second"]["units"]["full"] == asked_again
    assert results["second"]["units"]["incremental"] == 0
    # What keeping the cache exact costs, stage by stage; nothing changed, so nothing else.
    checks = results["second"]["cache_checks"]
    assert checks["jira change feed"]["requests"] == 1
    assert checks["github change feed"]["requests"] == 1
    assert checks["jira membership check"]["requests"] >= 1
    assert checks["github membership check"]["requests"] >= 1
    assert "jira changed issues" not in checks
    second = results["second"]["requests"]
    spent = sum(stage["requests"] for stage in checks.values())
    assert spent + asked_again == second["total"]  # and the issue counts asked every run


@pytest.mark.slow
def test_the_benchmark_runs_against_jira_server(tmp_path: Path) -> None:
    """`--jira-flavour server`: the sandbox serves Server/DC's `search` (startAt, 1,000 a
    page), okr-sync and the libraries use it, the floor pages by 1,000, values match."""
    output = tmp_path / "results-jira-server.json"
    code = main(
        [
            "--scale",
            "0.05",
            "--latency",
            "0",
            "--time-scale",
            "60",
            "--no-ladder",
            "--jira-flavour",
            "server",
            "--output",
            str(output),
        ]
    )
    results = json.loads(output.read_text())
    assert code == 0
    assert results["values_match"] is True
    assert results["parameters"]["jira_flavour"] == "server"
    for run in ("naive", "first", "second", "changed"):
        endpoints = results[run]["requests_by_endpoint"]
        assert "jira search/jql" not in endpoints and "jira jql/match" not in endpoints, run
    for run in ("naive", "first"):
        assert results[run]["requests_by_endpoint"]["jira search"] > 0
    assert results["floor"]["per_tracker"]["jira"]["requests"] > 0
    for tracker in ("jira", "github"):  # a floor no exact client goes below
        floor = results["floor"]["per_tracker"][tracker]["requests"]
        assert floor <= results["first"]["requests"][tracker], tracker
    assert results["second"]["requests"]["total"] < results["first"]["requests"]["total"]


def test_results_are_named_after_what_differs_from_the_default() -> None:
    assert default_output(1, 20).name == "results.json"
    assert default_output(1, 20, "server").name == "results-jira-server.json"
    assert default_output(5, 20).name == "results-scale5.json"
    assert default_output(20, 200, "server").name == "results-scale20-latency200-jira-server.json"
