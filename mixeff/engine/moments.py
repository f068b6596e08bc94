"""Statistics of replicated data sets, streamed by row chunk: no ``rows × draws`` array.

A :class:`ReplicatedStatistic` is an engine quantity (as :class:`~mixeff.engine.passes.ArmValue`) for a
pass of ``type="prediction"``: its ``parts(chunk)`` are per-row functions of the chunk's replicated
values ``y_rep`` (``chunk.value(arm)``), which the engine averages within draw by group
(:class:`~mixeff.engine.reduce.GroupMeans`, weights 1), and its ``finish`` maps those means to the
statistic of each group's replicated data set, per draw:

- ``mean``: ``E[y_rep]``;
- ``var``: ``n/(n − 1) · (E[d²] − E[d]²)`` with ``d = y_rep − c``, numpy's ``np.var(ddof=1)``; the shift
  ``c`` is, per draw and group, the replicated value of the group's first row, so that ``E[d]`` is of
  the order of the spread and the difference does not cancel digits (whatever the draw's mean);
  ``sd``: its square root (``np.std(ddof=1)``);
- ``prop_zero``: ``E[1(y_rep = 0)]``.

Whole-number data (counts, 0/1): the sums are exact (below 2⁵³), so ``mean`` and ``prop_zero`` equal
numpy's to the bit, and ``var`` is the exact ``(n·Σd² − (Σd)²) / (n(n − 1))`` rounded once
(:func:`whole_number_variance`): two data sets with the same values have the same ``var`` to the bit,
so ties between a replicated and the observed statistic are ties.  ``min`` and ``max`` need a maximum,
not a sum, and are not streamed.

The shift is state: the quantity needs the rows in order, on one thread, as the engine runs every pass
of ``type="prediction"`` (one random stream in row order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .passes import ChunkDraws

STREAMED_STATISTICS = ("mean", "sd", "var", "prop_zero")
"""The statistics a :class:`ReplicatedStatistic` computes."""


EXACT = 2.0**53
"""Whole numbers below this are exact in float64."""


def whole_number_variance(s1: np.ndarray, s2: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``var`` (``ddof=1``) of whole numbers from the exact sums of ``d`` and ``d²`` (``d = y − c``, c whole).

    ``(n·Σd² − (Σd)²) / (n(n − 1))``: an exact numerator, rounded once, so equal data give equal bits
    whatever ``c``; where the numerator would pass 2⁵³, the same formula in floating point.

    Examples
    --------
    >>> whole_number_variance(np.array([3.0]), np.array([5.0]), np.array([3.0])).tolist()  # d = 0, 1, 2
    [1.0]
    """
    numerator = n * s2 - s1 * s1
    return numerator / (n * (n - 1))


class ReplicatedStatistic:
    """``name`` (one of :data:`STREAMED_STATISTICS`) of each group's replicated data set, per draw.

    ``codes``: each row's group (``0..G−1``, in the order of the pass's groups); ``whole``: the values
    are whole numbers (a count or 0/1 family).

    Examples
    --------
    >>> q = ReplicatedStatistic("var", np.zeros(3, dtype=np.int64))
    >>> means = np.array([[[1.0]], [[5 / 3]]])  # E[d], E[d²] of d = (0, 1, 2)
    >>> q.finish(means).round(12).tolist()
    [[1.0]]
    """

    def __init__(self, name: str, codes: np.ndarray, whole: bool = False, arm: int = 0):
        if name not in STREAMED_STATISTICS:
            raise ValueError(f"{name!r} is not a streamed statistic; choose one of {list(STREAMED_STATISTICS)}")
        self.name, self.whole, self.arm = name, whole, arm
        self.codes = np.asarray(codes, dtype=np.int64)
        self.sizes = np.bincount(self.codes).astype(float)
        self.first = np.unique(self.codes, return_index=True)[1]
        """Each group's first row: its replicated value is the group's shift in each draw."""
        self._shift: np.ndarray | None = None
        self._next = 0

    def per_row(self, chunk: ChunkDraws) -> np.ndarray:
        raise TypeError("a replicated statistic is a within-draw statistic of rows: it needs groups (by=)")

    def parts(self, chunk: ChunkDraws) -> list[np.ndarray]:
        y = chunk.value(self.arm)
        if self.name == "mean":
            return [y]
        if self.name == "prop_zero":
            return [(y == 0).astype(float)]
        return self._centred(y, chunk.rows)

    def _centred(self, y: np.ndarray, rows: slice) -> list[np.ndarray]:
        if rows.start != self._next:
            raise RuntimeError("ReplicatedStatistic: the rows must come in order, on one thread")
        self._next = rows.stop
        if self._shift is None:
            self._shift = np.zeros((len(self.first), y.shape[1]))
        starting = np.flatnonzero((self.first >= rows.start) & (self.first < rows.stop))
        self._shift[starting] = y[self.first[starting] - rows.start]
        d = y - (self._shift[0] if len(self.first) == 1 else self._shift[self.codes[rows]])
        return [d, d * d]

    def finish(self, means: np.ndarray) -> np.ndarray:
        if self.name in ("mean", "prop_zero"):
            return means[0]
        n = self.sizes.reshape(-1, 1)
        var = (means[1] - means[0] * means[0]) * (n / (n - 1))
        if self.whole:  # the exact sums back from the means, when the numerator is exact
            s1, s2 = np.round(means[0] * n), np.round(means[1] * n)
            exact = np.maximum(np.abs(n * s2), s1 * s1) < EXACT
            var = np.where(exact, whole_number_variance(s1, s2, n), var)
        var = np.maximum(var, 0.0)  # rounding of a constant group's E[d²] − E[d]²
        return np.sqrt(var) if self.name == "sd" else var
