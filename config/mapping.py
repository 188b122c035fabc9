"""The mapping file's schema: objectives, key results, and the checks of the whole file.

Every model forbids unknown keys so a typo fails loudly instead of silently measuring the
wrong thing. A metric's models are in config/metric_models.py; checks that span several
fields raise `FieldIssues` (config/locations.py), so the loader can point at each problem.
Validation never changes a model in place: defaults a check decides, and the queries with
their placeholders expanded, come back as copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)

from config.cadence import ScheduleSpec
from config.locations import FieldIssues, Loc, format_loc
from config.metric_models import FormulaMetric, ItemMetric, ManualMetric, Metric
from config.periods import Period
from config.placeholders import PlaceholderError
from config.settings import StatusThresholds
from config.value_types import (
    DEFAULT_NAMESPACE,
    KindSpec,
    Namespace,
    Number,
    ParentRef,
    PeriodSpec,
    Slug,
    StartSpec,
    Text,
    split_parent,
)
from config.vocabulary import KeyResultKind

_STRICT = ConfigDict(extra="forbid")
_Item = TypeVar("_Item", bound=ItemMetric)

# The widest text the store keeps for these fields (its columns, sync/tables.py): enforced
# here so that every store accepts what validation accepts.
UNIT_MAX_LENGTH = 50
LEVEL_MAX_LENGTH = 100
OWNER_MAX_LENGTH = 200


_KIND_USES: dict[KeyResultKind, frozenset[str]] = {
    KeyResultKind.LINEAR: frozenset({"start", "target"}),
    KeyResultKind.STAY_ABOVE: frozenset({"target"}),
    KeyResultKind.STAY_BELOW: frozenset({"target"}),
    KeyResultKind.BAND: frozenset({"min", "max"}),
    KeyResultKind.BASELINE: frozenset({"start"}),
    KeyResultKind.MILESTONE: frozenset({"start", "target"}),
}


class KeyResult(BaseModel):
    """One measurable result. After loading, `period` is always set (own or the file's).

    Per kind, after loading: linear has `start` (a number, "auto" or "period_start", 0 when
    omitted) and `target`; stay_above/stay_below have `target`; band has `min` < `max`;
    baseline has start "auto" (or "period_start") and no target; milestone has start 0 and
    target 1. "period_start" needs values from a tracker: a manual key result cannot take it.
    """

    model_config = _STRICT

    id: Slug
    title: Text
    kind: KindSpec = KeyResultKind.LINEAR
    start: StartSpec = None
    target: Number | None = None
    min: Number | None = None
    max: Number | None = None
    unit: Annotated[str, Field(max_length=UNIT_MAX_LENGTH)] | None = None
    weight: Number = Field(default=1.0, gt=0)
    period: PeriodSpec | None = None
    schedule: ScheduleSpec | None = None  # its own cadence in the daemon
    metric: Metric

    @model_validator(mode="after")
    def _kind_fits(self) -> KeyResult:
        """Each kind takes only its keys; what it leaves out is decided here, in a copy."""
        issues: list[tuple[Loc, str]] = []
        decided: dict[str, float | str] = {}
        uses = _KIND_USES[self.kind]
        for name in ("start", "target", "min", "max"):
            if name not in uses and getattr(self, name) is not None:
                issues.append(((name,), f"not used by kind {self.kind}"))
        if self.kind == KeyResultKind.LINEAR:
            if self.target is None:
                issues.append((("target",), "field required"))
            start = 0.0 if self.start is None else self.start
            if self.start is None:
                decided["start"] = start
            if self.target is not None and start == self.target:
                issues.append(
                    (("target",), f"target equals start ({self.target:g}): nothing to measure")
                )
        elif self.kind in (KeyResultKind.STAY_ABOVE, KeyResultKind.STAY_BELOW):
            if self.target is None:
                issues.append((("target",), "field required"))
        elif self.kind == KeyResultKind.BAND:
            if self.min is None:
                issues.append((("min",), "field required"))
            if self.max is None:
                issues.append((("max",), "field required"))
            if self.min is not None and self.max is not None and self.min >= self.max:
                issues.append((("min",), f"min ({self.min:g}) must be below max ({self.max:g})"))
        elif self.kind == KeyResultKind.BASELINE:
            if isinstance(self.start, float):
                issues.append((("start",), "a baseline records its first value: omit start"))
            if self.start != "period_start":
                decided["start"] = "auto"
        else:  # milestone
            if self.start not in (None, 0.0):
                issues.append((("start",), "a milestone starts at 0: omit start"))
            if self.target not in (None, 1.0):
                issues.append((("target",), "a milestone's target is 1 (done): omit target"))
            decided.update(start=0.0, target=1.0)
        if self.start == "period_start" and isinstance(self.metric, ManualMetric):
            issues.append(
                (
                    ("start",),
                    "period_start is rebuilt from a tracker's records; a manual key result "
                    "has none: use a number or auto",
                )
            )
        if issues:
            raise FieldIssues(issues)
        return self.model_copy(update=decided) if decided else self


def _title_optional(schema: dict[str, Any]) -> None:
    """An objective's title defaults to its id (`_title_defaults_to_id`): not required."""
    schema["required"] = [name for name in schema.get("required", []) if name != "title"]


class Objective(BaseModel):
    """A qualitative goal; its progress is the weighted mean of its key results."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_title_optional)

    id: Slug
    title: Text
    owner: Annotated[str, Field(max_length=OWNER_MAX_LENGTH)] | None = None
    level: Annotated[str, Field(max_length=LEVEL_MAX_LENGTH)] = "team"
    # `id` in this file, or `namespace/id` in another file's (aligned across namespaces);
    # after loading, a parent in this file's own namespace is written as its `id` alone.
    parent: ParentRef | None = None
    weight: Number = Field(default=1.0, gt=0)
    schedule: ScheduleSpec | None = None  # the cadence of its key results in the daemon
    key_results: list[KeyResult] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _title_defaults_to_id(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "title" not in data and isinstance(data.get("id"), str):
            return {**data, "title": data["id"]}
        return data


class MappingFile(BaseModel):
    """A whole `okrs.yaml`.

    Validate with `context={"today": date}` (the loader does) so `{today}` expands to a
    known day; without it, today's UTC date is used.
    """

    model_config = _STRICT

    version: Literal[1]
    # Whose objectives these are in a store many files share: ids are unique within it, and
    # a sync of this file reads, writes and retires only its rows. The loader's default is
    # the file's name without extension.
    namespace: Namespace = DEFAULT_NAMESPACE
    period: PeriodSpec
    thresholds: StatusThresholds | None = None
    schedule: ScheduleSpec | None = None  # the daemon's default cadence
    objectives: list[Objective] = Field(min_length=1)

    _line_of: Callable[[Loc], int | None] | None = PrivateAttr(default=None)

    def line_of(self, loc: Loc) -> int | None:
        """The line `loc` is written on, when the file was read by the loader."""
        return self._line_of(loc) if self._line_of is not None else None

    def key_results(self) -> Iterator[tuple[Objective, KeyResult]]:
        """Every key result with its objective, in file order."""
        for objective in self.objectives:
            for kr in objective.key_results:
                yield objective, kr

    def objective(self, objective_id: str) -> Objective:
        for objective in self.objectives:
            if objective.id == objective_id:
                return objective
        raise KeyError(objective_id)

    def key_result(self, kr_id: str) -> KeyResult:
        for _, kr in self.key_results():
            if kr.id == kr_id:
                return kr
        raise KeyError(kr_id)

    def children(self, objective_id: str) -> list[Objective]:
        """Objectives aligned to (rolling up into) `objective_id`."""
        return [o for o in self.objectives if o.parent == objective_id]

    def external_parent(self, objective: Objective) -> tuple[str, str] | None:
        """(namespace, id) of an objective's parent in another namespace, else None."""
        if objective.parent is None:
            return None
        namespace, local = split_parent(objective.parent)
        return None if namespace is None else (namespace, local)

    @model_validator(mode="after")
    def _whole_file(self, info: ValidationInfo) -> MappingFile:
        issues: list[tuple[Loc, str]] = []
        local = self.model_copy(update={"objectives": _own_parents_local(self)})
        issues += _unique_ids(local)
        issues += _alignment(local)
        context = info.context if isinstance(info.context, Mapping) else {}
        today = context.get("today") or datetime.now(UTC).date()
        objectives: list[Objective] = []
        for oi, objective in enumerate(local.objectives):
            key_results: list[KeyResult] = []
            for ki, kr in enumerate(objective.key_results):
                period = kr.period or self.period
                loc: Loc = ("objectives", oi, "key_results", ki, "metric")
                metric, problems = _expanded(kr.metric, period, today, loc)
                issues += problems
                key_results.append(kr.model_copy(update={"period": period, "metric": metric}))
            objectives.append(objective.model_copy(update={"key_results": key_results}))
        if issues:
            raise FieldIssues(issues)
        return self.model_copy(update={"objectives": objectives})


def _own_parents_local(mapping: MappingFile) -> list[Objective]:
    """`parent: <own namespace>/id` is the same as `parent: id`: written as `id` alone."""
    objectives: list[Objective] = []
    for objective in mapping.objectives:
        namespace, local = split_parent(objective.parent or "")
        if objective.parent is not None and namespace == mapping.namespace:
            objective = objective.model_copy(update={"parent": local})
        objectives.append(objective)
    return objectives


def _unique_ids(mapping: MappingFile) -> list[tuple[Loc, str]]:
    """Ids are the store's keys and CLI arguments, so each must name exactly one thing."""
    issues: list[tuple[Loc, str]] = []
    objectives: dict[str, int] = {}
    key_results: dict[str, Loc] = {}
    for oi, objective in enumerate(mapping.objectives):
        if objective.id in objectives:
            first = format_loc(("objectives", objectives[objective.id], "id"))
            issues.append(
                (
                    ("objectives", oi, "id"),
                    f"duplicate objective id '{objective.id}' (first at {first})",
                )
            )
        else:
            objectives[objective.id] = oi
        for ki, kr in enumerate(objective.key_results):
            loc: Loc = ("objectives", oi, "key_results", ki, "id")
            if kr.id in key_results:
                first = format_loc(key_results[kr.id])
                issues.append((loc, f"duplicate key result id '{kr.id}' (first at {first})"))
            else:
                key_results[kr.id] = loc
    return issues


def _alignment(mapping: MappingFile) -> list[tuple[Loc, str]]:
    """Parents must exist and alignment must not loop, or roll-up would never end.

    Each objective is walked up once: a walk stops at an objective an earlier walk settled,
    so a 2,400-deep chain costs 2,400 steps, not 2,400 walks of it."""
    issues: list[tuple[Loc, str]] = []
    index = {o.id: i for i, o in reversed(list(enumerate(mapping.objectives)))}
    parent = {o.id: o.parent for o in mapping.objectives}
    for oi, objective in enumerate(mapping.objectives):
        if mapping.external_parent(objective) is not None:
            continue  # another file's: checked with the files given together (config.files)
        if objective.parent is not None and objective.parent not in index:
            issues.append(
                (
                    ("objectives", oi, "parent"),
                    f"unknown parent '{objective.parent}': no objective has this id",
                )
            )
    settled: set[str] = set()
    for objective in mapping.objectives:
        path: dict[str, int] = {}  # this walk's objectives, in order, for the cycle's text
        current: str | None = objective.id
        while current is not None and current in index and current not in settled:
            if current in path:
                cycle = list(path)[path[current] :]
                first = min(cycle, key=lambda oid: index[oid])
                start = cycle.index(first)
                ordered = cycle[start:] + cycle[:start] + [first]
                issues.append(
                    (
                        ("objectives", index[first], "parent"),
                        "alignment cycle: " + " -> ".join(ordered),
                    )
                )
                break
            path[current] = len(path)
            current = parent.get(current)
        settled.update(path)
    return issues


def _expanded(
    metric: Metric, period: Period, today: date, loc: Loc
) -> tuple[Metric, list[tuple[Loc, str]]]:
    """The metric with the placeholders of its queries (its inputs' too) expanded, once."""
    issues: list[tuple[Loc, str]] = []
    if isinstance(metric, FormulaMetric):
        inputs = {
            name: _expanded_item(sub, period, today, (*loc, "inputs", name), issues)
            for name, sub in metric.inputs.items()
        }
        return metric.model_copy(update={"inputs": inputs}), issues
    if isinstance(metric, ItemMetric):
        return _expanded_item(metric, period, today, loc, issues), issues
    return metric, issues


def _expanded_item(
    item: _Item, period: Period, today: date, loc: Loc, issues: list[tuple[Loc, str]]
) -> _Item:
    try:
        return item.expanded(period, today)
    except PlaceholderError as exc:
        issues.append(((*loc, item.SELECTOR), str(exc)))
        return item
