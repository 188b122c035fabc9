"""A shard of the namespaces, `I/N`: the namespaces whose stable hash mod N is I.

Separate processes (the pods of a Kubernetes Indexed Job, one per index) each sync one shard
and so share the namespaces without talking to each other. The hash is SHA-256 of the
namespace's name, so every process, on every machine and Python, puts a namespace in the
same shard.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SHARD = re.compile(r"^\s*([0-9]+)\s*/\s*([0-9]+)\s*$")
MAX_SHARDS = 10_000


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0 <= index < count)."""

    index: int
    count: int

    def holds(self, namespace: str) -> bool:
        return shard_of(namespace, self.count) == self.index

    def describe(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(namespace: str, count: int) -> int:
    """Which of `count` shards `namespace` belongs to."""
    digest = hashlib.sha256(namespace.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(value: object) -> Shard:
    """`I/N` -> Shard(I, N), or a ValueError that says what a shard looks like."""
    if isinstance(value, Shard):
        return value
    text = value if isinstance(value, str) else repr(value)
    match = _SHARD.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a shard: write I/N, e.g. 0/4 (the first of 4 shards; I from 0 to N-1)"
        )
    index, count = int(match[1]), int(match[2])
    if count < 1:
        raise ValueError(f"{text!r}: N, the number of shards, is at least 1")
    if count > MAX_SHARDS:
        raise ValueError(f"{text!r}: at most {MAX_SHARDS} shards")
    if index >= count:
        raise ValueError(f"{text!r}: I counts from 0, so it is below N (0 to {count - 1})")
    return Shard(index, count)
