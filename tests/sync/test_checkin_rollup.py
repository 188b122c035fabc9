"""A check-in in a team's namespace rolls up the objectives aligned above it (issue 16):
`checkin`/`note` take `--config` as a file, a directory or a glob, name a key result as
`NAMESPACE/ID` (or an id one file alone has), and rewrite the department's and the
company's objectives from the store, as a fresh sync of every file would compute them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from sync.cli import main
from sync.records import Listing
from sync.store import Store
from tests.sync.processes import P_END, P_START
from tests.sync.test_store import T0, kr_record, objective, run_record

PERIOD = f"period: {{start: {P_START}, end: {P_END}}}"
COMPANY = f"""
version: 1
{PERIOD}
objectives:
  - id: grow
    title: Grow the business
    level: company
    key_results:
      - {{id: revenue, title: Revenue, target: 100, metric: {{type: manual}}}}
      - {{id: nps, title: NPS, target: 50, metric: {{type: manual}}}}
"""
DEPARTMENT = f"""
version: 1
{PERIOD}
objectives:
  - id: build
    title: Build the platform
    parent: company/grow
    key_results:
      - {{id: hires, title: Hires, target: 10, metric: {{type: manual}}}}
"""
TEAM = f"""
version: 1
{PERIOD}
objectives:
  - id: deliver
    title: Deliver faster
    parent: department/build
    key_results:
      - {{id: speed, title: Speed, target: 100, metric: {{type: manual}}}}
  - id: ship
    title: Ship the API
    parent: deliver
    key_results:
      - {{id: api, title: API done, start: 0, target: 100, unit: '%', metric: {{type: manual}}}}
      - {{id: nps, title: Team NPS, target: 50, metric: {{type: manual}}}}
"""
HOSTILE = "<b>[bold red]x[/bold red]</b> &amp; \x1b[31mred\x1b[0m \x07 [link=http://e.x]y[/link]"


@pytest.fixture
def org(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """Company, department and team files (team -> department -> company), manual key results
    only, each with a value, synced together."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", database_url)
    folder = tmp_path / "okrs"
    folder.mkdir()
    (folder / "company.yaml").write_text(COMPANY)
    (folder / "department.yaml").write_text(DEPARTMENT)
    (folder / "team.yaml").write_text(TEAM)
    for name in ("company", "department", "team"):
        assert main(["sync", "--config", str(folder / f"{name}.yaml")]) == 0, capsys.readouterr()
    for name, kr, value in [
        ("company", "revenue", "50"),
        ("company", "nps", "20"),
        ("department", "hires", "5"),
        ("team", "speed", "30"),
        ("team", "api", "10"),
        ("team", "nps", "40"),
    ]:
        config = str(folder / f"{name}.yaml")
        assert main(["checkin", kr, value, "--config", config]) == 0, capsys.readouterr()
    assert main(["sync", "--config", str(folder)]) == 0, capsys.readouterr()
    capsys.readouterr()
    return folder


def objectives_of(url: str) -> dict[str, tuple[float | None, str]]:
    """Every namespace's stored objectives: `ns/id` -> (progress, status)."""
    store = Store(url)
    try:
        return {
            f"{ns}/{row.id}": (row.progress, row.status)
            for ns in store.namespaces()
            for row in store.in_namespace(ns).all_objectives()
        }
    finally:
        store.close()


def counts_of(url: str) -> tuple[dict[str, int], int]:
    """Each namespace's runs, and every history row: what a roll-up must not add to."""
    store = Store(url)
    try:
        runs = {ns: len(store.in_namespace(ns).runs()) for ns in store.namespaces()}
        return runs, store.counts()["kr_values"]
    finally:
        store.close()


def test_a_checkin_rolls_up_every_namespace_above_as_a_sync_of_every_file_would(
    org: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = objectives_of(database_url)
    runs_before, values_before = counts_of(database_url)
    assert main(["checkin", "team/api", "80", "--config", str(org)]) == 0
    out = capsys.readouterr().out
    assert "team/api: 80" in out and "follows at its next sync" not in out
    after_checkin = objectives_of(database_url)
    # Only the check-in's history row, and no run: the roll-up writes objective rows only.
    runs_after, values_after = counts_of(database_url)
    assert runs_after == runs_before and values_after == values_before + 1
    for ref in ("team/ship", "team/deliver", "department/build", "company/grow"):
        assert after_checkin[ref][0] != before[ref][0], ref
    # What a fresh sync of every file computes from the same stored values.
    assert main(["sync", "--config", str(org)]) == 0
    synced = objectives_of(database_url)
    for ref, (progress, status) in synced.items():
        assert after_checkin[ref][0] == pytest.approx(progress, rel=1e-12, abs=1e-12), ref
        assert after_checkin[ref][1] == status, ref


def test_a_note_rolls_up_above_too_and_keeps_hostile_text_literal(
    org: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["checkin", "team/api", "60", "--config", str(org / "team.yaml")]) == 0
    capsys.readouterr()
    stale = objectives_of(database_url)["company/grow"]
    assert main(["note", "team/api", HOSTILE, "--config", str(org / "*.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "team/api: note recorded"
    assert objectives_of(database_url)["company/grow"] != stale
    assert main(["history", "team/api", "--json", "--namespace", "team"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert history["values"][-1]["note"] == HOSTILE
    assert history["values"][-1]["origin"] == "note"


def test_one_file_keeps_todays_checkin_and_says_the_parent_follows_at_its_next_sync(
    org: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = objectives_of(database_url)
    assert main(["checkin", "api", "80", "--config", str(org / "team.yaml")]) == 0
    out = capsys.readouterr().out
    assert "api: 80 % recorded" in out or "api: 80% recorded" in out
    assert (
        "department/build: its roll-up follows at its next sync (the file of namespace "
        "'department' was not given)"
    ) in out
    assert out.count("follows at its next sync") == 1
    after = objectives_of(database_url)
    assert after["team/ship"] != before["team/ship"]  # its own file's roll-up, as always
    assert after["department/build"] == before["department/build"]
    assert after["company/grow"] == before["company/grow"]
    # OKRSYNC_CONFIG as a directory, like --config.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OKRSYNC_CONFIG", str(org))
        assert main(["checkin", "team/api", "90"]) == 0
    assert objectives_of(database_url)["company/grow"] != after["company/grow"]


def test_a_department_file_with_the_team_rolls_up_the_department_and_names_the_company(
    org: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = objectives_of(database_url)
    config = str(org / "[dt]*.yaml")  # department and team, not the company
    assert main(["checkin", "team/api", "80", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "company/grow: its roll-up follows at its next sync" in out
    after = objectives_of(database_url)
    assert after["department/build"] != before["department/build"]
    assert after["company/grow"] == before["company/grow"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["checkin", "nps", "30"], "key result 'nps' is in several namespaces (company, team)"),
        (["note", "nps", "why"], "key result 'nps' is in several namespaces (company, team)"),
        (["checkin", "apl", "30"], "unknown key result 'apl' (did you mean 'team/api'?"),
        (["checkin", "teem/api", "30"], "namespace 'teem' is none of the files given"),
        (["checkin", "team/apx", "30"], "unknown key result 'apx' (did you mean 'api'?"),
    ],
)
def test_a_key_result_the_files_do_not_name_once_exits_2(
    org: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    before = objectives_of(database_url)
    _, values_before = counts_of(database_url)
    assert main([*argv, "--config", str(org)]) == 2
    assert message in capsys.readouterr().err
    assert objectives_of(database_url) == before
    assert counts_of(database_url)[1] == values_before


def test_a_bad_file_among_those_given_is_a_located_error(
    org: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (org / "broken.yaml").write_text("version: 1\nobjectives: [{id: x, title: X, parent: 3}]\n")
    assert main(["checkin", "team/api", "80", "--config", str(org)]) == 2
    assert "broken.yaml" in capsys.readouterr().err


def test_the_roll_up_write_changes_listed_objectives_of_its_namespace_only(store: Store) -> None:
    """`write_objective_progress`: progress and status of objectives, in one namespace; no
    run, no key result, no history row; a retired or missing objective is not written."""
    team, company = store.in_namespace("team"), store.in_namespace("company")
    listing = Listing(frozenset({"quality", "old"}), frozenset({"p1-bugs"}))
    for each in (team, company):
        old = replace(objective(), id="old")
        each.write_run(run_record(T0), [objective(), old], [kr_record(30)], listing=listing)
        each.write_run(
            run_record(T0 + timedelta(hours=1)),
            [objective()],
            [kr_record(30)],
            listing=Listing(frozenset({"quality"}), frozenset({"p1-bugs"})),
        )
    cycle = company.all_objectives()[0].cycle
    counts, kr_before = store.counts(), company.key_result("p1-bugs")
    at = T0 + timedelta(hours=2)
    wanted = {
        (cycle, "quality"): (0.9, "done"),
        (cycle, "old"): (0.1, "off_track"),  # retired: left as it was
        (cycle, "nope"): (1.0, "done"),  # not in the store
    }
    assert company.write_objective_progress(wanted, at=at) == {(cycle, "quality")}
    rows = {row.id: row for row in company.all_objectives()}
    assert (rows["quality"].progress, rows["quality"].status) == (0.9, "done")
    assert rows["quality"].updated_at == at
    assert (rows["old"].progress, rows["old"].status) == (0.5, "on_track")
    assert {row.id: row.progress for row in team.all_objectives()} == {"quality": 0.5, "old": 0.5}
    assert store.counts() == counts  # no run, no key result, no history row added
    assert company.key_result("p1-bugs") == kr_before


def test_a_checkin_while_the_company_syncs_is_written_and_says_its_roll_up_follows(
    org: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL a long sync of the company (its lock held here) no longer costs the
    team its check-in: the value is written, and the roll-up above is named as following at
    the next sync (that sync may have read the team before the check-in). SQLite has one
    lock for the whole store: the check-in waits for it, then fails with nothing written."""
    monkeypatch.setenv("OKRSYNC_LOCK_TIMEOUT_S", "1")  # waited: at least 10 s
    before = objectives_of(database_url)
    holder = Store(database_url)
    try:
        with holder.in_namespace("company").run_lock(wait_s=0):
            code = main(["checkin", "team/api", "80", "--config", str(org)])
            captured = capsys.readouterr()
            stored = {kr.id: kr.value for kr in holder.in_namespace("team").all_key_results()}
    finally:
        holder.close()
    after = objectives_of(database_url)
    if database_url.startswith("postgresql"):
        assert code == 0, captured
        assert stored["api"] == 80
        assert "team/api: 80" in captured.out
        assert (
            "company/grow, department/build: the roll-up follows at the next sync "
            "(a sync of company, department held the store for 10 s)" in captured.out
        )
        assert after["company/grow"] == before["company/grow"]  # left to the next sync
        assert after["team/ship"] != before["team/ship"]  # the team's own roll-up is written
    else:
        assert code == 1, captured
        assert stored["api"] == 10 and after == before
        assert "another okr-sync run (of any namespace: SQLite has one writer) holds" in (
            captured.err
        )
