"""Namespaces (issue 16): one store, many mapping files. Two teams' files with the same ids
keep separate histories; a sync of one never retires or reads the other's rows; commands
read `--namespace` and `namespace/id`; `prune` removes one namespace; migration 0009 keeps a
previous release's store in the namespace its file will have."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from config.loader import MappingError, load_mapping, load_mapping_text
from sandbox.server import Sandbox
from sync.cli import main
from sync.item_cache import CachedUnit, UnitWrite, write_units
from sync.records import Listing
from sync.store import Store
from sync.store_errors import RunLockedError
from sync.tables import fetch_cache, fetch_cache_items
from tests.sync.test_cli import MAPPING, point_at
from tests.sync.test_store import T0, first_release_store, kr_record, objective, run_record

HOSTILE = "team-<b>[x]</b>"  # not a namespace: refused by name


def test_two_namespaces_with_the_same_ids_keep_separate_histories_and_retirements(
    store: Store,
) -> None:
    platform, mobile = store.in_namespace("platform"), store.in_namespace("mobile")
    listing = Listing(frozenset({"quality"}), frozenset({"p1-bugs"}))
    platform.write_run(run_record(T0), [objective()], [kr_record(30)], listing=listing)
    mobile.write_run(
        run_record(T0 + timedelta(hours=1)), [objective()], [kr_record(7)], listing=listing
    )
    platform.write_run(
        run_record(T0 + timedelta(hours=2)), [objective()], [kr_record(25)], listing=listing
    )
    assert [row.value for row in platform.history("p1-bugs")] == [30, 25]
    assert [row.value for row in mobile.history("p1-bugs")] == [7]
    assert {row.namespace for row in mobile.history("p1-bugs")} == {"mobile"}
    # mobile's file drops the key result: platform's row of the same id is not retired.
    mobile.write_run(
        run_record(T0 + timedelta(hours=3)),
        [objective()],
        [],
        listing=Listing(frozenset({"quality"}), frozenset()),
    )
    mobile_row, platform_row = mobile.key_result("p1-bugs"), platform.key_result("p1-bugs")
    assert mobile_row is not None and mobile_row.retired_at is not None
    assert platform_row is not None and platform_row.retired_at is None
    assert platform_row.value == 25 and platform_row.namespace == "platform"
    assert store.namespaces() == ["mobile", "platform"]
    assert store.current_namespace() == "mobile"  # the newest run's
    assert [run.namespace for run in platform.runs()] == ["platform", "platform"]
    assert store.counts()["kr_values"] == 3


def test_the_run_lock_is_per_namespace_on_postgresql_and_per_store_on_sqlite(
    store: Store,
) -> None:
    platform, mobile = store.in_namespace("platform"), store.in_namespace("mobile")
    postgres = store.dialect == "postgresql"
    holder = "namespace platform" if postgres else r"of any namespace: SQLite has one writer"
    with platform.run_lock():
        with pytest.raises(RunLockedError, match=holder), platform.run_lock():
            pass
        if postgres:
            with mobile.run_lock():  # another team's run goes on at the same time
                pass
        else:  # one writer: SQLite's lock says so, not that `mobile` holds it
            with pytest.raises(RunLockedError, match=holder), mobile.run_lock():
                pass


def test_0009_puts_a_previous_release_in_its_files_namespace_and_the_demo_in_demo(
    database_url: str,
) -> None:
    store = first_release_store(database_url, "0006")
    store.migrate("0008")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE sync_runs SET config_path = '/srv/okr/Platform.yaml'"))
        conn.execute(
            text(
                "INSERT INTO objectives (cycle, id, title, weight, position, status, demo)"
                " VALUES ('2026-10-01..2026-12-31', 'demo-<i>x</i>', 'Demo', 1.0, 1,"
                " 'no_data', :yes)"
            ),
            {"yes": True},
        )
    store.migrate()
    assert store.namespaces() == ["demo", "platform"]
    platform = store.in_namespace("platform")
    assert [row.value for row in platform.history("p1-bugs")] == [30]
    assert [o.id for o in store.in_namespace("demo").all_objectives()] == ["demo-<i>x</i>"]
    # The next sync of the same file goes on with the same history.
    platform.write_run(run_record(T0 + timedelta(hours=1)), [objective()], [kr_record(25)])
    assert [row.value for row in platform.history("p1-bugs")] == [30, 25]
    store.close()


def test_a_store_without_runs_migrates_into_default(database_url: str) -> None:
    store = first_release_store(database_url, "0006")
    store.migrate("0008")
    store.migrate()
    assert store.namespaces() == ["default"]
    store.close()


def test_the_namespace_is_the_files_name_unless_written(tmp_path: Path) -> None:
    path = tmp_path / "Platform.yaml"
    path.write_text(MAPPING)
    assert load_mapping(path).namespace == "platform"
    path.write_text(MAPPING.replace("version: 1\n", "version: 1\nnamespace: web_team\n"))
    assert load_mapping(path).namespace == "web_team"
    odd = tmp_path / "okrs 2026.yaml"
    odd.write_text(MAPPING)
    with pytest.raises(MappingError, match=r"namespace.*'okrs 2026'.*namespace: <name>"):
        load_mapping(odd)


@pytest.mark.parametrize("name", [HOSTILE, "Team", "-x", "a/b", "x" * 65, ""])
def test_an_invalid_namespace_is_a_located_error(name: str) -> None:
    written = MAPPING.replace("version: 1\n", f"version: 1\nnamespace: {json.dumps(name)}\n")
    with pytest.raises(MappingError) as caught:
        load_mapping_text(written, source_name="team.yaml")
    message = str(caught.value)
    assert "team.yaml:3: namespace:" in message and "not a valid namespace" in message


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def two_teams(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """Two teams' files with the same ids synced into one store; mobile's keeps p1-bugs only."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    point_at(sandbox, monkeypatch)
    (tmp_path / "platform.yaml").write_text(MAPPING)
    (tmp_path / "mobile.yaml").write_text(MAPPING)
    for name in ("platform", "mobile"):
        assert main(["sync", "--config", f"{name}.yaml", "--only", "p1-bugs"]) == 0
    capsys.readouterr()
    return tmp_path


def _status(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["status", "--json", *args]) == 0
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


def _kr_ids(document: dict[str, object]) -> list[str]:
    objectives = document["objectives"]
    assert isinstance(objectives, list)
    return [kr["id"] for o in objectives for kr in o["key_results"]]


def test_each_namespace_is_read_on_its_own(
    two_teams: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mobile = _status(capsys)  # the newest sync's namespace unless told
    assert mobile["namespace"] == "mobile"
    platform = _status(capsys, "--namespace", "platform")
    assert platform["namespace"] == "platform"
    assert _kr_ids(platform) == _kr_ids(mobile)
    capsys.readouterr()
    assert main(["history", "platform/p1-bugs", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert len(history["values"]) == 1
    assert main(["status", "--namespace", "platfrom"]) == 2
    err = capsys.readouterr().err
    assert "unknown namespace 'platfrom'" in err and "did you mean 'platform'" in err
    assert main(["explain", "mobile/p1-bugs", "--namespace", "platform"]) == 2
    assert "not in --namespace platform" in capsys.readouterr().err


def test_a_sync_of_one_file_never_retires_the_other_files_rows(
    two_teams: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trimmed = MAPPING.split("  - id: delivery")[0]
    (two_teams / "mobile.yaml").write_text(trimmed)
    assert main(["sync", "--config", "mobile.yaml", "--only", "p1-bugs"]) == 0
    capsys.readouterr()
    assert main(["status", "--json", "--namespace", "platform"]) == 0
    platform = json.loads(capsys.readouterr().out)
    assert "delivery" in [o["id"] for o in platform["objectives"]]
    assert main(["status", "--json", "--namespace", "mobile"]) == 0
    mobile = json.loads(capsys.readouterr().out)
    assert "delivery" not in [o["id"] for o in mobile["objectives"]]


def test_prune_removes_one_namespace_after_confirmation(
    two_teams: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(f"sqlite:///{two_teams / 'okrsync.db'}")
    before = store.counts()
    assert main(["prune", "--namespace", "mobile"]) == 2  # no terminal to confirm on
    assert "needs --yes" in capsys.readouterr().err
    assert store.counts() == before
    assert main(["prune", "--namespace", "mobiel", "--yes"]) == 2
    assert "unknown namespace 'mobiel'" in capsys.readouterr().err
    assert main(["prune", "--namespace", "mobile", "--yes"]) == 0
    assert "namespace mobile removed" in capsys.readouterr().out
    assert store.namespaces() == ["platform"]
    assert store.in_namespace("platform").namespace_rows("platform")["kr_values"] >= 1
    assert store.namespace_rows("mobile") == dict.fromkeys(
        ("kr_values", "kr_scopes", "key_results", "objectives", "sync_runs"), 0
    )
    store.close()


def test_the_demo_refuses_a_store_other_namespaces_use(
    two_teams: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(f"sqlite:///{two_teams / 'okrsync.db'}")
    before = store.counts()
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "holds other namespaces (mobile, platform)" in err and "--into-shared-store" in err
    assert store.counts() == before
    store.close()


def test_same_ids_in_one_namespace_stay_unique_with_records_replaced(store: Store) -> None:
    """A namespace's key results are its own: writing one namespace twice updates in place."""
    platform = store.in_namespace("platform")
    platform.write_run(run_record(T0), [objective()], [kr_record(30)])
    platform.write_run(run_record(T0 + timedelta(hours=1)), [objective()], [kr_record(9)])
    assert [(row.id, row.value) for row in platform.all_key_results()] == [("p1-bugs", 9)]


def test_two_namespaces_runs_writing_the_same_cache_entry_at_once_both_land(
    postgres_url: str,
) -> None:
    """Runs of two namespaces go on side by side on PostgreSQL and may write the same cache
    entry (a query both files ask): the second waits for the first's transaction instead of
    failing on the entry's key, and the entry is the last writer's. (On SQLite the store's one
    run lock keeps a second run from starting at all.)"""
    store = Store(postgres_url)
    store.migrate()
    unit = CachedUnit(
        key="k" * 64,
        source="jira",
        description="project = APP <b>[x]</b>",
        needs=frozenset(),
        horizon=None,
        count=None,
        shape=None,
        synced_at=T0,
        full_at=T0,
        members={"10001": None},  # a count's member: its id alone
        loaded_items={},
    )
    first, second = store.engine.connect(), store.engine.connect()
    outcome: list[BaseException | None] = []

    def second_run() -> None:
        try:
            with second.begin():
                write_units(second, [UnitWrite(unit, replace_all=True)], run_id=2)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    with first.begin():
        write_units(first, [UnitWrite(unit, replace_all=True)], run_id=1)
        racer = threading.Thread(target=second_run)
        racer.start()
        with store.engine.connect() as watcher:  # the second run waits on the first's lock
            deadline = time.monotonic() + 30
            while not watcher.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar():
                assert time.monotonic() < deadline, "the second write never waited"
                time.sleep(0.05)
    racer.join(timeout=30)
    assert outcome == [None], outcome
    with store.engine.connect() as conn:
        assert conn.execute(select(fetch_cache.c.run_id)).scalars().all() == [2]
        assert conn.execute(select(fetch_cache_items.c.item_key)).scalars().all() == ["10001"]
    first.close()
    second.close()
    store.close()
