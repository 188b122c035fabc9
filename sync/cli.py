"""The command line: the parser built from the command registry (`sync.commands`, one module
per command), logging set up, and every error turned into its exit code: 0 all good, 1 some
key results failed, 2 bad configuration or usage."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from config.env_names import unknown_variables
from config.loader import MappingError
from config.settings import SettingsError, load_settings
from sync.checkin import CheckinError
from sync.commands.arguments import add_shared_options
from sync.commands.command import EXIT_CONFIG, EXIT_FAILURES, UsageError
from sync.commands.registry import COMMANDS
from sync.literal_text import LiteralConsole, printable_lines
from sync.logs import configure_logging
from sync.store_errors import RunLockedError, StoreError

log = logging.getLogger("okrsync")

DESCRIPTION = (
    "okr-sync: OKR key-result values read from Jira and GitHub, scored against their "
    "periods, stored with their history and shown. Settings come from OKRSYNC_* environment "
    "variables, a .env file and a secrets directory; `okrsync COMMAND --help` tells more."
)
EXIT_CODES = (
    "exit codes: 0 all good, 1 some key results failed (the others were written), "
    "2 bad configuration or usage"
)


def build_parser() -> argparse.ArgumentParser:
    """Every command, with `--config` and `--env-file` accepted before or after its name."""
    parser = argparse.ArgumentParser(prog="okrsync", description=DESCRIPTION, epilog=EXIT_CODES)
    add_shared_options(parser, default=None)
    shared = argparse.ArgumentParser(add_help=False)
    # Not set unless given after the command, so one given before it stands.
    add_shared_options(shared, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for command in COMMANDS.values():
        command_parser = sub.add_parser(
            command.name,
            parents=[shared],
            help=command.help,
            description=command.description,
            epilog=EXIT_CODES,
        )
        command.arguments(command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    console = LiteralConsole()
    if not console.is_terminal:
        console = LiteralConsole(width=120)  # a pipe or a log file: no need to squeeze the table
    try:
        settings = load_settings(env_file=args.env_file)
        configure_logging(settings.log_level, settings.log_format)
        for problem in unknown_variables(args.env_file):
            log.warning("%s", problem)
        code = COMMANDS[args.command].run(args, settings, console)
        sys.stdout.flush()  # here, so that a closed pipe is noticed here
        return code
    except BrokenPipeError:
        return reader_went_away()
    except (SettingsError, MappingError, UsageError, CheckinError) as exc:
        print_error(str(exc))
        return EXIT_CONFIG
    except RunLockedError as exc:
        print_error(f"{exc}; try again when it has finished")
        return EXIT_FAILURES
    except StoreError as exc:
        print_error(str(exc))
        return EXIT_FAILURES


def reader_went_away() -> int:
    """`status --json | head -1`: the reader closed the pipe, nothing more to say to it. As
    the Python docs advise (and rich does for its console), later writes, Python's own flush
    at exit included, go to devnull instead of raising again; exit 1, as rich does."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FAILURES


def print_error(message: str) -> None:
    """An error on stderr, one line per problem; what it quotes from a file or a tracker
    cannot drive the terminal."""
    print("error: " + "\n".join(printable_lines(message)), file=sys.stderr)
