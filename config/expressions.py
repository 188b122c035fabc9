"""The mapping file's small expression language: `formula` arithmetic and `where` conditions.

Text is parsed with `ast` and every node is checked against a whitelist before anything is
computed; evaluation walks that checked tree. Nothing is ever handed to `eval`, names are
only looked up in the mapping given, and exponents are bounded so no input can hang a run.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

MAX_LENGTH = 500
MAX_EXPONENT = 100
MAX_ROUND_DIGITS = 15

FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (min args, max args)
    "min": (2, 64),
    "max": (2, 64),
    "abs": (1, 1),
    "round": (1, 2),
}

_ARITHMETIC: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}

_COMPARISONS: dict[type[ast.cmpop], Callable[[object, object], bool]] = {
    ast.Eq: lambda a, b: bool(a == b),
    ast.NotEq: lambda a, b: bool(a != b),
    ast.Lt: lambda a, b: bool(a < b),  # type: ignore[operator]
    ast.LtE: lambda a, b: bool(a <= b),  # type: ignore[operator]
    ast.Gt: lambda a, b: bool(a > b),  # type: ignore[operator]
    ast.GtE: lambda a, b: bool(a >= b),  # type: ignore[operator]
    ast.In: lambda a, b: a in b,  # type: ignore[operator]
    ast.NotIn: lambda a, b: a not in b,  # type: ignore[operator]
}

_NODE_WORDS: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Call: "call",
    ast.Lambda: "lambda",
    ast.NamedExpr: "assignment",
    ast.IfExp: "if-else",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.Dict: "dict",
    ast.Set: "set",
    ast.JoinedStr: "f-string",
    ast.Starred: "unpacking",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slice",
}

_FORMULA_HELP = "use numbers, input names, + - * / // % **, parentheses, min, max, abs, round"
_CONDITION_HELP = (
    "use field names, numbers, strings, True/False/None, comparisons, in/not in [..], and/or/not"
)


class ExpressionError(ValueError):
    """A formula or condition that is refused or cannot be computed; names the offending part."""


def _parse(text: object, what: str) -> tuple[str, ast.expr]:
    if not isinstance(text, str):
        raise ExpressionError(f"a {what} must be text, not {type(text).__name__}")
    source = text.strip()
    if not source:
        raise ExpressionError(f"empty {what}")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"{what} is {len(source)} characters long; the limit is {MAX_LENGTH}")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        column = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"invalid {what} '{source}'{column}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"invalid {what} '{source}': too deeply nested or not text") from None
    return source, tree.body


def _token(source: str, node: ast.AST) -> str:
    token = ast.get_source_segment(source, node) or type(node).__name__
    return token if len(token) <= 60 else token[:57] + "..."


def _refuse(source: str, node: ast.AST, what: str, help_text: str) -> ExpressionError:
    words = _NODE_WORDS.get(type(node), type(node).__name__)
    return ExpressionError(
        f"{words} '{_token(source, node)}' is not allowed in a {what}: {help_text}"
    )


def _check_name(source: str, node: ast.Name, what: str) -> None:
    if node.id.startswith("_"):
        raise ExpressionError(
            f"name '{node.id}' is not allowed in a {what}: names may not start with '_'"
        )


def _constant_number(node: ast.expr) -> float | None:
    """The value of a literal number, possibly negated, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _constant_number(node.operand)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            return None
        return float(node.value)
    return None


# --- formulas -------------------------------------------------------------------------


def _check_formula(source: str, node: ast.expr, names: set[str]) -> None:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExpressionError(
                f"'{_token(source, node)}' is not a number: formulas compute with numbers only"
            )
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ExpressionError(f"number '{_token(source, node)}' is too large")
    elif isinstance(node, ast.Name):
        _check_name(source, node, "formula")
        if node.id in FUNCTIONS:
            raise ExpressionError(f"'{node.id}' is a function: call it, as in {node.id}(a, b)")
        if node.id in ("True", "False", "None"):
            raise ExpressionError(f"'{node.id}' is not a number")
        names.add(node.id)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITHMETIC:
            raise ExpressionError(
                f"operator in '{_token(source, node)}' is not allowed in a formula: "
                + _FORMULA_HELP
            )
        _check_formula(source, node.left, names)
        right_names: set[str] = set()
        _check_formula(source, node.right, right_names)
        names |= right_names
        divides = isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod)
        if divides and not right_names and _constant_value(node.right, source) == 0:
            raise ExpressionError(f"division by zero in '{source}'")
        # A constant exponent is known now: refuse a huge one before anything runs.
        powers = isinstance(node.op, ast.Pow)
        if powers and not right_names and abs(_constant_value(node.right, source)) > MAX_EXPONENT:
            raise ExpressionError(
                f"exponent in '{_token(source, node)}' is too large (at most {MAX_EXPONENT})"
            )
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise ExpressionError(
                f"operator in '{_token(source, node)}' is not allowed in a formula: "
                + _FORMULA_HELP
            )
        _check_formula(source, node.operand, names)
    elif isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
            raise ExpressionError(
                f"call '{_token(source, node)}' is not allowed in a formula: "
                "only min, max, abs and round can be called"
            )
        if node.keywords:
            raise ExpressionError(f"keyword arguments in '{_token(source, node)}' are not allowed")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise _refuse(source, arg, "formula", _FORMULA_HELP)
        low, high = FUNCTIONS[func.id]
        if not low <= len(node.args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise ExpressionError(
                f"{func.id}() takes {expected} arguments: '{_token(source, node)}'"
            )
        for arg in node.args:
            _check_formula(source, arg, names)
    else:
        raise _refuse(source, node, "formula", _FORMULA_HELP)


def _constant_value(node: ast.expr, source: str) -> float:
    """The value of an already-checked subtree without names (its inner powers are bounded)."""
    try:
        return _eval_formula(node, {}, source)
    except OverflowError:
        return math.inf


def _arith(op: ast.operator, left: float, right: float, source: str) -> float:
    if isinstance(op, ast.Add):
        return left + right
    if isinstance(op, ast.Sub):
        return left - right
    if isinstance(op, ast.Mult):
        return left * right
    if isinstance(op, ast.Div | ast.FloorDiv | ast.Mod) and right == 0:
        raise ExpressionError(f"division by zero in '{source}'")
    if isinstance(op, ast.Div):
        return left / right
    if isinstance(op, ast.FloorDiv):
        return left // right
    if isinstance(op, ast.Mod):
        return left % right
    # ast.Pow, the only operator left after checking
    if abs(right) > MAX_EXPONENT:
        raise ExpressionError(
            f"exponent {right:g} is too large in '{source}' (at most {MAX_EXPONENT})"
        )
    if left == 0 and right < 0:
        raise ExpressionError(f"division by zero in '{source}'")
    result: object = left**right
    if not isinstance(result, float | int):
        raise ExpressionError(
            f"'{source}' has no real value (fractional power of a negative number)"
        )
    return float(result)


def _eval_formula(node: ast.expr, values: Mapping[str, float], source: str) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise ExpressionError(f"no value for '{node.id}' in '{source}'")
        value = values[node.id]
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            raise ExpressionError(f"'{node.id}' has no numeric value in '{source}'")
        return float(value)
    if isinstance(node, ast.BinOp):
        left = _eval_formula(node.left, values, source)
        right = _eval_formula(node.right, values, source)
        return _arith(node.op, left, right, source)
    if isinstance(node, ast.UnaryOp):
        operand = _eval_formula(node.operand, values, source)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_eval_formula(arg, values, source) for arg in node.args]
        name = node.func.id
        if name == "min":
            return min(args)
        if name == "max":
            return max(args)
        if name == "abs":
            return abs(args[0])
        if len(args) == 1:
            return float(round(args[0]))
        digits = args[1]
        if digits != int(digits) or abs(digits) > MAX_ROUND_DIGITS:
            raise ExpressionError(
                f"round() digits must be a whole number up to {MAX_ROUND_DIGITS} in '{source}'"
            )
        return float(round(args[0], int(digits)))
    raise ExpressionError(f"cannot compute '{_token(source, node)}'")  # pragma: no cover


@dataclass(frozen=True)
class Formula:
    """Checked arithmetic over named inputs, e.g. `100 * approved / merged`."""

    text: str
    names: frozenset[str]
    tree: ast.expr = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The value for these inputs; refuses division by zero and non-finite results."""
        try:
            result = _eval_formula(self.tree, values, self.text)
        except OverflowError:
            raise ExpressionError(f"'{self.text}' overflows") from None
        except (ValueError, ArithmeticError) as exc:
            if isinstance(exc, ExpressionError):
                raise
            raise ExpressionError(f"cannot compute '{self.text}': {exc}") from None
        if not math.isfinite(result):
            raise ExpressionError(f"'{self.text}' is not a finite number ({result})")
        return result


def parse_formula(text: str) -> Formula:
    """Parse and check a formula; raise ExpressionError naming the offending token."""
    source, tree = _parse(text, "formula")
    names: set[str] = set()
    _check_formula(source, tree, names)
    return Formula(source, frozenset(names), tree)


# --- conditions -----------------------------------------------------------------------


def _literal(source: str, node: ast.expr) -> object:
    """A literal value (number, string, bool, None), or raise."""
    number = _constant_number(node)
    if number is not None and not isinstance(node, ast.Constant):
        return number
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int | float):
            return value
    raise _refuse(source, node, "condition", _CONDITION_HELP)


def _check_operand(source: str, node: ast.expr, names: set[str], container: bool) -> None:
    if isinstance(node, ast.Name):
        _check_name(source, node, "condition")
        if node.id not in ("True", "False", "None"):
            names.add(node.id)
        return
    if isinstance(node, ast.List | ast.Tuple):
        if not container:
            raise ExpressionError(f"list '{_token(source, node)}' can only follow 'in' or 'not in'")
        for element in node.elts:
            _literal(source, element)
        return
    _literal(source, node)


def _check_condition(source: str, node: ast.expr, names: set[str]) -> None:
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check_condition(source, value, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check_condition(source, node.operand, names)
    elif isinstance(node, ast.Compare):
        _check_operand(source, node.left, names, container=False)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARISONS:
                raise ExpressionError(
                    f"operator in '{_token(source, node)}' is not allowed in a condition: "
                    "use == != < <= > >= in, not in"
                )
            _check_operand(source, comparator, names, container=isinstance(op, ast.In | ast.NotIn))
    elif isinstance(node, ast.Name):
        _check_operand(source, node, names, container=False)
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return
    else:
        raise _refuse(source, node, "condition", _CONDITION_HELP)


def _operand(node: ast.expr, record: Mapping[str, object], source: str) -> object:
    if isinstance(node, ast.Name):
        if node.id == "True":
            return True
        if node.id == "False":
            return False
        if node.id == "None":
            return None
        if node.id not in record:
            raise ExpressionError(f"unknown field '{node.id}' in '{source}'")
        return record[node.id]
    if isinstance(node, ast.List | ast.Tuple):
        return tuple(_literal(source, element) for element in node.elts)
    return _literal(source, node)


def _is_none_literal(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and node.value is None) or (
        isinstance(node, ast.Name) and node.id == "None"
    )


def _compare(
    op: ast.cmpop,
    left_node: ast.expr,
    left: object,
    right_node: ast.expr,
    right: object,
    source: str,
) -> bool:
    if left is None or right is None:
        # A missing field fails every comparison, except an explicit test against None.
        if _is_none_literal(left_node) or _is_none_literal(right_node):
            if isinstance(op, ast.Eq):
                return left is right
            if isinstance(op, ast.NotEq):
                return left is not right
        return False
    if isinstance(op, ast.In | ast.NotIn) and not isinstance(
        right, list | tuple | set | frozenset | str
    ):
        raise ExpressionError(f"'{_token(source, right_node)}' is not a list in '{source}'")
    try:
        return _COMPARISONS[type(op)](left, right)
    except TypeError:
        raise ExpressionError(f"cannot compare {left!r} with {right!r} in '{source}'") from None


def _test(node: ast.expr, record: Mapping[str, object], source: str) -> bool:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_test(value, record, source) for value in node.values)
        return any(_test(value, record, source) for value in node.values)
    if isinstance(node, ast.UnaryOp):
        return not _test(node.operand, record, source)
    if isinstance(node, ast.Compare):
        left_node = node.left
        left = _operand(left_node, record, source)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _operand(right_node, record, source)
            if not _compare(op, left_node, left, right_node, right, source):
                return False
            left_node, left = right_node, right
        return True
    return bool(_operand(node, record, source))


@dataclass(frozen=True)
class Condition:
    """A checked `where` test over one item's fields, e.g. `lead_time_hours <= 48`."""

    text: str
    names: frozenset[str]
    tree: ast.expr = field(repr=False, compare=False)
    # Fields compared with None (`assignee == None`): their absence is what is tested.
    none_tested: frozenset[str] = frozenset()

    def test(self, record: Mapping[str, object]) -> bool:
        """Whether the item passes; a None field makes its comparison False."""
        return _test(self.tree, record, self.text)


def parse_condition(text: str) -> Condition:
    """Parse and check a `where` condition; raise ExpressionError naming the offending token."""
    source, tree = _parse(text, "condition")
    names: set[str] = set()
    _check_condition(source, tree, names)
    return Condition(source, frozenset(names), tree, _compared_with_none(tree))


def _compared_with_none(tree: ast.expr) -> frozenset[str]:
    """The fields a comparison sets directly against None."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if any(_is_none_literal(operand) for operand in operands):
            found |= {
                operand.id
                for operand in operands
                if isinstance(operand, ast.Name) and operand.id not in ("True", "False", "None")
            }
    return frozenset(found)
