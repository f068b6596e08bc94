"""``hypotheses``: functions of a result's estimates, posterior probabilities and ROPE shares, per draw.

Everything is computed on the draws of a :class:`~mixeff.results.Result` (one
value per draw, vectorised over draws) and summarised like every other result,
so :func:`~mixeff.results.get_draws` works on the output.

Rows are referred to as ``b1``, ``b2``, ... with ``b1`` the **first** row of the
result, as in marginaleffects (1-based; there is no ``b0``).  Expressions are
parsed with :mod:`ast` and only arithmetic, numbers, ``b<i>`` names and a few
functions (exp, log, log1p, expm1, sqrt, abs) are allowed; nothing is ``eval``-ed.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd

from ..results import Result, require_finite, row_labels

SHORTCUTS = ("pairwise", "reference", "sequential", "revpairwise", "revreference", "revsequential")
MAX_PAIRWISE_ROWS = 25
_FUNCTIONS = {"exp": np.exp, "log": np.log, "ln": np.log, "log1p": np.log1p, "expm1": np.expm1,
              "sqrt": np.sqrt, "abs": np.abs}
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power}
_CMPOPS = {ast.Eq: "=", ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}
_ROW = re.compile(r"^b([0-9]+)$")


class HypothesesResult(Result):
    """A :class:`~mixeff.results.Result` whose summary may add posterior-probability columns.

    ``probability``: for an inequality hypothesis (``>``, ``>=``, ``<``, ``<=``),
    the share of draws in which it holds.  ``p_rope_unconditional``: the share of
    draws strictly inside the ROPE ``equivalence=(lo, hi)``; ``p_rope_conditional``:
    that share among the draws inside the credible interval (marginaleffects'
    ``p.rope.unconditional`` / ``p.rope.conditional``).

    Examples
    --------
    >>> import mixeff
    >>> p = mixeff.avg_predictions(mixeff.example_fit(), by="TX")
    >>> h = mixeff.hypotheses(p, "b1 > 400")
    >>> isinstance(h, HypothesesResult), bool(0 <= h.summary["probability"].iloc[0] <= 1)
    (True, True)
    """

    def __init__(self, grid, draws, n_chains, n_draws, *, directions, equivalence, **kwargs):
        self.directions = list(directions)
        self.equivalence = equivalence
        super().__init__(grid, draws, n_chains, n_draws, **kwargs)

    def summarise(self, **options) -> pd.DataFrame:
        out = super().summarise(**options)
        d = self.draws
        if any(op is not None for op in self.directions):
            prob = np.full(len(d), np.nan)
            for op in (">", ">=", "<", "<="):
                rows = [i for i, o in enumerate(self.directions) if o == op]
                if rows:
                    x = d[rows]
                    hit = {">": x > 0, ">=": x >= 0, "<": x < 0, "<=": x <= 0}[op]
                    prob[rows] = hit.mean(axis=1)
            out["probability"] = prob
        if self.equivalence is not None:
            lo, hi = self.equivalence
            inside = (d > lo) & (d < hi)
            out["p_rope_unconditional"] = inside.mean(axis=1)
            in_ci = (d >= out["conf_low"].to_numpy()[:, None]) & (d <= out["conf_high"].to_numpy()[:, None])
            with np.errstate(invalid="ignore", divide="ignore"):
                out["p_rope_conditional"] = (inside & in_ci).sum(axis=1) / in_ci.sum(axis=1)
        return out


def hypotheses(result: Result, hypothesis=None, *, equivalence=None, conf_level=None, estimator=None,
               interval=None) -> HypothesesResult:
    """Hypotheses on the draws of a result: expressions, contrasts of rows, probabilities, ROPE.

    Parameters
    ----------
    result : Result
        Any mixeff result (predictions, comparisons, slopes, or hypotheses).
    hypothesis : str, list of str, "pairwise", "reference", "sequential", array, optional
        * An expression over rows, ``b1`` being the **first** row (as in
          marginaleffects): ``"b2 - b1 = 0"``, ``"b2 / b1 = 1"``, ``"exp(b1)"``.
          ``lhs = rhs`` gives the draws of ``lhs - rhs`` (marginaleffects'
          convention), so ``"b2 / b1 = 1"`` yields ``b2 / b1 - 1``; with no
          comparison operator the expression itself is returned.
        * An inequality ``"b1 > 0.4"`` (also ``>=``, ``<``, ``<=``): the draws of
          ``lhs - rhs`` plus a ``probability`` column, the posterior probability
          that the inequality holds (the share of draws).
        * ``b*`` repeats an expression for every row: ``"b* > 0.4"``.
        * ``"reference"`` (each row minus the first), ``"sequential"`` (each row
          minus the previous), ``"pairwise"`` (row i minus row j for i < j; at
          most 25 rows), or their ``"rev*"`` forms.
        * A vector of row weights (one linear combination) or a ``(rows, k)``
          matrix (k combinations).
        * ``None``: the rows themselves (e.g. to add ``equivalence``).
    equivalence : (float, float), optional
        Region of practical equivalence ``(lo, hi)``: adds the share of draws
        inside it, ``p_rope_unconditional``, and that share among draws inside
        the credible interval, ``p_rope_conditional``.
    conf_level, estimator, interval
        Summary options; those of ``result`` by default.

    Returns
    -------
    HypothesesResult
        ``kind="hypotheses"``; grid column ``term`` (the hypothesis label) unless
        ``hypothesis`` is None; ``.draws`` is ``(hypotheses, S)``.

    Examples
    --------
    >>> import mixeff
    >>> fit = mixeff.example_fit()
    >>> p = mixeff.avg_predictions(fit, by="TX", re_formula="NA")
    >>> h = mixeff.hypotheses(p, "b2 / b1 = 1")
    >>> h.summary["term"].tolist()
    ['b2 / b1 = 1']
    >>> pr = mixeff.hypotheses(p, "b1 > 400").summary["probability"].iloc[0]
    >>> bool(0 <= pr <= 1)
    True
    >>> mixeff.hypotheses(p, "reference").summary["term"].tolist()
    ['1 - 0']
    """
    if not isinstance(result, Result):
        raise TypeError(
            f"hypotheses needs a mixeff Result (from predictions, comparisons, slopes...), got "
            f"{type(result).__name__}"
        )
    draws = result.draws
    n_rows = draws.shape[0]
    if hypothesis is None:
        grid, values, directions = result.grid, draws, [None] * n_rows
    elif isinstance(hypothesis, str) and hypothesis in SHORTCUTS:
        grid, values, directions = _shortcut(result, hypothesis)
    elif isinstance(hypothesis, str) or (
        isinstance(hypothesis, (list, tuple)) and hypothesis and all(isinstance(h, str) for h in hypothesis)
    ):
        exprs = [hypothesis] if isinstance(hypothesis, str) else list(hypothesis)
        labels, blocks, directions = [], [], []
        for text in exprs:
            for expanded in _expand_wildcard(text, n_rows):
                value, op = _evaluate(expanded, draws)
                labels.append(expanded.strip())
                blocks.append(value)
                directions.append(op)
        grid, values = pd.DataFrame({"term": labels}), np.vstack(blocks)
    elif isinstance(hypothesis, (list, tuple, np.ndarray)) and not isinstance(hypothesis, str):
        grid, values, directions = _lincom(np.asarray(hypothesis, dtype=float), draws)
    else:
        raise ValueError(
            f"hypothesis={hypothesis!r} is not understood; use an expression such as 'b2 - b1 = 0' "
            f"(b1 = first row), one of {list(SHORTCUTS)}, a vector/matrix of row weights, or None"
        )
    eq = _check_equivalence(equivalence)
    opts = {**result.options, **{k: v for k, v in dict(conf_level=conf_level, estimator=estimator,
                                                         interval=interval).items() if v is not None}}
    return HypothesesResult(
        grid, values, result.n_chains, result.n_draws, directions=directions, equivalence=eq,
        kind="hypotheses", type=result.type, source=result.source, new_levels=result.new_levels, **opts,
    )


def _check_equivalence(equivalence):
    if equivalence is None:
        return None
    try:
        lo, hi = (float(v) for v in equivalence)
    except (TypeError, ValueError):
        raise ValueError(
            f"equivalence={equivalence!r} must be a pair (lo, hi) bounding the region of practical "
            "equivalence, e.g. (-0.1, 0.1)"
        ) from None
    if not lo < hi:
        raise ValueError(f"equivalence={equivalence!r}: lo must be below hi, e.g. (-0.1, 0.1)")
    return lo, hi


# --------------------------------------------------------------------------- expressions


_WILDCARD = re.compile(r"\bb\*(?!\*)")


def _expand_wildcard(text: str, n_rows: int) -> list[str]:
    found = len(_WILDCARD.findall(text))
    if found > 1:
        raise ValueError(
            f"hypothesis {text!r} uses 'b*' more than once; use it once (it repeats the expression per row)"
        )
    if not found:
        return [text]
    return [_WILDCARD.sub(f"b{i}", text) for i in range(1, n_rows + 1)]


def _evaluate(text: str, draws: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Draws of one expression (``lhs op rhs`` → ``lhs - rhs``) and its comparison operator."""
    source = re.sub(r"(?<![<>=!])=(?!=)", "==", text.strip())
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        raise ValueError(
            f"hypothesis {text!r} is not a valid expression; write e.g. 'b2 - b1 = 0' or 'b1 > 0.4'"
        ) from None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        value, op = _compare(tree, draws, text)
    value = np.broadcast_to(np.asarray(value, dtype=float), (draws.shape[1],)).copy()
    require_finite(value[None, :], f"hypothesis {text!r}",
                   "it divides by zero, takes the log or sqrt of a non-positive value, or overflows in "
                   "those draws; rewrite it (e.g. a difference instead of a ratio)")
    return value, op


def _compare(tree, draws: np.ndarray, text: str):
    op = None
    if isinstance(tree, ast.Compare):
        if len(tree.ops) != 1 or type(tree.ops[0]) not in _CMPOPS:
            raise ValueError(
                f"hypothesis {text!r}: use one comparison (=, >, >=, <, <=), e.g. 'b2 - b1 = 0'"
            )
        op = _CMPOPS[type(tree.ops[0])]
        value = _node(tree.left, draws, text) - _node(tree.comparators[0], draws, text)
        op = None if op == "=" else op
    else:
        value = _node(tree, draws, text)
    return value, op


def _node(node, draws: np.ndarray, text: str):
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_node(node.left, draws, text), _node(node.right, draws, text))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _node(node.operand, draws, text)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        m = _ROW.match(node.id)
        if m is None:
            raise ValueError(
                f"hypothesis {text!r}: unknown name {node.id!r}; refer to rows as b1, b2, ... "
                "(b1 = first row, as in marginaleffects)"
            )
        i = int(m.group(1))
        if not 1 <= i <= draws.shape[0]:
            extra = " (rows are numbered from b1, the first row, as in marginaleffects)" if i == 0 else ""
            raise ValueError(
                f"hypothesis {text!r} names row b{i}, which does not exist: the result has "
                f"{draws.shape[0]} row(s), b1..b{draws.shape[0]}{extra}"
            )
        return draws[i - 1]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
            and len(node.args) == 1 and not node.keywords):
        return _FUNCTIONS[node.func.id](_node(node.args[0], draws, text))
    raise ValueError(
        f"hypothesis {text!r}: {ast.unparse(node)!r} is not allowed; use numbers, b1, b2, ..., "
        f"+ - * / **, and the functions {sorted(_FUNCTIONS)}"
    )


# --------------------------------------------------------------------------- shortcuts and weights


def _shortcut(result: Result, how: str):
    n = result.draws.shape[0]
    if n < 2:
        raise ValueError(f"hypothesis={how!r} needs at least two rows; the result has {n}")
    base = how[3:] if how.startswith("rev") else how
    if base == "pairwise" and n > MAX_PAIRWISE_ROWS:
        raise ValueError(
            f"hypothesis={how!r} on {n} rows would give {n * (n - 1) // 2} contrasts; it is limited to "
            f"{MAX_PAIRWISE_ROWS} rows (as in marginaleffects). Use by= or a smaller newdata first"
        )
    if base == "reference":
        pairs = [(i, 0) for i in range(1, n)]
    elif base == "sequential":
        pairs = [(i + 1, i) for i in range(n - 1)]
    else:  # pairwise: row i minus row j for i < j (marginaleffects)
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if how.startswith("rev"):
        pairs = [(b, a) for a, b in pairs]
    labels = row_labels(result.grid)
    if labels is not None and len(set(labels)) < len(labels):
        labels = None
    if labels is not None and any("-" in lab for lab in labels):
        labels = [f"({lab})" for lab in labels]
    names = [f"Row {a + 1} - Row {b + 1}" if labels is None else f"{labels[a]} - {labels[b]}" for a, b in pairs]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    values = result.draws[a] - result.draws[b]
    return pd.DataFrame({"term": names}), values, [None] * len(pairs)


def _lincom(weights: np.ndarray, draws: np.ndarray):
    n = draws.shape[0]
    shape = weights.shape
    if weights.ndim == 1:
        weights = weights[:, None]
    if weights.ndim != 2 or weights.shape[0] != n:
        raise ValueError(
            f"hypothesis weights have shape {shape}; give a vector of {n} row weights or a "
            f"({n}, k) matrix"
        )
    if not np.isfinite(weights).all():
        raise ValueError(f"hypothesis weights must be finite numbers; got {weights.ravel()[:8].tolist()}")
    values = weights.T @ draws
    return pd.DataFrame({"term": ["custom"] * weights.shape[1]}), values, [None] * weights.shape[1]
