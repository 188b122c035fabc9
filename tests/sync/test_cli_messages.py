"""The command line's refusals, warnings and help: a clear message naming what was wrong and
where, exit 2 for configuration and usage, never a traceback (issue 12, items 12, 23, 24)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.cli import COMMANDS, build_parser, main
from tests.reliability.record import record

REPO_ROOT = Path(__file__).resolve().parents[2]
TODAY = datetime.now(UTC).date()
PERIOD = f"{{start: {TODAY - timedelta(days=30)}, end: {TODAY + timedelta(days=30)}}}"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_okrsync_env: None) -> Path:
    """An empty folder as the working directory with its own store, no stray settings."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    return tmp_path


def chain_mapping(depth: int) -> str:
    """Objectives o0 <- o1 <- ... each aligned to the one before, one manual key result each."""
    lines = ["version: 1", f"period: {PERIOD}", "objectives:"]
    for i in range(depth):
        parent = f", parent: o{i - 1}" if i else ""
        lines.append(
            f"  - {{id: o{i}, title: O{i}{parent}, key_results: "
            f"[{{id: k{i}, title: K{i}, start: 0, target: 10, metric: {{type: manual}}}}]}}"
        )
    return "\n".join(lines) + "\n"


def run_py(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "run.py"), *args],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- item 12: tracebacks instead of messages --------------------------------------------------


@pytest.mark.reliability
def test_a_1000_deep_alignment_chain_syncs_and_shows(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "okrs.yaml").write_text(chain_mapping(1000))
    assert main(["sync"]) == 0
    assert main(["checkin", "k999", "5"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    objectives = {o["id"]: o for o in json.loads(capsys.readouterr().out)["objectives"]}
    assert len(objectives) == 1000
    # every level rolls up the one value below it: k999 at 5 of 10
    assert objectives["o0"]["progress"] == pytest.approx(50.0)
    assert objectives["o999"]["progress"] == pytest.approx(50.0)
    assert main(["status"]) == 0
    assert "O999" in capsys.readouterr().out
    record(
        "boundary",
        "a 1,000-deep parent chain: sync, checkin, status, status --json",
        1,
        "synced and rolled up level by level (no RecursionError); validation linear",
    )


@pytest.mark.parametrize(
    ("url", "named"),
    [("mysql://okr@db/okr", "not in 'mysql'"), ("foo://bar", "not in 'foo'")],
)
@pytest.mark.reliability
def test_a_store_url_okr_sync_cannot_use_exits_2_with_one_line(
    workdir: Path, url: str, named: str
) -> None:
    done = run_py("status", env={"OKRSYNC_DATABASE_URL": url})
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: OKRSYNC_DATABASE_URL: {url!r}: okr-sync stores")
    assert named in done.stderr and len(done.stderr.splitlines()) == 1
    record(
        "boundary",
        "a store URL okr-sync cannot use (mysql://, foo://)",
        1,
        "exit 2, one line naming OKRSYNC_DATABASE_URL; postgres:// read as PostgreSQL",
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_url_is_read_as_postgresql(
    workdir: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only a PostgreSQL URL has a postgres:// spelling (Heroku's)."""
    assert database_url.startswith("postgresql://")
    (workdir / "okrs.yaml").write_text(chain_mapping(2))
    monkeypatch.setenv(
        "OKRSYNC_DATABASE_URL", database_url.replace("postgresql://", "postgres://", 1)
    )
    assert main(["sync"]) == 0
    assert main(["checkin", "k1", "5"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    objectives = {o["id"]: o for o in json.loads(capsys.readouterr().out)["objectives"]}
    assert objectives["o0"]["progress"] == pytest.approx(50.0)


@pytest.mark.parametrize(
    "command", [["status", "--json"], ["status"], ["report", "--format", "md"], ["history", "k3"]]
)
@pytest.mark.reliability
def test_a_reader_that_stops_reading_gets_no_traceback(workdir: Path, command: list[str]) -> None:
    """`status --json | head -1`: the pipe is closed before okr-sync writes."""
    (workdir / "okrs.yaml").write_text(chain_mapping(40))
    assert main(["sync"]) == 0
    assert main(["checkin", "k3", "5"]) == 0
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "run.py"), *command],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the first line
    _, stderr = process.communicate(timeout=120)
    assert stderr == ""
    assert process.returncode == 1
    record(
        "boundary",
        "a reader that closes the pipe first (status, status --json, report, history | head)",
        1,
        "exit 1 quietly: no BrokenPipeError traceback",
    )


@pytest.mark.reliability
def test_text_that_is_not_utf8_is_refused_naming_the_argument(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`note k1 $'\\xff\\xfe'`: argv bytes that are not UTF-8 reach Python as lone surrogates."""
    (workdir / "okrs.yaml").write_text(chain_mapping(2))
    assert main(["sync"]) == 0
    capsys.readouterr()
    not_utf8 = os.fsdecode(b"ok \xff\xfe")
    for argv, named in [
        (["note", "k1", not_utf8], "argument TEXT"),
        (["checkin", "k1", "3", "--note", not_utf8], "argument --note"),
        (["history", not_utf8], "argument KR"),
        (["status", "--objective", not_utf8], "argument --objective"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{named}: not UTF-8 text: byte 0xff at character 4" in err
        assert "Traceback" not in err
    done = run_py("note", "k1", not_utf8)
    assert done.returncode == 2 and "argument TEXT: not UTF-8 text" in done.stderr
    assert "Traceback" not in done.stderr
    record(
        "boundary",
        "arguments that are not UTF-8 (note, check-in note, key result id, --objective)",
        5,
        "exit 2 naming the argument and the byte; nothing written, no traceback",
    )
    assert main(["history", "k1"]) == 0  # nothing was stored
    assert "ok " not in capsys.readouterr().out


# --- item 23: misspelled settings -----------------------------------------------------------------


def test_a_misspelled_setting_is_warned_about_and_the_command_goes_on(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "okrs.yaml").write_text(chain_mapping(2))
    (workdir / ".env").write_text("OKRSYNC_DATABASE__URL=sqlite:///elsewhere.db\n")
    monkeypatch.setenv("OKRSYNC_GITHUB_TOKEN", "ghp-not-shown")
    assert main(["validate"]) == 0
    err = capsys.readouterr().err
    assert (
        "WARNING okrsync: OKRSYNC_GITHUB_TOKEN is not an okr-sync setting and is ignored; "
        "did you mean OKRSYNC_GITHUB__TOKEN?"
    ) in err
    assert (
        "WARNING okrsync: .env: OKRSYNC_DATABASE__URL is not an okr-sync setting and is "
        "ignored; did you mean OKRSYNC_DATABASE_URL?"
    ) in err
    assert "ghp-not-shown" not in err
    monkeypatch.setenv("OKRSYNC_LOG_FORMAT", "json")
    assert main(["validate"]) == 0
    warnings = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {w["level"] for w in warnings} == {"warning"} and len(warnings) == 2


# --- item 24: help and messages ----------------------------------------------------------------


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    # argparse lists its subparsers only through this private attribute
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


def test_help_describes_every_command_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    assert set(subcommand_parsers()) == set(COMMANDS)
    for name, parser in subcommand_parsers().items():
        summary = re.search(rf"^    {name} +(\S.*)$", top, re.MULTILINE)
        assert summary, f"{name} is not listed with a summary"
        assert parser.description and parser.description.startswith(summary.group(1)[:20])
        undescribed = [a.dest for a in parser._actions if not a.help]
        assert undescribed == [], f"{name}: {undescribed} have no help"
        assert main([name, "--help"]) == 0
        assert "exit codes: 0 all good" in capsys.readouterr().out


def test_config_and_env_file_are_accepted_before_and_after_every_command(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "elsewhere.yaml").write_text(chain_mapping(2))
    (workdir / "other.env").write_text(f"OKRSYNC_DATABASE_URL=sqlite:///{workdir / 'other.db'}\n")
    monkeypatch.delenv("OKRSYNC_DATABASE_URL")  # the env file says where the store is
    assert main(["sync", "--config", "elsewhere.yaml", "--env-file", "other.env"]) == 0
    assert (workdir / "other.db").exists() and not (workdir / "okrsync.db").exists()
    assert (
        main(["--env-file", "other.env", "--config", "elsewhere.yaml", "checkin", "k1", "4"]) == 0
    )
    for argv in (
        ["status"],
        ["history", "k1"],
        ["explain", "k1"],
        ["report"],
        ["status", "--json"],
    ):
        capsys.readouterr()
        assert main([*argv, "--config", "elsewhere.yaml", "--env-file", "other.env"]) == 0, argv
        assert "k1" in capsys.readouterr().out.lower(), argv  # the store the env file names
    assert main(["--env-file", "missing.env", "status"]) == 2
    assert main(["status", "--env-file", "missing.env"]) == 2
    assert "env file missing.env does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["serve", "daemon", "sandbox"])
@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_refused(
    workdir: Path, command: str, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--port", port]) == 2
    err = capsys.readouterr().err
    assert f"argument --port: {port if port != 'http' else repr(port)} is not a port" in err


def test_status_of_an_unknown_objective_names_the_known_ones(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "okrs.yaml").write_text(chain_mapping(30))
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["status", "--objective", "o7x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --objective: unknown objective 'o7x' (did you mean 'o7'? ")
    assert err.rstrip().endswith("and 10 more)")  # 20 of the 30 ids are shown
    assert len(err.splitlines()) == 1
    assert main(["status", "--objective", "o7", "--json"]) == 0
    shown = [o["id"] for o in json.loads(capsys.readouterr().out)["objectives"]]
    assert shown == [f"o{i}" for i in range(7, 30)]


@pytest.mark.parametrize(
    "argv", [["status"], ["history", "k1"], ["explain", "k1"], ["report"], ["serve"]]
)
def test_a_read_command_creates_no_folder_for_the_store(
    workdir: Path,
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = workdir / "no" / "such" / "dir"
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{missing / 'okr.db'}")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"OKRSYNC_DATABASE_URL: no store at {missing / 'okr.db'}: the folder {missing}" in err
    assert not (workdir / "no").exists()


def test_each_failing_key_result_is_reported_once_on_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two key results on one query of a tracker that is not configured: one summary line
    each for the person and one log record each for alerts; no line per query, no ERROR per
    tracker, no error wrapped onto a second line."""
    (workdir / "okrs.yaml").write_text(
        f"version: 1\nperiod: {PERIOD}\nobjectives:\n"
        "  - id: o\n    title: O\n    key_results:\n"
        "      - {id: open-bugs, title: A, target: 1, metric: {type: count, jql: project = APP}}\n"
        "      - {id: bug-points, title: B, target: 1, "
        "metric: {type: sum, field: story_points, jql: project = APP}}\n"
    )
    assert main(["sync"]) == 1
    shown = capsys.readouterr()
    why = (
        "Jira is not configured: set OKRSYNC_JIRA__URL and OKRSYNC_JIRA__TOKEN "
        "(and OKRSYNC_JIRA__EMAIL for Jira Cloud)"
    )
    assert [line for line in shown.out.splitlines() if "Jira" in line] == [
        f"failed open-bugs: {why}",
        f"failed bug-points: {why}",
    ]
    logged = [line for line in shown.err.splitlines() if "Jira" in line]
    assert len(logged) == 2
    assert logged[0].endswith(f"WARNING sync.engine: run 1: key result open-bugs failed: {why}")
    assert logged[1].endswith(f"WARNING sync.engine: run 1: key result bug-points failed: {why}")
    assert " ERROR " not in shown.err


def test_status_keeps_its_titles_beside_a_huge_value_a_long_unit_and_an_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "okrs.yaml").write_text(
        f"version: 1\nperiod: {PERIOD}\nobjectives:\n"
        "  - id: o\n    title: Make the product customers trust\n    key_results:\n"
        "      - {id: revenue, title: Revenue from enterprise customers, target: 1e30, "
        "unit: US dollars of annual recurring revenue, metric: {type: manual}}\n"
        "      - {id: bugs, title: Open P1 bugs in the app, start: 40, target: 5, "
        "metric: {type: count, jql: project = APP}}\n"
    )
    assert main(["sync"]) == 1  # Jira is not configured: `bugs` fails
    assert main(["checkin", "revenue", "123456789012345678901234"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0  # 120 columns wide, as on a pipe
    out = capsys.readouterr().out
    for title in (
        "Make the product customers",
        "Revenue from enterprise",
        "Open P1 bugs in the app",
    ):
        assert title in out, out
    assert "Status" in out and "off_track" in out
    # a float holds 15 digits of it: those, not 24 of which the last 9 are made up
    assert "1.23456789012346e+23" in out and "685,803,008" not in out
    why = (
        "Jira is not configured: set OKRSYNC_JIRA__URL and OKRSYNC_JIRA__TOKEN "
        "(and OKRSYNC_JIRA__EMAIL for Jira Cloud)"
    )
    # the table marks it on one line; in full below the table, one line
    marks = [line.strip() for line in out.splitlines() if "Jira is not" in line]
    assert len(marks) == 2
    assert marks[0].startswith("! Jira is not configured") and len(marks[0]) < len(why)
    assert marks[1] == f"failed bugs: {why}"


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (
            "{type: percent_done, scope: froze, jql: 'project = A'}",
            "okrs.yaml:10: objectives[0].key_results[0].metric.scope: 'froze' is not a scope: "
            "use frozen or live (did you mean 'frozen'?)",
        ),
        (
            "{type: count, scope: frozen, jql: 'project = A'}",
            "okrs.yaml:10: objectives[0].key_results[0].metric.scope: only percent_done and "
            "share metrics take a scope",
        ),
    ],
)
def test_a_bad_scope_exits_2_naming_its_place(
    workdir: Path, capsys: pytest.CaptureFixture[str], metric: str, message: str
) -> None:
    (workdir / "okrs.yaml").write_text(
        "version: 1\nperiod: 2026-Q4\nobjectives:\n  - id: a\n    title: A\n    key_results:\n"
        f"      - id: k\n        title: K\n        target: 5\n        metric: {metric}\n"
    )
    assert main(["validate"]) == 2
    assert message in capsys.readouterr().err
    assert not (workdir / "okrsync.db").exists()
