"""The frozen scopes' rows (`kr_scopes`): the items a `scope: frozen` key result measures,
taken once at its period's start, then each item kept as a run last saw it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, insert, select, update

from config.periods import Period
from connectors.base import WorkItem
from sync.item_codec import decode_item, encode_item
from sync.records import FrozenScope
from sync.tables import kr_scopes


def _key(namespace: str, kr_id: str, period: Period) -> ColumnElement[bool]:
    return and_(
        kr_scopes.c.namespace == namespace,
        kr_scopes.c.key_result_id == kr_id,
        kr_scopes.c.period_start == period.start,
        kr_scopes.c.period_end == period.end,
    )


def read_scope(conn: Connection, namespace: str, kr_id: str, period: Period) -> FrozenScope | None:
    row = conn.execute(select(kr_scopes).where(_key(namespace, kr_id, period))).first()
    return None if row is None else _scope(row)


def read_scopes(
    conn: Connection, namespace: str, wanted: Iterable[tuple[str, Period]]
) -> dict[str, FrozenScope]:
    """The scopes of many key results, each in its period, in one query, by key result."""
    periods = dict(wanted)
    if not periods:
        return {}
    rows = conn.execute(
        select(kr_scopes).where(
            kr_scopes.c.namespace == namespace, kr_scopes.c.key_result_id.in_(list(periods))
        )
    )
    return {
        row.key_result_id: _scope(row)
        for row in rows
        if (row.period_start, row.period_end)
        == (periods[row.key_result_id].start, periods[row.key_result_id].end)
    }


def _scope(row: Row[Any]) -> FrozenScope:
    items = tuple(decode_item(text) for text in row.items)
    taken_at: datetime = row.taken_at  # SQLite gives it back naive, PostgreSQL in UTC
    taken_at = taken_at.replace(tzinfo=UTC) if taken_at.tzinfo is None else taken_at
    return FrozenScope(taken_at.astimezone(UTC), row.definition, items)


def write_scope(
    conn: Connection,
    namespace: str,
    kr_id: str,
    period: Period,
    taken_at: datetime,
    definition: str,
    items: Sequence[WorkItem],
) -> None:
    """Insert a key result's scope, or replace its items (the same keys, as last seen)."""
    encoded = [encode_item(item) for item in items]
    key = _key(namespace, kr_id, period)
    present = conn.execute(select(kr_scopes.c.key_result_id).where(key)).first()
    if present is None:
        conn.execute(
            insert(kr_scopes).values(
                namespace=namespace,
                key_result_id=kr_id,
                period_start=period.start,
                period_end=period.end,
                taken_at=taken_at,
                definition=definition,
                items=encoded,
            )
        )
    else:
        conn.execute(
            update(kr_scopes)
            .where(key)
            .values(taken_at=taken_at, definition=definition, items=encoded)
        )
