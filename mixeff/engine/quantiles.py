"""Per-row quantiles and medians by partial selection: numpy's numbers, bit for bit, at a fraction of the cost.

``np.quantile(x, q, axis=1)`` (method ``"linear"``) copies ``x``, turns it so that each row is a
strided lane, and partitions every lane around all the order statistics it needs at once (numpy's
multi-``kth`` introselect, which has no SIMD path); on 4000 draws that is several times a full sort,
on one core.  The linear method needs only the two order statistics around each virtual index
``(n − 1) q``, so here each block of rows is copied into a scratch array and split by single-``kth``
partitions (numpy's SIMD quickselect) at one needed rank after another, each within the segment the
previous ones left, a rank at a segment's edge read by ``min``/``max`` instead; blocks of rows run
on the engine's threads (:func:`~mixeff.engine.parallel.ordered_map`; numpy releases the GIL).

The values of order statistics do not depend on how they were found, and the interpolation repeats
numpy's own arithmetic (``_lerp``: ``a + (b − a) t``, or ``b − (b − a)(1 − t)`` where ``t ≥ 0.5``,
with numpy's virtual index and ``t``, including its ``t = v + 1`` at the last index), and the median
is ``np.mean`` of the middle one or two values, as ``np.median`` computes it.  So the numbers are
numpy's, bit for bit.  Two cases where the bits could depend on numpy's own arrangement are handed
to numpy itself, row by row: rows with a NaN (numpy returns one of the row's NaNs), and rows holding
a negative zero where a selected order statistic is zero (which zero lands at a position depends
on the partition).  ``tests/engine/test_quantiles.py`` checks all of this against ``np.quantile``
and ``np.median``.

Examples
--------
>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(3, 1001))
>>> out = row_quantiles(x, [0.025, 0.975], median=True)
>>> bool(np.array_equal(out[:2], np.quantile(x, [0.025, 0.975], axis=1)))
True
>>> bool(np.array_equal(out[2], np.median(x, axis=1)))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..config import check_jobs
from .parallel import ordered_map, resolve_jobs

BLOCK_CELLS = 1 << 19
"""Draws per block of rows (1 MiB of float64): few enough blocks that numpy's per-call costs stay small,
small enough for the scratch copy to stay in cache."""
SERIAL_CELLS = 1 << 20
"""Below this many draws one thread does all blocks: starting threads would cost more than they save."""

_PARTITION, _MIN, _MAX = 0, 1, 2


class _Plan:
    """What numpy's linear quantile and median read from ``n`` sorted values, and the steps that find them."""

    def __init__(self, n: int, q: np.ndarray, median: bool):
        # numpy's _quantile and _get_indexes, step by step (same dtypes, same operations)
        virtual = (n - 1) * q
        previous = np.floor(virtual)
        following = previous + 1
        above = virtual >= n - 1
        previous[above] = -1
        following[above] = -1
        below = virtual < 0
        previous[below] = 0
        following[below] = 0
        previous_i = previous.astype(np.intp)
        following_i = following.astype(np.intp)
        self.gamma = np.asanyarray(virtual - previous_i, dtype=virtual.dtype)[:, None]
        # np.median: the middle value, or the two middle values of an even count
        middle = ([n // 2 - 1, n // 2] if n % 2 == 0 else [n // 2]) if median else []
        ranks = sorted({int(i) % n for i in previous_i} | {int(i) % n for i in following_i} | set(middle))
        self.steps = _steps(n, ranks)
        """``(kind, lo, hi, rank)``: partition ``[lo, hi)`` at ``rank``, or its min or max, in this order."""
        position = {rank: j for j, (_, _, _, rank) in enumerate(self.steps)}
        self.previous = np.array([position[int(i) % n] for i in previous_i], dtype=np.intp)
        self.following = np.array([position[int(i) % n] for i in following_i], dtype=np.intp)
        self.middle = [position[r] for r in middle]
        self.n_ranks = len(ranks)
        self.n_out = len(q) + bool(median)


def _steps(n: int, ranks: list[int]) -> list[tuple[int, int, int, int]]:
    """The selection steps that give every rank in ``ranks`` (0-based, ascending), then the row's NaN check.

    A segment ``[lo, hi)`` of every row holds exactly the values of ranks ``lo..hi - 1``; a step
    partitions it at one needed rank (a single ``kth``: numpy's SIMD quickselect), which leaves two
    smaller such segments.  A lone rank at a segment's edge is that segment's min or max.  Last, the
    max of the segment above the highest rank: numpy sorts NaN last, so a row holds a NaN exactly when
    that max or one of the ranks' values is NaN (min and max propagate it).
    """
    steps = []
    stack = [(0, n, ranks)]
    while stack:
        lo, hi, wanted = stack.pop()
        if not wanted:
            continue
        if len(wanted) == 1 and wanted[0] in (lo, hi - 1):
            steps.append((_MIN if wanted[0] == lo else _MAX, lo, hi, wanted[0]))
            continue
        r = min(wanted, key=lambda k: abs(2 * k - (lo + hi - 1)))  # the rank nearest the middle
        steps.append((_PARTITION, lo, hi, r))
        stack.append((lo, r, [k for k in wanted if k < r]))
        stack.append((r + 1, hi, [k for k in wanted if k > r]))
    if ranks[-1] < n - 1:
        steps.append((_MAX, ranks[-1] + 1, n, n - 1))
    return steps


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    # numpy's _lerp, operation for operation
    diff_b_a = b - a
    lerp_interpolation = np.add(a, diff_b_a * t)
    np.subtract(b, diff_b_a * (1 - t), out=lerp_interpolation, where=t >= 0.5, casting="unsafe")
    return lerp_interpolation


def _numpy(x: np.ndarray, q: np.ndarray, median: bool) -> np.ndarray:
    parts = [np.quantile(x, q, axis=1)]
    if median:
        parts.append(np.median(x, axis=1)[None])
    return np.concatenate(parts)


def _block(x: np.ndarray, q: np.ndarray, plan: _Plan, out: np.ndarray) -> None:
    """Fill ``out`` (n_out, rows) with the quantiles and median of the rows of ``x``."""
    buf = np.array(x, dtype=np.float64, order="C", copy=True)
    stats = np.empty((len(plan.steps), len(buf)))
    for j, (kind, lo, hi, rank) in enumerate(plan.steps):
        segment = buf[:, lo:hi]
        if kind == _PARTITION:
            segment.partition(rank - lo, axis=1)
            stats[j] = buf[:, rank]
        elif kind == _MIN:
            segment.min(axis=1, out=stats[j])
        else:
            segment.max(axis=1, out=stats[j])
    redo = np.isnan(stats).any(axis=0)
    # which zero sits at a position depends on the partition when the row holds a -0.0
    selected_zero = (stats[: plan.n_ranks] == 0).any(axis=0)
    if selected_zero.any():
        rows = np.flatnonzero(selected_zero)
        redo[rows[((x[rows] == 0) & np.signbit(x[rows])).any(axis=1)]] = True
    if redo.any():
        keep = np.flatnonzero(~redo)
        stats = stats[:, keep]
    k = len(plan.previous)
    ours = out if not redo.any() else np.empty((plan.n_out, stats.shape[1]))
    if k:
        ours[:k] = _lerp(stats[plan.previous], stats[plan.following], plan.gamma)
    if plan.middle:
        ours[k] = np.mean(stats[plan.middle].T, axis=1)
    if redo.any():
        out[:, keep] = ours
        rows = np.flatnonzero(redo)
        out[:, rows] = _numpy(x[rows], q, bool(plan.middle))


def row_quantiles(
    values: np.ndarray, probs: Sequence[float] | np.ndarray, *, median: bool = False, n_jobs: int | None = None
) -> np.ndarray:
    """``np.quantile(values, probs, axis=1)`` (method ``"linear"``), bit for bit, by partial selection on threads.

    ``values`` is a ``(rows, n)`` array.  Returns ``(len(probs), rows)``; with ``median=True`` one more
    row, ``np.median(values, axis=1)``.  ``n_jobs``: threads (None: the package option, see
    :func:`mixeff.set_options`); the numbers do not depend on it.  Anything but a 2-D float64 array
    with float64 probabilities in [0, 1] goes to numpy as it is (with numpy's errors).

    Examples
    --------
    >>> import numpy as np
    >>> row_quantiles(np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 10.0, 20.0, 30.0]]), [0.25, 0.5]).tolist()
    [[1.75, 7.5], [2.5, 15.0]]
    """
    check_jobs(n_jobs, "n_jobs")
    x = np.asarray(values)
    q = np.asanyarray(probs)
    fast = (
        x.ndim == 2
        and x.dtype == np.float64
        and x.shape[0] > 0
        and x.shape[1] > 0
        and q.ndim == 1
        and q.dtype == np.float64
        and (q.size > 0 or median)
        and bool(np.all((q >= 0) & (q <= 1)))
    )
    if not fast:
        return _numpy(x, q, median)
    rows, n = x.shape
    plan = _Plan(n, q, median)
    out = np.empty((plan.n_out, rows))
    step = max(1, BLOCK_CELLS // n)
    jobs = resolve_jobs(n_jobs) if x.size >= SERIAL_CELLS else 1

    errors = np.geterr()  # numpy's error state is per thread: the workers take the caller's

    def task(start: int) -> None:
        with np.errstate(**errors):
            _block(x[start : start + step], q, plan, out[:, start : start + step])

    for _ in ordered_map(task, range(0, rows, step), jobs):
        pass
    return out


def row_median(values: np.ndarray, *, n_jobs: int | None = None) -> np.ndarray:
    """``np.median(values, axis=1)``, bit for bit, by partial selection on threads (see :func:`row_quantiles`).

    Examples
    --------
    >>> import numpy as np
    >>> row_median(np.array([[3.0, 1.0, 2.0], [9.0, 1.0, 5.0]])).tolist()
    [2.0, 5.0]
    """
    return row_quantiles(values, np.empty(0), median=True, n_jobs=n_jobs)[-1]
