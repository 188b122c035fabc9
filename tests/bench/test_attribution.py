"""Attribution rows: each adds one technique and saves the difference from the row above."""

from __future__ import annotations

from bench.runner import RunFigures, attribution, default_output


def run(name: str, jira: int, github: int, wall: float) -> RunFigures:
    requests = {"jira": jira, "github": github, "total": jira + github}
    return RunFigures(name, requests, {}, wall, 100.0)


def test_each_row_saves_what_the_row_above_spent_more() -> None:
    ladder = {"naive": run("naive", 100, 50, 10.0), "+ shared queries": run("s", 60, 30, 6.0)}
    runs = {"first": run("first", 40, 20, 2.0), "second": run("second", 2, 3, 0.5)}
    rows = attribution(ladder, runs)
    assert [row["row"] for row in rows] == [
        "naive",
        "+ shared queries",
        "okr-sync first run",
        "okr-sync, nothing changed (incremental)",
    ]
    assert "saved_requests" not in rows[0]
    assert rows[1]["saved_requests"] == {"jira": 40, "github": 20, "total": 60}
    assert rows[2]["saved_requests"] == {"jira": 20, "github": 10, "total": 30}
    assert rows[3]["saved_requests"] == {"jira": 38, "github": 17, "total": 55}
    assert rows[3]["saved_wall_s"] == 1.5


def test_results_file_is_named_after_what_differs_from_the_default() -> None:
    assert default_output(1, 20).name == "results.json"
    assert default_output(5, 20).name == "results-scale5.json"
    assert default_output(1, 200).name == "results-latency200.json"
    assert default_output(20, 200).name == "results-scale20-latency200.json"
