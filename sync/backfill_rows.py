"""Backfill's rows of `kr_values`: a batch of rebuilt values written beside what syncs and
people recorded, never over it, and never twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from sync.cycle_reads import as_utc
from sync.records import BackfillPoint, BackfillWrite
from sync.tables import kr_values

BACKFILL = "backfill"  # kr_values.origin of a value rebuilt from the trackers' records


def write_points(
    conn: Connection, namespace: str, cycle: str, kr_id: str, points: Sequence[BackfillPoint]
) -> BackfillWrite:
    """Insert the points of the key result (cycle, id), inside the caller's transaction. A
    moment that holds a value of another origin is left alone; an earlier backfill point is
    kept when it was rebuilt for the same definition (its lineage's "definition"), replaced
    otherwise."""
    if not points:
        return BackfillWrite(0, 0, 0)
    moments = {p.observed_at for p in points}
    present = conn.execute(
        select(
            kr_values.c.id, kr_values.c.observed_at, kr_values.c.origin, kr_values.c.lineage
        ).where(
            kr_values.c.namespace == namespace,
            kr_values.c.cycle == cycle,
            kr_values.c.key_result_id == kr_id,
            kr_values.c.observed_at >= min(moments),
            kr_values.c.observed_at <= max(moments),
        )
    ).all()
    others = {as_utc(row.observed_at) for row in present if row.origin != BACKFILL}
    earlier = {as_utc(row.observed_at): row for row in present if row.origin == BACKFILL}
    kept = taken = 0
    replaced: list[int] = []
    rows: list[dict[str, Any]] = []
    for point in points:
        if point.observed_at in others:
            taken += 1
            continue
        before = earlier.get(point.observed_at)
        if before is not None:
            if (before.lineage or {}).get("definition") == point.lineage.get("definition"):
                kept += 1
                continue
            replaced.append(before.id)
        rows.append(
            {
                "namespace": namespace,
                "cycle": cycle,
                "key_result_id": kr_id,
                "run_id": None,
                "observed_at": point.observed_at,
                "value": point.value,
                "progress_raw": point.progress_raw,
                "status": point.status,
                "origin": BACKFILL,
                "note": None,
                "lineage": point.lineage,
            }
        )
    if replaced:
        conn.execute(delete(kr_values).where(kr_values.c.id.in_(replaced)))
    if rows:
        conn.execute(insert(kr_values), rows)
    return BackfillWrite(len(rows), kept, taken)
