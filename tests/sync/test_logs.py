"""Text logs: one line per record whatever a tracker put in the message; tracebacks keep
their lines; JSON logs keep the message as it was."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from sync.logs import configure_logging

FORGED = "2026-11-29 09:00:00,000 ERROR okrsync: forged"
HOSTILE = f"refused\r\n{FORGED}\x1b]8;;http://evil.example\x07LINK\x1b]8;;\x07 \x1b[2J\x9b2J"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_text_log_record_is_one_line_without_control_characters(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "text")
    logging.getLogger("okrsync.test").warning("jira said: %s", HOSTILE)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].split(" ", 2)[2].startswith("WARNING okrsync.test: jira said: refused")
    assert "forged" in lines[0] and "LINK" in lines[0]
    assert not any(c in lines[0] for c in "\x1b\x07\r\x9b")


def test_a_traceback_keeps_its_lines_and_its_message_one(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "text")
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        logging.getLogger("okrsync.test").exception("crashed on %s", HOSTILE)
    lines = capsys.readouterr().err.splitlines()
    assert "crashed on refused" in lines[0] and "forged" in lines[0]
    assert lines[1] == "    Traceback (most recent call last):"
    assert "forged" in lines[-1]  # the exception's text, on the traceback's last line
    assert all(line.startswith("    ") for line in lines[1:])
    assert not any(c in "".join(lines) for c in "\x1b\x07\r\x9b")


def test_json_logs_keep_the_message_as_it_was(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("okrsync.test").warning("jira said: %s", HOSTILE)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["message"] == f"jira said: {HOSTILE}"
