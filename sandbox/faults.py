"""Fault injection for the sandbox: a WSGI middleware that makes chosen requests go wrong.

Tests and the reliability report arm a fault for a path pattern (a regular expression
searched in the request path, e.g. `/jira/.*/search`), a number of times or for good, and
the next matching requests fail the way real trackers fail: slow or silent answers,
connection resets, 5xx, 429 and GitHub's 403 secondary limit with Retry-After, bodies that
are not JSON or are cut short, a page that shifts between two requests, 401, 404 and
Jira's 400 for bad JQL. Everything else passes through to the real sandbox apps untouched.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from werkzeug.http import HTTP_STATUS_CODES

from sandbox.recording import request_body

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]
FaultKind = Literal[
    "latency",
    "status",
    "reset",
    "malformed_json",
    "truncated",
    "shifted_page",
    "echo_headers",
    "meeting",
]

GITHUB_DOCS = "https://docs.github.com/rest"
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass(frozen=True)
class Fault:
    """What goes wrong with a matching request; build one with the functions below."""

    kind: FaultKind
    name: str
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    parties: int = 0  # meeting: how many requests must be in flight together


def latency(seconds: float) -> Fault:
    """The answer comes, late: longer than the client's read timeout, it is a timeout."""
    return Fault("latency", f"latency {seconds:g} s", delay_s=seconds)


def http_error(
    status: int,
    body: object | None = None,
    *,
    retry_after: float | None = None,
    name: str | None = None,
) -> Fault:
    """A JSON error answer with `status`, optionally telling the client when to come back."""
    headers = [("Content-Type", "application/json;charset=UTF-8")]
    if retry_after is not None:
        headers.append(("Retry-After", f"{retry_after:g}"))
    payload = json.dumps(body if body is not None else {"message": f"HTTP {status}"}).encode()
    label = name or f"HTTP {status}" + (f" Retry-After {retry_after:g}" if retry_after else "")
    return Fault("status", label, status=status, body=payload, headers=tuple(headers))


def rate_limited(retry_after: float) -> Fault:
    """HTTP 429 Too Many Requests with Retry-After (Jira Cloud and GitHub alike)."""
    return http_error(
        429,
        {"message": "Rate limit exceeded."},
        retry_after=retry_after,
        name=f"HTTP 429 Retry-After {retry_after:g}",
    )


def github_secondary_limit(retry_after: float) -> Fault:
    """GitHub's secondary rate limit: 403 with Retry-After and its usual message."""
    return http_error(
        403,
        {"message": SECONDARY_LIMIT_MESSAGE, "documentation_url": GITHUB_DOCS},
        retry_after=retry_after,
        name=f"GitHub 403 secondary limit Retry-After {retry_after:g}",
    )


def bad_credentials(source: Literal["jira", "github"]) -> Fault:
    """HTTP 401 as each tracker words it."""
    if source == "github":
        body: object = {"message": "Bad credentials", "documentation_url": GITHUB_DOCS}
    else:
        body = {"errorMessages": ["Client must be authenticated to access this resource."]}
    return http_error(401, body, name="HTTP 401 bad credentials")


def not_found(source: Literal["jira", "github"]) -> Fault:
    """A deleted repository (GitHub) or project (Jira): 404 with the tracker's body."""
    if source == "github":
        body: object = {"message": "Not Found", "documentation_url": GITHUB_DOCS}
    else:
        body = {"errorMessages": ["No project could be found with key 'APP'."], "errors": {}}
    return http_error(
        404, body, name="HTTP 404 deleted " + ("repository" if source == "github" else "project")
    )


def jql_error(message: str) -> Fault:
    """Jira's 400 for a query it refuses, with its `errorMessages` body."""
    return http_error(400, {"errorMessages": [message], "errors": {}}, name="Jira 400 JQL error")


def connection_reset() -> Fault:
    """The connection is reset (TCP RST) before any answer is sent."""
    return Fault("reset", "connection reset")


def malformed_json() -> Fault:
    """HTTP 200 whose body is not JSON (a proxy's error page, a half-written buffer)."""
    return Fault(
        "malformed_json",
        "malformed JSON",
        status=200,
        body=b'{"issues": [{"id": "1", "key": <html>Gateway</html>',
        headers=(("Content-Type", "application/json"),),
    )


def truncated_page() -> Fault:
    """The real answer, cut off half-way although Content-Length promised all of it."""
    return Fault("truncated", "truncated page")


def shifted_page() -> Fault:
    """Items move between two page requests: each later page repeats the previous page's
    last item, as when something new is inserted ahead of the reader's position."""
    return Fault("shifted_page", "page changes between two requests")


def echo_headers(status: int = 500) -> Fault:
    """A broken proxy that answers `status` with the request's headers in its body: the
    credentials then travel in an error message, which must still never reach a user."""
    return Fault("echo_headers", f"HTTP {status} echoing request headers", status=status)


def meeting(parties: int, wait_s: float = 10.0) -> Fault:
    """Not a failure: each matching request waits until `parties` of them are in flight at
    once, then all are answered; one still alone after `wait_s` is answered then (and counted
    in `ArmedFault.alone`). Tells requests sent side by side from requests sent in turn."""
    return Fault("meeting", f"{parties} requests together", delay_s=wait_s, parties=parties)


@dataclass
class ArmedFault:
    """A fault waiting for requests whose path matches `pattern`; `times` None: always."""

    pattern: re.Pattern[str]
    fault: Fault
    times: int | None
    query: re.Pattern[str] | None = None  # searched in the query string and request body
    fired: int = 0
    carried: dict[str, object] = field(default_factory=dict)  # shifted_page: last item per listing
    alone: int = 0  # meeting: requests answered without meeting the others
    _barrier: threading.Barrier | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.fault.kind == "meeting":
            self._barrier = threading.Barrier(self.fault.parties)

    def meet(self) -> None:
        """Wait for the meeting's other parties (see `meeting`)."""
        assert self._barrier is not None
        try:
            self._barrier.wait(self.fault.delay_s)
        except threading.BrokenBarrierError:
            self.alone += 1

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times


class FaultInjector:
    """WSGI middleware around the sandbox; thread-safe, switchable per test."""

    def __init__(self, app: WsgiApp | None = None) -> None:
        self.app = app
        self._armed: list[ArmedFault] = []
        self._lock = threading.Lock()
        self.requests_seen = 0

    def wrap(self, app: WsgiApp) -> FaultInjector:
        self.app = app
        return self

    def arm(
        self, pattern: str, fault: Fault, *, times: int | None = 1, query: str | None = None
    ) -> ArmedFault:
        """Make the next `times` requests whose path matches `pattern` fail (None: all).

        `query`, a regular expression, narrows the fault to requests whose parameters or
        body match it (one JQL, one search), so that a single selector fails."""
        armed = ArmedFault(re.compile(pattern), fault, times, re.compile(query) if query else None)
        with self._lock:
            self._armed.append(armed)
        return armed

    def reset(self) -> None:
        """Disarm everything: the sandbox answers normally again."""
        with self._lock:
            self._armed.clear()
            self.requests_seen = 0

    @property
    def fired(self) -> int:
        """How many requests a fault has hit since the last reset."""
        with self._lock:
            return sum(armed.fired for armed in self._armed)

    def _take(self, path: str, parameters: str) -> ArmedFault | None:
        with self._lock:
            self.requests_seen += 1
            for armed in self._armed:
                if armed.spent or not armed.pattern.search(path):
                    continue
                if armed.query is None or armed.query.search(parameters):
                    armed.fired += 1
                    return armed
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        assert self.app is not None, "FaultInjector.wrap(app) first"
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        armed = self._take(path, _parameters_of(environ))
        if armed is None:
            return self.app(environ, start_response)
        fault = armed.fault
        if fault.kind == "latency":
            time.sleep(fault.delay_s)
            return self.app(environ, start_response)
        if fault.kind == "meeting":
            armed.meet()
            return self.app(environ, start_response)
        if fault.kind == "reset":
            connection = environ.get("werkzeug.socket")
            if isinstance(connection, socket.socket):
                # Linger 0: closing sends RST instead of FIN; the shutdown ends the server's
                # keep-alive loop so it closes at once, without writing any answer.
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                connection.shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("fault injected: connection reset")
        if fault.kind == "status" or fault.kind == "malformed_json":
            return _answer(start_response, fault.status, list(fault.headers), fault.body)
        if fault.kind == "echo_headers":
            echoed = {
                key[5:].replace("_", "-").title(): str(value)
                for key, value in environ.items()
                if key.startswith("HTTP_")
            }
            body = json.dumps(
                {"message": "Internal proxy error", "errorMessages": [json.dumps(echoed)]}
            ).encode()
            return _answer(
                start_response, fault.status, [("Content-Type", "application/json")], body
            )
        stream = _stream_of(environ)
        status, headers, body = _call(self.app, environ)
        if fault.kind == "truncated":
            cut = body[: len(body) // 2]
            return _answer(start_response, status, headers, cut, promised=len(body))
        return _answer(start_response, status, headers, _shift(body, armed, stream))


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run the wrapped app and collect its whole answer."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = list(headers)
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"], body


def _items_of(document: object) -> list[object] | None:
    """The list of items in a page: Jira `issues`, GitHub search `items`, or a bare list."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in ("issues", "items"):
            value = document.get(key)
            if isinstance(value, list):
                return value
    return None


def _parameters_of(environ: dict[str, Any]) -> str:
    """Query string (decoded) and body text, for `arm(..., query=...)`."""
    decoded = " ".join(f"{k}={v}" for k, v in parse_qsl(environ.get("QUERY_STRING", "")))
    return decoded + " " + request_body(environ).decode("utf-8", "replace")


PAGING_PARAMETERS = frozenset({"page", "nextPageToken", "startAt"})


def _stream_of(environ: dict[str, Any]) -> str:
    """What identifies one paged listing: path and parameters, less the page cursor.

    A POST body (Jira's search/jql) is read here and put back for the app."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = sorted(
        (k, v) for k, v in parse_qsl(environ.get("QUERY_STRING", "")) if k not in PAGING_PARAMETERS
    )
    raw = request_body(environ)
    try:
        document = json.loads(raw) if raw else {}
    except ValueError:
        document = {}
    if isinstance(document, dict):
        document = {k: v for k, v in document.items() if k not in PAGING_PARAMETERS}
    return json.dumps([path, query, document], sort_keys=True, default=str)


def _shift(body: bytes, armed: ArmedFault, stream: str) -> bytes:
    try:
        document = json.loads(body)
    except ValueError:
        return body
    items = _items_of(document)
    if not items:
        return body
    last = items[-1]
    if stream in armed.carried:
        items.insert(0, armed.carried[stream])
    armed.carried[stream] = last
    return json.dumps(document).encode()


def _answer(
    start_response: Any,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    promised: int | None = None,
) -> list[bytes]:
    """Send `body`, with a Content-Length of `promised` bytes (default: the body's length)."""
    kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
    kept.append(("Content-Length", str(len(body) if promised is None else promised)))
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", kept)
    return [body]
