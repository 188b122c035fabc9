"""A work item as compact JSON text, and back: the store keeps fetched items this way (the
incremental cache, `sync.item_cache`; frozen scopes, `sync.scope_rows`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from datetime import datetime
from operator import attrgetter

from connectors.base import WorkItem

DATETIME_FIELDS = (
    "created_at",
    "updated_at",
    "resolved_at",
    "merged_at",
    "first_review_at",
    "started_at",
)
# An item is stored as a JSON array of its fields in this order: no field names repeated in
# every row, and both ways run in the json module's C code. ITEM_FORMAT names the order and
# is kept with each cache entry; an entry of another format is fetched again, never misread.
ITEM_FIELDS = tuple(f.name for f in fields(WorkItem))
ITEM_FORMAT = hashlib.sha256(",".join(ITEM_FIELDS).encode()).hexdigest()[:16]
_ITEM_VALUES = attrgetter(*ITEM_FIELDS)
_DATETIME_POSITIONS = tuple(ITEM_FIELDS.index(name) for name in DATETIME_FIELDS)
_LABELS_POSITION = ITEM_FIELDS.index("labels")


def _moment_text(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"a work item field holds {type(value).__name__}, not JSON")


def encode_item(item: WorkItem) -> str:
    return json.dumps(_ITEM_VALUES(item), default=_moment_text, separators=(",", ":"))


def decode_item(text: str) -> WorkItem:
    values = json.loads(text)
    if not isinstance(values, list) or len(values) != len(ITEM_FIELDS):
        raise ValueError(f"a cached work item is not an array of {len(ITEM_FIELDS)} fields")
    for position in _DATETIME_POSITIONS:
        moment = values[position]
        if moment is not None:
            values[position] = datetime.fromisoformat(moment)
    values[_LABELS_POSITION] = tuple(values[_LABELS_POSITION] or ())
    return WorkItem(*values)
