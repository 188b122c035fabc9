"""Argument types and arguments more than one command takes: each value checked as argparse
reads it, so that a bad one is a usage error (exit 2) naming the option."""

from __future__ import annotations

import argparse
from pathlib import Path

from config.cadence import parse_duration
from config.settings import Settings
from config.shards import Shard, parse_shard


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
    parser.add_argument(
        "kr", type=text_arg, metavar="KR", help="the key result's id, or NAMESPACE/ID"
    )


NAMESPACE_HELP = (
    "the namespace to show (a mapping file's; default: the one the newest sync wrote); a key "
    "result may also be named N/ID"
)


def namespace_argument(parser: argparse.ArgumentParser, help: str = NAMESPACE_HELP) -> None:
    parser.add_argument("--namespace", type=text_arg, metavar="N", help=help)


def period_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--period",
        type=text_arg,
        metavar="P",
        help="the cycle to show: 2026-Q3, or 2026-07-01..2026-09-30 (default: the cycle the "
        "newest sync wrote)",
    )


def add_shared_options(parser: argparse.ArgumentParser, default: object) -> None:
    """`--config` and `--env-file`, which every command accepts."""
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        metavar="FILE",
        help="the mapping file (default: $OKRSYNC_CONFIG, then ./okrs.yaml); `sync`, "
        "`validate`, `daemon`, `checkin` and `note` also take a directory (its *.yaml, *.yml) "
        "or a glob "
        "('teams/*.yaml'); the commands that only read the store accept it and do not need it",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=default,
        metavar="FILE",
        help="read settings from this file instead of ./.env",
    )


def config_path(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.config) if args.config is not None else Path(settings.config)


def shard_arg(text: str) -> Shard:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def shard_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shard",
        type=shard_arg,
        metavar="I/N",
        help="only the namespaces of shard I of N (SHA-256 of the name mod N; I from 0), e.g. "
        "one per pod of an Indexed Job (default: $OKRSYNC_SHARD, every namespace)",
    )


def shard_of_run(args: argparse.Namespace, settings: Settings) -> Shard | None:
    """`--shard`, else OKRSYNC_SHARD, else None (every namespace)."""
    shard: Shard | None = args.shard if args.shard is not None else settings.shard
    return shard
