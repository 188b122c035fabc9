"""The JSON API's documents, built from the same standing data as the pages.

/api/objectives is `status --json` with tree fields (`sync.documents.objectives_document`).

Shapes are the models of `sync.documents`, from which `openapi.py` is generated; times are
ISO 8601 UTC, progress is a fraction-free percentage (0-100, clamped) like `status --json`. A
key result's document stays bounded on a long history: its newest rows, and its values for a
chart (their shape beyond a few hundred).
"""

from __future__ import annotations

from datetime import date, datetime

from sync.documents import (
    Chart,
    ChartPoint,
    HistoryEntry,
    KeyResult,
    Period,
    QuerySource,
    Run,
    Runs,
)
from sync.presentation import percent
from sync.standing import KeyResultDetail, key_result_detail
from sync.store import Store

RUNS_LIMIT_MAX = 200


def key_result_document(store: Store, kr_id: str) -> KeyResult | None:
    detail = key_result_detail(store, kr_id)
    return None if detail is None else detail_document(detail)


def detail_document(detail: KeyResultDetail) -> KeyResult:
    row = detail.row
    return KeyResult(
        id=row.id,
        namespace=row.namespace,
        title=row.title,
        objective=row.objective_id,
        kind=row.kind,
        unit=row.unit,
        value=row.value,
        start=row.start_value,
        target=row.target_value,
        min=row.min_value,
        max=row.max_value,
        progress=percent(row.progress),
        expected=percent(row.expected),
        status=row.status,
        error=row.last_error,
        updated_at=row.updated_at,
        retired_at=row.retired_at,
        period=Period(start=_day(row.period_start), end=_day(row.period_end)),
        forecast=detail.forecast.value,
        forecast_note=detail.forecast.note,
        sources=[
            QuerySource(name=s.name, source=s.source, query=s.query, link=s.link)
            for s in detail.sources
        ],
        history=[
            HistoryEntry(
                observed_at=p.observed_at,
                value=p.value,
                status=p.status,
                origin=p.origin,
                note=p.note,
            )
            for p in detail.points
        ],
        history_total=detail.points_total,
        chart=Chart(
            points=[ChartPoint(observed_at=when, value=value) for when, value in detail.values],
            values_total=detail.values_total,
            downsampled=detail.downsampled,
        ),
    )


def runs_document(store: Store, limit: int) -> Runs:
    """The runs of the store's namespace, newest first. The mapping file's path is internal
    and left out."""
    return Runs(
        runs=[
            Run(
                id=run.id,
                namespace=run.namespace,
                started_at=run.started_at,
                finished_at=run.finished_at,
                outcome=run.outcome,
                key_results_total=run.key_results_total,
                key_results_failed=run.key_results_failed,
                requests=run.requests or {},
                errors=run.errors or {},
            )
            for run in store.runs(limit=limit)
        ]
    )


def _day(moment: datetime | None) -> date | None:
    return None if moment is None else moment.date()
