"""`okrsync note KR TEXT`: a note in a key result's history, with no new value."""

from __future__ import annotations

import argparse

from config.loader import load_mapping
from config.settings import Settings
from sync.checkin import apply_checkin
from sync.commands.arguments import config_path, kr_argument, text_arg
from sync.commands.command import EXIT_OK, Command, UsageError
from sync.commands.store_access import open_store
from sync.literal_text import LiteralConsole


def arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    parser.add_argument("text", type=text_arg, metavar="TEXT", help="the note")


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    mapping = load_mapping(config_path(args, settings))
    if not args.text.strip():
        raise UsageError("note: the text is empty")
    store = open_store(settings).in_namespace(mapping.namespace)
    with store.run_lock(wait_s=max(settings.lock_timeout_s, 10.0)):
        apply_checkin(settings, mapping, store, args.kr, None, args.text)
    console.print(f"{args.kr}: note recorded")
    return EXIT_OK


COMMAND = Command(
    name="note",
    help="Add a note to a key result's history.",
    arguments=arguments,
    run=run,
)
