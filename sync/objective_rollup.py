"""Objectives rolled up and recorded: a file's key results (this run's, else as stored),
its objectives aligned under one another, and the objectives of other namespaces aligned
to its own (`parent: <namespace>/<id>`), as their namespaces' runs stored them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from config.mapping import MappingFile
from sync.file_cycles import objective_cycles
from sync.progress import (
    AlignedObjective,
    KeyResultProgress,
    ObjectiveNode,
    Status,
    Thresholds,
    expected_progress,
    roll_up,
)
from sync.records import ObjectiveRecord
from sync.store import Store


def objective_progress(
    mapping: MappingFile,
    store: Store | None,
    fresh: Mapping[str, KeyResultProgress],
    as_of: datetime,
    thresholds: Thresholds,
) -> dict[str, tuple[float | None, str]]:
    """Roll key results up into objectives: `fresh`, this run's key results by id; those not
    in this run keep their stored progress, expected by now within their own period."""
    # Read only when some key result is not in this run: the rows carry every lineage.
    missing = any(kr.id not in fresh for _, kr in mapping.key_results())
    stored_rows = (
        {row.id: row for row in store.all_key_results()} if store is not None and missing else {}
    )
    nodes: list[ObjectiveNode] = []
    for objective in mapping.objectives:
        entries: list[tuple[float, KeyResultProgress]] = []
        for kr in objective.key_results:
            if kr.id in fresh:
                entries.append((kr.weight, fresh[kr.id]))
            elif kr.id in stored_rows:
                row = stored_rows[kr.id]
                period = kr.period or mapping.period
                entries.append(
                    (
                        kr.weight,
                        KeyResultProgress(
                            row.progress_raw,
                            row.progress,
                            expected_progress(period.start, period.end, as_of),
                            row.status,
                        ),
                    )
                )
        nodes.append(ObjectiveNode(objective.id, objective.parent, objective.weight, entries))
    aligned = aligned_from_other_namespaces(mapping, store, as_of)
    rolled = roll_up(nodes, thresholds=thresholds, aligned=aligned)
    return {oid: (p.progress, p.status) for oid, p in rolled.items()}


def aligned_from_other_namespaces(
    mapping: MappingFile, store: Store | None, as_of: datetime
) -> dict[str, list[AlignedObjective]]:
    """The objectives other files align to this file's (`parent: <namespace>/<id>`), as
    their namespaces' runs stored them: a sync of many files runs the aligned files first,
    so theirs are this run's. Their expected progress is this file's period's elapsed share
    (the store keeps an objective's progress and status, not its pace)."""
    if store is None:
        return {}
    expected = expected_progress(mapping.period.start, mapping.period.end, as_of)
    aligned: dict[str, list[AlignedObjective]] = {}
    for row in store.aligned_from_other_namespaces():
        parent_id = (row.parent_id or "").split("/", 1)[-1]
        aligned.setdefault(parent_id, []).append(
            AlignedObjective(row.weight, row.progress, expected, row.status)
        )
    return aligned


def objective_records(
    mapping: MappingFile,
    progress: Mapping[str, tuple[float | None, str]],
    *,
    demo: bool = False,
) -> list[ObjectiveRecord]:
    return [
        ObjectiveRecord(
            id=o.id,
            title=o.title,
            owner=o.owner,
            level=o.level,
            parent_id=o.parent,
            weight=o.weight,
            position=position,
            progress=progress.get(o.id, (None, Status.NO_DATA))[0],
            status=progress.get(o.id, (None, Status.NO_DATA))[1],
            demo=demo,
            cycles=objective_cycles(mapping, o),
        )
        for position, o in enumerate(mapping.objectives)
    ]
