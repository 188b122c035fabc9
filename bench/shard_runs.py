"""The organization benchmark's shards (issue 16): the teams' files synced by 1, 2 and 4
processes at once, each `sync --config DIR --shard I/N` into one PostgreSQL store, as the
pods of a Kubernetes Indexed Job do. Wall time is from the first process's start to the
last one's end (interpreter start-ups included); requests are what the sandbox counted.

Each process is a freshly spawned interpreter that loads the files, keeps its shard's
namespaces (`config.shards`) and syncs them (`sync.file_runs.run_files`), as the command
does. On a 2-core machine, more processes overlap their waits for the trackers; they cannot
add CPU, and the sandbox answering them shares the same two cores.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.fresh_process import RunJob, settings_for
from bench.naive import Credentials
from bench.remote_sandbox import RemoteSandbox
from bench.replicas import postgres_schema
from bench.runner import request_counts_of
from config.files import load_mapping_files
from config.shards import Shard
from sync.file_runs import run_files
from sync.store import Store


@dataclass(frozen=True)
class ShardJob:
    """One process's part, picklable: its shard, the files' folder and how to reach all."""

    shard: Shard
    folder: Path
    credentials: Credentials
    as_of: datetime
    concurrency: dict[str, int]
    database_url: str


def sync_shard(job: ShardJob) -> int:
    """In the spawned process: what `sync --config DIR --shard I/N` does; failed key results."""
    files = [
        file
        for file in load_mapping_files(job.folder, today=job.as_of.date()).files
        if job.shard.holds(file.namespace)
    ]
    run = RunJob("sync", job.credentials, "", job.as_of, job.concurrency, job.database_url)
    store = Store(job.database_url)
    try:
        runs = run_files(settings_for(run), files, store, as_of=job.as_of)
    finally:
        store.close()
    return sum(1 for each in runs for kr in each.report.key_results if kr.error is not None)


@dataclass(frozen=True)
class ShardFigures:
    processes: int
    requests: dict[str, int]
    wall_s: float
    values: dict[str, float | None]
    failed: int

    def as_json(self) -> dict[str, object]:
        return {
            "processes": self.processes,
            "requests": self.requests,
            "wall_s": round(self.wall_s, 3),
            "failed": self.failed,
        }


def sync_in_shards(
    processes: int,
    folder: Path,
    credentials: Credentials,
    as_of: datetime,
    concurrency: dict[str, int],
    box: RemoteSandbox,
) -> ShardFigures:
    """A first run of every file by `processes` shard processes into a fresh schema."""
    with postgres_schema() as url:
        store = Store(url)
        store.migrate()  # before the processes start: their start-up is what is measured
        jobs = [
            ShardJob(Shard(index, processes), folder, credentials, as_of, concurrency, url)
            for index in range(processes)
        ]
        box.reset_counts()
        began = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            failed = sum(pool.map(sync_shard, jobs))
        wall = time.perf_counter() - began
        requests, _ = request_counts_of(box)
        values = {
            f"{ns}/{kr.id}": kr.value
            for ns in store.namespaces()
            for kr in store.in_namespace(ns).all_key_results()
        }
        store.close()
    return ShardFigures(processes, requests, wall, values, failed)
