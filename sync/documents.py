"""The JSON documents okr-sync publishes, as pydantic models: `status --json` and the
dashboard API's responses. They are the one description of those documents: the API's
OpenAPI document is generated from them (`sync.dashboard.openapi`), and a response is one of
them dumped with `model_dump(mode="json")`. Field order is the documents' key order; a null
stays a null; times are ISO 8601 as `datetime.isoformat` writes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from pydantic import Field

from config.periods import cycle_period
from sync.document_fields import ClosedDocument, Count, Moment, Percent, RetiredAt
from sync.namespace_documents import NamespaceSummary, namespaces_document
from sync.presentation import percent
from sync.progress import Status
from sync.standing import (
    CHART_POINTS_MAX,
    RECENT_POINTS,
    KeyResultInTree,
    ObjectiveInTree,
    TreeFilter,
    objective_tree,
)
from sync.store import Store

# --- the objective tree: `status --json`, and /api/objectives with two fields more ------


class StatusKeyResult(ClosedDocument):
    """A key result as `status --json` lists it."""

    id: str
    title: str
    value: float | None
    start: float | None
    target: float | None
    unit: str | None
    progress: Percent | None
    status: Status
    updated_at: Moment | None
    error: str | None
    retired_at: RetiredAt


class KeyResultSummary(StatusKeyResult):
    """A key result in the objective tree."""

    change: float | None = Field(description="value minus the value before the latest one")


class StatusObjective(ClosedDocument):
    """An objective as `status --json` lists it."""

    id: str
    title: str
    owner: str | None
    level: str | None
    parent: str | None
    progress: Percent | None
    status: Status
    stale_inputs: list[str] = Field(
        description="key results (its own, then those of objectives aligned under it) whose "
        "last fetch failed; the progress counts their last good values"
    )
    retired_at: RetiredAt
    key_results: Sequence[StatusKeyResult]


class Objective(StatusObjective):
    """An objective in tree order with its key results; `depth` is 0 at a root."""

    key_results: Sequence[KeyResultSummary]
    depth: Count


class Cycle(ClosedDocument):
    """The cycle shown: its key in the store, its short label and its days."""

    key: str = Field(description="as the store keys it: `2026-10-01..2026-12-31`")
    label: str = Field(description="as a person writes it: `2026-Q4`")
    start: date
    end: date


def cycle_document(key: str | None) -> Cycle | None:
    if key is None:
        return None
    period = cycle_period(key)
    return Cycle(key=key, label=period.label, start=period.start, end=period.end)


class StatusDocument(ClosedDocument):
    """`status --json`: objectives in tree order."""

    objectives: list[StatusObjective]
    period: Cycle | None = Field(description="the cycle shown; null in an empty store")
    namespace: str = Field(description="the namespace shown: a mapping file's (`platform`)")
    namespaces: list[NamespaceSummary] = Field(
        description="every namespace of the store (the one shown too), in name order"
    )


class Objectives(ClosedDocument):
    """The objective tree: objectives in tree order with their key results."""

    objectives: list[Objective]
    period: Cycle | None = Field(description="the cycle shown; null in an empty store")
    namespace: str = Field(description="the namespace shown: a mapping file's (`platform`)")


# --- one key result: /api/key-results/{kr_id} ------------------------------------------


Origin = Literal["sync", "backfill", "checkin", "note"]


class HistoryEntry(ClosedDocument):
    observed_at: Moment
    value: float | None
    status: str | None
    origin: Origin
    note: str | None


class QuerySource(ClosedDocument):
    name: str | None = Field(description="the formula input, if any")
    source: str | None
    query: str | None
    link: str | None = Field(description="the same items in Jira or GitHub")


class Period(ClosedDocument):
    start: date | None
    end: date | None


class ChartPoint(ClosedDocument):
    observed_at: Moment
    value: float


class Chart(ClosedDocument):
    points: list[ChartPoint] = Field(
        description=f"every value, oldest first, up to {CHART_POINTS_MAX}; beyond, the first, "
        f"last, lowest and highest value of each of {CHART_POINTS_MAX // 4} equal spans of "
        "time, so a line through them has the history's shape"
    )
    values_total: Count
    downsampled: bool


class KeyResult(ClosedDocument):
    """One key result with its history, sources and forecast."""

    id: str
    namespace: str = Field(description="its mapping file's namespace")
    title: str
    objective: str
    kind: str
    unit: str | None
    value: float | None
    start: float | None
    target: float | None
    min: float | None
    max: float | None
    progress: Percent | None
    expected: Percent | None
    status: Status
    error: str | None
    updated_at: Moment | None
    retired_at: RetiredAt
    period: Period
    forecast: float | None = Field(description="value at period end by trend")
    forecast_note: str | None = Field(
        description="why there is no forecast (e.g. not enough history), or that the trend "
        "was stopped at the least or most the value can be"
    )
    sources: list[QuerySource]
    history: list[HistoryEntry] = Field(
        description=f"the newest history entries (at most {RECENT_POINTS}), oldest first"
    )
    history_total: Count = Field(description="how many history entries there are in all")
    chart: Chart


# --- `history KR --json`: the history contract ----------------------------------------


class HistoryValue(ClosedDocument):
    observed_at: Moment
    value: float | None
    origin: Origin
    note: str | None


class HistoryDocument(ClosedDocument):
    """`history KR --json`: one key result's values in one cycle, oldest first."""

    key_result: str
    namespace: str = Field(description="the key result's namespace")
    period: Period
    values: list[HistoryValue]


def history_document(store: Store, kr_id: str) -> HistoryDocument:
    """The history contract: every value of `kr_id` in the store's cycle, oldest first."""
    row = store.key_result(kr_id)
    points, _ = store.recent_history(kr_id, limit=None)
    return HistoryDocument(
        key_result=kr_id,
        namespace=store.namespace,
        period=Period(
            start=row.period_start.date() if row and row.period_start else None,
            end=row.period_end.date() if row and row.period_end else None,
        ),
        values=[
            HistoryValue(observed_at=p.observed_at, value=p.value, origin=p.origin, note=p.note)
            for p in points
        ],
    )


# --- sync runs: /api/runs --------------------------------------------------------------


class Run(ClosedDocument):
    id: int
    namespace: str = Field(description="the mapping file's whose key results it computed")
    started_at: Moment
    finished_at: Moment
    outcome: Literal["ok", "partial", "failed"]
    key_results_total: Count
    key_results_failed: Count
    requests: dict[str, int]
    errors: dict[str, list[str]]


class Runs(ClosedDocument):
    """Runs, newest first."""

    runs: list[Run]


# --- errors ----------------------------------------------------------------------------


class ErrorDetail(ClosedDocument):
    code: int
    message: str


class Error(ClosedDocument):
    """What every failed API request answers."""

    error: ErrorDetail


# --- building the objective tree -------------------------------------------------------


def status_document(store: Store, wanted: TreeFilter | None = None) -> StatusDocument:
    """The `status --json` contract: stable keys, progress in percent (0-100), objectives in
    tree order; a filter only leaves objectives out. `retired_at` is null for what the
    mapping file lists; others show only with `wanted.retired`."""
    return StatusDocument(
        objectives=[
            StatusObjective(
                **objective_fields(obj),
                key_results=[StatusKeyResult(**key_result_fields(kr)) for kr in obj.key_results],
            )
            for obj in objective_tree(store, wanted)
        ],
        period=cycle_document(store.cycle),
        namespace=store.namespace,
        namespaces=namespaces_document(store).namespaces,
    )


def objectives_document(store: Store, wanted: TreeFilter | None = None) -> Objectives:
    """What /api/objectives serves: `status --json` with each objective's `depth` and each
    key result's `change`."""
    return Objectives(
        objectives=[
            Objective(
                **objective_fields(obj),
                key_results=[
                    KeyResultSummary(**key_result_fields(kr), change=kr.change)
                    for kr in obj.key_results
                ],
                depth=obj.depth,
            )
            for obj in objective_tree(store, wanted)
        ],
        period=cycle_document(store.cycle),
        namespace=store.namespace,
    )


def objective_fields(obj: ObjectiveInTree) -> dict[str, Any]:
    return {
        "id": obj.id,
        "title": obj.title,
        "owner": obj.owner,
        "level": obj.level,
        "parent": obj.parent_id,
        "progress": percent(obj.progress),
        "status": obj.status,
        "stale_inputs": obj.stale_inputs,
        "retired_at": obj.retired_at,
    }


def key_result_fields(kr: KeyResultInTree) -> dict[str, Any]:
    return {
        "id": kr.id,
        "title": kr.title,
        "value": kr.value,
        "start": kr.start_value,
        "target": kr.target_value,
        "unit": kr.unit,
        "progress": percent(kr.progress),
        "status": kr.status,
        "updated_at": kr.updated_at,
        "error": kr.last_error,
        "retired_at": kr.retired_at,
    }
