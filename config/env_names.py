"""Which `OKRSYNC_*` names set something, and the ones in the environment that do not.

pydantic-settings ignores a name that sets nothing; these are derived from `Settings` so
that a misspelt one is warned about, with the closest known name.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from dotenv import dotenv_values
from pydantic import BaseModel

from config.settings import ENV_PREFIX, NESTED_DELIMITER, SECRETS_DIR_VAR, Settings

# Read by okr-sync's own tests and benchmark, never by okr-sync: no warning for them.
TOOL_VARIABLES = frozenset(
    {"OKRSYNC_TEST_POSTGRES_URL", "OKRSYNC_RELIABILITY_LOG", "OKRSYNC_SCREENSHOTS_DIR"}
)


def known_variables() -> frozenset[str]:
    """Every `OKRSYNC_*` name that sets something, derived from the model: a section as a
    whole (`OKRSYNC_JIRA`, JSON) and each of its fields (`OKRSYNC_JIRA__TOKEN`)."""
    names = {SECRETS_DIR_VAR}

    def add(prefix: str, model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            names.add(prefix + name.upper())
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                add(prefix + name.upper() + NESTED_DELIMITER, field.annotation)

    add(ENV_PREFIX, Settings)
    return frozenset(names)


def unknown_variables(env_file: Path | None = None) -> list[str]:
    """One line per `OKRSYNC_*` name in the environment or the env file that sets nothing,
    with the known name closest to it: pydantic-settings ignores such a name silently, so
    `OKRSYNC_GITHUB_TOKEN` (one underscore) would leave GitHub without its token unsaid."""
    env_path = env_file if env_file is not None else Path(".env")
    names = [(name, "") for name in sorted(os.environ)]
    if env_path.is_file():
        names += [(name, f"{env_path}: ") for name in dotenv_values(env_path)]
    known = known_variables()
    suffixes = {name.removeprefix(ENV_PREFIX): name for name in known}
    problems: list[str] = []
    for name, where in names:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or upper in TOOL_VARIABLES:
            continue
        close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), suffixes, n=1)
        hint = f"; did you mean {suffixes[close[0]]}?" if close else ""
        problems.append(f"{where}{name} is not an okr-sync setting and is ignored{hint}")
    return problems
