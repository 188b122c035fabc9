"""`okrsync demo`: the built-in sandbox synced into a store of the demo's own, then shown.
The sandbox is imported from the checkout only when the demo runs (`sandbox_checkout`)."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from config.loader import load_mapping
from config.settings import Settings
from sync.commands.command import Command, UsageError
from sync.commands.live_run import print_run_summary, sync_with_progress
from sync.commands.sandbox_checkout import import_path_to_sandbox
from sync.commands.store_access import open_store
from sync.literal_text import LiteralConsole
from sync.notify import notify_after_run
from sync.status_view import render_status
from sync.store import Store


def demo_mapping_path() -> Path:
    return Path(str(resources.files("config") / "examples" / "demo.yaml"))


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=7, help="the generated data set's seed (default: 7)"
    )
    parser.add_argument(
        "--into-shared-store",
        action="store_true",
        help="write the demo's namespace into a store other namespaces use too",
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    import_path_to_sandbox("demo")
    from sandbox.server import SandboxOptions, build_sandbox

    mapping = load_mapping(demo_mapping_path())
    store = open_store(settings).in_namespace(mapping.namespace)
    with store.run_lock(wait_s=10.0):
        if not args.into_shared_store:
            refuse_shared_store(store, mapping.namespace)
        console.print("Starting the sandbox (Jira Cloud + GitHub on loopback)…")
        with build_sandbox(SandboxOptions(seed=args.seed)).start() as box:
            demo_settings = settings.model_copy(
                update={
                    "jira": settings.jira.model_copy(update=box.jira_settings()),
                    "github": settings.github.model_copy(update=box.github_settings()),
                }
            )
            report = sync_with_progress(
                demo_settings, mapping, store, console, None, str(demo_mapping_path()), demo=True
            )
    notify_after_run(demo_settings, report)
    print_run_summary(report, console)
    render_status(store, console)
    console.print(
        f"Stored in {store.safe_url}. Try: python run.py status --json, "
        f"python run.py explain {mapping.objectives[0].key_results[0].id}"
    )
    return report.exit_code


def refuse_shared_store(store: Store, own: str) -> None:
    """The demo writes only into a store that holds nothing but its own namespace, unless
    told: its objectives would show among real ones on everybody's dashboard (it never
    touches another namespace's rows either way)."""
    others = [namespace for namespace in store.namespaces() if namespace != own]
    if others:
        more = len(others) - 5
        shown = ", ".join(others[:5]) + (f" and {more} more" if more > 0 else "")
        raise UsageError(
            f"demo: the store {store.safe_url} holds other namespaces ({shown}); the demo "
            f"writes its namespace '{own}' only into a new store or its own. Set "
            "OKRSYNC_DATABASE_URL to another one, e.g. sqlite:///okrsync-demo.db, or add "
            "--into-shared-store"
        )


COMMAND = Command(
    name="demo",
    help="Sync the built-in sandbox into SQLite and show the result; no credentials needed.",
    arguments=arguments,
    run=run,
)
