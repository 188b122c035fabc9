"""Fixtures of the sync tests that are costly to build: built once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.big_store import BigStore, build_big_store


@pytest.fixture(scope="session")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigStore]:
    """175,000 history values over 7 key results (25,000 each, one a minute), on SQLite."""
    folder = tmp_path_factory.mktemp("big-store")
    built = build_big_store(f"sqlite:///{folder / 'okrsync.db'}")
    yield built
    built.store.close()
