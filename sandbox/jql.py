"""A JQL parser and evaluator over the sandbox's `JiraIssue`s.

The sandbox must accept the JQL that people write in mapping files and refuse bad JQL with
Jira's own words, so the connector's error handling is exercised against realistic answers.
Queries are parsed into a small tree and compiled into plain Python predicates (never `eval`).
Relative dates (`-30d`, `startOfMonth()`) are evaluated against the real current time, as Jira
does, not against the data set's anchor.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from calendar import monthrange
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sandbox.jira_data import (
    BUSINESS_VALUE_FIELD,
    CATEGORY_IDS,
    CATEGORY_NAMES,
    ISSUE_TYPES,
    PRIORITIES,
    SEVERITIES,
    SEVERITY_FIELD,
    STATUSES,
    STORY_POINT_ESTIMATE_FIELD,
    STORY_POINTS_FIELD,
    JiraDataset,
    JiraIssue,
)

log = logging.getLogger(__name__)

SAVED_FILTER_FIELDS = frozenset({"filter", "savedfilter", "request", "searchrequest"})
MAX_FILTER_DEPTH = 10

VALID_OPERATORS = (
    "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', "
    "'IS' and 'IS NOT'."
)
DATE_FORMATS_HINT = (
    "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', "
    "'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
)
RESERVED_CHARACTERS = set("%^$#{};?[]+")
KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}


class JqlError(ValueError):
    """A query Jira would refuse; the message is Jira's wording."""


# ---------------------------------------------------------------- tokens


TokenKind = Literal["word", "string", "op", "lparen", "rparen", "comma", "end"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    position: int  # 1-based character, as in Jira's messages

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def describe(self) -> str:
        return "the end of the query" if self.kind == "end" else f"'{self.text}'"


OPERATOR_PATTERN = re.compile(r"!=|!~|>=|<=|=|>|<|~|&&|\|\||&|\||!")
WORD_PATTERN = re.compile(r"""[^\s(),=!<>~"'&|]+""")


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; reserved characters outside quotes are refused as Jira does."""
    tokens: list[Token] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
            continue
        position = index + 1
        if char in "\"'":
            value, index = _read_string(text, index)
            tokens.append(Token("string", value, position))
            continue
        if char == "(":
            tokens.append(Token("lparen", char, position))
            index += 1
            continue
        if char == ")":
            tokens.append(Token("rparen", char, position))
            index += 1
            continue
        if char == ",":
            tokens.append(Token("comma", char, position))
            index += 1
            continue
        operator = OPERATOR_PATTERN.match(text, index)
        if operator:
            tokens.append(Token("op", operator.group(), position))
            index = operator.end()
            continue
        word = WORD_PATTERN.match(text, index)
        assert word is not None  # every other character starts a word
        value = word.group()
        _refuse_reserved(value, position)
        tokens.append(Token("word", value, position))
        index = word.end()
    tokens.append(Token("end", "", length + 1))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    index = start + 1
    chars: list[str] = []
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            chars.append(text[index + 1])
            index += 2
            continue
        if char == quote:
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    raise JqlError(
        f"Error in the JQL Query: The quoted string '{text[start + 1 :]}' has not been "
        f"completed. (line 1, character {start + 1})"
    )


def _refuse_reserved(word: str, position: int) -> None:
    # cf[10016] is the one place brackets are allowed outside quotes.
    if re.fullmatch(r"cf\[\d+\]", word, flags=re.IGNORECASE):
        return
    for offset, char in enumerate(word):
        if char in RESERVED_CHARACTERS:
            raise JqlError(
                f"Error in the JQL Query: The character '{char}' is a reserved JQL character. "
                f"You must enclose it in a string or use the escape '\\u{ord(char):04x}' "
                f"instead. (line 1, character {position + offset})"
            )


# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class FieldRef:
    name: str
    position: int


@dataclass(frozen=True)
class JqlValue:
    text: str
    quoted: bool
    position: int


@dataclass(frozen=True)
class FunctionCall:
    name: str
    args: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class EmptyValue:
    position: int


Operand = JqlValue | FunctionCall | EmptyValue
ListOperand = tuple[Operand, ...]


@dataclass(frozen=True)
class Clause:
    field: FieldRef
    operator: str  # = != > >= < <= ~ !~ in "not in" is "is not"
    operand: Operand | ListOperand


@dataclass(frozen=True)
class AndNode:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class OrNode:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class NotNode:
    child: Node


Node = Clause | AndNode | OrNode | NotNode


@dataclass(frozen=True)
class OrderTerm:
    field: FieldRef
    descending: bool


@dataclass(frozen=True)
class JqlQuery:
    where: Node | None
    order_by: tuple[OrderTerm, ...]


# ---------------------------------------------------------------- parser


def parse_jql(text: str) -> JqlQuery:
    """Parse a query into a tree; only the syntax is checked here, not fields or values."""
    return _Parser(tokenize(text)).parse()


def _syntax_error(expected: str, token: Token, hint: str = "") -> JqlError:
    if token.kind == "end":
        message = f"Error in the JQL Query: Expecting {expected} before the end of the query."
        return JqlError(message + (f" {hint}" if hint else ""))
    message = f"Error in the JQL Query: Expecting {expected} but got {token.describe()}."
    if hint:
        message += f" {hint}"
    return JqlError(f"{message} (line 1, character {token.position})")


class _Parser:
    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def at(self, kind: TokenKind) -> bool:
        return self.tokens[self.index].kind == kind

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def parse(self) -> JqlQuery:
        where: Node | None = None
        if not self.current.is_keyword("order") and not self.at("end"):
            where = self.parse_or()
        order_by: tuple[OrderTerm, ...] = ()
        if self.current.is_keyword("order"):
            order_by = self.parse_order_by()
        if not self.at("end"):
            raise _syntax_error("either 'OR' or 'AND'", self.current)
        return JqlQuery(where=where, order_by=order_by)

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.current.is_keyword("or") or (self.at("op") and self.current.text in ("||", "|")):
            self.advance()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else OrNode(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_not()]
        while self.current.is_keyword("and") or (
            self.at("op") and self.current.text in ("&&", "&")
        ):
            self.advance()
            children.append(self.parse_not())
        return children[0] if len(children) == 1 else AndNode(tuple(children))

    def parse_not(self) -> Node:
        if self.current.is_keyword("not") or (self.at("op") and self.current.text == "!"):
            self.advance()
            return NotNode(self.parse_not())
        if self.at("lparen"):
            self.advance()
            inner = self.parse_or()
            if not self.at("rparen"):
                raise _syntax_error("')'", self.current)
            self.advance()
            return inner
        return self.parse_clause()

    def parse_field(self) -> FieldRef:
        token = self.current
        if token.kind == "string" or (token.kind == "word" and token.text.lower() not in KEYWORDS):
            self.advance()
            return FieldRef(token.text, token.position)
        raise _syntax_error(
            "a field name",
            token,
            f"You must surround {token.describe()} in quotation marks to use it as a field name."
            if token.kind != "end"
            else "",
        )

    def parse_clause(self) -> Clause:
        field = self.parse_field()
        token = self.current
        operator: str
        if token.kind == "op" and token.text in ("=", "!=", ">", ">=", "<", "<=", "~", "!~"):
            self.advance()
            operator = token.text
        elif token.is_keyword("in"):
            self.advance()
            operator = "in"
        elif token.is_keyword("not") and self.tokens[self.index + 1].is_keyword("in"):
            self.advance()
            self.advance()
            operator = "not in"
        elif token.is_keyword("is"):
            self.advance()
            operator = "is"
            if self.current.is_keyword("not"):
                self.advance()
                operator = "is not"
            if not self.current.is_keyword("empty", "null"):
                raise _syntax_error("'EMPTY' or 'NULL'", self.current)
            return Clause(field, operator, EmptyValue(self.advance().position))
        else:
            raise _syntax_error("operator", token, VALID_OPERATORS)
        if operator in ("in", "not in"):
            return Clause(field, operator, self.parse_list())
        if self.at("lparen") and operator in ("=", "!="):
            return Clause(field, "in" if operator == "=" else "not in", self.parse_list())
        return Clause(field, operator, self.parse_operand())

    def parse_list(self) -> ListOperand:
        if not self.at("lparen"):
            raise _syntax_error("'('", self.current)
        self.advance()
        values = [self.parse_operand()]
        while self.at("comma"):
            self.advance()
            values.append(self.parse_operand())
        if not self.at("rparen"):
            raise _syntax_error("')'", self.current)
        self.advance()
        return tuple(values)

    def parse_operand(self) -> Operand:
        token = self.current
        if token.kind == "string":
            self.advance()
            return JqlValue(token.text, True, token.position)
        if token.kind == "word":
            if token.is_keyword("empty", "null"):
                self.advance()
                return EmptyValue(token.position)
            if token.text.lower() in KEYWORDS:
                raise _syntax_error(
                    "either a value, list or function",
                    token,
                    f"You must surround '{token.text}' in quotation marks to use it as a value.",
                )
            self.advance()
            if self.at("lparen"):
                return self.parse_function(token)
            return JqlValue(token.text, False, token.position)
        hint = ""
        if token.kind != "end":
            hint = f"You must surround {token.describe()} in quotation marks to use it as a value."
        raise _syntax_error("either a value, list or function", token, hint)

    def parse_function(self, name: Token) -> FunctionCall:
        self.advance()  # (
        args: list[str] = []
        if not self.at("rparen"):
            while True:
                token = self.current
                if token.kind not in ("word", "string"):
                    raise _syntax_error("a function argument", token)
                args.append(self.advance().text)
                if not self.at("comma"):
                    break
                self.advance()
        if not self.at("rparen"):
            raise _syntax_error("')'", self.current)
        self.advance()
        return FunctionCall(name.text, tuple(args), name.position)

    def parse_order_by(self) -> tuple[OrderTerm, ...]:
        self.advance()  # ORDER
        if not self.current.is_keyword("by"):
            raise _syntax_error("'BY'", self.current)
        self.advance()
        terms = [self.parse_order_term()]
        while self.at("comma"):
            self.advance()
            terms.append(self.parse_order_term())
        return tuple(terms)

    def parse_order_term(self) -> OrderTerm:
        field = self.parse_field()
        descending = False
        if self.current.is_keyword("asc", "desc"):
            descending = self.advance().text.lower() == "desc"
        return OrderTerm(field, descending)


# ---------------------------------------------------------------- dates


PERIOD_PART = re.compile(r"(\d+)\s*([yMwdhm])")
PERIOD_PATTERN = re.compile(r"[+-]?\s*(\d+\s*[yMwdhm]\s*)+")
ABSOLUTE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit == "y":
        return _add_months(moment, 12 * amount)
    if unit == "M":
        return _add_months(moment, amount)
    step = {
        "w": timedelta(weeks=1),
        "d": timedelta(days=1),
        "h": timedelta(hours=1),
        "m": timedelta(minutes=1),
    }[unit]
    return moment + amount * step


def parse_period(text: str, now: datetime) -> datetime | None:
    """`-30d`, `4w 2d`, `+1h`, `-15m` (minutes) relative to now; None if not a period."""
    stripped = text.strip()
    if not PERIOD_PATTERN.fullmatch(stripped):
        return None
    sign = -1 if stripped.startswith("-") else 1
    moment = now
    for amount, unit in PERIOD_PART.findall(stripped):
        moment = _shift(moment, sign * int(amount), unit)
    return moment


def parse_date_value(text: str, field_name: str, now: datetime) -> datetime:
    relative = parse_period(text, now)
    if relative is not None:
        return relative
    for fmt in ABSOLUTE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise JqlError(f"Date value '{text}' for field '{field_name}' is invalid. {DATE_FORMATS_HINT}")


DATE_FUNCTIONS = {
    "now",
    "startofday",
    "startofweek",
    "startofmonth",
    "startofyear",
    "endofday",
    "endofweek",
    "endofmonth",
    "endofyear",
}


def _start_of(unit: str, moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":  # Jira's default (en_US) week starts on Sunday
        return day - timedelta(days=(day.weekday() + 1) % 7)
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def evaluate_date_function(call: FunctionCall, now: datetime) -> datetime:
    """Jira's date functions in UTC; an optional increment such as -1, "+2d" or "-1M"."""
    name = call.name.lower()
    if name == "now":
        return now
    unit = re.sub(r"^(start|end)of", "", name)
    default_unit = {"day": "d", "week": "w", "month": "M", "year": "y"}[unit]
    start = _start_of(unit, now)
    if name.startswith("end"):
        start = _shift(start, 1, default_unit) - timedelta(milliseconds=1)
    if not call.args:
        return start
    increment = call.args[0].strip()
    match = re.fullmatch(r"([+-]?)(\d+)([yMwdhm]?)", increment)
    if not match:
        raise JqlError(
            f"The value '{increment}' is an invalid increment for the function '{call.name}'."
        )
    sign = -1 if match.group(1) == "-" else 1
    return _shift(start, sign * int(match.group(2)), match.group(3) or default_unit)


# ---------------------------------------------------------------- fields


FieldKind = Literal["choice", "user", "labels", "date", "number", "text", "key", "option"]
Predicate = Callable[[JiraIssue], bool]
OPERATORS_BY_KIND: dict[str, tuple[str, ...]] = {
    "choice": ("=", "!=", "in", "not in", "is", "is not"),
    "priority": ("=", "!=", "in", "not in", "is", "is not", ">", ">=", "<", "<="),
    "user": ("=", "!=", "in", "not in", "is", "is not"),
    "labels": ("=", "!=", "in", "not in", "is", "is not"),
    "date": ("=", "!=", ">", ">=", "<", "<=", "in", "not in", "is", "is not"),
    "number": ("=", "!=", ">", ">=", "<", "<=", "in", "not in", "is", "is not"),
    "text": ("~", "!~", "is", "is not"),
    "key": ("=", "!=", ">", ">=", "<", "<=", "in", "not in"),
    "option": ("=", "!=", "in", "not in", "is", "is not"),
}
UNSORTABLE = {"text", "labels", "description"}


@dataclass(frozen=True)
class FieldSpec:
    """How one JQL field reads an issue, and which values it accepts."""

    canonical: str
    kind: str
    read: Callable[[JiraIssue], object]


def _custom(field_id: str) -> Callable[[JiraIssue], object]:
    return lambda issue: issue.custom_fields.get(field_id)


def _story_points(field_id: str) -> Callable[[JiraIssue], object]:
    return lambda issue: issue.story_points if issue.story_points_field == field_id else None


FIELD_SPECS: dict[str, FieldSpec] = {}
for _aliases, _spec in (
    (("project",), FieldSpec("project", "choice", lambda i: i.project)),
    (("issuetype", "type"), FieldSpec("issuetype", "choice", lambda i: i.issue_type)),
    (("priority",), FieldSpec("priority", "priority", lambda i: i.priority)),
    (("status",), FieldSpec("status", "choice", lambda i: i.status)),
    (("statuscategory",), FieldSpec("statusCategory", "choice", lambda i: i.status_category)),
    (("labels", "label"), FieldSpec("labels", "labels", lambda i: i.labels)),
    (("assignee",), FieldSpec("assignee", "user", lambda i: i.assignee)),
    (("reporter",), FieldSpec("reporter", "user", lambda i: i.reporter)),
    (("created", "createddate"), FieldSpec("created", "date", lambda i: i.created)),
    (("updated", "updateddate"), FieldSpec("updated", "date", lambda i: i.updated)),
    (
        ("resolved", "resolutiondate"),
        FieldSpec("resolutiondate", "date", lambda i: i.resolutiondate),
    ),
    (("resolution",), FieldSpec("resolution", "choice", lambda i: i.resolution)),
    (("summary",), FieldSpec("summary", "text", lambda i: i.summary)),
    (("description",), FieldSpec("description", "text", lambda i: i.description)),
    (("text",), FieldSpec("text", "text", lambda i: f"{i.summary}\n{i.description}")),
    (("key", "issuekey", "issue", "id"), FieldSpec("key", "key", lambda i: i)),
    (
        ("story points", "cf[10016]"),
        FieldSpec("Story Points", "number", _story_points(STORY_POINTS_FIELD)),
    ),
    (
        ("story point estimate", "cf[10026]"),
        FieldSpec("Story point estimate", "number", _story_points(STORY_POINT_ESTIMATE_FIELD)),
    ),
    (
        ("business value", "cf[10050]"),
        FieldSpec("Business Value", "number", _custom(BUSINESS_VALUE_FIELD)),
    ),
    (("severity", "cf[10060]"), FieldSpec("Severity", "option", _custom(SEVERITY_FIELD))),
):
    for _alias in _aliases:
        FIELD_SPECS[_alias] = _spec


def _unknown_field(name: str) -> JqlError:
    return JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")


def _value_error(value: str, field_name: str) -> JqlError:
    return JqlError(f"The value '{value}' does not exist for the field '{field_name}'.")


# ---------------------------------------------------------------- compiler


@dataclass(frozen=True)
class CompiledJql:
    """A validated query: a predicate, an ordering, and whether it restricts the search."""

    text: str
    predicate: Predicate
    sort: Callable[[list[JiraIssue]], list[JiraIssue]]
    bounded: bool
    projects: frozenset[str] | None = None  # every match is in one of these projects
    keys: frozenset[str] | None = None  # every match has one of these keys

    def run(self, issues: Iterable[JiraIssue]) -> list[JiraIssue]:
        return self.sort(self.select(issues))

    def candidates(self, data: JiraDataset) -> list[JiraIssue]:
        """The issues a search need look at, narrowed by the data set's project and key
        indexes as Jira's own index narrows them; the predicate still decides."""
        return data.issues_in(self.projects, self.keys)

    def select(self, issues: Iterable[JiraIssue]) -> list[JiraIssue]:
        """The matching issues, unordered; pass `candidates(data)` rather than every issue."""
        predicate = self.predicate
        return [issue for issue in issues if predicate(issue)]


class JqlEngine:
    """Compiles JQL against one data set: field values are checked as Jira checks them."""

    def __init__(self, data: JiraDataset) -> None:
        self.data = data
        self.projects: dict[str, str] = {}
        for project in data.projects:
            for alias in (project.key, project.name, project.id):
                self.projects[alias.lower()] = project.key
        self.users: dict[str, str] = {}
        for user in data.users:
            for alias in (user.account_id, user.name, user.display_name, user.email):
                self.users[alias.lower()] = user.account_id
        self.choices: dict[str, dict[str, str]] = {
            "issuetype": {name.lower(): name for name in ISSUE_TYPES},
            "priority": {name.lower(): name for name in PRIORITIES},
            "status": {
                **{name.lower(): name for name in STATUSES},
                **{status.id: status.name for status in STATUSES.values()},
            },
            "statusCategory": {
                **{name.lower(): key for key, name in CATEGORY_NAMES.items()},
                **{key: key for key in CATEGORY_NAMES},
                **{str(number): key for key, number in CATEGORY_IDS.items()},
            },
            "resolution": {name.lower(): name for name in data.resolutions},
            "Severity": {name.lower(): name for name in SEVERITIES},
        }

    def search(
        self, text: str, *, now: datetime | None = None, current_user: str | None = None
    ) -> list[JiraIssue]:
        compiled = self.compile(text, now=now, current_user=current_user)
        return compiled.run(compiled.candidates(self.data))

    def compile(
        self, text: str, *, now: datetime | None = None, current_user: str | None = None
    ) -> CompiledJql:
        query = parse_jql(text)
        context = _CompileContext(now or datetime.now(UTC), current_user)
        predicate: Predicate = (
            self._node(query.where, context) if query.where is not None else (lambda _: True)
        )
        sort = self._sorter(query.order_by)
        log.debug("compiled JQL %r", text)
        where = query.where
        return CompiledJql(
            text,
            predicate,
            sort,
            bounded=where is not None,
            projects=self._project_scope(where) if where is not None else None,
            keys=self._key_scope(where) if where is not None else None,
        )

    def _project_scope(self, node: Node) -> frozenset[str] | None:
        """The projects every match must be in, when the query says so; None when it does not."""
        return self._scope(node, frozenset({"project"}), self.projects.get)

    def _key_scope(self, node: Node) -> frozenset[str] | None:
        """The issue keys every match must have (`key in (...)`), or None."""

        def issue_key(text: str) -> str | None:
            issue = self.data.issue(text)
            return issue.key if issue is not None else None

        return self._scope(node, frozenset({"key", "issuekey", "issue", "id"}), issue_key)

    def _scope(
        self, node: Node, names: frozenset[str], resolve: Callable[[str], str | None]
    ) -> frozenset[str] | None:
        """Values of one field (`name = v`, `name in (...)`) that every match must carry."""
        if isinstance(node, AndNode):
            found = [self._scope(child, names, resolve) for child in node.children]
            scopes = [scope for scope in found if scope is not None]
            return frozenset.intersection(*scopes) if scopes else None
        if isinstance(node, OrNode):
            alternatives = [self._scope(child, names, resolve) for child in node.children]
            if any(scope is None for scope in alternatives):
                return None
            return frozenset().union(*(scope for scope in alternatives if scope is not None))
        if not isinstance(node, Clause) or node.field.name.lower() not in names:
            return None
        if node.operator == "=" and isinstance(node.operand, JqlValue):
            values: tuple[Operand, ...] = (node.operand,)
        elif node.operator == "in" and isinstance(node.operand, tuple):
            values = node.operand
        else:
            return None
        if not all(isinstance(v, JqlValue) for v in values):
            return None
        found_values = {resolve(v.text.strip().lower()) for v in values if isinstance(v, JqlValue)}
        return frozenset(value for value in found_values if value is not None)

    # -- predicates

    def _node(self, node: Node, context: _CompileContext) -> Predicate:
        if isinstance(node, AndNode):
            parts = [self._node(child, context) for child in node.children]

            # Plain loops: all()/any() over a generator build one generator per issue.
            def every(issue: JiraIssue) -> bool:
                for part in parts:  # noqa: SIM110
                    if not part(issue):
                        return False
                return True

            return every
        if isinstance(node, OrNode):
            parts = [self._node(child, context) for child in node.children]

            def some(issue: JiraIssue) -> bool:
                for part in parts:  # noqa: SIM110
                    if part(issue):
                        return True
                return False

            return some
        if isinstance(node, NotNode):
            inner = self._node(node.child, context)
            return lambda issue: not inner(issue)
        return self._clause(node, context)

    def _clause(self, clause: Clause, context: _CompileContext) -> Predicate:
        name = clause.field.name
        if name.lower() in SAVED_FILTER_FIELDS:
            return self._saved_filter(clause, context)
        spec = FIELD_SPECS.get(name.lower())
        if spec is None:
            raise _unknown_field(name)
        operator = clause.operator
        if operator not in OPERATORS_BY_KIND[spec.kind]:
            shown = operator.upper() if operator[0].isalpha() else operator
            raise JqlError(f"The operator '{shown}' is not supported by the '{name}' field.")
        operand = clause.operand
        if isinstance(operand, EmptyValue):
            return self._emptiness(spec, operator in ("=", "is", "in"))
        if spec.kind == "text":
            assert isinstance(operand, JqlValue | FunctionCall)
            return self._text(spec, name, operand, negate=operator == "!~")
        if isinstance(operand, tuple):
            matchers = [self._equality(spec, name, value, context) for value in operand]
            if operator == "in":
                return lambda issue: any(match(issue) for match in matchers)
            has_value = self._emptiness(spec, False)
            return lambda issue: has_value(issue) and not any(match(issue) for match in matchers)
        if operator == "=":
            return self._equality(spec, name, operand, context)
        if operator == "!=":
            equal = self._equality(spec, name, operand, context)
            has_value = self._emptiness(spec, False)
            return lambda issue: has_value(issue) and not equal(issue)
        return self._ordering(spec, name, operator, operand, context)

    def _saved_filter(self, clause: Clause, context: _CompileContext) -> Predicate:
        """`filter = 10042`, `filter in ("Open P1 bugs", 10043)`: the filters' own JQL, now."""
        name, operator, operand = clause.field.name, clause.operator, clause.operand
        if operator not in ("=", "!=", "in", "not in"):
            shown = operator.upper() if operator[0].isalpha() else operator
            raise JqlError(f"The operator '{shown}' is not supported by the '{name}' field.")
        values = operand if isinstance(operand, tuple) else (operand,)
        if context.filter_depth >= MAX_FILTER_DEPTH:
            raise JqlError(f"The filters referenced by '{name}' reference each other too deeply.")
        matchers: list[Predicate] = []
        for value in values:
            if not isinstance(value, JqlValue):
                raise JqlError(f"The field '{name}' takes a filter id or name.")
            saved = self.data.saved_filter(value.text)
            if saved is None:
                raise JqlError(f"The value '{value.text}' does not exist for the field '{name}'.")
            inner = parse_jql(saved.jql).where
            deeper = dataclasses.replace(context, filter_depth=context.filter_depth + 1)
            matchers.append(self._node(inner, deeper) if inner is not None else (lambda _: True))
        if operator in ("=", "in"):
            return lambda issue: any(match(issue) for match in matchers)
        return lambda issue: not any(match(issue) for match in matchers)

    @staticmethod
    def _emptiness(spec: FieldSpec, want_empty: bool) -> Predicate:
        read = spec.read

        def is_empty(issue: JiraIssue) -> bool:
            value = read(issue)
            return value is None or value == () or value == ""

        if want_empty:
            return is_empty
        return lambda issue: not is_empty(issue)

    def _equality(
        self, spec: FieldSpec, name: str, operand: Operand, context: _CompileContext
    ) -> Predicate:
        read = spec.read
        if isinstance(operand, EmptyValue):
            return self._emptiness(spec, True)
        if spec.kind in ("date", "number", "key", "priority"):
            target = self._sort_value(spec, name, operand, context)
            sort_key = self._order_value(spec)
            return lambda issue: sort_key(issue) == target
        if isinstance(operand, FunctionCall):
            if spec.kind == "user" and operand.name.lower() == "currentuser":
                user = context.current_user
                return lambda issue: user is not None and read(issue) == user
            raise self._function_error(operand, name)
        value = operand.text
        if spec.kind == "labels":
            wanted = value.lower()
            return lambda issue: any(label.lower() == wanted for label in issue.labels)
        if spec.kind == "user":
            account = self.users.get(value.lower())
            if account is None:
                raise _value_error(value, name)
            return lambda issue: read(issue) == account
        canonical = self._choice(spec, name, value)
        if canonical is None:  # resolution = Unresolved
            return lambda issue: read(issue) is None
        return lambda issue: read(issue) == canonical

    def _choice(self, spec: FieldSpec, name: str, value: str) -> str | None:
        if spec.canonical == "project":
            key = self.projects.get(value.lower())
            if key is None:
                raise _value_error(value, name)
            return key
        if spec.canonical == "resolution" and value.lower() == "unresolved":
            return None
        canonical = self.choices[spec.canonical].get(value.lower())
        if canonical is None:
            raise _value_error(value, name)
        return canonical

    def _ordering(
        self,
        spec: FieldSpec,
        name: str,
        operator: str,
        operand: Operand,
        context: _CompileContext,
    ) -> Predicate:
        target = self._sort_value(spec, name, operand, context)
        value_of = self._order_value(spec)
        compare: Callable[[object, object], bool] = {
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
        }[operator]

        def matches(issue: JiraIssue) -> bool:
            value = value_of(issue)
            return value is not None and compare(value, target)

        return matches

    def _sort_value(
        self, spec: FieldSpec, name: str, operand: Operand, context: _CompileContext
    ) -> object:
        """The comparable value an operand stands for, in the same terms as `_order_value`."""
        if isinstance(operand, EmptyValue):
            return None
        if spec.kind == "date":
            if isinstance(operand, FunctionCall):
                if operand.name.lower() not in DATE_FUNCTIONS:
                    raise self._function_error(operand, name)
                return evaluate_date_function(operand, context.now)
            return parse_date_value(operand.text, name, context.now)
        if isinstance(operand, FunctionCall):
            raise self._function_error(operand, name)
        if spec.kind == "number":
            try:
                return float(operand.text)
            except ValueError:
                raise JqlError(
                    f"The value '{operand.text}' is not a valid number for the field '{name}'."
                ) from None
        if spec.kind == "priority":
            canonical = self._choice(spec, name, operand.text)
            assert canonical is not None
            return len(PRIORITIES) - PRIORITIES.index(canonical)
        return self._key_value(operand.text, name)

    def _key_value(self, text: str, name: str) -> tuple[str, int]:
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)-(\d+)", text.strip())
        if match is None:
            if text.strip().isdigit() and text.strip() in self.data.by_id:
                by_id = self.data.by_id[text.strip()]
                return by_id.project, by_id.number
            raise JqlError(f"The issue key '{text}' for field '{name}' is invalid.")
        project = match.group(1).upper()
        found = self.data.by_key.get(f"{project}-{match.group(2)}")
        if project not in self.data.projects_by_key or found is None:
            raise JqlError(f"An issue with key '{text}' does not exist for field '{name}'.")
        return found.project, found.number  # a moved issue's old key names it still

    @staticmethod
    def _order_value(spec: FieldSpec) -> Callable[[JiraIssue], object]:
        if spec.kind == "key":
            return lambda issue: (issue.project, issue.number)
        if spec.kind == "priority":
            return lambda issue: len(PRIORITIES) - PRIORITIES.index(issue.priority)
        return spec.read

    @staticmethod
    def _function_error(call: FunctionCall, name: str) -> JqlError:
        known = DATE_FUNCTIONS | {"currentuser"}
        if call.name.lower() not in known:
            return JqlError(f"Unable to find JQL function '{call.name}()'.")
        return JqlError(
            f"A value provided by the function '{call.name}' is invalid for the field '{name}'."
        )

    @staticmethod
    def _text(spec: FieldSpec, name: str, operand: Operand, *, negate: bool) -> Predicate:
        if isinstance(operand, FunctionCall):
            raise JqlError(f"The operator '~' cannot be used with the function '{operand.name}'.")
        assert isinstance(operand, JqlValue)
        words = operand.text.replace("*", " ").replace("?", " ").split()
        if not words:
            raise JqlError(f"The field '{name}' does not support searching for an empty string.")
        lowered = [word.lower() for word in words]
        read = spec.read

        def contains(issue: JiraIssue) -> bool:
            haystack = str(read(issue)).lower()
            return all(word in haystack for word in lowered)

        if negate:
            return lambda issue: not contains(issue)
        return contains

    # -- ordering

    def _sorter(self, terms: tuple[OrderTerm, ...]) -> Callable[[list[JiraIssue]], list[JiraIssue]]:
        keys: list[tuple[Callable[[JiraIssue], object], bool]] = []
        for term in terms:
            name = term.field.name
            spec = FIELD_SPECS.get(name.lower())
            if spec is None:
                raise _unknown_field(name)
            if spec.canonical in UNSORTABLE:
                raise JqlError(f"Not able to sort using field '{name}'.")
            value_of = self._display_order_value(spec)
            keys.append((value_of, term.descending))

        def sort(issues: list[JiraIssue]) -> list[JiraIssue]:
            # Jira's default order, and the tie-breaker: newest issue first.
            ordered = sorted(issues, key=lambda issue: issue.id, reverse=True)
            for value_of, descending in reversed(keys):
                ordered.sort(key=_null_safe(value_of), reverse=descending)
            return ordered

        return sort

    def _display_order_value(self, spec: FieldSpec) -> Callable[[JiraIssue], object]:
        if spec.kind == "user":
            users = self.data.users_by_id
            read = spec.read

            def display_name(issue: JiraIssue) -> object:
                account = read(issue)
                return users[account].display_name.lower() if isinstance(account, str) else None

            return display_name
        if spec.kind in ("choice", "option"):
            read = spec.read
            return lambda issue: str(value).lower() if (value := read(issue)) is not None else None
        return self._order_value(spec)


def _null_safe(read: Callable[[JiraIssue], object]) -> Callable[[JiraIssue], tuple[bool, object]]:
    """Empty values sort after every value ascending (and first descending), as in Jira."""

    def sort_key(issue: JiraIssue) -> tuple[bool, object]:
        value = read(issue)
        return (value is None, value if value is not None else 0)

    return sort_key


@dataclass(frozen=True)
class _CompileContext:
    now: datetime
    current_user: str | None
    filter_depth: int = 0  # saved filters inside saved filters
