"""A change feed's delta applied to a cached entry (`sync.incremental`): whether it changes
anything, and the entry brought up to date with the write that stores the difference."""

from __future__ import annotations

from connectors.changes import UnitDelta
from sync.item_cache import CachedUnit, UnitWrite


def apply_delta(cached: CachedUnit, delta: UnitDelta) -> UnitWrite:
    """Members and items that left go, then what changed is written again; the write of
    those rows alone (the caller restamps the entry)."""
    removed = delta.removed_ids & cached.members.keys()
    for tracker_id in removed:
        key = cached.members.pop(tracker_id)
        if key is not None:
            cached.items.pop(key, None)
    left = set()
    if delta.removed_keys:  # asked only then: reading the keys decodes the entry
        left = (delta.removed_keys & cached.items.keys()) - delta.items.keys()
    for key in left:
        del cached.items[key]
    cached.members.update(delta.members)
    if delta.items:  # a count's members carry no items: nothing to decode
        cached.items.update(delta.items)
    member_keys = {key for key in delta.members.values() if key is not None}
    return UnitWrite(
        cached,
        replace_all=False,
        upserts=set(delta.items) - member_keys,
        upserted_ids=set(delta.members),
        removed_ids=removed - delta.members.keys(),
        removed_keys=left,
    )


def changes_nothing(cached: CachedUnit, delta: UnitDelta) -> bool:
    """Whether applying `delta` leaves the entry as it is: no item written again, no cached
    item taken out (an item that closed leaves an open listing), and the members that left
    come back under the same keys (a count's member that changed and still matches)."""
    if delta.items:
        return False
    if delta.removed_keys and delta.removed_keys & cached.items.keys():
        return False
    removed = delta.removed_ids & cached.members.keys()
    if not removed <= delta.members.keys():
        return False
    return all(
        tracker_id in cached.members and cached.members[tracker_id] == key
        for tracker_id, key in delta.members.items()
    )
