"""Cycles in the store (SQLite and the real PostgreSQL): migration 0007 keeps every value, a
new quarter with the same ids starts a new history, retirement stays within a cycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from sync.documents import status_document
from sync.records import KeyResultRecord, Listing, ObjectiveRecord
from sync.store import Store
from tests.sync.test_store import T0, first_release_store, kr_record, objective, run_record

Q4 = "2026-10-01..2026-12-31"
Q1 = "2027-01-01..2027-03-31"
H2 = "2026-07-01..2026-12-31"


def test_0007_gives_every_row_the_cycle_of_its_period_and_keeps_every_value(
    database_url: str,
) -> None:
    """A key result stored before periods were (first release: the quarter of its last value,
    2026-Q4) and one of 2026-H2 under the same objective: the objective is kept in both
    cycles, each key result and its values in its own."""
    store = first_release_store(database_url, "0006")
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO key_results (id, objective_id, title, kind, metric_type, weight,"
                " position, value, status, period_start, period_end, updated_at, checked_at)"
                " VALUES ('half <b>[x]</b>', 'quality', 'Half', 'linear', 'count', 1.0, 1,"
                " 12, 'on_track', :start, :end, :at, :at)"
            ),
            {
                "start": datetime(2026, 7, 1, tzinfo=UTC),
                "end": datetime(2026, 12, 31, tzinfo=UTC),
                "at": T0,
            },
        )
        conn.execute(
            text(
                "INSERT INTO kr_values (key_result_id, observed_at, value, origin, note)"
                " VALUES ('half <b>[x]</b>', :at, 12, 'note', 'a \x1b[31m note')"
            ),
            {"at": T0},
        )
    store.migrate()
    assert store.cycles() == [Q4, H2]
    q4, h2 = store.in_cycle(Q4), store.in_cycle(H2)
    # Q4's objective lists its key result of H2 too: a row of H2, shown under it.
    assert [(row.id, row.cycle, row.value) for row in q4.all_key_results()] == [
        ("p1-bugs", Q4, 30),
        ("half <b>[x]</b>", H2, 12),
    ]
    assert [(row.value, row.cycle) for row in q4.history("p1-bugs")] == [(30, Q4)]
    # ... but not the other way: p1-bugs was never checked with H2's objective row.
    assert [(row.id, row.cycle) for row in h2.all_key_results()] == [("half <b>[x]</b>", H2)]
    assert [(row.note, row.cycle) for row in h2.history("half <b>[x]</b>")] == [
        ("a \x1b[31m note", H2)
    ]
    assert [(o.id, o.title, o.cycle) for o in q4.all_objectives()] == [("quality", "Quality", Q4)]
    assert [(o.id, o.title, o.cycle) for o in h2.all_objectives()] == [("quality", "Quality", H2)]
    assert store.counts() == {"objectives": 2, "key_results": 2, "kr_values": 2, "sync_runs": 1}
    # A run writes on from the migrated rows: the same key result, the same history.
    store.write_run(run_record(T0 + timedelta(hours=1)), [objective()], [kr_record(25)])
    assert [row.value for row in store.in_cycle(Q4).history("p1-bugs")] == [30, 25]
    store.close()


def _in(record: KeyResultRecord, start: date, end: date) -> KeyResultRecord:
    return replace(record, period_start=start, period_end=end)


def test_a_new_quarter_with_the_same_ids_starts_a_new_history_and_leaves_the_old_one(
    store: Store,
) -> None:
    other = ObjectiveRecord("<i>ops</i>", "Ops", None, None, None, 1.0, None, "no_data")
    gone = replace(kr_record(3), id="gone [x]", objective_id=other.id)
    q4 = Listing(frozenset({"quality", other.id}), frozenset({"p1-bugs", gone.id}))
    q4_krs = [_in(kr_record(30), date(2026, 10, 1), date(2026, 12, 31))]
    q4_krs.append(_in(gone, date(2026, 10, 1), date(2026, 12, 31)))
    store.write_run(run_record(T0), [objective(), other], q4_krs, listing=q4)
    store.write_run(
        run_record(T0 + timedelta(days=1)),
        [objective(), other],
        [_in(kr_record(20), date(2026, 10, 1), date(2026, 12, 31))],
        listing=q4,
    )
    before = store.in_cycle(Q4)
    old_rows = (before.all_objectives(), before.all_key_results(), before.history("p1-bugs"))
    assert store.current_cycle() == Q4

    # Next quarter: the same mapping file without `gone`, its period moved.
    q1 = Listing(frozenset({"quality"}), frozenset({"p1-bugs"}))
    store.write_run(
        run_record(datetime(2027, 1, 2, tzinfo=UTC)),
        [objective()],
        [_in(kr_record(40), date(2027, 1, 1), date(2027, 3, 31))],
        listing=q1,
    )
    assert store.current_cycle() == Q1
    assert store.cycles() == [Q1, Q4]
    after = store.in_cycle(Q4)
    assert (after.all_objectives(), after.all_key_results(), after.history("p1-bugs")) == old_rows
    assert [row.retired_at for row in after.all_key_results()] == [None, None]
    new = store.in_cycle(Q1)
    assert [row.value for row in new.history("p1-bugs")] == [40]
    assert [(row.id, row.retired_at) for row in new.all_key_results()] == [("p1-bugs", None)]
    assert [o.id for o in new.all_objectives()] == ["quality"]
    assert [row.value for row in store.history("p1-bugs")] == [40]  # the current cycle


def test_a_store_of_the_previous_release_shows_the_same_status_after_0007(
    database_url: str,
) -> None:
    """What `status --json` shows of a store written at 0006, once migrated: the same
    objective and key result, value, progress and status, now in the cycle of its period."""
    store = first_release_store(database_url, "0006")
    store.migrate()
    document = status_document(store)
    assert document.period is not None and document.period.key == Q4
    shown = [
        (o.id, o.progress, o.status, [(k.id, k.value, k.progress, k.status) for k in o.key_results])
        for o in document.objectives
    ]
    assert shown == [("quality", 50.0, "on_track", [("p1-bugs", 30.0, 50.0, "on_track")])]
    assert [point.value for point in store.history("p1-bugs")] == [30]
    store.close()
