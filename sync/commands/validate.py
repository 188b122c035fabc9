"""`okrsync validate`: the mapping file checked, and with --check-connections each tracker,
query and field tried once."""

from __future__ import annotations

import argparse

from config.locations import Loc, format_loc
from config.mapping import MappingFile
from config.settings import Settings
from connectors.base import Connector, ConnectorError, QueryChecker, QueryError
from sync.commands.arguments import config_path
from sync.commands.command import EXIT_CONFIG, EXIT_FAILURES, EXIT_OK, Command
from sync.commands.mapping_files import load_checked
from sync.connections import build_connectors
from sync.literal_text import LiteralConsole
from sync.plan import SelectorUse, selector_uses, sources_of


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check-connections",
        action="store_true",
        help="also sign in to each tracker and try each distinct query and field once",
    )


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    loaded = load_checked(config_path(args, settings), settings, console)
    for file in loaded.files:
        mapping = file.mapping
        krs = [kr for o in mapping.objectives for kr in o.key_results]
        console.print(
            f"{file.path}: OK, namespace {mapping.namespace}, {len(mapping.objectives)} "
            f"objectives, {len(krs)} key results, period {mapping.period.label}",
            soft_wrap=True,
        )
    if not args.check_connections:
        return EXIT_OK
    failed = False
    usable: dict[str, Connector] = {}
    sources = set().union(*(sources_of(file.mapping) for file in loaded.files))
    for source, connector in build_connectors(settings, sources).items():
        try:
            if isinstance(connector, ConnectorError):
                raise connector
            console.print(f"{source}: OK, {connector.check()}")
            usable[source] = connector
        except ConnectorError as exc:
            failed = True
            console.print(f"{source}: FAILED, {exc}", style="red")
    errors = [
        error
        for file in loaded.files
        for error in check_queries(file.mapping, str(file.path), usable, console)
    ]
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


COMMAND = Command(
    name="validate",
    help="Check the mapping file, and with --check-connections each tracker and query.",
    details="Nothing is written.",
    arguments=arguments,
    run=run,
)
