"""Charts drawn without a browser library: SVG for the dashboard and reports, block characters
for the terminal. Readable without JavaScript; every text is escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from html import escape

from config.vocabulary import KeyResultKind
from sync.standing import KeyResultDetail

BLOCKS = " ▁▂▃▄▅▆▇█"
# Kinds with one target value, drawn as a line on the history chart.
TARGET_LINE_KINDS = frozenset(
    {KeyResultKind.LINEAR, KeyResultKind.STAY_ABOVE, KeyResultKind.STAY_BELOW}
)

VALUE_COLOUR = "#2563eb"
TARGET_COLOUR = "#16a34a"
PACE_COLOUR = "#6b7280"
FORECAST_COLOUR = "#ea580c"


@dataclass
class ChartData:
    """What a key result's history chart shows; any part may be missing."""

    values: list[tuple[datetime, float]]
    target: float | None = None
    pace: list[tuple[datetime, float]] = field(default_factory=list)
    forecast: tuple[datetime, float] | None = None
    forecast_note: str | None = None
    period: tuple[datetime, datetime] | None = None
    now: datetime | None = None
    unit: str | None = None
    title: str = "value over time"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def short_number(value: float) -> str:
    if abs(value) >= 10_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def history_svg(data: ChartData, *, width: int = 640, height: int = 280) -> str:
    """A line chart: values (dots and line), target (dashed), expected pace (dotted grey),
    forecast to period end (dashed orange), today (thin vertical line).

    The value axis covers the values, the target and the pace, never the forecast: a steep
    trend runs off the chart (its line stops at the edge) instead of flattening the history."""
    left, right, top, bottom = 56, 16, 34, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    times = [t for t, _ in data.values] + [t for t, _ in data.pace]
    if data.period:
        times += list(data.period)
    if data.forecast:
        times.append(data.forecast[0])
    ys = [v for _, v in data.values] + [v for _, v in data.pace]
    if data.target is not None:
        ys.append(data.target)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(data.title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    if not times or not ys:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#6b7280">'
            "no values yet</text></svg>"
        )
        return "".join(parts)
    t0 = min(times).timestamp()
    t1 = max(times).timestamp()
    if t1 <= t0:
        t0, t1 = t0 - 86400, t1 + 86400
    ticks = nice_ticks(min(ys), max(ys))
    y0, y1 = min(ticks), max(ticks)
    if y1 <= y0:
        y1 = y0 + 1

    def x(moment: datetime) -> float:
        return round(left + (moment.timestamp() - t0) / (t1 - t0) * plot_w, 1)

    def y(value: float) -> float:
        return round(top + (1 - (value - y0) / (y1 - y0)) * plot_h, 1)

    for tick in ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick)}" y2="{y(tick)}" '
            f'stroke="#e5e7eb"/><text x="{left - 6}" y="{y(tick) + 4}" text-anchor="end" '
            f'fill="#374151">{escape(short_number(tick))}</text>'
        )
    start_label = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d")
    end_label = datetime.fromtimestamp(t1, UTC).strftime("%Y-%m-%d")
    parts.append(
        f'<text x="{left}" y="{height - 8}" fill="#374151">{start_label}</text>'
        f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end" fill="#374151">'
        f"{end_label}</text>"
    )
    if data.now is not None and t0 <= data.now.timestamp() <= t1:
        parts.append(
            f'<line class="today" x1="{x(data.now)}" x2="{x(data.now)}" y1="{top}" '
            f'y2="{top + plot_h}" stroke="#9ca3af" stroke-width="1"/>'
            f'<text x="{x(data.now)}" y="{height - 8}" text-anchor="middle" fill="#6b7280">'
            "today</text>"
        )
    if data.target is not None:
        parts.append(
            f'<line data-series="target" x1="{left}" x2="{left + plot_w}" '
            f'y1="{y(data.target)}" y2="{y(data.target)}" stroke="{TARGET_COLOUR}" '
            f'stroke-width="1.5" stroke-dasharray="6 4"><title>target '
            f"{escape(short_number(data.target))}</title></line>"
        )
    if len(data.pace) >= 2:
        points = " ".join(f"{x(t)},{y(v)}" for t, v in data.pace)
        parts.append(
            f'<polyline data-series="pace" points="{points}" fill="none" '
            f'stroke="{PACE_COLOUR}" stroke-width="1.5" stroke-dasharray="2 3">'
            "<title>expected pace</title></polyline>"
        )
    if data.forecast and data.values:
        last_t, last_v = data.values[-1]
        f_t, f_v = data.forecast
        edge = min(y1, max(y0, f_v))  # where the line leaves the chart, if it does
        reach = 1.0 if f_v == last_v else (edge - last_v) / (f_v - last_v)
        end_x = round(x(last_t) + reach * (x(f_t) - x(last_t)), 1)
        off_chart = "" if edge == f_v else " (off the chart)"
        note = f"; {data.forecast_note}" if data.forecast_note else ""
        parts.append(
            f'<line data-series="forecast" x1="{x(last_t)}" y1="{y(last_v)}" x2="{end_x}" '
            f'y2="{y(edge)}" stroke="{FORECAST_COLOUR}" stroke-width="2" '
            f'stroke-dasharray="5 4"><title>forecast {escape(short_number(f_v))} at period '
            f"end{off_chart}{escape(note)}</title></line>"
        )
    if data.values:
        points = " ".join(f"{x(t)},{y(v)}" for t, v in data.values)
        parts.append(
            f'<polyline data-series="value" points="{points}" fill="none" '
            f'stroke="{VALUE_COLOUR}" stroke-width="2.5"/>'
        )
        unit = f" {data.unit}" if data.unit and data.unit != "%" else (data.unit or "")
        for t, v in data.values:
            parts.append(
                f'<circle cx="{x(t)}" cy="{y(v)}" r="3.5" fill="{VALUE_COLOUR}"><title>'
                f"{t:%Y-%m-%d %H:%M} UTC: {escape(short_number(v) + unit)}</title></circle>"
            )
    parts.append(_legend(data, left))
    parts.append("</svg>")
    return "".join(parts)


def _legend(data: ChartData, left: int) -> str:
    entries = [("value", VALUE_COLOUR, "")]
    if data.target is not None:
        entries.append(("target", TARGET_COLOUR, "6 4"))
    if len(data.pace) >= 2:
        entries.append(("expected pace", PACE_COLOUR, "2 3"))
    if data.forecast:
        entries.append(("forecast", FORECAST_COLOUR, "5 4"))
    out = []
    offset = left
    for label, colour, dash in entries:
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{offset}" x2="{offset + 22}" y1="14" y2="14" stroke="{colour}" '
            f'stroke-width="2"{dash_attr}/><text x="{offset + 27}" y="18" fill="#111827">'
            f"{label}</text>"
        )
        offset += 36 + 7 * len(label)
    return "".join(out)


def terminal_chart(values: Sequence[float], *, height: int = 6, width: int = 48) -> list[str]:
    """Columns of block characters, one per value (the latest `width` values), tallest at the
    maximum; a flat series is drawn half high. Returns `height` lines, top first."""
    shown = list(values)[-width:]
    if not shown:
        return []
    low, high = min(shown), max(shown)
    eighths = height * 8
    levels = [
        eighths // 2 if high == low else max(1, round((v - low) / (high - low) * eighths))
        for v in shown
    ]
    lines = []
    for row in range(height, 0, -1):
        floor = (row - 1) * 8
        lines.append("".join(BLOCKS[min(8, max(0, level - floor))] for level in levels).rstrip())
    return lines


def chart_for(detail: KeyResultDetail, now: datetime | None = None) -> str:
    """The key result's history chart as inline SVG."""
    row = detail.row
    period = None
    if row.period_start is not None and row.period_end is not None:
        end = datetime.combine(row.period_end.date(), time.max, tzinfo=UTC)
        period = (row.period_start, end)
    forecast = None
    if detail.forecast.value is not None and period is not None:
        forecast = (period[1], detail.forecast.value)
    target = row.target_value if row.kind in TARGET_LINE_KINDS else None
    return history_svg(
        ChartData(
            values=detail.values,
            target=target,
            pace=detail.pace,
            forecast=forecast,
            forecast_note=detail.forecast.note,
            period=period,
            now=now or datetime.now(UTC),
            unit=row.unit,
            title=f"{row.title}: value over time",
        )
    )
