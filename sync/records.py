"""The store's records: what a run or a check-in writes, and what every read gives back.

Writes take `ObjectiveRecord`, `KeyResultRecord` and `RunRecord`; reads return the `*Row`
dataclasses, one per stored row, so views and the engine read attributes, never column names.
A row's fields are its table's columns (`sync/tables.py`), with times in UTC.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connectors.base import WorkItem
from sync.cycles import cycle_key

# --- written -----------------------------------------------------------------------------


@dataclass
class ObjectiveRecord:
    id: str
    title: str
    owner: str | None
    level: str | None
    parent_id: str | None
    weight: float
    progress: float | None
    status: str
    position: int = 0
    demo: bool = False  # written by the built-in `demo` (in its namespace, `demo`)
    # the cycles it is written in; none named: those of its key results in the same write
    cycles: tuple[str, ...] = ()


@dataclass
class KeyResultRecord:
    """A key result as one run leaves it; `observed` says a new value was fetched or entered."""

    id: str
    objective_id: str
    title: str
    kind: str
    unit: str | None
    metric_type: str
    source: str | None
    start_value: float | None
    target_value: float | None
    min_value: float | None
    max_value: float | None
    weight: float
    period_start: date
    period_end: date
    value: float | None
    progress_raw: float | None
    progress: float | None
    expected: float | None
    status: str
    error: str | None
    lineage: dict[str, Any] | None
    observed: bool
    position: int = 0

    @property
    def cycle(self) -> str:
        """Its cycle: its period (`sync.cycles`)."""
        return cycle_key(self.period_start, self.period_end)


@dataclass
class RunRecord:
    started_at: datetime
    finished_at: datetime
    outcome: str
    key_results_total: int
    key_results_failed: int
    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    config_path: str | None = None


@dataclass(frozen=True)
class Listing:
    """Every objective and key result the mapping file lists. A write given one marks what
    else the store holds as retired (kept with its history) and clears the mark of what is
    listed again."""

    objectives: frozenset[str]
    key_results: frozenset[str]
    # the cycles the file covers, where retirement applies; none named: those written.
    # Other cycles are left as they are: last quarter's rows are not retired by this one.
    cycles: frozenset[str] = frozenset()


def objective_cycles(
    objective: ObjectiveRecord,
    key_result_records: Sequence[KeyResultRecord],
    kr_cycles: set[str],
    listing: Listing | None,
) -> list[str]:
    """The cycles an objective is written in: those it names, else those of its key results
    in this write, else those of the write's key results, else those of the file; none
    (objectives alone), and the caller takes the store's current cycle."""
    own = {kr.cycle for kr in key_result_records if kr.objective_id == objective.id}
    return sorted(objective.cycles or own or kr_cycles or (listing.cycles if listing else ()))


# --- read back ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Lineage:
    """How a value came about, as the engine stores it (a JSON document per value): a tracker
    metric names its source, query and what it counted; a formula its expression and one
    lineage per input; a check-in when it was entered. Absent keys read as None."""

    metric: str | None = None  # a metric type, or "formula", "checkin", "note"
    source: str | None = None
    query: str | None = None
    link: str | None = None
    fetched_at: str | None = None
    cache: str | None = None  # the incremental sync's freshness: cached, patched or full
    field: str | None = None
    where: str | None = None
    error: str | None = None
    count: int | None = None
    counted_by: str | None = None  # "server" or "items"
    items_total: int | None = None
    items: tuple[str, ...] = ()
    sample_size: int | None = None
    note: str | None = None
    expr: str | None = None
    # after `field` above, which hides dataclasses.field in this class
    inputs: dict[str, Lineage] = dataclasses.field(default_factory=dict)
    value: float | None = None  # a formula input's value
    at: str | None = None  # when a check-in was entered
    definition: str | None = None  # digest of what the value is computed from (kept_values)
    kept: str | None = None  # why a run kept the value of the run before
    start_problem: str | None = None  # why `start: period_start` has no value (sync.baselines)
    scope: dict[str, Any] | None = None  # the set's changes (sync.scope.scope_lineage)

    @classmethod
    def from_json(cls, document: Any) -> Lineage | None:
        """The stored document read back; None when there is none (or it is no object)."""
        if not isinstance(document, dict):
            return None
        inputs = document.get("inputs")
        return cls(
            **{name: document.get(name) for name in _SCALAR_KEYS if document.get(name) is not None},
            # one string per item key, however many lineages name it
            items=tuple(_shared(key) for key in document.get("items") or ()),
            inputs={
                name: lineage
                for name, sub in (inputs.items() if isinstance(inputs, dict) else ())
                if (lineage := cls.from_json(sub)) is not None
            },
        )

    def to_json(self) -> dict[str, Any]:
        """The document again, as the engine wrote it: keys without a value left out (a formula
        input keeps its `value`, null or not)."""
        document: dict[str, Any] = {
            name: getattr(self, name) for name in _SCALAR_KEYS if getattr(self, name) is not None
        }
        if self.items:
            document["items"] = list(self.items)
        if self.inputs:
            document["inputs"] = {
                name: {**sub.to_json(), "value": sub.value} for name, sub in self.inputs.items()
            }
        return document


_SCALAR_KEYS = (
    "source",
    "metric",
    "expr",
    "query",
    "link",
    "at",
    "fetched_at",
    "cache",
    "field",
    "where",
    "error",
    "count",
    "counted_by",
    "items_total",
    "sample_size",
    "note",
    "value",
    "definition",
    "kept",
    "start_problem",
    "scope",
)


@dataclass(frozen=True)
class ObjectiveRow:
    id: str
    title: str
    owner: str | None
    level: str | None
    parent_id: str | None
    weight: float
    position: int
    progress: float | None
    status: str
    updated_at: datetime | None
    retired_at: datetime | None  # when the mapping file stopped listing it
    demo: bool
    cycle: str  # the cycle it is a row of (`sync.cycles`)
    namespace: str  # the mapping file's it is listed in (migration 0009)


@dataclass(frozen=True)
class KeyResultRow:
    """A key result's current state: its last good value (`updated_at`: when it was observed)
    and how the last run saw it (`checked_at`, `last_error`, `lineage`)."""

    id: str
    objective_id: str
    title: str
    kind: str
    unit: str | None
    metric_type: str
    source: str | None
    start_value: float | None
    target_value: float | None
    min_value: float | None
    max_value: float | None
    weight: float
    position: int
    period_start: datetime | None
    period_end: datetime | None
    value: float | None
    progress_raw: float | None
    progress: float | None
    expected: float | None
    status: str
    last_error: str | None
    lineage: Lineage | None
    updated_at: datetime | None
    checked_at: datetime | None
    last_run_id: int | None
    retired_at: datetime | None
    cycle: str  # its period as the store keys it (`sync.cycles`)
    namespace: str  # its objective's


@dataclass(frozen=True)
class HistoryPoint:
    """One value of a key result's history as views list it: no lineage."""

    observed_at: datetime
    value: float | None
    status: str | None
    origin: str  # sync, backfill, checkin or note
    note: str | None


@dataclass(frozen=True)
class BackfillPoint:
    """A key result's value at a past moment, rebuilt from the trackers' records."""

    observed_at: datetime
    value: float | None
    progress_raw: float | None
    status: str
    lineage: dict[str, Any]  # carries the key result's "definition" at the time of writing


@dataclass(frozen=True)
class BackfillWrite:
    """What one write of backfill points did."""

    written: int  # new or replaced points
    kept: int  # points an earlier backfill wrote for the same definition
    taken: int  # moments that hold a value a sync, a check-in or a note recorded


@dataclass(frozen=True)
class ValueRow:
    """One value of a key result's history, in full."""

    id: int
    key_result_id: str
    run_id: int | None  # None for check-ins and notes
    observed_at: datetime
    value: float | None
    progress_raw: float | None
    status: str | None
    origin: str
    note: str | None
    lineage: Lineage | None
    cycle: str  # the key result's cycle
    namespace: str  # the key result's


@dataclass(frozen=True)
class RunRow:
    id: int
    started_at: datetime
    finished_at: datetime
    outcome: str  # ok, partial or failed
    key_results_total: int
    key_results_failed: int
    requests: dict[str, int]
    errors: dict[str, list[str]]
    config_path: str | None
    namespace: str  # the mapping file's, whose key results the run computed


@dataclass(frozen=True)
class StoredKeyResult:
    """What the engine needs to know of a key result before it computes a new value, or
    keeps the one it has (`sync.kept_values`)."""

    value: float | None
    status: str
    updated_at: datetime | None
    last_error: str | None = None
    last_run_id: int | None = None  # the run that last looked at it
    lineage: Lineage | None = None


def _shared(text: Any) -> Any:
    """A string read back from JSON, interned; anything else as it was."""
    return sys.intern(text) if isinstance(text, str) else text


@dataclass(frozen=True)
class FrozenScope:
    """The items a `scope: frozen` key result measures: those its selector matched at the
    period's start (`taken_at`), each as a run last saw it."""

    taken_at: datetime
    definition: str  # of the key result when the scope was taken: another one retakes it
    items: tuple[WorkItem, ...]
