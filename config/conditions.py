"""`where` conditions: a test over one item's fields, in the expression language of
config/expressions.py (parsed with `ast`, checked against a whitelist, never `eval`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from config.expressions import (
    ExpressionError,
    check_name,
    constant_number,
    parse_text,
    refusal,
    token_of,
)

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

_CONDITION_HELP = (
    "use field names, numbers, strings, True/False/None, comparisons, in/not in [..], and/or/not"
)


def _literal(source: str, node: ast.expr) -> object:
    """A literal value (number, string, bool, None), or raise."""
    number = constant_number(node)
    if number is not None and not isinstance(node, ast.Constant):
        return number
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int | float):
            return value
    raise refusal(source, node, "condition", _CONDITION_HELP)


def _check_operand(source: str, node: ast.expr, names: set[str], container: bool) -> None:
    if isinstance(node, ast.Name):
        check_name(source, node, "condition")
        if node.id not in ("True", "False", "None"):
            names.add(node.id)
        return
    if isinstance(node, ast.List | ast.Tuple):
        if not container:
            raise ExpressionError(
                f"list '{token_of(source, node)}' can only follow 'in' or 'not in'"
            )
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
                    f"operator in '{token_of(source, node)}' is not allowed in a condition: "
                    "use == != < <= > >= in, not in"
                )
            _check_operand(source, comparator, names, container=isinstance(op, ast.In | ast.NotIn))
    elif isinstance(node, ast.Name):
        _check_operand(source, node, names, container=False)
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return
    else:
        raise refusal(source, node, "condition", _CONDITION_HELP)


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
        raise ExpressionError(f"'{token_of(source, right_node)}' is not a list in '{source}'")
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
    source, tree = parse_text(text, "condition")
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
