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

import pytest

from sandbox.github_data import GitHubPull
from sandbox.jira_data import JiraIssue
from sandbox.server import Sandbox
from sync.cli import main
from sync.store import Store
from tests.conftest import ANCHOR

REPO_ROOT = Path(__file__).resolve().parents[2]
TODAY = datetime.now(UTC).date()
# A period that holds today (key results are only synced inside their period) and the
# last two months of the sandbox's data.
P_START = min(ANCHOR.date(), TODAY) - timedelta(days=60)
P_END = TODAY + timedelta(days=30)

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
    assert (objective["level"], objective["owner"], kr["unit"]) == (level, owner, unit)
    assert kr["value"] == expected_values(sandbox)["p1-bugs"]


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
