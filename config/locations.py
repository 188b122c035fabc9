"""Places in the mapping file: pydantic-style paths, and problems tied to them.

Checks that span several keys raise `FieldIssues`, which carry the exact key each problem
belongs to, so the loader can point at it (and at its line).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

Loc = tuple[str | int, ...]


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


def unknown_key_message(key: str, allowed: Sequence[str]) -> str:
    """What to say of a key no model takes: the closest allowed one, else all of them."""
    close = difflib.get_close_matches(key, list(allowed), n=1)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return "unknown key (allowed: " + ", ".join(allowed) + ")"
