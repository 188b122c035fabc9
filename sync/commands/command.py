"""What a command of the command line is, what it may raise and the exit codes it returns:
defined below `sync.cli` so that every command module can use them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from config.settings import Settings
from sync.literal_text import LiteralConsole

EXIT_OK, EXIT_FAILURES, EXIT_CONFIG = 0, 1, 2


class UsageError(Exception):
    """Bad configuration or usage: exit code 2, nothing written."""


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For a command that takes nothing besides --config and --env-file."""


@dataclass(frozen=True)
class Command:
    """One command: its name, its one-line `help` (the summary in `okrsync --help`), the
    `details` its own --help adds below that line, the options it takes besides --config and
    --env-file, and what it does (returning the exit code)."""

    name: str
    help: str
    run: Callable[[argparse.Namespace, Settings, LiteralConsole], int]
    arguments: Callable[[argparse.ArgumentParser], None] = no_arguments
    details: str = ""

    @property
    def description(self) -> str:
        return f"{self.help}\n\n{self.details}" if self.details else self.help
