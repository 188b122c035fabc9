"""Incremental sync against a full fetch, after random sequences of the changes trackers allow.

A hypothesis state machine changes the sandbox's data the way people and trackers do
(Jira: create, resolve, reopen, re-prioritise, retype, re-estimate, relabel, move to another
project, delete, restore, edit a saved filter; GitHub: close, reopen, merge, relabel, delete
or transfer an issue) and syncs in between; open pull requests and open issues are served
by their own open listings. After every sync, every key result's value must
equal a run with no cache at all. Hypothesis prints the shrunk sequence of changes when
they differ.
"""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import yaml
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from bench.company import company_mapping
from config.loader import load_mapping_text
from sandbox.github_data import GitHubPull
from sandbox.jira_data import JiraIssue
from sandbox.server import SandboxOptions, build_sandbox
from sync.engine import run_sync
from sync.store import Store
from tests.sync.test_incremental import full_run, settings, values

PROJECTS = ["APP", "WEB"]
UNREAD_PROJECT = "ZZZ"
SMALL_SERVER_PAGE = 50
REPOS = ["acme/api", "acme/web"]
CROSS_PROJECT = [
    ("Open across projects", "count", None, "project in (APP, WEB) AND statusCategory != Done"),
    ("Points in Done or Closed", "sum", "story_points", "status in (Done, Closed)"),
    (
        "Bugs and stories not done",
        "count",
        None,
        "issuetype in (Bug, Story) AND status not in (Done)",
    ),
    ("Big open items", "share", None, "statusCategory != Done"),
    ("Saved filter", "count", None, "filter = 10042"),
]
FILTER_QUERIES = [
    "priority = Highest AND statusCategory != Done",
    "project = WEB AND issuetype = Bug",
    "labels = okr",
]


def mapping_text(today: datetime) -> str:
    start, end = today.date() - timedelta(days=90), today.date() + timedelta(days=30)
    data = yaml.safe_load(
        company_mapping(PROJECTS, REPOS, org="acme", start=start, end=end, key_results=50)
    )
    key_results = []
    for n, (title, kind, field, jql) in enumerate(CROSS_PROJECT):
        metric: dict[str, object] = {"source": "jira", "type": kind, "jql": jql}
        if field:
            metric["field"] = field
        if kind == "share":
            metric["where"] = "story_points >= 5"
        key_results.append({"id": f"cross-{n}", "title": title, "target": 50, "metric": metric})
    data["objectives"].append(
        {"id": "cross", "title": "Across projects", "key_results": key_results}
    )
    data["objectives"].append(
        {"id": "open", "title": "Open issues", "key_results": open_issue_key_results()}
    )
    return yaml.safe_dump(data, sort_keys=False)


def open_issue_key_results() -> list[dict[str, object]]:
    """Open issues alone, served by the open listing (or by the created listing that reaches
    them): closing, reopening, deleting and transferring issues all move them."""
    found: list[dict[str, object]] = []
    for repo in REPOS:
        name = repo.split("/")[1]
        for suffix, filters in (
            ("all", {"repo": repo, "state": "open"}),
            ("okr", {"repo": repo, "state": "open", "labels": ["okr"]}),
            ("new", {"repo": repo, "state": "open", "created": "period"}),
        ):
            metric = {"type": "count", "issues": filters}
            found.append(
                {"id": f"open-{name}-{suffix}", "title": suffix, "target": 5, "metric": metric}
            )
    return found


class IncrementalEqualsFull(RuleBasedStateMachine):
    flavour: Literal["cloud", "server"] = "cloud"

    @initialize(seed=st.integers(0, 2**16))
    def start(self, seed: int) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        self.box = build_sandbox(
            # Quiet for a day before now: the change feed sees only this machine's changes.
            # GitHub's 30 searches a minute in one-second windows: many syncs, little waiting.
            SandboxOptions(
                seed=seed,
                jira_flavour=self.flavour,
                anchor=now - timedelta(days=1),
                time_scale=60.0,
            ),
            jira_issues=240,
            jira_projects=2,
            github_repos=2,
            github_pulls=90,
            github_issues=30,
        ).start()
        self.folder = tempfile.TemporaryDirectory()
        self.store = Store(f"sqlite:///{Path(self.folder.name) / 'okrsync.db'}")
        self.store.migrate()
        if self.flavour == "server" and self.box.jira_app is not None:
            # A site whose pages hold 50 issues: the counts of more come without their ids
            # (asked again every run), those of fewer with them (checked like any query).
            self.box.jira_app.server_page_cap = SMALL_SERVER_PAGE
        self.mapping = load_mapping_text(mapping_text(now), source_name="company", today=now.date())
        self.deleted: list[JiraIssue] = []
        self.sync()

    def teardown(self) -> None:
        """Every sequence ends with a sync, so the last changes are compared too."""
        if not hasattr(self, "box"):
            return
        try:
            self.sync()
        finally:
            self.box.stop()
            self.store.close()
            self.folder.cleanup()

    # -- Jira

    def issue(self, pick: int) -> JiraIssue:
        issues = self.box.jira_data.issues
        return issues[pick % len(issues)]

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    @rule(pick=st.integers(0, 10**6))
    def resolve(self, pick: int) -> None:
        issue = self.issue(pick)
        issue.status, issue.resolution, issue.resolutiondate = "Done", "Done", self.now()
        issue.updated = self.now()

    @rule(pick=st.integers(0, 10**6))
    def reopen(self, pick: int) -> None:
        issue = self.issue(pick)
        issue.status, issue.resolution, issue.resolutiondate = "To Do", None, None
        issue.updated = self.now()

    @rule(pick=st.integers(0, 10**6), priority=st.sampled_from(["Highest", "High", "Low"]))
    def reprioritise(self, pick: int, priority: str) -> None:
        issue = self.issue(pick)
        issue.priority, issue.updated = priority, self.now()

    @rule(pick=st.integers(0, 10**6), issue_type=st.sampled_from(["Bug", "Story", "Task"]))
    def retype(self, pick: int, issue_type: str) -> None:
        issue = self.issue(pick)
        issue.issue_type, issue.updated = issue_type, self.now()

    @rule(pick=st.integers(0, 10**6), points=st.sampled_from([None, 1.0, 3.0, 8.0]))
    def re_estimate(self, pick: int, points: float | None) -> None:
        issue = self.issue(pick)
        issue.story_points, issue.updated = points, self.now()

    @rule(pick=st.integers(0, 10**6), label=st.sampled_from(["security", "customer", "okr"]))
    def relabel(self, pick: int, label: str) -> None:
        issue = self.issue(pick)
        issue.labels, issue.updated = (*issue.labels, label), self.now()

    @rule(pick=st.integers(0, 10**6))
    def move(self, pick: int) -> None:
        issue = self.issue(pick)
        target = PROJECTS[1] if issue.project == PROJECTS[0] else PROJECTS[0]
        self.box.jira_data.move(issue, target, self.now())

    @rule(pick=st.integers(0, 10**6))
    def create(self, pick: int) -> None:
        self.box.jira_data.create(self.issue(pick), self.now())

    @rule(pick=st.integers(0, 10**6))
    def create_where_no_query_looks(self, pick: int) -> None:
        """An issue in a project no key result reads: it changed, and matches no query."""
        like = dataclasses.replace(self.issue(pick), project=UNREAD_PROJECT)
        self.box.jira_data.create(like, self.now())

    @rule(pick=st.integers(0, 10**6))
    def delete(self, pick: int) -> None:
        issue = self.issue(pick)
        self.box.jira_data.delete(issue)
        self.deleted.append(issue)

    @precondition(lambda self: bool(self.deleted))
    @rule(pick=st.integers(0, 10**6))
    def restore(self, pick: int) -> None:
        issue = self.deleted.pop(pick % len(self.deleted))
        self.box.jira_data.restore(issue)

    @rule(jql=st.sampled_from(FILTER_QUERIES))
    def edit_saved_filter(self, jql: str) -> None:
        """The filter's owner edits its JQL: no issue changes."""
        self.box.jira_data.filters["10042"].jql = jql

    # -- GitHub

    @rule(pick=st.integers(0, 10**6), action=st.sampled_from(["close", "reopen", "label"]))
    def github_change(self, pick: int, action: str) -> None:
        items = self.box.github_data.all_items
        item = items[pick % len(items)]
        moment = self.now()
        if action == "close" and item.state == "open":
            item.state, item.closed_at = "closed", moment
            if isinstance(item, GitHubPull):
                item.merged_at = moment
        elif action == "reopen" and item.state == "closed" and not isinstance(item, GitHubPull):
            item.state, item.closed_at = "open", None
        else:
            item.labels = (*item.labels, "okr")
        item.updated_at = moment

    @rule(pick=st.integers(0, 10**6))
    def github_close_open(self, pick: int) -> None:
        """Close an open item: most items are closed, so a random pick rarely is one."""
        opened = [item for item in self.box.github_data.all_items if item.state == "open"]
        if not opened:
            return
        item = opened[pick % len(opened)]
        moment = self.now()
        item.state, item.closed_at, item.updated_at = "closed", moment, moment
        if isinstance(item, GitHubPull):
            item.merged_at = moment

    @rule(pick=st.integers(0, 10**6), transfer=st.booleans())
    def github_delete_or_transfer(self, pick: int, transfer: bool) -> None:
        issues = self.box.github_data.issues
        issue = issues[pick % len(issues)]
        if transfer:
            other = next(repo for repo in REPOS if repo != issue.repo)
            self.box.github_data.transfer(issue, other, self.now())
        else:
            self.box.github_data.delete(issue)

    # -- syncing

    @rule()
    def sync(self) -> None:
        as_of = datetime.now(UTC)
        url = str(self.store.engine.url.render_as_string(hide_password=False))
        incremental = values(
            run_sync(settings(self.box, url), self.mapping, self.store, as_of=as_of)
        )
        full = full_run(self.box, self.mapping, as_of)
        differing = {k: (incremental[k], full[k]) for k in full if incremental[k] != full[k]}
        assert not differing, f"incremental != full fetch (incremental, full): {differing}"


SETTINGS = hypothesis_settings(
    max_examples=8,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class CloudIncrementalEqualsFull(IncrementalEqualsFull):
    flavour = "cloud"


class ServerIncrementalEqualsFull(IncrementalEqualsFull):
    flavour = "server"


TestCloud = CloudIncrementalEqualsFull.TestCase
TestCloud.settings = SETTINGS
TestServer = ServerIncrementalEqualsFull.TestCase
TestServer.settings = SETTINGS
