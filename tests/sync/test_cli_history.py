"""`run.py history KR` on a long history: the newest values, how many were left out, and
`--limit` (its own file: the command line's other tests are in test_cli.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync.cli import main
from sync.status_view import HISTORY_LIMIT
from tests.big_store import FIRST_AT, STEP, BigStore, build_big_store, history_value


@pytest.fixture
def on_big_store(
    big_store: BigStore, monkeypatch: pytest.MonkeyPatch, clean_okrsync_env: None
) -> BigStore:
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", big_store.url)
    monkeypatch.setenv("COLUMNS", "200")
    return big_store


def shown_rows(out: str) -> list[str]:
    """The table's rows: the 'When (UTC)' cells."""
    return re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", out)


def test_history_shows_the_newest_values_and_how_many_were_left_out(
    on_big_store: BigStore, capsys: pytest.CaptureFixture[str]
) -> None:
    total = on_big_store.rows_per_key_result
    assert main(["history", "kr-1"]) == 0
    out = capsys.readouterr().out
    newest = [FIRST_AT + STEP * i for i in range(total - HISTORY_LIMIT, total)]
    assert shown_rows(out) == [f"{at:%Y-%m-%d %H:%M}" for at in newest]
    assert f"{total - HISTORY_LIMIT:,} older values not shown" in out
    assert f"{history_value(total - 1):,.1f}" in out

    assert main(["history", "kr-1", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert len(shown_rows(out)) == 3
    assert f"{total - 3:,} older values not shown" in out


def test_history_limit_0_shows_every_value(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    small = build_big_store(f"sqlite:///{tmp_path / 'okrsync.db'}", key_results=1, rows=120)
    small.store.close()
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", small.url)
    assert main(["history", "kr-0", "--limit", "0"]) == 0
    out = capsys.readouterr().out
    assert len(shown_rows(out)) == 120
    assert "not shown" not in out


@pytest.mark.parametrize(
    ("given", "said"), [("-1", "-1 is below 0"), ("lots", "'lots' is not a whole number")]
)
def test_a_bad_limit_is_a_usage_error(
    on_big_store: BigStore, capsys: pytest.CaptureFixture[str], given: str, said: str
) -> None:
    assert main(["history", "kr-1", "--limit", given]) == 2
    err = capsys.readouterr().err
    assert "--limit" in err and said in err and "Traceback" not in err
