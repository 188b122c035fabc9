"""A value that is NaN, infinite or not a number is refused and never stored.

Check-ins refuse such values (tests/sync/test_cli.py); here the numbers are computed: story
points so large that their sum overflows, and a formula whose result is infinite.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sqlalchemy import select

from sandbox.server import Sandbox
from sync.cli import main
from sync.store import Store
from sync.tables import key_results, kr_values, objectives
from tests.reliability.record import record
from tests.sync.processes import P_END, P_START

MAPPING = f"""
version: 1
period: {{start: {P_START}, end: {P_END}}}
objectives:
  - id: delivery
    title: Deliver
    key_results:
      - id: points
        title: Story points delivered in APP
        target: 400
        metric:
          type: sum
          field: story_points
          jql: 'project = APP AND type = Story AND statusCategory = Done'
      - id: blown-up
        title: A formula that overflows
        target: 1
        metric:
          type: formula
          expr: merged * 1e300 * 1e300
          inputs:
            merged: {{source: github, type: count, search: 'repo:acme/api is:pr is:merged'}}
      - id: p1-bugs
        title: Open P1 bugs
        start: 40
        target: 5
        metric: {{type: count, jql: project = APP AND priority = Highest AND statusCategory != Done}}
"""


def stored_numbers(store: Store) -> list[float]:
    numbers: list[float] = []
    with store.engine.connect() as conn:
        for table in (objectives, key_results, kr_values):
            for row in conn.execute(select(table)).mappings():
                numbers += [v for v in row.values() if isinstance(v, float)]
    return numbers


def test_computed_infinities_are_refused_and_never_stored(
    workdir: Path, faulty: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "okrs.yaml").write_text(MAPPING)
    stories = [
        i
        for i in faulty.jira_data.issues
        if i.project == "APP" and i.issue_type == "Story" and i.status_category == "done"
    ]
    assert len(stories) >= 2
    saved = [i.story_points for i in stories]
    try:
        for issue in stories:
            issue.story_points = 1.7e308  # finite alone, infinite summed
        code = main(["sync"])
    finally:
        for issue, points in zip(stories, saved, strict=True):
            issue.story_points = points
    shown = capsys.readouterr().out
    assert code == 1
    store = Store(f"sqlite:///{workdir / 'okrsync.db'}")
    rows = {row.id: row for row in store.all_key_results()}
    assert rows["points"].value is None and "overflow" in rows["points"].last_error
    # A formula without a value (here: not finite) is "no data", with the reason in its lineage.
    assert rows["blown-up"].value is None and rows["blown-up"].status == "no_data"
    assert "not a finite number" in json.dumps(rows["blown-up"].lineage.to_json())  # type: ignore[union-attr]
    assert rows["p1-bugs"].last_error is None and rows["p1-bugs"].value is not None
    assert "failed points" in shown
    assert all(math.isfinite(number) for number in stored_numbers(store))
    record(
        "bad input",
        "computed non-finite values: a sum of story points that overflows, a formula = inf",
        2,
        "refused: the sum failed (error recorded and shown, exit 1), the formula has no value "
        "(no_data, reason in its lineage); no NaN or inf in any stored row; the healthy key "
        "result written",
    )
