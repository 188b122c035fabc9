"""What the daemon schedules: each mapping file's key results grouped by the cadence they
sync on (their own `schedule:`, their objective's, the file's, `--every`, else hourly)."""

from __future__ import annotations

from collections.abc import Sequence

from config.cadence import Cadence
from config.files import LoadedMapping
from config.mapping import MappingFile

DEFAULT_CADENCE = Cadence(every_s=3600.0)


def default_cadence(mapping: MappingFile, every_s: float | None) -> Cadence:
    """`--every` or OKRSYNC_DAEMON__EVERY, else the mapping file's `schedule:`, else hourly."""
    if every_s is not None:
        return Cadence(every_s=every_s)
    if mapping.schedule is not None:
        return mapping.schedule.cadence()
    return DEFAULT_CADENCE


def cadence_groups(mapping: MappingFile, default: Cadence) -> dict[Cadence, list[str]]:
    """Key result ids by the cadence they sync on: their own, their objective's, or `default`."""
    groups: dict[Cadence, list[str]] = {}
    for objective, kr in mapping.key_results():
        spec = kr.schedule or objective.schedule
        groups.setdefault(spec.cadence() if spec else default, []).append(kr.id)
    return groups


def file_groups(files: Sequence[LoadedMapping], every_s: float | None) -> dict[Cadence, list[str]]:
    """`cadence_groups` of every file; with several files, each id as `namespace/id`."""
    if len(files) == 1:
        mapping = files[0].mapping
        return cadence_groups(mapping, default_cadence(mapping, every_s))
    groups: dict[Cadence, list[str]] = {}
    for file in files:
        default = default_cadence(file.mapping, every_s)
        for cadence, ids in cadence_groups(file.mapping, default).items():
            groups.setdefault(cadence, []).extend(f"{file.namespace}/{kr}" for kr in ids)
    return groups


def ids_of_file(file: LoadedMapping, refs: list[str], several: bool) -> list[str]:
    """The ids among `refs` (a cadence's group) that are `file`'s."""
    if not several:
        return refs
    prefix = f"{file.namespace}/"
    return [ref.removeprefix(prefix) for ref in refs if ref.startswith(prefix)]
