"""Retirement: what a run's listing no longer names is marked retired, within the cycles
the listing covers; what it names again is restored. Rows are never deleted."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, Table, bindparam, select, update

log = logging.getLogger("sync.store")


def mark_retired(
    conn: Connection,
    table: Table,
    namespace: str,
    listed: frozenset[str],
    cycles: set[str] | frozenset[str],
    at: datetime,
) -> None:
    """Retire the rows of `table` in `namespace` and `cycles` not `listed` (at `at`, once)
    and restore listed ones; rows of other namespaces and cycles are left as they are."""
    rows = conn.execute(
        select(table.c.cycle, table.c.id, table.c.retired_at).where(
            table.c.namespace == namespace, table.c.cycle.in_(cycles)
        )
    ).all()
    retire = [row for row in rows if row.id not in listed and row.retired_at is None]
    restore = [row for row in rows if row.id in listed and row.retired_at is not None]
    for chosen, retired_at in ((retire, at), (restore, None)):
        if chosen:
            conn.execute(
                update(table).where(
                    table.c.namespace == namespace,
                    table.c.cycle == bindparam("row_cycle"),
                    table.c.id == bindparam("row_id"),
                ),
                [
                    {"row_cycle": row.cycle, "row_id": row.id, "retired_at": retired_at}
                    for row in chosen
                ],
            )
    if retire:
        log.info(
            "retiring %s of %s no longer in the mapping file: %s",
            table.name,
            namespace,
            ", ".join(f"{row.id} ({row.cycle})" for row in retire),
        )
