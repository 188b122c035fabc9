"""`okrsync daemon`: `sync.daemon` started with the command line's options."""

from __future__ import annotations

import argparse

from config.settings import Settings
from sync.commands.arguments import (
    config_path,
    duration_arg,
    port_arg,
    shard_argument,
    shard_of_run,
    text_arg,
)
from sync.commands.command import Command, UsageError
from sync.literal_text import LiteralConsole


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--every",
        type=duration_arg,
        metavar="DURATION",
        help="e.g. 30m or 1h (default: $OKRSYNC_DAEMON__EVERY, the mapping file's schedule, 1h)",
    )
    parser.add_argument(
        "--port", type=port_arg, help="health port (default: $OKRSYNC_DAEMON__HEALTH_PORT, 9464)"
    )
    parser.add_argument(
        "--host",
        type=text_arg,
        help="health address (default: $OKRSYNC_DAEMON__HEALTH_HOST, 127.0.0.1)",
    )
    shard_argument(parser)


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    from sync.daemon import Daemon, DaemonStartError

    daemon = Daemon(
        settings,
        config_path(args, settings),
        every_s=args.every if args.every is not None else settings.daemon.every,
        host=args.host or settings.daemon.health_host,
        port=args.port if args.port is not None else settings.daemon.health_port,
        shard=shard_of_run(args, settings),
    )
    try:
        return daemon.run()
    except DaemonStartError as exc:
        raise UsageError(str(exc)) from None


COMMAND = Command(
    name="daemon",
    help="Sync at start, then on a schedule, until stopped.",
    details="The mapping file is read again before each run; /healthz and /metrics are served "
    "on the health port.",
    arguments=arguments,
    run=run,
)
