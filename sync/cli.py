"""The command line: `python run.py sync | validate | status | history | explain | checkin |
demo | sandbox`. Exit codes: 0 all good, 1 some key results failed, 2 bad configuration or
usage."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from config.cadence import parse_duration
from config.loader import MappingError, load_mapping
from config.mapping import Loc, MappingFile, format_loc
from config.settings import Settings, SettingsError, load_settings
from connectors.base import Connector, ConnectorError, QueryChecker, QueryError
from sync.engine import (
    CheckinError,
    SyncReport,
    apply_checkin,
    build_connectors,
    parse_value,
    run_sync,
)
from sync.literal_text import LiteralConsole, printable_lines
from sync.logs import configure_logging
from sync.plan import QueryPlan, SelectorUse, selector_uses, sources_of
from sync.standing import TreeFilter
from sync.status_view import (
    format_number,
    render_explain,
    render_history,
    render_status,
    status_document,
)
from sync.store import RunLockedError, Store, StoreError, ensure_sqlite_dir, open_existing

log = logging.getLogger("okrsync")

EXIT_OK, EXIT_FAILURES, EXIT_CONFIG = 0, 1, 2


class UsageError(Exception):
    """Bad configuration or usage: exit code 2, nothing written."""


def demo_mapping_path() -> Path:
    return Path(str(resources.files("config") / "examples" / "demo.yaml"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="okrsync", description=__doc__)
    parser.add_argument("--env-file", type=Path, help="settings file (default: ./.env)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config", type=Path, help="mapping file (default: $OKRSYNC_CONFIG, ./okrs.yaml)"
        )
        return p

    p = with_config(sub.add_parser("sync", help="one pass: fetch, compute, store"))
    p.add_argument(
        "--dry-run", action="store_true", help="show what would be written; write nothing"
    )
    p.add_argument("--only", nargs="+", metavar="KR", help="sync only these key results")
    wait = p.add_mutually_exclusive_group()
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
    p = with_config(sub.add_parser("daemon", help="sync at start, then on a schedule"))
    p.add_argument(
        "--every",
        type=duration_arg,
        metavar="DURATION",
        help="e.g. 30m or 1h (default: $OKRSYNC_DAEMON__EVERY, the mapping file's schedule, 1h)",
    )
    p.add_argument("--port", type=int, help="health port (default: $OKRSYNC_DAEMON__HEALTH_PORT)")
    p.add_argument("--host", help="health address (default: 127.0.0.1)")
    p = with_config(sub.add_parser("validate", help="check the mapping file (and connections)"))
    p.add_argument("--check-connections", action="store_true")
    p = sub.add_parser("status", help="progress of every objective and key result")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--level", help="only objectives of this level (company, team, ...)")
    p.add_argument("--owner", help="only objectives of this owner")
    p.add_argument("--objective", help="this objective and the ones aligned under it")
    p = with_config(sub.add_parser("note", help="add a note to a key result's history"))
    p.add_argument("kr")
    p.add_argument("text")
    p = sub.add_parser("report", help="a shareable summary in Markdown, HTML or JSON")
    p.add_argument("--format", choices=["md", "html", "json"], default="md")
    p.add_argument("--period", default="7d", help="window for changes: 7d, 2w or period")
    p.add_argument("--output", type=Path, help="write here instead of standard output")
    p = sub.add_parser("serve", help="the read-only web dashboard and JSON API")
    p.add_argument("--port", type=int, help="default: $OKRSYNC_DASHBOARD__PORT, 8080")
    p.add_argument("--host", help="default: $OKRSYNC_DASHBOARD__HOST, 127.0.0.1")
    p = sub.add_parser("history", help="the values of one key result over time")
    p.add_argument("kr")
    p = sub.add_parser("explain", help="how a key result's value was obtained")
    p.add_argument("kr")
    p = with_config(sub.add_parser("checkin", help="set a key result's value by hand"))
    p.add_argument("kr")
    p.add_argument("value")
    p.add_argument("--note")
    p = sub.add_parser("demo", help="sync the built-in sandbox into SQLite and show the result")
    p.add_argument("--seed", type=int, default=7)
    p = sub.add_parser("sandbox", help="serve the Jira + GitHub sandbox until stopped")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--jira-flavour", choices=["cloud", "server"], default="cloud")
    p.add_argument("--seed", type=int, default=7)
    return parser


def duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        code = COMMANDS[args.command](args, settings, console)
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


def config_path(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.config) if getattr(args, "config", None) else Path(settings.config)


def open_store(settings: Settings) -> Store:
    ensure_sqlite_dir(settings.database_url)
    store = Store(settings.database_url)
    store.migrate()
    return store


def cmd_sync(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    path = config_path(args, settings)
    mapping = load_mapping(path)
    check_only(mapping, args.only)
    if args.dry_run:
        return dry_run(settings, mapping, console, args.only)
    store = open_store(settings)
    wait_s = settings.lock_timeout_s if args.wait is None else max(0.0, args.wait)
    with store.run_lock(wait_s=wait_s):
        report = sync_with_progress(settings, mapping, store, console, args.only, str(path))
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


def sync_with_progress(
    settings: Settings,
    mapping: MappingFile,
    store: Store | None,
    console: LiteralConsole,
    only: list[str] | None,
    path: str | None,
    dry: bool = False,
) -> SyncReport:
    """Run one sync with a progress bar on a terminal (plain log lines elsewhere)."""
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=LiteralConsole(stderr=True),
        disable=not sys.stderr.isatty(),
        transient=True,
    )
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


def print_run_summary(report: SyncReport, console: LiteralConsole) -> None:
    for kr_id, why in report.skipped.items():
        console.print(f"skipped {kr_id}: {why}")
    for outcome in report.failed:
        console.print(
            Text.assemble(("failed", "red"), f" {outcome.plan.key_result.id}: {outcome.error}")
        )
    requests = ", ".join(f"{k} {v}" for k, v in report.requests.items()) or "none"
    console.print(
        f"run #{report.run_id}: {report.outcome}, {len(report.key_results)} key results, "
        f"{len(report.failed)} failed, requests: {requests}"
    )


def cmd_daemon(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    from sync.daemon import Daemon, DaemonStartError

    daemon = Daemon(
        settings,
        config_path(args, settings),
        every_s=args.every if args.every is not None else settings.daemon.every,
        host=args.host or settings.daemon.health_host,
        port=args.port if args.port is not None else settings.daemon.health_port,
    )
    try:
        return daemon.run()
    except DaemonStartError as exc:
        raise UsageError(str(exc)) from None


def cmd_validate(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    path = config_path(args, settings)
    mapping = load_mapping(path)
    krs = [kr for o in mapping.objectives for kr in o.key_results]
    console.print(
        f"{path}: OK, {len(mapping.objectives)} objectives, {len(krs)} key results, "
        f"period {mapping.period.label}"
    )
    if not args.check_connections:
        return EXIT_OK
    failed = False
    usable: dict[str, Connector] = {}
    for source, connector in build_connectors(settings, sources_of(mapping)).items():
        try:
            if isinstance(connector, ConnectorError):
                raise connector
            console.print(f"{source}: OK, {connector.check()}")
            usable[source] = connector
        except ConnectorError as exc:
            failed = True
            console.print(f"{source}: FAILED, {exc}", style="red")
    errors = check_queries(mapping, str(path), usable, console)
    if any(isinstance(error, QueryError) for error in errors):
        return EXIT_CONFIG  # a tracker refused a query as written: the file is wrong
    return EXIT_FAILURES if failed or errors else EXIT_OK


def check_queries(
    mapping: MappingFile, name: str, connectors: dict[str, Connector], console: LiteralConsole
) -> list[ConnectorError]:
    """Try each distinct query once, cheaply, and the tracker fields each metric names, on
    the trackers that answered; return the failures, each shown where it is written."""
    errors: list[ConnectorError] = []

    def show(use: SelectorUse, loc: Loc, error: ConnectorError) -> None:
        errors.append(error)
        line = mapping.line_of(loc)
        where = name if line is None else f"{name}:{line}"
        console.print(
            f"{where}: {format_loc(loc)} (key result {use.key_result}): FAILED, {error}",
            style="red",
            soft_wrap=True,  # one line per failure, whatever the width
        )

    checked = refused = 0
    for selector, uses in selector_uses(mapping).items():
        connector = connectors.get(selector.source)
        if not isinstance(connector, QueryChecker):
            continue  # its tracker failed above
        checked += 1
        try:
            connector.check_query(selector)
        except ConnectorError as exc:
            refused += 1
            for use in uses:
                show(use, use.loc, exc)
            continue
        for use in uses:
            try:
                connector.check_fields(use.needs)
            except ConnectorError as exc:
                show(use, use.loc[:-1], exc)  # the metric, whose field or where names it
    if checked:
        console.print(f"queries: {checked - refused} of {checked} OK")
    return errors


def cmd_status(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    store = open_store(settings)
    wanted = TreeFilter(level=args.level, owner=args.owner, objective=args.objective)
    if args.json:
        print(json.dumps(status_document(store, wanted), indent=2))
    else:
        render_status(store, console, wanted)
    return EXIT_OK


def cmd_note(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    mapping = load_mapping(config_path(args, settings))
    if not args.text.strip():
        raise UsageError("note: the text is empty")
    store = open_store(settings)
    with store.run_lock(wait_s=max(settings.lock_timeout_s, 10.0)):
        apply_checkin(settings, mapping, store, args.kr, None, args.text)
    console.print(f"{args.kr}: note recorded")
    return EXIT_OK


def cmd_report(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    from sync.reports import ReportError, parse_window, render_report

    try:
        window = parse_window(args.period)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    text = render_report(open_store(settings), args.format, window)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output {args.output}: {exc.strerror}") from None
    console.print(f"report written to {args.output}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    from sync.dashboard.serving import serve_dashboard

    host = args.host or settings.dashboard.host
    port = settings.dashboard.port if args.port is None else args.port
    store = open_store(settings)
    try:
        serve_dashboard(
            store, settings, host, port, lambda url: print(f"dashboard: {url}", flush=True)
        )
    except OSError as exc:
        raise UsageError(f"serve on {host}:{port}: {exc.strerror or exc}") from None
    return EXIT_OK


def known_kr(store: Store, kr_id: str) -> None:
    if store.key_result(kr_id) is None:
        known = ", ".join(row["id"] for row in store.all_key_results()) or "none yet"
        raise UsageError(f"unknown key result '{kr_id}' (in the store: {known})")


def cmd_history(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    store = open_store(settings)
    known_kr(store, args.kr)
    render_history(store, args.kr, console)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    store = open_store(settings)
    known_kr(store, args.kr)
    render_explain(store, args.kr, console)
    return EXIT_OK


def cmd_checkin(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    mapping = load_mapping(config_path(args, settings))
    value = parse_value(args.value)
    store = open_store(settings)
    with store.run_lock(wait_s=max(settings.lock_timeout_s, 10.0)):
        outcome = apply_checkin(settings, mapping, store, args.kr, value, args.note)
    kr = outcome.plan.key_result
    console.print(
        f"{kr.id}: {format_number(outcome.value, kr.unit)} recorded ({outcome.progress.status})"
    )
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    from sandbox.server import SandboxOptions, build_sandbox

    console.print("Starting the sandbox (Jira Cloud + GitHub on loopback)…")
    with build_sandbox(SandboxOptions(seed=args.seed)).start() as box:
        demo_settings = settings.model_copy(
            update={
                "jira": settings.jira.model_copy(update=box.jira_settings()),
                "github": settings.github.model_copy(update=box.github_settings()),
            }
        )
        mapping = load_mapping(demo_mapping_path())
        store = open_store(demo_settings)
        with store.run_lock(wait_s=10.0):
            report = sync_with_progress(
                demo_settings, mapping, store, console, None, str(demo_mapping_path())
            )
    print_run_summary(report, console)
    render_status(store, console)
    console.print(
        f"Stored in {store.safe_url}. Try: python run.py status --json, "
        f"python run.py explain {mapping.objectives[0].key_results[0].id}"
    )
    return report.exit_code


def cmd_sandbox(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    from sandbox.server import SandboxOptions, build_sandbox

    box = build_sandbox(SandboxOptions(seed=args.seed, jira_flavour=args.jira_flavour))
    try:
        box.start(port=args.port)
    except OSError as exc:
        raise UsageError(f"--port {args.port}: {exc.strerror}") from None
    for key, value in box.settings_env().items():
        print(f"{key}={value}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
    return EXIT_OK


COMMANDS = {
    "sync": cmd_sync,
    "daemon": cmd_daemon,
    "validate": cmd_validate,
    "status": cmd_status,
    "history": cmd_history,
    "explain": cmd_explain,
    "checkin": cmd_checkin,
    "note": cmd_note,
    "report": cmd_report,
    "serve": cmd_serve,
    "demo": cmd_demo,
    "sandbox": cmd_sandbox,
}
