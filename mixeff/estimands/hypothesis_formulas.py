"""marginaleffects' hypothesis formulas: ``"~ pairwise"``, ``"ratio ~ reference"``, ``"~ sequential | g"``.

A formula ``lhs ~ rhs | group`` compares the rows of a result within each
``group`` (all rows without one): ``rhs`` says which rows are compared, ``lhs``
how (``difference``, the default, or ``ratio``; ``dotproduct`` for ``poly`` and
``helmert``, which are weighted sums).  Each rule maps ``(n, S)`` draws and ``n``
row labels to ``(k, S)`` draws and ``k`` labels, as marginaleffects'
``hypothesis_formula_list`` (order and labels included); each is defined here once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pairs import check_pairwise_size, index_pairs

_PAIRED = ("reference", "revreference", "sequential", "pairwise", "revpairwise")


def _formula_pairs(n: int, how: str) -> list[tuple[int, int]]:
    pairs = index_pairs(n, how)
    if how == "revpairwise":  # R's upper triangle, column by column
        pairs.sort(key=lambda p: (p[1], p[0]))
    return pairs


_OPS = {"difference": (np.subtract, "-"), "ratio": (np.divide, "/")}


def poly_contrasts(n: int) -> np.ndarray:
    """R's ``contr.poly(n)``: orthonormal polynomial contrasts, ``(n, n - 1)``, each column's last entry positive.

    Examples
    --------
    >>> (poly_contrasts(3).round(4) + 0.0).tolist()
    [[-0.7071, 0.4082], [0.0, -0.8165], [0.7071, 0.4082]]
    """
    x = np.arange(1, n + 1, dtype=float)
    q, _ = np.linalg.qr(np.vander(x - x.mean(), n, increasing=True))
    q = q[:, 1:]
    return q * np.sign(q[-1])


def helmert_contrasts(n: int) -> np.ndarray:
    """R's ``contr.helmert(n)``: column j compares level j + 1 with the mean of the levels before it.

    Examples
    --------
    >>> helmert_contrasts(3).tolist()
    [[-1.0, -1.0], [1.0, -1.0], [0.0, 2.0]]
    """
    out = np.zeros((n, n - 1))
    for j in range(n - 1):
        out[: j + 1, j] = -1.0
        out[j + 1, j] = j + 1
    return out


def _compare(how, lhs, x, labels):
    fn, sym = _OPS[lhs]
    n = len(x)
    if how in _PAIRED:
        check_pairwise_size(n, how, f"hypothesis '~ {how}'")
        pairs = _formula_pairs(n, how)
        a = np.array([p[0] for p in pairs], dtype=np.int64)
        b = np.array([p[1] for p in pairs], dtype=np.int64)
        return fn(x[a], x[b]), [f"({labels[i]}) {sym} ({labels[j]})" for i, j in pairs]
    if how == "meandev":
        return fn(x, x.mean(axis=0)), [f"({lab}) {sym} Mean" for lab in labels]
    if how == "meanotherdev":
        other = (x.sum(axis=0) - x) / (n - 1)
        return fn(x, other), [f"({lab}) {sym} Mean (other)" for lab in labels]
    # trt_vs_ctrl: the mean over treatments of each treatment against the first row
    return fn(x[1:], x[0]).mean(axis=0, keepdims=True), [f"Mean(Trt) {sym} Ctrl"]


def _dotproduct(how, x):
    n = len(x)
    if how == "poly":
        w = poly_contrasts(n)[:, :5]
        return w.T @ x, ["Linear", "Quadratic", "Cubic", "Quartic", "Quintic"][: w.shape[1]]
    w = helmert_contrasts(n)
    return w.T @ x, [f"Helmert {i + 1}" for i in range(n - 1)]


RULES = (*_PAIRED, "meandev", "meanotherdev", "trt_vs_ctrl", "poly", "helmert")
"""The right-hand sides marginaleffects knows."""


@dataclass(frozen=True)
class HypothesisFormula:
    """A parsed ``lhs ~ rhs | group``."""

    lhs: str
    rhs: str
    group: tuple[str, ...] = ()

    def apply(self, x: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
        """``(k, S)`` draws and ``k`` labels of this rule on ``(n, S)`` draws of one group's rows.

        Examples
        --------
        >>> f = parse_formula("ratio ~ reference")
        >>> d, lab = f.apply(np.array([[2.0], [3.0], [4.0]]), ["a", "b", "c"])
        >>> d.ravel().tolist(), lab
        ([1.5, 2.0], ['(b) / (a)', '(c) / (a)'])
        """
        if len(x) < 2:
            raise ValueError(f"hypothesis '{self}' needs at least two rows to compare (in each group); got {len(x)}")
        if self.lhs == "dotproduct":
            return _dotproduct(self.rhs, x)
        return _compare(self.rhs, self.lhs, x, labels)

    def __str__(self):
        group = f" | {' + '.join(self.group)}" if self.group else ""
        return f"{self.lhs} ~ {self.rhs}{group}"


def is_formula(hypothesis: object) -> bool:
    return isinstance(hypothesis, str) and "~" in hypothesis


def parse_formula(text: str) -> HypothesisFormula:
    """``"~ pairwise"``, ``"ratio ~ reference"``, ``"~ sequential | g"`` (``g + h`` for several columns).

    Examples
    --------
    >>> parse_formula("~ pairwise | g")
    HypothesisFormula(lhs='difference', rhs='pairwise', group=('g',))
    """
    lhs, _, rest = text.partition("~")
    rhs, _, group = rest.partition("|")
    lhs, rhs = lhs.strip(), rhs.strip()
    groups = tuple(g.strip() for g in group.split("+")) if "|" in rest else ()
    if rhs not in RULES:
        raise ValueError(
            f"hypothesis={text!r}: the right-hand side {rhs!r} is not one of {list(RULES)}, e.g. "
            "'~ pairwise' or 'ratio ~ reference | g'"
        )
    if rhs in ("poly", "helmert"):
        if lhs not in ("", "dotproduct"):
            raise ValueError(f"hypothesis={text!r}: with '~ {rhs}' the left-hand side must be empty or 'dotproduct'")
        lhs = "dotproduct"
    elif lhs not in ("", *_OPS):
        raise ValueError(f"hypothesis={text!r}: the left-hand side must be empty, 'difference' or 'ratio'")
    if any(not g for g in groups):
        raise ValueError(f"hypothesis={text!r}: after '|' name the grouping columns, e.g. '~ pairwise | g'")
    return HypothesisFormula(lhs or "difference", rhs, groups)
