"""The command line: one `cmd_*` function per command, whose docstring is its `--help`, and
one `*_arguments` function per command for its options. Exit codes: 0 all good, 1 some key
results failed, 2 bad configuration or usage."""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from config.cadence import parse_duration
from config.loader import MappingError, load_mapping
from config.mapping import Loc, MappingFile, format_loc
from config.settings import Settings, SettingsError, load_settings, unknown_variables
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
from sync.notify import notify_after_run
from sync.plan import QueryPlan, SelectorUse, selector_uses, sources_of
from sync.presentation import format_number, status_document
from sync.standing import TreeFilter
from sync.status_view import (
    HISTORY_LIMIT,
    render_explain,
    render_history,
    render_status,
)
from sync.store import Store, ensure_sqlite_dir, open_existing, sqlite_file
from sync.store_errors import RunLockedError, StoreError

log = logging.getLogger("okrsync")

EXIT_OK, EXIT_FAILURES, EXIT_CONFIG = 0, 1, 2


class UsageError(Exception):
    """Bad configuration or usage: exit code 2, nothing written."""


def demo_mapping_path() -> Path:
    return Path(str(resources.files("config") / "examples" / "demo.yaml"))


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
    for name, command in COMMANDS.items():
        doc = inspect.getdoc(command.run) or ""
        command_parser = sub.add_parser(
            name,
            parents=[shared],
            help=doc.split("\n\n")[0],
            description=doc,
            epilog=EXIT_CODES,
        )
        command.arguments(command_parser)
    return parser


def add_shared_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        metavar="FILE",
        help="the mapping file (default: $OKRSYNC_CONFIG, then ./okrs.yaml); the commands "
        "that only read the store accept it and do not need it",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=default,
        metavar="FILE",
        help="read settings from this file instead of ./.env",
    )


def text_arg(text: str) -> str:
    """A text argument as valid UTF-8: bytes in another encoding reach Python as lone
    surrogates, which no store, terminal or JSON document can take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(text[exc.start]) - 0xDC00  # how Python keeps an undecodable byte
        raise argparse.ArgumentTypeError(
            f"not UTF-8 text: byte 0x{byte:02x} at character {exc.start + 1}; "
            "write it in UTF-8 (check the terminal's or the script's encoding)"
        ) from None
    return text


def port_arg(text: str) -> int:
    """A TCP port, 0 to 65535: the OS would silently take 99999 as 34463."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 0 to 65535")
    return port


def duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def kr_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kr", type=text_arg, metavar="KR", help="the key result's id")


def sync_arguments(parser: argparse.ArgumentParser) -> None:
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


def daemon_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--every",
        type=duration_arg,
        metavar="DURATION",
        help="e.g. 30m or 1h (default: $OKRSYNC_DAEMON__EVERY, the mapping file's schedule, 1h)",
    )
    parser.add_argument(
        "--port", type=port_arg, help="health port (default: $OKRSYNC_DAEMON__HEALTH_PORT, 9464)"
    )
    parser.add_argument(
        "--host",
        type=text_arg,
        help="health address (default: $OKRSYNC_DAEMON__HEALTH_HOST, 127.0.0.1)",
    )


def validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check-connections",
        action="store_true",
        help="also sign in to each tracker and try each distinct query and field once",
    )


def status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--level", type=text_arg, help="only objectives of this level (company, team, ...)"
    )
    parser.add_argument("--owner", type=text_arg, help="only objectives of this owner")
    parser.add_argument(
        "--objective",
        type=text_arg,
        metavar="ID",
        help="this objective and the ones aligned under it",
    )
    parser.add_argument(
        "--all", action="store_true", help="also what the mapping file no longer lists (retired)"
    )


def history_arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    parser.add_argument(
        "--limit",
        type=history_limit_arg,
        default=HISTORY_LIMIT,
        metavar="N",
        help=f"show the newest N values, 0 for every one (default: {HISTORY_LIMIT})",
    )


def history_limit_arg(text: str) -> int | None:
    """`history --limit`: a whole number of values, 0 meaning every one (None)."""
    try:
        limit = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if limit < 0:
        raise argparse.ArgumentTypeError(f"{limit} is below 0 (0 shows every value)")
    return limit or None


def note_arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    parser.add_argument("text", type=text_arg, metavar="TEXT", help="the note")


def report_arguments(parser: argparse.ArgumentParser) -> None:
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


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_arg, help="default: $OKRSYNC_DASHBOARD__PORT, 8080")
    parser.add_argument(
        "--host", type=text_arg, help="default: $OKRSYNC_DASHBOARD__HOST, 127.0.0.1"
    )


def checkin_arguments(parser: argparse.ArgumentParser) -> None:
    kr_argument(parser)
    parser.add_argument("value", type=text_arg, metavar="VALUE", help="the value, e.g. 37 or 12.5")
    parser.add_argument(
        "--note", type=text_arg, metavar="TEXT", help="why, kept with the value in its history"
    )


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=7, help="the generated data set's seed (default: 7)"
    )


def sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=port_arg, default=8765, help="the port to serve on (default: 8765)"
    )
    parser.add_argument(
        "--jira-flavour",
        choices=["cloud", "server"],
        default="cloud",
        help="the Jira API to speak: Cloud or Server/Data Center (default: cloud)",
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="the generated data set's seed (default: 7)"
    )


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


def config_path(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.config) if args.config is not None else Path(settings.config)


def open_store(settings: Settings, connections: int | None = None) -> Store:
    ensure_sqlite_dir(settings.database_url)
    store = Store(settings.database_url, connections=connections)
    store.migrate()
    return store


def open_store_to_read(settings: Settings, connections: int | None = None) -> Store:
    """The store for a command that only reads it: no folder is created for it, so that a
    mistyped path is said, not left behind as folders and shown as an empty store."""
    path = sqlite_file(settings.database_url)
    if path is not None and not path.parent.is_dir():
        raise UsageError(
            f"OKRSYNC_DATABASE_URL: no store at {path}: the folder {path.parent} does not "
            "exist (`sync` creates the store)"
        )
    return open_store(settings, connections)


def cmd_sync(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    """Fetch every key result's value from its tracker, score it and store it: one pass.

    A key result whose tracker fails keeps its last good value and records why; the others
    are written, and the exit code is 1."""
    path = config_path(args, settings)
    mapping = load_mapping(path)
    check_only(mapping, args.only)
    if args.dry_run:
        return dry_run(settings, mapping, console, args.only)
    store = open_store(settings)
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
            demo=demo,
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
            Text.assemble(("failed", "red"), f" {outcome.plan.key_result.id}: {outcome.error}"),
            soft_wrap=True,  # one line per failure, whatever the width
        )
    requests = ", ".join(f"{k} {v}" for k, v in report.requests.items()) or "none"
    console.print(
        f"run #{report.run_id}: {report.outcome}, {len(report.key_results)} key results, "
        f"{len(report.failed)} failed, requests: {requests}"
    )


def cmd_daemon(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    """Sync at start, then on a schedule, until stopped.

    The mapping file is read again before each run; /healthz and /metrics are served on
    the health port."""
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
    """Check the mapping file, and with --check-connections each tracker and query.

    Nothing is written."""
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
    """Show the progress of every objective and key result in the store."""
    store = open_store_to_read(settings)
    if args.objective is not None:
        known_objective(store, args.objective)
    wanted = TreeFilter(
        level=args.level, owner=args.owner, objective=args.objective, retired=args.all
    )
    if args.json:
        print(json.dumps(status_document(store, wanted), indent=2))
    else:
        render_status(store, console, wanted)
    return EXIT_OK


def cmd_note(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    """Add a note to a key result's history."""
    mapping = load_mapping(config_path(args, settings))
    if not args.text.strip():
        raise UsageError("note: the text is empty")
    store = open_store(settings)
    with store.run_lock(wait_s=max(settings.lock_timeout_s, 10.0)):
        apply_checkin(settings, mapping, store, args.kr, None, args.text)
    console.print(f"{args.kr}: note recorded")
    return EXIT_OK


def cmd_report(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    """Write a shareable summary in Markdown, HTML or JSON."""
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


def cmd_serve(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    """Serve the read-only web dashboard and its JSON API."""
    from sync.dashboard.serving import serve_dashboard

    host = args.host or settings.dashboard.host
    port = settings.dashboard.port if args.port is None else args.port
    store = open_store_to_read(settings, connections=settings.dashboard.max_concurrent)
    try:
        serve_dashboard(
            store, settings, host, port, lambda url: print(f"dashboard: {url}", flush=True)
        )
    except OSError as exc:
        raise UsageError(f"serve on {host}:{port}: {exc.strerror or exc}") from None
    return EXIT_OK


def known_kr(store: Store, kr_id: str) -> None:
    if store.key_result(kr_id) is None:
        known = [row.id for row in store.all_key_results()]
        raise UsageError(f"unknown key result '{kr_id}' ({ids_in_store(kr_id, known)})")


def known_objective(store: Store, objective_id: str) -> None:
    known = [row.id for row in store.all_objectives()]
    if objective_id not in known:
        raise UsageError(
            f"--objective: unknown objective '{objective_id}' ({ids_in_store(objective_id, known)})"
        )


def ids_in_store(wanted: str, known: list[str], shown: int = 20) -> str:
    """The ids one could have meant: the closest first, then the others up to `shown`, so a
    store of 2,000 objectives still gives a one-line message."""
    if not known:
        return "in the store: none yet"
    close = difflib.get_close_matches(wanted, known, n=3)
    listed = close + [i for i in known if i not in close]
    more = f" and {len(listed) - shown} more" if len(listed) > shown else ""
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"{hint}in the store: {', '.join(listed[:shown])}{more}"


def cmd_history(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    """Show the values of one key result over time."""
    store = open_store_to_read(settings)
    known_kr(store, args.kr)
    render_history(store, args.kr, console, args.limit)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    """Show how a key result's value was obtained: its query, items or count, errors."""
    store = open_store_to_read(settings)
    known_kr(store, args.kr)
    render_explain(store, args.kr, console)
    return EXIT_OK


def cmd_checkin(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    """Set a manual key result's value by hand."""
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
    """Sync the built-in sandbox into SQLite and show the result; no credentials needed."""
    from sandbox.server import SandboxOptions, build_sandbox

    mapping = load_mapping(demo_mapping_path())
    store = open_store(settings)
    with store.run_lock(wait_s=10.0):
        refuse_foreign_store(store)
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


def refuse_foreign_store(store: Store) -> None:
    """The demo writes only into a store that holds nothing but what it wrote itself: its
    objectives would stay among real ones, and its run would retire them."""
    foreign = store.objectives_not_from_demo()
    if foreign:
        more = len(foreign) - 5
        shown = ", ".join(foreign[:5]) + (f" and {more} more" if more > 0 else "")
        raise UsageError(
            f"demo: the store {store.safe_url} holds objectives the demo did not write "
            f"({shown}); the demo writes only into a new store or its own. Set "
            "OKRSYNC_DATABASE_URL to another one, e.g. sqlite:///okrsync-demo.db"
        )


def cmd_sandbox(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    """Serve the Jira and GitHub sandbox on loopback until stopped.

    It prints the OKRSYNC_* settings that point okr-sync at it."""
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


@dataclass(frozen=True)
class Command:
    """What a command does, and the options it takes besides --config and --env-file."""

    run: Callable[[argparse.Namespace, Settings, LiteralConsole], int]
    arguments: Callable[[argparse.ArgumentParser], None]


COMMANDS = {
    "sync": Command(cmd_sync, sync_arguments),
    "daemon": Command(cmd_daemon, daemon_arguments),
    "validate": Command(cmd_validate, validate_arguments),
    "status": Command(cmd_status, status_arguments),
    "history": Command(cmd_history, history_arguments),
    "explain": Command(cmd_explain, kr_argument),
    "checkin": Command(cmd_checkin, checkin_arguments),
    "note": Command(cmd_note, note_arguments),
    "report": Command(cmd_report, report_arguments),
    "serve": Command(cmd_serve, serve_arguments),
    "demo": Command(cmd_demo, demo_arguments),
    "sandbox": Command(cmd_sandbox, sandbox_arguments),
}
