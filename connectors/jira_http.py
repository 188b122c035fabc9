"""Jira's HTTP layer: one `jira.JIRA` client, created on first use, and every library call
made through it under the run's retry policy, with its failures turned into our errors.

The library's own retries are switched off (it sleeps 20-80 s between attempts on a refused
connection); each call is one tenacity loop over transient failures (429, 5xx, a reset
connection, a read timeout, an answer that is not JSON), and the shared rate governor holds
the other threads back for a 429's Retry-After. Errors are our own messages: the library's
`JIRAError` text can carry request headers, and the token must never reach logs, the store
or the terminal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

import requests
from jira import JIRA, JIRAError
from pydantic import SecretStr
from urllib3.exceptions import NewConnectionError

from connectors.base import AuthError, ConnectorError, QueryError
from connectors.ratelimit import RateBudgetExceeded, RateGovernor
from connectors.redact import redact
from connectors.request_stages import charge_request
from connectors.retry import RETRIED_STATUSES, RetryClock, RetryPolicy, retrying

log = logging.getLogger(__name__)

T = TypeVar("T")
JsonObject = dict[str, Any]
Flavour = Literal["auto", "cloud", "server"]


def _settle_environment(session: requests.Session, url: str) -> None:
    """Read proxies and the CA bundle from the environment once, not on every request.

    requests scans the whole environment per request (`merge_environment_settings`), a
    few percent of a first run's CPU; every request of this session goes to one server, so
    the answer for its URL holds for all of them.
    """
    settled = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(settled["proxies"])
    if settled["verify"] not in (None, True) and session.verify is True:
        session.verify = settled["verify"]
    session.trust_env = False


class JiraHttp:
    """One Jira site's client, its request count and the calls made through it."""

    def __init__(
        self,
        url: str,
        *,
        email: str | None,
        token: SecretStr,
        flavour: Flavour,
        timeout: tuple[float, float],
        retry: RetryPolicy | None,
        governor: RateGovernor | None,
    ) -> None:
        self.url = url.rstrip("/")
        self._email = email
        self._token = token
        self.flavour: Flavour = flavour
        self._timeout = timeout
        self._retry_clock = RetryClock(retry or RetryPolicy())
        self._client: JIRA | None = None
        self.is_cloud = flavour == "cloud"
        self.server_info: JsonObject = {}
        self._lock = threading.Lock()  # guards the lazily created client
        self._count_lock = threading.Lock()
        self._requests = 0
        self._governor = governor or RateGovernor("jira")

    @property
    def requests_made(self) -> int:
        return self._requests

    def connect(self) -> JIRA:
        with self._lock:
            if self._client is not None:
                return self._client
            secret = self._token.get_secret_value()
            options: dict[str, Any] = {"server": self.url}
            common: dict[str, Any] = {
                "options": options,
                "timeout": self._timeout,
                "max_retries": 0,  # retries are ours, see the module docstring
                "get_server_info": False,  # asked below, so the request is counted
            }
            if self._email:
                client = JIRA(basic_auth=(self._email, secret), **common)
            else:
                client = JIRA(token_auth=secret, **common)
            client._session.hooks["response"].append(self._count_response)
            _settle_environment(client._session, self.url)
            if self.flavour == "auto":
                self.server_info = self.call("serverInfo", client.server_info)
                self.is_cloud = self.server_info.get("deploymentType") == "Cloud"
            # The library picks search/jql or search from this attribute.
            client.deploymentType = "Cloud" if self.is_cloud else "Server"
            self._client = client
            log.debug("jira: connected to %s (cloud=%s)", self.url, self.is_cloud)
            return client

    def _count_response(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        with self._count_lock:
            self._requests += 1
        charge_request()
        self._governor.observe(response.status_code, response.headers)

    def call(self, what: str, operation: Callable[[], T], jql: str | None = None) -> T:
        """Run one library call under the retry policy, turning every failure into our errors."""
        attempts = retrying(
            self._retry_clock,
            f"jira: {what}",
            transient=_transient,
            retry_after=_retry_after,
            reason=_failure_reason,
        )
        try:
            return cast(T, attempts(self._governed, operation))
        except RateBudgetExceeded as exc:
            raise ConnectorError(str(exc), retryable=True) from None
        except JIRAError as exc:
            raise self._translate(exc, what, jql) from None
        except requests.exceptions.Timeout:
            raise ConnectorError(
                f"Jira at {self.url} did not answer {what} in time "
                f"(timeouts {self._timeout[0]:g} s connect, {self._timeout[1]:g} s read)",
                retryable=True,
            ) from None
        except requests.exceptions.ConnectionError:
            raise ConnectorError(
                f"Could not connect to Jira at {self.url} ({what})", retryable=True
            ) from None
        except requests.exceptions.JSONDecodeError:
            raise ConnectorError(
                f"Jira at {self.url} answered {what} with something that is not JSON",
                retryable=True,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise ConnectorError(
                f"Request to Jira at {self.url} failed ({what}): {type(exc).__name__}",
                retryable=True,
            ) from None
        except ValueError:  # a body that is not JSON
            raise ConnectorError(
                f"Jira at {self.url} answered {what} with something that is not JSON",
                retryable=True,
            ) from None

    def _governed(self, operation: Callable[[], T]) -> T:
        self._governor.acquire()
        return operation()

    def _translate(self, exc: JIRAError, what: str, jql: str | None) -> ConnectorError:
        status = exc.status_code or 0
        if status in (401, 403):
            return AuthError(
                f"Jira rejected the credentials for {self.url} (HTTP {status}): "
                "check OKRSYNC_JIRA__EMAIL / OKRSYNC_JIRA__TOKEN"
            )
        messages = self._error_messages(exc)
        if status == 400 and jql is not None:
            return QueryError(self.scrub(f"Jira refused the JQL {jql!r}: {messages}"))
        if status == 404:
            return ConnectorError(
                self.scrub(f"Jira at {self.url} has no {what} (HTTP 404): {messages}")
            )
        return ConnectorError(
            self.scrub(f"Jira at {self.url} failed on {what} (HTTP {status}): {messages}"),
            retryable=status >= 500 or status in RETRIED_STATUSES or status == 0,
        )

    def _error_messages(self, exc: JIRAError) -> str:
        """What Jira said, cut to 300 characters after the credentials are taken out (cut
        first, a token straddling the cut would leave its first half in the message)."""
        response = exc.response
        if response is not None:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                parts = [str(m) for m in body.get("errorMessages") or []]
                errors = body.get("errors")
                if isinstance(errors, dict):
                    parts.extend(f"{key}: {value}" for key, value in errors.items())
                if not parts and body.get("message"):
                    parts.append(str(body["message"]))
                if parts:
                    return "; ".join(parts)
            text = (response.text or "").strip()
            if text:
                return self.scrub(text)[:300]
        return self.scrub((exc.text or "no details").strip())[:300]

    def scrub(self, message: str) -> str:
        return redact(message, self._token.get_secret_value(), self._email)

    @staticmethod
    def read(body: object, key: str, what: str) -> Any:
        if not isinstance(body, dict) or key not in body:
            raise ConnectorError(f"Jira answered {what} without '{key}'", retryable=True)
        return body[key]


def _transient(failure: BaseException) -> bool:
    """Whether another attempt may pass (see `connectors.retry`)."""
    if isinstance(failure, JIRAError):
        return (failure.status_code or 0) in RETRIED_STATUSES
    if isinstance(failure, requests.exceptions.ConnectTimeout):
        return False  # nobody answers the door: fail at once
    if isinstance(failure, requests.exceptions.ConnectionError):
        reason = getattr(failure.args[0], "reason", None) if failure.args else None
        return not isinstance(reason, NewConnectionError)  # refused: nobody listens
    return isinstance(
        failure,
        requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError
        | ValueError,
    )


def _failure_reason(failure: BaseException) -> str:
    return (
        f"HTTP {failure.status_code}" if isinstance(failure, JIRAError) else type(failure).__name__
    )


def _retry_after(failure: BaseException) -> str | None:
    response = failure.response if isinstance(failure, JIRAError) else None
    return response.headers.get("Retry-After") if response is not None else None
