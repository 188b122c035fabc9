"""The mapping files `--config` names, as the commands that sync read them: every file
checked together (`config.files`), then what only the store can tell: a parent in a
namespace none of the files is for exists when the store holds that namespace."""

from __future__ import annotations

from pathlib import Path

from config.files import MappingFiles, MappingFilesError, load_mapping_files
from config.loader import MappingError
from config.settings import Settings
from sync.literal_text import LiteralConsole
from sync.store import Store, open_existing


def load_checked(spec: Path, settings: Settings, console: LiteralConsole) -> MappingFiles:
    """The files, checked together and against the store if there is one (nothing is
    created); a parent the store cannot tell about is a warning, printed, since its file
    may not be synced yet."""
    loaded = load_mapping_files(spec)
    store = open_existing(settings.database_url) if loaded.external_parents else None
    try:
        errors = parent_errors(loaded, store, console)
    finally:
        if store is not None:
            store.close()
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MappingFilesError(errors)
    return loaded


def parent_errors(
    loaded: MappingFiles, store: Store | None, console: LiteralConsole
) -> list[MappingError]:
    """A parent in a namespace the store holds that has no such objective listed in its
    current cycle: an error; in a namespace the store does not hold: a warning."""
    known = set(store.namespaces()) if store is not None and loaded.external_parents else set()
    listed: dict[str, set[str]] = {}
    errors: list[MappingError] = []
    for parent in loaded.external_parents:
        ref = f"{parent.namespace}/{parent.objective_id}"
        if parent.namespace not in known or store is None:
            where = parent.path if parent.line is None else f"{parent.path}:{parent.line}"
            console.print(
                f"{where}: {parent.location}: warning: parent '{ref}': namespace "
                f"'{parent.namespace}' is neither among the files nor in the store yet",
                style="yellow",
                soft_wrap=True,
            )
            continue
        if parent.namespace not in listed:
            rows = store.in_namespace(parent.namespace).all_objectives()
            listed[parent.namespace] = {row.id for row in rows if row.retired_at is None}
        if parent.objective_id not in listed[parent.namespace]:
            errors.append(
                parent.issue(
                    f"unknown parent '{ref}': the store's namespace '{parent.namespace}' "
                    f"has no objective '{parent.objective_id}'"
                )
            )
    return errors
