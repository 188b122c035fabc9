"""End to end: `run.py` through the real `jira` and PyGithub clients against the sandbox.

Every expected value is computed here, from the sandbox's data set with plain Python, never
copied from the program's output.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml
from werkzeug.test import Client

from config.settings import Settings
from sandbox.github_data import GitHubPull
from sandbox.jira_data import JiraIssue
from sandbox.server import Sandbox
from sync.cli import main
from sync.dashboard import make_dashboard_app
from sync.store import Store
from tests.reliability.record import record
from tests.sync.processes import P_END, P_START, REPO_ROOT, TODAY

MAPPING = f"""
version: 1
period: {{start: {P_START}, end: {P_END}}}
objectives:
  - id: quality
    title: Ship a product customers trust
    level: company
    key_results:
      - id: p1-bugs
        title: Open P1 bugs in APP
        start: 40
        target: 5
        metric: {{type: count, jql: project = APP AND priority = Highest AND statusCategory != Done}}
      - id: points
        title: Story points delivered in APP
        target: 400
        metric:
          type: sum
          field: story_points
          jql: 'project = APP AND type = Story AND statusCategory = Done AND resolved >= "{{period.start}}"'
      - id: web-done
        title: WEB work done
        target: 100
        unit: '%'
        metric: {{type: percent_done, jql: project = WEB}}
      - id: bug-cycle
        title: Mean bug cycle time
        start: 200
        target: 72
        unit: h
        metric:
          type: mean
          field: cycle_time_hours
          jql: 'project = APP AND type = Bug AND resolved >= "{{period.start}}"'
  - id: delivery
    title: Deliver faster
    parent: quality
    level: team
    key_results:
      - id: lead-time
        title: Median PR lead time
        start: 100
        target: 24
        unit: h
        metric:
          type: median
          field: lead_time_hours
          pulls: {{repo: acme/api, state: merged, merged: period}}
      - id: lead-time-p90
        title: p90 PR lead time
        start: 400
        target: 100
        unit: h
        metric:
          type: p90
          field: lead_time_hours
          pulls: {{repo: acme/api, state: merged, merged: period}}
      - id: fast-reviews
        title: Share of web PRs reviewed within a day
        target: 80
        metric:
          type: share
          where: review_time_hours <= 24
          pulls: {{repo: acme/web, state: merged, merged: period}}
      - id: merged-all-time
        title: All merged PRs of acme/api
        target: 5000
        metric: {{type: count, search: 'repo:acme/api is:pr is:merged'}}
      - id: review-share
        title: Approved share
        target: 90
        metric:
          type: formula
          expr: 100 * approved / merged
          inputs:
            approved: {{source: github, type: count, search: 'repo:acme/api is:pr is:merged review:approved merged:{{period}}'}}
            merged: {{source: github, type: count, search: 'repo:acme/api is:pr is:merged merged:{{period}}'}}
      - id: nps
        title: Developer NPS
        start: 10
        target: 40
        metric: {{type: manual}}
"""


# --- expected values, from the data set ---------------------------------------------------


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def in_period(moment: datetime | None) -> bool:
    return moment is not None and P_START <= moment.astimezone(UTC).date() <= P_END


def hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def resolved_in_period(issue: JiraIssue) -> bool:
    return issue.resolutiondate is not None and issue.resolutiondate >= day_start(P_START)


def merged_pulls(box: Sandbox, repo: str) -> list[GitHubPull]:
    return [p for p in box.github_data.pulls if p.repo == repo and in_period(p.merged_at)]


def first_review(pull: GitHubPull) -> datetime | None:
    times = [r.submitted_at for r in pull.reviews if r.state != "PENDING"]
    return min(times) if times else None


def approved(pull: GitHubPull) -> bool:
    """GitHub's review decision: each reviewer's latest approving or blocking review counts."""
    latest: dict[str, str] = {}
    for review in sorted(pull.reviews, key=lambda r: r.submitted_at):
        if review.state in ("APPROVED", "CHANGES_REQUESTED"):
            latest[review.user] = review.state
    return "APPROVED" in latest.values() and "CHANGES_REQUESTED" not in latest.values()


def expected_values(box: Sandbox) -> dict[str, float]:
    issues = box.jira_data.issues
    app = [i for i in issues if i.project == "APP"]
    stories_done = [
        i
        for i in app
        if i.issue_type == "Story" and i.status_category == "done" and resolved_in_period(i)
    ]
    web = [i for i in issues if i.project == "WEB"]
    bugs = [i for i in app if i.issue_type == "Bug" and resolved_in_period(i)]
    cycles = [
        hours(i.started_at, i.resolutiondate)
        for i in bugs
        if i.started_at is not None and i.resolutiondate is not None
    ]
    api = merged_pulls(box, "acme/api")
    leads = [hours(p.created_at, p.merged_at) for p in api if p.merged_at is not None]
    web_prs = merged_pulls(box, "acme/web")
    reviewed_fast = [
        p for p in web_prs if (r := first_review(p)) is not None and hours(p.created_at, r) <= 24
    ]
    approved_prs = [p for p in api if approved(p)]
    all_merged_api = [p for p in box.github_data.pulls if p.repo == "acme/api" and p.merged_at]
    return {
        "p1-bugs": sum(1 for i in app if i.priority == "Highest" and i.status_category != "done"),
        "points": sum(i.story_points or 0 for i in stories_done),
        "web-done": 100 * sum(1 for i in web if i.status_category == "done") / len(web),
        "bug-cycle": statistics.mean(cycles),
        "lead-time": statistics.median(leads),
        "lead-time-p90": statistics.quantiles(leads, n=100, method="inclusive")[89],
        "fast-reviews": 100 * len(reviewed_fast) / len(web_prs),
        "merged-all-time": len(all_merged_api),
        "review-share": 100 * len(approved_prs) / len(api),
    }


# --- running the command line --------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_okrsync_env: None) -> Path:
    """An empty folder as the working directory, the mapping file in it, no stray settings."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "okrs.yaml").write_text(MAPPING)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    return tmp_path


def point_at(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in box.settings_env().items():
        monkeypatch.setenv(key, value)


def status_json(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    return {kr["id"]: kr for obj in document["objectives"] for kr in obj["key_results"]}


@pytest.fixture
def synced(
    workdir: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Path]:
    point_at(sandbox, monkeypatch)
    assert main(["sync"]) == 0, capsys.readouterr()
    yield workdir


def test_sync_computes_every_metric_type_from_jira_cloud_and_github(
    synced: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    krs = status_json(capsys)
    for kr_id, expected in expected_values(sandbox).items():
        assert krs[kr_id]["value"] == pytest.approx(expected), kr_id
        assert krs[kr_id]["error"] is None
    assert krs["merged-all-time"]["value"] > 1000  # right above the search API's 1,000 cap
    assert krs["nps"]["value"] is None  # manual: only a person sets it


def test_progress_and_status_follow_the_period(
    synced: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    krs = status_json(capsys)
    p1 = expected_values(sandbox)["p1-bugs"]
    expected_progress = max(0.0, min(1.0, (p1 - 40) / (5 - 40))) * 100
    assert krs["p1-bugs"]["progress"] == pytest.approx(expected_progress, abs=0.05)
    assert krs["p1-bugs"]["start"] == 40 and krs["p1-bugs"]["target"] == 5
    assert krs["p1-bugs"]["status"] in {"done", "on_track", "at_risk", "off_track"}


def test_jira_server_flavour_gives_the_same_values(
    workdir: Path,
    sandbox_server: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(sandbox_server, monkeypatch)
    assert main(["sync", "--only", "p1-bugs", "points", "web-done", "bug-cycle"]) == 0
    krs = status_json(capsys)
    expected = expected_values(sandbox_server)
    for kr_id in ("p1-bugs", "points", "web-done", "bug-cycle"):
        assert krs[kr_id]["value"] == pytest.approx(expected[kr_id]), kr_id
    assert "lead-time" not in krs  # --only synced nothing else


def test_second_run_adds_no_history_when_nothing_changed(
    synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(os.environ["OKRSYNC_DATABASE_URL"])
    before = store.counts()
    assert main(["sync"]) == 0
    after = store.counts()
    assert after["sync_runs"] == before["sync_runs"] + 1
    assert after["kr_values"] == before["kr_values"]


def test_checkin_history_and_explain(
    synced: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["checkin", "nps", "25", "--note", "survey of November"]) == 0
    krs = status_json(capsys)
    assert krs["nps"]["value"] == 25
    assert krs["nps"]["progress"] == pytest.approx(50.0)  # (25 - 10) / (40 - 10)
    assert main(["history", "nps"]) == 0
    assert "survey of November" in capsys.readouterr().out
    assert main(["explain", "p1-bugs"]) == 0
    out = capsys.readouterr().out
    assert "project = APP AND priority = Highest" in out
    assert f"server count: {expected_values(sandbox)['p1-bugs']}" in out
    assert "/issues/?jql=" in out  # a link into Jira


def test_dry_run_writes_nothing(
    workdir: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(sandbox, monkeypatch)
    assert main(["sync", "--dry-run", "--only", "p1-bugs"]) == 0
    out = capsys.readouterr().out
    p1 = expected_values(sandbox)["p1-bugs"]
    assert f"p1-bugs: - -> {p1:,.0f}" in out
    assert not (workdir / "okrsync.db").exists()


# --- bad input and failing trackers -----------------------------------------------------------


def test_bad_mapping_file_exits_2_and_leaves_the_store(
    synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(os.environ["OKRSYNC_DATABASE_URL"])
    before = store.counts()
    (synced / "bad.yaml").write_text(MAPPING.replace("jql: project = WEB", "jqll: project = WEB"))
    capsys.readouterr()
    assert main(["sync", "--config", "bad.yaml"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:" in err and "objectives[0].key_results[2].metric" in err
    assert store.counts() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["checkin", "no-such-kr", "3"], "unknown key result 'no-such-kr'"),
        (["checkin", "nps", "lots"], "'lots' is not a number"),
        (["checkin", "nps", "nan"], "'nan' is not a finite number"),
        (["checkin", "p1-bugs", "3"], "key result 'p1-bugs' is computed from jira (count)"),
        (["checkin", "review-share", "90"], "is computed by a formula (formula)"),
        (["sync", "--only", "nope"], "--only: unknown key result 'nope'"),
        (["explain", "nope"], "unknown key result 'nope'"),
    ],
)
def test_bad_usage_exits_2_with_one_line(
    synced: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(os.environ["OKRSYNC_DATABASE_URL"])
    before = store.counts()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert store.counts() == before


@pytest.mark.reliability
def test_text_as_long_as_validation_allows_is_stored_by_every_store(
    workdir: Path,
    sandbox: Sandbox,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PostgreSQL refused a unit over 20 characters (or a level over 50) that validation let
    through, failing the whole run: each now fits, at the mapping file's limit."""
    unit = "story points (fibonacci) [é] <b>" + "é" * 18  # 50 characters, 68 bytes
    level = "<i>team</i> [platform] " + "l" * 77  # 100
    owner = "<script>x</script> [o] " + "ö" * 177  # 200
    assert (len(unit), len(level), len(owner)) == (50, 100, 200)
    (workdir / "okrs.yaml").write_text(
        f"""
version: 1
period: {{start: {P_START}, end: {P_END}}}
objectives:
  - id: quality
    title: Quality
    level: '{level}'
    owner: '{owner}'
    key_results:
      - id: p1-bugs
        title: Open P1 bugs in APP
        start: 40
        target: 5
        unit: '{unit}'
        metric: {{type: count, jql: project = APP AND priority = Highest AND statusCategory != Done}}
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", database_url)
    point_at(sandbox, monkeypatch)
    assert main(["validate"]) == 0
    assert main(["sync"]) == 0, capsys.readouterr().err
    store = Store(database_url)
    try:
        [objective] = store.all_objectives()
        [kr] = store.all_key_results()
    finally:
        store.close()
    assert (objective.level, objective.owner, kr.unit) == (level, owner, unit)
    assert kr.value == expected_values(sandbox)["p1-bugs"]
    record(
        "boundary",
        "a unit, level and owner as long as validation allows (50, 100, 200 characters; "
        "HTML, brackets, accents), synced on each store",
        1,
        "validated, synced and stored as written on SQLite and PostgreSQL; "
        "a longer one refused at validation with its place, exit 2",
    )


def test_unreachable_jira_fails_only_its_key_results(
    synced: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OKRSYNC_JIRA__URL", "http://127.0.0.1:9/jira")
    monkeypatch.setenv("OKRSYNC_JIRA__TIMEOUT_S", "3")
    assert main(["sync"]) == 1
    krs = status_json(capsys)
    expected = expected_values(sandbox)
    assert krs["p1-bugs"]["status"] == "error"
    assert krs["p1-bugs"]["value"] == expected["p1-bugs"]  # the last good value is kept
    assert krs["p1-bugs"]["error"] and "\n" not in krs["p1-bugs"]["error"]
    assert krs["lead-time"]["error"] is None  # GitHub key results were still written
    assert krs["lead-time"]["value"] == pytest.approx(expected["lead-time"])


def test_bad_credentials_are_reported_without_the_token(
    synced: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "wrong-token-8c1f2e"
    monkeypatch.setenv("OKRSYNC_GITHUB__TOKEN", secret)
    assert main(["sync"]) == 1
    output = capsys.readouterr()
    krs = status_json(capsys)
    assert krs["lead-time"]["status"] == "error"
    assert "OKRSYNC_GITHUB__TOKEN" in str(krs["lead-time"]["error"])
    assert krs["p1-bugs"]["error"] is None
    store = Store(os.environ["OKRSYNC_DATABASE_URL"])
    rows = json.dumps([store.all_key_results(), store.runs()], default=str)
    assert secret not in output.out + output.err + rows


def test_run_py_exit_codes_in_a_real_process(workdir: Path, sandbox: Sandbox) -> None:
    env = {**os.environ, **sandbox.settings_env(), "PYTHONPATH": str(REPO_ROOT)}
    run = [sys.executable, str(REPO_ROOT / "run.py")]
    ok = subprocess.run(
        [*run, "sync", "--only", "p1-bugs"], env=env, capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [*run, "validate", "--config", "missing.yaml"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "missing.yaml" in bad.stderr


CHECKED_MAPPING = f"""
version: 1
period: {{start: {P_START}, end: {P_END}}}
objectives:
  - id: checks
    title: Queries with mistakes a tracker notices
    key_results:
      - id: bad-jql
        title: A JQL with a syntax error
        target: 5
        metric: {{type: count, jql: 'project = APP AND priority = = Highest'}}
      - id: no-project
        title: A project that does not exist
        target: 5
        metric: {{type: count, jql: 'project = NOPE AND type = Bug'}}
      - id: no-repo
        title: A repository that does not exist
        target: 5
        metric: {{type: median, field: lead_time_hours, pulls: {{repo: acme/nope, state: merged}}}}
      - id: approved-share
        title: A formula whose input searches a repository that does not exist
        target: 5
        metric:
          type: formula
          expr: 100 * a / b
          inputs:
            a: {{type: count, search: 'repo:acme/gone is:pr review:approved'}}
            b: {{type: count, search: 'repo:acme/api is:pr'}}
      - id: app-open
        title: A good query
        target: 5
        metric: {{type: count, jql: project = APP AND statusCategory != Done}}
      - id: app-open-points
        title: The same good query, checked once
        target: 5
        metric: {{type: sum, field: story_points, jql: project = APP AND statusCategory != Done}}
      - id: app-open-value
        title: The same good query, with a field misspelt
        target: 5
        metric: {{type: sum, field: Busines Value, jql: project = APP AND statusCategory != Done}}
"""


def line_with(text: str) -> int:
    return next(n for n, line in enumerate(CHECKED_MAPPING.splitlines(), 1) if text in line)


@pytest.mark.parametrize(
    ("flavour", "jira_search"), [("sandbox", "/search/jql"), ("sandbox_server", "/search")]
)
def test_check_connections_runs_each_distinct_query_once_and_points_at_failures(
    flavour: str,
    jira_search: str,
    workdir: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox: Sandbox = request.getfixturevalue(flavour)
    (workdir / "okrs.yaml").write_text(CHECKED_MAPPING)
    point_at(sandbox, monkeypatch)
    sandbox.recorder.start()
    code = main(["validate", "--check-connections"])
    recorded = sandbox.recorder.take()
    out = capsys.readouterr().out
    assert code == 2, out  # trackers refused queries as written: the file is wrong
    failures = {line for line in out.splitlines() if "FAILED" in line}
    kr = "okrs.yaml:{}: objectives[0].key_results[{}].metric.{} (key result {}): FAILED, {}"
    expected = [
        kr.format(line_with("= = Highest"), 0, "jql", "bad-jql", "Jira refused the JQL"),
        kr.format(line_with("NOPE"), 1, "jql", "no-project", "Jira refused the JQL"),
        kr.format(line_with("acme/nope"), 2, "pulls", "no-repo", "GitHub refused the search"),
        kr.format(line_with("acme/gone"), 3, "inputs.a.search", "approved-share", "GitHub refused"),
        f"okrs.yaml:{line_with('Busines Value')}: objectives[0].key_results[6].metric "
        f"(key result app-open-value): FAILED, Jira at {sandbox.jira_url} has no field "
        "'Busines Value', by name or id (did you mean 'Business Value'?)",
    ]
    for start in expected:
        assert sum(1 for line in failures if line.startswith(start)) == 1, (start, out)
    assert len(failures) == len(expected), out
    assert any("The value 'NOPE' does not exist for the field 'project'" in f for f in failures)
    assert sum("acme/nope" in f and "cannot be searched" in f for f in failures) == 1
    assert "queries: 2 of 6 OK" in out
    # One request per distinct query, in its cheapest form: ids only, one result.
    jira = [parse_qs(r.query) for r in recorded if r.path.endswith(jira_search)]
    assert sorted(q["jql"][0] for q in jira) == [
        "project = APP AND priority = = Highest",
        "project = APP AND statusCategory != Done",
        "project = NOPE AND type = Bug",
    ]
    assert all(q["maxResults"] == ["1"] and q["fields"] == ["id"] for q in jira)
    github = [parse_qs(r.query) for r in recorded if r.path.endswith("/search/issues")]
    assert len(github) == 3 and all(q["per_page"] == ["1"] for q in github)


def test_sync_refuses_a_jira_field_the_site_does_not_have(
    workdir: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every item would lack it: the key result fails with the name, never a confident 0%."""
    (workdir / "okrs.yaml").write_text(
        MAPPING.replace(
            "metric: {type: percent_done, jql: project = WEB}",
            "metric: {type: share, where: reviewed, jql: project = WEB}",
        )
    )
    point_at(sandbox, monkeypatch)
    assert main(["sync"]) == 1
    krs = status_json(capsys)
    assert krs["web-done"]["status"] == "error"
    assert krs["web-done"]["value"] is None
    assert f"Jira at {sandbox.jira_url} has no field 'reviewed'" in str(krs["web-done"]["error"])
    assert krs["p1-bugs"]["error"] is None


def objectives_json(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    return {obj["id"]: obj for obj in json.loads(capsys.readouterr().out)["objectives"]}


def test_a_failed_key_result_keeps_its_last_good_value_in_the_roll_up(
    synced: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A revoked Jira token fails every Jira key result: the company objective keeps the
    progress it had, and every view says which inputs are stale."""
    before = objectives_json(capsys)
    assert before["quality"]["stale_inputs"] == [] and before["delivery"]["stale_inputs"] == []
    monkeypatch.setenv("OKRSYNC_JIRA__TOKEN", "revoked-token")
    assert main(["sync"]) == 1
    after = objectives_json(capsys)
    jira_krs = ["p1-bugs", "points", "web-done", "bug-cycle"]
    assert [kr["status"] for kr in after["quality"]["key_results"]] == ["error"] * 4  # type: ignore[union-attr]
    # Nothing changed in the trackers: the roll-up stands where it stood, marked stale.
    assert after["quality"]["progress"] == before["quality"]["progress"]
    assert after["quality"]["stale_inputs"] == jira_krs
    assert after["delivery"]["progress"] == before["delivery"]["progress"]
    assert after["delivery"]["stale_inputs"] == []
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    assert main(["status"]) == 0
    mark = "stale inputs: p1-bugs, points, web-done, bug-cycle"
    assert f"! {mark}" in capsys.readouterr().out
    assert main(["report", "--format", "json"]) == 0
    report = {o["id"]: o for o in json.loads(capsys.readouterr().out)["objectives"]}
    assert report["quality"]["stale_inputs"] == jira_krs
    assert report["delivery"]["stale_inputs"] == []
    assert main(["report", "--format", "md"]) == 0
    assert f"⚠ {mark}" in capsys.readouterr().out
    dashboard = Client(make_dashboard_app(Store(os.environ["OKRSYNC_DATABASE_URL"]), Settings()))
    api = {o["id"]: o for o in dashboard.get("/api/objectives").get_json()["objectives"]}
    assert api["quality"]["stale_inputs"] == jira_krs
    assert f"⚠ {mark}" in dashboard.get("/").get_data(as_text=True)


def test_an_objective_is_judged_against_its_key_results_own_periods(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_okrsync_env: None,
) -> None:
    """The file's period is a tenth gone, the key result's own period three tenths: at 20 %
    the key result is at risk, and so is the objective that is nothing but that key result."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    file_start, kr_start = TODAY - timedelta(days=10), TODAY - timedelta(days=30)
    (tmp_path / "okrs.yaml").write_text(
        f"""
version: 1
period: {{start: {file_start}, end: {file_start + timedelta(days=99)}}}
objectives:
  - id: adoption
    title: Teams adopt the new pipeline
    key_results:
      - id: migrated
        title: Migrate 100 services
        period: {{start: {kr_start}, end: {kr_start + timedelta(days=99)}}}
        start: 0
        target: 100
        metric: {{type: manual}}
"""
    )
    assert main(["checkin", "migrated", "20"]) == 0
    objective = objectives_json(capsys)["adoption"]
    [key_result] = objective["key_results"]  # type: ignore[misc]
    assert key_result["status"] == "at_risk"  # 0.2 against about 0.3 expected
    assert objective["progress"] == 20.0
    assert objective["status"] == "at_risk"


def test_no_forecast_from_two_check_ins_a_moment_apart(
    synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tester's case: 38, then 41 seconds later, made a line that reached 1.5 million by
    the period's end. Two values over seconds are not a trend."""
    assert main(["checkin", "nps", "38"]) == 0
    assert main(["checkin", "nps", "41"]) == 0
    capsys.readouterr()
    assert main(["report", "--format", "json"]) == 0
    report = {
        kr["id"]: kr
        for o in json.loads(capsys.readouterr().out)["objectives"]
        for kr in o["key_results"]
    }
    assert report["nps"]["forecast"] is None
    assert report["nps"]["forecast_note"].startswith("not enough history: 2 values over ")
    assert main(["report", "--format", "md"]) == 0
    nps_row = next(x for x in capsys.readouterr().out.splitlines() if "| Developer NPS" in x)
    assert "not enough history" in nps_row
    dashboard = Client(make_dashboard_app(Store(os.environ["OKRSYNC_DATABASE_URL"]), Settings()))
    api = dashboard.get("/api/key-results/nps").get_json()
    assert api["forecast"] is None and api["forecast_note"] == report["nps"]["forecast_note"]
    page = dashboard.get("/key-results/nps").get_data(as_text=True)
    assert "not enough history: 2 values over " in page
    assert 'data-series="forecast"' not in page


# --- what the mapping file no longer lists ---------------------------------------------------

HOSTILE_TITLE = "Story [bold]points[/bold] <b>done</b> \x1b[31m"


def write_mapping(path: Path, objectives: list[dict[str, object]]) -> None:
    document = yaml.safe_load(MAPPING)
    document["objectives"] = objectives
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def full_objectives() -> list[dict[str, object]]:
    objectives: list[dict[str, object]] = yaml.safe_load(MAPPING)["objectives"]
    objectives[0]["key_results"][1]["title"] = HOSTILE_TITLE  # type: ignore[index]
    return objectives


def without_points_and_delivery() -> list[dict[str, object]]:
    """The file after a lead dropped one key result and one whole objective."""
    quality = full_objectives()[0]
    quality["key_results"] = [kr for kr in quality["key_results"] if kr["id"] != "points"]  # type: ignore[attr-defined]
    return [quality]


def test_what_the_mapping_file_drops_is_retired_in_every_view_and_left_out_of_roll_ups(
    workdir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The tester's case: a key result and an objective removed from the file kept showing
    with their old values. A run, even an `--only` one (what the daemon runs), reads the
    whole file: what it no longer lists is retired, kept with its history, shown only by
    `status --all`; listed again, it is back."""
    point_at(sandbox, monkeypatch)
    write_mapping(workdir / "okrs.yaml", full_objectives())
    assert main(["sync"]) == 0
    before = status_json(capsys)
    write_mapping(workdir / "okrs.yaml", without_points_and_delivery())
    assert main(["sync", "--only", "p1-bugs"]) == 0

    now = objectives_json(capsys)
    assert list(now) == ["quality"]
    assert [kr["id"] for kr in now["quality"]["key_results"]] == [  # type: ignore[attr-defined]
        "p1-bugs",
        "web-done",
        "bug-cycle",
    ]
    assert now["quality"]["retired_at"] is None and now["quality"]["stale_inputs"] == []
    # The roll-up is the one of a store that never held what was dropped.
    fresh = tmp_path_factory.mktemp("fresh")
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{fresh / 'okrsync.db'}")
    assert main(["sync"]) == 0
    assert objectives_json(capsys)["quality"]["progress"] == now["quality"]["progress"]
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{workdir / 'okrsync.db'}")

    capsys.readouterr()
    assert main(["status", "--all", "--json"]) == 0
    every = {o["id"]: o for o in json.loads(capsys.readouterr().out)["objectives"]}
    assert list(every) == ["quality", "delivery"]
    assert every["quality"]["retired_at"] is None and every["delivery"]["retired_at"] is not None
    retired = {kr["id"]: kr for o in every.values() for kr in o["key_results"] if kr["retired_at"]}
    assert set(retired) == {"points", "lead-time", "lead-time-p90", "fast-reviews"} | {
        "merged-all-time",
        "review-share",
        "nps",
    }
    for kr_id, kr in retired.items():
        assert kr["value"] == before[kr_id]["value"], kr_id  # kept, with its history

    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    assert main(["status"]) == 0
    current = capsys.readouterr().out
    assert "Deliver faster" not in current and "Story [bold]points" not in current
    assert main(["status", "--all"]) == 0
    shown = capsys.readouterr().out
    points_line = next(line for line in shown.splitlines() if "Story [bold]points" in line)
    assert "<b>done</b>" in points_line and "\x1b" not in shown
    assert points_line.rstrip().endswith("retired")
    delivery_line = next(line for line in shown.splitlines() if "Deliver faster" in line)
    assert delivery_line.rstrip().endswith("retired")
    assert main(["explain", "points"]) == 0
    assert "the mapping file no longer lists it" in capsys.readouterr().out
    assert main(["report", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)["objectives"]
    assert [o["id"] for o in report] == ["quality"]
    assert "points" not in {kr["id"] for kr in report[0]["key_results"]}

    dashboard = Client(make_dashboard_app(Store(os.environ["OKRSYNC_DATABASE_URL"]), Settings()))
    listed = dashboard.get("/api/objectives").get_json()["objectives"]
    assert [o["id"] for o in listed] == ["quality"]
    with_retired = dashboard.get("/api/objectives?all=1").get_json()["objectives"]
    assert [o["id"] for o in with_retired] == ["quality", "delivery"]
    assert dashboard.get("/api/key-results/points").get_json()["retired_at"] is not None
    assert 'data-objective="delivery"' not in dashboard.get("/").get_data(as_text=True)
    page = dashboard.get("/?all=1").get_data(as_text=True)
    assert 'data-objective="delivery"' in page and '<span class="status retired">' in page
    assert "no longer lists this key result" in dashboard.get("/key-results/points").get_data(
        as_text=True
    )

    write_mapping(workdir / "okrs.yaml", full_objectives())
    assert main(["sync", "--only", "p1-bugs"]) == 0
    back = objectives_json(capsys)
    assert list(back) == ["quality", "delivery"]
    points = next(kr for kr in back["quality"]["key_results"] if kr["id"] == "points")  # type: ignore[attr-defined]
    assert points["retired_at"] is None and points["value"] == before["points"]["value"]


def test_demo_writes_a_new_store_or_its_own_and_refuses_any_other(
    workdir: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`demo` in a folder with a real store added its objectives for good. It now writes
    only its namespace into a new store or one it alone wrote; a store another namespace
    uses, even with the demo's own objective ids, is refused with exit 2, untouched; told
    `--into-shared-store`, it writes its namespace beside the other, which keeps its rows."""
    assert main(["demo"]) == 0
    assert main(["demo"]) == 0  # its own store: run again
    point_at(sandbox, monkeypatch)
    assert main(["sync"]) == 0  # the tester's real okrs.yaml, ids shared with the demo
    store = Store(os.environ["OKRSYNC_DATABASE_URL"])
    before = store.counts()
    capsys.readouterr()
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"the store {store.safe_url} holds other namespaces (okrs)" in err
    assert "OKRSYNC_DATABASE_URL" in err and "--into-shared-store" in err
    assert store.counts() == before
    mine = store.in_namespace("okrs")
    rows = [(row.id, row.value, row.checked_at, row.retired_at) for row in mine.all_key_results()]
    assert main(["demo", "--into-shared-store"]) == 0
    assert store.namespaces() == ["demo", "okrs"]
    after = [(row.id, row.value, row.checked_at, row.retired_at) for row in mine.all_key_results()]
    assert after == rows
