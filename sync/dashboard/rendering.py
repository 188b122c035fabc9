"""Jinja2 set-up shared by the dashboard pages and the HTML report: autoescaping on, and the
filters that turn stored numbers into what people read."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sync.literal_text import printable_lines
from sync.progress import Status
from sync.status_view import format_number, stale_inputs_text, target_text

STATUS_LABELS: dict[str, str] = {
    Status.DONE: "done",
    Status.ON_TRACK: "on track",
    Status.AT_RISK: "at risk",
    Status.OFF_TRACK: "off track",
    Status.ERROR: "error",
    Status.NO_DATA: "no data",
    Status.BASELINE: "baseline",
    "retired": "retired",
}


def percent_text(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction * 100:.0f}%"


def bar_width(fraction: float | None) -> str:
    """CSS width of a progress bar, clamped to 0-100%."""
    return "0%" if fraction is None else f"{max(0.0, min(1.0, fraction)) * 100:.1f}%"


def change_text(change: float | None, unit: str | None = None) -> str:
    if change is None or change == 0:
        return ""
    arrow = "▲" if change > 0 else "▼"
    return f"{arrow} {format_number(abs(change), unit)}"


def signed_text(change: float | None, unit: str | None = None) -> str:
    if change is None:
        return "-"
    if change == 0:
        return "±0"
    return ("+" if change > 0 else "-") + format_number(abs(change), unit)


def when_text(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def without_control_characters(value: object) -> object:
    """What a page shows of any text: its lines kept (a query in `<pre>`), no control
    character (an HTML report may well be printed to a terminal). Markup is ours: kept."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return "\n".join(printable_lines(value))
    return value


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sync.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=without_control_characters,
    )
    filters: dict[str, Any] = {
        "number": format_number,
        "percent": percent_text,
        "bar_width": bar_width,
        "change": change_text,
        "signed": signed_text,
        "when": when_text,
        "status_label": lambda status: STATUS_LABELS.get(status or "", status or "-"),
        "target_text": target_text,
        "stale_inputs": stale_inputs_text,
    }
    env.filters.update(filters)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
