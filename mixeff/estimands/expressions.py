"""Hypothesis strings: ``"b2 - b1 = 0"``, ``"TX < 0"``, ``"exp(b1) > 2"``, evaluated draw by draw.

Expressions are parsed with :mod:`ast`; only numbers, names, ``+ - * / **`` and a
few functions are allowed, and nothing is ``eval``-ed.  A name is looked up by a
resolver (a function ``name -> row index``): rows of a result (``b1`` = first row,
or a unique ``term``) or parameters of a fit (brms's names).  Names that are not
Python identifiers are written in backticks: ```` `1 - 0` > 0 ````.

``lhs op rhs`` gives the draws of ``lhs - rhs`` (marginaleffects' and brms's
convention) and the operator; without an operator the expression itself (operator None).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

import numpy as np

FUNCTIONS = {
    "exp": np.exp,
    "log": np.log,
    "ln": np.log,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "abs": np.abs,
}
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power}
_CMPOPS = {ast.Eq: "=", ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}
_WILDCARD = re.compile(r"\bb\*(?!\*)")
_BACKTICK = re.compile(r"`([^`]*)`")


def expand_wildcard(text: str, n_rows: int) -> list[str]:
    """``"b* > 0"`` once per row: ``["b1 > 0", "b2 > 0", ...]``.

    Examples
    --------
    >>> expand_wildcard("b* > 0", 2)
    ['b1 > 0', 'b2 > 0']
    """
    found = len(_WILDCARD.findall(text))
    if found > 1:
        raise ValueError(
            f"hypothesis {text!r} uses 'b*' more than once; use it once (it repeats the expression per row)"
        )
    if not found:
        return [text]
    return [_WILDCARD.sub(f"b{i}", text) for i in range(1, n_rows + 1)]


def evaluate(text: str, draws: np.ndarray, resolve: Callable[[str, str], int]) -> tuple[np.ndarray, str | None]:
    """``(S,)`` draws of one hypothesis string over the rows of ``draws``, and its operator.

    The operator is ``"="``, ``">"``, ``">="``, ``"<"``, ``"<="``, or None for an expression without
    comparison.

    ``resolve(name, text)`` gives the row of a name (or raises a ValueError naming it).

    Examples
    --------
    >>> d = np.array([[1.0, 2.0], [3.0, 5.0]])
    >>> value, op = evaluate("b2 - b1 > 1", d, lambda name, text: int(name[1:]) - 1)
    >>> value.tolist(), op
    ([1.0, 2.0], '>')
    """
    quoted: dict[str, str] = {}

    def protect(match):
        key = f"_q{len(quoted)}_"
        quoted[key] = match.group(1)
        return key

    source = _BACKTICK.sub(protect, text.strip())
    source = re.sub(r"(?<![<>=!])=(?!=)", "==", source)
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        raise ValueError(
            f"hypothesis {text!r} is not a valid expression; write e.g. 'b2 - b1 = 0' or 'b1 > 0.4' (names "
            "that are not identifiers go in backticks: `1 - 0` > 0)"
        ) from None

    def row(name):
        return draws[resolve(quoted.get(name, name), text)]

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        value, op = _compare(tree, row, text)
    return np.broadcast_to(np.asarray(value, dtype=float), (draws.shape[1],)).copy(), op


def _compare(tree: ast.expr, row: Callable[[str], np.ndarray], text: str) -> tuple[Any, str | None]:
    if not isinstance(tree, ast.Compare):
        return _node(tree, row, text), None
    if len(tree.ops) != 1 or type(tree.ops[0]) not in _CMPOPS:
        raise ValueError(f"hypothesis {text!r}: use one comparison (=, >, >=, <, <=), e.g. 'b2 - b1 = 0'")
    op = _CMPOPS[type(tree.ops[0])]
    value = _node(tree.left, row, text) - _node(tree.comparators[0], row, text)
    return value, op


def _node(node: ast.expr, row: Callable[[str], np.ndarray], text: str) -> Any:
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_node(node.left, row, text), _node(node.right, row, text))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _node(node.operand, row, text)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        return row(node.id)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and len(node.args) == 1
        and not node.keywords
    ):
        return FUNCTIONS[node.func.id](_node(node.args[0], row, text))
    raise ValueError(
        f"hypothesis {text!r}: {ast.unparse(node)!r} is not allowed; use numbers, names (b1, b2, ...), "
        f"+ - * / **, and the functions {sorted(FUNCTIONS)}; a name that is not an identifier goes in backticks, "
        "e.g. `r_g[1,Intercept]` or `b_TX:x`"
    )
