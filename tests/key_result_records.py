"""Key-result records as a run hands them to the store, for tests that write it directly."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from sync.records import KeyResultRecord

# A linear Jira count, observed and on track, in 2026-Q4; a test replaces what it is about.
_PLAIN = KeyResultRecord(
    id="kr",
    objective_id="o",
    title="Key result",
    kind="linear",
    unit=None,
    metric_type="count",
    source="jira",
    start_value=40.0,
    target_value=5.0,
    min_value=None,
    max_value=None,
    weight=1.0,
    period_start=date(2026, 10, 1),
    period_end=date(2026, 12, 31),
    value=None,
    progress_raw=None,
    progress=None,
    expected=None,
    status="on_track",
    error=None,
    lineage=None,
    observed=True,
)


def key_result_record(**fields: Any) -> KeyResultRecord:
    """A plain key-result record with `fields` (KeyResultRecord's names) replaced."""
    return replace(_PLAIN, **fields)
