"""The store's cache of fetched work items, one entry per fetch unit (a JQL, a search, a listing).

It is what makes a second run cheap: the next run reads it, asks the trackers only what
changed since `synced_at`, and writes back the difference in the same transaction as the
run's results, so a crash leaves the cache and the values of the previous run together.

An entry is read in two steps: its header, members (ids and keys, no item) and size (how
many items, for GitHub's membership check) before the run, its items only when an answer
must be computed from them (`CachedUnit.items`). Decoding is most of what reading the cache
costs, and a run where nothing changed needs none of it; `DecodeTally` counts the entries a
run decoded.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update

from connectors.base import WorkItem
from sync.cycle_reads import as_utc
from sync.item_codec import ITEM_FORMAT, decode_item, encode_item
from sync.packed_rows import PackedRow, PackedRows
from sync.run_lock import hold_cache_lock
from sync.store import Store
from sync.tables import fetch_cache, fetch_cache_items

log = logging.getLogger(__name__)

WRITE_BATCH = 1000


class UnreadableEntry(ValueError):
    """A cache entry whose items cannot be read as they were written: fetched again."""

    def __init__(self, unit_key: str, why: str) -> None:
        super().__init__(f"cache entry {unit_key} is unreadable ({why})")
        self.unit_key = unit_key


class DecodeTally:
    """How many cache entries (and items) a run decoded: what reading the cache cost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.units = 0
        self.items = 0

    def add(self, items: int) -> None:
        with self._lock:
            self.units += 1
            self.items += items


@dataclass
class CachedUnit:
    """One fetch unit's cached answer; its items are decoded on first use (`items`)."""

    key: str
    source: str
    description: str
    needs: frozenset[str]
    horizon: datetime | None
    count: int | None  # a server count without members (Jira Server/DC, GitHub searches)
    shape: frozenset[str] | None  # the connector's markers of what shaped the items; None: unknown
    synced_at: datetime  # every change before this (less the margin) is reflected
    full_at: datetime  # the last fetch that asked for everything
    # Jira: issue id -> item key, None for a count's members (asked for ids alone).
    members: dict[str, str | None] = field(default_factory=dict)
    run_id: int | None = None  # the run that last wrote the entry; None: not written yet
    stored_size: int = 0  # rows with an item, counted when the header was read
    loaded_items: dict[str, WorkItem] | None = None  # by item key, once decoded or fetched
    stored: StoredItems | None = field(default=None, repr=False)  # None: nothing to read
    released: bool = False  # no reader is left: reading the items again is a bug
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def items(self) -> dict[str, WorkItem]:
        """The items by key, read from the store the first time they are asked for.

        Raises `UnreadableEntry` when the stored rows cannot be decoded, or changed since
        the entry's header was read.
        """
        with self._lock:
            if self.loaded_items is None:
                if self.released:
                    raise RuntimeError(f"cache entry {self.key} was read after its release")
                self.loaded_items = self.stored.read() if self.stored is not None else {}
            return self.loaded_items

    @property
    def size(self) -> int:
        """How many items the entry holds, without decoding them (membership checks)."""
        with self._lock:
            return len(self.loaded_items) if self.loaded_items is not None else self.stored_size

    @property
    def decoded(self) -> bool:
        return self.loaded_items is not None

    def written_by_this_run(self) -> None:
        """This run's committed transaction wrote the entry (its header restamped, its rows
        as this entry holds them): items not decoded yet are read as of that write."""
        with self._lock:
            if self.loaded_items is None and self.stored is not None:
                self.stored = replace(self.stored, written_at=self.synced_at)

    def release_items(self) -> None:
        """Drop the decoded items once no reader is left; reading them again is a bug (the
        store's rows may no longer be this entry's)."""
        with self._lock:
            self.loaded_items = None
            self.released = True


@dataclass(frozen=True)
class StoredItems:
    """Where an entry's items are read from, and as of which write (its `synced_at` when
    its header was read): read after another write, they are unreadable (`read_items`)."""

    store: Store
    unit_key: str
    written_at: datetime
    tally: DecodeTally

    def read(self) -> dict[str, WorkItem]:
        return read_items(self.store, self.unit_key, self.written_at, self.tally)


@dataclass
class UnitWrite:
    """How one unit's cache entry changes in this run."""

    unit: CachedUnit
    replace_all: bool  # drop the old rows first (a full fetch)
    upserts: set[str] = field(default_factory=set)  # GitHub: item keys written (again)
    upserted_ids: set[str] = field(default_factory=set)  # Jira: issue ids written (again)
    removed_ids: set[str] = field(default_factory=set)  # Jira: issue ids no longer in the unit
    removed_keys: set[str] = field(default_factory=set)  # GitHub: item keys no longer in it
    rows: PackedRows | None = None  # the item rows to write, once encoded (`encode`)

    def encode(self) -> None:
        """Encode the rows this write inserts now, so the unit's items can be released and
        the run holds them packed until its transaction, not as work items."""
        if self.rows is None:
            if self.replace_all:
                ids, keys = set(self.unit.members), set(self.unit.items)
            else:
                ids, keys = self.upserted_ids, self.upserts
            self.rows = PackedRows.pack(_item_rows(self.unit, ids, keys))


def load_units(
    store: Store, keys: Iterable[str], tally: DecodeTally | None = None
) -> dict[str, CachedUnit]:
    """The cached entries for these unit keys (missing ones are simply absent): headers and
    members now, items when first asked for (counted in `tally`)."""
    wanted = list(set(keys))
    units: dict[str, CachedUnit] = {}
    if not wanted:
        return units
    tally = tally if tally is not None else DecodeTally()
    items = fetch_cache_items
    with store.engine.connect() as conn:
        for i in range(0, len(wanted), WRITE_BATCH):
            chunk = wanted[i : i + WRITE_BATCH]
            for row in conn.execute(select(fetch_cache).where(fetch_cache.c.unit_key.in_(chunk))):
                if row.item_format != ITEM_FORMAT:
                    log.info("cache entry %s is of another format: fetched again", row.unit_key)
                    continue
                synced = as_utc(row.synced_at)
                full = as_utc(row.full_at)
                assert synced is not None and full is not None
                units[row.unit_key] = CachedUnit(
                    key=row.unit_key,
                    source=row.source,
                    description=row.description,
                    needs=frozenset(row.needs or ()),
                    horizon=as_utc(row.horizon),
                    count=row._mapping["count"],
                    shape=frozenset(row.shape) if row.shape is not None else None,
                    synced_at=synced,
                    full_at=full,
                    run_id=row.run_id,
                    stored=StoredItems(store, row.unit_key, synced, tally),
                )
            members = select(
                items.c.unit_key, items.c.item_key, items.c.tracker_id, items.c.item.is_(None)
            ).where(items.c.unit_key.in_(chunk), items.c.tracker_id.is_not(None))
            for unit_key, item_key, tracker_id, id_only in conn.execute(members):
                unit = units.get(unit_key)
                if unit is not None:  # one string per issue, however many units hold it
                    key = None if id_only else sys.intern(item_key)
                    unit.members[sys.intern(tracker_id)] = key
            sizes = (
                select(items.c.unit_key, func.count())
                .where(items.c.unit_key.in_(chunk), items.c.item.is_not(None))
                .group_by(items.c.unit_key)
            )
            for unit_key, size in conn.execute(sizes):
                unit = units.get(unit_key)
                if unit is not None:
                    unit.stored_size = size
    return units


def read_items(
    store: Store, unit_key: str, synced_at: datetime, tally: DecodeTally
) -> dict[str, WorkItem]:
    """One entry's items, decoded; `UnreadableEntry` when a row is damaged, or when the entry
    was written again after its header was read (`synced_at` moved)."""
    items = fetch_cache_items
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(items.c.item_key, items.c.item).where(
                items.c.unit_key == unit_key, items.c.item.is_not(None)
            )
        ).all()
        # Read after the rows: a write committed in between moves it (one transaction
        # writes the header and the rows), so rows and members are of the same entry.
        now_synced = conn.execute(
            select(fetch_cache.c.synced_at).where(fetch_cache.c.unit_key == unit_key)
        ).scalar()
    if as_utc(now_synced) != as_utc(synced_at):
        raise UnreadableEntry(unit_key, "written again while this run read it")
    found: dict[str, WorkItem] = {}
    for item_key, text in rows:
        try:
            found[item_key] = decode_item(text)
        except (ValueError, TypeError) as exc:  # a damaged row costs its entry only
            log.warning("cache entry %s is unreadable (%s): fetched again", unit_key, exc)
            raise UnreadableEntry(unit_key, str(exc)) from None
    tally.add(len(found))
    return found


def write_units(conn: Connection, writes: Iterable[UnitWrite], run_id: int) -> None:
    """Write the run's cache changes inside the run's transaction, holding the cache's lock
    to its end (`hold_cache_lock`): another namespace's run may write the same entries."""
    hold_cache_lock(conn)
    for write in writes:
        unit = write.unit
        values = {
            "source": unit.source,
            "description": unit.description,
            "needs": sorted(unit.needs),
            "horizon": unit.horizon,
            "count": unit.count,
            "synced_at": unit.synced_at,
            "full_at": unit.full_at,
            "run_id": run_id,
            "item_format": ITEM_FORMAT,
            "shape": sorted(unit.shape) if unit.shape is not None else None,
        }
        exists = conn.execute(
            select(fetch_cache.c.unit_key).where(fetch_cache.c.unit_key == unit.key)
        ).first()
        if exists:
            conn.execute(update(fetch_cache).where(fetch_cache.c.unit_key == unit.key), values)
        else:
            conn.execute(insert(fetch_cache), {"unit_key": unit.key, **values})
        items = fetch_cache_items
        if write.replace_all:
            conn.execute(delete(items).where(items.c.unit_key == unit.key))
        else:
            _delete_rows(conn, unit.key, items.c.tracker_id, write.removed_ids | write.upserted_ids)
            _delete_rows(conn, unit.key, items.c.item_key, write.upserts | write.removed_keys)
        write.encode()
        assert write.rows is not None
        rows = iter(write.rows)
        while batch := list(itertools.islice(rows, WRITE_BATCH)):
            conn.execute(
                insert(items),
                [
                    {"unit_key": unit.key, "item_key": key, "tracker_id": tid, "item": text}
                    for key, tid, text in batch
                ],
            )


def _delete_rows(
    conn: Connection, unit_key: str, column: ColumnElement[str | None], values: set[str]
) -> None:
    chosen = sorted(values)
    for i in range(0, len(chosen), WRITE_BATCH):
        conn.execute(
            delete(fetch_cache_items).where(
                fetch_cache_items.c.unit_key == unit_key,
                column.in_(chosen[i : i + WRITE_BATCH]),
            )
        )


def _item_rows(unit: CachedUnit, ids: set[str], keys: set[str]) -> Iterator[PackedRow]:
    """Rows for these Jira members (by issue id) and these GitHub items (by key).

    A Jira member's row is keyed by its item key, or by its id when only the id is known
    (a count's members); either way `tracker_id` holds the id, which deletions go by.
    """
    for tracker_id in sorted(ids):
        key = unit.members[tracker_id]
        if key is None:
            yield tracker_id, tracker_id, None
        else:
            yield key, tracker_id, encode_item(unit.items[key])
    member_keys = {key for key in unit.members.values() if key is not None}
    for key in sorted(keys - member_keys):
        yield key, None, encode_item(unit.items[key])


def prune_units(
    conn: Connection, unused_since: datetime, keep: Collection[str] = frozenset()
) -> int:
    """Delete the entries no run has used since `unused_since`, but those in `keep`; return
    how many went.

    An entry is restamped by every run that uses it, so only queries that left the mapping
    file (or whose key results have not run for that long) go. `keep`: entries a later file
    of the same run still reads and may write in part (a delta needs the rows it patches).
    """
    stale = select(fetch_cache.c.unit_key).where(fetch_cache.c.synced_at < unused_since)
    keys = [key for key in conn.execute(stale).scalars() if key not in keep]
    for i in range(0, len(keys), WRITE_BATCH):
        chunk = keys[i : i + WRITE_BATCH]
        conn.execute(delete(fetch_cache_items).where(fetch_cache_items.c.unit_key.in_(chunk)))
        conn.execute(delete(fetch_cache).where(fetch_cache.c.unit_key.in_(chunk)))
    return len(keys)
