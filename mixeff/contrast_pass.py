"""One engine pass over every arm of every contrast.

One pass, one random-effects plan
---------------------------------
All arms of all terms go through one :class:`~mixeff.engine.Call`, so the
random-effects plan is made once and a simulated new level has the same draws
in every arm (common random numbers): an ATE over 100 new clusters carries the
Monte Carlo noise of one set of clusters, not of two independent sets.

Exact link-scale differences
----------------------------
``hi - lo`` of two nearly equal predictions loses digits (a slope's step is
1e-4 × the range of x, so η_hi − η_lo is ~1e-4 of η).  Because η is linear in
the design, the link-scale difference is computed directly as
``(X_hi − X_lo) β + Σ_g (Z_hi − Z_lo) b_g`` (plus the offset difference) by
running the engine on a "difference design".  A term whose Z columns are equal
in both arms (a random intercept) contributes exactly zero, so, e.g., a slope in
a random-intercept LMM is bit-identical whether random effects are zero,
existing or new (MAR.1).  The response-scale difference is then the exact
increment of the response function: ``Δ`` for identity links,
``exp(η)·expm1(Δ)`` for log links and the lognormal mean, and
``expit(η+Δ)·expit(−η)·(1 − exp(−Δ))`` for logit links; other links fall back
to ``hi − lo``.  When the arms use different levels of a grouping factor (the
focal variable is a grouping column) the plain ``hi − lo`` is used.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .contrasts import ArmSet, Contrast
from .engine import Call, Design, default_chunk_rows, prepare, row_chunks
from .families import mean_increment
from .inputs import as_by
from .reduce import GroupMeans, grouping
from .spec import ModelSpec

__all__ = ["run_contrasts", "contrast_grid", "by_columns"]


# --------------------------------------------------------------------------- the engine pass


def by_columns(by, frame: pd.DataFrame) -> list[str] | None:
    """``by`` for contrasts: term and contrast always group, so naming them is allowed and ignored.

    Examples
    --------
    >>> import pandas as pd
    >>> by_columns(["term", "g"], pd.DataFrame({"g": [1]})), by_columns(True, pd.DataFrame())
    (['g'], [])
    """
    if isinstance(by, (list, tuple)) or by in ("term", "contrast"):
        by = [c for c in ([by] if isinstance(by, str) else by) if c not in ("term", "contrast")] or True
    return as_by(by, frame)


class _Pass:
    """The prepared designs of one call and the per-chunk caches of arm values."""

    def __init__(self, spec: ModelSpec, frames: list[pd.DataFrame], *, type, re_formula,
                 allow_new_levels, sample_new_levels, seed):
        self.spec = spec
        self.call = Call.make(
            spec, frames, type=type, re_formula=re_formula, allow_new_levels=allow_new_levels,
            sample_new_levels=sample_new_levels, seed=seed,
        )
        self.type = type
        self.designs = [prepare(self.call, f) for f in frames]
        self._deltas: dict[tuple[int, int], tuple | None] = {}

    def delta(self, lo: int, hi: int):
        """A (call, design) giving η_hi − η_lo exactly, or None when the arms differ in group levels."""
        key = (lo, hi)
        if key not in self._deltas:
            self._deltas[key] = self._make_delta(self.designs[lo], self.designs[hi])
        return self._deltas[key]

    def _make_delta(self, d_lo: Design, d_hi: Design):
        if any(not np.array_equal(a, b) for a, b in zip(d_lo.codes, d_hi.codes)):
            return None
        if d_lo.offset is None and d_hi.offset is None:
            offset = None
        else:
            offset = (0.0 if d_hi.offset is None else d_hi.offset) - (0.0 if d_lo.offset is None else d_lo.offset)
            offset = np.broadcast_to(offset, (d_lo.n,)).astype(float)
        plans, Zs, codes = [], [], []
        for plan, z_lo, z_hi, c in zip(self.call.plans, d_lo.Z, d_hi.Z, d_lo.codes):
            if z_lo is None and z_hi is None:
                continue  # both all ones: the term cancels exactly
            dz = (1.0 if z_hi is None else z_hi) - (1.0 if z_lo is None else z_lo)
            dz = np.broadcast_to(dz, (d_lo.n, len(plan.active)))
            if not np.any(dz):
                continue
            plans.append(plan)
            Zs.append(np.ascontiguousarray(dz, dtype=float))
            codes.append(c)
        call = dataclasses.replace(self.call, plans=plans, _scratch=None)
        design = Design(np.ascontiguousarray(d_hi.X - d_lo.X), offset, Zs, codes, None)
        trials_equal = (d_lo.trials is None and d_hi.trials is None) or (
            d_lo.trials is not None and d_hi.trials is not None and np.array_equal(d_lo.trials, d_hi.trials)
        )
        return call, design, trials_equal


class _Chunk:
    """Lazily computed, cached ``(chunk, S)`` values of each arm for one row chunk."""

    def __init__(self, run: _Pass, rows: slice):
        self.run, self.rows = run, rows
        self._eta: dict[int, np.ndarray] = {}
        self._value: dict[int, np.ndarray] = {}

    def eta(self, arm: int) -> np.ndarray:
        if arm not in self._eta:
            self._eta[arm] = self.run.call.linear_predictor(self.run.designs[arm], self.rows)
        return self._eta[arm]

    def value(self, arm: int) -> np.ndarray:
        if arm not in self._value:
            run = self.run
            if run.type == "link":
                self._value[arm] = self.eta(arm)
            else:  # the cached η stays intact: finish() works on a copy
                self._value[arm] = run.call.finish(self.eta(arm).copy(), run.designs[arm], self.rows)
        return self._value[arm]


class _PairView:
    """``lo``, ``hi``, ``diff`` (exact where possible) and ``orig`` of one contrast in one chunk."""

    def __init__(self, chunk: _Chunk, c: Contrast, original: int | None, x: np.ndarray | None):
        self.chunk, self.c, self.original = chunk, c, original
        self._x = x
        self._diff = None

    @property
    def lo(self):
        return self.chunk.value(self.c.lo)

    @property
    def hi(self):
        return self.chunk.value(self.c.hi)

    @property
    def orig(self):
        return self.chunk.value(self.original)

    @property
    def x(self):
        return self._x[self.chunk.rows, None]

    @property
    def diff(self):
        if self._diff is None:
            self._diff = self._difference()
        return self._diff

    def _difference(self):
        run = self.chunk.run
        delta = run.delta(self.c.lo, self.c.hi)
        if delta is None or run.type == "prediction":
            return self.hi - self.lo
        call, design, trials_equal = delta
        d = call.linear_predictor(design, self.chunk.rows)
        if run.type == "link":
            return d
        return self._increment(self.chunk.eta(self.c.lo), d, trials_equal)

    def _increment(self, eta, d, trials_equal):
        """F(η + d) − F(η) for the response function F, without cancellation where F allows."""
        run = self.chunk.run
        trials = run.designs[self.c.lo].trials
        exact = None if not trials_equal else mean_increment(
            run.spec.family, run.spec.link, eta, d, run.spec.aux,
            None if trials is None else trials[self.chunk.rows])
        return self.hi - self.lo if exact is None else exact


def run_contrasts(
    spec: ModelSpec,
    arms: ArmSet,
    contrasts: list[Contrast],
    *,
    by: list[str] | None,
    wts=None,
    type: str = "response",
    re_formula=None,
    allow_new_levels: bool = False,
    sample_new_levels: str = "uncertainty",
    seed=None,
    chunk_rows: int | None = None,
    progress: bool | None = None,
    x_columns: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """One engine pass over every arm; ``(contrasts, rows or groups, S)`` values and the ``by`` keys.

    Per row (``by=None``) each contrast stores ``rule.per_row``; with ``by`` the
    ``rule.parts`` are averaged within draw (weighted by ``wts``) per group and
    combined by ``rule.finish``.  ``x_columns`` gives the focal variable's
    original values for elasticities (the original frame is then evaluated too).

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.contrasts import categorical_contrasts
    >>> from mixeff.rules import comparison_rule
    >>> spec = mixeff.example_fit().spec()
    >>> arms = ArmSet(spec.data, spec)
    >>> cs = categorical_contrasts(spec, arms, "TX", "binary", None, "variables")
    >>> cs[0].rule = comparison_rule("difference")
    >>> values, keys = run_contrasts(spec, arms, cs, by=[], re_formula="NA")
    >>> values.shape == (1, 1, spec.n_samples)
    True
    """
    base = arms.base
    original = arms.original() if x_columns else None
    run = _Pass(spec, arms.frames, type=type, re_formula=re_formula, allow_new_levels=allow_new_levels,
                sample_new_levels=sample_new_levels, seed=seed)
    n, s = len(base), spec.n_samples
    groups = grouping(base, by, wts)
    if groups is None:
        out = np.empty((len(contrasts), n, s))
    reducers: list[GroupMeans] = []
    chunk_rows = chunk_rows or max(1, default_chunk_rows(s) // max(1, min(8, len(arms.frames))))
    for rows in row_chunks(n, chunk_rows, work=n * s * len(arms.frames), progress=progress):
        chunk = _Chunk(run, rows)
        for i, c in enumerate(contrasts):
            view = _PairView(chunk, c, original, None if not x_columns else x_columns.get(c.term))
            if groups is None:
                out[i, rows] = c.rule.per_row(view)
            else:
                blocks = c.rule.parts(view)
                if len(reducers) <= i:
                    reducers.append(GroupMeans(groups, s, n_arms=len(blocks)))
                reducers[i].update(rows, blocks)
    if groups is None:
        return out, None
    values = np.stack([c.rule.finish(r.result()) for c, r in zip(contrasts, reducers)])
    return values, groups.keys


def contrast_grid(contrasts: list[Contrast], base: pd.DataFrame, keys: pd.DataFrame | None) -> pd.DataFrame:
    """``term``, ``contrast``, then the newdata columns (per row) or the ``by`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> c = Contrast(term="TX", lo=0, hi=1, hi_label="1", lo_label="0", label="1 - 0")
    >>> contrast_grid([c], pd.DataFrame({"g": ["a", "b"]}), None).columns.tolist()
    ['term', 'contrast', 'g']
    """
    rows = base if keys is None else keys
    rest = rows.drop(columns=[c for c in ("term", "contrast") if c in rows.columns]).reset_index(drop=True)
    blocks = []
    for c in contrasts:
        head = pd.DataFrame({"term": [c.term] * len(rest), "contrast": [c.label] * len(rest)})
        blocks.append(pd.concat([head, rest], axis=1))
    return pd.concat(blocks, ignore_index=True)
