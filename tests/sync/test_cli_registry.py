"""The command registry: every command one module of `sync.commands` with its name, help
and handler, and every option of every parser described (issue 13)."""

from __future__ import annotations

import argparse
import pkgutil
from collections.abc import Iterator

import sync.commands
from sync.cli import build_parser
from sync.commands.command import Command
from sync.commands.registry import COMMANDS

SHARED_MODULES = {
    "arguments",
    "checkin_files",
    "command",
    "live_run",
    "mapping_files",
    "registry",
    "sandbox_checkout",
    "store_access",
}


def parsers(
    parser: argparse.ArgumentParser, path: str = "okrsync"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The parser and every subparser below it, each with the words that reach it."""
    yield path, parser
    for action in parser._actions:  # argparse lists its actions only through this attribute
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from parsers(child, f"{path} {name}")


def undescribed_options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option or positional of every parser under `parser` that has no help text."""
    return [
        f"{path}: {'/'.join(action.option_strings) or action.dest}"
        for path, each in parsers(parser)
        for action in each._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]


def test_every_option_of_every_command_has_help() -> None:
    assert undescribed_options(build_parser()) == []


def test_the_walk_finds_an_option_without_help() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    sub.choices["status"].add_argument("--bare")
    group = sub.choices["sync"].add_mutually_exclusive_group()
    group.add_argument("--also-bare", action="store_true")
    assert undescribed_options(parser) == ["okrsync sync: --also-bare", "okrsync status: --bare"]


def test_every_command_module_is_registered_under_its_own_name() -> None:
    modules = {m.name for m in pkgutil.iter_modules(sync.commands.__path__)} - SHARED_MODULES
    registered = {command.run.__module__.rsplit(".", 1)[1] for command in COMMANDS.values()}
    assert registered == modules
    for name, command in COMMANDS.items():
        assert isinstance(command, Command) and command.name == name
        assert command.help and "\n" not in command.help, name
        assert command.description.startswith(command.help)


def test_commands_are_listed_in_the_registry_order() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert (
        list(sub.choices)
        == list(COMMANDS)
        == [
            "sync",
            "backfill",
            "daemon",
            "validate",
            "status",
            "history",
            "explain",
            "checkin",
            "note",
            "report",
            "serve",
            "demo",
            "prune",
            "sandbox",
        ]
    )
