"""The digest after a run, end to end: `run.py sync` against the sandbox posts to a local HTTP
receiver, which records what arrives (and can answer with failures to test retries)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.server import Sandbox
from sync.cli import main
from tests.reliability.record import record
from tests.sync.processes import okrsync, okrsync_env, stored_runs, wait_for
from tests.sync.webhooks import SECRET_PATH, Receiver

TODAY = datetime.now(UTC).date()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def p1_count(box: Sandbox) -> int:
    """Open highest-priority APP issues, counted from the data set."""
    return sum(
        1
        for i in box.jira_data.issues
        if i.project == "APP" and i.priority == "Highest" and i.status_category != "done"
    )


def mapping(start: float, target: float) -> str:
    period = f"{{start: {TODAY - timedelta(days=60)}, end: {TODAY + timedelta(days=30)}}}"
    return f"""
version: 1
period: {period}
objectives:
  - id: quality
    title: Ship a product customers trust
    key_results:
      - id: p1-bugs
        title: Open P1 bugs in APP
        start: {start}
        target: {target}
        metric: {{type: count, jql: project = APP AND priority = Highest AND statusCategory != Done}}
      - id: nps
        title: Developer NPS
        target: 40
        metric: {{type: manual}}
"""


@pytest.fixture
def workdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, clean_okrsync_env: None
) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    for key, value in sandbox.settings_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OKRSYNC_NOTIFY__RETRY_WAIT_S", "0")
    return tmp_path


def sync_with(workdir: Path, start: float, target: float) -> int:
    (workdir / "okrs.yaml").write_text(mapping(start, target))
    return main(["sync"])


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_json_digest_reports_status_changes_crossings_and_failures_only(
    workdir: Path, sandbox: Sandbox, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRSYNC_NOTIFY__WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("OKRSYNC_NOTIFY__FORMAT", "json")
    count = p1_count(sandbox)
    # First run: nothing was there before, so nothing changed.
    assert sync_with(workdir, start=count + 10, target=count) == 0  # reached: done
    assert receiver.received == []
    # Same value, a target that makes it 0 % late in the period: done -> off track.
    assert sync_with(workdir, start=count, target=count - 100) == 0
    assert len(receiver.received) == 1
    assert receiver.paths == [SECRET_PATH]
    digest = receiver.received[0]
    assert digest["event"] == "okrsync.digest" and digest["run"]["id"] == 2
    assert digest["run"]["namespace"] == "okrs"  # the mapping file's name
    [change] = digest["changes"]
    assert change["key_result"] == "p1-bugs" and change["namespace"] == "okrs"
    assert change["previous_status"] == "done" and change["status"] == "off_track"
    assert change["value"] == count and change["previous_value"] == count
    assert change["previous_progress"] == 100.0 and change["progress"] == 0.0
    assert change["crossed"] == [25, 50, 75, 100]
    assert change["reasons"] == ["status_changed", "crossed"]
    # Nothing changed: nothing posted.
    assert sync_with(workdir, start=count, target=count - 100) == 0
    assert len(receiver.received) == 1
    # Jira down: the key result failed, the run exits 1, the digest says so.
    monkeypatch.setenv("OKRSYNC_JIRA__URL", f"http://127.0.0.1:{dead_port()}/jira")
    monkeypatch.setenv("OKRSYNC_JIRA__TIMEOUT_S", "2")
    assert sync_with(workdir, start=count, target=count - 100) == 1
    assert len(receiver.received) == 2
    [failed] = receiver.received[1]["changes"]
    assert failed["key_result"] == "p1-bugs" and failed["reasons"] == ["failed"]
    assert failed["status"] == "error" and failed["error"]
    assert failed["value"] == count  # the last good value is kept
    # Still down: already reported, not posted again.
    assert sync_with(workdir, start=count, target=count - 100) == 1
    assert len(receiver.received) == 2


def test_slack_digest_is_retried_until_it_arrives(
    workdir: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(statuses=[500, 503])
    try:
        monkeypatch.setenv("OKRSYNC_NOTIFY__WEBHOOK_URL", receiver.url)
        count = p1_count(sandbox)
        assert sync_with(workdir, start=count + 10, target=count) == 0
        assert sync_with(workdir, start=count, target=count - 100) == 0
        assert len(receiver.received) == 3  # two failures, then delivered
        assert receiver.received[0] == receiver.received[2]
        message = receiver.received[2]
        assert "1 key result changed" in message["text"]
        assert message["text"].startswith("okr-sync run #2 (okrs): ")
        assert "Open P1 bugs in APP (okrs/p1-bugs)" in message["text"]
        assert "done -&gt; off track" in message["text"]  # Slack's escaping of '>'
        assert message["blocks"][0]["type"] == "header"
        assert [b["type"] for b in message["blocks"][1:]] == ["section"]
    finally:
        receiver.close()


@pytest.mark.parametrize("down", ["refuses", "answers 500"])
def test_a_digest_that_cannot_be_delivered_never_fails_the_sync(
    workdir: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    down: str,
) -> None:
    receiver = Receiver(statuses=[500] * 10)
    url = receiver.url if down == "answers 500" else f"http://127.0.0.1:{dead_port()}{SECRET_PATH}"
    try:
        monkeypatch.setenv("OKRSYNC_NOTIFY__WEBHOOK_URL", url)
        monkeypatch.setenv("OKRSYNC_NOTIFY__ATTEMPTS", "2")
        count = p1_count(sandbox)
        assert sync_with(workdir, start=count + 10, target=count) == 0
        assert sync_with(workdir, start=count, target=count - 100) == 0
        err = capsys.readouterr().err
        assert "digest: not delivered after 2 attempt(s)" in err
        assert "very-secret-part" not in err
        if down == "answers 500":
            assert len(receiver.received) == 2
    finally:
        receiver.close()


def test_the_webhook_url_is_a_secret_in_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import SettingsError, load_settings

    secret = "https://hooks.example/T0/B0/very-secret-part"
    settings = load_settings(notify={"webhook_url": secret})
    assert secret not in repr(settings) and "very-secret-part" not in str(settings.safe_dump())
    assert settings.notify.webhook_url is not None
    assert settings.notify.webhook_url.get_secret_value() == secret
    monkeypatch.setenv("OKRSYNC_NOTIFY__WEBHOOK_URL", "ftp://hooks.example/very-secret-part")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "OKRSYNC_NOTIFY__WEBHOOK_URL" in str(refused.value)
    assert "very-secret-part" not in str(refused.value)


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.reliability
def test_a_redirect_is_a_failure_and_never_followed(
    workdir: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: int,
) -> None:
    elsewhere = Receiver()
    redirecting = Receiver(statuses=[status], location=f"{elsewhere.url}/elsewhere")
    try:
        monkeypatch.setenv("OKRSYNC_NOTIFY__WEBHOOK_URL", redirecting.url)
        monkeypatch.setenv("OKRSYNC_NOTIFY__FORMAT", "json")
        count = p1_count(sandbox)
        assert sync_with(workdir, start=count + 10, target=count) == 0
        assert sync_with(workdir, start=count, target=count - 100) == 0
        err = capsys.readouterr().err
        assert len(redirecting.received) == 1  # one attempt: a redirect is not retried
        assert elsewhere.received == [] and elsewhere.gets == []  # neither re-posted nor GET
        assert (
            f"digest: not delivered after 1 attempt(s): HTTP {status}: the webhook answered "
            "with a redirect, which is not followed" in err
        )
        assert "change(s) posted" not in err
        assert "very-secret-part" not in err and "elsewhere" not in err
        record(
            "boundary",
            "webhook answering with a redirect (302, 307) to another host",
            1,
            "not followed, neither re-posted nor turned into a GET; logged as not delivered "
            "without the URL; the sync's exit code unchanged",
        )
    finally:
        redirecting.close()
        elsewhere.close()


@pytest.mark.reliability
def test_a_trickling_receiver_is_given_up_at_the_deadline(
    workdir: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One byte every 0.3 s never trips a 5 s read timeout; the 2 s deadline ends it.
    receiver = Receiver(trickle_s=0.3, trickle_for_s=40.0)
    try:
        monkeypatch.setenv("OKRSYNC_NOTIFY__WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("OKRSYNC_NOTIFY__TIMEOUT_S", "5")
        monkeypatch.setenv("OKRSYNC_NOTIFY__DEADLINE_S", "2")
        count = p1_count(sandbox)
        assert sync_with(workdir, start=count + 10, target=count) == 0
        capsys.readouterr()
        assert sync_with(workdir, start=count, target=count - 100) == 0
        err = capsys.readouterr().err
        assert len(receiver.received) == 1
        assert not receiver.trickle_answered.is_set()  # the sync did not wait for the answer
        assert (
            "digest: not delivered after 1 attempt(s): no answer within 2 s "
            "(OKRSYNC_NOTIFY__DEADLINE_S)" in err
        )
        assert "very-secret-part" not in err
        record(
            "boundary",
            "webhook receiver sending one byte every 0.3 s for 40 s",
            1,
            "given up at OKRSYNC_NOTIFY__DEADLINE_S (2 s here), after the run lock was "
            "released; logged as not delivered; the sync's exit code unchanged",
        )
    finally:
        receiver.close()


def test_the_run_lock_is_released_before_the_digest_is_posted(
    workdir: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{workdir / 'okrsync.db'}"
    receiver = Receiver(trickle_s=0.3, trickle_for_s=90.0)
    try:
        count = p1_count(sandbox)
        assert sync_with(workdir, start=count + 10, target=count) == 0
        (workdir / "okrs.yaml").write_text(mapping(count, count - 100))
        env = okrsync_env(
            sandbox,
            url,
            workdir,
            OKRSYNC_NOTIFY__WEBHOOK_URL=receiver.url,
            OKRSYNC_NOTIFY__TIMEOUT_S="5",
            OKRSYNC_NOTIFY__DEADLINE_S="60",
        )
        first = okrsync("sync", "--no-wait", env=env, cwd=workdir)
        try:
            wait_for(
                lambda: bool(receiver.received) or first.process.poll() is not None,
                60,
                "the first run's digest",
            )
            assert first.process.poll() is None, first.log  # still posting
            assert main(["sync", "--no-wait"]) == 0  # a second run takes the lock meanwhile
            assert first.process.poll() is None, first.log
            receiver.release.set()
            assert first.finish() == 0, first.log
        finally:
            first.kill()
        assert "digest: 1 change(s) posted" in first.log
        assert [run.id for run in stored_runs(url)] == [1, 2, 3]
    finally:
        receiver.close()
