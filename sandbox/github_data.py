"""A generated GitHub organisation (repos, users, issues, pull requests, reviews) for the sandbox.

The data is deterministic for a seed and an anchor ("now"), spread over the year (or
`history_days`) before the anchor, and shaped so that the metrics okr-sync computes have
something real to bite on: lead times from minutes to weeks, merged pull requests without
approval, bots, drafts, labels with spaces, and more than 1,000 merged pull requests in
acme/api so that GitHub's 1,000-result search cap matters.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

ORG = "acme"

# Repository names in the order they are used; `n_repos` takes a prefix of this list.
REPO_NAMES = (
    "api",
    "web",
    "mobile",
    "infra",
    "billing",
    "auth",
    "search",
    "payments",
    "analytics",
    "notifications",
    "docs-site",
    "cli",
    "sdk-python",
    "sdk-js",
    "gateway",
    "scheduler",
    "ledger",
    "design-system",
    "data-pipeline",
    "observability",
    "ml-platform",
    "admin",
    "integrations",
    "reports",
)

# A monorepo with years of closed pull requests, made only when asked (the benchmark's company).
BIG_REPO_NAME = "monolith"

# Share of the pull requests each repository gets (acme/api is the busy one).
_REPO_WEIGHTS = (14.0, 4.0, 3.0, 3.0)
_OTHER_REPO_WEIGHT = 2.5

HUMANS = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "oscar",
    "peggy",
    "trent",
    "victor",
    "walter",
)
BOTS = ("dependabot[bot]", "renovate[bot]", "github-actions[bot]")
VIEWER = "okr-sync-demo"  # the login the sandbox token belongs to

PR_LABELS = ("bug", "enhancement", "performance", "security", "docs", "customer", "tech debt")
ISSUE_LABELS = (
    "bug",
    "enhancement",
    "customer",
    "security",
    "performance",
    "docs",
    "question",
    "good first issue",
)
BASE_BRANCHES = ("main", "main", "main", "main", "main", "main", "develop", "release/2026.10")

_PR_VERBS = ("Add", "Fix", "Refactor", "Speed up", "Remove", "Document", "Harden", "Migrate")
_ISSUE_PREFIXES = ("Crash when", "Slow", "Wrong total in", "Support", "Cannot open", "Improve")
_NOUNS = (
    "login flow",
    "invoice export",
    "search index",
    "rate limiter",
    "checkout page",
    "webhook retries",
    "user settings",
    "audit log",
    "CSV import",
    "dashboard charts",
    "push notifications",
    "deploy pipeline",
    "cache layer",
    "session handling",
    "billing report",
    "API pagination",
)
_DEP_PACKAGES = ("requests", "lodash", "react", "django", "urllib3", "axios", "pydantic", "webpack")

ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED"]
ItemState = Literal["open", "closed"]
# The issue events okr-sync's backfill reads (GitHub has more: renamed, assigned, ...).
EventKind = Literal[
    "labeled", "unlabeled", "closed", "reopened", "merged", "assigned", "unassigned", "renamed"
]


@dataclass(frozen=True)
class GitHubUser:
    login: str
    id: int
    type: Literal["User", "Bot"]


@dataclass(frozen=True)
class GitHubRepo:
    owner: str
    name: str
    id: int
    created_at: datetime
    description: str
    default_branch: str = "main"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class GitHubReview:
    id: int
    user: str
    state: ReviewState
    submitted_at: datetime


@dataclass(frozen=True)
class GitHubEvent:
    """One entry of an issue's event log (`GET /repos/{o}/{r}/issues/{n}/events`)."""

    id: int
    event: EventKind
    actor: str
    created_at: datetime
    label: str | None = None  # labeled / unlabeled
    assignee: str | None = None  # assigned / unassigned
    rename: tuple[str, str] | None = None  # renamed: (from, to)


@dataclass
class GitHubIssue:
    """An issue; also the base of a pull request (GitHub numbers both in one sequence).

    `events` is the item's scripted event log; empty, `events_of` derives the log its
    fields imply (labels added at creation, closed or merged once).
    """

    repo: str  # owner/name
    number: int
    id: int
    title: str
    user: str
    state: ItemState
    labels: tuple[str, ...]
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    comments: int
    events: tuple[GitHubEvent, ...] = ()

    @property
    def is_pull_request(self) -> bool:
        return False

    @property
    def key(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass
class GitHubPull(GitHubIssue):
    """A pull request: an issue with a merge state, a branch, a size and reviews."""

    merged_at: datetime | None = None
    draft: bool = False
    base: str = "main"
    head: str = "feature"
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0
    reviews: tuple[GitHubReview, ...] = ()

    @property
    def is_pull_request(self) -> bool:
        return True


@dataclass
class GitHubDataset:
    """Everything the sandbox serves; items are kept sorted by (repo, number)."""

    org: str
    anchor: datetime
    viewer: str
    users: dict[str, GitHubUser]
    repos: dict[str, GitHubRepo]  # by full name
    issues: list[GitHubIssue]  # issues only
    pulls: list[GitHubPull]
    moved: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)  # transferred
    gone: set[tuple[str, int]] = field(default_factory=set)  # deleted issues
    renamed: dict[str, str] = field(default_factory=dict)  # old full name (lower) -> new
    _by_key: dict[tuple[str, int], GitHubIssue] = field(default_factory=dict, repr=False)
    _by_repo: dict[str, list[GitHubIssue]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for item in [*self.issues, *self.pulls]:
            self._by_key[(item.repo, item.number)] = item
        for full_name in self.repos:
            self._by_repo[full_name] = []
        for item in sorted(self._by_key.values(), key=lambda i: (i.repo, i.number)):
            self._by_repo[item.repo].append(item)

    @property
    def all_items(self) -> list[GitHubIssue]:
        """Issues and pull requests of every repository, by repository and number."""
        return [item for items in self._by_repo.values() for item in items]

    def items_of(self, full_name: str) -> list[GitHubIssue]:
        return self._by_repo.get(full_name, [])

    def add_repo(self, repo: GitHubRepo, pulls: list[GitHubPull]) -> None:
        """Another repository with its pull requests, numbered in creation order."""
        self.repos[repo.full_name] = repo
        self.pulls.extend(pulls)
        self._by_repo[repo.full_name] = list(pulls)
        for pull in pulls:
            self._by_key[(repo.full_name, pull.number)] = pull

    def item(self, full_name: str, number: int) -> GitHubIssue | None:
        return self._by_key.get((full_name, number))

    def repo_by_id(self, repo_id: int) -> GitHubRepo | None:
        return next((r for r in self.repos.values() if r.id == repo_id), None)

    def delete(self, issue: GitHubIssue) -> None:
        """An admin deletes an issue: it leaves every listing and search without a trace.

        GitHub cannot delete pull requests; its "Get an issue" answers 410 Gone after this.
        """
        assert not issue.is_pull_request, "GitHub pull requests cannot be deleted"
        self._forget(issue)
        self.gone.add((issue.repo, issue.number))

    def transfer(self, issue: GitHubIssue, repo: str, moment: datetime) -> None:
        """Move an issue to another repository of the owner, as GitHub's transfer does.

        It keeps its id and creation time, takes the next number of its new repository and
        is updated at `moment`; the old number answers 301 to the new one.
        """
        assert not issue.is_pull_request, "GitHub pull requests cannot be transferred"
        assert repo in self.repos and repo != issue.repo
        old = (issue.repo, issue.number)
        self._forget(issue)
        issue.repo = repo
        issue.number = max((item.number for item in self._by_repo[repo]), default=0) + 1
        issue.updated_at = moment
        self.issues.append(issue)
        self._by_key[(repo, issue.number)] = issue
        self._by_repo[repo].append(issue)
        self.moved[old] = (repo, issue.number)

    def open_issue(self, repo: str, labels: tuple[str, ...], moment: datetime) -> GitHubIssue:
        """Someone opens an issue at `moment`: the repository's next number, a new id."""
        number = max((item.number for item in self._by_repo[repo]), default=0) + 1
        issue = GitHubIssue(
            repo=repo,
            number=number,
            id=max(item.id for item in self.all_items) + 1,
            title="Opened during the run",
            user=next(iter(self.users)),
            state="open",
            labels=labels,
            assignee=None,
            created_at=moment,
            updated_at=moment,
            closed_at=None,
            comments=0,
        )
        self.issues.append(issue)
        self._by_key[(repo, number)] = issue
        self._by_repo[repo].append(issue)
        return issue

    def rename(self, full_name: str, new_name: str) -> None:
        """Rename a repository, as GitHub does: its items go with it; the REST API answers
        the old name with 301 to `/repositories/<id>/...`, and a search for it finds nothing."""
        repo = self.repos.pop(full_name)
        owner, name = new_name.split("/", 1)
        self.repos[new_name] = replace(repo, owner=owner, name=name)
        items = self._by_repo.pop(full_name)
        for item in items:
            del self._by_key[(item.repo, item.number)]
            item.repo = new_name
            self._by_key[(new_name, item.number)] = item
        self._by_repo[new_name] = items
        self.renamed[full_name.lower()] = new_name

    def repo_named(self, full_name: str) -> GitHubRepo | None:
        """The repository of this name, as GitHub reads names: ignoring case."""
        wanted = full_name.lower()
        return next((r for n, r in self.repos.items() if n.lower() == wanted), None)

    def _forget(self, issue: GitHubIssue) -> None:
        self.issues.remove(issue)
        del self._by_key[(issue.repo, issue.number)]
        self._by_repo[issue.repo].remove(issue)


def build_github_dataset(
    *,
    seed: int,
    anchor: datetime,
    n_repos: int = 4,
    n_pulls: int = 2400,
    n_issues: int = 1200,
    history_days: int = 365,
    big_repo_closed_pulls: int = 0,
) -> GitHubDataset:
    """Generate the organisation; the same seed and anchor always give the same data.

    Items are created over the `history_days` before the anchor. With `big_repo_closed_pulls`,
    one more repository (`BIG_REPO_NAME`) holds that many closed pull requests and the open
    ones generated along with them, made after the others so that they stay as they were.
    """
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    if not 1 <= n_repos <= len(REPO_NAMES):
        raise ValueError(f"n_repos must be between 1 and {len(REPO_NAMES)}")
    if history_days < 1 or big_repo_closed_pulls < 0:
        raise ValueError("history_days must be positive and big_repo_closed_pulls not negative")
    anchor = anchor.astimezone(UTC).replace(microsecond=0)
    builder = _DatasetBuilder(random.Random(seed), anchor, history_days)
    data = builder.build(n_repos, n_pulls, n_issues)
    if big_repo_closed_pulls:
        builder.add_big_repo(data, big_repo_closed_pulls)
    return data


class _DatasetBuilder:
    """Holds the random source and the id counters while one data set is generated."""

    def __init__(self, rng: random.Random, anchor: datetime, history_days: int = 365) -> None:
        self.rng = rng
        self.anchor = anchor
        self.history_days = history_days
        self.start = anchor - timedelta(days=history_days)
        self.next_item_id = 1_000_000
        self.next_review_id = 5_000_000

    def build(self, n_repos: int, n_pulls: int, n_issues: int) -> GitHubDataset:
        users = {login: GitHubUser(login, 1000 + i, "User") for i, login in enumerate(HUMANS)}
        users.update({b: GitHubUser(b, 49_000_000 + i, "Bot") for i, b in enumerate(BOTS)})
        users[VIEWER] = GitHubUser(VIEWER, 999, "User")
        repos: dict[str, GitHubRepo] = {}
        for i, name in enumerate(REPO_NAMES[:n_repos]):
            repo = GitHubRepo(
                owner=ORG,
                name=name,
                id=700_000 + i,
                created_at=self.start - timedelta(days=400 + 30 * i),
                description=f"The {name} service of Acme",
            )
            repos[repo.full_name] = repo
        weights = [
            _REPO_WEIGHTS[i] if i < len(_REPO_WEIGHTS) else _OTHER_REPO_WEIGHT
            for i in range(n_repos)
        ]
        pulls_per_repo = _split(n_pulls, weights)
        issues_per_repo = _split(n_issues, [1.0 + w / 4 for w in weights])
        all_pulls: list[GitHubPull] = []
        all_issues: list[GitHubIssue] = []
        for repo, n_repo_pulls, n_repo_issues in zip(
            repos.values(), pulls_per_repo, issues_per_repo, strict=True
        ):
            drafts: list[GitHubIssue] = [self.pull(repo.full_name) for _ in range(n_repo_pulls)]
            drafts += [self.issue(repo.full_name) for _ in range(n_repo_issues)]
            drafts.sort(key=lambda item: item.created_at)
            for number, item in enumerate(drafts, start=1):
                item.number = number
                item.id = self.next_item_id
                self.next_item_id += 1
                if isinstance(item, GitHubPull):
                    item.head = _branch_name(item, number)
                    all_pulls.append(item)
                else:
                    all_issues.append(item)
        return GitHubDataset(
            org=ORG,
            anchor=self.anchor,
            viewer=VIEWER,
            users=users,
            repos=repos,
            issues=all_issues,
            pulls=all_pulls,
        )

    def add_big_repo(self, data: GitHubDataset, closed_pulls: int) -> None:
        """The monorepo: pull requests until `closed_pulls` of them are closed (merged or not);
        the few still open come along, as stale ones do in a real monorepo."""
        repo = GitHubRepo(
            owner=ORG,
            name=BIG_REPO_NAME,
            id=700_000 + len(REPO_NAMES),
            created_at=self.start - timedelta(days=400),
            description=f"The {BIG_REPO_NAME} of Acme",
        )
        drafts: list[GitHubPull] = []
        closed = 0
        while closed < closed_pulls:
            pull = self.pull(repo.full_name)
            drafts.append(pull)
            closed += pull.state == "closed"
        drafts.sort(key=lambda item: item.created_at)
        for number, pull in enumerate(drafts, start=1):
            pull.number = number
            pull.id = self.next_item_id
            self.next_item_id += 1
            pull.head = _branch_name(pull, number)
        data.add_repo(repo, drafts)

    def created_time(self) -> datetime:
        """A moment in the history before the anchor, mostly on weekdays in working hours."""
        rng = self.rng
        while True:
            day = self.start + timedelta(days=rng.random() * self.history_days)
            if day.weekday() < 5 or rng.random() < 0.15:
                break
        hour = min(22, max(6, int(rng.gauss(13, 3))))
        moment = day.replace(
            hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0
        )
        if moment >= self.anchor:
            moment = self.anchor - timedelta(minutes=rng.randrange(1, 600))
        return max(moment, self.start)

    def pull(self, repo: str) -> GitHubPull:
        rng = self.rng
        created = self.created_time()
        is_bot = rng.random() < 0.12
        author = rng.choice(BOTS[:2]) if is_bot else rng.choice(HUMANS)
        if is_bot:
            package = rng.choice(_DEP_PACKAGES)
            title = f"Bump {package} from 1.{rng.randrange(30)} to 1.{rng.randrange(30, 60)}"
            labels: tuple[str, ...] = ("dependencies",)
            lead = timedelta(hours=min(24 * 20, rng.lognormvariate(math.log(6), 1.2)))
        else:
            title = f"{rng.choice(_PR_VERBS)} {rng.choice(_NOUNS)}"
            labels = tuple(sorted(set(rng.sample(PR_LABELS, rng.choice((0, 1, 1, 1, 2))))))
            hours = rng.lognormvariate(math.log(20), 1.3)
            lead = timedelta(hours=min(24 * 45, max(0.2, hours)))
        end = _whole_seconds(created + lead)
        outcome = rng.random()
        merged_at: datetime | None = None
        closed_at: datetime | None = None
        if end < self.anchor and outcome < 0.86:
            merged_at = closed_at = end
        elif end < self.anchor and outcome < 0.95:
            closed_at = end
        state: ItemState = "closed" if closed_at else "open"
        draft = state == "open" and rng.random() < 0.15
        reviews = self.reviews(author, created, merged_at or closed_at, is_bot, draft)
        assignee = None if rng.random() < 0.35 else (author if not is_bot else rng.choice(HUMANS))
        last_event = max([created, closed_at or created, *(r.submitted_at for r in reviews)])
        updated = min(self.anchor, last_event + timedelta(minutes=rng.randrange(0, 180)))
        additions = int(rng.lognormvariate(math.log(80), 1.4)) + 1
        return GitHubPull(
            repo=repo,
            number=0,
            id=0,
            title=title,
            user=author,
            state=state,
            labels=labels,
            assignee=assignee,
            created_at=created,
            updated_at=updated,
            closed_at=closed_at,
            comments=rng.choice((0, 0, 1, 1, 2, 3, 5, 8)),
            merged_at=merged_at,
            draft=draft,
            base="main" if is_bot else rng.choice(BASE_BRANCHES),
            additions=additions,
            deletions=int(additions * rng.random() * 0.8),
            changed_files=max(1, int(rng.lognormvariate(math.log(4), 0.9))),
            reviews=reviews,
        )

    def reviews(
        self,
        author: str,
        created: datetime,
        ended: datetime | None,
        is_bot: bool,
        draft: bool,
    ) -> tuple[GitHubReview, ...]:
        """Reviews in time order; about one merged pull request in seven merges unapproved."""
        rng = self.rng
        horizon = ended or self.anchor
        span = (horizon - created).total_seconds()
        if draft or span <= 60 or rng.random() < (0.2 if is_bot else 0.05):
            return ()
        reviewers = [h for h in HUMANS if h != author]
        plan: list[tuple[str, ReviewState]] = []
        roll = rng.random()
        first, second = rng.sample(reviewers, 2)
        if roll < 0.6:
            plan = [(first, "APPROVED")]
        elif roll < 0.8:
            plan = [(first, "CHANGES_REQUESTED"), (first, "APPROVED")]
        elif roll < 0.9:
            plan = [(first, "COMMENTED"), (second, "APPROVED")]
        elif roll < 0.95:
            plan = [(first, "COMMENTED")]
        else:
            plan = [(first, "CHANGES_REQUESTED")]
        reviews: list[GitHubReview] = []
        moment = created
        for index, (login, state) in enumerate(plan):
            share = rng.uniform(0.05, 0.6) if index == 0 else rng.uniform(0.1, 0.9)
            remaining = (horizon - moment).total_seconds()
            moment = moment + timedelta(seconds=max(30.0, remaining * share))
            moment = min(moment, horizon - timedelta(seconds=1))
            reviews.append(GitHubReview(self.review_id(), login, state, _whole_seconds(moment)))
        if ended is not None and rng.random() < 0.03:
            late = ended + timedelta(hours=rng.uniform(1, 48))
            if late < self.anchor:
                reviews.append(
                    GitHubReview(self.review_id(), second, "APPROVED", _whole_seconds(late))
                )
        return tuple(reviews)

    def review_id(self) -> int:
        self.next_review_id += 1
        return self.next_review_id

    def issue(self, repo: str) -> GitHubIssue:
        rng = self.rng
        created = self.created_time()
        labels = tuple(sorted(set(rng.sample(ISSUE_LABELS, rng.choice((0, 1, 1, 2, 2, 3))))))
        title = f"{rng.choice(_ISSUE_PREFIXES)} {rng.choice(_NOUNS)}"
        days = rng.lognormvariate(math.log(3), 1.5)
        end = _whole_seconds(created + timedelta(days=min(200.0, days)))
        closed_at = end if end < self.anchor and rng.random() < 0.8 else None
        last = closed_at or created
        updated = min(self.anchor, last + timedelta(minutes=rng.randrange(0, 2 * 24 * 60)))
        return GitHubIssue(
            repo=repo,
            number=0,
            id=0,
            title=title,
            user=rng.choice(HUMANS),
            state="closed" if closed_at else "open",
            labels=labels,
            assignee=None if rng.random() < 0.3 else rng.choice(HUMANS),
            created_at=created,
            updated_at=updated,
            closed_at=closed_at,
            comments=rng.choice((0, 1, 1, 2, 3, 4, 6, 10)),
        )


def events_of(item: GitHubIssue) -> list[GitHubEvent]:
    """An item's event log, oldest first: the scripted one, or the one its fields imply."""
    if item.events:
        return sorted(item.events, key=lambda event: (event.created_at, event.id))
    serial = iter(range(item.id * 100, item.id * 100 + 100))
    log = [
        GitHubEvent(next(serial), "labeled", item.user, item.created_at, label)
        for label in item.labels
    ]
    if item.assignee is not None:
        log.append(
            GitHubEvent(
                next(serial), "assigned", item.user, item.created_at, assignee=item.assignee
            )
        )
    merged_at = item.merged_at if isinstance(item, GitHubPull) else None
    if merged_at is not None:
        log.append(GitHubEvent(next(serial), "merged", item.user, merged_at))
    if item.closed_at is not None and item.state == "closed":
        log.append(GitHubEvent(next(serial), "closed", item.user, item.closed_at))
    return log


def _split(total: int, weights: list[float]) -> list[int]:
    """Integer shares of `total` proportional to `weights`, summing exactly to `total`."""
    scale = sum(weights)
    shares = [int(total * w / scale) for w in weights]
    for i in range(total - sum(shares)):
        shares[i % len(shares)] += 1
    return shares


def _whole_seconds(moment: datetime) -> datetime:
    """GitHub reports times to the second; so does the sandbox."""
    return moment.replace(microsecond=0)


def _branch_name(pull: GitHubPull, number: int) -> str:
    if pull.user.endswith("[bot]"):
        return f"{pull.user.removesuffix('[bot]')}/bump-{number}"
    return f"{pull.user}/{number}-{pull.title.lower().replace(' ', '-')[:30]}"
