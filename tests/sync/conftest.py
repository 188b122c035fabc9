"""Fixtures of the sync tests that are costly to build: built once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from sync.store import Store
from tests.big_store import BigStore, build_big_store
from tests.conftest import ANCHOR
from tests.sync.processes import Child


@pytest.fixture(scope="session")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigStore]:
    """175,000 history values over 7 key results (25,000 each, one a minute), on SQLite."""
    folder = tmp_path_factory.mktemp("big-store")
    built = build_big_store(f"sqlite:///{folder / 'okrsync.db'}")
    yield built
    built.store.close()


@pytest.fixture(scope="module")
def timeline_box() -> Iterator[Sandbox]:
    """GitHub's acme/timeline with scripted histories over a quarter; one per test module,
    as modules edit its items in place."""
    box = build_sandbox(
        SandboxOptions(seed=23, anchor=ANCHOR, github_data="timeline", time_scale=60.0)
    ).start()
    yield box
    box.stop()


@pytest.fixture
def store(database_url: str) -> Store:
    """A fresh store, migrated: SQLite, then the real PostgreSQL."""
    store = Store(database_url)
    store.migrate()
    return store


@pytest.fixture
def daemons() -> Iterator[list[Child]]:
    """Daemons started by a test; any still running at the end is killed."""
    started: list[Child] = []
    yield started
    for child in started:
        child.kill()
