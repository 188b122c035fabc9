"""`okrsync checkin KR VALUE`: a manual key result's value, set by a person."""

from __future__ import annotations

import argparse

from config.loader import load_mapping
from config.settings import Settings
from sync.checkin import apply_checkin, parse_value
from sync.commands.arguments import config_path, kr_argument, text_arg
from sync.commands.command import EXIT_OK, Command
from sync.commands.store_access import open_store
from sync.literal_text import LiteralConsole
from sync.presentation import format_number


def arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    parser.add_argument("value", type=text_arg, metavar="VALUE", help="the value, e.g. 37 or 12.5")
    parser.add_argument(
        "--note", type=text_arg, metavar="TEXT", help="why, kept with the value in its history"
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    mapping = load_mapping(config_path(args, settings))
    value = parse_value(args.value)
    store = open_store(settings).in_namespace(mapping.namespace)
    with store.run_lock(wait_s=max(settings.lock_timeout_s, 10.0)):
        outcome = apply_checkin(settings, mapping, store, args.kr, value, args.note)
    kr = outcome.plan.key_result
    console.print(
        f"{kr.id}: {format_number(outcome.value, kr.unit)} recorded ({outcome.progress.status})"
    )
    return EXIT_OK


COMMAND = Command(
    name="checkin",
    help="Set a manual key result's value by hand.",
    arguments=arguments,
    run=run,
)
