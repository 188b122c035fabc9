"""Stored numbers in the words every view uses: the terminal, the dashboard and its API, the
reports and the digest read a value, a percent, a target or a status the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sync.records import KeyResultRow, Lineage

STATUS_LABELS = {
    "done": "done",
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "error": "error",
    "no_data": "no data",
    "baseline": "baseline",
    "retired": "retired",
}


def percent(fraction: float | None) -> float | None:
    """A stored progress fraction as the percent people read: clamped to 0-100, one decimal."""
    return None if fraction is None else round(max(0.0, min(1.0, fraction)) * 100.0, 1)


def iso(moment: datetime | date | None) -> str | None:
    return None if moment is None else moment.isoformat()


# From 2**53 on, a float no longer holds every integer: the last digits `,.0f` would print
# are not in the value (123456789012345678901234 showed as 123,456,789,012,345,685,803,008).
_EXACT_INTEGERS = 2.0**53


def format_number(value: float | None, unit: str | None = None) -> str:
    if value is None:
        return "-"
    if abs(value) >= _EXACT_INTEGERS:
        text = f"{value:.15g}"  # the 15 digits a float holds: 1.23456789012346e+23
    elif float(value).is_integer():
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.1f}"
    if unit:
        text += unit if unit == "%" else f" {unit}"
    return text


def signed_text(change: float | None, unit: str | None = None) -> str:
    if change is None:
        return "-"
    if change == 0:
        return "±0"
    return ("+" if change > 0 else "-") + format_number(abs(change), unit)


def target_text(kr: KeyResultRow) -> str:
    """What the key result aims at, in the words of its kind."""
    unit = kr.unit
    kind = kr.kind
    if kind == "band":
        return f"{format_number(kr.min_value)}..{format_number(kr.max_value, unit)}"
    if kind == "stay_above":
        return f">= {format_number(kr.target_value, unit)}"
    if kind == "stay_below":
        return f"<= {format_number(kr.target_value, unit)}"
    if kind == "baseline":
        return "baseline"
    if kind == "milestone":
        return "done"
    return format_number(kr.target_value, unit)


def stale_inputs_text(kr_ids: list[str]) -> str:
    """What an objective's stale-inputs mark says, the same words in every view."""
    return (
        f"stale inputs: {', '.join(kr_ids)} (last fetch failed; their last good values are counted)"
    )


@dataclass(frozen=True)
class ScopeItem:
    key: str
    url: str | None


@dataclass(frozen=True)
class ScopeChange:
    """Items added to or removed from a key result's set over a span, as every view lists
    them: the first few keys with their links, and how many more."""

    label: str  # "added since the period's start", ...
    items: tuple[ScopeItem, ...]
    more: int  # not listed: "and N more"


_SPANS = (("since_start", "the period's start"), ("since_last_run", "the last run"))


def scope_summary(lineage: Lineage | None) -> str | None:
    """One line on what a set-based key result measures: frozen or live, and since when."""
    scope = lineage.scope if lineage is not None else None
    if not isinstance(scope, dict) or scope.get("mode") is None:
        return None
    if scope.get("mode") != "frozen":
        return "scope: live (the items matched now)"
    total = scope.get("frozen_total")
    taken = scope.get("taken_at")
    return f"scope: frozen, {total} items matched at {taken}; items added since are not counted"


def scope_changes(lineage: Lineage | None) -> list[ScopeChange]:
    """The non-empty changes of a key result's set, oldest span first."""
    scope = lineage.scope if lineage is not None else None
    if not isinstance(scope, dict):
        return []
    changes: list[ScopeChange] = []
    for span, since in _SPANS:
        for direction in ("added", "removed"):
            listed = (scope.get(span) or {}).get(direction) or {}
            items = tuple(
                ScopeItem(str(entry.get("key")), _web_link(entry.get("url")))
                for entry in listed.get("items") or ()
                if isinstance(entry, dict)
            )
            total = listed.get("total") or len(items)
            if total:
                changes.append(
                    ScopeChange(f"{direction} since {since}", items, max(0, total - len(items)))
                )
    return changes


def _web_link(url: object) -> str | None:
    """A tracker's item link, when it is one a page may point at (http or https)."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return None
