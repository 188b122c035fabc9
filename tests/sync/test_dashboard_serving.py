"""`run.py serve` as a real process: where it listens, and what it says when anyone on the
network could read the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.server import Sandbox
from tests.sync.processes import okrsync, okrsync_env, wait_for

EXPOSED = "serves the dashboard and JSON API to anyone who can reach it, without a token"


def serve_output(tmp_path: Path, sandbox: Sandbox, host: str, **env: str) -> tuple[str, str]:
    """(stdout, stderr) of `serve --host HOST --port 0` once it listens, then SIGTERM."""
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    child = okrsync(
        "serve",
        "--host",
        host,
        "--port",
        "0",
        env=okrsync_env(sandbox, url, tmp_path, **env),
        cwd=tmp_path,
    )
    try:
        wait_for(
            lambda: (
                any("dashboard: http://" in line for line in child.out)
                or child.process.poll() is not None
            ),
            60,
            "the dashboard's URL",
        )
    finally:
        code, _ = child.terminate()
    assert code == 0, child.log
    return "\n".join(child.out), child.log


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_serving_every_interface_without_a_token_warns_loudly(
    tmp_path: Path, sandbox: Sandbox, host: str
) -> None:
    out, err = serve_output(tmp_path, sandbox, host)
    assert "dashboard: http://" in out, (out, err)
    warnings = [line for line in err.splitlines() if EXPOSED in line]
    # printed for the person who started it, and logged at WARNING for the log collector
    assert any(line.startswith("WARNING: serve on ") for line in warnings), err
    assert any("WARNING" in line and not line.startswith("WARNING: ") for line in warnings), err
    assert all("OKRSYNC_DASHBOARD__TOKEN" in line for line in warnings), err


@pytest.mark.parametrize(
    ("host", "env"),
    [("127.0.0.1", {}), ("localhost", {}), ("0.0.0.0", {"OKRSYNC_DASHBOARD__TOKEN": "s3cret"})],
)
def test_loopback_or_a_token_serves_without_a_warning(
    tmp_path: Path, sandbox: Sandbox, host: str, env: dict[str, str]
) -> None:
    out, err = serve_output(tmp_path, sandbox, host, **env)
    assert "dashboard: http://" in out, (out, err)
    assert EXPOSED not in err and "WARNING" not in err, err
