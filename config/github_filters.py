"""`issues:` and `pulls:`: one repository's issues or pull requests, and their windows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)

from config.periods import Period, PeriodError, parse_period
from config.value_types import PERIOD_JSON
from connectors.base import DateWindow, GitHubListSelector

REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# A merged-state filter without a merged window: every merge GitHub can know of.
ANY_TIME = DateWindow(date(2008, 1, 1), date(9999, 12, 31))


def _window(value: object) -> DateWindow | Literal["period"]:
    if value == "period":
        return "period"
    if isinstance(value, DateWindow):
        return value
    try:
        return parse_period(value).as_window()
    except PeriodError as exc:
        if isinstance(value, Mapping):
            raise ValueError(str(exc).replace("a period mapping", "a window mapping")) from None
        shown = f"'{value.isoformat()}'" if isinstance(value, date) else repr(value)
        raise ValueError(
            f"{shown} is not a window: use period, YYYY-MM-DD..YYYY-MM-DD, "
            "a period such as 2026-Q4, or {start, end}"
        ) from None


def _show_window(value: DateWindow | Literal["period"]) -> str:
    return value if isinstance(value, str) else value.as_github_range()


def _repo(value: str) -> str:
    if not REPO.match(value):
        raise ValueError(f"{value!r} is not a repository: use owner/name, e.g. acme/api")
    return value


def _label(value: str) -> str:
    # GitHub's search has no escape for a quote inside a quoted value, and reads a comma as
    # "any of" (as the labels list of the REST API does): such a label would be searched as
    # another query and count other items.
    for character, meaning in (('"', "a quote ends the quoted label"), (",", 'a comma means "or"')):
        if character in value:
            raise ValueError(
                f"label {value!r} cannot be searched on GitHub: {meaning} in its search syntax"
            )
    if value != value.strip():
        raise ValueError(f"label {value!r} has spaces around it: GitHub trims label names")
    return value


WindowSpec = Annotated[
    DateWindow | Literal["period"],
    PlainValidator(_window),
    PlainSerializer(_show_window),
    WithJsonSchema({"anyOf": [{"const": "period"}, *PERIOD_JSON]}),
]
Label = Annotated[
    str,
    Field(min_length=1),
    AfterValidator(_label),
    WithJsonSchema({"type": "string", "pattern": r'^[^",\s]([^",]*[^",\s])?$'}),
]
Repo = Annotated[
    str, AfterValidator(_repo), WithJsonSchema({"type": "string", "pattern": REPO.pattern})
]


class GitHubFilter(BaseModel):
    """Issues or pull requests of one repository, as `issues:` / `pulls:` in a metric."""

    model_config = ConfigDict(extra="forbid")

    repo: Repo
    state: Literal["open", "closed", "all", "merged"] = "all"
    labels: list[Label] = Field(default_factory=list)
    created: WindowSpec | None = None
    closed: WindowSpec | None = None
    merged: WindowSpec | None = None

    def windows(self, period: Period) -> dict[str, DateWindow]:
        """The windows that are set, with `period` resolved to the key result's period."""
        out: dict[str, DateWindow] = {}
        for name in ("created", "closed", "merged"):
            spec: DateWindow | Literal["period"] | None = getattr(self, name)
            if spec is not None:
                out[name] = period.as_window() if spec == "period" else spec
        return out

    def selector(
        self, kind: Literal["issue", "pull_request"], period: Period
    ) -> GitHubListSelector:
        """The listing this filter asks for; `period` resolves `period` windows."""
        windows = self.windows(period)
        state = self.state
        if state == "merged":
            windows.setdefault("merged", ANY_TIME)
            state = "closed"
        return GitHubListSelector(
            repo=self.repo,
            kind=kind,
            state=state,
            labels=tuple(self.labels),
            created=windows.get("created"),
            closed=windows.get("closed"),
            merged=windows.get("merged"),
        )
