"""A newcomer's first hour, as real processes against the sandbox: write `okrs.yaml` from
docs/mapping.md, follow README's "Using it for real" step by step (validate, credentials in
`.env`, validate --check-connections, sync, status), check in, note, report, then serve the
dashboard. Every command exits as documented and no output holds a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from sandbox.server import Sandbox
from tests.sync.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
RUN_PY = str(ROOT / "run.py")
TODAY = datetime.now(UTC).date()
QUARTER = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"
MONTH = f"{TODAY.year}-{TODAY.month:02d}"
HOSTILE_NOTE = "Runbook <b>draft</b> [red]ready[/red] \x1b[31m (see [x](javascript:alert(1)))"


def docs_mapping_file() -> str:
    """Every example of docs/mapping.md in one file, as a newcomer would assemble it: the
    objectives of the same id merged, the periods moved to the current quarter and month."""
    page = (ROOT / "docs" / "mapping.md").read_text()
    examples = [
        yaml.safe_load(token.content)
        for token in MarkdownIt("commonmark").parse(page)
        if token.type == "fence" and token.info.strip() == "yaml"
    ]
    objectives: dict[str, dict[str, Any]] = {}
    for example in examples:
        for objective in example["objectives"]:
            merged = objectives.setdefault(objective["id"], {**objective, "key_results": []})
            merged["key_results"] += objective["key_results"]
    for objective in objectives.values():
        for kr in objective["key_results"]:
            if "period" in kr:
                kr["period"] = MONTH  # the docs' one-month key result, kept inside today
    document = {"version": 1, "period": QUARTER, "objectives": list(objectives.values())}
    schema_line = "# yaml-language-server: $schema=okrsync.schema.json\n"
    return schema_line + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def readme_steps() -> list[str]:
    """The numbered steps of README's "Using it for real", in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Using it for real", 1)[1].split("\n### ", 1)[0]
    return re.split(r"^\d\. ", section, flags=re.M)[1:]


@dataclass
class Newcomer:
    """A shell in an empty folder: no OKRSYNC_* variables, no secrets, only what it writes."""

    workdir: Path
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def run(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, RUN_PY, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        self.outputs.append(done.stdout + done.stderr)
        assert done.returncode == expect, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr, (args, done.stderr)
        return done


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[Newcomer]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OKRSYNC_")}
    (tmp_path / "no-secrets").mkdir()
    env["OKRSYNC_SECRETS_DIR"] = str(tmp_path / "no-secrets")
    person = Newcomer(tmp_path, env)
    yield person
    assert not any("Traceback" in output for output in person.outputs)


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@contextmanager
def serve(newcomer: Newcomer) -> Iterator[str]:
    """`run.py serve` on a free port until the caller is done; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, RUN_PY, "serve", "--port", str(port)],
        cwd=newcomer.workdir,
        env=newcomer.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                get(base + "/")
                break
            except OSError:
                assert time.monotonic() < deadline, "the dashboard did not start in 30 s"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
        newcomer.outputs.append(out + err)


def test_first_hour(newcomer: Newcomer, sandbox: Sandbox) -> None:
    okrs = newcomer.workdir / "okrs.yaml"

    # A typo first, as it happens: exit 2, the line and the fix, nothing written.
    okrs.write_text(docs_mapping_file().replace("target:", "tagret:", 1))
    typo = newcomer.run("validate", expect=2)
    assert re.search(r"okrs\.yaml:\d+: objectives\[0\]\.key_results\[0\]\.tagret", typo.stderr)
    assert "did you mean 'target'" in typo.stderr
    assert not (newcomer.workdir / "okrsync.db").exists()
    okrs.write_text(docs_mapping_file())

    steps = readme_steps()
    assert len(steps) == 4, steps
    commands_seen: list[str] = []
    for step in steps:
        if "OKRSYNC_JIRA__URL" in step:  # the credentials, in .env as the step says
            assert "`.env`" in step
            lines = [f"{key}={value}" for key, value in sandbox.settings_env().items()]
            (newcomer.workdir / ".env").write_text("\n".join(lines) + "\n")
            commands_seen.append("credentials")
            continue
        for command in re.findall(r"`python run\.py ([^`]+)`", step):
            newcomer.run(*command.split())
            commands_seen.append(command)
    assert commands_seen == [
        "validate",
        "credentials",
        "validate --check-connections",
        "sync",
        "status",
    ]

    status = json.loads(newcomer.run("status", "--json").stdout)
    by_id = {kr["id"]: kr for o in status["objectives"] for kr in o["key_results"]}
    assert {"p1-bugs", "lead-time", "review-coverage", "fast-merges", "runbook"} <= set(by_id)
    assert all(kr["error"] is None for kr in by_id.values()), by_id
    assert by_id["p1-bugs"]["value"] is not None

    newcomer.run("checkin", "runbook", "1", "--note", HOSTILE_NOTE)
    refused = newcomer.run("checkin", "p1-bugs", "3", expect=2)
    assert "note" in refused.stderr  # an automated value is not overwritten: use a note
    newcomer.run("note", "p1-bugs", "Triage moved to Mondays")
    history = newcomer.run("history", "runbook").stdout
    assert "<b>draft</b>" in history and "\x1b" not in history
    assert "project = APP" in newcomer.run("explain", "p1-bugs").stdout
    newcomer.run("status")
    for form in ("md", "json"):
        newcomer.run("report", "--format", form)
    newcomer.run("report", "--format", "html", "--output", "report.html")
    page = (newcomer.workdir / "report.html").read_text()
    assert "<b>draft</b>" not in page and "&lt;b&gt;draft&lt;/b&gt;" in page

    with serve(newcomer) as base:
        code, html = get(base + "/")
        assert code == 200 and "review-coverage" in html
        code, body = get(base + "/api/objectives")
        assert code == 200
        served = {kr["id"] for o in json.loads(body)["objectives"] for kr in o["key_results"]}
        assert served == set(by_id)
