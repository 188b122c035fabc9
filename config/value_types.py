"""The small annotated types the mapping file's models share: ids, periods, numbers, text.

Each carries its validator and, where pydantic cannot derive it, the JSON Schema an editor
checks while typing (config/schema.py); the validators stay the authority.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, PlainSerializer, PlainValidator, WithJsonSchema

from config.periods import Period, parse_period
from config.vocabulary import KeyResultKind

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
PERIOD_JSON: list[dict[str, Any]] = [
    {"type": "string", "pattern": r"^[0-9]{4}(-([Qq][1-4]|[Hh][12]|0?[1-9]|1[0-2]))?$"},
    {"type": "string", "pattern": f"^{_DAY}\\.\\.{_DAY}$"},
    {"type": "integer", "minimum": 1970, "maximum": 9998},
    {
        "type": "object",
        "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
        "required": ["start", "end"],
        "additionalProperties": False,
    },
]
_SLUG_JSON = {"type": "string", "pattern": SLUG.pattern, "maxLength": 64}


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(
            f"{value!r} is not a valid id: use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    if len(value) > 64:
        raise ValueError(f"id {value!r} is longer than 64 characters")
    return value


DEFAULT_NAMESPACE = "default"  # a mapping file read without a file name (not the loader's)
NAMESPACE_MAX_LENGTH = 64


def _namespace(value: str) -> str:
    if not SLUG.match(value) or len(value) > NAMESPACE_MAX_LENGTH:
        raise ValueError(
            f"{value!r} is not a valid namespace: use at most 64 lowercase letters, digits, "
            "'-' and '_', starting with a letter or digit"
        )
    return value


def _parent_ref(value: str) -> str:
    """An objective's parent: `id` in its own file, `namespace/id` in another file's."""
    namespace, _, local = value.rpartition("/")
    if namespace:
        _namespace(namespace)
    _slug(local)
    return value


def split_parent(ref: str) -> tuple[str | None, str]:
    """(namespace, id) of a parent reference; the namespace is None when it names none."""
    namespace, _, local = ref.rpartition("/")
    return (namespace or None), local


def _period(value: object) -> Period:
    return parse_period(value)


def _start(value: object) -> float | Literal["auto", "period_start"] | None:
    if value is None or value == "auto" or value == "period_start":
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ValueError(f"start must be a number, auto or period_start, not {value!r}")


def _input_name(value: str) -> str:
    if not value.isidentifier() or value.startswith("_"):
        raise ValueError(
            f"{value!r} is not a usable input name: use letters, digits and '_', "
            "not starting with a digit or '_'"
        )
    return value


Slug = Annotated[str, AfterValidator(_slug), WithJsonSchema(_SLUG_JSON)]
Namespace = Annotated[str, AfterValidator(_namespace), WithJsonSchema(_SLUG_JSON)]
_PARENT_JSON = {
    "type": "string",
    "pattern": r"^([a-z0-9][a-z0-9_-]*/)?[a-z0-9][a-z0-9_-]*$",
    "maxLength": NAMESPACE_MAX_LENGTH + 1 + 64,
}
ParentRef = Annotated[str, AfterValidator(_parent_ref), WithJsonSchema(_PARENT_JSON)]
PeriodSpec = Annotated[
    Period,
    PlainValidator(_period),
    PlainSerializer(lambda p: p.label),
    WithJsonSchema({"anyOf": PERIOD_JSON}),
]
StartSpec = Annotated[
    float | Literal["auto", "period_start"] | None,
    PlainValidator(_start),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"enum": ["auto", "period_start"]}, {"type": "null"}]}
    ),
]
# The schema of a plain string enum (pydantic would name and reference the enum instead).
KindSpec = Annotated[
    KeyResultKind,
    WithJsonSchema(
        {"enum": [kind.value for kind in KeyResultKind], "title": "Kind", "type": "string"}
    ),
]
Number = Annotated[float, Field(allow_inf_nan=False)]
Text = Annotated[str, Field(min_length=1)]
InputName = Annotated[str, AfterValidator(_input_name)]
