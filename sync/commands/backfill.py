"""`okrsync backfill`: each automated key result's past values, rebuilt from the trackers'
records from the start of its period (or `--since`) up to now, with a progress bar."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta

from rich.text import Text

from config.cadence import parse_duration
from config.loader import load_mapping
from config.mapping import MappingFile
from config.settings import Settings
from sync.backfill import BackfillReport, BackfillRequest, run_backfill
from sync.commands.arguments import config_path, text_arg
from sync.commands.command import Command, UsageError
from sync.commands.live_run import terminal_progress
from sync.commands.store_access import open_store
from sync.commands.sync_cmd import check_only
from sync.literal_text import LiteralConsole
from sync.store import Store

PERIOD_START = "period-start"
SHORTEST_STEP = timedelta(hours=1)


def step_arg(text: str) -> timedelta:
    """`--step`: a duration of at least an hour (`1d`, `12h`, `1w`)."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    step = timedelta(seconds=seconds)
    if step < SHORTEST_STEP:
        raise argparse.ArgumentTypeError(f"{text!r} is shorter than the shortest step, 1h")
    return step


def since_arg(text: str) -> date | None:
    """`--since`: a day (YYYY-MM-DD) or `period-start` (None: each key result's own)."""
    if text == PERIOD_START:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a day (YYYY-MM-DD) nor {PERIOD_START}"
        ) from None


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only", nargs="+", type=text_arg, metavar="KR", help="backfill only these key results"
    )
    parser.add_argument(
        "--since",
        type=since_arg,
        default=None,
        metavar="DATE",
        help=f"first day to rebuild, YYYY-MM-DD or {PERIOD_START} (default: {PERIOD_START})",
    )
    parser.add_argument(
        "--step",
        type=step_arg,
        default=timedelta(days=1),
        metavar="DURATION",
        help="time between rebuilt values, at least 1h (default: 1d)",
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    mapping = load_mapping(config_path(args, settings))
    check_only(mapping, args.only)
    now = datetime.now(UTC).replace(microsecond=0)
    check_since(mapping, args.since, args.only, now.date())
    request = BackfillRequest(now=now, step=args.step, since=args.since, only=args.only)
    store = open_store(settings).in_namespace(mapping.namespace)
    with store.run_lock(wait_s=settings.lock_timeout_s):
        report = backfill_with_progress(settings, mapping, store, request)
    print_backfill_summary(report, console)
    return report.exit_code


def check_since(
    mapping: MappingFile, since: date | None, only: list[str] | None, today: date
) -> None:
    """`--since` must be a day of every chosen key result's period, and not after today."""
    if since is None:
        return
    if since > today:
        raise UsageError(f"--since {since.isoformat()} is after today ({today.isoformat()})")
    for _, kr in mapping.key_results():
        period = kr.period or mapping.period
        if only and kr.id not in only:
            continue
        if since < period.start:
            raise UsageError(
                f"--since {since.isoformat()} is before the period of {kr.id} "
                f"({period.label}, from {period.start.isoformat()})"
            )


def backfill_with_progress(
    settings: Settings, mapping: MappingFile, store: Store, request: BackfillRequest
) -> BackfillReport:
    """The backfill with a progress bar of steps on a terminal (nothing elsewhere)."""
    progress = terminal_progress()
    task = progress.add_task("rebuilding", total=None)

    def plan_ready(steps: dict[str, int]) -> None:
        progress.update(task, total=sum(steps.values()))

    with progress:
        return run_backfill(
            settings,
            mapping,
            store,
            request,
            plan_ready=plan_ready,
            on_step=lambda kr_id, _: progress.update(task, advance=1, description=kr_id),
        )


def print_backfill_summary(report: BackfillReport, console: LiteralConsole) -> None:
    for kr_id, why in report.skipped.items():
        console.print(f"skipped {kr_id}: {why}")
    for kr in report.key_results:
        if kr.reason is not None:
            word = ("failed", "red") if kr.error else ("not rebuilt", "yellow")
            console.print(Text.assemble(word, f" {kr.id}: {kr.reason}"), soft_wrap=True)
            continue
        already = []
        if kr.kept:
            already.append(f"{kr.kept} already backfilled")
        if kr.taken:
            already.append(f"{kr.taken} held a recorded value")
        if kr.failed_steps:
            already.append(f"{kr.failed_steps} could not be computed")
        more = f" ({', '.join(already)})" if already else ""
        console.print(
            f"{kr.id}: {kr.written} of {kr.steps} values written{more}; "
            f"value now {kr.value_now} as a sync computes it"
        )
    requests = ", ".join(f"{k} {v}" for k, v in report.requests.items()) or "none"
    synced = ", ".join(f"{k} {v}" for k, v in report.sync_requests.items()) or "none"
    run = f" (run {report.sync_run_id})" if report.sync_run_id is not None else ""
    console.print(
        f"backfill: {len(report.key_results)} key results, requests: histories {requests}; "
        f"the sync of the value now{run} {synced}"
    )


COMMAND = Command(
    name="backfill",
    help="Rebuild each automated key result's values since its period started, from the "
    "trackers' own records.",
    details="Values are stored with origin `backfill`; a moment that holds a value a sync, a "
    "check-in or a note recorded is left alone, and a rerun writes only what is missing. A "
    "key result whose history cannot be rebuilt exactly is named with the reason and left "
    "alone. The others are synced first (a sync run, through its cache), and one whose value "
    "rebuilt now differs from the sync's is reported and its past not written.",
    arguments=arguments,
    run=run,
)
