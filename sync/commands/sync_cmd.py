"""`okrsync sync`: one pass over every key result (or `--only` some), or a dry run."""

from __future__ import annotations

import argparse

from rich.text import Text

from config.loader import load_mapping
from config.mapping import MappingFile
from config.settings import Settings
from sync.commands.arguments import config_path, text_arg
from sync.commands.command import Command, UsageError
from sync.commands.live_run import print_run_summary, sync_with_progress
from sync.commands.store_access import open_store
from sync.literal_text import LiteralConsole
from sync.notify import notify_after_run
from sync.presentation import format_number
from sync.store import open_existing


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would be written; write nothing"
    )
    parser.add_argument(
        "--only", nargs="+", type=text_arg, metavar="KR", help="sync only these key results"
    )
    wait = parser.add_mutually_exclusive_group()
    wait.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="if another run holds the store, wait this long for it (default: "
        "$OKRSYNC_LOCK_TIMEOUT_S, 0)",
    )
    wait.add_argument(
        "--no-wait", dest="wait", action="store_const", const=0.0, help="never wait: exit 1"
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    path = config_path(args, settings)
    mapping = load_mapping(path)
    check_only(mapping, args.only)
    if args.dry_run:
        return dry_run(settings, mapping, console, args.only)
    store = open_store(settings).in_namespace(mapping.namespace)
    wait_s = settings.lock_timeout_s if args.wait is None else max(0.0, args.wait)
    with store.run_lock(wait_s=wait_s):
        report = sync_with_progress(settings, mapping, store, console, args.only, str(path))
    notify_after_run(settings, report)
    print_run_summary(report, console)
    return report.exit_code


def check_only(mapping: MappingFile, only: list[str] | None) -> None:
    known = {kr.id for o in mapping.objectives for kr in o.key_results}
    unknown = [kr for kr in only or [] if kr not in known]
    if unknown:
        raise UsageError(
            f"--only: unknown key result {', '.join(repr(u) for u in unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )


def dry_run(
    settings: Settings, mapping: MappingFile, console: LiteralConsole, only: list[str] | None
) -> int:
    """Compute everything, show old -> new, write nothing (the store is only read if it exists)."""
    store = open_existing(settings.database_url)
    report = sync_with_progress(settings, mapping, store, console, only, None, dry=True)
    console.print(
        Text.assemble(("Dry run: nothing was written.", "bold"), " What a sync would store:")
    )
    for outcome in report.key_results:
        kr = outcome.plan.key_result
        line = (
            f"  {kr.id}: {format_number(outcome.previous_value, kr.unit)} -> "
            f"{format_number(outcome.value, kr.unit)} ({outcome.progress.status})"
        )
        if outcome.error:
            line += f"  error: {outcome.error}"
        console.print(line)
    return report.exit_code


COMMAND = Command(
    name="sync",
    help="Fetch every key result's value from its tracker, score it and store it: one pass.",
    details="A key result whose tracker fails keeps its last good value and records why; the "
    "others are written, and the exit code is 1.",
    arguments=arguments,
    run=run,
)
