"""The one row-chunk loop: every counterfactual arm of a call, every quantity, one pass.

All arms (the frame of ``predictions``; the lo/hi copies of every contrast) go
through one random-effects plan, so a simulated new level has the same draws in
every arm (common random numbers): an ATE over 100 new clusters carries the
Monte Carlo noise of one set of clusters, not of two.

A *quantity* tells the loop what to keep from each chunk; it has three methods:
``per_row(chunk)`` gives the ``(chunk, S)`` values of its rows, ``parts(chunk)``
the per-row blocks whose within-draw (weighted) means are accumulated with
``by``, and ``finish(means)`` maps those ``(k, G, S)`` means to the ``(G, S)``
result.  :class:`ArmValue` (predictions) and :class:`PairQuantity` (contrasts
and slopes, with a rule from :mod:`mixeff.estimands`) are the two kinds.

Exact differences
-----------------
``hi − lo`` of two nearly equal predictions loses digits (a slope's step is 1e-4
× the range of x).  :meth:`ChunkDraws.difference` computes the link-scale
difference exactly on a difference design (:func:`~mixeff.engine.design.difference_design`)
and the response-scale one as the exact increment of the response function
(:func:`mixeff.model.families.mean_increment`); other links, predictive draws
and arms in different group levels fall back to ``hi − lo``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.spec import ModelSpec
from .design import Design, difference_design, prepare
from .options import PassOptions
from .predictor import linear_predictor, response, response_increment
from .random_effects import plan_random_effects
from .reduce import GroupMeans, Grouping

CHUNK_CELLS = 1 << 18
"""Cells of one ``(chunk, S)`` block: 2 MiB of float64, cache-friendly."""
ARM_SHARE_CAP = 8
"""Arms are evaluated together per chunk, so chunk rows shrink with their number to keep the
working set near ``CHUNK_CELLS`` per arm pair; past 8 arms they stop shrinking, because
per-chunk Python overhead would then outweigh the cache benefit."""
PROGRESS_MIN_CELLS = 2e8
"""Show a progress bar by default when a pass computes more cells than this (seconds of work)."""


def default_chunk_rows(n_samples: int, n_arms: int = 1) -> int:
    return max(1, CHUNK_CELLS // max(1, n_samples) // max(1, min(n_arms, ARM_SHARE_CAP)))


class ArmPass:
    """The random-effects plan and prepared designs of every arm of one call."""

    def __init__(self, spec: ModelSpec, frames: list[pd.DataFrame], options: PassOptions):
        self.spec, self.options = spec, options
        self.rng = np.random.default_rng(options.seed)
        self.plans = plan_random_effects(spec, frames, options, self.rng)
        self.designs = [prepare(spec, self.plans, f, options.type) for f in frames]
        self._deltas: dict[tuple[int, int], tuple | None] = {}

    @property
    def n_rows(self) -> int:
        return self.designs[0].n

    def delta(self, lo: int, hi: int):
        """``(plans, design)`` giving η_hi − η_lo exactly, or None (cached per pair of arms)."""
        if (lo, hi) not in self._deltas:
            self._deltas[(lo, hi)] = difference_design(self.plans, self.designs[lo], self.designs[hi])
        return self._deltas[(lo, hi)]


class ChunkDraws:
    """The ``(chunk, S)`` values of every arm for one row chunk, computed on demand and cached.

    Blocks live in buffers reused by the next chunk: quantities must consume or
    copy them before the loop moves on.
    """

    def __init__(self, arms: ArmPass, rows: slice, buffers: "_Buffers"):
        self.arms, self.rows, self._buffers = arms, rows, buffers
        self._eta: dict[int, np.ndarray] = {}
        self._value: dict[int, np.ndarray] = {}

    @property
    def size(self) -> int:
        return self.rows.stop - self.rows.start

    def eta(self, arm: int) -> np.ndarray:
        if arm not in self._eta:
            a = self.arms
            self._eta[arm] = linear_predictor(a.spec, a.plans, a.designs[arm], self.rows,
                                              out=self._buffers.eta(arm), scratch=self._buffers.scratch)
        return self._eta[arm]

    def value(self, arm: int) -> np.ndarray:
        """The arm's values on the call's scale (η itself for ``type="link"``)."""
        if arm in self._value:
            return self._value[arm]
        a = self.arms
        if a.options.type == "link":
            self._value[arm] = self.eta(arm)
            return self._value[arm]
        out = self._buffers.value(arm)[: self.size]
        if arm in self._eta:  # keep the cached η intact for exact differences
            np.copyto(out, self._eta[arm])
        else:
            linear_predictor(a.spec, a.plans, a.designs[arm], self.rows, out=out, scratch=self._buffers.scratch)
        trials = a.designs[arm].trials
        self._value[arm] = response(a.spec, a.options.type, out, None if trials is None else trials[self.rows], a.rng)
        return self._value[arm]

    def difference(self, lo: int, hi: int) -> np.ndarray:
        """``value(hi) − value(lo)``, exact where the model allows (see the module notes)."""
        a = self.arms
        delta = a.delta(lo, hi)
        if delta is None or a.options.type == "prediction":
            return self.value(hi) - self.value(lo)
        plans, design = delta
        d = linear_predictor(a.spec, plans, design, self.rows)
        if a.options.type == "link":
            return d
        t_lo, t_hi = a.designs[lo].trials, a.designs[hi].trials
        if not (t_lo is None and t_hi is None) and not (
                t_lo is not None and t_hi is not None and np.array_equal(t_lo, t_hi)):
            return self.value(hi) - self.value(lo)
        exact = response_increment(a.spec, self.eta(lo), d, None if t_lo is None else t_lo[self.rows])
        return self.value(hi) - self.value(lo) if exact is None else exact


class _Buffers:
    """Per-arm η and value blocks plus one gather scratch, allocated once per pass."""

    def __init__(self, n_arms: int, chunk_rows: int, n_samples: int):
        self.shape = (chunk_rows, n_samples)
        self._eta: dict[int, np.ndarray] = {}
        self._value: dict[int, np.ndarray] = {}
        self.scratch = np.empty(self.shape)

    def eta(self, arm: int) -> np.ndarray:
        return self._eta.setdefault(arm, np.empty(self.shape))

    def value(self, arm: int) -> np.ndarray:
        return self._value.setdefault(arm, np.empty(self.shape))


class Pair:
    """One contrast's arms in one chunk, as comparison and slope rules see them.

    ``lo``, ``hi``: the arms' values; ``diff``: ``hi − lo`` (exact where possible);
    ``orig``: the values at the original frame; ``x``: the focal variable's
    original values (``(chunk, 1)``); ``rows``: the chunk's row slice.
    """

    def __init__(self, chunk: ChunkDraws, lo: int, hi: int, original: int | None, x: np.ndarray | None):
        self._chunk, self._lo, self._hi, self._original, self._x = chunk, lo, hi, original, x
        self._diff = None
        self.rows = chunk.rows

    @property
    def lo(self) -> np.ndarray:
        return self._chunk.value(self._lo)

    @property
    def hi(self) -> np.ndarray:
        return self._chunk.value(self._hi)

    @property
    def orig(self) -> np.ndarray:
        if self._original is None:
            raise ValueError("this rule needs the original frame's values; pass original= to PairQuantity")
        return self._chunk.value(self._original)

    @property
    def x(self) -> np.ndarray:
        if self._x is None:
            raise ValueError("this rule needs the focal variable's values; pass x= to PairQuantity")
        return self._x[self.rows, None]

    @property
    def diff(self) -> np.ndarray:
        if self._diff is None:
            self._diff = self._chunk.difference(self._lo, self._hi)
        return self._diff


class ArmValue:
    """The values of one arm: what ``predictions`` keeps."""

    def __init__(self, arm: int = 0):
        self.arm = arm

    def per_row(self, chunk: ChunkDraws) -> np.ndarray:
        return chunk.value(self.arm)

    def parts(self, chunk: ChunkDraws) -> list[np.ndarray]:
        return [chunk.value(self.arm)]

    def finish(self, means: np.ndarray) -> np.ndarray:
        return means[0]


class PairQuantity:
    """A rule (``per_row``/``parts``/``finish`` of a :class:`Pair`) applied to arms ``lo`` and ``hi``."""

    def __init__(self, rule, lo: int, hi: int, original: int | None = None, x: np.ndarray | None = None):
        self.rule, self.lo, self.hi, self.original, self.x = rule, lo, hi, original, x

    def _pair(self, chunk: ChunkDraws) -> Pair:
        return Pair(chunk, self.lo, self.hi, self.original, self.x)

    def per_row(self, chunk: ChunkDraws) -> np.ndarray:
        return self.rule.per_row(self._pair(chunk))

    def parts(self, chunk: ChunkDraws) -> list[np.ndarray]:
        return self.rule.parts(self._pair(chunk))

    def finish(self, means: np.ndarray) -> np.ndarray:
        return self.rule.finish(means)


def run(arms: ArmPass, quantities: list, groups: Grouping | None) -> np.ndarray:
    """``(quantities, rows, S)`` per-row values, or ``(quantities, groups, S)`` within-draw means.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mixeff.model.adapters import from_arrays
    >>> d = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    >>> spec = from_arrays(fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"]]),
    ...                    beta=np.array([[1.0, 2.0], [0.0, 1.0]]), beta_names=["Intercept", "x"],
    ...                    family="gaussian", aux={"sigma": np.ones(2)}, data=d)
    >>> run(ArmPass(spec, [d], PassOptions()), [ArmValue()], None)[0].tolist()
    [[1.0, 0.0], [3.0, 1.0], [5.0, 2.0]]
    """
    n, s = arms.n_rows, arms.spec.n_samples
    chunk_rows = arms.options.chunk_rows or default_chunk_rows(s, len(arms.designs))
    buffers = _Buffers(len(arms.designs), min(n, chunk_rows), s)
    if groups is None:
        out = np.empty((len(quantities), n, s))
    reducers: list[GroupMeans | None] = [None] * len(quantities)
    work = n * s * len(arms.designs)
    for rows in row_chunks(n, chunk_rows, work=work, progress=arms.options.progress):
        chunk = ChunkDraws(arms, rows, buffers)
        for i, q in enumerate(quantities):
            if groups is None:
                out[i, rows] = q.per_row(chunk)
                continue
            blocks = q.parts(chunk)
            if reducers[i] is None:
                reducers[i] = GroupMeans(groups, s, n_parts=len(blocks))
            reducers[i].update(rows, blocks)
    if groups is None:
        return out
    return np.stack([q.finish(r.result()) for q, r in zip(quantities, reducers)])


def row_chunks(n: int, chunk_rows: int, *, work: float, progress: bool | None = None):
    """Row slices of at most ``chunk_rows``; a progress bar when asked, or by default when
    ``work`` (cells to compute) exceeds :data:`PROGRESS_MIN_CELLS`."""
    starts = range(0, n, chunk_rows)
    if progress if progress is not None else work > PROGRESS_MIN_CELLS:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="mixeff", unit="chunk", leave=False)
    for start in starts:
        yield slice(start, min(n, start + chunk_rows))
