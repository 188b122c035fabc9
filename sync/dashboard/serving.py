"""`python run.py serve`: the dashboard on its own, in a threaded Werkzeug server, until
SIGTERM or Ctrl-C."""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import threading
from collections.abc import Callable

from werkzeug.serving import WSGIRequestHandler, make_server

from config.settings import Settings
from sync.dashboard.app import make_dashboard_app
from sync.store import Store

log = logging.getLogger(__name__)


class LoggedRequestHandler(WSGIRequestHandler):
    """Request lines go to our logger (at DEBUG), not to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s -> %s", self.command, self.path, code)


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`; "" and 0.0.0.0 mean every interface."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: other machines may resolve it too


def warn_if_exposed(settings: Settings, host: str, port: int, what: str) -> None:
    """A dashboard on a non-loopback address without a token shows every objective to
    whoever can reach the port: say so loudly (logged at WARNING and printed on stderr)."""
    if settings.dashboard.token is not None or is_loopback(host):
        return
    message = (
        f"WARNING: {what} on {host or '*'}:{port} serves the dashboard and JSON API to "
        "anyone who can reach it, without a token; set OKRSYNC_DASHBOARD__TOKEN to require "
        "`Authorization: Bearer <token>`, or listen on 127.0.0.1"
    )
    log.warning("%s", message.removeprefix("WARNING: "))
    print(message, file=sys.stderr, flush=True)


def serve_dashboard(
    store: Store, settings: Settings, host: str, port: int, on_ready: Callable[[str], None]
) -> None:
    """Serve until stopped; `on_ready` gets the URL once the port is bound (port 0 picks one)."""
    server = make_server(
        host,
        port,
        make_dashboard_app(store, settings),
        threaded=True,
        request_handler=LoggedRequestHandler,
    )
    warn_if_exposed(settings, host, server.server_port, "serve")
    shown_host = f"[{host}]" if ":" in host else host
    on_ready(f"http://{shown_host}:{server.server_port}/")
    stopping = threading.Event()

    def stop(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
