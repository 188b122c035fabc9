"""`run.py serve` as a real process: where it listens, what it says when anyone on the
network could read the dashboard, and how it bears a burst of requests on a long history."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox.server import Sandbox
from tests.big_store import BigStore
from tests.reliability.record import record
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
        code = child.terminate()
    assert code == 0, child.log
    return "\n".join(child.out), child.log


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
@pytest.mark.reliability
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
    record(
        "boundary",
        "serve on every interface (0.0.0.0, ::) without a token",
        1,
        "starts with a warning, printed and logged, naming OKRSYNC_DASHBOARD__TOKEN",
    )


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


def get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=120) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.mark.reliability
def test_a_burst_on_a_long_history_gets_answers_or_a_clean_retry_later(
    tmp_path: Path, sandbox: Sandbox, big_store: BigStore
) -> None:
    env = okrsync_env(
        sandbox,
        big_store.url,
        tmp_path,
        OKRSYNC_DASHBOARD__MAX_CONCURRENT="2",
        OKRSYNC_DASHBOARD__BUSY_WAIT_S="0.5",
    )
    child = okrsync("serve", "--port", "0", env=env, cwd=tmp_path)
    try:
        wait_for(lambda: any("dashboard: " in line for line in child.out), 60, "the URL")
        base = next(line for line in child.out if "dashboard: " in line).split(": ", 1)[1]
        paths = [
            f"api/key-results/{kr}" if n % 2 else f"key-results/{kr}"
            for n, kr in enumerate(big_store.key_results * 6)
        ]
        with ThreadPoolExecutor(max_workers=len(paths)) as pool:
            answers = list(pool.map(lambda path: get(base + path), paths))
        assert get(base + "healthz")[0] == 404  # still serving, no health route here
    finally:
        code = child.terminate()
    assert code == 0, child.log
    codes = Counter(status for status, _, _ in answers)
    assert set(codes) == {200, 503}, codes  # some answered, the rest told to come back
    for (status, headers, body), path in zip(answers, paths, strict=True):
        if status != 503:
            continue
        assert headers["Retry-After"] == "5"
        if path.startswith("api/"):
            assert json.loads(body)["error"]["code"] == 503
        assert "try again in 5 s" in body
    # a busy server is not an error: nothing logged above INFO, no traceback, no pool timeout
    assert "Traceback" not in child.log and "QueuePool" not in child.log, child.log
    assert not [line for line in child.lines if " ERROR " in line or " WARNING " in line]
    record(
        "boundary",
        f"{len(paths)} concurrent key-result pages and API reads on a 175,000-value store, "
        "2 answered at a time",
        len(paths),
        f"{codes[200]} answered, {codes[503]} a clean 503 with Retry-After; no traceback, "
        "no connection-pool error",
    )
