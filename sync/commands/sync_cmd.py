"""`okrsync sync`: one pass over every key result (or `--only` some), or a dry run."""

from __future__ import annotations

import argparse

from rich.text import Text

from config.files import LoadedMapping
from config.mapping import MappingFile
from config.settings import Settings
from sync.commands.arguments import config_path, shard_argument, shard_of_run, text_arg
from sync.commands.command import Command, UsageError
from sync.commands.live_run import print_run_summary, sync_with_progress
from sync.commands.mapping_files import load_checked
from sync.commands.store_access import open_store
from sync.engine import SyncReport
from sync.file_runs import run_files
from sync.literal_text import LiteralConsole
from sync.notify import notify_after_run
from sync.presentation import format_number
from sync.store import Store, open_existing


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would be written; write nothing"
    )
    parser.add_argument(
        "--only", nargs="+", type=text_arg, metavar="KR", help="sync only these key results"
    )
    shard_argument(parser)
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
    loaded = load_checked(path, settings, console)
    shard = shard_of_run(args, settings)
    files = [f for f in loaded.files if shard is None or shard.holds(f.namespace)]
    if not files:
        console.print(
            f"shard {shard.describe() if shard else ''} holds none of the "
            f"{len(loaded.files)} namespace(s) of {path}: nothing to sync",
            soft_wrap=True,
        )
        return 0
    if len(loaded.files) > 1:
        only = only_by_namespace(loaded.files, args.only)
        store = None if args.dry_run else open_store(settings)
        return run_many(args, settings, console, files, store, only)
    mapping = loaded.files[0].mapping
    check_only(mapping, args.only)
    if args.dry_run:
        return dry_run(settings, mapping, console, args.only)
    store = open_store(settings).in_namespace(mapping.namespace)
    with store.run_lock(wait_s=wait_of(args, settings)):
        report = sync_with_progress(settings, mapping, store, console, args.only, str(path))
    notify_after_run(settings, report)
    print_run_summary(report, console)
    return report.exit_code


def wait_of(args: argparse.Namespace, settings: Settings) -> float:
    return settings.lock_timeout_s if args.wait is None else max(0.0, args.wait)


def run_many(
    args: argparse.Namespace,
    settings: Settings,
    console: LiteralConsole,
    files: list[LoadedMapping],
    store: Store | None,
    only: dict[str, list[str]] | None,
) -> int:
    """Many files in one run: each namespace's lock held, each written on its own."""
    if args.dry_run or store is None:
        runs = run_files(
            settings, files, open_existing(settings.database_url), dry_run=True, only=only
        )
    else:
        with store.run_locks([f.namespace for f in files], wait_s=wait_of(args, settings)):
            runs = run_files(settings, files, store, only=only)
    for file_run in runs:
        console.print(
            Text.assemble((f"{file_run.file.namespace}", "bold"), f" ({file_run.file.path})"),
            soft_wrap=True,
        )
        if args.dry_run:
            print_dry_run(file_run.report, console)
            continue
        notify_after_run(settings, file_run.report)
        print_run_summary(file_run.report, console)
    return max((r.report.exit_code for r in runs), default=0)


def only_by_namespace(
    files: list[LoadedMapping], only: list[str] | None
) -> dict[str, list[str]] | None:
    """`--only` over many files: each key result as NAMESPACE/ID; files it names none of are
    left out of the run."""
    if not only:
        return None
    known = {f"{f.namespace}/{kr.id}" for f in files for _, kr in f.mapping.key_results()}
    unknown = [ref for ref in only if ref not in known]
    if unknown:
        raise UsageError(
            f"--only: unknown key result {', '.join(repr(u) for u in unknown)}: with several "
            "files, name each as NAMESPACE/ID"
        )
    chosen: dict[str, list[str]] = {}
    for ref in only:
        namespace, kr_id = ref.split("/", 1)
        chosen.setdefault(namespace, []).append(kr_id)
    return chosen


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
    print_dry_run(report, console)
    return report.exit_code


def print_dry_run(report: SyncReport, console: LiteralConsole) -> None:
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


COMMAND = Command(
    name="sync",
    help="Fetch every key result's value from its tracker, score it and store it: one pass.",
    details="A key result whose tracker fails keeps its last good value and records why; the "
    "others are written, and the exit code is 1.",
    arguments=arguments,
    run=run,
)
