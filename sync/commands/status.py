"""`okrsync status`: the objective tree from the store, as a table or as JSON."""

from __future__ import annotations

import argparse
import json

from config.settings import Settings
from sync.commands.arguments import namespace_argument, period_argument, text_arg
from sync.commands.command import EXIT_OK, Command
from sync.commands.store_access import (
    every_namespace,
    in_namespace,
    in_period,
    known_objective,
    open_store_to_read,
)
from sync.documents import status_document
from sync.literal_text import LiteralConsole
from sync.organization import EVERY_NAMESPACE, organization_document
from sync.standing import TreeFilter
from sync.status_view import render_organization, render_status


def arguments(parser: argparse.ArgumentParser) -> None:
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
    namespace_argument(
        parser,
        help="only this namespace (a mapping file's); '*': every namespace as one tree, "
        "objectives aligned across namespaces under their parents (--json too); default: "
        "'*' on a store of several namespaces, the one namespace otherwise (--json: the one "
        "the newest sync wrote, and a list of all)",
    )
    period_argument(parser)


def run(args: argparse.Namespace, settings: Settings, console: LiteralConsole) -> int:
    opened = open_store_to_read(settings)
    wanted = TreeFilter(
        level=args.level, owner=args.owner, objective=args.objective, retired=args.all
    )
    organization = args.namespace == EVERY_NAMESPACE
    if args.namespace is None and not args.json:
        organization = len(opened.namespaces()) > 1
    if organization:
        stores = every_namespace(opened, args.period, args.objective)
        if args.json:
            document = organization_document(stores, wanted).model_dump(mode="json")
            print(json.dumps(document, indent=2))
        else:
            render_organization(stores, console, wanted)
        return EXIT_OK
    store = in_period(in_namespace(opened, args.namespace), args.period)
    if args.objective is not None:
        known_objective(store, args.objective)
    if args.json:
        print(json.dumps(status_document(store, wanted).model_dump(mode="json"), indent=2))
    else:
        render_status(store, console, wanted)
    return EXIT_OK


COMMAND = Command(
    name="status",
    help="Show the progress of every objective and key result in the store.",
    arguments=arguments,
    run=run,
)
