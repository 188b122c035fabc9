"""The mapping file's JSON Schema, generated from its pydantic models so it cannot drift.

Editors that read a `# yaml-language-server: $schema=okrsync.schema.json` line (VS Code's
YAML extension, JetBrains IDEs, Neovim's yamlls) then flag unknown keys, wrong types and
bad enum values while `okrs.yaml` is typed. The schema checks shape only; what spans several
keys (one selector per metric, unique ids, parents that exist, field names a tracker
carries, formulas) is checked by the loader: `python run.py validate`.

`python -m config.schema` prints it; `--output F` writes it (the repository's copy is
`okrsync.schema.json`, kept equal to this by tests/config/test_schema.py).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from config.mapping import MappingFile

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "okr-sync mapping file (okrs.yaml)"


def mapping_schema() -> dict[str, Any]:
    """The JSON Schema of a mapping file as written (before placeholders are expanded)."""
    schema = MappingFile.model_json_schema(mode="validation")
    schema["title"] = TITLE
    schema["description"] = (
        "Objectives and key results, and where each key result's number comes from. "
        "Shape only: run `python run.py validate` for the checks that span several keys."
    )
    return {"$schema": DIALECT, **schema}


def schema_text() -> str:
    """The schema as the committed file holds it: stable key order, one trailing newline."""
    return json.dumps(mapping_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m config.schema", description="print the mapping file's JSON Schema"
    )
    parser.add_argument("--output", type=Path, help="write it to this file instead")
    args = parser.parse_args(argv)
    if args.output is None:
        print(schema_text(), end="")
    else:
        args.output.write_text(schema_text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
