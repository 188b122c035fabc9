"""`okrsync report`: a shareable summary (`sync.reports`) on standard output or in a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.settings import Settings
from sync.commands.command import EXIT_OK, Command, UsageError
from sync.commands.store_access import open_store_to_read
from sync.literal_text import LiteralConsole


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=["md", "html", "json"], default="md", help="default: md"
    )
    parser.add_argument(
        "--period",
        default="7d",
        help="the window changes are counted over: 7d, 2w or period (default: 7d)",
    )
    parser.add_argument(
        "--output", type=Path, metavar="FILE", help="write here instead of standard output"
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    from sync.reports import ReportError, parse_window, render_report

    try:
        window = parse_window(args.period)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    text = render_report(open_store_to_read(settings), args.format, window)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output {args.output}: {exc.strerror}") from None
    console.print(f"report written to {args.output}")
    return EXIT_OK


COMMAND = Command(
    name="report",
    help="Write a shareable summary in Markdown, HTML or JSON.",
    arguments=arguments,
    run=run,
)
