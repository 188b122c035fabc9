"""`sync --shard I/N` and OKRSYNC_SHARD (issue 16): each shard syncs its namespaces alone,
the shards together sync every namespace once; a bad shard is exit 2 with nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.shards import Shard
from sync.cli import main
from sync.store import Store
from tests.sync.test_file_runs import org  # noqa: F401  (the fixture)

NAMESPACES = {"company", "platform", "mobile"}


def namespaces_in(url: str) -> set[str]:
    store = Store(url)
    try:
        return set(store.namespaces())
    finally:
        store.close()


@pytest.mark.parametrize("count", [2, 3])
def test_the_shards_of_a_sync_share_the_namespaces(
    org: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    count: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite:///{tmp_path / 'shards.db'}"
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", url)
    seen: set[str] = set()
    for index in range(count):
        shard = Shard(index, count)
        mine = {ns for ns in NAMESPACES if shard.holds(ns)}
        if index % 2:  # the flag and the environment variable alike
            monkeypatch.setenv("OKRSYNC_SHARD", f"{index}/{count}")
            code = main(["sync", "--config", str(org)])
            monkeypatch.delenv("OKRSYNC_SHARD")
        else:
            code = main(["sync", "--config", str(org), "--shard", f"{index}/{count}"])
        out = capsys.readouterr().out
        assert code in (0, 1), out
        if not mine:
            assert "holds none of the 3 namespace(s)" in out
        now = namespaces_in(url) if (tmp_path / "shards.db").exists() else set()
        assert now - seen == mine, (index, now, seen)
        seen = now
    assert seen == NAMESPACES


@pytest.mark.parametrize("shard", ["3/3", "0/0", "junk", "-1/2", "<b>[red]1/2[/red]</b>"])
@pytest.mark.parametrize("given", ["flag", "env"])
def test_a_bad_shard_is_exit_2_and_nothing_is_written(
    org: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    shard: str,
    given: str,
) -> None:
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'bad.db'}")
    if given == "env":
        monkeypatch.setenv("OKRSYNC_SHARD", shard)
        argv = ["sync", "--config", str(org)]
    else:
        argv = ["sync", "--config", str(org), f"--shard={shard}"]
    for command in (argv, ["daemon", *argv[1:], "--port", "0"]):
        capsys.readouterr()
        assert main(command) == 2
        err = capsys.readouterr().err
        assert ("shard" in err.lower() and "I/N" in err) or "below N" in err or "at least 1" in err
        assert "Traceback" not in err
    assert not (tmp_path / "bad.db").exists()
