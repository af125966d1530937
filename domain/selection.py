"""Safe, vectorised evaluation of catalog selection expressions such as ``mag < 18 and dec > -30``."""

from __future__ import annotations

import ast
import operator
from typing import Mapping

import numpy as np

from domain.errors import SelectionError

__all__ = ["evaluate_selection", "selection_names"]

_COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.Mod: operator.mod,
}
_FUNCTIONS = {
    "abs": np.abs, "log10": np.log10, "sqrt": np.sqrt, "isfinite": np.isfinite,
    "isnan": np.isnan, "cos": lambda x: np.cos(np.radians(x)), "sin": lambda x: np.sin(np.radians(x)),
}


def selection_names(expression: str) -> set[str]:
    """Return the column names an expression refers to.

    Parameters
    ----------
    expression : str
        A selection expression.

    Returns
    -------
    set of str
        Names that are not functions.
    """
    tree = _parse(expression)
    return {
        node.id for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS
    }


def evaluate_selection(expression: str, columns: Mapping[str, np.ndarray], length: int) -> np.ndarray:
    """Evaluate ``expression`` on catalog columns and return a boolean mask.

    Only comparisons, ``and``/``or``/``not``, arithmetic, numbers, strings,
    column names and a few numpy functions (abs, log10, sqrt, isfinite, isnan,
    cos, sin in degrees) are allowed; nothing else is executed. Comparisons with
    NaN are False, so a missing magnitude never passes ``mag < 18``.

    Parameters
    ----------
    expression : str
        For example ``"mag < 18 and dec > -30"``.
    columns : mapping of str to numpy.ndarray
        Catalog columns by name.
    length : int
        Number of rows (for expressions that are constant).

    Returns
    -------
    numpy.ndarray
        Boolean mask of selected rows.

    Raises
    ------
    SelectionError
        If the expression is invalid or names an unknown column.

    Examples
    --------
    >>> import numpy as np
    >>> evaluate_selection("mag < 18", {"mag": np.array([17.0, 19.0])}, 2).tolist()
    [True, False]
    """
    if not expression or not expression.strip():
        return np.ones(length, dtype=bool)
    tree = _parse(expression)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = _Evaluator(columns, expression).visit(tree.body)
    mask = np.broadcast_to(np.asarray(result), (length,))
    if mask.dtype != bool:
        raise SelectionError(f"selection {expression!r} does not evaluate to true/false per row")
    return mask.copy()


def _parse(expression: str) -> ast.Expression:
    try:
        return ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise SelectionError(f"selection {expression!r} is not a valid expression: {exc.msg}") from None


class _Evaluator(ast.NodeVisitor):
    def __init__(self, columns: Mapping[str, np.ndarray], expression: str):
        self.columns = columns
        self.expression = expression

    def generic_visit(self, node):
        raise SelectionError(
            f"selection {self.expression!r}: {type(node).__name__} is not allowed "
            "(use comparisons, and/or/not, arithmetic and column names)"
        )

    def visit_BoolOp(self, node):
        values = [np.asarray(self.visit(v), dtype=bool) for v in node.values]
        reduce = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        result = values[0]
        for value in values[1:]:
            result = reduce(result, value)
        return result

    def visit_UnaryOp(self, node):
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return np.logical_not(operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        return self.generic_visit(node)

    def visit_Compare(self, node):
        left = self.visit(node.left)
        result = None
        for op, comparator in zip(node.ops, node.comparators):
            function = _COMPARE.get(type(op))
            if function is None:
                return self.generic_visit(op)
            right = self.visit(comparator)
            part = np.asarray(function(left, right), dtype=bool)
            result = part if result is None else result & part
            left = right
        return result

    def visit_BinOp(self, node):
        function = _BINARY.get(type(node.op))
        if function is None:
            return self.generic_visit(node.op)
        return function(self.visit(node.left), self.visit(node.right))

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise SelectionError(
                f"selection {self.expression!r}: only {', '.join(sorted(_FUNCTIONS))} may be called"
            )
        return _FUNCTIONS[node.func.id](*[self.visit(a) for a in node.args])

    def visit_Name(self, node):
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id not in self.columns:
            known = ", ".join(sorted(self.columns))
            raise SelectionError(f"selection {self.expression!r}: unknown column '{node.id}' (known: {known})")
        return self.columns[node.id]

    def visit_Constant(self, node):
        if isinstance(node.value, (int, float, str, bool)):
            return node.value
        return self.generic_visit(node)
