"""A unit's cache rows packed (compressed lines) from the moment its items are released to
the run's one transaction, which writes them.

A run writes its cache in the same transaction as its results, at the end (`sync.store`), so
the rows of every unit fetched in full wait until then. As JSON text they were the largest
thing a first run held; compressed they are a few bytes an item.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

PackedRow = tuple[str, str | None, str | None]  # item key, tracker id, the item as JSON
LEVEL = 1  # the fastest: the rows are kept for seconds, not stored this way
CHUNK = 1 << 16  # compressed bytes unpacked at a time


@dataclass(frozen=True)
class PackedRows:
    """Rows as compressed lines: `["key", "id"]` (JSON), a tab, the item's JSON or nothing.

    JSON text holds no raw tab or newline, so neither separator can occur inside a field.
    """

    count: int
    blob: bytes

    @classmethod
    def pack(cls, rows: Iterable[PackedRow]) -> PackedRows:
        packer = zlib.compressobj(LEVEL)
        parts: list[bytes] = []
        count = 0
        for key, tracker_id, item in rows:
            line = f"{json.dumps([key, tracker_id])}\t{item or ''}\n"
            parts.append(packer.compress(line.encode()))
            count += 1
        parts.append(packer.flush())
        return cls(count, b"".join(parts))

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[PackedRow]:
        """The rows in the order packed, unpacked a chunk at a time (never the whole text)."""
        unpacker = zlib.decompressobj()
        rest = b""
        for start in range(0, len(self.blob), CHUNK):
            rest += unpacker.decompress(self.blob[start : start + CHUNK])
            *lines, rest = rest.split(b"\n")
            yield from map(_row, lines)
        rest += unpacker.flush()
        yield from map(_row, rest.split(b"\n")[:-1])


def _row(line: bytes) -> PackedRow:
    head, _, item = line.decode().partition("\t")
    key, tracker_id = json.loads(head)
    return key, tracker_id, item or None
