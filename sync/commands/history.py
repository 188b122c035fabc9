"""`okrsync history KR`: one key result's values over time, with a terminal chart."""

from __future__ import annotations

import argparse
import json

from config.settings import Settings
from sync.commands.arguments import kr_argument, namespace_argument, period_argument
from sync.commands.command import EXIT_OK, Command
from sync.commands.store_access import kr_in_store
from sync.documents import history_document
from sync.literal_text import LiteralConsole
from sync.status_view import HISTORY_LIMIT, render_history


def arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    parser.add_argument(
        "--limit",
        type=history_limit_arg,
        default=HISTORY_LIMIT,
        metavar="N",
        help=f"show the newest N values, 0 for every one (default: {HISTORY_LIMIT})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="every value of the cycle, oldest first: {key_result, namespace, period, values}",
    )
    namespace_argument(parser)
    period_argument(parser)


def history_limit_arg(text: str) -> int | None:
    """`history --limit`: a whole number of values, 0 meaning every one (None)."""
    try:
        limit = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if limit < 0:
        raise argparse.ArgumentTypeError(f"{limit} is below 0 (0 shows every value)")
    return limit or None


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    store, kr_id = kr_in_store(settings, args.kr, args.namespace, args.period)
    if args.json:
        print(json.dumps(history_document(store, kr_id).model_dump(mode="json"), indent=2))
        return EXIT_OK
    render_history(store, kr_id, console, args.limit)
    return EXIT_OK


COMMAND = Command(
    name="history",
    help="Show the values of one key result over time.",
    arguments=arguments,
    run=run,
)
