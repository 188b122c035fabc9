"""A person's check-in: a value (or only a note) for a key result, scored and rolled up
like a synced one and kept in its history."""

from __future__ import annotations

import difflib
import math
from datetime import UTC, datetime
from typing import Any

from config.mapping import KeyResult, MappingFile, Objective
from config.metric_models import ItemMetric
from config.settings import Settings
from sync.engine import KeyResultOutcome, key_result_record, resolve_start, thresholds_of
from sync.file_cycles import cycle_scope, listing_of
from sync.key_result_score import score_key_result
from sync.objective_rollup import objective_progress, objective_records
from sync.plan import KeyResultPlan
from sync.store import Store


class CheckinError(ValueError):
    """A check-in names an unknown key result or carries a value that cannot be stored."""


def find_key_result(mapping: MappingFile, kr_id: str) -> tuple[Objective, KeyResult]:
    for objective in mapping.objectives:
        for kr in objective.key_results:
            if kr.id == kr_id:
                return objective, kr
    raise unknown_key_result(kr_id, [kr.id for _, kr in mapping.key_results()])


def unknown_key_result(kr_id: str, known: list[str]) -> CheckinError:
    """The error for an id no file given has, with the closest of `known` (ids, or
    `namespace/id` across files, compared by their ids) if one is close."""
    by_id = {ref.rsplit("/", 1)[-1]: ref for ref in reversed(known)}  # the first file's wins
    close = difflib.get_close_matches(kr_id, list(by_id), n=1)
    hint = f"did you mean '{by_id[close[0]]}'? " if close else ""
    return CheckinError(f"unknown key result '{kr_id}' ({hint}known: {', '.join(known)})")


def parse_value(text: str) -> float:
    """A number a person typed; NaN and infinities are refused, never stored."""
    try:
        value = float(text)
    except ValueError:
        raise CheckinError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise CheckinError(f"'{text}' is not a finite number")
    return value


def apply_checkin(
    settings: Settings,
    mapping: MappingFile,
    store: Store,
    kr_id: str,
    value: float | None,
    note: str | None,
    *,
    as_of: datetime | None = None,
) -> KeyResultOutcome:
    """A person's value (or only a note) for a key result, kept in its history."""
    as_of = as_of or datetime.now(UTC)
    objective, kr = find_key_result(mapping, kr_id)
    # the key result of the file's cycle, in the file's namespace
    store = store.in_namespace(mapping.namespace).in_cycle(cycle_scope(mapping))
    if value is not None and kr.metric.type != "manual":
        source = f"from {kr.metric.source}" if isinstance(kr.metric, ItemMetric) else "by a formula"
        raise CheckinError(
            f"key result '{kr_id}' is computed {source} ({kr.metric.type}): the next sync "
            f"would overwrite a checked-in value. Add context with `note {kr_id} TEXT`, "
            "or make its metric `{type: manual}` to set it by hand"
        )
    period = kr.period or mapping.period
    previous = store.stored_key_results().get(kr_id)
    if value is None and previous is None:
        raise CheckinError(f"key result '{kr_id}' has no value yet: a note needs a value first")
    shown = value if value is not None else (previous.value if previous else None)
    start = resolve_start(kr, store, period, shown)
    thresholds = thresholds_of(mapping, settings)
    progress = score_key_result(kr, period, shown, start, as_of=as_of, thresholds=thresholds)
    position = [k.id for _, k in mapping.key_results()].index(kr_id)
    plan = KeyResultPlan(objective, kr, period, position)
    lineage: dict[str, Any] = {"metric": "checkin", "at": as_of.isoformat()}
    if value is None:  # a note leaves the value, and how it was obtained, as they were
        stored = store.key_result(kr_id)
        kept = stored.lineage if stored is not None else None
        lineage = (kept.to_json() if kept is not None else {}) or {"metric": "note"}
    outcome = KeyResultOutcome(
        plan, shown, None, lineage, progress, previous.value if previous else None, start
    )
    rolled = objective_progress(
        mapping, store, {outcome.plan.key_result.id: outcome.progress}, as_of, thresholds
    )
    store.write_checkin(
        objective_records(mapping, rolled),
        key_result_record(outcome, observed=value is not None),
        at=as_of,
        origin="checkin" if value is not None else "note",
        note=note,
        listing=listing_of(mapping),
    )
    return outcome
