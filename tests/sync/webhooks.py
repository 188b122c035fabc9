"""A webhook receiver on loopback for the digest tests: records what arrives, and can answer
with failures, redirects or a trickle."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_PATH = "/hooks/T000/B000/very-secret-part"


class Receiver:
    """A webhook receiver on loopback: answers with `statuses` in turn (then 200), with a
    `Location` header when `location` is set. With `trickle_s`, it answers one byte of a
    never-ending header every `trickle_s` seconds instead, until `release` is set (or
    `trickle_for_s` passes), then completes a 200."""

    def __init__(
        self,
        statuses: list[int] | None = None,
        *,
        location: str | None = None,
        trickle_s: float | None = None,
        trickle_for_s: float = 60.0,
    ) -> None:
        self.statuses = list(statuses or [])
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.gets: list[str] = []
        self.release = threading.Event()
        self.trickle_answered = threading.Event()  # a trickle ran its course to the 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.received.append(json.loads(self.rfile.read(length)))
                receiver.paths.append(self.path)
                if trickle_s is not None:
                    self.trickle(trickle_s)
                    return
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:
                receiver.gets.append(self.path)
                self.send_response(200)
                self.end_headers()

            def trickle(self, every_s: float) -> None:
                until = time.monotonic() + trickle_for_s
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Wait: ")
                    while not receiver.release.wait(every_s) and time.monotonic() < until:
                        self.wfile.write(b"a")
                    self.wfile.write(b"\r\nContent-Length: 2\r\n\r\nok")
                    receiver.trickle_answered.set()
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{SECRET_PATH}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
