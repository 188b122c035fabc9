"""The normalized work item: compact in memory, whatever built it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from connectors.base import WorkItem
from sync.item_codec import decode_item, encode_item

MOMENT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _item(key: str) -> WorkItem:
    # Each value a fresh string object, as a JSON decoder hands them over.
    def fresh(text: str) -> str:
        value: str = json.loads(json.dumps(text))
        return value

    return WorkItem(
        source=fresh("jira"),
        key=key,
        url=f"https://jira.example/browse/{key}",
        kind="issue",
        title="",
        status=fresh("In Progress"),
        status_category="in_progress",
        created_at=MOMENT,
        updated_at=MOMENT,
        labels=(fresh("customer"),),
        assignee=fresh("Ada Lovelace"),
        priority=fresh("High"),
        issue_type=fresh("Bug"),
        container=fresh("APP"),
    )


def test_repeated_values_are_one_string_each() -> None:
    first, second = _item("APP-1"), _item("APP-2")
    for name in ("source", "status", "assignee", "priority", "issue_type", "container"):
        assert getattr(first, name) is getattr(second, name), name
    assert first.labels[0] is second.labels[0]


def test_items_have_no_instance_dict() -> None:
    assert not hasattr(_item("APP-1"), "__dict__")


def test_cache_round_trip_keeps_every_field() -> None:
    item = _item("APP-3")
    item.resolved_at = MOMENT
    item.story_points = 5.0
    item.extra["Business Value"] = 8
    restored = decode_item(encode_item(item))
    assert restored == item
    assert restored.status is item.status
