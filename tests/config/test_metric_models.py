"""The metric union: its models take exactly the keys metric_shape says, under its tags."""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

import pytest
from pydantic import BaseModel, Tag, TypeAdapter

from config.metric_models import JqlSelection, Metric
from config.metric_shape import EVERY_KEY, SELECTORS, computation_of, keys_of, tag_of
from config.periods import parse_period
from config.placeholders import PlaceholderError

METRIC: TypeAdapter[Any] = TypeAdapter(Metric)


def members() -> dict[str, type[BaseModel]]:
    union = get_args(Metric)[0]
    out: dict[str, type[BaseModel]] = {}
    for member in get_args(union):
        model, *meta = get_args(member)
        (tag,) = [m.tag for m in meta if isinstance(m, Tag)]
        out[tag] = model
    return out


def test_every_computation_over_every_selector_has_a_model() -> None:
    computations = ("count", "percent_done", "statistic", "share")
    expected = {tag_of(c, s) for c in computations for s in SELECTORS} | {"formula", "manual"}
    assert set(members()) == expected


@pytest.mark.parametrize("tag", sorted(members()))
def test_a_model_takes_the_keys_its_tag_allows(tag: str) -> None:
    model = members()[tag]
    computation, _, selector = tag.partition(":")
    assert set(model.model_fields) == keys_of(computation_of_tag(computation), selector or None)
    assert set(model.model_fields) <= set(EVERY_KEY)
    assert tag == model.TAG


def computation_of_tag(name: str) -> Any:
    return computation_of("sum") if name == "statistic" else computation_of(name)


@pytest.mark.parametrize(
    ("written", "model"),
    [
        ({"type": "count", "jql": "x"}, "CountByJql"),
        ({"type": "p90", "field": "age_days", "search": "is:pr"}, "StatisticBySearch"),
        ({"type": "sum", "field": "story_points", "jql": "x", "source": "jira"}, "StatisticByJql"),
        ({"type": "share", "where": "draft", "pulls": {"repo": "a/b"}}, "ShareByPulls"),
        ({"type": "percent_done", "issues": {"repo": "a/b"}}, "PercentDoneByIssues"),
        ({"type": "manual", "count_mode": "exact"}, "ManualMetric"),
    ],
)
def test_the_type_and_the_selector_pick_the_model(written: dict[str, Any], model: str) -> None:
    metric = METRIC.validate_python(written)
    assert type(metric).__name__ == model
    assert METRIC.validate_python(metric) is metric  # a built metric is itself


def test_expanding_placeholders_returns_a_copy() -> None:
    metric = METRIC.validate_python({"type": "count", "jql": 'created >= "{period.start}"'})
    assert isinstance(metric, JqlSelection)
    expanded = metric.expanded(parse_period("2026-Q4"), date(2026, 11, 20))
    assert expanded is not metric
    assert (metric.jql, metric.jql_template) == ('created >= "{period.start}"',) * 2
    assert (expanded.jql, expanded.jql_template) == (
        'created >= "2026-10-01"',
        'created >= "{period.start}"',
    )
    assert expanded.expanded(parse_period("2026-Q1"), date(2026, 1, 1)) is expanded  # once
    with pytest.raises(PlaceholderError):
        METRIC.validate_python({"type": "count", "jql": "{nope}"}).expanded(
            parse_period("2026-Q4"), date(2026, 11, 20)
        )
