"""The organization benchmark (issue 16) works end to end at a small scale: the team files
share the company's queries, the files synced together ask fewer requests than each alone,
with the same values. No timing is asserted."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from bench.namespaces import main, team_files
from bench.runner import Parameters, build_mapping


def _key_results(text: str) -> list[str]:
    document = yaml.safe_load(text)
    return [kr["id"] for objective in document["objectives"] for kr in objective["key_results"]]


def test_fifty_team_files_split_the_company_with_overlap() -> None:
    company = build_mapping(Parameters(), date(2026, 11, 20))
    files = team_files(company, 50, 20)
    assert len(files) == 50 and sorted(files)[0] == "team-00"
    read = {name: _key_results(text) for name, text in files.items()}
    assert all(len(ids) == len(set(ids)) == 20 for ids in read.values())
    assert sum(map(len, read.values())) == 1000
    assert set().union(*read.values()) == set(_key_results(company))  # every one read
    assert set(read["team-00"]) & set(read["team-01"])  # neighbours share a project's
    assert not set(read["team-00"]) & set(read["team-10"])


@pytest.mark.slow
def test_small_organization_benchmark_shares_requests_with_the_same_values(
    tmp_path: Path, postgres_server: str
) -> None:
    """Both ways, and 1 and 2 shard processes on one PostgreSQL store (a schema each run)."""
    output = tmp_path / "results-namespaces.json"
    code = main(
        [
            "--namespaces",
            "20",
            "--per-team",
            "20",
            "--scale",
            "0.05",
            "--latency",
            "0",
            "--time-scale",
            "60",
            "--output",
            str(output),
            "--shards",
            "1",
            "2",
        ]
    )
    results = json.loads(output.read_text())
    assert code == 0
    assert results["values_match"] is True and results["failed"] == []
    assert results["key_results"] == 400 and results["distinct_queries"] < 400
    for way in ("together_first", "alone_first", "together_second", "alone_second", "daemon_first"):
        requests = results[way]["requests"]
        assert requests["total"] == requests["jira"] + requests["github"] > 0
    assert (
        results["together_first"]["requests"]["total"] < results["alone_first"]["requests"]["total"]
    )
    assert results["alone_vs_together"]["first"] > 1
    # a daemon's pass over the files costs what their sync costs (values: values_match)
    for run in ("first", "second"):
        assert results[f"daemon_{run}"]["requests"] == results[f"together_{run}"]["requests"]
    shards = results["shards"]
    assert [shard["processes"] for shard in shards] == [1, 2]
    for shard in shards:  # their values are the files-together run's (values_match above)
        assert shard["failed"] == 0 and shard["requests"]["total"] > 0
        assert shard["requests"]["total"] >= results["together_first"]["requests"]["total"]
