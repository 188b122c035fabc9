"""`okrsync report`: a shareable summary (`sync.reports`) on standard output or in a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.settings import Settings
from sync.commands.arguments import namespace_argument
from sync.commands.command import EXIT_OK, Command, UsageError
from sync.commands.store_access import (
    every_namespace,
    in_namespace,
    in_period,
    is_period,
    open_store_to_read,
)
from sync.literal_text import LiteralConsole
from sync.organization import EVERY_NAMESPACE
from sync.store import Store


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=["md", "html", "json"], default="md", help="default: md"
    )
    parser.add_argument(
        "--period",
        default="7d",
        help="the window changes are counted over: 7d, 2w or period (default: 7d); or a "
        "cycle (2026-Q3, 2026-07-01..2026-09-30): that cycle, changes since its start",
    )
    parser.add_argument(
        "--output", type=Path, metavar="FILE", help="write here instead of standard output"
    )
    namespace_argument(parser)


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    from sync.reports import ReportError, parse_window, render_report

    opened = open_store_to_read(settings)
    try:
        window, cycle = parse_window(args.period), None
    except ReportError as exc:
        if not is_period(args.period):
            raise UsageError(str(exc)) from None
        window, cycle = parse_window("period"), args.period
    organization = args.namespace == EVERY_NAMESPACE
    if args.namespace is None and args.format != "json":  # JSON keeps one namespace's shape
        organization = len(opened.namespaces()) > 1
    shown: Store | list[Store]
    if organization:
        shown = every_namespace(opened, cycle, None)
    else:
        shown = in_period(in_namespace(opened, args.namespace), cycle)
    text = render_report(shown, args.format, window)
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
