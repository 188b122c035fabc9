"""Many mapping files at once: `--config` as a file, a directory or a glob, checked together.

Each file is read by `config.loader` as when alone; then what spans files is checked: one
namespace per file, and `parent: namespace/id` across files (the parent exists, alignment
does not loop). Every file is read and every problem reported, each with its file and line,
before anything is used, so a run never writes some files and refuses others. A parent in a
namespace none of the files is for is left to the caller, who may know it from the store.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from config.loader import MappingError, MappingIssue, load_mapping
from config.locations import Loc, format_loc
from config.mapping import MappingFile

SUFFIXES = (".yaml", ".yml")
_GLOB_CHARACTERS = frozenset("*?[")


class MappingFilesError(MappingError):
    """Problems in several files; str() is each file's `file:line: location: message`."""

    def __init__(self, errors: list[MappingError]) -> None:
        self.parts = errors
        super().__init__(errors[0].source_name, [i for e in errors for i in e.errors])

    def __str__(self) -> str:
        return "\n".join(str(part) for part in self.parts)


@dataclass(frozen=True)
class LoadedMapping:
    """One mapping file as read: where it is, and what it says."""

    path: Path
    mapping: MappingFile

    @property
    def namespace(self) -> str:
        return self.mapping.namespace


@dataclass(frozen=True)
class ExternalParent:
    """`parent: namespace/id` whose namespace none of the files given is for."""

    path: Path
    line: int | None
    location: str
    namespace: str
    objective_id: str

    def issue(self, message: str) -> MappingError:
        return MappingError(str(self.path), [MappingIssue(self.location, self.line, message)])


@dataclass(frozen=True)
class MappingFiles:
    """The files `--config` named, in name order, and the parents only a store can tell."""

    files: list[LoadedMapping]
    external_parents: list[ExternalParent]


def config_files(spec: Path | str) -> list[Path]:
    """The files `spec` names: itself, a directory's `*.yaml`/`*.yml`, or a glob's matches;
    sorted by name. A single file is returned even when missing (its read says so)."""
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        if not found:
            raise MappingError(
                text,
                [MappingIssue("", None, "no mapping files (*.yaml, *.yml) in this directory")],
            )
        return found
    if _GLOB_CHARACTERS & set(text) and not path.exists():
        matched = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not matched:
            raise MappingError(text, [MappingIssue("", None, "no file matches this pattern")])
        return matched
    return [path]


def load_mapping_files(spec: Path | str, *, today: date | None = None) -> MappingFiles:
    """Read every file `spec` names and check them together; raise `MappingError` (one
    file) or `MappingFilesError` (several) naming every problem found."""
    paths = config_files(spec)
    errors: list[MappingError] = []
    loaded: list[LoadedMapping] = []
    for path in paths:
        try:
            loaded.append(LoadedMapping(path, load_mapping(path, today=today)))
        except MappingError as exc:
            errors.append(exc)
    issues: dict[Path, list[MappingIssue]] = {}
    for path, issue in [*_namespace_clashes(loaded), *_parent_issues(loaded)]:
        issues.setdefault(path, []).append(issue)
    errors += [MappingError(str(path), found) for path, found in issues.items()]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MappingFilesError(errors)
    return MappingFiles(loaded, _external_parents(loaded))


def _namespace_clashes(loaded: list[LoadedMapping]) -> list[tuple[Path, MappingIssue]]:
    first: dict[str, LoadedMapping] = {}
    issues: list[tuple[Path, MappingIssue]] = []
    for file in loaded:
        earlier = first.setdefault(file.namespace, file)
        if earlier is file:
            continue
        line = file.mapping.line_of(("namespace",))
        how = "" if line is not None else " (from the file's name)"
        issues.append(
            (
                file.path,
                MappingIssue(
                    "namespace",
                    line,
                    f"namespace '{file.namespace}'{how} is also {earlier.path}'s: each file "
                    "needs a namespace of its own (write `namespace: <name>` at the top)",
                ),
            )
        )
    return issues


def _parent_loc(mapping: MappingFile, objective_id: str) -> tuple[Loc, int | None]:
    index = next(i for i, o in enumerate(mapping.objectives) if o.id == objective_id)
    loc: Loc = ("objectives", index, "parent")
    return loc, mapping.line_of(loc)


def _parent_issues(loaded: list[LoadedMapping]) -> list[tuple[Path, MappingIssue]]:
    """Parents in another of the files given that do not exist, and alignment cycles that
    go through several files (a file's own cycles are its own check's)."""
    by_namespace = {file.namespace: file for file in loaded}
    ids = {ns: {o.id for o in file.mapping.objectives} for ns, file in by_namespace.items()}
    issues: list[tuple[Path, MappingIssue]] = []
    parent_of: dict[str, str] = {}  # "ns/id" -> "ns/id" of its parent, within the files
    for file in by_namespace.values():
        for objective in file.mapping.objectives:
            qualified = f"{file.namespace}/{objective.id}"
            external = file.mapping.external_parent(objective)
            if external is None:
                if objective.parent is not None:
                    parent_of[qualified] = f"{file.namespace}/{objective.parent}"
                continue
            namespace, parent_id = external
            if namespace not in ids:
                continue  # for the store to tell (`external_parents`)
            if parent_id not in ids[namespace]:
                loc, line = _parent_loc(file.mapping, objective.id)
                issues.append(
                    (
                        file.path,
                        MappingIssue(
                            format_loc(loc),
                            line,
                            f"unknown parent '{namespace}/{parent_id}': "
                            f"{by_namespace[namespace].path} has no objective '{parent_id}'",
                        ),
                    )
                )
                continue
            parent_of[qualified] = f"{namespace}/{parent_id}"
    for cycle in _cycles(parent_of):
        if len({member.split("/", 1)[0] for member in cycle}) < 2:
            continue  # within one file: that file's check reports it
        first = cycle[0]
        namespace, objective_id = first.split("/", 1)
        file = by_namespace[namespace]
        loc, line = _parent_loc(file.mapping, objective_id)
        text = " -> ".join([*cycle, first])
        issues.append(
            (
                file.path,
                MappingIssue(format_loc(loc), line, f"alignment cycle across files: {text}"),
            )
        )
    return issues


def _cycles(parent_of: dict[str, str]) -> list[list[str]]:
    """Each cycle of the parent links once, starting at its smallest member; each objective
    is walked up once (a walk stops where an earlier one settled)."""
    cycles: list[list[str]] = []
    settled: set[str] = set()
    for start in sorted(parent_of):
        path: dict[str, int] = {}
        current: str | None = start
        while current is not None and current not in settled:
            if current in path:
                cycle = list(path)[path[current] :]
                at = cycle.index(min(cycle))
                cycles.append(cycle[at:] + cycle[:at])
                break
            path[current] = len(path)
            current = parent_of.get(current)
        settled.update(path)
    return cycles


def _external_parents(loaded: list[LoadedMapping]) -> list[ExternalParent]:
    given = {file.namespace for file in loaded}
    found: list[ExternalParent] = []
    for file in loaded:
        for objective in file.mapping.objectives:
            external = file.mapping.external_parent(objective)
            if external is not None and external[0] not in given:
                loc, line = _parent_loc(file.mapping, objective.id)
                found.append(ExternalParent(file.path, line, format_loc(loc), *external))
    return found
