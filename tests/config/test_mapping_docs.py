"""docs/mapping.md tells the truth: its examples load, and it names every key, type, field,
placeholder and number the code uses, so a change to the code that the page misses fails."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from pydantic import BaseModel

from config.cadence import ScheduleSpec
from config.github_filters import GitHubFilter
from config.loader import load_mapping_text
from config.mapping import KeyResult, MappingFile, Objective
from config.metric_shape import EVERY_KEY
from config.placeholders import ALLOWED
from config.settings import StatusThresholds
from config.vocabulary import MetricType
from connectors.base import PULL_REQUEST_FIELDS, SOURCE_FIELDS
from sync.forecast import FORECAST_MIN_POINTS, FORECAST_MIN_SPAN
from tests.config.test_schema import SCHEMA_LINE, schema_errors

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "mapping.md"
TEXT = PAGE.read_text()
TOKENS = MarkdownIt("commonmark").enable("table").parse(TEXT)
YAML_EXAMPLES = [t.content for t in TOKENS if t.type == "fence" and t.info.strip() == "yaml"]


def test_the_page_has_examples() -> None:
    assert len(YAML_EXAMPLES) >= 5


@pytest.mark.parametrize("number", range(len(YAML_EXAMPLES)), ids=lambda n: f"example-{n + 1}")
def test_every_yaml_example_is_a_file_validate_accepts(number: int) -> None:
    text = YAML_EXAMPLES[number]
    load_mapping_text(text, source_name=f"docs/mapping.md example {number + 1}", today=date.today())
    assert schema_errors(text) == []


def test_the_first_example_names_the_schema() -> None:
    named = SCHEMA_LINE.search(YAML_EXAMPLES[0])
    assert named is not None and named[1] == "okrsync.schema.json"


def section(title: str) -> str:
    """The text of a `##`/`###` section, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#)", TEXT + "\n#", re.M | re.S)
    assert match is not None, f"docs/mapping.md has no section {title!r}"
    return match[1]


MODELS: dict[str, type[BaseModel]] = {
    "Top level": MappingFile,
    "Objectives": Objective,
    "Key results": KeyResult,
    "GitHub filters": GitHubFilter,
    "Schedules": ScheduleSpec,
}
# A metric is one of several models: every key any of them takes.
KEYS: dict[str, Iterable[str]] = {
    **{title: model.model_fields for title, model in MODELS.items()},
    "Metrics": EVERY_KEY,
}


@pytest.mark.parametrize("title", KEYS)
def test_every_key_is_described_in_its_section(title: str) -> None:
    text = section(title)
    missing = [key for key in KEYS[title] if f"`{key}`" not in text]
    assert missing == [], f"section {title!r} does not describe {missing}"


def test_every_metric_type_and_placeholder_is_described() -> None:
    types = section("Metrics")
    assert [t for t in MetricType if f"`{t}`" not in types] == []
    assert "`p<N>`" in types
    placeholders = section("Placeholders")
    assert [p for p in ALLOWED if f"`{p}`" not in placeholders] == []


def field_rows() -> dict[str, tuple[str, str]]:
    """The Fields table: name -> (Jira column, GitHub column)."""
    rows: dict[str, tuple[str, str]] = {}
    for line in section("Fields").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_the_fields_table_is_what_each_source_carries() -> None:
    rows = field_rows()
    assert set(rows) == SOURCE_FIELDS["jira"] | SOURCE_FIELDS["github"]
    for name, (jira, github) in rows.items():
        assert (jira == "yes") == (name in SOURCE_FIELDS["jira"]), name
        if name not in SOURCE_FIELDS["github"]:
            assert github == "", name
        elif name in PULL_REQUEST_FIELDS:
            assert github == "pull requests", name
        else:
            assert github == "yes", name


def test_the_numbers_of_status_and_forecast_are_the_code_s() -> None:
    defaults = StatusThresholds()
    status = section("Status")
    assert f"`on_track` ({defaults.on_track:g})" in status
    assert f"`at_risk` ({defaults.at_risk:g})" in status
    forecasts = section("Forecasts")
    assert f"fewer than {FORECAST_MIN_POINTS} values" in forecasts
    assert f"less than {FORECAST_MIN_SPAN.days} days" in forecasts
