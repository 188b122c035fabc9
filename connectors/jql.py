"""What a JQL query depends on besides the issues it matches, read from its tokens.

Incremental sync may patch a cached query with the issues that changed only when the set of
matches can change through those issues alone. It cannot when the query leans on:

- a function (`currentUser()`, `openSprints()`, `startOfWeek()`, `membersOf("x")`): its
  value moves with time, sprints, group membership or the asking account;
- a relative date (`-7d`, `"-2w 3d"`, `4h`): the window slides with the clock;
- a saved filter (`filter = 10042`, `savedFilter = "Team A"`, `request`, `searchRequest`):
  its JQL can be edited without any issue changing;
- a history operator (`WAS`, `WAS IN`, `WAS NOT`, `CHANGED`): it reads the past, and its
  `DURING`/`BEFORE`/`AFTER` predicates are usually relative.

`in (...)`, `not in (...)` and plain comparisons are ordinary. The product reads JQL's tokens
here and nowhere else (`jql_eval`, backfill's evaluator, reads these tokens); the sandbox
has its own, independent evaluator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["word", "string", "operator", "open", "close", "comma"]

HISTORY_OPERATORS = frozenset({"was", "changed"})
HISTORY_PREDICATES = frozenset({"during", "before", "after", "on", "from", "to"})  # take values
KEYWORDS = (
    frozenset({"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"})
    | HISTORY_OPERATORS
    | HISTORY_PREDICATES
)
SAVED_FILTER_FIELDS = frozenset({"filter", "savedfilter", "request", "searchrequest"})
OPERATORS = ("!=", ">=", "<=", "!~", "=", ">", "<", "~")
RELATIVE_DATE = re.compile(r"^[-+]?(?:\d+\s*[wdhmMy]\s*)+$")
# Anything but whitespace, quotes, parentheses, commas and operator characters.
_WORD = re.compile(r"[^\s\"'(),=!<>~]+")


class JqlSyntaxError(ValueError):
    """The text cannot be read as JQL tokens (an unterminated string, a stray character)."""


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # a string's text without its quotes and escapes
    position: int


def tokenize(jql: str) -> list[Token]:
    """JQL's lexical tokens: words, quoted strings, operators, parentheses and commas."""
    tokens: list[Token] = []
    i = 0
    while i < len(jql):
        char = jql[i]
        if char.isspace():
            i += 1
        elif char in "\"'":
            text, end = _read_string(jql, i)
            tokens.append(Token("string", text, i))
            i = end
        elif char in "(),":
            kind: TokenKind = "open" if char == "(" else "close" if char == ")" else "comma"
            tokens.append(Token(kind, char, i))
            i += 1
        else:
            operator = next((op for op in OPERATORS if jql.startswith(op, i)), None)
            if operator is not None:
                tokens.append(Token("operator", operator, i))
                i += len(operator)
                continue
            match = _WORD.match(jql, i)
            if match is None:
                raise JqlSyntaxError(f"unexpected {char!r} at position {i}")
            tokens.append(Token("word", match.group(), i))
            i = match.end()
    return tokens


def _read_string(jql: str, start: int) -> tuple[str, int]:
    quote = jql[start]
    parts: list[str] = []
    i = start + 1
    while i < len(jql):
        char = jql[i]
        if char == "\\" and i + 1 < len(jql):
            parts.append(jql[i + 1])
            i += 2
        elif char == quote:
            return "".join(parts), i + 1
        else:
            parts.append(char)
            i += 1
    raise JqlSyntaxError(f"the string opened at position {start} is not closed")


def without_order_by(jql: str) -> str:
    """The query's search clause alone, so that it can stand inside `(...) OR (...)`."""
    try:
        tokens = tokenize(jql)
    except JqlSyntaxError:
        return jql
    depth = 0
    for n, token in enumerate(tokens):
        depth += token.kind == "open"
        depth -= token.kind == "close"
        following = tokens[n + 1] if n + 1 < len(tokens) else None
        if (
            depth == 0
            and token.kind == "word"
            and token.text.lower() == "order"
            and following is not None
            and following.kind == "word"
            and following.text.lower() == "by"
        ):
            return jql[: token.position].rstrip()
    return jql


@dataclass(frozen=True)
class JqlDependencies:
    """What besides its matching issues a query's result depends on."""

    functions: tuple[str, ...] = ()
    relative_dates: tuple[str, ...] = ()
    saved_filters: bool = False
    history: bool = False
    unreadable: str | None = None  # why the text could not be tokenized

    @property
    def volatile(self) -> bool:
        """Whether matches can change without any matching issue being updated."""
        return bool(
            self.functions
            or self.relative_dates
            or self.saved_filters
            or self.history
            or self.unreadable
        )

    @property
    def reason(self) -> str:
        parts = []
        if self.functions:
            parts.append("functions " + ", ".join(f"{name}()" for name in self.functions))
        if self.relative_dates:
            parts.append("relative dates " + ", ".join(self.relative_dates))
        if self.saved_filters:
            parts.append("a saved filter")
        if self.history:
            parts.append("a history operator (WAS/CHANGED)")
        if self.unreadable:
            parts.append(f"unreadable JQL ({self.unreadable})")
        return "; ".join(parts) or "nothing but its issues"


def dependencies(jql: str) -> JqlDependencies:
    """Read what a query depends on; text that is not JQL counts as volatile."""
    try:
        tokens = tokenize(jql)
    except JqlSyntaxError as exc:
        return JqlDependencies(unreadable=str(exc))
    functions: list[str] = []
    relative: list[str] = []
    saved = history = False
    for n, token in enumerate(tokens):
        following = tokens[n + 1] if n + 1 < len(tokens) else None
        lowered = token.text.lower()
        if token.kind == "word":
            if following is not None and following.kind == "open" and lowered not in KEYWORDS:
                functions.append(token.text)
            elif lowered in HISTORY_OPERATORS:
                history = True
            elif lowered in SAVED_FILTER_FIELDS and _is_field(tokens, n):
                saved = True
        is_text = token.kind in ("word", "string")
        if is_text and RELATIVE_DATE.match(token.text.strip()) and _is_value(tokens, n):
            relative.append(token.text.strip())
    return JqlDependencies(
        functions=tuple(dict.fromkeys(functions)),
        relative_dates=tuple(dict.fromkeys(relative)),
        saved_filters=saved,
        history=history,
    )


def _is_field(tokens: list[Token], n: int) -> bool:
    """A word in a clause's field position: followed by an operator or IN / NOT / IS / WAS."""
    following = tokens[n + 1] if n + 1 < len(tokens) else None
    if following is None:
        return False
    return following.kind == "operator" or following.text.lower() in {"in", "not", "is", "was"}


def _is_value(tokens: list[Token], n: int) -> bool:
    """A token after an operator, inside a value list, or after a history predicate."""
    previous = tokens[n - 1] if n > 0 else None
    if previous is None:
        return False
    if previous.kind in ("operator", "comma", "open"):
        return True
    return previous.kind == "word" and previous.text.lower() in HISTORY_PREDICATES
