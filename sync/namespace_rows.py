"""A namespace's rows, counted and removed (`prune`): objectives, key results, their values,
frozen scopes and runs. Nothing another namespace wrote is touched; the incremental cache is
shared by every namespace and prunes itself (`sync.item_cache`)."""

from __future__ import annotations

from sqlalchemy import Connection, Table, delete, func, select

from sync.tables import key_results, kr_scopes, kr_values, objectives, sync_runs

# Children first: values name their key result and run, key results their objective.
NAMESPACE_TABLES: tuple[Table, ...] = (kr_values, kr_scopes, key_results, objectives, sync_runs)


def count_rows(conn: Connection, namespace: str) -> dict[str, int]:
    """Each table's rows of `namespace`."""
    return {
        table.name: conn.execute(
            select(func.count()).select_from(table).where(table.c.namespace == namespace)
        ).scalar_one()
        for table in NAMESPACE_TABLES
    }


def delete_rows(conn: Connection, namespace: str) -> dict[str, int]:
    """Delete every row of `namespace`, inside the caller's transaction; what was deleted."""
    return {
        table.name: conn.execute(delete(table).where(table.c.namespace == namespace)).rowcount
        for table in NAMESPACE_TABLES
    }
