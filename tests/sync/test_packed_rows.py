"""Cache rows packed until the run's write come back exactly as they went in."""

from __future__ import annotations

import json

from sync.packed_rows import CHUNK, PackedRow, PackedRows

HOSTILE = [
    ("APP-1", "10001", json.dumps(["jira", "APP-1", "a\ttab\nnewline [b] <i>x</i>"])),
    ("acme/api#2", None, json.dumps(["github", "\u2028 sep \x1c\x85 é 🙂"])),
    ("10003", "10003", None),  # a count's member: its id alone
    ('we"ird\tkey\n]', "id\twith\ttabs", ""),  # never written so, but must not split a row
]


def test_rows_round_trip_with_separators_and_control_characters_in_them() -> None:
    packed = PackedRows.pack(HOSTILE)
    assert len(packed) == len(HOSTILE)
    unpacked = list(packed)
    assert unpacked[:3] == HOSTILE[:3]
    assert unpacked[3] == ('we"ird\tkey\n]', "id\twith\ttabs", None)  # no item: None


def test_many_rows_span_chunks_and_pack_small() -> None:
    item = json.dumps(["jira", "title " * 20, "2026-11-20T12:00:00+00:00"])
    rows: list[PackedRow] = [(f"APP-{n}", str(10000 + n), item) for n in range(20000)]
    packed = PackedRows.pack(rows)
    assert len(packed.blob) > CHUNK  # read back a chunk at a time
    assert len(packed.blob) < sum(len(r[2] or "") for r in rows) / 10
    assert list(packed) == rows


def test_no_rows() -> None:
    assert list(PackedRows.pack([])) == [] and len(PackedRows.pack([])) == 0
