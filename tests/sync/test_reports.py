"""`run.py report` over the demo data: values, change over the window, forecast, notes, and
an HTML file that stands alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from sync.cli import main
from tests.demo_data import NPS_CHECKINS, P1_NOTE, DemoStore, demo_objectives
from tests.reliability.record import record
from tests.sync.processes import P_END, P_START


def report(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["report", *args]) == 0
    return capsys.readouterr().out


def key_results(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {kr["id"]: kr for o in document["objectives"] for kr in o["key_results"]}


def nps_value_days_ago(days: int) -> float:
    """The NPS value in force `days` ago (the first one if none was yet)."""
    before = [v for d, v, _ in NPS_CHECKINS if d >= days]
    return before[-1] if before else NPS_CHECKINS[0][1]


@pytest.mark.parametrize("window,days", [("15d", 15), ("2w", 14), ("5d", 5), ("period", 10_000)])
def test_json_report_change_over_the_window(
    demo_workdir: Path, capsys: pytest.CaptureFixture[str], window: str, days: int
) -> None:
    document = json.loads(report(capsys, "--format", "json", "--period", window))
    nps = key_results(document)["nps"]
    latest = NPS_CHECKINS[-1][1]
    assert nps["value"] == latest
    assert nps["change"] == latest - nps_value_days_ago(days)
    expected_notes = [n for d, _, n in NPS_CHECKINS if n and d <= days]
    assert [n["text"] for n in nps["notes"]] == expected_notes


def test_json_report_follows_the_objectives_and_forecasts(
    demo_workdir: Path, capsys: pytest.CaptureFixture[str], demo: DemoStore
) -> None:
    document = json.loads(report(capsys, "--format", "json"))
    assert [o["id"] for o in document["objectives"]] == [
        "quality",
        "delivery",
        "app-team",
        "erin-growth",
        "ops",
    ]
    expected_krs = {kr["id"] for o in demo_objectives() for kr in o["key_results"]}  # type: ignore[attr-defined]
    krs = key_results(document)
    assert set(krs) == expected_krs
    assert krs["nps"]["forecast"] is not None
    assert krs["p1-bugs"]["forecast"] is None  # one value: no trend to extend
    assert krs["p1-bugs"]["value"] == demo.store.key_result("p1-bugs").value  # type: ignore[union-attr]
    assert [n["text"] for n in krs["p1-bugs"]["notes"]] == [P1_NOTE]
    assert all("_chart" not in kr for kr in krs.values())


def test_markdown_report_has_a_table_per_objective(
    demo_workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = report(capsys, "--format", "md", "--period", "15d")
    assert text.startswith("# OKR report")
    for objective in demo_objectives():
        assert f" {objective['title']}" in text
    nps_row = next(line for line in text.splitlines() if line.startswith("| Developer NPS"))
    change = NPS_CHECKINS[-1][1] - nps_value_days_ago(15)
    assert f"| +{change:.0f} |" in nps_row
    assert P1_NOTE in text


def test_html_report_stands_alone(
    demo_workdir: Path, capsys: pytest.CaptureFixture[str], demo: DemoStore
) -> None:
    out = demo_workdir / "report.html"
    capsys.readouterr()
    assert main(["report", "--format", "html", "--period", "period", "--output", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "<style>" in html
    assert "<script" not in html and "<link" not in html and "src=" not in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == len(
        key_results(json.loads(report(capsys, "--format", "json")))
    )
    assert "&lt;b&gt;new&lt;/b&gt;" in html and "<b>new</b>" not in html
    assert demo.database_url not in html


@pytest.mark.parametrize(
    "args",
    [
        ["--period", "0d"],
        ["--period", "soon"],
        ["--format", "pdf"],
        ["--output", "/nonexistent-dir/report.md"],
    ],
)
def test_bad_report_options_exit_2(
    demo_workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert main(["report", *args]) == 2
    assert "Traceback" not in capsys.readouterr().err


# --- text from people and trackers in the Markdown report ----------------------------------

HOSTILE_OBJECTIVE = "Own <b>it</b> | [claim](http://evil.example) ## done"
HOSTILE_OWNER = "<i>ops</i>"
HOSTILE_TITLE = (
    "Retire <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> "
    "*bold* _em_ `code` ~~strike~~ | pipe \\ back &amp; &#60;b>"
)
HOSTILE_UNIT = "|ms|"
HOSTILE_NOTE = "[click](javascript:alert(1)) ![i](http://x/i.png) <iframe src=x> a|b"


@pytest.fixture
def hostile_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_okrsync_env: None) -> None:
    """A store holding one key result whose every text is hostile, checked in with a note."""
    mapping = {
        "version": 1,
        "period": {"start": P_START.isoformat(), "end": P_END.isoformat()},
        "objectives": [
            {
                "id": "own",
                "title": HOSTILE_OBJECTIVE,
                "owner": HOSTILE_OWNER,
                "key_results": [
                    {
                        "id": "latency",
                        "title": HOSTILE_TITLE,
                        "unit": HOSTILE_UNIT,
                        "target": 100,
                        "metric": {"type": "manual"},
                    }
                ],
            }
        ],
    }
    monkeypatch.chdir(tmp_path)
    (tmp_path / "okrs.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    assert main(["checkin", "latency", "42", "--note", HOSTILE_NOTE]) == 0


def shown_text(token: Token) -> str:
    """What a reader sees of an inline token; only plain text is allowed in it (no tag, no
    link, no emphasis, no code)."""
    kinds = {child.type for child in token.children or []}
    assert kinds <= {"text"}, f"{token.content!r} renders as {kinds}"
    return "".join(child.content for child in token.children or [])


@pytest.mark.reliability
def test_markdown_report_shows_hostile_text_as_written(
    hostile_store: None, capsys: pytest.CaptureFixture[str]
) -> None:
    text = report(capsys, "--format", "md")
    renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    rendered = renderer.render(text)
    for tag in ("<script", "<img", "<iframe", "<b>", "<i>", "<a ", "<em>", "<code>", "<s>"):
        assert tag not in rendered, tag
    tokens = renderer.parse(text)
    after = {i: tokens[i + 1] for i in range(len(tokens) - 1)}  # a block's inline content
    headings = [after[i] for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert shown_text(headings[1]) == f"{HOSTILE_OBJECTIVE} ({HOSTILE_OWNER})"
    rows: list[list[str]] = []
    for i, token in enumerate(tokens):
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("th_open", "td_open"):
            rows[-1].append(shown_text(after[i]))
    assert len(rows) == 2 and all(len(row) == 7 for row in rows)
    named = f"{HOSTILE_TITLE} (okrs/latency)"  # with its namespace: its file's name
    assert rows[1][:3] == [named, f"42 {HOSTILE_UNIT}", f"100 {HOSTILE_UNIT}"]
    notes = [after[i + 1] for i, t in enumerate(tokens) if t.type == "list_item_open"]
    assert len(notes) == 1
    note = notes[0]
    assert shown_text(note).endswith(f": {HOSTILE_NOTE}")
    assert shown_text(note).startswith(f"{named}, ")
    record(
        "boundary",
        "Markdown report of titles, units, owners and notes holding <script>, <img onerror>, "
        "[x](javascript:...), emphasis and |",
        1,
        "rendered by a CommonMark parser as the text written: no tag, link or emphasis; "
        "every row 7 cells",
    )


def test_reports_carry_no_control_character(
    hostile_store: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A note with ESC, OSC 8 and BEL in it: every format shows it, none passes a control
    character on to whatever prints the report (a terminal, `cat`)."""
    note = "osc \x1b]8;;http://evil.example\x07LINK\x1b]8;;\x07 clear \x1b[2J cr \r end"
    assert main(["note", "latency", note]) == 0
    for fmt in ("md", "html", "json"):
        text = report(capsys, "--format", fmt, "--period", "period")
        assert "clear" in text and "]8;;http://evil.example" in text, fmt
        assert not set(text) & {"\x1b", "\x07", "\r"}, fmt
