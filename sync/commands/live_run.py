"""A run as `sync` and `demo` show it: a progress bar on a terminal (plain log lines
elsewhere) while it fetches, one summary line after."""

from __future__ import annotations

import logging
import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from config.mapping import MappingFile
from config.settings import Settings
from sync.engine import SyncReport, run_sync
from sync.literal_text import LiteralConsole
from sync.plan import QueryPlan
from sync.store import Store

log = logging.getLogger("okrsync")


def terminal_progress() -> Progress:
    """A bar of done/total on stderr when it is a terminal; nothing elsewhere (logs say it)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=LiteralConsole(stderr=True),
        disable=not sys.stderr.isatty(),
        transient=True,
    )


def sync_with_progress(
    settings: Settings,
    mapping: MappingFile,
    store: Store | None,
    console: LiteralConsole,
    only: list[str] | None,
    path: str | None,
    dry: bool = False,
    demo: bool = False,
) -> SyncReport:
    """Run one sync with a progress bar on a terminal (plain log lines elsewhere)."""
    progress = terminal_progress()
    task = progress.add_task("fetching", total=None)

    def plan_ready(plan: QueryPlan) -> None:
        progress.update(task, total=plan.request_chains)
        log.info(
            "plan: %d key results, %d distinct queries", len(plan.key_results), plan.request_chains
        )

    with progress:
        return run_sync(
            settings,
            mapping,
            store,
            only=only,
            dry_run=dry,
            config_path=path,
            on_fetch_done=lambda _: progress.advance(task),
            plan_ready=plan_ready,
            demo=demo,
        )


def print_run_summary(report: SyncReport, console: LiteralConsole) -> None:
    for kr_id, why in report.skipped.items():
        console.print(f"skipped {kr_id}: {why}")
    for outcome in report.failed:
        console.print(
            Text.assemble(("failed", "red"), f" {outcome.plan.key_result.id}: {outcome.error}"),
            soft_wrap=True,  # one line per failure, whatever the width
        )
    requests = ", ".join(f"{k} {v}" for k, v in report.requests.items()) or "none"
    kept = f" ({report.kept} kept: nothing they read changed)" if report.kept else ""
    console.print(
        f"run #{report.run_id}: {report.outcome}, {len(report.key_results)} key results{kept}, "
        f"{len(report.failed)} failed, requests: {requests}"
    )
