"""Placeholder expansion for queries in the mapping file.

Only four names are ever interpolated, by a hand-written scanner: queries are user text
that ends up in trackers, so nothing resembling `str.format` (attribute or index access)
may run on them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from config.periods import Period

ALLOWED = ("{period}", "{period.start}", "{period.end}", "{today}")
_ALLOWED_TEXT = ", ".join(ALLOWED)

_VALUES: dict[str, Callable[[Period, date], str]] = {
    "period": lambda period, today: period.github_range,
    "period.start": lambda period, today: period.start.isoformat(),
    "period.end": lambda period, today: period.end.isoformat(),
    "today": lambda period, today: today.isoformat(),
}


class PlaceholderError(ValueError):
    """An unknown placeholder or an unbalanced brace; the message names it."""


def expand(text: str, *, period: Period, today: date) -> str:
    """Replace the allowed placeholders; `{{` and `}}` stand for literal braces."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char == "{":
            if text.startswith("{{", i):
                out.append("{")
                i += 2
                continue
            close = text.find("}", i + 1)
            opened = text.find("{", i + 1)
            if close == -1 or (opened != -1 and opened < close):
                raise PlaceholderError(
                    f"unbalanced '{{' at position {i}: write '{{{{' for a literal brace"
                )
            name = text[i + 1 : close]
            render = _VALUES.get(name)
            if render is None:
                raise PlaceholderError(
                    f"unknown placeholder '{{{name}}}': allowed are {_ALLOWED_TEXT}"
                )
            out.append(render(period, today))
            i = close + 1
        elif char == "}":
            if text.startswith("}}", i):
                out.append("}")
                i += 2
                continue
            raise PlaceholderError(
                f"unbalanced '}}' at position {i}: write '}}}}' for a literal brace"
            )
        else:
            out.append(char)
            i += 1
    return "".join(out)
