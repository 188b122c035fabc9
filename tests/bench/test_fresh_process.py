"""A measured run's peak RSS is its own process's, not the benchmark's."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import config
from bench.fresh_process import RunJob, peak_rss_mb, run_in_fresh_process
from bench.naive import Credentials

DEMO = Path(config.__file__).resolve().parent / "examples" / "demo.yaml"
NOWHERE = Credentials("http://127.0.0.1:9/jira", "e", "t", "http://127.0.0.1:9/github", "t")


def test_a_run_in_a_fresh_process_does_not_inherit_this_processs_peak() -> None:
    ballast = os.urandom(256 * 1024 * 1024)  # 256 MB this process touches and holds
    job = RunJob(
        "replay",  # nothing recorded: the child starts, loads the mapping, replays nothing
        NOWHERE,
        DEMO.read_text(),
        datetime(2026, 11, 1, tzinfo=UTC),
        {"jira": 1, "github": 1},
        sandbox_url="http://127.0.0.1:9",
    )
    figures = run_in_fresh_process(job)
    assert peak_rss_mb() > 256
    assert 0 < figures.peak_rss_mb < 200  # the child's own imports, not our ballast
    assert figures.failure is None and figures.values == {}
    assert len(ballast) == 256 * 1024 * 1024
