"""GitHub's failures as ConnectorErrors a person can act on, with tokens taken out.

PyGithub raises GithubException with a status, requests raises its own exceptions (urllib3's
underneath), and an answer that is not the API's JSON shows as a ValueError, KeyError or
TypeError; each becomes an AuthError, QueryError or ConnectorError here, retryable or not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import requests
from github import GithubException
from github.GithubException import (
    BadCredentialsException,
    RateLimitExceededException,
    UnknownObjectException,
)
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from connectors.base import AuthError, ConnectorError, QueryError
from connectors.redact import redact

log = logging.getLogger(__name__)

TOKEN_HINT = "check OKRSYNC_GITHUB__TOKEN"


class IncompleteResults(Exception):
    """A search answered with `incomplete_results`: GitHub timed out and counted part of it."""

    def __init__(self, query: str) -> None:
        super().__init__(query)
        self.query = query


def garbled(failure: BaseException) -> bool:
    """An answer came but is not what the API sends (see `GitHubHttp.retry_garbled`)."""
    return isinstance(
        failure,
        ValueError
        | KeyError
        | TypeError
        | IncompleteResults
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    )


def _timed_out(error: requests.exceptions.ConnectionError) -> bool:
    """Read timeouts under a retry policy arrive as a ConnectionError around MaxRetryError.
    urllib3 makes a refused connection a kind of connect timeout too: it is not one, nobody
    listens, and it comes at once, not after the timeout."""
    cause = error.args[0] if error.args else None
    return (
        isinstance(cause, MaxRetryError)
        and isinstance(cause.reason, Urllib3Timeout)
        and not isinstance(cause.reason, NewConnectionError)
    )


def _reason(error: Exception) -> str:
    """The innermost readable cause of a requests error (e.g. `[Errno 111] Connection refused`)."""
    text = str(error)
    match = re.search(r"\[Errno -?\d+\][^')\"]*", text)
    if match:
        return match.group(0).strip()
    return type(error).__name__


class GitHubErrors:
    """Turns failures into ConnectorErrors naming the GitHub site, its timeout and retries."""

    def __init__(self, *, base_url: str, token: str | None, timeout: float, retries: int) -> None:
        self.base_url = base_url
        self._token = token
        self._timeout = timeout
        self._retries = retries

    @contextmanager
    def translating(self, subject: str, *, query: str | None = None) -> Iterator[None]:
        """Turn PyGithub / requests failures into ConnectorErrors a person can act on."""
        try:
            yield
        except ConnectorError:
            raise
        except IncompleteResults as error:
            self._fail(
                f"GitHub timed out on the search {error.query!r} and returned only part of it",
                retryable=True,
            )
        except GithubException as error:
            self._raise_for_status(error, subject, query)
        except requests.exceptions.Timeout:
            self._fail(
                f"GitHub at {self.base_url} did not answer within {self._timeout:g} s",
                retryable=True,
            )
        except requests.exceptions.RetryError:
            self._fail(
                f"GitHub at {self.base_url} kept failing with server errors "
                f"after {self._retries} retries",
                retryable=True,
            )
        except requests.exceptions.ConnectionError as error:
            if _timed_out(error):
                self._fail(
                    f"GitHub at {self.base_url} did not answer within {self._timeout:g} s",
                    retryable=True,
                )
            self._fail(
                f"cannot reach GitHub at {self.base_url} ({_reason(error)})",
                retryable=True,
            )
        except requests.exceptions.RequestException as error:
            self._fail(f"request to GitHub at {self.base_url} failed ({_reason(error)})", True)
        except (ValueError, KeyError, TypeError, AttributeError, AssertionError) as error:
            log.debug("unexpected answer from GitHub", exc_info=True)
            self._fail(
                f"GitHub at {self.base_url} answered with something that is not the GitHub API "
                f"({type(error).__name__})",
                retryable=True,
            )

    def _raise_for_status(
        self, error: GithubException, subject: str, query: str | None
    ) -> NoReturn:
        status = error.status
        data = error.data if isinstance(error.data, dict) else {}
        message = str(data.get("message") or error.message or "")
        if isinstance(error, BadCredentialsException) or status == 401:
            raise AuthError(
                self._scrub(
                    f"GitHub rejected the token for {self.base_url} (HTTP 401): {TOKEN_HINT}"
                )
            )
        if isinstance(error, RateLimitExceededException) or status == 429:
            self._fail(
                f"GitHub's rate limit at {self.base_url} is used up (HTTP {status}): {message}",
                retryable=True,
            )
        if status == 403:
            raise AuthError(
                self._scrub(
                    f"GitHub refused access to {subject} at {self.base_url} (HTTP 403): "
                    f"{message}; {TOKEN_HINT} and its scopes"
                )
            )
        if isinstance(error, UnknownObjectException) or status == 404:
            self._fail(
                f"GitHub has no {subject} at {self.base_url} (HTTP 404): check the name and "
                "that the token can see it"
            )
        if status == 422:
            details = [
                str(e.get("message") or f"{e.get('field')} {e.get('code')}")
                for e in data.get("errors", [])
                if isinstance(e, dict)
            ]
            text = "; ".join([message, *details]) if details else message
            what = f"the search {query!r}" if query is not None else subject
            raise QueryError(self._scrub(f"GitHub refused {what} (HTTP 422): {text}"))
        self._fail(
            f"GitHub at {self.base_url} answered HTTP {status} for {subject}: {message}",
            retryable=status is not None and status >= 500,
        )

    def _fail(self, message: str, retryable: bool = False) -> NoReturn:
        raise ConnectorError(self._scrub(message), retryable=retryable)

    def _scrub(self, message: str) -> str:
        short = not self._token or len(self._token) < 8  # shorter strings are not real tokens
        return redact(message, None if short else self._token)
