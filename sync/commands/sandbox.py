"""`okrsync sandbox`: the Jira and GitHub sandbox served on loopback until stopped,
imported from the checkout only when asked for (`sandbox_checkout`)."""

from __future__ import annotations

import argparse
import signal
import threading

from config.settings import Settings
from sync.commands.arguments import port_arg
from sync.commands.command import EXIT_OK, Command, UsageError
from sync.commands.sandbox_checkout import import_path_to_sandbox
from sync.literal_text import LiteralConsole


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=port_arg, default=8765, help="the port to serve on (default: 8765)"
    )
    parser.add_argument(
        "--jira-flavour",
        choices=["cloud", "server"],
        default="cloud",
        help="the Jira API to speak: Cloud or Server/Data Center (default: cloud)",
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="the generated data set's seed (default: 7)"
    )
    parser.add_argument(
        "--github-data",
        choices=["generated", "timeline"],
        default="generated",
        help="GitHub's data: the generated organisation, or acme/timeline alone, its items "
        "with scripted histories over a quarter, to try `backfill` on (default: generated)",
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    import_path_to_sandbox("sandbox")
    from sandbox.server import SandboxOptions, build_sandbox

    options = SandboxOptions(
        seed=args.seed, jira_flavour=args.jira_flavour, github_data=args.github_data
    )
    box = build_sandbox(options)
    try:
        box.start(port=args.port)
    except OSError as exc:
        raise UsageError(f"--port {args.port}: {exc.strerror}") from None
    for key, value in box.settings_env().items():
        print(f"{key}={value}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
    return EXIT_OK


COMMAND = Command(
    name="sandbox",
    help="Serve the Jira and GitHub sandbox on loopback until stopped.",
    details="It prints the OKRSYNC_* settings that point okr-sync at it.",
    arguments=arguments,
    run=run,
)
