"""`okrsync explain KR`: where a key result's value came from."""

from __future__ import annotations

import argparse

from config.settings import Settings
from sync.commands.arguments import kr_argument, namespace_argument, period_argument
from sync.commands.command import EXIT_OK, Command
from sync.commands.store_access import kr_in_store
from sync.literal_text import LiteralConsole
from sync.status_view import render_explain


def arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    namespace_argument(parser)
    period_argument(parser)


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    store, kr_id = kr_in_store(settings, args.kr, args.namespace, args.period)
    render_explain(store, kr_id, console)
    return EXIT_OK


COMMAND = Command(
    name="explain",
    help="Show how a key result's value was obtained: its query, items or count, errors.",
    arguments=arguments,
    run=run,
)
