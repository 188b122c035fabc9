"""The store on SQLite and on the real local PostgreSQL: migrations, runs, history, locks."""

from __future__ import annotations

import multiprocessing
import os
import stat
from datetime import UTC, date, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from config.periods import parse_period
from connectors.base import WorkItem
from sync.item_cache import load_units
from sync.item_codec import ITEM_FORMAT
from sync.records import FrozenScope, KeyResultRecord, Listing, ObjectiveRecord, RunRecord
from sync.store import Store
from sync.store_errors import RunLockedError, StoreError
from sync.tables import fetch_cache, fetch_cache_items
from tests.key_result_records import key_result_record
from tests.reliability.record import record

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def objective() -> ObjectiveRecord:
    return ObjectiveRecord("quality", "Quality", "cto", "company", None, 1.0, 0.5, "on_track")


def kr_record(
    value: float | None, *, observed: bool = True, error: str | None = None
) -> KeyResultRecord:
    return key_result_record(
        id="p1-bugs",
        objective_id="quality",
        title="P1 bugs",
        start_value=40,
        target_value=5,
        value=value,
        progress_raw=0.5,
        progress=0.5,
        expected=0.4,
        status="error" if error else "on_track",
        error=error,
        lineage={"source": "jira", "count": value, "error": error},
        observed=observed,
    )


def run_record(at: datetime, outcome: str = "ok", failed: int = 0) -> RunRecord:
    return RunRecord(at, at + timedelta(seconds=2), outcome, 1, failed, {"jira": 1}, {"jira": []})


def first_release_store(database_url: str, revision: str, value: float = 30) -> Store:
    """A store migrated to `revision` holding a run as the first release wrote it (p1-bugs at
    `value`): only the columns of migration 0001, so that a migration test holds whatever
    columns the code writes today."""
    store = Store(database_url)
    store.migrate(revision)
    with store.engine.begin() as conn:
        run_id = conn.execute(  # numbered by the store, so that later runs number on from it
            text(
                "INSERT INTO sync_runs (started_at, finished_at, outcome, key_results_total,"
                " key_results_failed, requests, errors) VALUES (:at, :at, 'ok', 1, 0, '{}', '{}')"
                " RETURNING id"
            ),
            {"at": T0},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO objectives (id, title, owner, level, weight, position, progress,"
                " status, updated_at) VALUES ('quality', 'Quality', 'cto', 'company', 1.0, 0,"
                " 0.5, 'on_track', :at)"
            ),
            {"at": T0},
        )
        conn.execute(
            text(
                "INSERT INTO key_results (id, objective_id, title, kind, metric_type, weight,"
                " position, value, progress, status, updated_at) VALUES ('p1-bugs', 'quality',"
                " 'P1 bugs', 'linear', 'count', 1.0, 0, :value, 0.5, 'on_track', :at)"
            ),
            {"value": value, "at": T0},
        )
        conn.execute(
            text(
                "INSERT INTO kr_values (key_result_id, run_id, observed_at, value, origin)"
                " VALUES ('p1-bugs', :run, :at, :value, 'sync')"
            ),
            {"value": value, "at": T0, "run": run_id},
        )
    return store


def test_migrate_twice_creates_empty_tables(store: Store) -> None:
    store.migrate()
    assert store.counts() == {"objectives": 0, "key_results": 0, "kr_values": 0, "sync_runs": 0}


def test_history_row_only_when_value_changes(store: Store) -> None:
    store.write_run(run_record(T0), [objective()], [kr_record(30)])
    store.write_run(run_record(T0 + timedelta(hours=1)), [objective()], [kr_record(30)])
    store.write_run(run_record(T0 + timedelta(hours=2)), [objective()], [kr_record(25)])
    values = [row.value for row in store.history("p1-bugs")]
    assert values == [30, 25]
    assert store.counts()["sync_runs"] == 3
    assert store.key_result("p1-bugs").value == 25  # type: ignore[union-attr]


def test_failure_keeps_last_good_value_and_records_error(store: Store) -> None:
    store.write_run(run_record(T0), [objective()], [kr_record(30)])
    store.write_run(
        run_record(T0 + timedelta(hours=1), "failed", 1),
        [objective()],
        [kr_record(30, observed=False, error="Jira down")],
    )
    row = store.key_result("p1-bugs")
    assert row is not None
    assert row.value == 30
    assert row.last_error == "Jira down"
    assert row.status == "error"
    assert row.updated_at == T0 + timedelta(seconds=2)  # when the value was observed
    assert [r.value for r in store.history("p1-bugs")] == [30]


def test_first_value_since_is_the_period_start_value(store: Store) -> None:
    store.write_run(run_record(T0), [objective()], [kr_record(40)])
    store.write_run(run_record(T0 + timedelta(days=1)), [objective()], [kr_record(35)])
    assert store.first_value_since("p1-bugs", date(2026, 10, 1)) == 40
    assert store.first_value_since("p1-bugs", date(2026, 11, 2)) == 35
    assert store.first_value_since("p1-bugs", date(2026, 12, 1)) is None


def test_checkin_adds_history_with_note(store: Store) -> None:
    store.write_run(run_record(T0), [objective()], [kr_record(40)])
    store.write_checkin(
        [objective()],
        kr_record(38),
        at=T0 + timedelta(days=1),
        origin="checkin",
        note="counted by hand",
    )
    last = store.history("p1-bugs")[-1]
    assert (last.value, last.origin, last.note, last.run_id) == (
        38,
        "checkin",
        "counted by hand",
        None,
    )


def test_a_failed_write_leaves_the_previous_state(store: Store) -> None:
    store.write_run(run_record(T0), [objective()], [kr_record(40)])
    before = store.counts()
    broken = kr_record(10)
    broken.objective_id = None  # type: ignore[assignment]  # violates NOT NULL mid-transaction
    with pytest.raises(StoreError):
        store.write_run(run_record(T0 + timedelta(hours=1)), [objective()], [broken])
    assert store.counts() == before
    assert store.key_result("p1-bugs").value == 40  # type: ignore[union-attr]


def test_run_lock_refuses_a_second_holder(store: Store, database_url: str) -> None:
    other = Store(database_url)
    with store.run_lock(), pytest.raises(RunLockedError), other.run_lock(wait_s=0):
        pass
    with other.run_lock():  # released once the first holder is done
        pass
    other.close()


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        Store("not a url")


def test_upgrade_to_compact_cache_items_drops_only_the_cache(database_url: str) -> None:
    """0003 changes how cached items are stored: the old cache goes, nothing else does."""
    store = first_release_store(database_url, "0002")
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO fetch_cache (unit_key, source, description, needs, synced_at, full_at)"
                " VALUES ('u1', 'jira', 'project = APP', '[]', :at, :at)"
            ),
            {"at": T0},
        )
        conn.execute(
            text(
                "INSERT INTO fetch_cache_items (unit_key, item_key, tracker_id, item)"
                " VALUES ('u1', 'APP-1', '10001', :item)"
            ),
            {"item": '{"key": "APP-1"}'},
        )
    store.migrate()
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(fetch_cache)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(fetch_cache_items)).scalar_one() == 0
        assert "item_format" in {c["name"] for c in inspect(conn).get_columns("fetch_cache")}
    assert [row.value for row in store.history("p1-bugs")] == [30]
    store.close()


def test_upgrade_to_cache_entry_shapes_keeps_the_cache_without_a_shape(database_url: str) -> None:
    """0004 adds `fetch_cache.shape`; entries written before keep their rows, shape unknown."""
    store = first_release_store(database_url, "0003")
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO fetch_cache"
                " (unit_key, source, description, needs, synced_at, full_at, item_format)"
                " VALUES ('u1', 'jira', 'project = APP', '[]', :at, :at, :format)"
            ),
            {"at": T0, "format": ITEM_FORMAT},
        )
        conn.execute(
            text(
                "INSERT INTO fetch_cache_items (unit_key, item_key, tracker_id)"
                " VALUES ('u1', '10001', '10001')"
            )
        )
    store.migrate()
    loaded = load_units(store, ["u1"])
    assert loaded["u1"].shape is None and loaded["u1"].members == {"10001": None}
    assert [row.value for row in store.history("p1-bugs")] == [30]
    store.close()


def test_upgrade_to_mapping_text_widths_keeps_every_value(database_url: str) -> None:
    """0005 widens `unit` and `level` to what the mapping file allows; nothing is lost."""
    store = first_release_store(database_url, "0004")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE key_results SET unit = 'story pts'"))
    store.migrate()
    kept = store.key_result("p1-bugs")
    assert kept is not None and (kept.unit, kept.value) == ("story pts", 30)
    assert [row.value for row in store.history("p1-bugs")] == [30]
    assert [row.level for row in store.all_objectives()] == ["company"]
    wide = kr_record(25)
    wide.unit = "story points (fibonacci) [é] <b>" + "é" * 18
    widest = objective()
    widest.level = "<i>team</i> [platform] " + "l" * 77
    store.write_run(run_record(T0 + timedelta(hours=1)), [widest], [wide])
    assert store.key_result("p1-bugs").unit == wide.unit  # type: ignore[union-attr]
    assert [row.level for row in store.all_objectives()] == [widest.level]
    store.close()


def _migrate_when_all_are_ready(url: str, ready: Barrier, outcomes: Queue[str]) -> None:
    ready.wait()
    store = Store(url)
    try:
        store.migrate()
        outcomes.put("migrated")
    except Exception as exc:
        outcomes.put(f"{type(exc).__name__}: {exc}")
    finally:
        store.close()


@pytest.mark.reliability
def test_processes_migrating_a_fresh_store_at_once_take_turns(database_url: str) -> None:
    """Forked processes released together by a barrier all migrate one empty store: under the
    migration lock each finds the work done or does it alone; without it, all but one failed."""
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(6)
    outcomes: Queue[str] = context.Queue()
    processes = [
        context.Process(target=_migrate_when_all_are_ready, args=(database_url, ready, outcomes))
        for _ in range(6)
    ]
    for process in processes:
        process.start()
    reported = sorted(outcomes.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    assert reported == ["migrated"] * 6
    store = Store(database_url)
    assert store.counts() == {"objectives": 0, "key_results": 0, "kr_values": 0, "sync_runs": 0}
    store.close()
    record(
        "boundary",
        "processes migrating one fresh store at the same moment (SQLite and PostgreSQL)",
        6,
        "all migrated, one at a time under the migration lock; no error",
    )


def test_upgrade_to_retirement_keeps_every_value_listed_and_not_the_demos(
    database_url: str,
) -> None:
    """0006 adds `retired_at` and `objectives.demo`: rows written before stay, listed (no
    `retired_at`) and not the demo's, so `demo` refuses a store it cannot tell it wrote."""
    store = first_release_store(database_url, "0004")
    store.migrate()
    kept = store.key_result("p1-bugs")
    assert kept is not None and (kept.value, kept.retired_at) == (30, None)
    assert [row.value for row in store.history("p1-bugs")] == [30]
    assert [(o.id, o.retired_at, o.demo) for o in store.all_objectives()] == [
        ("quality", None, False)
    ]
    assert store.namespaces() == ["default"]  # not the demo's (0009)
    store.close()


def test_upgrade_to_frozen_scopes_keeps_every_value_and_keeps_a_scope_per_period(
    database_url: str,
) -> None:
    """0008 adds `kr_scopes` and changes no row: a store written at 0006 (then 0007) keeps its key result
    and history; a scope written then is read back per key result and period, its items as
    written (brackets, HTML and control characters too)."""
    store = first_release_store(database_url, "0006")  # first_release_store's rows predate 0007
    assert "kr_scopes" not in inspect(store.engine).get_table_names()
    store.migrate()
    assert "kr_scopes" in inspect(store.engine).get_table_names()
    kept = store.key_result("p1-bugs")
    assert kept is not None and kept.value == 30
    assert [row.value for row in store.history("p1-bugs")] == [30]
    q4, q1 = parse_period("2026-Q4"), parse_period("2027-Q1")
    assert store.frozen_scope("p1-bugs", q4) is None
    item = WorkItem(
        "github",
        "acme/x#1",
        "https://github.com/acme/x/issues/1",
        "issue",
        "[b]<script>\x1b",
        "open",
        "todo",
        T0,
        T0,
    )
    store.write_frozen_scope("p1-bugs", q4, FrozenScope(T0, "d1", (item,)))
    read = store.frozen_scope("p1-bugs", q4)
    assert read is not None and read.items == (item,) and read.taken_at == T0
    assert store.frozen_scope("p1-bugs", q1) is None  # another cycle takes its own
    store.write_frozen_scope("p1-bugs", q4, FrozenScope(T0, "d2", ()))
    assert store.frozen_scope("p1-bugs", q4) == FrozenScope(T0, "d2", ())
    store.close()


def other_objective() -> ObjectiveRecord:
    return ObjectiveRecord(
        "<b>[x]</b>\x1b", "Other <i>one</i>", None, "team", None, 1.0, None, "no_data"
    )


def test_a_listing_retires_what_it_leaves_out_and_restores_what_comes_back(store: Store) -> None:
    """Rows the mapping file no longer lists are marked once, at the run that dropped them,
    and keep their value and history; listed again, the mark goes."""
    other_kr = kr_record(7)
    other_kr.id, other_kr.objective_id = "[kr]<script>", other_objective().id
    both = Listing(
        frozenset({"quality", other_objective().id}), frozenset({"p1-bugs", other_kr.id})
    )
    store.write_run(
        run_record(T0), [objective(), other_objective()], [kr_record(30), other_kr], listing=both
    )
    assert [o.retired_at for o in store.all_objectives()] == [None, None]
    only_quality = Listing(frozenset({"quality"}), frozenset({"p1-bugs"}))
    later = T0 + timedelta(hours=1)
    store.write_run(run_record(later), [objective()], [kr_record(25)], listing=only_quality)
    store.write_run(
        run_record(later + timedelta(hours=1)), [objective()], [kr_record(25)], listing=only_quality
    )
    retired_at = later + timedelta(seconds=2)  # the first run without them; not moved later
    objectives = {o.id: o.retired_at for o in store.all_objectives()}
    assert objectives == {"quality": None, other_objective().id: retired_at}
    gone = store.key_result(other_kr.id)
    assert gone is not None and (gone.retired_at, gone.value) == (retired_at, 7)
    assert [row.value for row in store.history(other_kr.id)] == [7]
    assert store.key_result("p1-bugs").retired_at is None  # type: ignore[union-attr]
    # Listed again (an `--only` run need not write it): the mark goes, the value stays.
    store.write_run(
        run_record(later + timedelta(hours=2)),
        [objective(), other_objective()],
        [kr_record(25)],
        listing=both,
    )
    assert [o.retired_at for o in store.all_objectives()] == [None, None]
    back = store.key_result(other_kr.id)
    assert back is not None and (back.retired_at, back.value) == (None, 7)


@pytest.mark.reliability
def test_sqlite_store_and_its_lock_are_created_readable_by_the_owner_only(tmp_path: Path) -> None:
    """Whatever the umask: the store holds every objective, note and query."""
    path = tmp_path / "okrsync.db"
    previous = os.umask(0o000)  # the most permissive umask: nothing taken away
    try:
        store = Store(f"sqlite:///{path}")
        store.migrate()
        with store.run_lock():
            store.write_run(run_record(T0), [objective()], [kr_record(30)])
            created = sorted(p.name for p in tmp_path.iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        store.close()
    finally:
        os.umask(previous)
    assert created == [
        "okrsync.db",
        "okrsync.db-shm",
        "okrsync.db-wal",
        "okrsync.db.lock",
        "okrsync.db.migration.lock",
    ]
    assert modes == dict.fromkeys(created, 0o600)
    record(
        "boundary",
        "a new SQLite store under the most permissive umask (000)",
        1,
        "the store, its -wal, -shm and lock files created 0600",
    )


def test_an_existing_sqlite_store_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "okrsync.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    Store(f"sqlite:///{path}").migrate()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def write_history(store: Store, values: list[float], *, note_every: int = 0) -> None:
    """`values` one minute apart from T0, written as check-ins (a history row each)."""
    for index, value in enumerate(values):
        note = f"note {index}" if note_every and index % note_every == 0 else None
        store.write_checkin(
            [objective()],
            kr_record(value),
            at=T0 + timedelta(minutes=index),
            origin="checkin",
            note=note,
        )


def test_value_points_are_every_value_up_to_the_bound_then_their_shape(store: Store) -> None:
    values = [float(i % 50) for i in range(1000)]
    values[613] = 999.0  # one spike
    values[777] = -5.0  # one dip
    write_history(store, values)
    every, total = store.value_points("p1-bugs", max_points=1000)
    assert total == 1000
    assert every == [(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)]

    drawn, total = store.value_points("p1-bugs", max_points=100)
    assert total == 1000 and len(drawn) <= 100
    assert drawn == sorted(drawn)
    kept = {(round((at - T0).total_seconds() / 60), v) for at, v in drawn}
    assert {(0, 0.0), (613, 999.0), (777, -5.0), (999, values[999])} <= kept
    assert all(values[minute] == v for minute, v in kept)  # each one a real value


def test_recent_history_and_value_at_read_only_what_they_need(store: Store) -> None:
    write_history(store, [float(i) for i in range(30)], note_every=10)
    rows, total = store.recent_history("p1-bugs", limit=5)
    assert total == 30
    assert [r.value for r in rows] == [25.0, 26.0, 27.0, 28.0, 29.0]
    assert not hasattr(rows[0], "lineage")
    notes, total = store.recent_history("p1-bugs", limit=2, notes_only=True)
    assert total == 3 and [n.note for n in notes] == ["note 10", "note 20"]
    assert len(store.recent_history("p1-bugs", limit=None)[0]) == 30
    assert store.value_at("p1-bugs", None) == 29.0
    assert store.value_at("p1-bugs", T0 + timedelta(minutes=7, seconds=30)) == 7.0
    assert store.value_at("p1-bugs", T0 - timedelta(minutes=1)) is None
    assert store.first_value("p1-bugs") == 0.0
    assert store.previous_values() == {"p1-bugs": 28.0}


def test_a_store_a_newer_release_migrated_is_refused_with_a_message(database_url: str) -> None:
    """Older code on a newer schema: a clear error naming both revisions, not Alembic's
    traceback, and nothing written."""
    store = Store(database_url)
    store.migrate()
    store.write_run(run_record(T0), [objective()], [kr_record(30)])
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(StoreError, match=r"migrated by a newer okr-sync \(schema 0099; this one"):
        store.migrate()
    assert [row.value for row in store.history("p1-bugs")] == [30]
    store.close()
