"""A store with a long history (175,000 values by default), written in bulk through the
store's own tables: what a daemon syncing every minute for months leaves behind."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from sync.records import KeyResultRecord, ObjectiveRecord, RunRecord
from sync.store import Store
from sync.tables import kr_values
from tests.key_result_records import key_result_record

PERIOD_START = date(2026, 10, 1)
PERIOD_END = date(2026, 12, 31)
FIRST_AT = datetime(2026, 10, 1, tzinfo=UTC)
STEP = timedelta(minutes=1)
MINUTES_A_DAY = 1440
SPIKE_AT = 720  # minutes into each day
ITEMS_PER_LINEAGE = 50  # item keys in each value's lineage, as a count over items keeps them


@dataclass(frozen=True)
class BigStore:
    store: Store
    url: str
    key_results: tuple[str, ...]
    rows_per_key_result: int

    def spikes(self) -> list[tuple[datetime, float]]:
        """(when, value) of each day's spike: what a chart of the history must not lose."""
        return [
            (FIRST_AT + STEP * index, history_value(index))
            for index in range(SPIKE_AT, self.rows_per_key_result, MINUTES_A_DAY)
        ]


def history_value(index: int) -> float:
    """A rising trend with a daily wave and one spike a day: a chart must keep the spikes."""
    spike = 500.0 if index % MINUTES_A_DAY == SPIKE_AT else 0.0
    return round(100.0 + index / 100.0 + 20.0 * math.sin(index / 229.0) + spike, 3)


def key_result(kr_id: str, value: float) -> KeyResultRecord:
    return key_result_record(
        id=kr_id,
        objective_id="big",
        title=f"Key result {kr_id}",
        start_value=100.0,
        target_value=2000.0,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        value=value,
        progress_raw=0.5,
        progress=0.5,
        expected=0.5,
        lineage=lineage(kr_id),
    )


def lineage(kr_id: str) -> dict[str, object]:
    return {
        "source": "jira",
        "metric": "count",
        "query": f"project = BIG AND labels = {kr_id}",
        "link": "https://jira.example/issues/?jql=project%20%3D%20BIG",
        "items": [f"BIG-{n}" for n in range(ITEMS_PER_LINEAGE)],
        "items_total": ITEMS_PER_LINEAGE,
    }


def build_big_store(
    url: str, *, key_results: int = 7, rows: int = 175_000, chunk: int = 5_000
) -> BigStore:
    """`rows` history values spread over `key_results` key results, one a minute each."""
    store = Store(url)
    store.migrate()
    ids = tuple(f"kr-{n}" for n in range(key_results))
    per_kr = rows // key_results
    objective = ObjectiveRecord(
        "big", "A long history", "ops", "company", None, 1.0, 0.5, "on_track"
    )
    at = FIRST_AT + STEP * (per_kr - 1)
    run = RunRecord(at, at, "ok", key_results, 0, {"jira": 1}, {"jira": []})
    records = [key_result(kr, history_value(per_kr - 1)) for kr in ids]
    store.write_run(run, [objective], records)
    with store.engine.begin() as conn:
        conn.execute(kr_values.delete())  # the run's own rows: the bulk below is the history
        for kr in ids:
            kept = lineage(kr)
            for start in range(0, per_kr, chunk):
                conn.execute(
                    insert(kr_values),
                    [
                        {
                            "namespace": store.namespace,
                            "key_result_id": kr,
                            "cycle": records[0].cycle,
                            "run_id": None,
                            "observed_at": FIRST_AT + STEP * index,
                            "value": history_value(index),
                            "progress_raw": 0.5,
                            "status": "on_track",
                            "origin": "sync",
                            "note": None,
                            "lineage": kept,
                        }
                        for index in range(start, min(start + chunk, per_kr))
                    ],
                )
    return BigStore(store, url, ids, per_kr)
