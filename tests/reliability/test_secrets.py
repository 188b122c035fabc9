"""No token ever shows: not in log lines (text or JSON), errors, output, reports or the store.

Runs `run.py` (sync.cli.main) with recognisable fake tokens, which the sandbox refuses (401),
and with the sandbox's own tokens on paths that fail with the token in the request headers:
a 500 whose body echoes those headers, a connection reset, a 401 for every request.
Base64 and URL-quoted forms count as leaks too (basic auth sends base64(email:token)).
Checked: the command's output and log lines, status (table and JSON), explain, history,
report (md, html, json), every row of the store and the dashboard's pages and JSON API.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from config.settings import load_settings
from sandbox import faults
from sandbox.server import SANDBOX_GITHUB_TOKEN, SANDBOX_JIRA_EMAIL, SANDBOX_JIRA_TOKEN, Sandbox
from sync.cli import main
from sync.dashboard.app import make_dashboard_app
from sync.store import Store
from sync.tables import key_results, kr_values, objectives, sync_runs
from tests.reliability.record import record

FAKE_JIRA_TOKEN = "FAKEjiraTOKEN-okrsync-3b9d1c7e"
FAKE_GITHUB_TOKEN = "ghp_FAKEgithubTOKENokrsync5a2f8e91c4"


def leak_forms(token: str, email: str = SANDBOX_JIRA_EMAIL) -> list[str]:
    """Every way a token travels: as is, URL-quoted, base64 alone and as basic auth."""
    basic = base64.b64encode(f"{email}:{token}".encode()).decode()
    alone = base64.b64encode(token.encode()).decode()
    return [token, quote(token, safe=""), basic, alone.rstrip("=")]


def store_dump(url: str) -> str:
    store = Store(url)
    with store.engine.connect() as conn:
        tables = [objectives, key_results, kr_values, sync_runs]
        rows = [dict(row) for table in tables for row in conn.execute(select(table)).mappings()]
    store.close()
    return json.dumps(rows, default=str)


def everything_shown(workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run a command, then status, status --json and explain; return all output and the store."""
    code = main(argv)
    seen = capsys.readouterr()
    texts = [seen.out, seen.err, str(code)]
    for extra in (["status"], ["status", "--json"], ["explain", "p1-bugs"], ["history", "nps"]):
        main(extra)
        shown = capsys.readouterr()
        texts += [shown.out, shown.err]
    for fmt in ("md", "html", "json"):
        main(["report", "--format", fmt])
        shown = capsys.readouterr()
        texts += [shown.out, shown.err]
    url = f"sqlite:///{workdir / 'okrsync.db'}"
    texts.append(store_dump(url))
    texts += dashboard_pages(url)
    return "\n".join(texts)


DASHBOARD_PAGES = [
    "/",
    "/key-results/p1-bugs",
    "/key-results/lead-time",
    "/runs",
    "/api/objectives",
    "/api/key-results/p1-bugs",
    "/api/key-results/lead-time",
    "/api/runs",
    "/openapi.json",
    "/key-results/%00%ff",
]


def dashboard_pages(url: str) -> list[str]:
    """Every dashboard page, served with the same settings (tokens included) as the run."""
    store = Store(url)
    client = Client(make_dashboard_app(store, load_settings()))
    pages = []
    for path in DASHBOARD_PAGES:
        response = client.get(path)
        assert response.status_code < 500, path
        pages.append(response.get_data(as_text=True))
    store.close()
    return pages


def assert_no_leak(text: str, tokens: list[str]) -> None:
    for token in tokens:
        for form in leak_forms(token):
            assert form not in text, f"a form of {token!r} leaked"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_wrong_tokens_give_401_without_showing_them(
    log_format: str,
    workdir: Path,
    faulty: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OKRSYNC_LOG_FORMAT", log_format)
    monkeypatch.setenv("OKRSYNC_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("OKRSYNC_JIRA__TOKEN", FAKE_JIRA_TOKEN)
    monkeypatch.setenv("OKRSYNC_GITHUB__TOKEN", FAKE_GITHUB_TOKEN)
    text = everything_shown(workdir, capsys, ["sync"])
    assert "check OKRSYNC_JIRA__EMAIL / OKRSYNC_JIRA__TOKEN" in text  # the run did fail on 401
    assert "check OKRSYNC_GITHUB__TOKEN" in text
    main(["validate", "--check-connections"])
    validated = capsys.readouterr()
    assert "FAILED" in validated.out
    assert_no_leak(text + validated.out + validated.err, [FAKE_JIRA_TOKEN, FAKE_GITHUB_TOKEN])
    record(
        "secret",
        f"wrong tokens (HTTP 401), {log_format} logs at DEBUG: sync, validate, status, explain",
        1,
        "refused with the variable to fix named; token in no output, log line, report, store row or dashboard page",
    )


FAILURES = [
    ("500 echoing the request headers", faults.echo_headers(500), "json"),
    ("500 echoing the request headers", faults.echo_headers(500), "text"),
    ("connection reset", faults.connection_reset(), "text"),
    ("401 on every request", faults.bad_credentials("jira"), "json"),
]


@pytest.mark.parametrize(
    ("name", "fault", "log_format"), FAILURES, ids=[f"{n}-{f}" for n, _, f in FAILURES]
)
def test_the_sandbox_tokens_never_show_when_requests_fail(
    name: str,
    fault: faults.Fault,
    log_format: str,
    workdir: Path,
    faulty: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OKRSYNC_LOG_FORMAT", log_format)
    monkeypatch.setenv("OKRSYNC_LOG_LEVEL", "DEBUG")
    faulty.faults.arm("/jira/", fault, times=None)
    faulty.faults.arm("/github/", fault, times=None)
    text = everything_shown(workdir, capsys, ["sync"])
    assert faulty.faults.fired > 0
    assert "failed p1-bugs" in text and "failed lead-time" in text
    assert_no_leak(text, [SANDBOX_JIRA_TOKEN, SANDBOX_GITHUB_TOKEN])
    record(
        "secret",
        f"sandbox tokens, every request fails with {name}, {log_format} logs at DEBUG",
        faulty.faults.fired,
        "all tracker key results failed and said why; token in no output, log line, report, store row or dashboard page",
    )


def test_the_sandbox_tokens_never_show_on_success(
    workdir: Path,
    faulty: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OKRSYNC_LOG_FORMAT", "json")
    monkeypatch.setenv("OKRSYNC_LOG_LEVEL", "DEBUG")
    text = everything_shown(workdir, capsys, ["sync"])
    assert '"status": "' in text  # status --json ran
    assert_no_leak(text, [SANDBOX_JIRA_TOKEN, SANDBOX_GITHUB_TOKEN])
    record(
        "secret",
        "sandbox tokens, successful sync, JSON logs at DEBUG",
        1,
        "token in no output, log line, report, store row or dashboard page",
    )
