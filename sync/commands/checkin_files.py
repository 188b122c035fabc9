"""What `checkin` and `note` share: the files `--config` names (a file, a directory or a
glob, as for `sync`), the key result named in them (`NAMESPACE/ID`, or an id one file alone
has), the write under its namespace's run lock, then, under theirs, the objectives of the
namespaces aligned above it rolled up again (`sync.aligned_rollup`): the organization's
tree does not show a parent's number its children no longer give."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from config.files import load_mapping_files
from config.mapping import MappingFile
from config.settings import Settings
from sync.aligned_rollup import RolledAbove, chain_above, roll_up_above
from sync.checkin import find_key_result, unknown_key_result
from sync.commands.arguments import config_path
from sync.commands.command import UsageError
from sync.commands.store_access import open_store, split_kr
from sync.literal_text import LiteralConsole
from sync.store import Store
from sync.store_errors import RunLockedError

T = TypeVar("T")


@dataclass(frozen=True)
class CheckinTarget:
    """The files given, the one whose key result is checked in, and that key result's id."""

    mappings: list[MappingFile]
    mapping: MappingFile
    kr_id: str

    @property
    def shown(self) -> str:
        """The key result as the command names it back: `ns/id` when several files were given."""
        if len(self.mappings) > 1:
            return f"{self.mapping.namespace}/{self.kr_id}"
        return self.kr_id


def checkin_target(args: argparse.Namespace, settings: Settings) -> CheckinTarget:
    """The files `--config` names, read and checked together (a located error exits 2), and
    the key result `args.kr` names in them."""
    mappings = [file.mapping for file in load_mapping_files(config_path(args, settings)).files]
    mapping, kr_id = locate_key_result(mappings, args.kr)
    return CheckinTarget(mappings, mapping, kr_id)


def locate_key_result(mappings: list[MappingFile], ref: str) -> tuple[MappingFile, str]:
    """`ns/id` in the file of namespace `ns`; a bare id in the one file that has it. An id
    several files have is a usage error naming their namespaces; one no file has, the
    unknown key result's error (one file: as it always said)."""
    by_namespace = {mapping.namespace: mapping for mapping in mappings}
    namespace, kr_id = split_kr(ref, None)
    if namespace is not None:
        if namespace not in by_namespace:
            given = sorted(by_namespace)
            close = difflib.get_close_matches(namespace, given, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UsageError(
                f"KR '{ref}': namespace '{namespace}' is none of the files given "
                f"({hint}given: {', '.join(given)})"
            )
        return by_namespace[namespace], kr_id
    holders = [m for m in mappings if any(kr.id == ref for _, kr in m.key_results())]
    if len(holders) > 1:
        names = [m.namespace for m in holders]
        raise UsageError(
            f"key result '{ref}' is in several namespaces ({', '.join(names)}): name it as "
            f"NAMESPACE/ID, e.g. '{names[0]}/{ref}'"
        )
    if holders:
        return holders[0], ref
    if len(mappings) == 1:
        return mappings[0], ref  # its check-in says the id is unknown, as it always did
    known = [f"{m.namespace}/{kr.id}" for m in mappings for _, kr in m.key_results()]
    raise unknown_key_result(ref, known)


def write_and_roll_up(
    settings: Settings,
    console: LiteralConsole,
    target: CheckinTarget,
    write: Callable[[Store, datetime], T],
) -> T:
    """`write(store in the key result's namespace, now)` under that namespace's run lock,
    then the objectives above in the namespaces given rolled up again and written under
    theirs (name order; SQLite's one lock once). A parent whose file was not given, that the
    store does not hold yet, or whose namespace stays locked by a sync (its roll-up may have
    read the value before this one), is said to follow at its next sync: the check-in itself
    is never lost to a long sync of the company above it."""
    namespace = target.mapping.namespace
    objective, _ = find_key_result(target.mapping, target.kr_id)
    chain = chain_above(target.mappings, namespace, objective.id)
    store = open_store(settings)
    as_of = datetime.now(UTC)
    wait_s = max(settings.lock_timeout_s, 10.0)
    with store.run_locks([namespace], wait_s=wait_s):
        result = write(store.in_namespace(namespace), as_of)
    try:
        with store.run_locks(chain.namespaces, wait_s=wait_s):
            rolled = roll_up_above(settings, target.mappings, store, chain, as_of)
    except RunLockedError:
        refs = [f"{ns}/{oid}" for ns in chain.namespaces for oid in sorted(chain.objectives[ns])]
        console.print(
            f"{', '.join(refs)}: the roll-up follows at the next sync (a sync of "
            f"{', '.join(chain.namespaces)} held the store for {wait_s:.0f} s)",
            soft_wrap=True,
        )
        rolled = RolledAbove([], chain.not_given, [])
    for above in rolled.not_given:
        console.print(
            f"{above.ref}: its roll-up follows at its next sync (the file of namespace "
            f"'{above.namespace}' was not given)",
            soft_wrap=True,
        )
    for above in rolled.not_stored:
        console.print(
            f"{above.ref}: its roll-up follows at its next sync (not in the store yet)",
            soft_wrap=True,
        )
    return result
