"""The field types and base model every published JSON document (`sync.documents`,
`sync.namespace_documents`) is made of: its times, percents, counts, and closed key sets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema


def _isoformat(moment: datetime) -> str:
    return moment.isoformat()


# pydantic would write UTC as `Z`; the documents have always said `+00:00`.
Moment = Annotated[
    datetime,
    PlainSerializer(_isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Percent = Annotated[float, Field(ge=0, le=100)]
Count = Annotated[int, Field(ge=0)]
RetiredAt = Annotated[
    Moment | None,
    Field(
        description="when the mapping file stopped listing it (shown with all=1); null while "
        "listed. No roll-up counts what is retired"
    ),
]


class ClosedDocument(BaseModel):
    """A document with exactly these keys (`additionalProperties: false`)."""

    model_config = ConfigDict(extra="forbid")
