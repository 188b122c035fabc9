"""A generated, realistic Jira site: projects, users, fields and issues with their changelogs.

The sandbox serves this data set through a Jira-shaped REST API, so the real `jira` client and
our connector can be exercised end to end. Generation is deterministic for a seed and an
anchor (the data set's "now"), so tests can compute expected values from the same objects.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

log = logging.getLogger(__name__)

STORY_POINTS_FIELD = "customfield_10016"  # "Story Points" on company-managed projects
STORY_POINT_ESTIMATE_FIELD = "customfield_10026"  # "Story point estimate" on team-managed ones
BUSINESS_VALUE_FIELD = "customfield_10050"  # a plain number field
SEVERITY_FIELD = "customfield_10060"  # a single-select option field, on bugs
FIELD_NAMES = {
    STORY_POINTS_FIELD: "Story Points",
    STORY_POINT_ESTIMATE_FIELD: "Story point estimate",
}

ISSUE_TYPES = ("Bug", "Story", "Task", "Epic")
ISSUE_TYPE_IDS = {"Bug": "10004", "Story": "10001", "Task": "10002", "Epic": "10000"}
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
PRIORITY_IDS = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
LABELS = (
    "customer",
    "regression",
    "security",
    "tech-debt",
    "performance",
    "ux",
    "infra",
    "flaky",
    "accessibility",
    "onboarding",
)
SEVERITIES = ("S1", "S2", "S3", "S4")

# Status category keys and their display names, as Jira names them.
CATEGORY_NAMES = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
CATEGORY_IDS = {"new": 2, "indeterminate": 4, "done": 3}
CATEGORY_COLOURS = {"new": "blue-gray", "indeterminate": "yellow", "done": "green"}


@dataclass(frozen=True)
class JiraStatus:
    id: str
    name: str
    category_key: str  # new | indeterminate | done

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES[self.category_key]


STATUSES: dict[str, JiraStatus] = {
    s.name: s
    for s in (
        JiraStatus("10000", "To Do", "new"),
        JiraStatus("10005", "Backlog", "new"),
        JiraStatus("3", "In Progress", "indeterminate"),
        JiraStatus("10003", "In Review", "indeterminate"),
        JiraStatus("10004", "Blocked", "indeterminate"),
        JiraStatus("10001", "Done", "done"),
        JiraStatus("6", "Closed", "done"),
        JiraStatus("10006", "Won't Do", "done"),
    )
}
RESOLUTION_IDS = {
    "Done": "10000",
    "Fixed": "1",
    "Won't Do": "10001",
    "Duplicate": "3",
    "Cannot Reproduce": "5",
}


@dataclass(frozen=True)
class JiraUser:
    account_id: str  # Cloud identity
    name: str  # Server/DC username
    display_name: str
    email: str


@dataclass(frozen=True)
class JiraProject:
    id: str
    key: str
    name: str
    team_managed: bool  # team-managed projects keep story points in "Story point estimate"

    @property
    def story_points_field(self) -> str:
        return STORY_POINT_ESTIMATE_FIELD if self.team_managed else STORY_POINTS_FIELD


@dataclass(frozen=True)
class JiraField:
    """One entry of GET /field."""

    id: str
    name: str
    custom: bool
    schema: dict[str, object]
    clause_names: tuple[str, ...]
    navigable: bool = True
    orderable: bool = True
    searchable: bool = True


@dataclass(frozen=True)
class ChangeItem:
    """One changed field inside a history entry (Jira's `items`)."""

    field: str
    field_id: str
    from_id: str | None
    from_string: str | None
    to_id: str | None
    to_string: str | None


@dataclass(frozen=True)
class ChangelogEntry:
    """One history entry: who changed what, when."""

    id: str
    at: datetime
    author: str  # account id
    items: tuple[ChangeItem, ...]


@dataclass
class JiraIssue:
    id: int
    key: str
    project: str
    issue_type: str
    summary: str
    description: str
    status: str
    priority: str
    labels: tuple[str, ...]
    assignee: str | None  # account id
    reporter: str  # account id
    created: datetime
    updated: datetime
    resolutiondate: datetime | None
    resolution: str | None
    story_points: float | None
    story_points_field: str  # the custom field id that holds story points in this project
    custom_fields: dict[str, float | str | None]  # other custom fields by id
    changelog: tuple[ChangelogEntry, ...]

    @property
    def status_category(self) -> str:
        return STATUSES[self.status].category_key

    @property
    def status_category_name(self) -> str:
        return STATUSES[self.status].category_name

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])

    def status_transitions(self) -> list[tuple[datetime, str, str]]:
        """(when, from status, to status) for every status change, oldest first."""
        return [
            (entry.at, item.from_string or "", item.to_string or "")
            for entry in self.changelog
            for item in entry.items
            if item.field == "status"
        ]

    @property
    def started_at(self) -> datetime | None:
        """First move into an in-progress status, as read from the changelog."""
        for at, _, to in self.status_transitions():
            if STATUSES[to].category_key == "indeterminate":
                return at
        return None


@dataclass
class SavedFilter:
    """A saved filter: a JQL its owner can edit without any issue changing."""

    id: str
    name: str
    jql: str


SAVED_FILTERS = (
    SavedFilter("10042", "Open P1 bugs", "priority = Highest AND statusCategory != Done"),
    SavedFilter("10043", "Bugs in APP", "project = APP AND issuetype = Bug"),
)


@dataclass
class JiraDataset:
    anchor: datetime
    projects: list[JiraProject]
    issues: list[JiraIssue]
    fields: list[JiraField]
    users: list[JiraUser]
    statuses: list[JiraStatus] = field(default_factory=lambda: list(STATUSES.values()))
    resolutions: tuple[str, ...] = tuple(RESOLUTION_IDS)
    filters: dict[str, SavedFilter] = field(
        default_factory=lambda: {f.id: dataclasses.replace(f) for f in SAVED_FILTERS}
    )

    def __post_init__(self) -> None:
        self.by_key = {issue.key: issue for issue in self.issues}
        self.by_id = {str(issue.id): issue for issue in self.issues}
        self.users_by_id = {user.account_id: user for user in self.users}
        self.projects_by_key = {project.key: project for project in self.projects}
        self.by_project: dict[str, list[JiraIssue]] = {}
        for issue in self.issues:
            self.by_project.setdefault(issue.project, []).append(issue)

    def issues_in(
        self, projects: frozenset[str] | None, keys: frozenset[str] | None = None
    ) -> list[JiraIssue]:
        """What a search limited to these projects and keys (None: any) need look at."""
        if keys is not None:
            found = [self.by_key[key] for key in sorted(keys) if key in self.by_key]
            return [i for i in found if projects is None or i.project in projects]
        if projects is None:
            return self.issues
        return [issue for key in sorted(projects) for issue in self.by_project.get(key, ())]

    def issue(self, id_or_key: str) -> JiraIssue | None:
        return self.by_key.get(id_or_key.upper()) or self.by_id.get(id_or_key)

    def saved_filter(self, id_or_name: str) -> SavedFilter | None:
        """A saved filter by id, or by name (case-insensitive), as JQL's `filter = ...` takes."""
        found = self.filters.get(id_or_name.strip())
        if found is not None:
            return found
        wanted = id_or_name.strip().lower()
        return next((f for f in self.filters.values() if f.name.lower() == wanted), None)

    def create(self, like: JiraIssue, at: datetime) -> JiraIssue:
        """A new issue like `like` (project, type, estimate), created and updated at `at`."""
        issue = dataclasses.replace(
            like,
            id=max(i.id for i in self.issues) + 1,
            key=self._next_key(like.project),
            status="To Do",
            resolution=None,
            resolutiondate=None,
            created=at,
            updated=at,
            labels=(),
            changelog=(),
        )
        self.restore(issue)
        return issue

    def _next_key(self, project: str) -> str:
        number = 1 + max((i.number for i in self.by_project.get(project, ())), default=0)
        return f"{project}-{number}"

    def delete(self, issue: JiraIssue) -> None:
        """Delete an issue as Jira does: gone from every search, with no trace in `updated`."""
        self.issues.remove(issue)
        self.by_project[issue.project].remove(issue)
        for key in [key for key, found in self.by_key.items() if found is issue]:
            del self.by_key[key]
        del self.by_id[str(issue.id)]

    def restore(self, issue: JiraIssue) -> None:
        """Bring a deleted issue back unchanged (as a permission regained shows it again)."""
        self.issues.append(issue)
        self.by_project.setdefault(issue.project, []).append(issue)
        self.by_key[issue.key] = issue
        self.by_id[str(issue.id)] = issue

    def move(self, issue: JiraIssue, project: str, at: datetime) -> str:
        """Move an issue to another project as Jira does: same id, a new key, `updated` = at.

        The old key keeps leading to the issue (Jira redirects it); the history records
        both changes; story points move into the target project's field.
        """
        target = self.projects_by_key[project]
        old_key, old_project = issue.key, issue.project
        old_field = issue.story_points_field
        issue.key, issue.project = self._next_key(project), project
        issue.story_points_field = target.story_points_field
        issue.updated = at
        last_id = max((int(e.id) for i in self.issues for e in i.changelog), default=10000)
        items = [
            ChangeItem("Key", "issuekey", None, old_key, None, issue.key),
            ChangeItem("project", "project", None, old_project, None, project),
        ]
        if issue.story_points is not None and old_field != issue.story_points_field:
            # The estimate moves into the target's field: Jira records both fields' change.
            shown = f"{issue.story_points:g}"
            items.append(ChangeItem(FIELD_NAMES[old_field], old_field, None, shown, None, None))
            new_field = issue.story_points_field
            items.append(ChangeItem(FIELD_NAMES[new_field], new_field, None, None, None, shown))
        moved = ChangelogEntry(str(last_id + 1), at, issue.reporter, tuple(items))
        issue.changelog = (*issue.changelog, moved)
        self.by_key[issue.key] = issue
        self.by_project[old_project].remove(issue)
        self.by_project.setdefault(project, []).append(issue)
        return issue.key


PROJECT_CATALOGUE = (
    ("APP", "Product App", False),
    ("WEB", "Website", False),
    ("OPS", "Operations", False),
    ("MOB", "Mobile", True),
    ("DATA", "Data Platform", False),
    ("PAY", "Payments", False),
    ("SEC", "Security", False),
    ("INT", "Integrations", True),
    ("API", "Public API", False),
    ("DOC", "Documentation", True),
)
PROJECT_WEIGHTS = {"APP": 0.4, "WEB": 0.22, "OPS": 0.16, "MOB": 0.22}

FIRST_NAMES = (
    *("Ada", "Grace", "Linus", "Ken", "Barbara", "Margaret", "Dennis", "Frances", "Alan"),
    *("Radia", "Tim", "Hedy", "Edsger", "Donald", "Sophie", "Katherine", "John", "Niklaus"),
    *("Leslie", "Shafi", "Jean", "Anita", "Guido", "Yukihiro", "Bjarne"),
)
LAST_NAMES = (
    *("Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Hamilton", "Ritchie", "Allen"),
    *("Turing", "Perlman", "Berners-Lee", "Lamarr", "Dijkstra", "Knuth", "Wilson", "Johnson"),
    *("Backus", "Wirth", "Lamport", "Goldwasser", "Sammet", "Borg", "Rossum", "Matsumoto"),
    "Stroustrup",
)

AREAS = (
    "checkout",
    "login",
    "search",
    "billing page",
    "dashboard",
    "notifications",
    "settings",
    "onboarding flow",
    "export",
    "file upload",
    "API gateway",
    "reports",
    "user profile",
    "mobile sync",
    "admin console",
)
BUG_TEMPLATES = (
    "Crash when opening the {area}",
    "Timeout in {area} under load",
    "Wrong totals shown in {area}",
    "{area} fails for users with long names",
    "Broken layout of {area} on small screens",
    "Error 500 from {area} after deploy",
    "Data loss in {area} when offline",
    "Slow response in {area}",
)
STORY_TEMPLATES = (
    "As a customer I can use the {area} faster",
    "Redesign the {area}",
    "Add filters to {area}",
    "Support dark mode in {area}",
    "Add audit trail to {area}",
    "Localise the {area}",
)
TASK_TEMPLATES = (
    "Upgrade dependencies of {area}",
    "Add monitoring for {area}",
    "Write runbook for {area}",
    "Clean up feature flags in {area}",
    "Migrate {area} to the new cluster",
)
EPIC_TEMPLATES = ("{area} overhaul", "Reliability of {area}", "Growth: {area}")
TEMPLATES = {"Bug": BUG_TEMPLATES, "Story": STORY_TEMPLATES, "Task": TASK_TEMPLATES}
TEMPLATES["Epic"] = EPIC_TEMPLATES

STORY_POINT_VALUES = (1.0, 2.0, 3.0, 5.0, 5.0, 8.0, 13.0)
DAY = timedelta(days=1)
HISTORY_CHURN_FIELDS = ("Rank", "Sprint", "Flagged")


def _make_users(rng: random.Random, count: int = 25) -> list[JiraUser]:
    users = []
    for index in range(count):
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index * 7) % len(LAST_NAMES)]
        account_id = f"5b10a2844c20165700ede{index + 100:03d}" + f"{rng.randrange(16**4):04x}"
        name = (first[0] + last).lower().replace("-", "")
        users.append(
            JiraUser(
                account_id=account_id,
                name=name,
                display_name=f"{first} {last}",
                email=f"{name}@example.com",
            )
        )
    return users


def _make_fields() -> list[JiraField]:
    def system(field_id: str, name: str, schema_type: str, **schema: object) -> JiraField:
        return JiraField(
            id=field_id,
            name=name,
            custom=False,
            schema={"type": schema_type, "system": field_id, **schema},
            clause_names=(field_id,),
        )

    def custom(field_id: str, name: str, schema_type: str, custom_type: str) -> JiraField:
        number = int(field_id.rsplit("_", 1)[1])
        return JiraField(
            id=field_id,
            name=name,
            custom=True,
            schema={"type": schema_type, "custom": custom_type, "customId": number},
            clause_names=(f"cf[{number}]", name),
        )

    plugin = "com.atlassian.jira.plugin.system.customfieldtypes"
    return [
        system("summary", "Summary", "string"),
        system("description", "Description", "string"),
        system("status", "Status", "status"),
        system("priority", "Priority", "priority"),
        system("issuetype", "Issue Type", "issuetype"),
        system("project", "Project", "project"),
        system("labels", "Labels", "array", items="string"),
        system("assignee", "Assignee", "user"),
        system("reporter", "Reporter", "user"),
        system("created", "Created", "datetime"),
        system("updated", "Updated", "datetime"),
        system("resolutiondate", "Resolved", "datetime"),
        system("resolution", "Resolution", "resolution"),
        JiraField(
            id="issuekey",
            name="Key",
            custom=False,
            schema={},
            clause_names=("id", "issue", "issuekey", "key"),
            orderable=False,
        ),
        custom(STORY_POINTS_FIELD, "Story Points", "number", f"{plugin}:float"),
        custom(
            STORY_POINT_ESTIMATE_FIELD,
            "Story point estimate",
            "number",
            "com.pyxis.greenhopper.jira:jsw-story-points",
        ),
        custom(BUSINESS_VALUE_FIELD, "Business Value", "number", f"{plugin}:float"),
        custom(SEVERITY_FIELD, "Severity", "option", f"{plugin}:select"),
    ]


@dataclass
class _Timeline:
    """The lifecycle of one issue before it becomes a JiraIssue."""

    created: datetime
    status_path: list[tuple[datetime, str]]  # (when, new status), oldest first
    resolution: str | None
    resolved: datetime | None


def _plan_timeline(
    rng: random.Random, issue_type: str, priority: str, created: datetime, anchor: datetime
) -> _Timeline:
    """Walk the workflow from creation; anything after the anchor has not happened yet."""
    urgency = {"Highest": 0.25, "High": 0.6, "Medium": 1.0, "Low": 1.6, "Lowest": 2.2}[priority]
    path: list[tuple[datetime, str]] = []
    created = created.replace(microsecond=0)
    start_status = "Backlog" if rng.random() < 0.25 else "To Do"
    resolution: str | None = None
    resolved: datetime | None = None

    def happened(at: datetime) -> bool:
        return at <= anchor

    if rng.random() < 0.06:  # dropped before anyone started
        at = created + DAY * rng.expovariate(1 / (20 * urgency))
        if happened(at):
            closing = "Won't Do" if issue_type != "Bug" else rng.choice(("Closed", "Won't Do"))
            path.append((at, closing))
            resolution = rng.choice(("Won't Do", "Duplicate", "Cannot Reproduce"))
            if issue_type != "Bug":
                resolution = rng.choice(("Won't Do", "Duplicate"))
            resolved = at
        return _Timeline(created, [(created, start_status), *path], resolution, resolved)

    epic_scale = 4.0 if issue_type == "Epic" else 1.0
    wait_days = 9 * urgency * epic_scale
    if rng.random() < 0.3:  # the long tail of a backlog that nobody picks up
        wait_days = 200
    at = created

    def advance(delay: timedelta) -> None:
        nonlocal at
        at += delay
        if not happened(at):
            raise _NotYet

    def reach(delay: timedelta, status: str) -> None:
        advance(delay)
        path.append((at, status))

    try:
        reach(DAY * rng.expovariate(1 / wait_days), "In Progress")
        if rng.random() < 0.12:
            reach(DAY * rng.expovariate(1 / 3), "Blocked")
            reach(DAY * rng.expovariate(1 / 4), "In Progress")
        work = DAY * rng.lognormvariate(1.0, 0.8) * urgency * epic_scale
        if issue_type == "Epic":
            advance(work)
        else:
            reach(work, "In Review")
            if rng.random() < 0.2:  # review sent it back
                reach(DAY * rng.expovariate(1 / 1.5), "In Progress")
                reach(DAY * rng.expovariate(1 / 2), "In Review")
            advance(DAY * rng.expovariate(1 / 1.5))
    except _NotYet:
        return _Timeline(created, [(created, start_status), *path], None, None)
    final = "Closed" if issue_type == "Bug" and rng.random() < 0.3 else "Done"
    path.append((at, final))
    resolution = "Fixed" if issue_type == "Bug" else "Done"
    return _Timeline(created, [(created, start_status), *path], resolution, at)


class _NotYet(Exception):
    """The next step of an issue's workflow falls after the anchor: it has not happened."""


class _ChangelogIds:
    """Jira history ids grow with time across the whole site."""

    def __init__(self) -> None:
        self.next_id = 10000

    def take(self) -> str:
        self.next_id += 1
        return str(self.next_id)


def build_jira_dataset(
    *,
    seed: int,
    anchor: datetime,
    n_issues: int = 3000,
    n_projects: int = 4,
    history_days: int = 365,
) -> JiraDataset:
    """Generate a deterministic Jira site whose activity spans the `history_days` before
    `anchor` (creation leans towards recent days, as a growing company's does)."""
    if history_days < 1:
        raise ValueError("history_days must be positive")
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    if not 1 <= n_projects <= len(PROJECT_CATALOGUE):
        raise ValueError(f"n_projects must be between 1 and {len(PROJECT_CATALOGUE)}")
    rng = random.Random(seed)
    anchor = anchor.replace(microsecond=0)
    users = _make_users(rng)
    projects = [
        JiraProject(id=str(10000 + index), key=key, name=name, team_managed=team_managed)
        for index, (key, name, team_managed) in enumerate(PROJECT_CATALOGUE[:n_projects])
    ]
    weights = [PROJECT_WEIGHTS.get(project.key, 0.15) for project in projects]

    # Creation times first: ids and keys follow creation order, as on a real site.
    seconds = history_days * 86400
    created_times = sorted(
        anchor - timedelta(seconds=int(seconds * rng.random() ** 1.3) + 60) for _ in range(n_issues)
    )
    next_number = {project.key: 0 for project in projects}
    issues: list[JiraIssue] = []
    for index, created in enumerate(created_times):
        project = rng.choices(projects, weights)[0]
        next_number[project.key] += 1
        issues.append(
            _make_issue(rng, index, project, next_number[project.key], created, anchor, users)
        )
    _add_history_churn(rng, issues, users, anchor)
    # History ids are assigned in time order across the site once every issue is planned.
    _number_histories(issues, _ChangelogIds())
    log.debug("built jira dataset: %d issues in %d projects", len(issues), len(projects))
    return JiraDataset(
        anchor=anchor, projects=projects, issues=issues, fields=_make_fields(), users=users
    )


def _make_issue(
    rng: random.Random,
    index: int,
    project: JiraProject,
    number: int,
    created: datetime,
    anchor: datetime,
    users: list[JiraUser],
) -> JiraIssue:
    issue_type = rng.choices(ISSUE_TYPES, (0.36, 0.36, 0.23, 0.05))[0]
    if issue_type == "Bug":
        priority = rng.choices(PRIORITIES, (0.1, 0.22, 0.45, 0.16, 0.07))[0]
    else:
        priority = rng.choices(PRIORITIES, (0.03, 0.17, 0.6, 0.14, 0.06))[0]
    area = rng.choice(AREAS)
    summary = rng.choice(TEMPLATES[issue_type]).format(area=area)
    summary = summary[0].upper() + summary[1:]
    labels = _pick_labels(rng, issue_type)
    timeline = _plan_timeline(rng, issue_type, priority, created, anchor)
    final_status = timeline.status_path[-1][1]
    reporter = rng.choice(users).account_id
    assignee: str | None = rng.choice(users).account_id
    if STATUSES[final_status].category_key == "new" and rng.random() < 0.55:
        assignee = None

    story_points: float | None = None
    if issue_type == "Story" and rng.random() < 0.85:
        story_points = rng.choice(STORY_POINT_VALUES)
    elif issue_type in ("Task", "Bug") and rng.random() < 0.25:
        story_points = rng.choice(STORY_POINT_VALUES[:4])
    custom: dict[str, float | str | None] = {}
    if issue_type in ("Story", "Epic") and rng.random() < 0.6:
        custom[BUSINESS_VALUE_FIELD] = float(rng.randrange(1, 11) * 10)
    if issue_type == "Bug":
        custom[SEVERITY_FIELD] = SEVERITIES[min(3, PRIORITIES.index(priority))]

    author = assignee or reporter
    changelog: list[ChangelogEntry] = []
    for (_, before), (at, after) in zip(
        timeline.status_path, timeline.status_path[1:], strict=False
    ):
        items = [
            ChangeItem("status", "status", STATUSES[before].id, before, STATUSES[after].id, after)
        ]
        if STATUSES[after].category_key == "done" and timeline.resolution:
            items.append(
                ChangeItem(
                    "resolution",
                    "resolution",
                    None,
                    None,
                    RESOLUTION_IDS[timeline.resolution],
                    timeline.resolution,
                )
            )
        changelog.append(ChangelogEntry("", at.replace(microsecond=0), author, tuple(items)))
    last_change = changelog[-1].at if changelog else created
    # Comments and edits move `updated` a little past the last status change.
    updated = min(anchor, last_change + timedelta(seconds=int(rng.expovariate(1 / 21600))))
    if updated < created:
        updated = created
    return JiraIssue(
        id=10001 + index,
        key=f"{project.key}-{number}",
        project=project.key,
        issue_type=issue_type,
        summary=summary,
        description=f"{summary}. Reported in {area}; see the linked incident for details.",
        status=final_status,
        priority=priority,
        labels=labels,
        assignee=assignee,
        reporter=reporter,
        created=created,
        updated=updated,
        resolutiondate=changelog[-1].at if timeline.resolved else None,
        resolution=timeline.resolution,
        story_points=story_points,
        story_points_field=project.story_points_field,
        custom_fields=custom,
        changelog=tuple(changelog),
    )


def _pick_labels(rng: random.Random, issue_type: str) -> tuple[str, ...]:
    chosen: set[str] = set()
    if issue_type == "Bug":
        if rng.random() < 0.45:
            chosen.add("customer")
        if rng.random() < 0.2:
            chosen.add("regression")
        if rng.random() < 0.08:
            chosen.add("security")
    for _ in range(rng.choices((0, 1, 2), (0.5, 0.35, 0.15))[0]):
        chosen.add(rng.choice(LABELS))
    return tuple(sorted(chosen))


def _number_histories(issues: list[JiraIssue], ids: _ChangelogIds) -> None:
    entries = sorted(
        (
            (entry.at, issue.id, position)
            for issue in issues
            for position, entry in enumerate(issue.changelog)
        ),
    )
    numbered: dict[tuple[int, int], str] = {
        (issue_id, position): ids.take() for _, issue_id, position in entries
    }
    for issue in issues:
        issue.changelog = tuple(
            ChangelogEntry(numbered[(issue.id, position)], entry.at, entry.author, entry.items)
            for position, entry in enumerate(issue.changelog)
        )


def _add_history_churn(
    rng: random.Random,
    issues: list[JiraIssue],
    users: list[JiraUser],
    anchor: datetime,
) -> None:
    """Give a few long-running issues more than 100 histories, as busy issues have.

    Jira expands only the latest 100 histories in a search result, so these are the
    issues whose first move to In Progress can only be found by paging the changelog.
    """
    candidates = [
        issue
        for issue in issues
        if issue.started_at is not None and (anchor - issue.started_at) > 30 * DAY
    ]
    if not candidates:
        return
    chosen = rng.sample(candidates, k=min(len(candidates), max(3, len(issues) // 1000)))
    for issue in chosen:
        started = issue.started_at
        assert started is not None
        end = issue.resolutiondate or anchor
        span = (end - started).total_seconds()
        count = rng.randrange(105, 160)
        extra = []
        for step in range(count):
            at = started + timedelta(seconds=span * (step + 1) / (count + 2))
            field_name = HISTORY_CHURN_FIELDS[step % len(HISTORY_CHURN_FIELDS)]
            item = ChangeItem(
                field_name, field_name.lower(), None, "", None, f"{field_name} {step}"
            )
            extra.append(
                ChangelogEntry("", at.replace(microsecond=0), rng.choice(users).account_id, (item,))
            )
        issue.changelog = tuple(sorted((*issue.changelog, *extra), key=lambda e: e.at))
        issue.updated = max(issue.updated, issue.changelog[-1].at)
