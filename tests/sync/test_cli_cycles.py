"""Cycles through `run.py` against the sandbox: the quarter rollover, `--period`, and the
history contract (`history KR --json`)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox.server import Sandbox
from sync.cli import main
from tests.sync.processes import P_END, P_START
from tests.sync.test_cli import MAPPING, point_at

THIS = f"{P_START}..{P_END}"
# The next cycle, moved on as far as today allows: a key result is only synced inside its
# period, and the sandbox's data is today's (P_START is at least 60 days back).
NEXT_START, NEXT_END = P_START + timedelta(days=55), P_END + timedelta(days=55)
NEXT = f"{NEXT_START}..{NEXT_END}"
HOSTILE = "[red]x[/red] <script>alert(1)</script> \x1b[2J\x07 ]] {{period}} \u202e"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(list(argv)) == 0
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_okrsync_env: None) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "okrs.yaml").write_text(MAPPING)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    return tmp_path


def test_history_json_is_the_contract_and_keeps_hostile_notes_as_written(
    workdir: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(sandbox, monkeypatch)
    assert main(["sync", "--only", "p1-bugs", "nps"]) == 0
    assert main(["checkin", "nps", "25", "--note", HOSTILE]) == 0
    assert main(["note", "nps", "<b>second</b> [note]"]) == 0
    document = _json(capsys, "history", "nps", "--json")
    assert list(document) == ["key_result", "namespace", "period", "values"]
    assert (document["key_result"], document["namespace"]) == ("nps", "okrs")
    assert document["period"] == {"start": str(P_START), "end": str(P_END)}
    values = document["values"]
    assert isinstance(values, list)
    assert [(v["value"], v["origin"], v["note"]) for v in values] == [
        (25, "checkin", HOSTILE),
        (None, "note", "<b>second</b> [note]"),
    ]
    assert all(set(v) == {"observed_at", "value", "origin", "note"} for v in values)
    assert all(v["observed_at"].endswith("+00:00") for v in values)
    assert values[0]["observed_at"] <= values[1]["observed_at"]
    synced = _json(capsys, "history", "p1-bugs", "--json", "--period", THIS)
    assert [v["origin"] for v in synced["values"]] == ["sync"]  # type: ignore[index]


def test_a_quarter_rollover_starts_new_histories_and_leaves_the_old_cycle_as_it_was(
    workdir: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(sandbox, monkeypatch)
    assert main(["sync"]) == 0
    assert main(["checkin", "nps", "25", "--note", "old quarter"]) == 0
    old_status = _json(capsys, "status", "--json", "--all")
    old_histories = {
        kr: _json(capsys, "history", kr, "--json")
        for kr in ("p1-bugs", "nps", "lead-time", "review-share")
    }
    assert old_status["period"] == {  # the current cycle: the only one
        "key": THIS,
        "label": THIS,
        "start": str(P_START),
        "end": str(P_END),
    }

    # The same mapping file, its period moved to the next quarter, one key result dropped.
    moved = MAPPING.replace(
        f"period: {{start: {P_START}, end: {P_END}}}",
        f"period: {{start: {NEXT_START}, end: {NEXT_END}}}",
    ).replace("      - id: nps\n", "      - id: nps-gone\n")
    (workdir / "okrs.yaml").write_text(moved)
    assert main(["sync"]) == 0

    new_status = _json(capsys, "status", "--json")
    assert new_status["period"]["key"] == NEXT  # type: ignore[index]
    new_krs = {kr["id"]: kr for o in new_status["objectives"] for kr in o["key_results"]}  # type: ignore[attr-defined]
    assert "nps" not in new_krs and "nps-gone" in new_krs
    for kr in ("p1-bugs", "lead-time"):
        history = _json(capsys, "history", kr, "--json")
        assert history["period"] == {"start": str(NEXT_START), "end": str(NEXT_END)}
        assert [v["origin"] for v in history["values"]] == ["sync"]  # type: ignore[index]
    # The old cycle: readable by its key or by its dates, and unchanged (nps not retired:
    # retirement is within the cycle the file covers).
    old_again = _json(capsys, "status", "--json", "--all", "--period", THIS)
    del old_again["namespaces"], old_status["namespaces"]  # the store's: a run was added
    assert old_again == old_status
    for kr, history in old_histories.items():
        assert _json(capsys, "history", kr, "--json", "--period", THIS) == history
    old_report = _json(capsys, "report", "--format", "json", "--period", THIS)
    assert old_report["period"]["key"] == THIS  # type: ignore[index]
    assert old_report["window"] == "since the period started"
    reported = {kr["id"]: kr["value"] for o in old_report["objectives"] for kr in o["key_results"]}  # type: ignore[attr-defined]
    assert reported == {
        kr["id"]: kr["value"]
        for o in old_status["objectives"]
        for kr in o["key_results"]  # type: ignore[attr-defined]
    }
    assert _json(capsys, "report", "--format", "json")["period"]["key"] == NEXT  # type: ignore[index]
    capsys.readouterr()
    # explain: the current cycle by default, an old one by --period (nps left the file).
    assert main(["explain", "nps"]) == 2
    assert "unknown key result 'nps'" in capsys.readouterr().err
    assert main(["explain", "nps", "--period", THIS]) == 0
    explained = capsys.readouterr().out
    assert explained.startswith("nps: ") and "value 25 " in explained
    assert main(["explain", "p1-bugs", "--period", "1999-Q1"]) == 2
    err = capsys.readouterr().err
    assert "--period: no cycle 1999-Q1 in the store" in err and NEXT in err and THIS in err
    assert main(["report", "--period", "1999-Q1"]) == 2
    assert "--period: no cycle 1999-Q1" in capsys.readouterr().err
    assert main(["report", "--period", "7x"]) == 2
    assert "use a number of days or weeks" in capsys.readouterr().err
    assert main(["status", "--period", "1999-Q1"]) == 2
    err = capsys.readouterr().err
    assert "--period: no cycle 1999-Q1 in the store" in err and NEXT in err and THIS in err
    assert main(["history", "p1-bugs", "--json", "--period", "Q5"]) == 2
    assert "--period: 'Q5' is not a period" in capsys.readouterr().err
    assert main(["status", "--period", "[b]x[/b] <i>\x1b[31m"]) == 2
    err = capsys.readouterr().err
    assert "is not a period" in err and "\x1b" not in err and "Traceback" not in err
