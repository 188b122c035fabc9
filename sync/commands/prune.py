"""`okrsync prune --namespace N`: remove a namespace from the store (a team gone, a file
renamed, the demo in a shared store), after a confirmation."""

from __future__ import annotations

import argparse
import sys

from config.settings import Settings
from sync.commands.arguments import text_arg
from sync.commands.command import EXIT_OK, Command, UsageError
from sync.commands.store_access import in_namespace, open_store_to_read
from sync.literal_text import LiteralConsole


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespace", type=text_arg, metavar="N", required=True, help="the namespace to remove"
    )
    parser.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (for scripts)"
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    store = in_namespace(open_store_to_read(settings), args.namespace)
    namespace = args.namespace
    with store.run_lock(wait_s=max(settings.lock_timeout_s, 10.0)):
        held = store.namespace_rows(namespace)
        summary = (
            f"{held['objectives']} objective rows, {held['key_results']} key result rows, "
            f"{held['kr_values']} values, {held['kr_scopes']} frozen scopes and "
            f"{held['sync_runs']} runs"
        )
        if not args.yes:
            confirm(namespace, summary, console)
        store.prune_namespace(namespace)
    console.print(f"namespace {namespace} removed: {summary}")
    return EXIT_OK


def confirm(namespace: str, summary: str, console: LiteralConsole) -> None:
    """Ask for the namespace's name on a terminal; without one, `--yes` is needed."""
    if not sys.stdin.isatty():
        raise UsageError(
            f"prune: removing namespace {namespace} ({summary}) needs --yes when no one can "
            "confirm (standard input is not a terminal)"
        )
    console.print(f"This removes namespace {namespace} from the store: {summary}.")
    answer = console.input(f"Type {namespace} to confirm: ")
    if answer.strip() != namespace:
        raise UsageError(f"prune: not confirmed; namespace {namespace} is kept")


COMMAND = Command(
    name="prune",
    help="Remove a namespace (a mapping file's objectives and history) from the store.",
    arguments=arguments,
    run=run,
)
