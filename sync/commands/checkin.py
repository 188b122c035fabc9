"""`okrsync checkin KR VALUE`: a manual key result's value, set by a person; the objectives
aligned above it in the other files given are rolled up again (`checkin_files`)."""

from __future__ import annotations

import argparse

from config.settings import Settings
from sync.checkin import apply_checkin, parse_value
from sync.commands.arguments import kr_argument, text_arg
from sync.commands.checkin_files import checkin_target, write_and_roll_up
from sync.commands.command import EXIT_OK, Command
from sync.literal_text import LiteralConsole
from sync.presentation import format_number


def arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    parser.add_argument("value", type=text_arg, metavar="VALUE", help="the value, e.g. 37 or 12.5")
    parser.add_argument(
        "--note", type=text_arg, metavar="TEXT", help="why, kept with the value in its history"
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    target = checkin_target(args, settings)
    value = parse_value(args.value)
    outcome = write_and_roll_up(
        settings,
        console,
        target,
        lambda store, as_of: apply_checkin(
            settings, target.mapping, store, target.kr_id, value, args.note, as_of=as_of
        ),
    )
    kr = outcome.plan.key_result
    console.print(
        f"{target.shown}: {format_number(outcome.value, kr.unit)} recorded "
        f"({outcome.progress.status})"
    )
    return EXIT_OK


COMMAND = Command(
    name="checkin",
    help="Set a manual key result's value by hand.",
    details="--config may name several files (a directory or a glob, as for sync): KR is then "
    "NAMESPACE/ID, or an id one file alone has, and the objectives aligned above it in the "
    "other files are rolled up again.",
    arguments=arguments,
    run=run,
)
