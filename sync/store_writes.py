"""The rows a run or a check-in writes into `objectives`, `key_results` and `kr_values`, in
the caller's transaction (`Store.write_run`, `Store.write_checkin`): upserts keyed by
(namespace, cycle, id), history rows for new values, retirement of what the listing no
longer names; and objectives alone rolled up again after a check-in in a namespace aligned
to theirs (`Store.write_objective_progress`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from sync.records import KeyResultRecord, Listing, ObjectiveRecord, objective_cycles
from sync.retirement import mark_retired
from sync.tables import key_results, kr_values, objectives
from sync.value_reads import day_start


def write_results(
    conn: Connection,
    namespace: str,
    objective_records: Sequence[ObjectiveRecord],
    key_result_records: Sequence[KeyResultRecord],
    at: datetime,
    *,
    fallback_cycle: Callable[[], str],
    run_id: int | None,
    origin: str,
    note: str | None,
    listing: Listing | None,
) -> None:
    """One run's (or check-in's) objectives and key results as rows of `namespace`: new
    ones inserted, existing ones updated, a history row for each new value (every
    check-in or note), what `listing` no longer names retired. Objectives without a
    cycle of their own take `fallback_cycle()`."""
    kr_cycles = {kr.cycle for kr in key_result_records}
    objective_rows = [
        {
            "namespace": namespace,
            "cycle": cycle,
            "id": obj.id,
            "title": obj.title,
            "owner": obj.owner,
            "level": obj.level,
            "parent_id": obj.parent_id,
            "weight": obj.weight,
            "position": obj.position,
            "progress": obj.progress,
            "status": obj.status,
            "updated_at": at,
            "retired_at": None,
            "demo": obj.demo,
        }
        for obj in objective_records
        for cycle in objective_cycles(obj, key_result_records, kr_cycles, listing)
        or [fallback_cycle()]
    ]
    _upsert(conn, objectives, _keys(conn, objectives, namespace), objective_rows)

    existing = {
        (row.cycle, row.id): row.value
        for row in conn.execute(
            select(key_results.c.cycle, key_results.c.id, key_results.c.value).where(
                key_results.c.namespace == namespace
            )
        )
    }
    kr_rows: list[dict[str, Any]] = []
    history_rows: list[dict[str, Any]] = []
    for kr in key_result_records:
        values: dict[str, Any] = {
            "namespace": namespace,
            "cycle": kr.cycle,
            "id": kr.id,
            "objective_id": kr.objective_id,
            "title": kr.title,
            "kind": kr.kind,
            "unit": kr.unit,
            "metric_type": kr.metric_type,
            "source": kr.source,
            "start_value": kr.start_value,
            "target_value": kr.target_value,
            "min_value": kr.min_value,
            "max_value": kr.max_value,
            "weight": kr.weight,
            "position": kr.position,
            "period_start": day_start(kr.period_start),
            "period_end": day_start(kr.period_end),
            "progress_raw": kr.progress_raw,
            "progress": kr.progress,
            "expected": kr.expected,
            "status": kr.status,
            "last_error": kr.error,
            "lineage": kr.lineage,
            "checked_at": at,
            "last_run_id": run_id,
            "retired_at": None,
        }
        if kr.observed:
            values["value"] = kr.value
            values["updated_at"] = at
        kr_rows.append(values)
        key = (kr.cycle, kr.id)
        changed = kr.observed and (key not in existing or existing[key] != kr.value)
        if changed or origin != "sync":
            history_rows.append(
                {
                    "namespace": namespace,
                    "key_result_id": kr.id,
                    "cycle": kr.cycle,
                    "run_id": run_id,
                    "observed_at": at,
                    "value": kr.value if kr.observed else None,
                    "progress_raw": kr.progress_raw,
                    "status": kr.status,
                    "origin": origin,
                    "note": note,
                    "lineage": kr.lineage,
                }
            )
    _upsert(conn, key_results, set(existing), kr_rows)
    if history_rows:
        conn.execute(insert(kr_values), history_rows)
    if listing is not None:
        cycles = listing.cycles or kr_cycles | {str(row["cycle"]) for row in objective_rows}
        mark_retired(conn, objectives, namespace, listing.objectives, cycles, at)
        mark_retired(conn, key_results, namespace, listing.key_results, cycles, at)


def _keys(conn: Connection, table: Table, namespace: str) -> set[tuple[str, str]]:
    return {
        (row.cycle, row.id)
        for row in conn.execute(
            select(table.c.cycle, table.c.id).where(table.c.namespace == namespace)
        )
    }


def _upsert(
    conn: Connection, table: Table, existing: set[tuple[str, str]], rows: list[dict[str, Any]]
) -> None:
    """Insert new rows and update existing ones (by namespace, cycle and id; `existing` holds
    the (cycle, id) of the rows' one namespace), one executemany per shape of row.

    One statement per row made SQLAlchemy build and key a new statement for each of a few
    hundred key results; rows of one shape share one statement.
    """
    groups: dict[tuple[bool, tuple[str, ...]], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(((row["cycle"], row["id"]) in existing, tuple(row)), []).append(row)
    for (update_existing, _), group in groups.items():
        if not update_existing:
            conn.execute(insert(table), group)
            continue
        renamed = [
            {
                "row_namespace": row["namespace"],
                "row_cycle": row["cycle"],
                "row_id": row["id"],
                **{k: v for k, v in row.items() if k not in ("namespace", "cycle", "id")},
            }
            for row in group
        ]
        conn.execute(
            update(table).where(
                table.c.namespace == bindparam("row_namespace"),
                table.c.cycle == bindparam("row_cycle"),
                table.c.id == bindparam("row_id"),
            ),
            renamed,
        )


def update_objective_progress(
    conn: Connection,
    namespace: str,
    progress: Mapping[tuple[str, str], tuple[float | None, str]],
    at: datetime,
) -> set[tuple[str, str]]:
    """Objectives of `namespace` rolled up again, by (cycle, id): their progress and status
    only, listed rows only; no run, no key result, no history row. The (cycle, id) of the
    rows updated: one the store does not hold (or holds retired) is left to a sync."""
    listed = {
        (row.cycle, row.id)
        for row in conn.execute(
            select(objectives.c.cycle, objectives.c.id).where(
                objectives.c.namespace == namespace, objectives.c.retired_at.is_(None)
            )
        )
    }
    rows = [
        {
            "row_cycle": cycle,
            "row_id": objective_id,
            "new_progress": value,
            "new_status": status,
            "new_updated_at": at,
        }
        for (cycle, objective_id), (value, status) in progress.items()
        if (cycle, objective_id) in listed
    ]
    if rows:
        conn.execute(
            update(objectives)
            .where(
                objectives.c.namespace == namespace,
                objectives.c.cycle == bindparam("row_cycle"),
                objectives.c.id == bindparam("row_id"),
            )
            .values(
                progress=bindparam("new_progress"),
                status=bindparam("new_status"),
                updated_at=bindparam("new_updated_at"),
            ),
            rows,
        )
    return {(str(row["row_cycle"]), str(row["row_id"])) for row in rows}
