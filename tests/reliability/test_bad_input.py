"""Random and hostile input to the mapping loader, periods, placeholders and expressions.

Each either works or raises the module's own clear error (MappingError, PeriodError,
PlaceholderError, ExpressionError); never another exception, never a hang (hypothesis
deadlines), never evaluated code (a canary file that hostile input tries to create).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.conditions import parse_condition
from config.expressions import ExpressionError, parse_formula
from config.loader import MappingError, load_mapping_text
from config.periods import Period, PeriodError, parse_period
from config.placeholders import PlaceholderError, expand
from tests.reliability.record import record
from tests.sync.test_cli import MAPPING

CANARY = Path(__file__).resolve().parent / "CANARY-evaluated"
EXAMPLES = 150
TODAY = date(2026, 11, 20)
PERIOD = Period(date(2026, 10, 1), date(2026, 12, 31), "2026-Q4")
FAST = settings(
    max_examples=EXAMPLES,
    deadline=10_000,  # ms per example (generous for loaded CI): a hang fails the test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

HOSTILE_CODE = [
    f"__import__('os').system('touch {CANARY}')",
    f"open('{CANARY}', 'w').write('x')",
    "().__class__.__bases__[0].__subclasses__()",
    "(lambda: 1)()",
    "[x for x in range(10**9)]",
    "9 ** 9 ** 9 ** 9",
    "a if b else c",
    "exec('1')",
    "eval('1')",
    "a.b",
    "a[0]",
    "f'{a}'",
    "(" * 500 + "1" + ")" * 500,
    "-" * 10000 + "1",
    "1e309",
    "0/0",
    "a @ b",
    "a := 1",
    "not a",
    "{1: 2}",
]
HOSTILE_YAML = [
    "a: &a [*a]",
    "a: &x [1]\nb: &y [*x, *x, *x, *x, *x, *x, *x, *x, *x]\n"
    + "".join(
        f"c{i}: &z{i} [{', '.join(['*y' if i == 0 else f'*z{i - 1}'] * 9)}]\n" for i in range(8)
    ),
    "!!python/object/apply:os.system ['touch " + str(CANARY) + "']",
    "version: !!python/name:os.system\n",
    "[" * 10000 + "]" * 10000,
    "{" * 5000,
    "version: 1\nperiod: 2026-Q4\nobjectives: {}\n",
    "version: 1\nperiod: 2026-Q4\nobjectives:\n  - id: a\n    title: t\n    key_results:\n"
    "      - {id: k, title: t, start: .nan, target: .inf, metric: {type: manual}}\n",
    "\x00\x01\x02",
    "\x1f",
    "version: 1\x85\ud7ff\x1b",
    "version: 1\nversion: 2\n",
    "? [a, b]\n: c\n",
]


@pytest.fixture(autouse=True)
def no_canary() -> Iterator[None]:
    CANARY.unlink(missing_ok=True)
    yield
    assert not CANARY.exists(), "hostile input was evaluated"


class Tally:
    """How many inputs a property saw and how many were accepted, for RELIABILITY.md."""

    def __init__(self) -> None:
        self.tried = 0
        self.accepted = 0

    def run(self, call: Callable[[], object], error: type[Exception]) -> object | None:
        self.tried += 1
        try:
            result = call()
        except error as exc:
            assert str(exc).strip(), "an error without a message"
            assert "Traceback" not in str(exc)
            return None
        self.accepted += 1
        return result


def leaves() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=40),
        st.sampled_from(["{period}", "{period.start}", "{nope}", "{today}", "{", "}", "2026-Q4"]),
        st.sampled_from(HOSTILE_CODE),
    )


def yaml_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=12), children, max_size=4),
        ),
        max_leaves=20,
    )


def node_paths(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path (keys and indexes) of every node below the top of `document`."""
    children: list[tuple[Any, Any]] = []
    if isinstance(document, dict):
        children = list(document.items())
    elif isinstance(document, list):
        children = list(enumerate(document))
    found = []
    for key, child in children:
        found.append((*path, key))
        found += node_paths(child, (*path, key))
    return found


def replace_at(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of `document` with the node at `path` replaced by `value`."""
    if not path:
        return value
    copy: Any = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = replace_at(document[path[0]], path[1:], value)
    return copy


VALID = yaml.safe_load(MAPPING)
PATHS = node_paths(VALID)


def test_mapping_loader_takes_any_text() -> None:
    tally = Tally()

    @FAST
    @given(st.one_of(st.text(max_size=400), st.sampled_from(HOSTILE_YAML)))
    def check(text: str) -> None:
        tally.run(
            lambda: load_mapping_text(text, source_name="okrs.yaml", today=TODAY), MappingError
        )

    check()
    for hostile in HOSTILE_YAML:
        tally.run(
            lambda: load_mapping_text(hostile, source_name="okrs.yaml", today=TODAY),  # noqa: B023
            MappingError,
        )
    record(
        "bad input",
        "mapping loader: random text and hostile YAML (alias bombs, python tags, deep nesting, NaN)",
        tally.tried,
        f"{tally.accepted} loaded, the rest refused with MappingError naming file and line; no other exception, no hang, nothing evaluated",
    )


def test_mapping_loader_takes_any_damage_to_a_valid_file() -> None:
    tally = Tally()

    @FAST
    @given(st.sampled_from(PATHS), yaml_values())
    def check(path: tuple[Any, ...], value: Any) -> None:
        damaged = replace_at(VALID, path, value)
        text = yaml.safe_dump(damaged, allow_unicode=True)
        loaded = tally.run(
            lambda: load_mapping_text(text, source_name="okrs.yaml", today=TODAY), MappingError
        )
        if loaded is not None:  # whatever loads holds only finite numbers
            for objective in loaded.objectives:  # type: ignore[attr-defined]
                for kr in objective.key_results:
                    for number in (kr.target, kr.min, kr.max, kr.weight):
                        assert number is None or math.isfinite(number)

    check()
    record(
        "bad input",
        "mapping loader: a valid file with one node replaced by random or hostile values",
        tally.tried,
        f"{tally.accepted} loaded (only finite numbers), the rest refused with MappingError; no other exception",
    )


def test_period_parser() -> None:
    tally = Tally()

    @FAST
    @given(
        st.one_of(
            leaves(),
            st.dates(),
            st.from_regex(r"\A\d{1,5}(-(Q|H)?\d{1,3})?\Z"),
            st.dictionaries(
                st.sampled_from(["start", "end", "x"]), leaves() | st.dates(), max_size=3
            ),
        )
    )
    def check(value: object) -> None:
        period = tally.run(lambda: parse_period(value), PeriodError)
        if period is not None:
            assert isinstance(period, Period) and period.start <= period.end

    check()
    record(
        "bad input",
        "period parser: random values, strings, dates and {start, end} maps",
        tally.tried,
        f"{tally.accepted} parsed (start <= end), the rest refused with PeriodError",
    )


def test_placeholder_expander() -> None:
    tally = Tally()

    @FAST
    @given(
        st.lists(
            st.one_of(
                st.text(max_size=10),
                st.sampled_from(
                    [
                        "{period}",
                        "{period.start}",
                        "{period.end}",
                        "{today}",
                        "{",
                        "}",
                        "{{",
                        "}}",
                        "{period.",
                        "{__class__}",
                        "{0}",
                        "{today!r}",
                    ]
                ),
            ),
            max_size=12,
        ).map("".join)
    )
    def check(template: str) -> None:
        result = tally.run(lambda: expand(template, period=PERIOD, today=TODAY), PlaceholderError)
        if result is not None:
            assert "{period" not in str(result) or "{{" in template

    check()
    record(
        "bad input",
        "placeholder expander: random templates with good, unknown and broken placeholders",
        tally.tried,
        f"{tally.accepted} expanded, the rest refused with PlaceholderError; nothing but the four placeholders interpolated",
    )


EXPRESSION_TOKENS = [
    "a",
    "b",
    "approved",
    "merged",
    "1",
    "0",
    "2.5",
    "1e308",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "(",
    ")",
    ",",
    "min",
    "max",
    "abs",
    "round",
    "<",
    "<=",
    "==",
    "!=",
    " in ",
    " not ",
    " and ",
    " or ",
    "[",
    "]",
    "'x'",
    "None",
    "True",
    "_",
    "__import__",
    ".",
    "lambda",
    ":",
    " if ",
    " else ",
]


def expressions() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=60),
        st.sampled_from(HOSTILE_CODE),
        st.lists(st.sampled_from(EXPRESSION_TOKENS), max_size=15).map("".join),
    )


def test_formula_parser_and_evaluation() -> None:
    tally = Tally()
    values = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6)

    @FAST
    @given(
        expressions(), st.dictionaries(st.sampled_from(["a", "b", "approved", "merged"]), values)
    )
    def check(text: str, inputs: dict[str, float]) -> None:
        formula = tally.run(lambda: parse_formula(text), ExpressionError)
        if formula is None:
            return
        try:
            result = formula.evaluate(inputs)  # type: ignore[attr-defined]
        except ExpressionError:
            return
        assert math.isfinite(result), "a formula gave a non-finite value"

    check()
    record(
        "bad input",
        "formula parser: random text, token soup, hostile code; evaluated over random inputs incl. NaN/inf",
        tally.tried,
        f"{tally.accepted} parsed, the rest refused with ExpressionError; every evaluation finite or ExpressionError; nothing evaluated as Python",
    )


def test_condition_parser_and_test() -> None:
    tally = Tally()
    fields = st.dictionaries(st.sampled_from(["a", "b", "approved", "merged"]), leaves())

    @FAST
    @given(expressions(), fields)
    def check(text: str, record_: dict[str, object]) -> None:
        condition = tally.run(lambda: parse_condition(text), ExpressionError)
        if condition is None:
            return
        with contextlib.suppress(ExpressionError):
            assert isinstance(condition.test(record_), bool)  # type: ignore[attr-defined]

    check()
    record(
        "bad input",
        "condition (`where`) parser: random text, token soup, hostile code; tested on random items",
        tally.tried,
        f"{tally.accepted} parsed, the rest refused with ExpressionError; every test True/False or ExpressionError",
    )
