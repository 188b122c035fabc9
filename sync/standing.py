"""How objectives and key results stand, as plain data: the objective tree (filtered), a key
result's history with its expected pace and forecast, and the change over a window.

The terminal, the dashboard, its JSON API and the reports all read the store through here, so
they show the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from config.periods import cycle_period, parse_period
from config.vocabulary import KeyResultKind, MetricType
from sync.cycles import cycle_key
from sync.forecast import Forecast, StreamedTrend, forecast
from sync.metrics import value_range
from sync.progress import expected_progress
from sync.records import HistoryPoint, KeyResultRow, Lineage, ObjectiveRow
from sync.store import Store

# Kinds whose value moves from a start towards a target, so a pace line means something.
PACED_KINDS = frozenset({KeyResultKind.LINEAR})


@dataclass(frozen=True)
class TreeFilter:
    """`status --level/--owner/--objective`: all given conditions must hold; `objective`
    keeps that objective and everything aligned under it. `retired` (`status --all`) also
    shows what the mapping file no longer lists."""

    level: str | None = None
    owner: str | None = None
    objective: str | None = None
    retired: bool = False

    @property
    def active(self) -> bool:
        return any((self.level, self.owner, self.objective))


@dataclass(frozen=True)
class KeyResultInTree(KeyResultRow):
    """A key result as the tree shows it: `change` is its value minus the one before."""

    previous_value: float | None
    change: float | None


@dataclass(frozen=True)
class ObjectiveInTree(ObjectiveRow):
    """An objective in tree order: `depth` below the roots shown, its key results, and the
    failed key results its progress rests on (`stale_inputs`)."""

    depth: int
    key_results: list[KeyResultInTree]
    stale_inputs: list[str]


@dataclass
class QuerySource:
    """Where (part of) a key result's value comes from, with a link into the tracker."""

    name: str | None
    source: str | None
    query: str | None
    link: str | None


# A chart draws at most this many values; a longer history keeps its shape (sync.downsample).
CHART_POINTS_MAX = 600
# The newest history rows a key result's page and API document list, and its newest notes.
RECENT_POINTS = 100
RECENT_NOTES = 50


@dataclass
class KeyResultDetail:
    """A key result with a bounded view of its history, however long that is: the chart's
    values (`values_total` in all), the newest rows (`points_total` in all) and notes."""

    row: KeyResultRow
    values: list[tuple[datetime, float]]
    values_total: int
    points: list[HistoryPoint]
    points_total: int
    notes: list[HistoryPoint]
    sources: list[QuerySource]
    forecast: Forecast
    pace: list[tuple[datetime, float]] = field(default_factory=list)

    @property
    def downsampled(self) -> bool:
        return self.values_total > len(self.values)


TreeKey = tuple[str, str]  # (namespace, id): ids are unique within a namespace only


def tree_key(row: ObjectiveRow) -> TreeKey:
    """Where an objective is in a tree of one or several namespaces."""
    return (row.namespace, row.id)


def tree_parent_key(row: ObjectiveRow) -> TreeKey | None:
    """Where its parent is: `parent_id` is the id alone within its own namespace, and
    `namespace/id` when it aligns to another namespace's objective (`parent: company/x`)."""
    if row.parent_id is None:
        return None
    namespace, _, parent_id = row.parent_id.rpartition("/")
    return (namespace or row.namespace, parent_id)


def objectives_in_tree_order(rows: Sequence[ObjectiveRow]) -> list[tuple[ObjectiveRow, int]]:
    """(objective, depth): parents before their aligned children, depth-first; an objective
    whose parent is not among `rows` is a root. Rows of several namespaces make one tree: a
    team's objective aligned to the company's sits under it."""
    keys = {tree_key(row) for row in rows}
    children: dict[TreeKey | None, list[ObjectiveRow]] = {}
    for row in rows:
        parent = tree_parent_key(row)
        children.setdefault(parent if parent in keys else None, []).append(row)
    ordered: list[tuple[ObjectiveRow, int]] = []
    # A stack, not a recursion: a 1,000-deep alignment chain is as easy as a flat list.
    stack = [(row, 0) for row in reversed(children.get(None, []))]
    while stack:
        row, depth = stack.pop()
        ordered.append((row, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(tree_key(row), [])))
    return ordered


def filter_objectives(
    rows: Sequence[ObjectiveRow], wanted: TreeFilter
) -> list[tuple[ObjectiveRow, int]]:
    """The objectives that pass the filter, in tree order (depth relative to what is shown).
    `wanted.objective` is an id (in any namespace shown) or `namespace/id`; the objectives
    aligned under it follow it across namespaces."""
    kept = list(rows)
    if wanted.objective:
        children: dict[TreeKey | None, list[TreeKey]] = {}
        for row in rows:
            children.setdefault(tree_parent_key(row), []).append(tree_key(row))
        below = [key for key in map(tree_key, rows) if wanted.objective in (key[1], named(key))]
        subtree = set(below)
        while below:
            for child in children.get(below.pop(), []):
                if child not in subtree:
                    subtree.add(child)
                    below.append(child)
        kept = [row for row in kept if tree_key(row) in subtree]
    if wanted.level:
        kept = [row for row in kept if (row.level or "").lower() == wanted.level.lower()]
    if wanted.owner:
        kept = [row for row in kept if (row.owner or "").lower() == wanted.owner.lower()]
    return objectives_in_tree_order(kept)


def named(key: TreeKey) -> str:
    """`platform/lead-time`: a row named where several namespaces are shown."""
    return f"{key[0]}/{key[1]}"


def objective_tree(store: Store, wanted: TreeFilter | None = None) -> list[ObjectiveInTree]:
    """Objectives of the store's namespace and cycle in tree order (`tree_across` one)."""
    return tree_across([store], wanted)


def tree_across(
    stores: Sequence[Store], wanted: TreeFilter | None = None, *, qualify: bool = False
) -> list[ObjectiveInTree]:
    """Objectives in tree order, each with its key results and stale inputs; each key result
    carries `previous_value` and `change` (value minus the value before the latest one).
    `stores` are the namespaces shown, each scoped to its cycle: an objective aligned to
    another's sits under it, the others are roots in the order given. `qualify` names stale
    inputs `namespace/id`. Retired objectives and key results (`retired_at` set) are left out
    unless `wanted.retired`; they never count as stale inputs, as no roll-up counts them."""
    wanted = wanted or TreeFilter()
    every = [row for store in stores for row in store.all_objectives()]
    key_results = [kr for store in stores for kr in store.all_key_results()]
    current = [row for row in every if row.retired_at is None]
    listed = [kr for kr in key_results if kr.retired_at is None]
    stale = stale_inputs(current, listed, qualify=qualify)
    objectives = filter_objectives(every if wanted.retired else current, wanted)
    if not wanted.retired:
        key_results = listed
    previous = {
        (store.namespace, kr_id): value
        for store in stores
        for kr_id, value in store.previous_values().items()
    }
    by_objective: dict[TreeKey, list[KeyResultInTree]] = {}
    for kr in key_results:
        before = previous.get((kr.namespace, kr.id))
        change = None if before is None or kr.value is None else kr.value - before
        by_objective.setdefault((kr.namespace, kr.objective_id), []).append(
            KeyResultInTree(**_fields_of(kr), previous_value=before, change=change)
        )
    return [
        ObjectiveInTree(
            **_fields_of(obj),
            depth=depth,
            key_results=by_objective.get(tree_key(obj), []),
            stale_inputs=stale.get(tree_key(obj), []),
        )
        for obj, depth in objectives
    ]


def _fields_of(row: ObjectiveRow | KeyResultRow) -> dict[str, Any]:
    """A row's fields as they are (`dataclasses.asdict` would copy its lineage into dicts)."""
    return {f.name: getattr(row, f.name) for f in fields(row)}


def stale_inputs(
    objectives: Sequence[ObjectiveRow],
    key_results: Sequence[KeyResultRow],
    *,
    qualify: bool = False,
) -> dict[TreeKey, list[str]]:
    """Per objective, the key results its progress rests on whose last fetch failed: its own,
    then those of the objectives aligned under it (in other namespaces too), in tree order.
    The roll-up counts them at their last good value, so the objective's number is only as
    fresh as they are. Ids alone, or `namespace/id` with `qualify`."""
    failed: dict[TreeKey, list[str]] = {}
    for kr in key_results:
        if kr.last_error is not None:
            shown = named((kr.namespace, kr.id)) if qualify else kr.id
            failed.setdefault((kr.namespace, kr.objective_id), []).append(shown)
    ordered = [row for row, _ in objectives_in_tree_order(objectives)]
    keys = {tree_key(row) for row in ordered}
    children: dict[TreeKey, list[TreeKey]] = {}
    for row in ordered:
        parent = tree_parent_key(row)
        if parent is not None and parent in keys:
            children.setdefault(parent, []).append(tree_key(row))
    stale: dict[TreeKey, list[str]] = {key: [] for key in keys}
    for row in reversed(ordered):  # children before their parents
        key = tree_key(row)
        below = [kr_id for child in children.get(key, []) for kr_id in stale[child]]
        stale[key] = failed.get(key, []) + below
    return stale


def key_result_detail(store: Store, kr_id: str) -> KeyResultDetail | None:
    """Everything a key-result page shows; None for an unknown id. Bounded on a long history,
    whose forecast's line runs through every value as they stream past."""
    row = store.key_result(kr_id)
    if row is None:
        return None
    trend = StreamedTrend()
    values, values_total = store.value_points(kr_id, max_points=CHART_POINTS_MAX, also=trend.add)
    recent, points_total = store.recent_history(kr_id, limit=RECENT_POINTS)
    notes, _ = store.recent_history(kr_id, limit=RECENT_NOTES, notes_only=True)
    detail = KeyResultDetail(
        row,
        values,
        values_total,
        recent,
        points_total,
        notes,
        query_sources(row.lineage, store.fetched_lineage(kr_id)),
        Forecast(None, "no period end"),
        pace_line(row),
    )
    period_end = _day(row.period_end)
    if period_end is not None:
        field = row.lineage.field if row.lineage is not None else None
        reachable = value_range(row.metric_type, field)
        if detail.downsampled:
            detail.forecast = trend.forecast(period_end=period_end, reachable=reachable)
        else:
            detail.forecast = forecast(detail.values, period_end=period_end, reachable=reachable)
    return detail


def query_sources(current: Lineage | None, fetched: Lineage | None) -> list[QuerySource]:
    """The queries behind the value. A check-in replaces the key result's lineage, so the
    lineage of the newest fetched value is looked at when the current one names no query."""
    for lineage in (current, fetched):
        if lineage is None:
            continue
        if lineage.metric == MetricType.FORMULA:
            found = [
                QuerySource(name, sub.source, sub.query, sub.link)
                for name, sub in lineage.inputs.items()
                if sub.query
            ]
            if found:
                return found
        elif lineage.query:
            return [QuerySource(None, lineage.source, lineage.query, lineage.link)]
    return []


def pace_line(row: KeyResultRow) -> list[tuple[datetime, float]]:
    """Where the value should be to arrive on time: start at period start, target at its end."""
    start, end = _day(row.period_start), _day(row.period_end)
    first, goal = row.start_value, row.target_value
    if row.kind not in PACED_KINDS or start is None or end is None:
        return []
    if first is None or goal is None:
        return []
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    finish = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    return [(begin, float(first)), (finish, float(goal))]


def expected_value(row: KeyResultRow, as_of: datetime) -> float | None:
    """The value the pace line asks for at `as_of`."""
    start, end = _day(row.period_start), _day(row.period_end)
    first, goal = row.start_value, row.target_value
    if row.kind not in PACED_KINDS or start is None or end is None or first is None:
        return None
    assert goal is not None, "a linear key result has a target"
    share = expected_progress(start, end, as_of)
    return float(first + share * (goal - first))


def change_since(store: Store, kr_id: str, since: datetime) -> float | None:
    """Latest value minus the value in force at `since` (the first value, if it came later),
    read from the store however long the history is."""
    latest = store.value_at(kr_id, None)
    if latest is None:
        return None
    baseline = store.value_at(kr_id, since)
    if baseline is None:
        baseline = store.first_value(kr_id)
    return None if baseline is None else latest - baseline


def _day(moment: datetime | date | None) -> date | None:
    if moment is None:
        return None
    return moment.date() if isinstance(moment, datetime) else moment


class UnknownCycle(LookupError):
    """A period that names no cycle of the store; the message lists those there are."""


@dataclass(frozen=True)
class CycleChoice:
    """A cycle a view can switch to: its key in the store and its short label."""

    key: str
    label: str


def cycles_held(store: Store) -> list[CycleChoice]:
    """The store's cycles, newest first, for a view to list."""
    return [CycleChoice(key, cycle_period(key).label) for key in store.cycles()]


def shown_in(store: Store, period: str | None) -> Store:
    """The store's reads in the cycle `period` names (`2026-Q4` or `2026-10-01..2026-12-31`;
    None: the current cycle, `StoreReads.current_cycle`). A period written wrong raises
    PeriodError; one the store holds no cycle of, UnknownCycle."""
    if period is None:
        return store.in_cycle(store.current_cycle())
    asked = parse_period(period)
    key = cycle_key(asked.start, asked.end)
    held = cycles_held(store)
    if key not in {choice.key for choice in held}:
        listed = ", ".join(
            choice.label if choice.label == choice.key else f"{choice.label} ({choice.key})"
            for choice in held
        )
        raise UnknownCycle(
            f"no cycle {asked.label} in the store (in the store: {listed or 'none yet'})"
        )
    return store.in_cycle(key)
