"""The progress model: how far a key result has come, whether it is on track, roll-up.

Progress is a fraction (1.0 = 100%). The raw value may leave [0, 1] (overshooting a target,
moving the wrong way); the shown value is clamped. Status compares progress with the
expected progress, the elapsed share of the period.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple

from config.vocabulary import KeyResultKind

_KINDS = frozenset(KeyResultKind)


class Status(StrEnum):
    """Where a key result or objective stands; every view, metric and digest uses these."""

    DONE = "done"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    NO_DATA = "no_data"
    ERROR = "error"
    BASELINE = "baseline"


# Below this much elapsed period nothing can be behind yet; also the tolerance for "reached".
_EPSILON = 1e-9


@dataclass(frozen=True)
class Target:
    """What a key result aims at; which of start/target/minimum/maximum matter depends on kind."""

    kind: str
    start: float | None
    target: float | None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Thresholds:
    """Ratios of progress to expected progress at or above which a key result is on track
    or at risk (below at_risk it is off track)."""

    on_track: float = 0.9
    at_risk: float = 0.6

    def __post_init__(self) -> None:
        if not 0 <= self.at_risk <= self.on_track:
            raise ValueError(
                f"thresholds must satisfy 0 <= at_risk <= on_track, "
                f"got at_risk={self.at_risk}, on_track={self.on_track}"
            )


@dataclass(frozen=True)
class KeyResultProgress:
    progress_raw: float | None
    progress: float | None
    expected: float
    status: str


@dataclass
class ObjectiveNode:
    """An objective for roll-up: its parent, its weight in that parent, and its key results
    as (weight, progress) pairs."""

    id: str
    parent: str | None
    weight: float
    key_results: list[tuple[float, KeyResultProgress]]


@dataclass(frozen=True)
class AlignedObjective:
    """An objective of another namespace aligned to one of the roll-up's: it enters its
    parent as it was rolled up in its own namespace (weight, progress, expected, status)."""

    weight: float
    progress: float | None
    expected: float
    status: str


@dataclass(frozen=True)
class ObjectiveProgress:
    """An objective's rolled-up progress and status; `expected` is the weighted mean of its
    entries' expected progress (None with no entry)."""

    progress: float | None
    status: str
    expected: float | None = None


class _Entry(NamedTuple):
    """One key result or aligned objective as it enters its objective's roll-up."""

    weight: float
    progress: float
    expected: float
    done: bool


def expected_progress(period_start: date, period_end: date, as_of: datetime) -> float:
    """Elapsed share of the period at `as_of`: 0 at period_start 00:00 UTC, 1 at the end of
    period_end (the end date is inclusive); a naive `as_of` is taken as UTC."""
    if period_end < period_start:
        raise ValueError(f"period ends ({period_end}) before it starts ({period_start})")
    start = datetime.combine(period_start, time(), tzinfo=UTC)
    length = timedelta(days=(period_end - period_start).days + 1)
    return _clamp((as_utc(as_of) - start) / length)


def score(
    target: Target,
    value: float | None,
    *,
    period_start: date,
    period_end: date,
    as_of: datetime,
    thresholds: Thresholds = Thresholds(),
    failed: bool = False,
) -> KeyResultProgress:
    """Score a value against its target.

    - failed: status "error"; the progress of the last good `value` is kept if given.
    - value None: status "no_data". baseline: no progress, status "baseline".
    - linear: raw = (value - start) / (target - start) (start None = 0), so target < start
      means lower is better; done at raw >= 1, else on_track at progress >= expected *
      on_track (always while expected is ~0), at_risk at >= expected * at_risk, else
      off_track. start == target: done when value >= target, else as an unmet milestone.
    - stay_above / stay_below: held (value >= / <= target) is 1.0 and on_track (done once the
      period is over); not held is 0.0 and off_track.
    - band: inside [minimum, maximum] as stay_*; outside, raw = 1 - distance / band width
      (0 at a width's distance; 0 for a zero-width band), off_track.
    - milestone: done at value >= 1; else 0.0 and on_track until expected reaches
      thresholds.on_track, at_risk until the period is over, off_track after.
    """
    expected = expected_progress(period_start, period_end, as_of)
    if target.kind not in _KINDS:
        raise ValueError(f"unknown key-result kind {target.kind!r}: expected one of {_kinds()}")
    if target.kind == KeyResultKind.BASELINE:
        return KeyResultProgress(None, None, expected, Status.ERROR if failed else Status.BASELINE)
    if value is None:
        return KeyResultProgress(None, None, expected, Status.ERROR if failed else Status.NO_DATA)
    raw, status = _score_value(target, value, expected, thresholds)
    return KeyResultProgress(raw, _clamp(raw), expected, Status.ERROR if failed else status)


def status_for(progress: float, expected: float, thresholds: Thresholds) -> Status:
    """Status of a progress fraction against the expected progress (done at >= 1)."""
    if progress >= 1 - _EPSILON:
        return Status.DONE
    if expected <= _EPSILON or progress >= expected * thresholds.on_track:
        return Status.ON_TRACK
    if progress >= expected * thresholds.at_risk:
        return Status.AT_RISK
    return Status.OFF_TRACK


def roll_up(
    nodes: Sequence[ObjectiveNode],
    *,
    thresholds: Thresholds,
    aligned: Mapping[str, Sequence[AlignedObjective]] | None = None,
) -> dict[str, ObjectiveProgress]:
    """Progress of every objective: the weighted mean of its key results' clamped progress
    and of its aligned child objectives, each one entry weighted by the child's weight.

    Its status compares that progress with the same weighted mean of its entries' expected
    progress, each key result's against its own period, so an objective keeps the pace its
    key results keep (one key result at risk: the objective at risk), whatever the file's
    period. It is done only when every entry is done.

    A key result whose last fetch failed (status error) counts with the progress of its last
    good value, so a tracker outage does not move the objective; the views mark such an
    objective as resting on stale inputs. Baseline and no_data key results, and failed ones
    that never had a value, are left out; no entry with progress gives None/no_data.
    `aligned`: by objective id, the objectives of other namespaces aligned to it."""
    by_id = {node.id: node for node in nodes}
    children: dict[str, list[ObjectiveNode]] = {node_id: [] for node_id in by_id}
    for node in by_id.values():
        if node.parent is not None and node.parent in children:
            children[node.parent].append(node)
    results: dict[str, ObjectiveProgress] = {}
    for node in reversed(_parents_first(by_id, children)):  # children are ready first
        entries = [
            _Entry(weight, _clamp(kr.progress), kr.expected, kr.status == Status.DONE)
            for weight, kr in node.key_results
            if kr.progress is not None and kr.status not in (Status.BASELINE, Status.NO_DATA)
        ]
        for child in children[node.id]:
            rolled = results[child.id]
            if rolled.progress is not None and rolled.expected is not None:
                entries.append(
                    _Entry(
                        child.weight, rolled.progress, rolled.expected, rolled.status == Status.DONE
                    )
                )
        for other in (aligned or {}).get(node.id, ()):
            if other.progress is not None and other.status != Status.NO_DATA:
                entries.append(
                    _Entry(
                        other.weight, other.progress, other.expected, other.status == Status.DONE
                    )
                )
        results[node.id] = _weighted(node.id, entries, thresholds)
    return results


def _parents_first(
    by_id: dict[str, ObjectiveNode], children: dict[str, list[ObjectiveNode]]
) -> list[ObjectiveNode]:
    """Every objective after its parent, breadth first from the roots: a loop over a list,
    not a recursion, so a 1,000-deep alignment chain rolls up like a flat one. An objective
    no root reaches is on an alignment cycle (the mapping file's check refuses those)."""
    ordered = [node for node in by_id.values() if node.parent not in children]
    for node in ordered:  # grows as it goes
        ordered.extend(children[node.id])
    if len(ordered) < len(by_id):
        reached = {node.id for node in ordered}
        looped = next(node_id for node_id in by_id if node_id not in reached)
        raise ValueError(f"objective {looped!r} is its own ancestor")
    return ordered


def _score_value(
    target: Target, value: float, expected: float, thresholds: Thresholds
) -> tuple[float, Status]:
    """Raw progress and status of a present value (the kind is neither baseline nor unknown)."""
    if target.kind == KeyResultKind.MILESTONE:
        return (
            (1.0, Status.DONE)
            if value >= 1
            else (0.0, _unmet_milestone_status(expected, thresholds))
        )
    if target.kind == KeyResultKind.BAND:
        low, high = _required(target, "minimum"), _required(target, "maximum")
        if low > high:
            raise ValueError(f"band minimum {low} is above its maximum {high}")
        if low <= value <= high:
            return 1.0, _held_status(expected)
        width = high - low
        distance = low - value if value < low else value - high
        return (1 - distance / width if width > 0 else 0.0), Status.OFF_TRACK
    goal = _required(target, "target")
    if target.kind == KeyResultKind.STAY_ABOVE:
        return (1.0, _held_status(expected)) if value >= goal else (0.0, Status.OFF_TRACK)
    if target.kind == KeyResultKind.STAY_BELOW:
        return (1.0, _held_status(expected)) if value <= goal else (0.0, Status.OFF_TRACK)
    start = 0.0 if target.start is None else target.start
    if start == goal:
        if value >= goal:
            return 1.0, Status.DONE
        return 0.0, _unmet_milestone_status(expected, thresholds)
    raw = (value - start) / (goal - start)
    return raw, status_for(_clamp(raw), expected, thresholds)


def _held_status(expected: float) -> Status:
    return Status.DONE if expected >= 1 else Status.ON_TRACK


def _unmet_milestone_status(expected: float, thresholds: Thresholds) -> Status:
    if expected >= 1:
        return Status.OFF_TRACK
    return Status.ON_TRACK if expected < thresholds.on_track else Status.AT_RISK


def _weighted(
    objective_id: str, entries: list[_Entry], thresholds: Thresholds
) -> ObjectiveProgress:
    if any(entry.weight < 0 for entry in entries):
        raise ValueError(f"objective {objective_id!r} has a negative weight")
    total_weight = math.fsum(entry.weight for entry in entries)
    if total_weight <= 0:
        return ObjectiveProgress(None, Status.NO_DATA)
    progress = math.fsum(e.weight * e.progress for e in entries) / total_weight
    expected = math.fsum(e.weight * e.expected for e in entries) / total_weight
    status = status_for(progress, expected, thresholds)
    if status == Status.DONE and not all(entry.done for entry in entries if entry.weight > 0):
        status = Status.ON_TRACK  # e.g. a threshold held so far: nothing is finished yet
    return ObjectiveProgress(progress, status, expected)


def _required(target: Target, name: str) -> float:
    value: float | None = getattr(target, name)
    if value is None:
        raise ValueError(f"key-result kind {target.kind!r} needs {name!r}")
    return value


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def as_utc(moment: datetime) -> datetime:
    """A naive datetime is taken as UTC, as everywhere else in okr-sync."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _kinds() -> str:
    return ", ".join(sorted(_KINDS))
