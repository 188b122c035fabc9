"""The mapping file's schema: objectives, key results and where each number comes from.

Every model forbids unknown keys so a typo fails loudly instead of silently measuring the
wrong thing. Checks that span several fields raise `FieldIssues`, which carry the exact
field each problem belongs to so the loader can point at it (and at its line).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from config.cadence import ScheduleSpec
from config.expressions import Condition, ExpressionError, Formula, parse_condition, parse_formula
from config.fields import not_numeric, unknown_field
from config.periods import Period, PeriodError, parse_period
from config.placeholders import PlaceholderError, expand
from config.settings import StatusThresholds
from config.vocabulary import FIELD_METRIC_TYPES, KeyResultKind, MetricType, percentile_of
from connectors.base import (
    DateWindow,
    GitHubListSelector,
    GitHubSearchSelector,
    JiraSelector,
    Selector,
)

Loc = tuple[str | int, ...]

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
SELECTORS = ("jql", "search", "issues", "pulls")
SELECTOR_SOURCE: dict[str, Literal["jira", "github"]] = {
    "jql": "jira",
    "search": "github",
    "issues": "github",
    "pulls": "github",
}
# A merged-state filter without a merged window: every merge GitHub can know of.
ANY_TIME = DateWindow(date(2008, 1, 1), date(9999, 12, 31))

_STRICT = ConfigDict(extra="forbid")

# The widest text the store keeps for these fields (its columns, sync/tables.py): enforced
# here so that every store accepts what validation accepts.
UNIT_MAX_LENGTH = 50
LEVEL_MAX_LENGTH = 100
OWNER_MAX_LENGTH = 200


def format_loc(loc: Loc) -> str:
    """A pydantic-style path as users read it: `objectives[1].key_results[0].metric.jql`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = part
    return out


class FieldIssues(ValueError):
    """Problems found by a cross-field check, each tied to the field (path) it belongs to."""

    def __init__(self, issues: list[tuple[Loc, str]]) -> None:
        super().__init__(
            "; ".join(
                f"{format_loc(loc)}: {message}" if loc else message for loc, message in issues
            )
        )
        self.issues = issues


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(
            f"{value!r} is not a valid id: use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    if len(value) > 64:
        raise ValueError(f"id {value!r} is longer than 64 characters")
    return value


def _period(value: object) -> Period:
    return parse_period(value)


def _window(value: object) -> DateWindow | Literal["period"]:
    if value == "period":
        return "period"
    if isinstance(value, DateWindow):
        return value
    try:
        return parse_period(value).as_window()
    except PeriodError as exc:
        if isinstance(value, Mapping):
            raise ValueError(str(exc).replace("a period mapping", "a window mapping")) from None
        shown = f"'{value.isoformat()}'" if isinstance(value, date) else repr(value)
        raise ValueError(
            f"{shown} is not a window: use period, YYYY-MM-DD..YYYY-MM-DD, "
            "a period such as 2026-Q4, or {start, end}"
        ) from None


def _show_window(value: DateWindow | Literal["period"]) -> str:
    return value if isinstance(value, str) else value.as_github_range()


def _start(value: object) -> float | Literal["auto"] | None:
    if value is None or value == "auto":
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ValueError(f"start must be a number or auto, not {value!r}")


_METRIC_TYPE_NAMES = frozenset(t.value for t in MetricType)


def _metric_type(value: object) -> str:
    if isinstance(value, str) and (value in _METRIC_TYPE_NAMES or percentile_of(value) is not None):
        return value
    raise ValueError(
        f"{value!r} is not a metric type: use count, sum, percent_done, mean, median, "
        "p1..p99 (e.g. p90), share, formula or manual"
    )


def _repo(value: str) -> str:
    if not REPO.match(value):
        raise ValueError(f"{value!r} is not a repository: use owner/name, e.g. acme/api")
    return value


def _label(value: str) -> str:
    # GitHub's search has no escape for a quote inside a quoted value, and reads a comma as
    # "any of" (as the labels list of the REST API does): such a label would be searched as
    # another query and count other items.
    for character, meaning in (('"', "a quote ends the quoted label"), (",", 'a comma means "or"')):
        if character in value:
            raise ValueError(
                f"label {value!r} cannot be searched on GitHub: {meaning} in its search syntax"
            )
    if value != value.strip():
        raise ValueError(f"label {value!r} has spaces around it: GitHub trims label names")
    return value


def _input_name(value: str) -> str:
    if not value.isidentifier() or value.startswith("_"):
        raise ValueError(
            f"{value!r} is not a usable input name: use letters, digits and '_', "
            "not starting with a digit or '_'"
        )
    return value


# What the hand-written validators accept, as JSON Schema for editors (config/schema.py);
# the validators stay the authority, these only let an editor flag a typo while typing.
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_PERIOD_JSON: list[dict[str, Any]] = [
    {"type": "string", "pattern": r"^[0-9]{4}(-([Qq][1-4]|[Hh][12]|0?[1-9]|1[0-2]))?$"},
    {"type": "string", "pattern": f"^{_DAY}\\.\\.{_DAY}$"},
    {"type": "integer", "minimum": 1970, "maximum": 9998},
    {
        "type": "object",
        "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
        "required": ["start", "end"],
        "additionalProperties": False,
    },
]
_SLUG_JSON = {"type": "string", "pattern": SLUG.pattern, "maxLength": 64}

Slug = Annotated[str, AfterValidator(_slug), WithJsonSchema(_SLUG_JSON)]
PeriodSpec = Annotated[
    Period,
    PlainValidator(_period),
    PlainSerializer(lambda p: p.label),
    WithJsonSchema({"anyOf": _PERIOD_JSON}),
]
WindowSpec = Annotated[
    DateWindow | Literal["period"],
    PlainValidator(_window),
    PlainSerializer(_show_window),
    WithJsonSchema({"anyOf": [{"const": "period"}, *_PERIOD_JSON]}),
]
StartSpec = Annotated[
    float | Literal["auto"] | None,
    PlainValidator(_start),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"const": "auto"}, {"type": "null"}]}),
]
MetricTypeSpec = Annotated[
    str,
    PlainValidator(_metric_type),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": [t.value for t in MetricType]},
                {"type": "string", "pattern": r"^p(0?[1-9]|[1-9][0-9])$"},
            ]
        }
    ),
]
# The schema of a plain string enum (pydantic would name and reference the enum instead).
KindSpec = Annotated[
    KeyResultKind,
    WithJsonSchema(
        {"enum": [kind.value for kind in KeyResultKind], "title": "Kind", "type": "string"}
    ),
]
Number = Annotated[float, Field(allow_inf_nan=False)]
Text = Annotated[str, Field(min_length=1)]
InputName = Annotated[str, AfterValidator(_input_name)]
Label = Annotated[
    str,
    Field(min_length=1),
    AfterValidator(_label),
    WithJsonSchema({"type": "string", "pattern": r'^[^",\s]([^",]*[^",\s])?$'}),
]
Repo = Annotated[
    str, AfterValidator(_repo), WithJsonSchema({"type": "string", "pattern": REPO.pattern})
]


class GitHubFilter(BaseModel):
    """Issues or pull requests of one repository, as `issues:` / `pulls:` in a metric."""

    model_config = _STRICT

    repo: Repo
    state: Literal["open", "closed", "all", "merged"] = "all"
    labels: list[Label] = Field(default_factory=list)
    created: WindowSpec | None = None
    closed: WindowSpec | None = None
    merged: WindowSpec | None = None

    def windows(self, period: Period) -> dict[str, DateWindow]:
        """The windows that are set, with `period` resolved to the key result's period."""
        out: dict[str, DateWindow] = {}
        for name in ("created", "closed", "merged"):
            spec: DateWindow | Literal["period"] | None = getattr(self, name)
            if spec is not None:
                out[name] = period.as_window() if spec == "period" else spec
        return out


class Metric(BaseModel):
    """Where a key result's number comes from and how it is computed.

    After loading, `jql` and `search` hold the expanded query (no placeholders left) and
    `jql_template` / `search_template` the text as written, for lineage.
    """

    model_config = _STRICT

    type: MetricTypeSpec
    source: Literal["jira", "github"] | None = None
    jql: Text | None = None
    search: Text | None = None
    issues: GitHubFilter | None = None
    pulls: GitHubFilter | None = None
    field: Text | None = None
    where: Text | None = None
    expr: Text | None = None
    inputs: dict[InputName, Metric] | None = None
    count_mode: Literal["exact", "approximate"] = "exact"

    _templates: dict[str, str] = PrivateAttr(default_factory=dict)
    _formula: Formula | None = PrivateAttr(default=None)
    _condition: Condition | None = PrivateAttr(default=None)

    @property
    def percentile(self) -> int | None:
        """N for a `p<N>` metric, else None."""
        return percentile_of(self.type)

    @property
    def formula(self) -> Formula | None:
        """The parsed `expr` of a formula metric."""
        return self._formula

    @property
    def condition(self) -> Condition | None:
        """The parsed `where` of a share metric."""
        return self._condition

    @property
    def jql_template(self) -> str | None:
        return self._templates.get("jql", self.jql)

    @property
    def search_template(self) -> str | None:
        return self._templates.get("search", self.search)

    def selector(self, period: Period) -> Selector:
        """The connector selector for this metric; `period` resolves `period` windows.

        Only for item metrics (not formula or manual).
        """
        if self.jql is not None:
            return JiraSelector(self.jql, approximate_count=self.count_mode == "approximate")
        if self.search is not None:
            return GitHubSearchSelector(self.search)
        for kind, spec in (("issue", self.issues), ("pull_request", self.pulls)):
            if spec is None:
                continue
            windows = spec.windows(period)
            state = spec.state
            if state == "merged":
                windows.setdefault("merged", ANY_TIME)
                state = "closed"
            return GitHubListSelector(
                repo=spec.repo,
                kind="issue" if kind == "issue" else "pull_request",
                state=state,
                labels=tuple(spec.labels),
                created=windows.get("created"),
                closed=windows.get("closed"),
                merged=windows.get("merged"),
            )
        raise ValueError(f"a {self.type} metric has no selector")

    @model_validator(mode="after")
    def _consistent(self) -> Metric:
        issues: list[tuple[Loc, str]] = []
        if self.type == MetricType.MANUAL:
            self._check_unused(issues, ("source", *SELECTORS, "field", "where", "expr", "inputs"))
        elif self.type == MetricType.FORMULA:
            self._check_formula(issues)
        else:
            self._check_items(issues)
        if issues:
            raise FieldIssues(issues)
        return self

    def _check_unused(self, issues: list[tuple[Loc, str]], names: tuple[str, ...]) -> None:
        for name in names:
            if getattr(self, name) is not None:
                issues.append(((name,), f"not used by a {self.type} metric"))
        if self.count_mode != "exact" and self.type in (MetricType.MANUAL, MetricType.FORMULA):
            issues.append((("count_mode",), f"not used by a {self.type} metric"))

    def _check_formula(self, issues: list[tuple[Loc, str]]) -> None:
        self._check_unused(issues, ("source", *SELECTORS, "field", "where"))
        if self.expr is None:
            issues.append((("expr",), "field required"))
        if not self.inputs:
            issues.append((("inputs",), "field required: a formula needs named inputs"))
        if self.expr is None or not self.inputs:
            return
        for name, sub in self.inputs.items():
            if sub.type in (MetricType.FORMULA, MetricType.MANUAL):
                issues.append((("inputs", name, "type"), f"an input cannot be a {sub.type} metric"))
        try:
            self._formula = parse_formula(self.expr)
        except ExpressionError as exc:
            issues.append((("expr",), str(exc)))
            return
        declared = ", ".join(sorted(self.inputs))
        for name in sorted(self._formula.names - set(self.inputs)):
            issues.append((("expr",), f"'{name}' is not one of the inputs ({declared})"))
        for name in sorted(set(self.inputs) - self._formula.names):
            issues.append((("inputs", name), f"input '{name}' is not used in '{self.expr}'"))

    def _check_items(self, issues: list[tuple[Loc, str]]) -> None:
        self._check_unused(issues, ("expr", "inputs"))
        chosen = [name for name in SELECTORS if getattr(self, name) is not None]
        if len(chosen) > 1:
            issues.append(
                ((chosen[1],), f"only one selector per metric: found {' and '.join(chosen)}")
            )
        elif not chosen:
            if self.source == "jira":
                issues.append((("jql",), "field required"))
            elif self.source == "github":
                issues.append(
                    (("search",), "field required: a github metric needs search, issues or pulls")
                )
            else:
                issues.append(
                    ((), "a selector is required: jql (Jira), or search, issues or pulls (GitHub)")
                )
        else:
            inferred = SELECTOR_SOURCE[chosen[0]]
            if self.source is None:
                self.source = inferred
            elif self.source != inferred:
                issues.append(
                    (
                        ("source",),
                        f"{chosen[0]} selects {inferred} items, but source is {self.source}",
                    )
                )
        if self.issues is not None:
            if self.issues.state == "merged":
                issues.append((("issues", "state"), "issues are never merged: use pulls"))
            if self.issues.merged is not None:
                issues.append((("issues", "merged"), "issues are never merged: use pulls"))
        needs_field = self.type in FIELD_METRIC_TYPES or self.percentile is not None
        if needs_field and self.field is None:
            issues.append((("field",), f"field required: {self.type} needs a numeric field"))
        if not needs_field and self.field is not None:
            issues.append((("field",), f"not used by a {self.type} metric"))
        if self.type == MetricType.SHARE:
            if self.where is None:
                issues.append((("where",), "field required: share needs a where condition"))
        elif self.where is not None:
            issues.append(
                (("where",), f"only share metrics take a where condition, not {self.type}")
            )
        if self.where is not None:
            try:
                self._condition = parse_condition(self.where)
            except ExpressionError as exc:
                issues.append((("where",), str(exc)))
        self._check_field_names(issues, needs_field)
        if self.count_mode == "approximate":
            if self.type != MetricType.COUNT:
                issues.append((("count_mode",), "approximate applies to count metrics only"))
            elif self.source == "github":
                issues.append((("count_mode",), "approximate counts exist for Jira only"))

    def _check_field_names(self, issues: list[tuple[Loc, str]], needs_number: bool) -> None:
        """Refuse names the source's items never carry: they would measure nothing."""
        if self.source is None:
            return
        issues_only = self.issues is not None
        if self.field is not None:
            problem = unknown_field(self.field, self.source, issues_only=issues_only)
            if problem is None and needs_number:
                problem = not_numeric(self.field, self.source)
            if problem is not None:
                issues.append((("field",), problem))
        if self._condition is not None:
            for name in sorted(self._condition.names):
                problem = unknown_field(name, self.source, issues_only=issues_only)
                if problem is not None:
                    issues.append((("where",), problem))


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

    Per kind, after loading: linear has `start` (a number or "auto", 0 when omitted) and
    `target`; stay_above/stay_below have `target`; band has `min` < `max`; baseline has
    start "auto" and no target; milestone has start 0 and target 1.
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
        issues: list[tuple[Loc, str]] = []
        uses = _KIND_USES[self.kind]
        for name in ("start", "target", "min", "max"):
            if name not in uses and getattr(self, name) is not None:
                issues.append(((name,), f"not used by kind {self.kind}"))
        if self.kind == KeyResultKind.LINEAR:
            if self.target is None:
                issues.append((("target",), "field required"))
            if self.start is None:
                self.start = 0.0
            if self.target is not None and self.start == self.target:
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
            self.start = "auto"
        else:  # milestone
            if self.start not in (None, 0.0):
                issues.append((("start",), "a milestone starts at 0: omit start"))
            if self.target not in (None, 1.0):
                issues.append((("target",), "a milestone's target is 1 (done): omit target"))
            self.start, self.target = 0.0, 1.0
        if issues:
            raise FieldIssues(issues)
        return self


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
    parent: Slug | None = None
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

    @model_validator(mode="after")
    def _whole_file(self, info: ValidationInfo) -> MappingFile:
        issues: list[tuple[Loc, str]] = []
        issues += _unique_ids(self)
        issues += _alignment(self)
        context = info.context if isinstance(info.context, Mapping) else {}
        today = context.get("today") or datetime.now(UTC).date()
        for oi, objective in enumerate(self.objectives):
            for ki, kr in enumerate(objective.key_results):
                if kr.period is None:
                    kr.period = self.period
                loc: Loc = ("objectives", oi, "key_results", ki, "metric")
                issues += _expand_queries(kr.metric, kr.period, today, loc)
        if issues:
            raise FieldIssues(issues)
        return self


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


def _expand_queries(metric: Metric, period: Period, today: date, loc: Loc) -> list[tuple[Loc, str]]:
    """Expand placeholders in jql/search once, at load time, keeping the text as written."""
    issues: list[tuple[Loc, str]] = []
    for name in ("jql", "search"):
        raw: str | None = getattr(metric, name)
        if raw is None or name in metric._templates:
            continue
        try:
            expanded = expand(raw, period=period, today=today)
        except PlaceholderError as exc:
            issues.append(((*loc, name), str(exc)))
            continue
        metric._templates[name] = raw
        setattr(metric, name, expanded)
    for key, sub in (metric.inputs or {}).items():
        issues += _expand_queries(sub, period, today, (*loc, "inputs", key))
    return issues
