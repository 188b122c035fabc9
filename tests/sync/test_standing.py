"""The standing views from the command line over the demo data: status filters, the history
chart, notes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.cli import main
from sync.records import ObjectiveRecord, ObjectiveRow, RunRecord
from sync.standing import TreeFilter, filter_objectives, objectives_in_tree_order
from sync.store import Store
from tests.demo_data import NPS_CHECKINS, DemoStore, demo_objectives
from tests.key_result_records import key_result_record


@pytest.fixture
def env(demo_workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo store's working folder, on a terminal wide enough for the tree."""
    monkeypatch.setenv("COLUMNS", "160")
    return demo_workdir


def run(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    capsys.readouterr()
    assert main(list(args)) == code
    return capsys.readouterr().out


def objective_row(
    id: str, parent_id: str | None, level: str | None = None, owner: str | None = None
) -> ObjectiveRow:
    return ObjectiveRow(
        id, id, owner, level, parent_id, 1.0, 0, None, "", None, None, False, "", "default"
    )


def rows() -> list[ObjectiveRow]:
    return [
        objective_row(str(o["id"]), o.get("parent"), o["level"], o["owner"])  # type: ignore[arg-type]
        for o in demo_objectives()
    ]


def test_filter_keeps_a_subtree_and_combines_conditions() -> None:
    every = rows()
    kept = filter_objectives(every, TreeFilter(objective="delivery", level="team"))
    assert [(o.id, depth) for o, depth in kept] == [("delivery", 0), ("app-team", 1)]
    assert filter_objectives(every, TreeFilter(owner="ERIN"))[0][0].id == "erin-growth"


def test_objectives_of_several_namespaces_make_one_tree_through_qualified_parents() -> None:
    """Ids repeat across namespaces: a team's objective sits under the company's objective
    its `company/<id>` parent names, and a bare parent stays in its own namespace."""
    company = replace(objective_row("grow", None), namespace="company")
    platform = replace(objective_row("grow", "company/grow"), namespace="platform")
    platform_sub = replace(objective_row("sub", "grow"), namespace="platform")
    mobile = replace(objective_row("grow", "company/grow"), namespace="mobile")
    ordered = objectives_in_tree_order([mobile, platform_sub, platform, company])
    assert [(o.namespace, o.id, depth) for o, depth in ordered] == [
        ("company", "grow", 0),
        ("mobile", "grow", 1),
        ("platform", "grow", 1),
        ("platform", "sub", 2),
    ]
    alone = objectives_in_tree_order([platform_sub, platform])  # company not shown: a root
    assert [(o.id, depth) for o, depth in alone] == [("grow", 0), ("sub", 1)]


def test_a_1000_deep_alignment_chain_is_ordered_and_filtered() -> None:
    chain = [objective_row(f"o{i}", f"o{i - 1}" if i else None) for i in range(1000)]
    ordered = objectives_in_tree_order(chain[::-1])
    assert [o.id for o, _ in ordered] == [o.id for o in chain]
    assert [depth for _, depth in ordered] == list(range(1000))
    below = filter_objectives(chain[::-1], TreeFilter(objective="o600"))
    assert [o.id for o, _ in below] == [f"o{i}" for i in range(600, 1000)]
    assert below[-1][1] == 399


def test_status_filters_in_text_and_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    team_titles = [str(o["title"]) for o in demo_objectives() if o["level"] == "team"]
    other_titles = [str(o["title"]) for o in demo_objectives() if o["level"] != "team"]
    out = run(capsys, "status", "--level", "team")
    assert all(t in out for t in team_titles) and not any(t in out for t in other_titles)
    document = json.loads(run(capsys, "status", "--json", "--objective", "delivery"))
    assert [o["id"] for o in document["objectives"]] == ["delivery", "app-team", "erin-growth"]
    assert set(document["objectives"][0]) == {
        "id", "title", "owner", "level", "parent", "progress", "status", "stale_inputs",
        "retired_at", "key_results",
    }  # fmt: skip
    assert "No objective matches" in run(capsys, "status", "--owner", "nobody")


def test_status_shows_change_arrows(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "status")
    line = next(x for x in out.splitlines() if "Developer NPS above 40" in x)
    delta = NPS_CHECKINS[-1][1] - NPS_CHECKINS[-2][1]
    assert f"▲ {delta:.0f}" in line


def test_history_draws_a_terminal_chart(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "history", "nps")
    chart = [
        line.strip("\n")
        for line in out.splitlines()
        if set(line.strip()) <= set("▁▂▃▄▅▆▇█") and line.strip()
    ]
    assert len(chart) == 6
    values = [v for _, v, _ in NPS_CHECKINS]
    top = chart[0].strip()
    # the top row has blocks only in the maximum's column (the latest value)
    assert len(top) == 1 and values.index(max(values)) == len(values) - 1


def test_note_is_kept_in_history(
    env: Path, demo: DemoStore, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(demo.mapping_path)
    value_before = demo.store.key_result("lead-time").value  # type: ignore[union-attr]
    assert "note recorded" in run(
        capsys, "note", "lead-time", "Holiday week, few merges", "--config", config
    )
    last = demo.store.history("lead-time")[-1]
    assert last.origin == "note" and last.note == "Holiday week, few merges"
    assert demo.store.key_result("lead-time").value == value_before  # type: ignore[union-attr]
    assert "Holiday week, few merges" in run(capsys, "history", "lead-time")
    run(capsys, "note", "lead-time", "   ", "--config", config, code=2)
    run(capsys, "note", "no-such-kr", "text", "--config", config, code=2)


def test_status_of_an_empty_store_says_to_sync_first(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_okrsync_env: None,
) -> None:
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    Store(url).migrate()
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", url)
    assert "No key results in the store yet" in run(capsys, "status")
    assert "No key results in the store yet" in run(capsys, "status", "--owner", "nobody")


def lead_time_runs(store: Store, values: list[tuple[datetime, float]]) -> None:
    """Sync runs at the given times, each observing the median PR lead time, as the engine
    writes them (a run's values are stamped with the time it finished)."""
    today = datetime.now(UTC).date()
    objective = ObjectiveRecord("delivery", "Deliver faster", None, "team", None, 1.0, None, "")
    for at, value in values:
        record = key_result_record(
            id="lead-time",
            objective_id="delivery",
            title="Median PR lead time",
            unit="h",
            metric_type="median",
            source="github",
            start_value=60.0,
            target_value=24.0,
            period_start=today - timedelta(days=30),
            period_end=today + timedelta(days=60),
            value=value,
            lineage={"source": "github", "metric": "median", "field": "lead_time_hours"},
        )
        store.write_run(RunRecord(at, at, "ok", 1, 0), [objective], [record])


def test_a_forecast_stops_at_what_the_metric_can_be_and_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_okrsync_env: None,
) -> None:
    """Lead time falling 7 h a week would be negative hours by the period's end: the
    forecast is 0 h, the least a lead time can be, and the report and the API say so."""
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    store = Store(url)
    store.migrate()
    now = datetime.now(UTC)
    lead_time_runs(store, [(now - timedelta(days=d), 10.0 + d) for d in (20, 13, 6)])
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", url)
    document = json.loads(run(capsys, "report", "--format", "json"))
    [lead_time] = document["objectives"][0]["key_results"]
    assert lead_time["forecast"] == 0.0
    assert lead_time["forecast_note"] == "the trend falls below 0, the least lead_time_hours can be"
    assert "| 0 h (the trend falls below 0" in run(capsys, "report", "--format", "md")
