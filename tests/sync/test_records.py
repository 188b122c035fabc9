"""The store's read models: lineage read back typed, and written back as it was stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sync.records import Lineage, ObjectiveRecord, RunRecord
from sync.store import Store
from tests.key_result_records import key_result_record

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

COUNT = {
    "source": "jira",
    "metric": "count",
    "query": "project = APP AND priority = P1",
    "link": "https://jira.example/issues/?jql=project%20%3D%20APP",
    "fetched_at": "2026-11-01T09:00:00+00:00",
    "cache": "patched",
    "where": "status != Done",
    "count": 12,
    "counted_by": "server",
}
MEDIAN = {
    "source": "github",
    "metric": "median",
    "query": "repo:acme/api is:pr is:merged",
    "link": "https://github.com/search?q=repo%3Aacme%2Fapi",
    "fetched_at": "2026-11-01T09:00:00+00:00",
    "field": "lead_time_hours",
    "items_total": 3,
    "items": ["acme/api#1", "acme/api#2", "acme/api#3"],
    "sample_size": 3,
    "note": "2 items without lead_time_hours left out",
}
FORMULA = {
    "metric": "formula",
    "expr": "done / total * 100",
    "inputs": {
        "done": {**COUNT, "value": 12.0},
        "total": {**COUNT, "error": "Jira answered 503", "value": None},
    },
    "fetched_at": "2026-11-01T09:00:00+00:00",
    "error": "total: Jira answered 503",
}
CHECKIN = {"metric": "checkin", "at": "2026-11-01T09:00:00+00:00"}


@pytest.mark.parametrize("document", [COUNT, MEDIAN, FORMULA, CHECKIN], ids=str)
def test_lineage_is_written_back_as_the_engine_stored_it(document: dict[str, Any]) -> None:
    lineage = Lineage.from_json(document)
    assert lineage is not None
    assert lineage.to_json() == document
    assert json.dumps(lineage.to_json(), sort_keys=True) == json.dumps(document, sort_keys=True)


def test_lineage_reads_typed_attributes() -> None:
    formula = Lineage.from_json(FORMULA)
    assert formula is not None and formula.metric == "formula" and formula.expr is not None
    assert formula.inputs["done"].count == 12 and formula.inputs["done"].value == 12.0
    assert formula.inputs["total"].value is None and formula.inputs["total"].error
    median = Lineage.from_json(MEDIAN)
    assert median is not None
    assert median.items == ("acme/api#1", "acme/api#2", "acme/api#3") and median.count is None


@pytest.mark.parametrize("stored", [None, [], "count", 3])
def test_no_lineage_or_no_object_reads_as_none(stored: object) -> None:
    assert Lineage.from_json(stored) is None


def test_the_store_reads_rows_back_as_records(tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path / 'records.db'}")
    store.migrate()
    objective = ObjectiveRecord("quality", "Quality", "cto", "company", None, 1.0, 0.5, "on_track")
    record = key_result_record(
        id="share-done",
        objective_id="quality",
        title="Share done",
        unit="%",
        metric_type="formula",
        source=None,
        start_value=0.0,
        target_value=100.0,
        period_start=T0.date(),
        period_end=T0.date(),
        expected=0.5,
        status="error",
        error="total: Jira answered 503",
        lineage=FORMULA,
    )
    store.write_run(
        RunRecord(T0, T0, "partial", 1, 1, {"jira": 2}, {"jira": ["503"]}), [objective], [record]
    )
    try:
        row = store.key_result("share-done")
        assert row is not None and row.lineage is not None
        assert row.lineage.to_json() == FORMULA
        assert (row.last_error, row.period_start) == (
            "total: Jira answered 503",
            T0.replace(hour=0),
        )
        [value] = store.history("share-done")
        assert value.lineage == row.lineage and value.observed_at == T0
        assert store.fetched_lineage("share-done") == row.lineage
        [run] = store.runs()
        assert (run.outcome, run.requests, run.errors) == (
            "partial",
            {"jira": 2},
            {"jira": ["503"]},
        )
        [read_objective] = store.all_objectives()
        assert (read_objective.owner, read_objective.retired_at) == ("cto", None)
    finally:
        store.close()
