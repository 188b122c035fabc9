"""`okrsync note KR TEXT`: a note in a key result's history, with no new value; the
objectives aligned above it in the other files given are rolled up again (`checkin_files`)."""

from __future__ import annotations

import argparse

from config.settings import Settings
from sync.checkin import apply_checkin
from sync.commands.arguments import kr_argument, text_arg
from sync.commands.checkin_files import checkin_target, write_and_roll_up
from sync.commands.command import EXIT_OK, Command, UsageError
from sync.literal_text import LiteralConsole


def arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    parser.add_argument("text", type=text_arg, metavar="TEXT", help="the note")


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    target = checkin_target(args, settings)
    if not args.text.strip():
        raise UsageError("note: the text is empty")
    write_and_roll_up(
        settings,
        console,
        target,
        lambda store, as_of: apply_checkin(
            settings, target.mapping, store, target.kr_id, None, args.text, as_of=as_of
        ),
    )
    console.print(f"{target.shown}: note recorded")
    return EXIT_OK


COMMAND = Command(
    name="note",
    help="Add a note to a key result's history.",
    details="--config may name several files, as for checkin.",
    arguments=arguments,
    run=run,
)
