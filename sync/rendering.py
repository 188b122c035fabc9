"""Jinja2 set-up shared by the dashboard pages and the reports: autoescaping on (off for the
Markdown report, whose text goes through `md`), and the filters that turn stored numbers into
what people read."""

from __future__ import annotations

import html
import re
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sync.literal_text import printable, printable_lines
from sync.presentation import (
    STATUS_LABELS,
    format_number,
    signed_text,
    stale_inputs_text,
    target_text,
)

# What Markdown reads as emphasis, code, links, strike-through, headings and table cells.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~#])")


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


def when_text(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def without_control_characters(value: object) -> object:
    """What a page shows of any text: its lines kept (a query in `<pre>`), no control
    character (an HTML report may well be printed to a terminal). Markup is ours: kept."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return "\n".join(printable_lines(value))
    return value


def markdown_text(text: str) -> str:
    """Text from a person or a tracker, shown as written wherever the Markdown is rendered:
    HTML escaped (no tag, no `onerror`), Markdown punctuation backslash-escaped (no link, no
    emphasis, no `|` splitting a cell), on one line with no control character."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(printable(text), quote=False))


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sync", "templates"),
        autoescape=select_autoescape(
            disabled_extensions=("md",), default=True, default_for_string=True
        ),
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
        "md": markdown_text,
    }
    env.filters.update(filters)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
