"""`python -m bench.replicas`: wall time for 1, 2 and 4 daemon replicas to sync every
namespace once, on one PostgreSQL store, against the sandbox answering each request late
(as a remote tracker does).

Each namespace (a mapping file) has two count key results of its own queries, so no answer
is shared between files; the time is from the first run's start to the last run's end, as
`sync_runs` holds them, and each namespace must be synced exactly once. On a 2-core machine
this shows the replicas overlapping their waits for the trackers, not CPU-bound scaling.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import create_engine, text

from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.store import Store

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "OKRSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def mapping_file(index: int, today: datetime) -> str:
    start, end = (today - timedelta(days=60)).date(), (today + timedelta(days=30)).date()
    krs = "".join(
        f"""
      - id: created-{n}
        title: Created in the last {index * 2 + n + 1} days
        target: 1000
        metric: {{type: count, jql: 'project = APP AND created >= -{index * 2 + n + 1}d'}}"""
        for n in range(2)
    )
    return f"""
version: 1
namespace: team-{index:02d}
period: {{start: {start}, end: {end}}}
objectives:
  - id: delivery
    title: Delivery of team {index}
    key_results:{krs}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_schema(prefix: str = "okrsync_bench") -> Iterator[str]:
    """A store of its own on the PostgreSQL server: a fresh schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(box: Sandbox, replicas: int, namespaces: int, workdir: Path) -> str:
    """Start `replicas` daemons on a fresh schema; one line of figures once all synced."""
    with postgres_schema() as url:
        return _measure(box, replicas, namespaces, workdir, url)


def _measure(box: Sandbox, replicas: int, namespaces: int, workdir: Path, url: str) -> str:
    folder = workdir / url.rsplit("%3D", 1)[1]
    folder.mkdir()
    for index in range(namespaces):
        (folder / f"team-{index:02d}.yaml").write_text(mapping_file(index, datetime.now(UTC)))
    store = Store(url)
    store.migrate()  # before the replicas start: their start-up is not measured
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
    env.update(box.settings_env(), OKRSYNC_DATABASE_URL=url, OKRSYNC_CONFIG=str(folder))
    env.update(OKRSYNC_SECRETS_DIR=str(workdir), PYTHONPATH=str(ROOT))
    children = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "daemon", "--every", "1h"],
            env={**env, "OKRSYNC_DAEMON__HEALTH_PORT": str(free_port())},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(replicas)
    ]
    try:
        deadline = time.monotonic() + 600
        while len(store.namespaces()) < namespaces:
            if time.monotonic() > deadline:
                raise TimeoutError("the replicas did not sync every namespace in 600 s")
            time.sleep(0.2)
        runs = [run for ns in store.namespaces() for run in store.in_namespace(ns).runs()]
    finally:
        for child in children:
            child.terminate()
            child.wait(timeout=60)
        store.close()
    span = max(r.finished_at for r in runs) - min(r.started_at for r in runs)
    assert len(runs) == namespaces, f"{len(runs)} runs of {namespaces} namespaces"
    return (
        f"{replicas} replica(s): {namespaces} namespaces synced once in "
        f"{span.total_seconds():.1f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--namespaces", type=int, default=24)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per request")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    box = build_sandbox(SandboxOptions(seed=7, latency_s=args.latency)).start()
    try:
        with TemporaryDirectory() as workdir:
            for replicas in args.replicas:
                print(measure(box, replicas, args.namespaces, Path(workdir)), flush=True)
    finally:
        box.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
