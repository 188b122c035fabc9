"""Reading `okrs.yaml`: YAML with line numbers, then the schema in `config.mapping`.

Every problem becomes a `MappingIssue` with its place and line, so a user can fix the file
from the message alone; the loader only reads the file and never touches the store.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Tag, ValidationError

from config.locations import FieldIssues, Loc, format_loc, unknown_key_message
from config.mapping import MappingFile
from config.value_types import NAMESPACE_MAX_LENGTH, SLUG

MAX_BYTES = 2_000_000
MAX_NODES = 200_000  # after alias expansion: bounds the work an alias bomb could cause


@dataclass(frozen=True)
class MappingIssue:
    """One problem: `location` like `objectives[1].key_results[0].metric.jql`, 1-based line."""

    location: str
    line: int | None
    message: str


class MappingError(Exception):
    """A mapping file that cannot be used; str() is one `file:line: location: message` per issue."""

    def __init__(self, source_name: str, errors: list[MappingIssue]) -> None:
        self.source_name = source_name
        self.errors = errors
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(self._format(issue) for issue in self.errors)

    def _format(self, issue: MappingIssue) -> str:
        place = self.source_name if issue.line is None else f"{self.source_name}:{issue.line}"
        if issue.location:
            return f"{place}: {issue.location}: {issue.message}"
        return f"{place}: {issue.message}"


class _Lines:
    """Line numbers of every key and list item of the YAML tree, by pydantic-style path."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}
        self.duplicates: list[MappingIssue] = []
        self._seen: set[int] = set()

    def walk(self, node: yaml.Node, path: Loc) -> None:
        if id(node) in self._seen:  # an alias: already walked under its anchor
            return
        self._seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                    self.walk(value_node, path)
                    continue
                key = key_node.value
                line = key_node.start_mark.line + 1
                ident = (key_node.tag, key)
                if ident in first_line:
                    self.duplicates.append(
                        MappingIssue(
                            format_loc((*path, key)),
                            line,
                            f"duplicate key '{key}' (first on line {first_line[ident]})",
                        )
                    )
                    continue
                first_line[ident] = line
                self.lines[(*path, key)] = line
                self.walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                self.walk(item, (*path, index))

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest written ancestor (a missing field's parent)."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """Nodes the document has once aliases are expanded; refuses recursive aliases."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise ValueError("recursive alias")
    active.add(key)
    size = 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, memo, active) + _expanded_size(
                value_node, memo, active
            )
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, memo, active)
    active.discard(key)
    memo[key] = size
    return size


def _yaml_issue(exc: yaml.YAMLError) -> MappingIssue:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        parts = [p for p in (exc.context, exc.problem) if p]
        return MappingIssue("", line, "YAML syntax error: " + ", ".join(parts))
    return MappingIssue("", None, f"YAML syntax error: {exc}")


def _parse_yaml(text: str, source_name: str) -> tuple[Any, _Lines]:
    try:
        loader = yaml.SafeLoader(text)  # refuses control characters at once
    except yaml.YAMLError as exc:
        raise MappingError(source_name, [_yaml_issue(exc)]) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise MappingError(source_name, [_yaml_issue(exc)]) from None
        except RecursionError:
            raise MappingError(
                source_name, [MappingIssue("", None, "YAML is nested too deeply")]
            ) from None
        if node is None:
            raise MappingError(source_name, [MappingIssue("", None, "the file is empty")])
        try:
            size = _expanded_size(node, {}, set())
        except (ValueError, RecursionError):
            raise MappingError(
                source_name, [MappingIssue("", None, "recursive or too deeply nested YAML aliases")]
            ) from None
        if size > MAX_NODES:
            raise MappingError(
                source_name,
                [MappingIssue("", None, f"the file expands to more than {MAX_NODES} YAML nodes")],
            )
        lines = _Lines()
        lines.walk(node, ())
        if lines.duplicates:
            raise MappingError(source_name, lines.duplicates)
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise MappingError(source_name, [_yaml_issue(exc)]) from None
    finally:
        loader.dispose()
    return data, lines


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated so list/dict/model types can be followed along a path."""
    while True:
        origin = get_origin(annotation)
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        elif origin is not None and hasattr(annotation, "__metadata__"):
            annotation = get_args(annotation)[0]
        else:
            return annotation


def _union_members(annotation: Any) -> dict[str, Any]:
    """The members of a tagged union (the metric), by tag; empty for anything else."""
    members: dict[str, Any] = {}
    for arg in get_args(annotation):
        for meta in getattr(arg, "__metadata__", ()):
            if isinstance(meta, Tag):
                members[meta.tag] = get_args(arg)[0]
    return members


def _as_written(loc: Loc) -> tuple[Loc, type[BaseModel] | None]:
    """`loc` without the union tags pydantic puts in it (`metric.count:jql.jql` is
    `metric.jql` in the file), and the model class the mapping at its end is validated as."""
    current: Any = MappingFile
    written: list[str | int] = []
    for part in loc:
        current = _unwrap(current)
        members = _union_members(current) if get_origin(current) in (Union, types.UnionType) else {}
        if isinstance(part, str) and part in members:
            current = members[part]
            continue
        written.append(part)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            current = field.annotation if field is not None else None
        elif get_origin(current) is list and isinstance(part, int):
            current = get_args(current)[0]
        elif get_origin(current) is dict and isinstance(part, str):
            current = get_args(current)[1]
        else:
            current = None
    current = _unwrap(current)
    model = current if isinstance(current, type) and issubclass(current, BaseModel) else None
    return tuple(written), model


def _unknown_key_message(loc: Loc) -> str:
    """`loc` as pydantic gives it, union tags included."""
    _, model = _as_written(loc[:-1])
    if model is None or not loc or not isinstance(loc[-1], str):
        return "unknown key"
    return unknown_key_message(loc[-1], list(model.model_fields))


def _issues_from(exc: ValidationError, lines: _Lines) -> list[MappingIssue]:
    issues: list[MappingIssue] = []
    for error in exc.errors():
        raw: Loc = tuple(error["loc"])
        loc, _ = _as_written(raw)
        kind = error["type"]
        key_problem = bool(loc) and loc[-1] == "[key]"  # a dict key of the wrong kind
        if key_problem:
            loc = loc[:-1]
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldIssues):
            for sub_loc, message in cause.issues:
                full = (*loc, *sub_loc)
                issues.append(MappingIssue(format_loc(full), lines.line_of(full), message))
            continue
        if kind == "missing":
            message = "field required"
        elif kind == "extra_forbidden":
            message = _unknown_key_message(raw)
        elif kind == "value_error" and cause is not None:
            message = str(cause)
        else:
            text = str(error["msg"])
            message = text[:1].lower() + text[1:]
            value = error.get("input")
            if isinstance(value, str | int | float | bool) and len(repr(value)) <= 60:
                message += f" (got {value!r})"
        if key_problem:
            message = f"invalid key: {message}"
        issues.append(MappingIssue(format_loc(loc), lines.line_of(loc), message))
    return issues


def load_mapping_text(
    text: str, *, source_name: str, today: date | None = None, namespace: str | None = None
) -> MappingFile:
    """Validate mapping-file text; placeholders expand with `today` (default: today, UTC).
    `namespace` is the file's when it names none (`load_mapping`: the file's name)."""
    if len(text) > MAX_BYTES:
        raise MappingError(
            source_name, [MappingIssue("", None, f"the file is larger than {MAX_BYTES} bytes")]
        )
    data, lines = _parse_yaml(text, source_name)
    if data is None:
        raise MappingError(source_name, [MappingIssue("", None, "the file is empty")])
    if not isinstance(data, dict):
        raise MappingError(
            source_name,
            [
                MappingIssue(
                    "",
                    1,
                    f"the file must be a mapping with version, period and objectives, "
                    f"not a {type(data).__name__}",
                )
            ],
        )
    if namespace is not None and "namespace" not in data:
        if not SLUG.match(namespace) or len(namespace) > NAMESPACE_MAX_LENGTH:
            raise MappingError(
                source_name,
                [
                    MappingIssue(
                        "namespace",
                        None,
                        f"the file's name gives the namespace {namespace!r}, which is not a valid "
                        "one (lowercase letters, digits, '-' and '_'): write `namespace: <name>` "
                        "at the top of the file",
                    )
                ],
            )
        data = {"namespace": namespace, **data}
    when = today or datetime.now(UTC).date()
    try:
        mapping = MappingFile.model_validate(data, context={"today": when})
    except ValidationError as exc:
        raise MappingError(source_name, _issues_from(exc, lines)) from None
    mapping._line_of = lines.line_of  # later checks (e.g. of connections) point at lines too
    return mapping


def load_mapping(path: Path, *, today: date | None = None) -> MappingFile:
    """Read and validate a mapping file; raise MappingError (never touches the store)."""
    name = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise MappingError(name, [MappingIssue("", None, "file not found")]) from None
    except IsADirectoryError:
        raise MappingError(name, [MappingIssue("", None, "is a directory, not a file")]) from None
    except OSError as exc:
        raise MappingError(name, [MappingIssue("", None, f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingError(
            name, [MappingIssue("", None, f"not UTF-8 text (byte {exc.start})")]
        ) from None
    return load_mapping_text(text, source_name=name, today=today, namespace=path.stem.lower())
