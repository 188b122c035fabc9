"""`make demo` as a newcomer runs it: the demo lands in a store of its own, so the store that
`sync` and the documented cron line write (`okrsync.db`) never holds made-up objectives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def checkout_like(workdir: Path) -> Path:
    """A folder laid out like a checkout (Makefile, run.py, the installed .venv), so the
    demo's files land there and not in the repository."""
    for name in ("Makefile", "run.py", "pyproject.toml"):
        shutil.copy(ROOT / name, workdir / name)
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    return workdir


def newcomer_env(workdir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OKRSYNC_")}
    empty = workdir / "no-secrets"
    empty.mkdir()
    env["OKRSYNC_SECRETS_DIR"] = str(empty)
    return env


def test_make_demo_writes_its_own_store_and_says_how_to_read_it(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make here")
    workdir = checkout_like(tmp_path)
    env = newcomer_env(tmp_path)
    # -o: the .venv is the repository's, installed already; never reinstall it from here.
    demo = subprocess.run(
        ["make", "-o", ".venv/.installed", "demo"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output
    assert "Traceback" not in output
    assert (workdir / "okrsync-demo.db").is_file()
    assert not (workdir / "okrsync.db").exists(), "the demo wrote into the default store"
    told = [
        line.strip()
        for line in demo.stdout.splitlines()
        if line.strip().startswith("OKRSYNC_DATABASE_URL=") and line.endswith("run.py status")
    ]
    assert told == ["OKRSYNC_DATABASE_URL=sqlite:///okrsync-demo.db .venv/bin/python run.py status"]

    variable, _, command = told[0].partition(" ")
    name, _, value = variable.partition("=")
    status = subprocess.run(
        [*command.split(), "--json"],
        cwd=workdir,
        env={**env, name: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    ids = {objective["id"] for objective in json.loads(status.stdout)["objectives"]}
    assert {"quality", "delivery"} <= ids
    assert not (workdir / "okrsync.db").exists()
