"""Fixtures for the reliability tests: a clean environment pointed at the session sandbox,
with its faults disarmed before and after every test."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.server import Sandbox, SandboxOptions, build_sandbox
from tests.conftest import ANCHOR
from tests.sync.test_cli import MAPPING

# Short client timeouts, so that an injected delay is a timeout without slowing the suite.
CLIENT_TIMEOUT_S = "1"


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("OKRSYNC_") and key not in (
            "OKRSYNC_TEST_POSTGRES_URL",
            "OKRSYNC_RELIABILITY_LOG",
        ):
            monkeypatch.delenv(key)


def point_at(box: Sandbox, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    for key, value in box.settings_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", database_url)
    monkeypatch.setenv("OKRSYNC_JIRA__TIMEOUT_S", CLIENT_TIMEOUT_S)
    monkeypatch.setenv("OKRSYNC_GITHUB__TIMEOUT_S", CLIENT_TIMEOUT_S)
    # Each scenario's second run must send every request again for the fault to meet it;
    # the incremental cache would answer most of them from the store (issue 4).
    monkeypatch.setenv("OKRSYNC_INCREMENTAL__ENABLED", "false")


@pytest.fixture(scope="package")
def reliability_sandbox() -> Iterator[Sandbox]:
    """The session's data set (same seed and anchor) on a sandbox of its own, with GitHub's
    rate-limit windows shortened 60-fold: these tests sync many times a minute, and the
    connectors rightly wait for a spent search budget rather than fail."""
    options = SandboxOptions(seed=7, jira_flavour="cloud", anchor=ANCHOR, time_scale=60)
    box = build_sandbox(options).start()
    yield box
    box.stop()


@pytest.fixture
def faulty(reliability_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox with no fault armed; whatever a test arms is disarmed after it."""
    reliability_sandbox.faults.reset()
    yield reliability_sandbox
    reliability_sandbox.faults.reset()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faulty: Sandbox) -> Iterator[Path]:
    """An empty working directory with the mapping file, settings pointing at the sandbox.

    `main` points the root logger at the test's captured stderr; it is put back afterwards,
    so that the sandbox's threads never log into a closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    clean_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "okrs.yaml").write_text(MAPPING)
    point_at(faulty, monkeypatch, f"sqlite:///{tmp_path / 'okrsync.db'}")
    yield tmp_path
    root.handlers[:] = handlers
    root.setLevel(level)
