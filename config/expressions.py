"""The mapping file's small expression language: its parsing, and `formula` arithmetic.

Text is parsed with `ast` and every node is checked against a whitelist before anything is
computed; evaluation walks that checked tree. Nothing is ever handed to `eval`, names are
only looked up in the mapping given, and exponents are bounded so no input can hang a run.
`where` conditions (config/conditions.py) are parsed and refused by the same functions.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
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


class ExpressionError(ValueError):
    """A formula or condition that is refused or cannot be computed; names the offending part."""


def parse_text(text: object, what: str) -> tuple[str, ast.expr]:
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


def token_of(source: str, node: ast.AST) -> str:
    token = ast.get_source_segment(source, node) or type(node).__name__
    return token if len(token) <= 60 else token[:57] + "..."


def refusal(source: str, node: ast.AST, what: str, help_text: str) -> ExpressionError:
    words = _NODE_WORDS.get(type(node), type(node).__name__)
    return ExpressionError(
        f"{words} '{token_of(source, node)}' is not allowed in a {what}: {help_text}"
    )


def check_name(source: str, node: ast.Name, what: str) -> None:
    if node.id.startswith("_"):
        raise ExpressionError(
            f"name '{node.id}' is not allowed in a {what}: names may not start with '_'"
        )


def constant_number(node: ast.expr) -> float | None:
    """The value of a literal number, possibly negated, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = constant_number(node.operand)
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
                f"'{token_of(source, node)}' is not a number: formulas compute with numbers only"
            )
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ExpressionError(f"number '{token_of(source, node)}' is too large")
    elif isinstance(node, ast.Name):
        check_name(source, node, "formula")
        if node.id in FUNCTIONS:
            raise ExpressionError(f"'{node.id}' is a function: call it, as in {node.id}(a, b)")
        if node.id in ("True", "False", "None"):
            raise ExpressionError(f"'{node.id}' is not a number")
        names.add(node.id)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITHMETIC:
            raise ExpressionError(
                f"operator in '{token_of(source, node)}' is not allowed in a formula: "
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
                f"exponent in '{token_of(source, node)}' is too large (at most {MAX_EXPONENT})"
            )
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise ExpressionError(
                f"operator in '{token_of(source, node)}' is not allowed in a formula: "
                + _FORMULA_HELP
            )
        _check_formula(source, node.operand, names)
    elif isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
            raise ExpressionError(
                f"call '{token_of(source, node)}' is not allowed in a formula: "
                "only min, max, abs and round can be called"
            )
        if node.keywords:
            raise ExpressionError(
                f"keyword arguments in '{token_of(source, node)}' are not allowed"
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise refusal(source, arg, "formula", _FORMULA_HELP)
        low, high = FUNCTIONS[func.id]
        if not low <= len(node.args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise ExpressionError(
                f"{func.id}() takes {expected} arguments: '{token_of(source, node)}'"
            )
        for arg in node.args:
            _check_formula(source, arg, names)
    else:
        raise refusal(source, node, "formula", _FORMULA_HELP)


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
    raise ExpressionError(f"cannot compute '{token_of(source, node)}'")  # pragma: no cover


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
    source, tree = parse_text(text, "formula")
    names: set[str] = set()
    _check_formula(source, tree, names)
    return Formula(source, frozenset(names), tree)
