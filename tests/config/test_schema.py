"""The published JSON Schema of the mapping file: generated, committed, and in step with the
loader, so an editor never flags a file `validate` accepts (nor lets the plainest typos by)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from config.loader import MappingError, load_mapping_text
from config.schema import schema_text

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "okrsync.schema.json"
EXAMPLES = sorted((ROOT / "config" / "examples").glob("*.yaml"))
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)


def as_editor_sees(text: str) -> Any:
    """YAML as a language server hands it to the schema: dates stay strings."""
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def schema_errors(text: str) -> list[str]:
    """Every error with its path, those inside an `anyOf` too (an editor shows the closest)."""
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    pending = list(validator.iter_errors(as_editor_sees(text)))
    out: list[str] = []
    while pending:
        error = pending.pop()
        out.append(f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
        pending += error.context or []
    return out


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "okrsync.schema.json is stale: run `python -m config.schema --output okrsync.schema.json`"
    )
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_FILE.read_text()))


def test_the_schema_command_prints_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "config.schema"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == SCHEMA_FILE.read_text()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates_and_names_the_schema(path: Path) -> None:
    text = path.read_text()
    assert schema_errors(text) == []
    load_mapping_text(text, source_name=path.name)
    named = SCHEMA_LINE.search(text)
    assert named is not None, f"{path.name} has no `# yaml-language-server: $schema=` line"
    assert (path.parent / named[1]).resolve() == SCHEMA_FILE


HEAD = "version: 1\nperiod: 2026-Q4\nobjectives:\n  - id: o\n    key_results:\n"


def key_result(metric: str, extra: str = "") -> str:
    return HEAD + f"      - {{id: k, title: t, target: 5{extra}, metric: {metric}}}\n"


# Files the loader accepts in their less common forms: the schema must not flag them.
ACCEPTED = {
    "objective without a title": key_result("{type: count, jql: project = A}"),
    "start auto": key_result("{type: count, jql: x}", ", start: auto"),
    "year as a number": key_result("{type: count, jql: x}").replace("2026-Q4", "2026"),
    "lower-case quarter": key_result("{type: count, jql: x}").replace("2026-Q4", "2026-q4"),
    "period as start and end": key_result(
        "{type: count, jql: x}", ", period: {start: 2026-11-01, end: 2026-11-30}"
    ),
    "range window": key_result(
        "{type: count, pulls: {repo: acme/api, merged: 2026-10-01..2026-10-31}}"
    ),
    "percentile": key_result("{type: p95, field: lead_time_hours, pulls: {repo: a/b}}"),
    "daily times": "schedule: {at: ['08:00', '14:30:15'], timezone: Europe/Berlin}\n"
    + key_result("{type: count, jql: x}"),
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_what_the_loader_accepts_the_schema_accepts(text: str) -> None:
    load_mapping_text(text, source_name="okrs.yaml")
    assert schema_errors(text) == []


# Mistakes of shape the loader refuses: an editor flags them too, at the same place.
REFUSED = {
    "misspelt key": (key_result("{type: count, jql: x, jqll: y}"), "metric"),
    "unknown metric type": (key_result("{type: average, jql: x}"), "metric/type"),
    "percentile above 99": (key_result("{type: p100, field: age_days, jql: x}"), "metric/type"),
    "bad period": (key_result("{type: count, jql: x}").replace("2026-Q4", "2026-Q5"), "period"),
    "id with capitals": (key_result("{type: count, jql: x}").replace("id: k", "id: K"), "id"),
    "repository without owner": (key_result("{type: count, pulls: {repo: api}}"), "repo"),
    "label with a comma": (
        key_result("{type: count, issues: {repo: a/b, labels: ['bug,ui']}}"),
        "labels/0",
    ),
    "unquoted time": (
        "schedule: {at: [14:00]}\n" + key_result("{type: count, jql: x}"),
        "schedule/at/0",
    ),
    "duration without unit": (
        "schedule: {every: 30}\n" + key_result("{type: count, jql: x}"),
        "schedule/every",
    ),
    "unknown kind": (key_result("{type: count, jql: x}", ", kind: upward"), "kind"),
    "version 2": (key_result("{type: count, jql: x}").replace("version: 1", "version: 2"), ""),
}


@pytest.mark.parametrize(("text", "place"), REFUSED.values(), ids=REFUSED.keys())
def test_what_the_schema_refuses_the_loader_refuses(text: str, place: str) -> None:
    with pytest.raises(MappingError):
        load_mapping_text(text, source_name="okrs.yaml")
    errors = schema_errors(text)
    assert errors, "the schema let a file through that the loader refuses"
    assert any(error.split(":")[0].endswith(place) for error in errors), errors
