"""Record the requests the trackers receive, grouped into the chains that had to follow one another.

The benchmark replays a run's requests with a client that does nothing but fetch and decode
them (bench/replay.py): that is what moving the run's pages costs on this machine, against
this sandbox, before okr-sync does anything with them. To replay pages in the order the API
allows, each recorded request carries its chain: the handlers that hand out continuation
pages (Jira's `nextPageToken` snapshots, `startAt` pages, GitHub's `Link` pages) name it in
the WSGI environ under `CHAIN_KEY`; a request without one is a chain of its own.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

CHAIN_KEY = "sandbox.chain"


def name_chain(environ: dict[str, Any], chain: str) -> None:
    """Say which chain of pages this request belongs to (see the module's docstring)."""
    environ[CHAIN_KEY] = chain


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as the client asked, e.g. /jira/rest/api/2/search/jql
    query: str  # the raw query string
    body: str  # the request body as text ("" when none)
    content_type: str
    chain: str | None  # requests of one chain must be replayed in order, one after the other

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestRecorder:
    """WSGI middleware: while on, keep every request that reached the trackers."""

    def __init__(self, ignored_prefix: str | None = None) -> None:
        self.app: WSGIApplication | None = None
        self.ignored_prefix = ignored_prefix  # the sandbox's own control routes
        self._lock = threading.Lock()
        self._on = False
        self._recorded: list[RecordedRequest] = []

    def wrap(self, app: WSGIApplication) -> RequestRecorder:
        self.app = app
        return self

    def start(self) -> None:
        """Forget what was recorded and record from now on."""
        with self._lock:
            self._recorded = []
            self._on = True

    def take(self) -> list[RecordedRequest]:
        """Stop recording; what was recorded since `start`, in arrival order."""
        with self._lock:
            self._on, recorded, self._recorded = False, self._recorded, []
        return recorded

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        assert self.app is not None, "RequestRecorder.wrap(app) first"
        path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
        ignored = self.ignored_prefix is not None and path.startswith(self.ignored_prefix)
        if not self._on or ignored:
            return self.app(environ, start_response)
        body = request_body(environ)
        answer = self.app(environ, start_response)
        recorded = RecordedRequest(
            method=str(environ.get("REQUEST_METHOD", "GET")),
            path=path,
            query=str(environ.get("QUERY_STRING", "")),
            body=body.decode("utf-8", "replace"),
            content_type=str(environ.get("CONTENT_TYPE", "")),
            chain=environ.get(CHAIN_KEY),
        )
        with self._lock:
            if self._on:
                self._recorded.append(recorded)
        return answer


def request_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for the app."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length <= 0:
        return b""
    raw: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    return raw
