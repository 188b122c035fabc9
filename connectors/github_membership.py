"""GitHub's membership check: whether GitHub still counts every issue a cached answer holds.

Deleted and transferred issues leave no `updated` trace, so a cached answer that may hold
issues is compared with GitHub's own count of the same items (`total_count` of one search).
A repository's issue listing is counted by `repo:X is:issue` (from its horizon on:
`updated:>=H`, `created:>=H` for a listing by creation; `is:open` for the open listing,
`is:closed` for the closed one), a search's
items by the search itself. A cached search count confined to repositories
(`repo:X is:issue is:open label:customer`) is checked as a listing is: by its repositories
and its other qualifiers (`count_check`).

Listings are checked many at a time: GitHub ORs several `repo:` qualifiers, so listings whose
other qualifiers are equal share one search, `is:issue [is:open|is:closed] [updated:>=H]
repo:a repo:b ...`, kept within GitHub's 256 characters a query, and compared with the sum
of their cached sizes (read from the store without decoding an item). Only when the sums
differ is the batch split in halves: one search counts the left half, the right half's count is the
batch's less the left's, until the listings that differ are found. The batches are
searched side by side, within the tracker's concurrency (the rate governor keeps the
search budget). One listing that lost an
issue among n costs about log2(n) searches more. A batch GitHub refuses (a repository renamed
or gone) is split the same way, each half searched, until the refused listing is alone; its
refusal is then raised, as a single search's was: the feed cannot tell what changed, so every
answer is fetched in full and the renamed repository's key results fail with its new name.

Why a sum is enough. A listing stands only when the `org:` search named no change in it
since the last run, and a changed one is checked once the issues updated since are listed
again and applied to its size; either way GitHub's count of it equals its size unless an
issue left without a trace (deleted, transferred away: GitHub counts fewer) or GitHub's
search index lags the REST listings the cache was filled from. An equal sum hides a loss
only when, in the same batch and at the same moment, the index also counts one listing above
its cached size: an issue deleted just before that listing was last fetched, not yet dropped
from the index, or one created too recently for the `org:` search to name but already
counted. Both are index lag, which lasts seconds to minutes: the next run's sums differ (the
loss is still there, the lag gone), and the listing is fetched in full then;
`full_refresh_every` bounds it anyway. The same holds for a half's count inferred by
subtraction, should the index move between the two searches. A difference in either
direction means a full fetch, as one search per listing would.

A search count is held to the same standard. Its repositories are ORed with the batch's,
its other qualifiers are the batch's, so the batch counts what the counts count, once each
(a batch never names a repository twice). Qualifiers that ORing repositories would change
(`OR`, `AND`, `NOT`, parentheses, `org:`, `user:`, a negated `repo:`) keep a count out of
any batch: it is asked again every run. Besides deletions and transfers, a count can also
move when a label is renamed or deleted, which GitHub may not record as an update to the
issues that carry it. Alone, that shows as a difference and the count is asked again. A
rise so made (a label renamed to the counted one) can hide a loss in the same batch since
the last run; unlike index lag it lasts, until the next full fetch (`full_refresh_every`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from connectors.base import QueryError
from connectors.changes import FetchUnit, HeldAnswer, StageCosts
from connectors.request_stages import side_by_side

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 256  # GitHub refuses a longer search (422)
LOST = "GitHub counts fewer items than the cache holds: some were deleted or transferred"
MOVED = "GitHub's count moved though none of its repositories changed (deletion, transfer)"
STAGE = "membership check"
TOKEN = re.compile(r'(?:[^\s"]+|"[^"]*")+')  # a search term, its quoted parts whole
UNBATCHABLE = re.compile(r"(?:^|\s)(?:OR|AND|NOT)(?:\s|$)|[()]|(?<![\w])(?:org|user|-repo):")


@dataclass(frozen=True)
class HeldCount:
    """One cached answer to check: what GitHub is asked, and how many items the cache holds."""

    key: str  # the unit's key
    description: str
    qualifiers: str  # the search without its repositories, or the whole search
    repos: tuple[str, ...]  # as the search names them; none: a search, checked on its own
    size: int
    differs: str = LOST  # why a difference means a full fetch

    @property
    def names(self) -> set[str]:
        """Its repositories as GitHub tells them apart (without quotes, any case)."""
        return {repo.strip('"').lower() for repo in self.repos}


def held_count(
    unit: FetchUnit,
    held: HeldAnswer,
    size: int,
    *,
    state: Literal["open", "closed", "all"],
    by_creation: bool = False,
) -> HeldCount:
    """What checks `held` (of `size` items): a listing of one state or all by its repository,
    a search count by its repositories when it can share a search, else the search alone."""
    if unit.repo is None:
        counted = count_check(unit, held)
        return counted or HeldCount(unit.key, unit.description, unit.description, (), size)
    qualifiers = "is:issue" if state == "all" else f"is:issue is:{state}"
    if held.horizon is not None:
        since = "created" if by_creation else "updated"
        qualifiers += f" {since}:>={held.horizon.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return HeldCount(unit.key, unit.description, qualifiers, (unit.repo,), size)


def count_check(unit: FetchUnit, held: HeldAnswer) -> HeldCount | None:
    """What checks a cached search count in a batch (see the module doc); None when it
    cannot share a search: no count held, not confined to repositories alone, qualifiers
    that ORing repositories would change, or quotes left open."""
    split = qualifiers_and_repositories(unit.description)
    if held.count is None or split is None:
        return None
    return HeldCount(unit.key, unit.description, *split, held.count, MOVED)


def qualifiers_and_repositories(query: str) -> tuple[str, tuple[str, ...]] | None:
    """A search's qualifiers other than `repo:`, and its `repo:` values as written, when it
    can share a batch (see `count_check`); else None."""
    if query.count('"') % 2:
        return None
    terms = TOKEN.findall(query)
    repos = tuple(term.removeprefix("repo:") for term in terms if term.startswith("repo:"))
    qualifiers = " ".join(term for term in terms if not term.startswith("repo:"))
    if not repos or UNBATCHABLE.search(re.sub(r'"[^"]*"', '""', qualifiers)):
        return None
    return qualifiers, repos


@dataclass(frozen=True)
class Batch:
    """Listings counted by one search: the same qualifiers, their repositories ORed."""

    checks: tuple[HeldCount, ...]

    @property
    def query(self) -> str:
        first = self.checks[0]
        if not first.repos:
            return first.qualifiers
        repos = [f"repo:{repo}" for check in self.checks for repo in check.repos]
        return " ".join(filter(None, [first.qualifiers, *repos]))

    @property
    def size(self) -> int:
        return sum(check.size for check in self.checks)

    def halves(self) -> tuple[Batch, Batch]:
        middle = len(self.checks) // 2
        return Batch(self.checks[:middle]), Batch(self.checks[middle:])


def batches(checks: Sequence[HeldCount]) -> list[Batch]:
    """Listings and counts grouped by their other qualifiers, as many repositories a search
    as fit in GitHub's query length, none named twice in one; each search alone."""
    found: list[Batch] = []
    by_qualifiers: dict[str, list[HeldCount]] = {}
    for check in checks:
        if not check.repos:
            found.append(Batch((check,)))
        else:
            by_qualifiers.setdefault(check.qualifiers, []).append(check)
    for qualifiers, group in sorted(by_qualifiers.items()):
        current: list[HeldCount] = []
        named: set[str] = set()
        length = len(qualifiers)
        for check in sorted(group, key=lambda c: sorted(c.names)):
            added = sum(len(" repo:") + len(repo) for repo in check.repos)
            if current and (length + added > MAX_QUERY_LENGTH or named & check.names):
                found.append(Batch(tuple(current)))
                current, named, length = [], set(), len(qualifiers)
            current.append(check)
            named |= check.names
            length += added
        if current:
            found.append(Batch(tuple(current)))
    return found


class MembershipCheck:
    """Counts cached answers against GitHub, in as few searches as the module doc says."""

    def __init__(self, count: Callable[[str], int], costs: StageCosts, width: int = 1) -> None:
        self._count = count
        self._costs = costs
        self._width = width  # batches searched at a time

    def missing(self, checks: Sequence[HeldCount]) -> dict[str, str]:
        """Unit key -> why it is fetched in full, for the answers GitHub does not count as
        the cache holds them; raises `QueryError` when GitHub refuses to count one. The
        batches are searched side by side, `width` at a time."""
        found: dict[str, str] = {}
        tasks = [partial(self._batch_missing, batch) for batch in batches(checks)]
        for missing in side_by_side(tasks, self._width):
            found |= missing
        return found

    def _batch_missing(self, batch: Batch) -> dict[str, str]:
        return self._missing(batch, self._counted(batch))

    def _counted(self, batch: Batch) -> int | QueryError:
        """GitHub's count of the batch's items, or the refusal of its search."""
        with self._costs.stage(STAGE):
            try:
                return self._count(batch.query)
            except QueryError as exc:
                return exc

    def _missing(self, batch: Batch, counted: int | QueryError) -> dict[str, str]:
        if isinstance(counted, int) and counted == batch.size:
            return {}
        if len(batch.checks) == 1:
            check = batch.checks[0]
            if isinstance(counted, QueryError):
                raise counted  # what changed cannot be told: everything is fetched in full
            held, description = check.size, check.description
            log.info("github: %s holds %d items, GitHub counts %d", description, held, counted)
            return {check.key: check.differs}
        left, right = batch.halves()
        left_count = self._counted(left)
        if isinstance(counted, int) and isinstance(left_count, int):
            right_count: int | QueryError = counted - left_count
        else:
            right_count = self._counted(right)
        return self._missing(left, left_count) | self._missing(right, right_count)
