"""Session-wide fixtures: sandboxes are built once per session and served on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from bench.replicas import POSTGRES_URL, postgres_schema
from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from tests.demo_data import DemoStore, build_demo_store

# A fixed "now" for the data set, so expected values are reproducible within a session.
ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Jira Cloud + GitHub sandbox."""
    box = build_sandbox(SandboxOptions(seed=7, jira_flavour="cloud", anchor=ANCHOR)).start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    """Jira Server/Data Center flavour (search with startAt/total) + GitHub."""
    box = build_sandbox(SandboxOptions(seed=7, jira_flavour="server", anchor=ANCHOR)).start()
    yield box
    box.stop()


def _postgres_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"no PostgreSQL at {POSTGRES_URL}: {str(exc).splitlines()[0]}"
    return None


@pytest.fixture
def postgres_server() -> str:
    """The PostgreSQL server's URL, for a test that makes its own schemas (a benchmark's
    processes); skipped without one, failed under CI."""
    reason = _postgres_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL: a SQLite file, or a schema of its own in PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'okrsync.db'}"
        return
    yield from _postgres_schema()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL store (a schema of its own), for what only PostgreSQL does
    (runs of several namespaces writing at once); skipped without a server, failed under CI."""
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    reason = _postgres_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    with postgres_schema("okrsync_test") as url:
        yield url


@pytest.fixture
def clean_okrsync_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OKRSYNC_* setting of the developer's shell leaks into a test (but the test DB URL)."""
    for key in list(os.environ):
        if key.startswith("OKRSYNC_") and key != "OKRSYNC_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def demo(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DemoStore]:
    """The demo data synced into a store of the test module's own (its tests may add to it)."""
    built = build_demo_store(sandbox, tmp_path_factory.mktemp(request.module.__name__))
    yield built
    built.store.close()


@pytest.fixture
def demo_workdir(
    demo: DemoStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_okrsync_env: None
) -> Path:
    """An empty working folder whose settings point at the demo store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", demo.database_url)
    return tmp_path
