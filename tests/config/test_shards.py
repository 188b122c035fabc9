"""`I/N` shards of the namespaces: parsed strictly, and every namespace in exactly one shard,
the same one in every process (SHA-256, not Python's per-process salted hash)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.shards import Shard, parse_shard, shard_of

NAMES = [f"team-{i:02d}" for i in range(40)]


@pytest.mark.parametrize("text", ["0/1", "2/3", " 1 / 4 ", "9999/10000"])
def test_a_shard_is_i_of_n(text: str) -> None:
    index, count = (int(part) for part in text.split("/"))
    assert parse_shard(text) == Shard(index, count)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3/3", "I counts from 0, so it is below N (0 to 2)"),
        ("0/0", "N, the number of shards, is at least 1"),
        ("-1/2", "is not a shard: write I/N"),
        ("junk", "is not a shard: write I/N"),
        ("1", "is not a shard: write I/N"),
        ("1/2/3", "is not a shard: write I/N"),
        ("<b>[red]0/2", "is not a shard: write I/N"),
        ("", "is not a shard: write I/N"),
    ],
)
def test_a_bad_shard_says_what_a_shard_is(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_shard(text)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_every_namespace_is_in_exactly_one_shard(count: int) -> None:
    shards = [Shard(i, count) for i in range(count)]
    for name in NAMES:
        assert sum(shard.holds(name) for shard in shards) == 1
    if count > 1:  # the names spread: no shard holds them all
        assert all(sum(s.holds(n) for n in NAMES) < len(NAMES) for s in shards)


def test_the_shard_of_a_namespace_is_the_same_in_another_process() -> None:
    script = "from config.shards import shard_of; print([shard_of(f'team-{i:02d}', 7) for i in range(40)])"
    other = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == str([shard_of(name, 7) for name in NAMES])
