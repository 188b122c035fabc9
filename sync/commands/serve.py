"""`okrsync serve`: the read-only dashboard (`sync.dashboard`) over the store."""

from __future__ import annotations

import argparse

from config.settings import Settings
from sync.commands.arguments import port_arg, text_arg
from sync.commands.command import EXIT_OK, Command, UsageError
from sync.commands.store_access import open_store_to_read
from sync.literal_text import LiteralConsole


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_arg, help="default: $OKRSYNC_DASHBOARD__PORT, 8080")
    parser.add_argument(
        "--host", type=text_arg, help="default: $OKRSYNC_DASHBOARD__HOST, 127.0.0.1"
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    from sync.dashboard.serving import serve_dashboard

    host = args.host or settings.dashboard.host
    port = settings.dashboard.port if args.port is None else args.port
    store = open_store_to_read(settings, connections=settings.dashboard.max_concurrent)
    try:
        serve_dashboard(
            store, settings, host, port, lambda url: print(f"dashboard: {url}", flush=True)
        )
    except OSError as exc:
        raise UsageError(f"serve on {host}:{port}: {exc.strerror or exc}") from None
    return EXIT_OK


COMMAND = Command(
    name="serve",
    help="Serve the read-only web dashboard and its JSON API.",
    arguments=arguments,
    run=run,
)
