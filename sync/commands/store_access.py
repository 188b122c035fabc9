"""The store as the commands open it, and the ids they are asked about looked up in it: a
mistyped path or id is said, with what there is, instead of shown as an empty store."""

from __future__ import annotations

import difflib

from config.periods import PeriodError, parse_period
from config.settings import Settings
from sync.commands.command import UsageError
from sync.namespace_standing import qualified
from sync.standing import UnknownCycle, shown_in
from sync.store import Store, ensure_sqlite_dir, sqlite_file


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


def in_namespace(store: Store, namespace: str | None, *, option: str = "--namespace") -> Store:
    """The store's reads in `namespace` (else in the current one, the newest sync's); one
    the store does not hold is a usage error naming those it does."""
    if namespace is None:
        return store
    known = store.namespaces()
    if namespace not in known:
        raise UsageError(
            f"{option}: unknown namespace '{namespace}' ({ids_in_store(namespace, known)})"
        )
    return store.in_namespace(namespace)


def split_kr(kr_ref: str, namespace: str | None) -> tuple[str | None, str]:
    """`platform/lead-time` as (namespace, id); a bare id keeps `--namespace`. Both given and
    different is a usage error."""
    if "/" not in kr_ref:
        return namespace, kr_ref
    named, kr_id = kr_ref.split("/", 1)
    if namespace is not None and named != namespace:
        raise UsageError(f"key result '{kr_ref}' is not in --namespace {namespace}")
    return named, kr_id


def kr_in_store(
    settings: Settings, kr_ref: str, namespace: str | None, period: str | None
) -> tuple[Store, str]:
    """The store's reads where `kr_ref` (an id or `namespace/id`) lives, in `period`, and
    its id; an unknown namespace, cycle or key result is a usage error."""
    named, kr_id = split_kr(kr_ref, namespace)
    option = "--namespace" if named == namespace else "KR"
    store = in_period(in_namespace(open_store_to_read(settings), named, option=option), period)
    known_kr(store, kr_id)
    return store, kr_id


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


def in_period(store: Store, period: str | None, *, option: str = "--period") -> Store:
    """The store's reads in the cycle `period` names, else in the current cycle
    (`sync.standing.shown_in`); a period written wrong, or that is no cycle of the store, is
    a usage error naming the cycles there are."""
    try:
        return shown_in(store, period)
    except (PeriodError, UnknownCycle) as exc:
        raise UsageError(f"{option}: {exc}") from None


def is_period(text: str) -> bool:
    """Whether `text` is written as a period (`report --period` takes a window or a cycle)."""
    try:
        parse_period(text)
    except PeriodError:
        return False
    return True


def every_namespace(store: Store, period: str | None, objective: str | None) -> list[Store]:
    """The store's reads in each namespace, in name order: in its current cycle, or in the
    one `--period` names where the namespace holds it. A period no namespace holds, or an
    objective none lists (`id` or `namespace/id`), is the usage error one namespace would
    give."""
    shown = []
    for name in store.namespaces():
        try:
            shown.append(in_period(store.in_namespace(name), period))
        except UsageError:
            continue
    if not shown:
        in_period(store, period)  # raises, naming the current namespace's cycles
    if objective is not None and not any(
        objective in {row.id, qualified(each.namespace, row.id)}
        for each in shown
        for row in each.all_objectives()
    ):
        known_objective(shown[0], objective)  # raises, with a did-you-mean
    return shown
