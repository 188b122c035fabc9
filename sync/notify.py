"""The digest after a run: what changed, posted to a webhook (Slack incoming-webhook format or
a generic JSON document).

A key result is in the digest when its status changed, its progress crossed a quarter mark
(25, 50, 75, 100 %), it newly failed, or items joined or left its set since the last run
(scope change, listed as keys with links). Nothing is posted when nothing changed. A failed post
is retried with backoff and logged, all within a total deadline, after the run has released
the store's lock; a redirect is a failure, never followed. It never fails the sync, and the
webhook URL (a secret) never appears in a log line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    stop_when_event_set,
    wait_exponential,
)

from config.settings import NotifySettings, Settings
from sync.literal_text import printable
from sync.namespace_standing import qualified
from sync.presentation import ScopeChange, format_number, percent, scope_changes
from sync.progress import Status
from sync.records import Lineage

if TYPE_CHECKING:
    from sync.engine import PreviousState, SyncReport

log = logging.getLogger(__name__)

MARKS = (25, 50, 75, 100)
STATUS_EMOJI: dict[str, str] = {
    Status.DONE: ":white_check_mark:",
    Status.ON_TRACK: ":large_green_circle:",
    Status.AT_RISK: ":large_yellow_circle:",
    Status.OFF_TRACK: ":red_circle:",
    Status.ERROR: ":warning:",
}


@dataclass
class Change:
    """One key result's entry in the digest; `reasons` holds status_changed, crossed, failed."""

    key_result: str
    namespace: str  # the run's mapping file's; lines name `namespace/key_result`
    title: str
    objective: str
    unit: str | None
    previous_status: str | None
    status: str
    previous_value: float | None
    value: float | None
    previous_progress: float | None  # percent, clamped
    progress: float | None
    crossed: list[int] = field(default_factory=list)
    error: str | None = None
    reasons: list[str] = field(default_factory=list)
    scope: list[ScopeChange] = field(default_factory=list)  # since the last run


class TransientPostError(Exception):
    """Worth another try: a connection problem, a timeout, a 429 or a 5xx."""


class RejectedPostError(Exception):
    """The receiver refused the digest (a redirect or a 4xx): trying again would not help."""


class AbandonedPostError(Exception):
    """The delivery's deadline passed: no further attempt is made."""


class DigestNotDelivered(Exception):
    """The digest did not arrive; the message says why, after how many attempts."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(f"not delivered after {attempts} attempt(s): {reason}")


def crossed_marks(before: float | None, after: float | None) -> list[int]:
    """Quarter marks passed going from `before` to `after` (percent), either way."""
    if before is None or after is None or before == after:
        return []
    low, high = sorted((before, after))
    return [mark for mark in MARKS if low < mark <= high]


def digest_changes(report: SyncReport, before: Mapping[str, PreviousState]) -> list[Change]:
    changes = []
    for outcome in report.key_results:
        kr = outcome.plan.key_result
        stored = before.get(kr.id)
        status = outcome.progress.status
        progress = percent(outcome.progress.progress)
        previous_progress = percent(stored.progress) if stored else None
        change = Change(
            key_result=kr.id,
            namespace=report.namespace,
            title=kr.title,
            objective=outcome.plan.objective.id,
            unit=kr.unit,
            previous_status=stored.status if stored else None,
            status=status,
            previous_value=outcome.previous_value,
            value=outcome.value,
            previous_progress=previous_progress,
            progress=progress,
            error=outcome.error,
        )
        if outcome.error is not None:
            if stored is None or stored.status != Status.ERROR:
                change.reasons.append("failed")
        elif stored is not None:
            if stored.status != status:
                change.reasons.append("status_changed")
            change.crossed = crossed_marks(previous_progress, progress)
            if change.crossed:
                change.reasons.append("crossed")
        lineage = Lineage.from_json(outcome.lineage)
        change.scope = [c for c in scope_changes(lineage) if c.label.endswith("the last run")]
        if change.scope and stored is not None:
            change.reasons.append("scope_changed")
        if change.reasons:
            changes.append(change)
    return changes


def json_payload(report: SyncReport, changes: list[Change]) -> dict[str, Any]:
    return {
        "event": "okrsync.digest",
        "run": {
            "id": report.run_id,
            "namespace": report.namespace,
            "outcome": report.outcome,
            "finished_at": report.finished_at.isoformat(),
            "key_results": len(report.key_results),
            "failed": len(report.failed),
        },
        "changes": [asdict(change) for change in changes],
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(key: str, url: str | None) -> str:
    """A key as a Slack link, its text escaped; a URL Slack's syntax cannot hold stays out."""
    text = _slack_escape(printable(key))
    if url is None or any(mark in url for mark in "|<> "):
        return text
    return f"<{url}|{text}>"


def scope_text(change: Change) -> str:
    """The digest's words for a set's change since the last run, as Slack mrkdwn."""
    parts = []
    for moved in change.scope:
        keys = ", ".join(_slack_link(item.key, item.url) for item in moved.items)
        more = f" and {moved.more} more" if moved.more else ""
        parts.append(f"{moved.label}: {keys}{more}")
    return "; ".join(parts)


def change_line(change: Change) -> str:
    """One human line: what the key result is now and why it is in the digest."""
    value = format_number(change.value, change.unit)
    parts = []
    if "failed" in change.reasons:
        parts.append(f"failed: {change.error} (keeps {value})")
    if "status_changed" in change.reasons:
        parts.append(
            f"{(change.previous_status or '-').replace('_', ' ')} -> "
            f"{change.status.replace('_', ' ')}"
        )
    if "crossed" in change.reasons:
        marks = ", ".join(f"{mark}%" for mark in change.crossed)
        direction = "up" if (change.progress or 0) > (change.previous_progress or 0) else "down"
        parts.append(f"crossed {marks} going {direction}")
    if "failed" not in change.reasons:
        previous = format_number(change.previous_value, change.unit)
        parts.append(f"value {previous} -> {value}, progress {change.progress or 0:.0f}%")
    return f"{change.title} ({qualified(change.namespace, change.key_result)}): " + "; ".join(parts)


def slack_payload(report: SyncReport, changes: list[Change]) -> dict[str, Any]:
    headline = (
        f"okr-sync run #{report.run_id} ({report.namespace}): {len(changes)} key result"
        f"{'s' if len(changes) != 1 else ''} changed"
    )
    lines = [
        f"{STATUS_EMOJI.get(change.status, ':small_blue_diamond:')} "
        f"{_slack_escape(change_line(change))}"
        + (f"\n{scope_text(change)}" if change.scope else "")
        for change in changes
    ]
    return {
        "text": headline + "\n" + "\n".join(lines),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": headline}},
            *(
                {"type": "section", "text": {"type": "mrkdwn", "text": line}}
                for line in lines[:45]  # Slack allows 50 blocks per message
            ),
        ],
    }


def post_digest(
    notify: NotifySettings, payload: dict[str, Any], *, stop: threading.Event | None = None
) -> None:
    """POST the payload, retrying transient failures, all within `notify.deadline_s` (or
    until `stop` is set: the daemon is shutting down); raises `DigestNotDelivered` when it
    did not arrive.

    requests' timeout bounds each read, not the exchange: a receiver sending one byte every
    few seconds never trips it. Streaming with a deadline check would not help either, as
    the trickle can come in the status line and headers, which requests reads in one call.
    So the exchange runs on a daemon thread that this one waits for at most `deadline_s`;
    past it the thread is told to make no further attempt and left to end with its
    connection (or with the process).
    """
    assert notify.webhook_url is not None
    url = notify.webhook_url.get_secret_value()
    abandoned = threading.Event()
    attempts: list[int] = []
    failures: list[Exception] = []

    def attempt() -> None:
        if abandoned.is_set():
            raise AbandonedPostError("past the deadline")
        attempts.append(len(attempts) + 1)
        try:
            # A redirect is never followed: a 307 would re-post the digest wherever the
            # receiver points, a 302 would turn it into a GET that delivers nothing.
            response = requests.post(
                url, json=payload, timeout=notify.timeout_s, allow_redirects=False
            )
        except requests.RequestException as exc:
            # The exception's text names the URL, a secret: keep only its kind.
            raise TransientPostError(type(exc).__name__) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientPostError(f"HTTP {response.status_code}")
        if 300 <= response.status_code < 400:
            raise RejectedPostError(
                f"HTTP {response.status_code}: the webhook answered with a redirect, which "
                "is not followed; set OKRSYNC_NOTIFY__WEBHOOK_URL to the address it "
                "redirects to"
            )
        if response.status_code >= 400:
            raise RejectedPostError(f"HTTP {response.status_code}")

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        log.warning(
            "digest: webhook post failed (%s), attempt %d of %d; retrying",
            failure,
            state.attempt_number,
            notify.attempts,
        )

    def pause(seconds: float) -> None:
        abandoned.wait(seconds)  # a pause between attempts ends when the post is abandoned

    def deliver() -> None:
        try:
            for trying in Retrying(
                stop=stop_after_attempt(notify.attempts)
                | stop_before_delay(notify.deadline_s)
                | stop_when_event_set(abandoned),
                wait=wait_exponential(multiplier=notify.retry_wait_s, max=30),
                sleep=pause,
                retry=retry_if_exception_type(TransientPostError),
                before_sleep=before_sleep,
                reraise=True,
            ):
                with trying:
                    attempt()
        except Exception as exc:  # handed to the waiting thread, which decides what to log
            failures.append(exc)

    worker = threading.Thread(target=deliver, name="okrsync-digest", daemon=True)
    worker.start()
    deadline = time.monotonic() + notify.deadline_s
    stopping = stop or threading.Event()
    while worker.is_alive() and time.monotonic() < deadline and not stopping.is_set():
        worker.join(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
    if worker.is_alive():
        abandoned.set()
        why = (
            "stopping"
            if stopping.is_set()
            else f"no answer within {notify.deadline_s:g} s (OKRSYNC_NOTIFY__DEADLINE_S)"
        )
        raise DigestNotDelivered(f"{why}; the post in flight was abandoned", len(attempts))
    if failures:
        if isinstance(failures[0], TransientPostError | RejectedPostError):
            raise DigestNotDelivered(str(failures[0]), len(attempts))
        raise failures[0]


def notify_after_run(
    settings: Settings, report: SyncReport, *, stop: threading.Event | None = None
) -> bool:
    """Post the digest of a written run if a webhook is set and something changed. Returns
    whether a digest was delivered; never raises.

    Called once the run lock is released: a slow receiver must not keep other runs waiting.
    `stop` set (a daemon shutting down) gives up the post at once.
    """
    notify = settings.notify
    if notify.webhook_url is None or report.dry_run or report.run_id is None:
        return False
    try:
        changes = digest_changes(report, report.digest_before)
        if not changes:
            log.info("digest: nothing changed, nothing posted")
            return False
        build = slack_payload if notify.format == "slack" else json_payload
        post_digest(notify, build(report, changes), stop=stop)
    except DigestNotDelivered as exc:
        log.error("digest: %s", exc)
        return False
    except Exception:
        log.exception("digest: could not be built or sent")
        return False
    log.info("digest: %d change(s) posted (%s format)", len(changes), notify.format)
    return True
