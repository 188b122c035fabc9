"""A key result's metric: one model per computation and selector, a union tagged by both.

The tag is what the file already says: `type` names the computation (count, percent_done,
a statistic of a field, share, formula, manual) and the one selector key written (`jql`,
`search`, `issues`, `pulls`) the selection; config/metric_shape.py reads it, with one
message per mistake of shape, before pydantic validates the chosen model. Validation never
changes a model: placeholders are expanded into copies (`expanded`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    PlainValidator,
    PrivateAttr,
    Tag,
    WithJsonSchema,
    model_validator,
)

from config.conditions import Condition, parse_condition
from config.expressions import ExpressionError, Formula, parse_formula
from config.fields import not_numeric, unknown_field
from config.github_filters import GitHubFilter
from config.locations import FieldIssues, Loc
from config.metric_shape import SELECTOR_SOURCE, written_metric, written_tag
from config.periods import Period
from config.placeholders import expand
from config.value_types import InputName, Text
from config.vocabulary import FIELD_METRIC_TYPES, MetricType, percentile_of, takes_field
from connectors.base import GitHubSearchSelector, JiraSelector, Selector


def _statistic_type(value: object) -> str:
    if isinstance(value, str) and takes_field(value):
        return value
    raise ValueError(f"{value!r} is not a statistic: use sum, mean, median or p1..p99")


StatisticType = Annotated[
    str,
    PlainValidator(_statistic_type),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": sorted(FIELD_METRIC_TYPES)},
                {"type": "string", "pattern": r"^p(0?[1-9]|[1-9][0-9])$"},
            ]
        }
    ),
]


class MetricBase(BaseModel):
    """What every metric takes. `count_mode: exact` is accepted anywhere, as it always was."""

    model_config = ConfigDict(extra="forbid")

    TAG: ClassVar[str]
    count_mode: Literal["exact", "approximate"] = "exact"


class ItemMetric(MetricBase):
    """A metric computed over the items of one selector."""

    SELECTOR: ClassVar[str]  # the key the selector is written under
    ISSUES_ONLY: ClassVar[bool] = False  # GitHub issues alone: no pull-request fields

    def selector(self, period: Period) -> Selector:
        """The connector selector; `period` resolves `period` windows."""
        raise NotImplementedError

    def expanded(self, period: Period, today: date) -> Self:
        """This metric with its placeholders expanded (itself when it has none)."""
        return self


# --- selections: which items, from which tracker ------------------------------------------


class QuerySelection(ItemMetric):
    """A selector written as one query, whose placeholders are expanded once, at load."""

    _written: str | None = PrivateAttr(default=None)

    @property
    def query(self) -> str:
        text: str = getattr(self, self.SELECTOR)
        return text

    @property
    def query_template(self) -> str:
        """The query as written, for lineage."""
        return self.query if self._written is None else self._written

    def expanded(self, period: Period, today: date) -> Self:
        """A copy with the query expanded; `PlaceholderError` for a placeholder not allowed."""
        if self._written is not None:
            return self
        copy = self.model_copy(
            update={self.SELECTOR: expand(self.query, period=period, today=today)}
        )
        copy._written = self.query
        return copy


class JqlSelection(QuerySelection):
    SELECTOR = "jql"
    source: Literal["jira"] = "jira"
    jql: Text

    @property
    def jql_template(self) -> str:
        return self.query_template

    def selector(self, period: Period) -> Selector:
        return JiraSelector(self.jql, approximate_count=self.count_mode == "approximate")


class SearchSelection(QuerySelection):
    SELECTOR = "search"
    source: Literal["github"] = "github"
    search: Text

    @property
    def search_template(self) -> str:
        return self.query_template

    def selector(self, period: Period) -> Selector:
        return GitHubSearchSelector(self.search)


class IssuesSelection(ItemMetric):
    SELECTOR = "issues"
    ISSUES_ONLY = True
    source: Literal["github"] = "github"
    issues: GitHubFilter

    def selector(self, period: Period) -> Selector:
        return self.issues.selector("issue", period)

    @model_validator(mode="after")
    def _never_merged(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        if self.issues.state == "merged":
            problems.append((("issues", "state"), "issues are never merged: use pulls"))
        if self.issues.merged is not None:
            problems.append((("issues", "merged"), "issues are never merged: use pulls"))
        if problems:
            raise FieldIssues(problems)
        return self


class PullsSelection(ItemMetric):
    SELECTOR = "pulls"
    source: Literal["github"] = "github"
    pulls: GitHubFilter

    def selector(self, period: Period) -> Selector:
        return self.pulls.selector("pull_request", period)


# --- computations: how the items become one number -----------------------------------------


class CountMetric(ItemMetric):
    type: Literal[MetricType.COUNT]


ScopeSpec = Literal["frozen", "live"]


class SetMetric(ItemMetric):
    """A metric over a set of items that `scope` can freeze at the period's start: with
    `frozen`, the denominator is the items matched then; later additions are scope change."""

    scope: ScopeSpec = "live"


class PercentDoneMetric(SetMetric):
    type: Literal[MetricType.PERCENT_DONE]


class StatisticMetric(ItemMetric):
    """sum, mean, median or p<N> of a numeric field of the items."""

    type: StatisticType
    field: Text

    @property
    def percentile(self) -> int | None:
        """N for a `p<N>` metric, else None."""
        return percentile_of(self.type)

    @model_validator(mode="after")
    def _field_is_a_number_items_carry(self) -> Self:
        source = SELECTOR_SOURCE[self.SELECTOR]
        problem = unknown_field(self.field, source, issues_only=self.ISSUES_ONLY)
        if problem is None:
            problem = not_numeric(self.field, source)
        if problem is not None:
            raise FieldIssues([(("field",), problem)])
        return self


class ShareMetric(SetMetric):
    """The share of the items that meet a condition."""

    type: Literal[MetricType.SHARE]
    where: Text

    @property
    def condition(self) -> Condition:
        """The parsed `where`."""
        return parse_condition(self.where)

    @model_validator(mode="after")
    def _condition_reads_item_fields(self) -> Self:
        try:
            names = self.condition.names
        except ExpressionError as exc:
            raise FieldIssues([(("where",), str(exc))]) from None
        source = SELECTOR_SOURCE[self.SELECTOR]
        problems: list[tuple[Loc, str]] = []
        for name in sorted(names):
            problem = unknown_field(name, source, issues_only=self.ISSUES_ONLY)
            if problem is not None:
                problems.append((("where",), problem))
        if problems:
            raise FieldIssues(problems)
        return self


# --- every computation over every selection (selection first: its `source` wins) ----------


class CountByJql(JqlSelection, CountMetric):
    TAG = "count:jql"


class CountBySearch(SearchSelection, CountMetric):
    TAG = "count:search"


class CountByIssues(IssuesSelection, CountMetric):
    TAG = "count:issues"


class CountByPulls(PullsSelection, CountMetric):
    TAG = "count:pulls"


class PercentDoneByJql(JqlSelection, PercentDoneMetric):
    TAG = "percent_done:jql"


class PercentDoneBySearch(SearchSelection, PercentDoneMetric):
    TAG = "percent_done:search"


class PercentDoneByIssues(IssuesSelection, PercentDoneMetric):
    TAG = "percent_done:issues"


class PercentDoneByPulls(PullsSelection, PercentDoneMetric):
    TAG = "percent_done:pulls"


class StatisticByJql(JqlSelection, StatisticMetric):
    TAG = "statistic:jql"


class StatisticBySearch(SearchSelection, StatisticMetric):
    TAG = "statistic:search"


class StatisticByIssues(IssuesSelection, StatisticMetric):
    TAG = "statistic:issues"


class StatisticByPulls(PullsSelection, StatisticMetric):
    TAG = "statistic:pulls"


class ShareByJql(JqlSelection, ShareMetric):
    TAG = "share:jql"


class ShareBySearch(SearchSelection, ShareMetric):
    TAG = "share:search"


class ShareByIssues(IssuesSelection, ShareMetric):
    TAG = "share:issues"


class ShareByPulls(PullsSelection, ShareMetric):
    TAG = "share:pulls"


_ItemMembers = (
    Annotated[CountByJql, Tag(CountByJql.TAG)]
    | Annotated[CountBySearch, Tag(CountBySearch.TAG)]
    | Annotated[CountByIssues, Tag(CountByIssues.TAG)]
    | Annotated[CountByPulls, Tag(CountByPulls.TAG)]
    | Annotated[PercentDoneByJql, Tag(PercentDoneByJql.TAG)]
    | Annotated[PercentDoneBySearch, Tag(PercentDoneBySearch.TAG)]
    | Annotated[PercentDoneByIssues, Tag(PercentDoneByIssues.TAG)]
    | Annotated[PercentDoneByPulls, Tag(PercentDoneByPulls.TAG)]
    | Annotated[StatisticByJql, Tag(StatisticByJql.TAG)]
    | Annotated[StatisticBySearch, Tag(StatisticBySearch.TAG)]
    | Annotated[StatisticByIssues, Tag(StatisticByIssues.TAG)]
    | Annotated[StatisticByPulls, Tag(StatisticByPulls.TAG)]
    | Annotated[ShareByJql, Tag(ShareByJql.TAG)]
    | Annotated[ShareBySearch, Tag(ShareBySearch.TAG)]
    | Annotated[ShareByIssues, Tag(ShareByIssues.TAG)]
    | Annotated[ShareByPulls, Tag(ShareByPulls.TAG)]
)
# Only reached with a metric that is not a mapping: metric_shape answers every other case.
_NOT_A_METRIC = Discriminator(
    written_tag,
    custom_error_type="not_a_metric",
    custom_error_message="Input should be a mapping with a type",
)
InputMetric = Annotated[_ItemMembers, _NOT_A_METRIC, BeforeValidator(written_metric)]


class FormulaMetric(MetricBase):
    """Arithmetic over named inputs, each an item metric of its own."""

    TAG = "formula"
    type: Literal[MetricType.FORMULA]
    expr: Text
    inputs: dict[InputName, InputMetric]

    @property
    def formula(self) -> Formula:
        """The parsed `expr`."""
        return parse_formula(self.expr)

    @model_validator(mode="after")
    def _expr_uses_every_input(self) -> Self:
        try:
            names = self.formula.names
        except ExpressionError as exc:
            raise FieldIssues([(("expr",), str(exc))]) from None
        declared = ", ".join(sorted(self.inputs))
        problems: list[tuple[Loc, str]] = [
            (("expr",), f"'{name}' is not one of the inputs ({declared})")
            for name in sorted(names - set(self.inputs))
        ]
        problems += [
            (("inputs", name), f"input '{name}' is not used in '{self.expr}'")
            for name in sorted(set(self.inputs) - names)
        ]
        if problems:
            raise FieldIssues(problems)
        return self


class ManualMetric(MetricBase):
    """A value people check in (`run.py checkin`)."""

    TAG = "manual"
    type: Literal[MetricType.MANUAL]


Metric = Annotated[
    _ItemMembers
    | Annotated[FormulaMetric, Tag(FormulaMetric.TAG)]
    | Annotated[ManualMetric, Tag(ManualMetric.TAG)],
    _NOT_A_METRIC,
    BeforeValidator(written_metric),
]
