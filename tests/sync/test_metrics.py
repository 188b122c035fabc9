"""Metric computation over hand-built work items; every expected number is worked out here."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.conditions import parse_condition
from config.expressions import parse_formula
from config.vocabulary import is_item_metric_type
from connectors.base import NORMALIZED_FIELDS, WorkItem
from sync.metrics import (
    MetricValue,
    compute,
    compute_formula,
    field_value,
    needs_for,
    value_range,
)

CREATED = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
AS_OF = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def item(key: str = "APP-1", **fields: Any) -> WorkItem:
    values: dict[str, Any] = {
        "source": "jira",
        "key": key,
        "url": f"https://jira.example/browse/{key}",
        "kind": "issue",
        "title": f"Item {key}",
        "status": "Open",
        "status_category": "todo",
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    values.update(fields)
    return WorkItem(**values)


def resolved_after(hours: float | None, key: str = "APP-1", **fields: Any) -> WorkItem:
    """An issue resolved `hours` after creation (lead time = hours); open when None."""
    resolved = None if hours is None else CREATED + timedelta(hours=hours)
    return item(key, resolved_at=resolved, **fields)


def lead_times(*hours: float | None) -> list[WorkItem]:
    return [resolved_after(h, key=f"APP-{index}") for index, h in enumerate(hours)]


# --- field_value and needs_for ---------------------------------------------------------


def test_field_value_reads_normalized_derived_and_custom_fields() -> None:
    work = item(
        resolved_at=CREATED + timedelta(hours=30),
        story_points=5.0,
        labels=("bug", "ui"),
        extra={"customfield_10020": 3.0, "approved": True},
    )
    assert field_value(work, "story_points", as_of=AS_OF) == 5.0
    assert field_value(work, "lead_time_hours", as_of=AS_OF) == 30.0
    assert field_value(work, "age_days", as_of=AS_OF) == 1.25  # 30 h, resolved before as_of
    assert field_value(work, "labels", as_of=AS_OF) == ("bug", "ui")
    assert field_value(work, "status_category", as_of=AS_OF) == "todo"
    assert field_value(work, "customfield_10020", as_of=AS_OF) == 3.0
    assert field_value(work, "approved", as_of=AS_OF) is True
    assert field_value(work, "not_there", as_of=AS_OF) is None


def test_age_days_of_an_open_item_runs_to_as_of() -> None:
    assert field_value(item(), "age_days", as_of=AS_OF) == 31.0  # Oct 1 09:00 -> Nov 1 09:00


def test_normalized_fields_cover_the_documented_names() -> None:
    documented = {
        "story_points",
        "lead_time_hours",
        "cycle_time_hours",
        "review_time_hours",
        "age_days",
        "status",
        "status_category",
        "labels",
        "assignee",
        "priority",
        "issue_type",
        "kind",
        "container",
        "title",
    }
    assert documented <= NORMALIZED_FIELDS


@pytest.mark.parametrize(
    ("field", "where_names", "needs"),
    [
        (None, frozenset(), frozenset()),
        ("lead_time_hours", frozenset({"status", "status_category"}), frozenset()),
        ("lead_time_hours", frozenset({"status", "labels"}), frozenset({"labels"})),
        (None, frozenset({"assignee", "issue_type"}), frozenset({"assignee", "issue_type"})),
        ("story_points", frozenset(), frozenset({"story_points"})),
        ("review_time_hours", frozenset(), frozenset({"first_review_at"})),
        (None, frozenset({"approved"}), frozenset({"first_review_at"})),
        ("cycle_time_hours", frozenset(), frozenset({"started_at"})),
        (
            "customfield_10020",
            frozenset({"review_time_hours", "team"}),
            frozenset({"customfield_10020", "first_review_at", "team"}),
        ),
    ],
)
def test_needs_for(field: str | None, where_names: frozenset[str], needs: frozenset[str]) -> None:
    assert needs_for(field, where_names) == needs


# --- count, sum, percent_done ----------------------------------------------------------


def test_count_is_the_number_of_items() -> None:
    assert compute("count", lead_times(1, None, 3), as_of=AS_OF) == MetricValue(3.0, 3, None)
    assert compute("count", [], as_of=AS_OF) == MetricValue(0.0, 0, None)


def test_count_with_where_counts_only_matching_items() -> None:
    items = [item("A", labels=("bug",)), item("B", labels=("ui",)), item("C", labels=("bug",))]
    result = compute("count", items, where=parse_condition("'bug' in labels"), as_of=AS_OF)
    assert result == MetricValue(2.0, 2, None)


def test_sum_skips_items_without_the_field() -> None:
    items = [item("A", story_points=3.0), item("B"), item("C", story_points=5.0)]
    assert compute("sum", items, field="story_points", as_of=AS_OF) == MetricValue(8.0, 2, None)


def test_sum_of_no_items_is_zero_but_of_items_without_values_is_unknown() -> None:
    assert compute("sum", [], field="story_points", as_of=AS_OF) == MetricValue(0.0, 0, None)
    result = compute("sum", [item("A"), item("B")], field="story_points", as_of=AS_OF)
    assert result == MetricValue(None, 0, "no item has story_points")


def test_sum_of_a_custom_field() -> None:
    items = [item("A", extra={"effort": 2}), item("B", extra={"effort": 1.5})]
    assert compute("sum", items, field="effort", as_of=AS_OF).value == 3.5


def test_percent_done_by_status_category() -> None:
    items = [
        item("A", status_category="done"),
        item("B", status_category="in_progress"),
        item("C", status_category="todo"),
        item("D", status_category="done"),
        item("E", status_category="done"),
    ]
    assert compute("percent_done", items, as_of=AS_OF) == MetricValue(60.0, 5, None)  # 3 of 5
    assert compute("percent_done", [], as_of=AS_OF) == MetricValue(None, 0, "no items matched")


# --- mean, median, percentiles ---------------------------------------------------------


def test_mean_over_items_with_the_field() -> None:
    result = compute("mean", lead_times(10, None, 20, 60), field="lead_time_hours", as_of=AS_OF)
    assert result == MetricValue(30.0, 3, None)  # (10 + 20 + 60) / 3, the open item left out


def test_median_of_five_is_the_third_smallest() -> None:
    items = lead_times(50, 4, 30, 8, 12)  # sorted: 4 8 12 30 50
    assert compute("median", items, field="lead_time_hours", as_of=AS_OF) == MetricValue(
        12.0, 5, None
    )


def test_median_of_four_is_the_mean_of_the_middle_two() -> None:
    items = lead_times(40, 10, 20, 30)
    assert compute("median", items, field="lead_time_hours", as_of=AS_OF).value == 25.0


def test_percentile_interpolates_linearly_between_closest_ranks() -> None:
    hours = [15.0, 1.0, 7.0, 3.0, 50.0, 20.0, 9.0, 2.0, 30.0, 11.0]
    ordered = sorted(hours)  # 1 2 3 7 9 11 15 20 30 50
    # numpy 'linear': rank h = (n - 1) * p / 100 = 9 * 0.9 = 8.1 -> x[8] + 0.1 * (x[9] - x[8])
    expected_p90 = ordered[8] + 0.1 * (ordered[9] - ordered[8])  # 30 + 0.1 * 20 = 32
    result = compute("p90", lead_times(*hours), field="lead_time_hours", as_of=AS_OF)
    assert result.value == pytest.approx(expected_p90)
    assert result.value == pytest.approx(32.0)
    assert result.sample_size == 10
    # p25: h = 9 * 0.25 = 2.25 -> 3 + 0.25 * (7 - 3) = 4
    p25 = compute("p25", lead_times(*hours), field="lead_time_hours", as_of=AS_OF)
    assert p25.value == pytest.approx(4.0)


def test_p50_equals_median_and_extremes_stay_inside_the_data() -> None:
    items = lead_times(5, 1, 9, 3)
    median = compute("median", items, field="lead_time_hours", as_of=AS_OF).value
    assert compute("p50", items, field="lead_time_hours", as_of=AS_OF).value == median
    # p99: h = 3 * 0.99 = 2.97 -> 5 + 0.97 * (9 - 5) = 8.88; p1: h = 0.03 -> 1 + 0.03 * 2
    assert compute("p99", items, field="lead_time_hours", as_of=AS_OF).value == pytest.approx(8.88)
    assert compute("p1", items, field="lead_time_hours", as_of=AS_OF).value == pytest.approx(1.06)


def test_percentile_of_one_value_is_that_value() -> None:
    result = compute("p90", lead_times(7), field="lead_time_hours", as_of=AS_OF)
    assert result == MetricValue(7.0, 1, None)


@pytest.mark.parametrize("metric_type", ["mean", "median", "p90"])
def test_statistics_without_items_or_values_give_a_reason(metric_type: str) -> None:
    no_items = compute(metric_type, [], field="lead_time_hours", as_of=AS_OF)
    assert no_items == MetricValue(None, 0, "no items matched")
    all_open = compute(metric_type, lead_times(None, None), field="lead_time_hours", as_of=AS_OF)
    assert all_open == MetricValue(None, 0, "no item has lead_time_hours")


def test_non_finite_values_are_skipped_so_results_stay_finite() -> None:
    items = [item("A", extra={"score": math.nan}), item("B", extra={"score": 4.0})]
    assert compute("mean", items, field="score", as_of=AS_OF) == MetricValue(4.0, 1, None)


def test_mean_with_where_narrows_items_first() -> None:
    items = [
        resolved_after(10, "A", labels=("bug",)),
        resolved_after(100, "B", labels=("feature",)),
        resolved_after(20, "C", labels=("bug",)),
    ]
    where = parse_condition("'bug' in labels")
    result = compute("mean", items, field="lead_time_hours", where=where, as_of=AS_OF)
    assert result == MetricValue(15.0, 2, None)


# --- share -----------------------------------------------------------------------------


def test_share_counts_items_meeting_the_condition_over_all_items() -> None:
    items = lead_times(10, 47, 48, 49, None)  # 3 meet <= 48; the open one has no lead time
    where = parse_condition("lead_time_hours <= 48")
    assert compute("share", items, where=where, as_of=AS_OF) == MetricValue(60.0, 5, None)


def test_share_item_lacking_a_field_never_meets_even_a_negated_condition() -> None:
    items = lead_times(10, None)
    where = parse_condition("not (lead_time_hours > 48)")
    assert compute("share", items, where=where, as_of=AS_OF).value == 50.0


def test_a_field_compared_with_none_is_asked_for_its_absence() -> None:
    """`assignee == None` is how one asks for unassigned items; it was never met, a
    confident 0%."""
    items = [item("A", assignee="ada"), item("B"), item("C"), item("D", assignee="bo")]
    unassigned = parse_condition("assignee == None")
    assert compute("share", items, where=unassigned, as_of=AS_OF).value == 50.0
    assigned = parse_condition("assignee != None and 'bug' in labels")
    bugs = [item("A", assignee="ada", labels=("bug",)), item("B", labels=("bug",))]
    assert compute("count", bugs, where=assigned, as_of=AS_OF).value == 1.0
    # a field the comparison does not set against None still has to be there
    mixed = parse_condition("assignee == None and lead_time_hours <= 48")
    assert compute("count", [*items, *lead_times(10)], where=mixed, as_of=AS_OF).value == 1.0


def test_share_with_a_custom_field_and_no_items() -> None:
    where = parse_condition("approved == True")
    items = [item("A", extra={"approved": True}), item("B", extra={"approved": False}), item("C")]
    assert compute("share", items, where=where, as_of=AS_OF).value == pytest.approx(100 / 3)
    assert compute("share", [], where=where, as_of=AS_OF) == MetricValue(
        None, 0, "no items matched"
    )


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("metric_type", ["average", "p0", "p100", "p", "P90", "p9x", "formula"])
def test_unknown_metric_type_is_refused(metric_type: str) -> None:
    assert not is_item_metric_type(metric_type)
    with pytest.raises(ValueError, match="unknown metric type"):
        compute(metric_type, lead_times(1, 2), field="lead_time_hours", as_of=AS_OF)


@pytest.mark.parametrize("metric_type", ["sum", "mean", "median", "p75"])
def test_metric_type_needing_a_field_refuses_none(metric_type: str) -> None:
    with pytest.raises(ValueError, match="needs a 'field'"):
        compute(metric_type, lead_times(1), as_of=AS_OF)


def test_share_without_where_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a 'where'"):
        compute("share", lead_times(1), as_of=AS_OF)


def test_non_numeric_field_is_refused() -> None:
    with pytest.raises(ValueError, match="'status' is not numeric"):
        compute("mean", [item("A")], field="status", as_of=AS_OF)


# --- formula ---------------------------------------------------------------------------


def test_formula_over_inputs() -> None:
    formula = parse_formula("100 * approved / merged")
    assert compute_formula(formula, {"approved": 45.0, "merged": 50.0}) == MetricValue(
        90.0, 2, None
    )


def test_formula_with_a_missing_input_names_it() -> None:
    formula = parse_formula("100 * approved / merged")
    inputs: Mapping[str, float | None] = {"approved": None, "merged": 50.0}
    result = compute_formula(formula, inputs)
    assert result.value is None
    assert result.reason is not None and "approved" in result.reason
    assert "merged" not in result.reason
    assert compute_formula(formula, {"merged": 50.0}).value is None


def test_formula_error_becomes_a_reason() -> None:
    result = compute_formula(parse_formula("100 * approved / merged"), {"approved": 0, "merged": 0})
    assert result.value is None
    assert result.reason


@pytest.mark.parametrize(
    ("metric_type", "field", "low", "high"),
    [
        ("count", None, 0.0, None),
        ("percent_done", None, 0.0, 100.0),
        ("share", None, 0.0, 100.0),
        ("median", "lead_time_hours", 0.0, None),
        ("p90", "cycle_time_hours", 0.0, None),
        ("sum", "story_points", 0.0, None),
    ],
)
def test_value_range_bounds_what_a_metric_can_never_leave(
    metric_type: str, field: str | None, low: float, high: float | None
) -> None:
    bounds = value_range(metric_type, field)
    assert bounds is not None and (bounds.low, bounds.high) == (low, high)


@pytest.mark.parametrize(
    ("metric_type", "field"),
    [("sum", "customfield_10042"), ("mean", "Cost"), ("formula", None), ("manual", None)],
)
def test_value_range_of_custom_fields_formulas_and_manual_values_is_unknown(
    metric_type: str, field: str | None
) -> None:
    assert value_range(metric_type, field) is None
