"""Safe, vectorised evaluation of catalog selection expressions such as ``mag < 18 and dec > -30``.

A selection is text from a configuration file, so it is evaluated under a budget: a bounded
expression (length, nodes, depth), numbers as 64-bit floats (``9**9**9`` overflows to inf at once
instead of computing a number of 370 million digits), functions of exactly one argument on read-only
columns (``abs(ra, dec)`` would pass ``dec`` as numpy's ``out`` and overwrite it), and arithmetic on
constants that overflows or divides by zero refused (a mistake, never a selection).
"""

from __future__ import annotations

import ast
import operator
from typing import Mapping

import numpy as np

from virtualobserver.domain.errors import SelectionError

__all__ = ["evaluate_selection", "selection_names", "MAX_LENGTH", "MAX_NODES"]

#: Longest selection (characters) and most syntax nodes: a selection is a line of a configuration,
#: and each node costs one pass over the columns, so these bound its time.
MAX_LENGTH = 2000
MAX_NODES = 500
#: Deepest nesting of parentheses and operators (Python's parser recurses on it).
_MAX_DEPTH = 50

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
    # Read-only views: whatever a function does, the catalog's columns are never written.
    readonly = {name: _readonly(values) for name, values in columns.items()}
    try:
        with np.errstate(all="ignore"):
            result = _Evaluator(readonly, expression).visit(tree.body)
    except (TypeError, ValueError, ArithmeticError, IndexError) as exc:
        # e.g. a text column compared with a number, or sqrt of a text column
        raise SelectionError(f"selection {expression!r} cannot be evaluated: {exc}") from None
    mask = np.broadcast_to(np.asarray(result), (length,))
    if mask.dtype != bool:
        raise SelectionError(f"selection {expression!r} does not evaluate to true/false per row")
    return mask.copy()


def _readonly(values) -> np.ndarray:
    view = np.asarray(values).view()
    view.flags.writeable = False
    return view


def _parse(expression: str) -> ast.Expression:
    if len(expression) > MAX_LENGTH:
        raise SelectionError(f"selection of {len(expression)} characters is longer than {MAX_LENGTH}")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise SelectionError(f"selection {expression!r} is not a valid expression: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):  # nesting too deep for the parser; NUL in the text
        raise SelectionError(f"selection {expression[:60]!r}... cannot be parsed (too deeply nested, or "
                             "a NUL character)") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise SelectionError(f"selection {expression[:60]!r}... is too long (more than {MAX_NODES} terms)")
    if _depth(tree) > _MAX_DEPTH:
        raise SelectionError(f"selection {expression[:60]!r}... is nested more than {_MAX_DEPTH} levels deep")
    return tree


def _depth(tree: ast.AST) -> int:
    # Iterative, so that measuring the depth cannot itself recurse too deep.
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


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
        left, right = self.visit(node.left), self.visit(node.right)
        result = function(left, right)
        # Per row, inf and NaN are data (they never pass a comparison); from constants alone they are
        # a mistake such as 1/0 or 9**9**9, which would select every row or none without a word.
        if np.ndim(result) == 0 and _finite(left) and _finite(right) and not _finite(result):
            what = ast.get_source_segment(self.expression.strip(), node) or "arithmetic"
            raise SelectionError(f"selection {self.expression!r}: {what} divides by zero or overflows")
        return result

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise SelectionError(
                f"selection {self.expression!r}: only {', '.join(sorted(_FUNCTIONS))} may be called"
            )
        if len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            # A second argument would be numpy's `out`: abs(ra, dec) writes |ra| into dec.
            raise SelectionError(f"selection {self.expression!r}: {node.func.id}() takes exactly one argument")
        return _FUNCTIONS[node.func.id](self.visit(node.args[0]))

    def visit_Name(self, node):
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id not in self.columns:
            known = ", ".join(sorted(self.columns))
            raise SelectionError(f"selection {self.expression!r}: unknown column '{node.id}' (known: {known})")
        return self.columns[node.id]

    def visit_Constant(self, node):
        if isinstance(node.value, bool) or isinstance(node.value, str):
            return node.value
        if isinstance(node.value, (int, float)):
            # 64-bit floats, as the columns: Python's integers would grow without bound (9**9**9).
            try:
                return np.float64(node.value)
            except OverflowError:  # an integer literal beyond every double
                raise SelectionError(f"selection {self.expression!r}: the number {str(node.value)[:20]}... "
                                     "is too large") from None
        return self.generic_visit(node)


def _finite(value) -> bool:
    return np.ndim(value) != 0 or not isinstance(value, (float, np.floating)) or bool(np.isfinite(value))
