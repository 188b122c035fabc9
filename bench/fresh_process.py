"""Each measured run in a process of its own, so its figures are its own.

A run measured in the benchmark's own process inherits what earlier runs left there (the
replay, which holds one page at a time, reported the first run's peak). Here every run
(the naive way and its variants, okr-sync's runs, the replay) is a `RunJob` executed in a
freshly spawned interpreter: its wall and CPU time are measured around the run alone, and its
peak RSS is that process's own high-water mark (`peak_rss_mb`), read at the end (imports and
start-up included, nothing of another run).
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from bench.naive import Credentials, NaiveWay, Techniques
from bench.replay import Credentials as ReplayCredentials
from bench.replay import replay
from config.loader import load_mapping_text
from config.settings import GitHubSettings, JiraSettings, Settings
from connectors.changes import StageCost
from sandbox.recording import RecordedRequest
from sync.engine import run_sync
from sync.store import Store

RunKind = Literal["naive", "sync", "replay"]


@dataclass(frozen=True)
class RunJob:
    """Everything a run needs, picklable: the child builds its own clients from it."""

    kind: RunKind
    credentials: Credentials
    mapping_text: str
    as_of: datetime
    concurrency: dict[str, int]
    database_url: str = ""
    techniques: Techniques = field(default_factory=Techniques)
    naive_streaming: bool = False  # the naive way reads PyGithub's lists page by page
    recorded: tuple[RecordedRequest, ...] = ()
    sandbox_url: str = ""  # the replay's base address
    full_refresh: bool = False  # every cached entry due (a day's daily refresh, bench/day.py)
    margin_s: float | None = None  # the change feeds' safety margin, if not the default


@dataclass
class JobFigures:
    """What the child measured; the parent adds the sandbox's request counts and CPU."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    values: dict[str, float | None] = field(default_factory=dict)
    modes: dict[str, int] | None = None
    checks: dict[str, StageCost] = field(default_factory=dict)
    failure: str | None = None


def peak_rss_mb() -> float:
    """This process's own peak RSS.

    On Linux the high-water mark of this process's memory (VmHWM). `ru_maxrss` would not do:
    a spawned child is forked from the benchmark before it executes a new interpreter, and
    the kernel keeps the forked image's peak (the benchmark's whole RSS) in `ru_maxrss`
    across the exec. Elsewhere `ru_maxrss` (KiB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def settings_for(job: RunJob) -> Settings:
    creds = job.credentials
    jira = JiraSettings.model_validate(
        {
            "url": creds.jira_url,
            "email": creds.jira_email,
            "token": SecretStr(creds.jira_token),
            "flavour": creds.jira_flavour,
            "max_concurrency": job.concurrency["jira"],
        }
    )
    github = GitHubSettings.model_validate(
        {
            "base_url": creds.github_url,
            "token": SecretStr(creds.github_token),
            "max_concurrency": job.concurrency["github"],
        }
    )
    settings = Settings(_env_file=None, jira=jira, github=github, database_url=job.database_url)
    updates: dict[str, float] = {}
    if job.full_refresh:
        # The engine's incremental side reads the real clock, so a day's full refresh cannot
        # come from 24 simulated hours passing: this run is told every cached entry is due.
        updates["full_refresh_every"] = 0.0
    if job.margin_s is not None:
        updates["margin_s"] = job.margin_s
    if updates:
        incremental = settings.incremental.model_copy(update=updates)
        settings = settings.model_copy(update={"incremental": incremental})
    return settings


def execute(job: RunJob) -> JobFigures:
    """The child's side: one run, timed, then this process's peak RSS."""
    mapping = load_mapping_text(
        job.mapping_text, source_name="bench company", today=job.as_of.date()
    )
    began_cpu, began = time.process_time(), time.perf_counter()
    figures = JobFigures(0.0, 0.0, 0.0)
    if job.kind == "naive":
        way = NaiveWay(job.credentials, job.techniques, streaming=job.naive_streaming)
        figures.values = way.values(mapping, as_of=job.as_of)
    elif job.kind == "replay":
        creds = job.credentials
        replay(
            job.sandbox_url,
            list(job.recorded),
            concurrency=job.concurrency,
            credentials=ReplayCredentials(creds.jira_email, creds.jira_token, creds.github_token),
        )
    else:
        store = Store(job.database_url)
        report = run_sync(settings_for(job), mapping, store, as_of=job.as_of)
        store.close()
        figures.values = {o.plan.key_result.id: o.value for o in report.key_results}
        figures.modes = report.cache_units
        figures.checks = report.cache_checks
        if report.failed:
            first = report.failed[0]
            figures.failure = (
                f"{len(report.failed)} key results failed, e.g. "
                f"{first.plan.key_result.id}: {first.error}"
            )
    figures.wall_s = time.perf_counter() - began
    figures.cpu_s = time.process_time() - began_cpu
    figures.peak_rss_mb = peak_rss_mb()
    return figures


def run_in_fresh_process(job: RunJob) -> JobFigures:
    """Spawn a new interpreter (never fork: nothing of this process is inherited), run."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(execute, job).result()
