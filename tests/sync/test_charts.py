"""Charts: where things land in the SVG, and the terminal's block columns."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from sync.charts import ChartData, history_svg, nice_ticks, terminal_chart

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    ticks = nice_ticks(3.2, 47.9)
    assert ticks[0] <= 3.2 and ticks[-1] >= 47.9
    steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and steps.pop() in (10.0, 20.0, 25.0)


def test_terminal_chart_columns_scale_from_min_to_max() -> None:
    assert terminal_chart([0, 8, 16], height=2) == ["  █", "▁██"]
    assert terminal_chart([5, 5], height=2) == ["", "██"]  # flat: half high
    assert terminal_chart([]) == []
    assert len(terminal_chart(list(range(100)), width=10)[-1]) == 10


def test_svg_puts_a_value_equal_to_the_target_on_the_target_line() -> None:
    values = [(T0 + timedelta(days=d), v) for d, v in ((0, 10.0), (10, 25.0), (20, 40.0))]
    svg = history_svg(
        ChartData(
            values=values,
            target=40.0,
            pace=[(T0, 0.0), (T0 + timedelta(days=92), 40.0)],
            forecast=(T0 + timedelta(days=92), 120.0),
            period=(T0, T0 + timedelta(days=92)),
            title="a <title> & more",
        )
    )
    target_y = re.search(r'data-series="target"[^>]*y1="([\d.]+)"', svg)
    circles = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert target_y and len(circles) == 3
    assert float(circles[-1][1]) == float(target_y.group(1))
    xs = [float(x) for x, _ in circles]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert "a &lt;title&gt; &amp; more" in svg
    assert 'data-series="forecast"' in svg and 'data-series="pace"' in svg


def test_svg_without_values_says_so() -> None:
    assert "no values yet" in history_svg(ChartData(values=[]))


def test_a_runaway_forecast_leaves_the_value_axis_alone() -> None:
    """The tester's chart: a forecast of 1.6 million stretched the axis to 2,000k and flattened
    the history into a line at the bottom."""
    values = [(T0 + timedelta(days=d), v) for d, v in ((0, 12.0), (10, 27.0), (20, 41.0))]
    end = T0 + timedelta(days=92)
    svg = history_svg(
        ChartData(
            values=values,
            target=40.0,
            forecast=(end, 1_589_183.6),
            period=(T0, end),
            forecast_note="a <note>",
        )
    )
    labels = re.findall(r'<text x="50" y="[\d.]+" text-anchor="end"[^>]*>([^<]+)<', svg)
    assert labels == ["10", "20", "30", "40", "50"]  # the history's own scale
    line = re.search(
        r'data-series="forecast" x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)" y2="([\d.]+)"', svg
    )
    assert line is not None
    last_x, end_x, end_y = (float(g) for g in line.groups())
    assert end_y == 34  # the plot's top edge: the line stops where it leaves the chart
    assert last_x <= end_x < 624  # short of the period's end at the right edge
    assert "forecast 1,589k at period end (off the chart); a &lt;note&gt;" in svg


def test_a_history_begun_in_week_6_is_drawn_from_the_period_start() -> None:
    """okr-sync installed 40 days into the quarter: the chart's time axis still starts on the
    period's first day, the values in the right part of it, not stretched over the width."""
    end = T0 + timedelta(days=92)
    values = [(T0 + timedelta(days=d), float(d)) for d in (40, 45, 50)]
    svg = history_svg(
        ChartData(values=values, target=90.0, pace=[], forecast=None, period=(T0, end))
    )
    assert ">2026-10-01<" in svg  # the axis' first label: the period's start, not day 40
    xs = [float(x) for x, _ in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', svg)]
    left, right = 56, 640 - 16
    expected_first = left + (right - left) * 40 / 92
    assert abs(xs[0] - expected_first) < 1.0
