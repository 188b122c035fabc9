"""Text from people and trackers reaches the terminal as it is: rich markup in a title, a unit,
a note or a Jira error is shown, not interpreted (nor a crash), and no control character
(ESC, BEL, OSC 0/8, CR, a newline) reaches the terminal or starts a line.

The commands run through the real command line against the sandbox, whose Jira answers with
a hostile error message."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.text import Text

from sandbox import faults
from sandbox.server import Sandbox
from sync.cli import main
from sync.literal_text import LiteralConsole, printable
from tests.reliability.record import record
from tests.sync.processes import P_END, P_START
from tests.sync.test_cli import point_at

pytestmark = pytest.mark.reliability

ESC, BEL = "\x1b", "\x07"
CLEAR_SCREEN = f"{ESC}[2J"
OSC_TITLE = f"{ESC}]0;pwned{BEL}"
OSC_LINK = f"{ESC}]8;;http://evil.example{BEL}LINK{ESC}]8;;{BEL}"
# What Jira says when it refuses a query, written by someone who wants to be read.
JIRA_MESSAGE = (
    f"Field [/] [link=http://evil.example]here[/link] {OSC_LINK} {CLEAR_SCREEN}\r\n"
    "2026-11-29 09:00:00 ERROR okrsync: forged log line"
)

# Each title short enough to fit its table cell whole; YAML "\e" and "\a" are ESC and BEL.
MAPPING = f"""
version: 1
period: {{start: {P_START}, end: {P_END}}}
objectives:
  - id: api
    title: "Retire the [/v1] endpoints"
    owner: "pl[/]at"
    key_results:
      - id: latency
        title: "[bold red]loud :smile:"
        unit: "[ms]"
        target: 100
        metric: {{type: manual}}
      - id: links
        title: "[link=http://x]click[/link] me"
        target: 10
        metric: {{type: manual}}
      - id: escapes
        title: "clear\\e[2Jscreen \\e]0;pwned\\a"
        unit: "\\e]8;;http://x\\aH\\e]8;;\\a"
        target: 10
        metric: {{type: manual}}
      - id: bugs
        title: "Open bugs [/]"
        target: 0
        start: 50
        metric: {{type: count, jql: project = APP}}
"""


@pytest.fixture
def hostile_workdir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    sandbox: Sandbox,
) -> Iterator[Path]:
    """The hostile mapping file, pointed at a sandbox whose Jira refuses every query with
    JIRA_MESSAGE."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "okrs.yaml").write_text(MAPPING)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    point_at(sandbox, monkeypatch)
    sandbox.faults.reset()
    sandbox.faults.arm("/jira/", faults.jql_error(JIRA_MESSAGE), times=None)
    yield tmp_path
    sandbox.faults.reset()


def run(capsys: pytest.CaptureFixture[str], *argv: str, exit_code: int = 0) -> str:
    """stdout and stderr of one command, checked for what must never be in them."""
    capsys.readouterr()
    assert main(list(argv)) == exit_code, capsys.readouterr()
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "Traceback" not in shown and "MarkupError" not in shown
    for control in (ESC, BEL, "\r"):
        assert control not in shown, f"{argv}: {control!r} reached the terminal"
    assert not any(line.lstrip().startswith("2026-11-29 09:00") for line in shown.splitlines())
    record(
        "boundary",
        "rich markup, ESC, OSC 8, BEL, CR and newlines in titles, units, notes and a Jira "
        "error: checkin, note, sync, status, history, explain, status --json",
        1,
        "shown as written; no control character reached the terminal, no forged log line, "
        "no traceback",
    )
    return shown


@pytest.fixture
def synced(hostile_workdir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Check-ins with hostile notes, then a sync whose Jira key result fails: its output."""
    run(capsys, "checkin", "latency", "42", "--note", "fixed the [/] bracket")
    run(capsys, "note", "latency", f"see [link=http://evil.example]this[/link] {OSC_LINK}")
    run(capsys, "checkin", "escapes", "3")
    return run(capsys, "sync", exit_code=1)


def test_sync_summary_shows_the_tracker_error_literally(synced: str) -> None:
    assert "failed bugs: Jira refused the JQL" in synced
    assert "Field [/] [link=http://evil.example]here[/link]" in synced


def test_status_shows_titles_units_and_errors_literally(
    synced: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = run(capsys, "status")
    for literal in (
        "Retire the [/v1] endpoints",
        "[bold red]loud :smile:",
        "42 [ms]",
        "100 [ms]",
        "[link=http://x]click[/link] me",
        "Open bugs [/]",
        "Field [/]",
    ):
        assert literal in shown, f"{literal} not in\n{shown}"
    assert "clear" in shown and "[2Jscreen" in shown


def test_history_shows_notes_literally(synced: str, capsys: pytest.CaptureFixture[str]) -> None:
    shown = run(capsys, "history", "latency")
    assert "fixed the [/] bracket" in shown
    assert "[link=http://evil.example]this[/link]" in shown
    assert "42 [ms]" in shown


def test_explain_shows_title_unit_and_tracker_error_literally(
    synced: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = run(capsys, "explain", "latency")
    assert "latency: [bold red]loud :smile:" in shown
    assert "value 42 [ms]" in shown
    shown = run(capsys, "explain", "bugs")
    assert "Open bugs [/]" in shown
    assert "Field [/] [link=http://evil.example]here[/link]" in shown
    shown = run(capsys, "explain", "escapes")
    assert "[2Jscreen" in shown and "]8;;http://x" in shown


def test_status_json_keeps_the_text_as_written(
    synced: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only what is shown as text is made printable; the data keeps every character."""
    document = json.loads(run(capsys, "status", "--json"))
    titles = {kr["id"]: kr["title"] for o in document["objectives"] for kr in o["key_results"]}
    assert titles["escapes"] == f"clear{CLEAR_SCREEN}screen {OSC_TITLE}"


def test_a_mapping_error_quoting_control_characters_stays_printable(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The loader names an unknown key as written; the key's ESC and BEL stay out of stderr."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "okrs.yaml").write_text(
        "version: 1\nperiod: 2026-Q4\nobjectives:\n  - id: a\n    title: t\n"
        '    "x\\e]0;pwned\\a\\e[2J": 1\n    key_results: []\n'
    )
    shown = run(capsys, "validate", exit_code=2)
    assert shown.startswith("error: okrs.yaml:6: objectives[0].x")
    assert "]0;pwned" in shown and "unknown key" in shown


def test_on_a_terminal_only_our_styles_are_escape_sequences() -> None:
    """With colours on, the console writes SGR styles of its own; from the text, nothing."""
    console = LiteralConsole(force_terminal=True, color_system="truecolor", width=100)
    with console.capture() as captured:
        console.print(JIRA_MESSAGE, style="red")
        console.print(Text.assemble(("failed", "bold"), f" {OSC_TITLE} [link=http://x]y[/link]"))
    shown = captured.get()
    assert "\x1b[" in shown  # styled: the test would see a text sequence if one got through
    unstyled = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert ESC not in unstyled and BEL not in unstyled and "\r" not in unstyled
    assert "[link=http://x]y[/link]" in unstyled and "]0;pwned" in unstyled
    assert not any(line.startswith("2026-11-29") for line in unstyled.splitlines())


@pytest.mark.parametrize(
    "text",
    [
        CLEAR_SCREEN,
        OSC_TITLE,
        OSC_LINK,
        "line\r\nforged\u2028and\u2029more\x85end\ttab\x0bv\x0cf",
        "bidi \u202eevil\u202c \u2066isolated\u2069",
        "c1 \x9b2J \x90dcs\x9c",
        "".join(map(chr, range(0x20))) + "\x7f",
    ],
)
def test_printable_leaves_no_control_character_and_keeps_the_length(text: str) -> None:
    shown = printable(text)
    assert len(shown) == len(text)
    assert not [c for c in shown if unicodedata.category(c) in ("Cc", "Zl", "Zp")]
    assert not [c for c in shown if unicodedata.bidirectional(c) in ("LRE", "RLE", "LRO", "RLO")]
    assert not set(shown) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert len(shown.splitlines()) <= 1


def test_printable_keeps_ordinary_text() -> None:
    text = "Retire the [/v1] endpoints: 95 % <b> | ünïcödé 😀 👩‍💻"
    assert printable(text) == text
