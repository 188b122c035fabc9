"""A small JQL evaluator over an issue's fields as they were at some moment (backfill).

Jira answers a query only about the present. To know what a query matched on a past day,
each candidate issue's fields are replayed back to that day (`connectors.jira_history`) and
the query is evaluated here, on those fields. Only what a changelog can replay is read:
project, key, status and its category, resolution and its date, created, labels, assignee,
issue type, priority and numeric custom fields (story points and others). Clauses: `=`,
`!=`, `in`, `not in`, `is [not] EMPTY`, and `<`, `>`, `<=`, `>=` on dates and numbers; AND,
OR, NOT, parentheses; `ORDER BY` is ignored. Absolute dates are read in UTC, as the
sandbox reads them.

Everything else raises `Unrebuildable` naming the clause: functions, relative dates, saved
filters, `WAS`/`CHANGED`, text search (`~`), and fields the changelog does not cover. The
tokens come from `connectors.jql`, the product's one JQL reader.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.history import Unrebuildable
from connectors.jql import (
    HISTORY_OPERATORS,
    RELATIVE_DATE,
    SAVED_FILTER_FIELDS,
    JqlSyntaxError,
    Token,
    tokenize,
)
from connectors.jql_state import IssueState, SiteTerms

Predicate = Callable[[IssueState], bool]
Reader = Callable[[IssueState], object]

DATE_FIELDS = {"created": "created", "createddate": "created"}
DATE_FIELDS |= {"resolved": "resolved", "resolutiondate": "resolved"}
KEY_FIELDS = frozenset({"key", "issuekey", "issue", "id"})  # the issue's key: always read
# The Jira field (id) a search must ask for each field name the evaluator reads.
FIELD_IDS = {
    **{name: name for name in ("project", "status", "resolution", "priority", "labels")},
    **{"assignee": "assignee", "issuetype": "issuetype", "type": "issuetype"},
    **{"statuscategory": "status", "label": "labels", "created": "created"},
    **{"createddate": "created", "resolved": "resolutiondate"},
    **{"resolutiondate": "resolutiondate"},
}
# Fields Jira searches that a changelog does not replay here (or at all).
NOT_REPLAYED = frozenset(
    {"updated", "updateddate", "reporter", "creator", "summary", "description", "text"}
    | {"comment", "sprint", "fixversion", "affectedversion", "component", "parent", "duedate"}
    | {"epic link", "watcher", "voter", "environment", "lastviewed", "level", "due"}
)
ABSOLUTE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
WORD_AND = frozenset({"and", "&&", "&"})
WORD_OR = frozenset({"or", "||", "|"})


@dataclass(frozen=True)
class CompiledQuery:
    """A query as a predicate, and the Jira fields (ids) it reads."""

    matches: Predicate
    fields: frozenset[str]


def compile_jql(jql: str, terms: SiteTerms) -> CompiledQuery:
    """A query on an issue's state; `Unrebuildable` when the query needs more than that."""
    try:
        tokens = tokenize(jql)
    except JqlSyntaxError as exc:
        raise Unrebuildable(f"the JQL cannot be read: {exc}") from None
    compiler = _Compiler(jql, tokens, terms)
    matches = compiler.query()
    return CompiledQuery(matches, frozenset(compiler.fields))


@dataclass(frozen=True)
class _Operand:
    text: str | None  # None: EMPTY / NULL
    function: bool = False  # `text(...)`: a function's name


class _Compiler:
    """Recursive descent over the tokens, building predicates as it reads."""

    def __init__(self, jql: str, tokens: list[Token], terms: SiteTerms) -> None:
        self.jql = jql
        self.tokens = tokens
        self.terms = terms
        self.at = 0
        self.fields: set[str] = set()  # Jira field ids the clauses read

    # -- tokens

    def peek(self, offset: int = 0) -> Token | None:
        n = self.at + offset
        return self.tokens[n] if n < len(self.tokens) else None

    def is_word(self, token: Token | None, *words: str) -> bool:
        return token is not None and token.kind == "word" and token.text.lower() in words

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise Unrebuildable(f"the JQL {self.jql!r} ends where a clause goes on")
        self.at += 1
        return token

    def clause_text(self, start: int) -> str:
        """The source of the clause that began at token `start`, for messages."""
        begin = self.tokens[start].position
        end = self.tokens[self.at].position if self.at < len(self.tokens) else len(self.jql)
        return self.jql[begin:end].strip()

    # -- grammar

    def query(self) -> Predicate:
        if not self.tokens or self._at_order_by():
            return lambda _: True
        predicate = self.disjunction()
        if self.peek() is not None and not self._at_order_by():
            raise Unrebuildable(f"the JQL {self.jql!r} has {self.take().text!r} where none fits")
        return predicate

    def _at_order_by(self) -> bool:
        return self.is_word(self.peek(), "order") and self.is_word(self.peek(1), "by")

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.is_word(self.peek(), *WORD_OR):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda s: any(p(s) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.is_word(self.peek(), *WORD_AND):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda s: all(p(s) for p in parts))

    def negation(self) -> Predicate:
        token = self.peek()
        if self.is_word(token, "not"):
            self.take()
            inner = self.negation()
            return lambda s: not inner(s)
        if token is not None and token.kind == "open":
            self.take()
            inner = self.disjunction()
            closing = self.peek()
            if closing is None or closing.kind != "close":
                raise Unrebuildable(f"the JQL {self.jql!r} misses a ')'")
            self.take()
            return inner
        return self.clause()

    def clause(self) -> Predicate:
        start = self.at
        name_token = self.take()
        if name_token.kind not in ("word", "string"):
            raise Unrebuildable(f"the JQL {self.jql!r} has {name_token.text!r} where a field goes")
        name = name_token.text.strip().lower()
        operator = self._operator()
        operands = self._operands()
        text = self.clause_text(start)
        for operand in operands:
            if operand.function:
                raise Unrebuildable(f"the function {operand.text}() in `{text}`")
        if name in SAVED_FILTER_FIELDS:
            raise Unrebuildable(f"a saved filter in `{text}`: its JQL can change with no trace")
        if operator in ("~", "!~"):
            raise Unrebuildable(f"text search ({operator}) in `{text}`")
        return self._field(name, operator, operands, text)

    def _operator(self) -> str:
        token = self.take()
        word = token.text.lower()
        if token.kind == "operator":
            return token.text
        if token.kind == "word" and word == "not" and self.is_word(self.peek(), "in"):
            self.take()
            return "not in"
        if token.kind == "word" and word == "is":
            if self.is_word(self.peek(), "not"):
                self.take()
                return "is not"
            return "is"
        if token.kind == "word" and word in HISTORY_OPERATORS:
            field = self.tokens[self.at - 2].text
            raise Unrebuildable(f"a history operator ({word.upper()}) on '{field}'")
        if token.kind == "word" and word == "in":
            return word
        raise Unrebuildable(f"the JQL {self.jql!r} has {token.text!r} where an operator goes")

    def _operands(self) -> list[_Operand]:
        token = self.peek()
        if token is not None and token.kind == "open":
            self.take()
            values = [self._operand()]
            while (following := self.peek()) is not None and following.kind == "comma":
                self.take()
                values.append(self._operand())
            if self.take().kind != "close":
                raise Unrebuildable(f"the JQL {self.jql!r} misses a ')' after a list")
            return values
        return [self._operand()]

    def _operand(self) -> _Operand:
        token = self.take()
        if token.kind == "word" and token.text.lower() in ("empty", "null"):
            return _Operand(None)
        if token.kind not in ("word", "string"):
            raise Unrebuildable(f"the JQL {self.jql!r} has {token.text!r} where a value goes")
        following = self.peek()
        if following is not None and following.kind == "open":
            self._skip_arguments()
            return _Operand(token.text, function=True)
        return _Operand(token.text)

    def _skip_arguments(self) -> None:
        """Past a function's parenthesised arguments, nested ones included."""
        depth = 0
        while True:
            token = self.take()
            depth += token.kind == "open"
            depth -= token.kind == "close"
            if depth == 0:
                return

    # -- fields

    def _field(self, name: str, operator: str, operands: list[_Operand], text: str) -> Predicate:
        field_id = FIELD_IDS.get(name) or self.terms.number_fields.get(name)
        if field_id is not None:
            self.fields.add(field_id)
        if name in DATE_FIELDS:
            return self._ordered(operator, operands, text, _DATE_READERS[DATE_FIELDS[name]])
        number_field = self.terms.number_fields.get(name)
        if number_field is not None:
            return self._ordered(operator, operands, text, lambda s: s.numbers.get(number_field))
        matcher = self._key_matcher if name in KEY_FIELDS else self._matcher_for(name, text)
        if operator in ("<", ">", "<=", ">="):
            raise Unrebuildable(f"an ordering ({operator}) on '{name}' in `{text}`")
        return self._membership(operator, operands, text, matcher)

    def _matcher_for(self, name: str, text: str) -> Callable[[str | None], Predicate]:
        terms = self.terms
        if name == "project":
            return self._project_matcher
        if name == "status":
            return self._choice(terms.statuses, lambda s: s.status, "status", text)
        if name == "statuscategory":
            return self._choice(terms.categories, lambda s: s.category, "status category", text)
        if name == "resolution":
            return self._named(lambda s: s.resolution, unresolved=True)
        if name in ("issuetype", "type"):
            return self._named(lambda s: s.issue_type)
        if name == "priority":
            return self._named(lambda s: s.priority)
        if name in ("labels", "label"):
            return _label_matcher
        if name == "assignee":
            return _assignee_matcher
        if name in NOT_REPLAYED:
            raise Unrebuildable(f"'{name}' in `{text}`: the changelog does not replay it")
        raise Unrebuildable(f"'{name}' in `{text}`: a field this replay does not cover")

    def _membership(
        self,
        operator: str,
        operands: list[_Operand],
        text: str,
        matcher: Callable[[str | None], Predicate],
    ) -> Predicate:
        matches = [matcher(operand.text) for operand in operands]
        return self._combine(operator, operands, text, matches, matcher(None))

    @staticmethod
    def _combine(
        operator: str,
        operands: list[_Operand],
        text: str,
        matches: list[Predicate],
        empty: Predicate,
    ) -> Predicate:
        if operator in ("=", "in", "is"):
            if operator == "is" and operands[0].text is not None:
                raise Unrebuildable(f"IS takes EMPTY or NULL alone, in `{text}`")
            return lambda s: any(m(s) for m in matches)
        if operator in ("!=", "not in", "is not"):
            return lambda s: not empty(s) and not any(m(s) for m in matches)
        raise Unrebuildable(f"the operator {operator!r} in `{text}`")

    def _ordered(
        self, operator: str, operands: list[_Operand], text: str, read: Reader
    ) -> Predicate:
        wanted = [self._ordered_value(operand.text, text, read) for operand in operands]

        def equal_to(value: object) -> Predicate:
            return lambda s: read(s) == value

        if operator in ("=", "in", "is", "!=", "not in", "is not"):
            matches = [equal_to(value) for value in wanted]
            return self._combine(operator, operands, text, matches, equal_to(None))
        if len(wanted) != 1 or wanted[0] is None:
            raise Unrebuildable(f"an ordering on nothing in `{text}`")
        target = wanted[0]
        compare = _COMPARISONS[operator]

        def ordered(state: IssueState) -> bool:
            value = read(state)
            return value is not None and compare(value, target)

        return ordered

    def _ordered_value(self, value: str | None, text: str, read: Reader) -> object:
        if value is None:
            return None
        if read in _DATE_READERS.values():
            return _absolute_date(value, text)
        try:
            return float(value)
        except ValueError:
            raise Unrebuildable(f"'{value}' is not a number, in `{text}`") from None

    # -- value matchers

    def _choice(
        self, names: Mapping[str, str], read: Reader, what: str, text: str
    ) -> Callable[[str | None], Predicate]:
        def matcher(value: str | None) -> Predicate:
            if value is None:
                return lambda s: read(s) in (None, "")
            canonical = names.get(value.strip().lower())
            if canonical is None:
                raise Unrebuildable(f"no {what} '{value}' on this site, in `{text}`")
            return lambda s: read(s) == canonical

        return matcher

    @staticmethod
    def _named(read: Reader, *, unresolved: bool = False) -> Callable[[str | None], Predicate]:
        def matcher(value: str | None) -> Predicate:
            if value is None or (unresolved and value.strip().lower() == "unresolved"):
                return lambda s: read(s) is None
            wanted = value.strip().lower()
            return lambda s: str(read(s) or "").lower() == wanted and read(s) is not None

        return matcher

    def _project_matcher(self, value: str | None) -> Predicate:
        """By key, name or id; names are learnt from the candidates, so looked up late."""
        if value is None:
            return lambda _: False
        wanted = value.strip()
        projects = self.terms.projects
        return lambda s: s.project == projects.get(wanted.lower(), wanted.upper())

    @staticmethod
    def _key_matcher(value: str | None) -> Predicate:
        if value is None:
            return lambda _: False
        wanted = value.strip().upper()
        return lambda s: wanted in s.identities


def _label_matcher(value: str | None) -> Predicate:
    if value is None:
        return lambda s: not s.labels
    wanted = value.lower()
    return lambda s: any(label.lower() == wanted for label in s.labels)


def _assignee_matcher(value: str | None) -> Predicate:
    if value is None:
        return lambda s: not s.assignee
    wanted = value.strip().lower()
    return lambda s: wanted in s.assignee


def _absolute_date(value: str, text: str) -> datetime:
    if RELATIVE_DATE.match(value.strip()):
        raise Unrebuildable(f"a relative date ({value.strip()}) in `{text}`")
    for form in ABSOLUTE_FORMATS:
        try:
            return datetime.strptime(value.strip(), form).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise Unrebuildable(f"'{value}' is not a date this replay reads, in `{text}`")


_DATE_READERS: dict[str, Reader] = {
    "created": lambda s: s.created,
    "resolved": lambda s: s.resolved,
}
_COMPARISONS: dict[str, Callable[[object, object], bool]] = {
    "<": lambda a, b: a < b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}
