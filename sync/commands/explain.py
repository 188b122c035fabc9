"""`okrsync explain KR`: where a key result's value came from."""

from __future__ import annotations

import argparse

from config.settings import Settings
from sync.commands.arguments import kr_argument, period_argument
from sync.commands.command import EXIT_OK, Command
from sync.commands.store_access import in_period, known_kr, open_store_to_read
from sync.literal_text import LiteralConsole
from sync.status_view import render_explain


def arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    period_argument(parser)


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    store = in_period(open_store_to_read(settings), args.period)
    known_kr(store, args.kr)
    render_explain(store, args.kr, console)
    return EXIT_OK


COMMAND = Command(
    name="explain",
    help="Show how a key result's value was obtained: its query, items or count, errors.",
    arguments=arguments,
    run=run,
)
