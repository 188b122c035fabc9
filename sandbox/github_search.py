"""GitHub issue-search queries (`repo:acme/api is:pr is:merged merged:>=2026-10-01`), parsed and
evaluated over the sandbox data set, with GitHub's limits and its 422 answers.

The query is tokenized and parsed into a small tree of conditions (never `eval`). Semantics
follow GitHub's documentation where it is precise; where GitHub depends on settings the
sandbox does not have, the choice is written down here:

- several `repo:` / `org:` / `user:` qualifiers widen the scope (OR), like on GitHub; every
  other qualifier narrows it (AND); `label:a,b` means a OR b; `-qualifier:` negates;
- an unknown qualifier name is searched as text, like on GitHub; a known qualifier with a
  value GitHub would refuse (`is:foo`, `created:yesterday`) is a 422;
- the review decision uses each reviewer's latest APPROVED / CHANGES_REQUESTED review:
  any change request -> `review:changes_requested`, else any approval -> `review:approved`,
  else `review:required`; `review:none` means no review at all;
- dates are UTC days; `created:2026-10-01` is the whole day, `>2026-10-01` starts the next
  day; ISO date-times are exact to the second (`Z` or an offset, UTC if none);
- without a sort the "best match" order is newest first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

from sandbox.github_data import GitHubDataset, GitHubIssue, GitHubPull

MAX_QUERY_LENGTH = 256
MAX_BOOLEAN_OPERATORS = 5
MAX_REACHABLE_RESULTS = 1000
SEARCH_DOCS_URL = "https://docs.github.com/v3/search/"

UNSEARCHABLE_MESSAGE = (
    "The listed users and repositories cannot be searched either because the resources do "
    "not exist or you do not have permission to view them."
)

SortField = Literal["created", "updated", "comments", "best-match"]
SortOrder = Literal["asc", "desc"]

_QUALIFIERS = frozenset(
    {
        "repo",
        "org",
        "user",
        "is",
        "type",
        "state",
        "label",
        "author",
        "assignee",
        "no",
        "base",
        "head",
        "created",
        "updated",
        "closed",
        "merged",
        "review",
        "draft",
        "in",
        "sort",
    }
)
_OPERATORS = frozenset({"AND", "OR", "NOT"})


class SearchError(Exception):
    """A query GitHub would refuse: carries the 422 body GitHub sends."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message if not errors else errors[0].get("message", message))
        self.message = message
        self.errors = errors or []

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        body["documentation_url"] = SEARCH_DOCS_URL
        return body


def _invalid(message: str) -> SearchError:
    return SearchError(
        "Validation Failed",
        [{"message": message, "resource": "Search", "field": "q", "code": "invalid"}],
    )


class Condition(Protocol):
    def matches(self, item: GitHubIssue) -> bool: ...


@dataclass(frozen=True)
class Predicate:
    """One qualifier or text term, e.g. `label:bug`."""

    text: str
    test: Callable[[GitHubIssue], bool]
    scope: bool = False  # a repo: / org: / user: term; several of them are ORed

    def matches(self, item: GitHubIssue) -> bool:
        return self.test(item)


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]

    def matches(self, item: GitHubIssue) -> bool:
        return all(part.matches(item) for part in self.parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]

    def matches(self, item: GitHubIssue) -> bool:
        return any(part.matches(item) for part in self.parts)


@dataclass(frozen=True)
class NoneOf:
    part: Condition

    def matches(self, item: GitHubIssue) -> bool:
        return not self.part.matches(item)


@dataclass(frozen=True)
class ParsedSearch:
    """A parsed query: the filter, the scope it names, and any `sort:` it carries."""

    condition: Condition
    repos: frozenset[str]  # lower-case owner/name from repo: qualifiers
    owners: frozenset[str]  # lower-case logins from org: / user: qualifiers
    sort: SortField | None
    order: SortOrder | None


@dataclass(frozen=True)
class SearchResult:
    total_count: int
    items: list[GitHubIssue]  # every match, in the requested order


# ---------------------------------------------------------------- tokenizing

_TOKEN = re.compile(r'\s*(\(|\)|(?:[^\s()"]+|"[^"]*")+)')


def _tokenize(query: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(query):
        if query[position:].strip() == "":
            break
        match = _TOKEN.match(query, position)
        if match is None:  # an unbalanced quote: GitHub reads the rest as one term
            tokens.append(query[position:].strip())
            break
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def _unquote(value: str) -> str:
    return value.replace('"', "")


# ---------------------------------------------------------------- dates

_Bound = tuple[datetime, datetime]  # half-open [start, end) a date or date-time stands for


def _parse_moment(text: str, qualifier: str) -> _Bound:
    try:
        if "T" not in text:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if day == date.max:  # the last day there is: its end is the end of time
                return start, datetime.max.replace(tzinfo=UTC)
            return start, start + timedelta(days=1)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(f'"{text}" is not a valid date for the "{qualifier}" qualifier.') from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC).replace(microsecond=0)
    return moment, moment + timedelta(seconds=1)


def _time_condition(qualifier: str, value: str) -> Callable[[datetime | None], bool]:
    """The test a `created:` style value stands for, over one timestamp (None never matches)."""
    lower: datetime | None = None  # inclusive
    upper: datetime | None = None  # exclusive
    if ".." in value:
        first, _, second = value.partition("..")
        if first != "*":
            lower = _parse_moment(first, qualifier)[0]
        if second != "*":
            upper = _parse_moment(second, qualifier)[1]
        if first == "*" and second == "*":
            raise _invalid(f'"{value}" is not a valid range for the "{qualifier}" qualifier.')
    elif value.startswith(">="):
        lower = _parse_moment(value[2:], qualifier)[0]
    elif value.startswith("<="):
        upper = _parse_moment(value[2:], qualifier)[1]
    elif value.startswith(">"):
        lower = _parse_moment(value[1:], qualifier)[1]
    elif value.startswith("<"):
        upper = _parse_moment(value[1:], qualifier)[0]
    else:
        lower, upper = _parse_moment(value, qualifier)

    def test(moment: datetime | None) -> bool:
        if moment is None:
            return False
        if lower is not None and moment < lower:
            return False
        return upper is None or moment < upper

    return test


# ---------------------------------------------------------------- qualifiers


ReviewDecision = Literal["approved", "changes_requested", "review_required"]


def review_decision(pull: GitHubPull) -> ReviewDecision:
    """GitHub's review decision from each reviewer's latest approving or blocking review."""
    latest: dict[str, str] = {}
    for review in sorted(pull.reviews, key=lambda r: r.submitted_at):
        if review.state in ("APPROVED", "CHANGES_REQUESTED"):
            latest[review.user] = review.state
    if "CHANGES_REQUESTED" in latest.values():
        return "changes_requested"
    if "APPROVED" in latest.values():
        return "approved"
    return "review_required"


def _pull_only(test: Callable[[GitHubPull], bool]) -> Callable[[GitHubIssue], bool]:
    def on_item(item: GitHubIssue) -> bool:
        return isinstance(item, GitHubPull) and test(item)

    return on_item


def _login_of(value: str) -> str:
    """`author:app/dependabot` names the bot account `dependabot[bot]`."""
    value = value.lower()
    return f"{value[4:]}[bot]" if value.startswith("app/") else value


def _refuse(qualifier: str, value: str) -> SearchError:
    return _invalid(f'"{value}" is not a valid value for the "{qualifier}" qualifier.')


_IS_TESTS: dict[str, Callable[[GitHubIssue], bool]] = {
    "pr": lambda i: i.is_pull_request,
    "issue": lambda i: not i.is_pull_request,
    "open": lambda i: i.state == "open",
    "closed": lambda i: i.state == "closed",
    "merged": _pull_only(lambda p: p.merged_at is not None),
    "unmerged": _pull_only(lambda p: p.merged_at is None),
    "draft": _pull_only(lambda p: p.draft),
    "public": lambda i: True,
    "private": lambda i: False,
    "locked": lambda i: False,
    "unlocked": lambda i: True,
}

_REVIEW_TESTS: dict[str, Callable[[GitHubIssue], bool]] = {
    "none": _pull_only(lambda p: not p.reviews),
    "approved": _pull_only(lambda p: review_decision(p) == "approved"),
    "changes_requested": _pull_only(lambda p: review_decision(p) == "changes_requested"),
    "required": _pull_only(lambda p: review_decision(p) == "review_required"),
}


def _qualifier_test(name: str, raw_value: str) -> Callable[[GitHubIssue], bool]:
    value = _unquote(raw_value)
    lowered = value.lower()
    if name == "repo":
        return lambda i: i.repo.lower() == lowered
    if name in ("org", "user"):
        return lambda i: i.repo.split("/")[0].lower() == lowered
    if name == "is":
        if lowered not in _IS_TESTS:
            raise _refuse(name, value)
        return _IS_TESTS[lowered]
    if name == "type":
        if lowered not in ("pr", "issue"):
            raise _refuse(name, value)
        return _IS_TESTS[lowered]
    if name == "state":
        if lowered not in ("open", "closed"):
            raise _refuse(name, value)
        return _IS_TESTS[lowered]
    if name == "label":
        wanted = {part.strip().lower() for part in value.split(",") if part.strip()}
        return lambda i: any(label.lower() in wanted for label in i.labels)
    if name == "author":
        login = _login_of(value)
        return lambda i: i.user.lower() == login
    if name == "assignee":
        login = _login_of(value)
        return lambda i: (i.assignee or "").lower() == login
    if name == "no":
        no_tests: dict[str, Callable[[GitHubIssue], bool]] = {
            "assignee": lambda i: i.assignee is None,
            "label": lambda i: not i.labels,
            "milestone": lambda i: True,
            "project": lambda i: True,
        }
        if lowered not in no_tests:
            raise _refuse(name, value)
        return no_tests[lowered]
    if name == "base":
        return _pull_only(lambda p: p.base.lower() == lowered)
    if name == "head":
        return _pull_only(lambda p: p.head.lower() == lowered)
    if name in ("created", "updated", "closed"):
        moment_test = _time_condition(name, value)
        field = f"{name}_at"
        return lambda i: moment_test(getattr(i, field))
    if name == "merged":
        merged_test = _time_condition(name, value)
        return _pull_only(lambda p: merged_test(p.merged_at))
    if name == "review":
        if lowered not in _REVIEW_TESTS:
            raise _refuse(name, value)
        return _REVIEW_TESTS[lowered]
    if name == "draft":
        if lowered not in ("true", "false"):
            raise _refuse(name, value)
        wanted_draft = lowered == "true"
        return _pull_only(lambda p: p.draft == wanted_draft)
    raise _refuse(name, value)  # pragma: no cover - every name of _QUALIFIERS is handled


def _text_test(words: str, fields: frozenset[str]) -> Callable[[GitHubIssue], bool]:
    needle = _unquote(words).lower()

    def test(item: GitHubIssue) -> bool:
        return "title" in fields and needle in item.title.lower()

    return test


_SORTS: dict[str, tuple[SortField, SortOrder]] = {
    f"{field}{suffix}": (field, order)  # type: ignore[misc]
    for field in ("created", "updated", "comments")
    for suffix, order in (("", "desc"), ("-desc", "desc"), ("-asc", "asc"))
}


# ---------------------------------------------------------------- parsing


class _Parser:
    """Recursive descent over the tokens: OR binds loosest, then AND (implicit), then NOT."""

    def __init__(self, tokens: list[str], text_fields: frozenset[str]) -> None:
        self.tokens = tokens
        self.position = 0
        self.text_fields = text_fields
        self.repos: set[str] = set()
        self.owners: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> Condition:
        condition = self.any_of()
        if self.peek() is not None:  # a stray ")"
            raise _invalid("The search has unbalanced parentheses.")
        return condition

    def any_of(self) -> Condition:
        parts = [self.all_of()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.all_of())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def all_of(self) -> Condition:
        parts: list[Condition] = []
        while True:
            token = self.peek()
            if token is None or token in (")", "OR"):
                break
            if token == "AND":
                self.take()
                continue
            part = self.unary()
            if part is not None:
                parts.append(part)
        scopes = [p for p in parts if isinstance(p, Predicate) and p.scope]
        if len(scopes) > 1:
            others = [p for p in parts if not (isinstance(p, Predicate) and p.scope)]
            parts = [AnyOf(tuple(scopes)), *others]
        if len(parts) == 1:
            return parts[0]
        return AllOf(tuple(parts))

    def unary(self) -> Condition | None:
        token = self.take()
        if token == "NOT":
            if self.peek() is None:
                raise _invalid("The search ends with NOT.")
            inner = self.unary()
            return NoneOf(inner) if inner is not None else None
        if token == "(":
            inner = self.any_of()
            if self.peek() != ")":
                raise _invalid("The search has unbalanced parentheses.")
            self.take()
            return inner
        return self.term(token)

    def term(self, token: str) -> Condition | None:
        negated = token.startswith("-") and len(token) > 1
        body = token[1:] if negated else token
        name, colon, value = body.partition(":")
        name = name.lower()
        condition: Condition
        if colon and name in _QUALIFIERS:
            if not value:
                raise _refuse(name, value)
            if name in ("in", "sort"):
                return None  # already read as settings of the whole query
            if name == "repo":
                self.repos.add(_unquote(value).lower())
            elif name in ("org", "user"):
                self.owners.add(_unquote(value).lower())
            scope = name in ("repo", "org", "user") and not negated
            condition = Predicate(body, _qualifier_test(name, value), scope)
        else:
            condition = Predicate(body, _text_test(body, self.text_fields))
        return NoneOf(condition) if negated else condition


def parse_search(query: str) -> ParsedSearch:
    """Parse a query, enforcing GitHub's length and operator limits; raises SearchError."""
    if not query or not query.strip():
        raise SearchError(
            "Validation Failed", [{"resource": "Search", "field": "q", "code": "missing"}]
        )
    if len(query) > MAX_QUERY_LENGTH:
        raise _invalid(f"The search is longer than {MAX_QUERY_LENGTH} characters.")
    tokens = _tokenize(query)
    operators = sum(1 for token in tokens if token in _OPERATORS)
    if operators > MAX_BOOLEAN_OPERATORS:
        raise _invalid(
            f"The search contains more than {MAX_BOOLEAN_OPERATORS} AND / OR / NOT operators."
        )
    text_fields: set[str] = set()
    sort: SortField | None = None
    order: SortOrder | None = None
    for token in tokens:
        name, colon, value = token.partition(":")
        if not colon:
            continue
        if name.lower() == "in":
            fields = {part.strip().lower() for part in _unquote(value).split(",")}
            if not fields or not fields <= {"title", "body", "comments"}:
                raise _refuse("in", value)
            text_fields |= fields
        elif name.lower() == "sort":
            if value.lower() not in _SORTS:
                raise _refuse("sort", value)
            sort, order = _SORTS[value.lower()]
    parser = _Parser(tokens, frozenset(text_fields or {"title", "body"}))
    condition = parser.parse()
    return ParsedSearch(
        condition=condition,
        repos=frozenset(parser.repos),
        owners=frozenset(parser.owners),
        sort=sort,
        order=order,
    )


def _sort_key(sort: SortField) -> Callable[[GitHubIssue], tuple[object, ...]]:
    if sort == "updated":
        return lambda i: (i.updated_at, i.repo, i.number)
    if sort == "comments":
        return lambda i: (i.comments, i.created_at, i.repo, i.number)
    return lambda i: (i.created_at, i.repo, i.number)


def search_issues(
    data: GitHubDataset,
    query: str,
    *,
    sort: str | None = None,
    order: str | None = None,
) -> SearchResult:
    """Every item matching `query`, ordered; the API layer pages and caps at 1,000."""
    parsed = parse_search(query)
    known_owners = {repo.owner.lower() for repo in data.repos.values()}
    known_owners |= {login.lower() for login in data.users}
    unknown = [r for r in parsed.repos if r not in {n.lower() for n in data.repos}]
    unknown += [o for o in parsed.owners if o not in known_owners]
    if unknown:
        raise _invalid(UNSEARCHABLE_MESSAGE)
    if sort is not None and sort not in ("created", "updated", "comments"):
        raise SearchError(
            "Validation Failed",
            [{"resource": "Search", "field": "sort", "code": "invalid"}],
        )
    if order is not None and order not in ("asc", "desc"):
        raise SearchError(
            "Validation Failed",
            [{"resource": "Search", "field": "order", "code": "invalid"}],
        )
    sort_field: SortField = sort or parsed.sort or "best-match"  # type: ignore[assignment]
    sort_order = order or (parsed.order if sort is None else None) or "desc"
    matches = [item for item in data.all_items if parsed.condition.matches(item)]
    matches.sort(key=_sort_key(sort_field), reverse=sort_order == "desc")
    return SearchResult(total_count=len(matches), items=matches)
