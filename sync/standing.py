"""How objectives and key results stand, as plain data: the objective tree (filtered), a key
result's history with its expected pace and forecast, and the change over a window.

The terminal, the dashboard, its JSON API and the reports all read the store through here, so
they show the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sync.metrics import value_range
from sync.progress import Forecast, expected_progress, forecast
from sync.store import Store

# Kinds whose value moves from a start towards a target, so a pace line means something.
PACED_KINDS = frozenset({"linear"})


@dataclass(frozen=True)
class TreeFilter:
    """`status --level/--owner/--objective`: all given conditions must hold; `objective`
    keeps that objective and everything aligned under it."""

    level: str | None = None
    owner: str | None = None
    objective: str | None = None

    @property
    def active(self) -> bool:
        return any((self.level, self.owner, self.objective))


@dataclass
class HistoryPoint:
    observed_at: datetime
    value: float | None
    status: str | None
    origin: str
    note: str | None


@dataclass
class QuerySource:
    """Where (part of) a key result's value comes from, with a link into the tracker."""

    name: str | None
    source: str | None
    query: str | None
    link: str | None


@dataclass
class KeyResultDetail:
    row: dict[str, Any]
    points: list[HistoryPoint]
    sources: list[QuerySource]
    forecast: Forecast
    pace: list[tuple[datetime, float]] = field(default_factory=list)

    @property
    def notes(self) -> list[HistoryPoint]:
        return [p for p in self.points if p.note]

    @property
    def values(self) -> list[tuple[datetime, float]]:
        return [(p.observed_at, p.value) for p in self.points if p.value is not None]


def objectives_in_tree_order(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before their aligned children, depth-first, with `depth` set; an objective whose
    parent is not among `rows` is a root."""
    ids = {row["id"] for row in rows}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:
        parent = row["parent_id"] if row["parent_id"] in ids else None
        children.setdefault(parent, []).append(row)
    ordered: list[dict[str, Any]] = []
    # A stack, not a recursion: a 1,000-deep alignment chain is as easy as a flat list.
    stack = [(row, 0) for row in reversed(children.get(None, []))]
    while stack:
        row, depth = stack.pop()
        ordered.append({**row, "depth": depth})
        stack.extend((child, depth + 1) for child in reversed(children.get(row["id"], [])))
    return ordered


def filter_objectives(rows: Sequence[dict[str, Any]], wanted: TreeFilter) -> list[dict[str, Any]]:
    """The objectives that pass the filter, in tree order (depth relative to what is shown)."""
    kept = list(rows)
    if wanted.objective:
        children: dict[str, list[str]] = {}
        for row in rows:
            children.setdefault(row["parent_id"], []).append(row["id"])
        subtree = {wanted.objective}
        below = [wanted.objective]
        while below:
            for child in children.get(below.pop(), []):
                if child not in subtree:
                    subtree.add(child)
                    below.append(child)
        kept = [row for row in kept if row["id"] in subtree]
    if wanted.level:
        kept = [row for row in kept if (row["level"] or "").lower() == wanted.level.lower()]
    if wanted.owner:
        kept = [row for row in kept if (row["owner"] or "").lower() == wanted.owner.lower()]
    return objectives_in_tree_order(kept)


def objective_tree(store: Store, wanted: TreeFilter | None = None) -> list[dict[str, Any]]:
    """Objectives in tree order, each with its `key_results` and `stale_inputs`; each key
    result carries `previous_value` and `change` (value minus the value before the latest
    one)."""
    every = store.all_objectives()
    objectives = filter_objectives(every, wanted or TreeFilter())
    key_results = store.all_key_results()
    stale = stale_inputs(every, key_results)
    previous = store.previous_values()
    by_objective: dict[str, list[dict[str, Any]]] = {}
    for kr in key_results:
        before = previous.get(kr["id"])
        change = None if before is None or kr["value"] is None else kr["value"] - before
        by_objective.setdefault(kr["objective_id"], []).append(
            {**kr, "previous_value": before, "change": change}
        )
    return [
        {**obj, "key_results": by_objective.get(obj["id"], []), "stale_inputs": stale[obj["id"]]}
        for obj in objectives
    ]


def stale_inputs(
    objectives: Sequence[dict[str, Any]], key_results: Sequence[dict[str, Any]]
) -> dict[str, list[str]]:
    """Per objective, the key results its progress rests on whose last fetch failed: its own,
    then those of the objectives aligned under it, in tree order. The roll-up counts them at
    their last good value, so the objective's number is only as fresh as they are."""
    failed: dict[str, list[str]] = {}
    for kr in key_results:
        if kr["last_error"] is not None:
            failed.setdefault(kr["objective_id"], []).append(kr["id"])
    ordered = objectives_in_tree_order(objectives)
    ids = {row["id"] for row in ordered}
    children: dict[str, list[str]] = {}
    for row in ordered:
        if row["parent_id"] in ids:
            children.setdefault(row["parent_id"], []).append(row["id"])
    stale: dict[str, list[str]] = {row["id"]: [] for row in objectives}
    for row in reversed(ordered):  # children before their parents
        below = [kr_id for child in children.get(row["id"], []) for kr_id in stale[child]]
        stale[row["id"]] = failed.get(row["id"], []) + below
    return stale


def key_result_detail(store: Store, kr_id: str) -> KeyResultDetail | None:
    """Everything a key-result page shows; None for an unknown id."""
    row = store.key_result(kr_id)
    if row is None:
        return None
    history = store.history(kr_id)
    points = [
        HistoryPoint(h["observed_at"], h["value"], h["status"], h["origin"], h["note"])
        for h in history
    ]
    detail = KeyResultDetail(
        row, points, query_sources(row, history), Forecast(None, "no period end"), pace_line(row)
    )
    period_end = _day(row["period_end"])
    if period_end is not None:
        lineage = row["lineage"]
        field = lineage.get("field") if isinstance(lineage, dict) else None
        reachable = value_range(row["metric_type"], field)
        detail.forecast = forecast(detail.values, period_end=period_end, reachable=reachable)
    return detail


def query_sources(row: dict[str, Any], history: Sequence[dict[str, Any]]) -> list[QuerySource]:
    """The queries behind the value. A check-in or note replaces the key result's lineage, so
    the newest lineage that names a query (current first, then history) is used."""
    candidates = [row.get("lineage")] + [h.get("lineage") for h in reversed(history)]
    for lineage in candidates:
        if not isinstance(lineage, dict):
            continue
        if lineage.get("metric") == "formula":
            inputs = lineage.get("inputs") or {}
            found = [
                QuerySource(name, sub.get("source"), sub.get("query"), sub.get("link"))
                for name, sub in inputs.items()
                if isinstance(sub, dict) and sub.get("query")
            ]
            if found:
                return found
        elif lineage.get("query"):
            return [
                QuerySource(None, lineage.get("source"), lineage.get("query"), lineage.get("link"))
            ]
    return []


def pace_line(row: dict[str, Any]) -> list[tuple[datetime, float]]:
    """Where the value should be to arrive on time: start at period start, target at its end."""
    start, end = _day(row["period_start"]), _day(row["period_end"])
    first, goal = row["start_value"], row["target_value"]
    if row["kind"] not in PACED_KINDS or None in (start, end, first, goal):
        return []
    assert start is not None and end is not None
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    finish = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    return [(begin, float(first)), (finish, float(goal))]


def expected_value(row: dict[str, Any], as_of: datetime) -> float | None:
    """The value the pace line asks for at `as_of`."""
    start, end = _day(row["period_start"]), _day(row["period_end"])
    if row["kind"] not in PACED_KINDS or None in (start, end, row["start_value"]):
        return None
    assert start is not None and end is not None
    share = expected_progress(start, end, as_of)
    return float(row["start_value"] + share * (row["target_value"] - row["start_value"]))


def change_since(points: Sequence[HistoryPoint], since: datetime) -> float | None:
    """Latest value minus the value in force at `since` (the first value, if it came later)."""
    values = [(p.observed_at, p.value) for p in points if p.value is not None]
    if not values:
        return None
    before = [value for when, value in values if when <= since]
    baseline = before[-1] if before else values[0][1]
    return values[-1][1] - baseline


def _day(moment: datetime | date | None) -> date | None:
    if moment is None:
        return None
    return moment.date() if isinstance(moment, datetime) else moment
