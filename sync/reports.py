"""Shareable summaries (`report --format md|html|json [--period]`): per objective its progress
and status; per key result its value, the change over the chosen window, the forecast and the
notes written in that window. The HTML report stands alone: inline CSS and SVG, no links out
except the trackers'."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from config.cadence import duration_parts
from sync.charts import chart_for
from sync.documents import cycle_document
from sync.namespace_standing import qualified
from sync.organization import EVERY_NAMESPACE, organization_tree
from sync.presentation import percent, target_text
from sync.rendering import render
from sync.standing import (
    KeyResultInTree,
    ObjectiveInTree,
    change_since,
    key_result_detail,
    objective_tree,
    tree_parent_key,
)
from sync.store import Store

FORMATS = ("md", "html", "json")


class ReportError(ValueError):
    """A report option cannot be understood (usage error)."""


@dataclass(frozen=True)
class Window:
    """The stretch of time a report's changes cover: the last N days, or the whole period."""

    label: str
    length: timedelta | None  # None: since each key result's period start

    def since(self, now: datetime, period_start: datetime | None) -> datetime:
        if self.length is not None:
            return now - self.length
        return period_start or now


def parse_window(text: str) -> Window:
    """`7d`, `2w` or `period`."""
    cleaned = text.strip().lower()
    if cleaned == "period":
        return Window("since the period started", None)
    parts = duration_parts(cleaned) or []
    number, unit = parts[0] if len(parts) == 1 else ("", "")
    if unit not in ("d", "w") or not number.isdigit() or len(number) > 4 or int(number) == 0:
        raise ReportError(f"--period {text!r}: use a number of days or weeks (7d, 2w) or 'period'")
    count = int(number)
    days = count * (7 if unit == "w" else 1)
    return Window(
        f"last {count} {'week' if unit == 'w' else 'day'}{'s' if count > 1 else ''}",
        timedelta(days=days),
    )


def build_report(store: Store, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """The report of the store's namespace as plain data (the JSON format): it names the
    namespace, and each key result as `namespace/id` (`ref`); `_chart` entries are for HTML
    only."""
    now = now or datetime.now(UTC)
    objectives = [
        _objective_entry(obj, [_key_result_entry(store, kr, window, now) for kr in obj.key_results])
        for obj in objective_tree(store)
    ]
    runs = store.runs(limit=1)
    cycle = cycle_document(store.cycle)
    return {
        "generated_at": now.isoformat(),
        "namespace": store.namespace,
        "window": window.label,
        "period": None if cycle is None else cycle.model_dump(mode="json"),
        "last_run": None
        if not runs
        else {
            "id": runs[0].id,
            "finished_at": runs[0].finished_at.isoformat(),
            "outcome": runs[0].outcome,
        },
        "objectives": objectives,
    }


def build_organization_report(
    stores: Sequence[Store], window: Window, now: datetime | None = None
) -> dict[str, Any]:
    """The report of every namespace as one tree (`sync.organization`): `namespace` is `*`,
    `periods` each namespace's cycle, each objective names its namespace and `ref`, and its
    `parent` is `namespace/id`."""
    now = now or datetime.now(UTC)
    by_name = {store.namespace: store for store in stores}
    objectives = []
    for obj in organization_tree(stores):
        store = by_name[obj.namespace]
        entries = [_key_result_entry(store, kr, window, now) for kr in obj.key_results]
        parent = tree_parent_key(obj)
        objectives.append(
            {
                **_objective_entry(obj, entries),
                "namespace": obj.namespace,
                "ref": qualified(obj.namespace, obj.id),
                "parent": None if parent is None else qualified(*parent),
            }
        )
    periods = {}
    for store in stores:
        cycle = cycle_document(store.cycle)
        periods[store.namespace] = None if cycle is None else cycle.model_dump(mode="json")
    return {
        "generated_at": now.isoformat(),
        "namespace": EVERY_NAMESPACE,
        "window": window.label,
        "period": None,
        "periods": periods,
        "last_run": None,
        "objectives": objectives,
    }


def _key_result_entry(
    store: Store, kr: KeyResultInTree, window: Window, now: datetime
) -> dict[str, Any]:
    detail = key_result_detail(store, kr.id)
    assert detail is not None
    since = window.since(now, kr.period_start)
    return {
        "id": kr.id,
        "ref": qualified(kr.namespace, kr.id),
        "title": kr.title,
        "value": kr.value,
        "unit": kr.unit,
        "target": target_text(kr),
        "progress": percent(kr.progress),
        "status": kr.status,
        "change": change_since(store, kr.id, since),
        "forecast": detail.forecast.value,
        "forecast_note": detail.forecast.note,
        "error": kr.last_error,
        "notes": [
            {"at": p.observed_at.isoformat(), "text": p.note}
            for p in detail.notes
            if p.observed_at >= since
        ],
        "_chart": chart_for(detail, now),
    }


def _objective_entry(obj: ObjectiveInTree, key_results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": obj.id,
        "title": obj.title,
        "owner": obj.owner,
        "level": obj.level,
        "parent": obj.parent_id,
        "depth": obj.depth,
        "progress": percent(obj.progress),
        "status": obj.status,
        "stale_inputs": obj.stale_inputs,
        "key_results": key_results,
    }


def render_report(
    stores: Store | Sequence[Store], fmt: str, window: Window, now: datetime | None = None
) -> str:
    """One namespace's report (a store), or the organization's (every namespace's store)."""
    if fmt not in FORMATS:
        raise ReportError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if isinstance(stores, Store):
        document = build_report(stores, window, now)
    else:
        document = build_organization_report(stores, window, now)
    if fmt == "json":
        return json.dumps(_without_charts(document), indent=2) + "\n"
    if fmt == "md":
        return render_markdown(document)
    return render("report.html", report=document, root="")


def render_markdown(document: dict[str, Any]) -> str:
    return render("report.md", report=document)


def _without_charts(document: dict[str, Any]) -> dict[str, Any]:
    return {
        **document,
        "objectives": [
            {
                **obj,
                "key_results": [
                    {k: v for k, v in kr.items() if not k.startswith("_")}
                    for kr in obj["key_results"]
                ],
            }
            for obj in document["objectives"]
        ],
    }
