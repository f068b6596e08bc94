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
(:func:`mixeff.engine.response.mean_increment`); other links, predictive draws
and arms in different group levels fall back to ``hi − lo``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO, overload

import numpy as np
import pandas as pd

from ..config import memory_limit
from ..model.spec import ModelSpec
from ..records import NewLevels
from . import kernels
from .design import Design, difference_design, prepare
from .integrate import QuadratureInfo
from .links import SharedRows, per_row
from .montecarlo import level_grouping, monte_carlo_se
from .options import PassOptions
from .parallel import ordered_map, resolve_jobs, single_threaded_blas
from .predictor import (
    CLOSED_FORM,
    integrated_increment,
    integrated_response,
    integration_cost,
    linear_predictor,
    log_likelihood,
    new_level_variance,
    response,
    response_increment,
    rows_times,
)
from .random_effects import FactorPlan, plan_random_effects
from .reduce import Grouping, GroupMeans, add_by_group, local_codes
from .response import own_category_eta

CHUNK_CELLS = 1 << 18
"""Cells of one ``(chunk, S)`` block: 2 MiB of float64, cache-friendly."""
ARM_SHARE_CAP = 8
"""Arms are evaluated together per chunk, so chunk rows shrink with their number to keep the
working set near ``CHUNK_CELLS`` per arm pair (an exact contrast keeps one η and its increment,
a prediction one η and its value); past 8 arms they stop shrinking, because per-chunk Python
overhead would then outweigh the cache benefit."""
CHUNKS_PER_TASK = 16
"""A task (what one thread evaluates in a row, adding its sums, before handing them back) has this many
default chunks' rows, whatever ``chunk_rows`` is: so the order of every sum is the same for any number
of threads and any chunk size."""
PARALLEL_MIN_CELLS = 2e7
"""Smaller passes (under ~0.1 s) run on the calling thread: handing chunks to threads would cost more."""
PER_ROW_PARALLEL_SHARE = 0.1
"""A pass of per-row values (no group sums to hand back and add) runs on threads from this share of
:data:`PARALLEL_MIN_CELLS` (a few ms of work), in tasks of one chunk each."""
SHARED_ROWS_FACTOR = 8
"""A difference design's rows are gathered from their distinct values when there are at most 1/8 as many."""
PROGRESS_MIN_CELLS = 2e8
"""Show a progress bar by default when a pass computes more cells than this (seconds of work)."""


def default_chunk_rows(n_samples: int, n_arms: int = 1) -> int:
    pairs = (max(1, min(n_arms, ARM_SHARE_CAP)) + 1) // 2
    return max(1, CHUNK_CELLS // max(1, n_samples) // pairs)


@dataclass(frozen=True)
class SharedPlan:
    """What every piece of a table split across workers must share.

    The random-effects plans (which new levels exist and their simulated effects) and the ``by``
    groups of the whole table.
    """

    plans: tuple
    dpar_plans: dict
    keys: pd.DataFrame | None = None


@dataclass(frozen=True)
class Partial:
    """One piece's within-draw sums (the accumulate stage's output), which add up across pieces.

    ``sums``: per quantity ``(group sums (parts, G, S), group weights (G,), level sums, level weights)``
    (level sums None when the piece had no simulated new levels); ``quadrature``: the widest rule used.
    """

    sums: tuple
    quadrature: QuadratureInfo | None = None

    def __add__(self, other: Partial) -> Partial:
        sums = []
        for (g1, t1, l1, lt1), (g2, t2, l2, lt2) in zip(self.sums, other.sums):
            levels = None if l1 is None or l2 is None else (l1 + l2, lt1 + lt2)
            sums.append((g1 + g2, t1 + t2, *(levels or (None, None))))
        rules = [q for q in (self.quadrature, other.quadrature) if q is not None]
        quadrature = max(rules, key=lambda q: (q.nodes, q.error_bound)) if rules else None
        return Partial(tuple(sums), quadrature)


class ArmPass:
    """The plan stage: the random-effects plan and prepared designs of every arm of one call."""

    def __init__(
        self,
        spec: ModelSpec,
        frames: list[pd.DataFrame],
        options: PassOptions,
        shared: SharedPlan | None = None,
    ):
        self.spec, self.options = spec, options
        self.rng = np.random.default_rng(options.seed)
        if shared is not None:  # one piece of a bigger table: the whole table's plan
            self.plans, self.dpar_plans = list(shared.plans), dict(shared.dpar_plans)
        else:
            self.plans = plan_random_effects(spec.groups, options.include, frames, options, self.rng)
            self.dpar_plans = {
                name: plan_random_effects(part.groups, options.dpar_include.get(name, {}), frames, options, self.rng)
                for name, part in spec.dpars.items()
            }
        self._check_integration()
        self.designs = [prepare(spec, self.plans, f, options.type, self.dpar_plans) for f in frames]
        family = spec.family
        self.parameter_only = (
            options.dpar is not None and options.dpar not in spec.dpars and options.dpar not in spec.aux
        )
        """``dpar="mu"``: the mean parameter g⁻¹(η), not the family's expected value."""
        if options.type in ("prediction", "log_lik") or family.categorical:
            self.needed_dpars = list(spec.dpars)
        else:
            wanted = set(family.mean_aux) if options.type == "response" else set()
            self.needed_dpars = [d for d in spec.dpars if d in wanted or d == options.dpar]
        """The modelled parameters this call's values read (a gaussian's sigma ~ x is not needed for its mean)."""
        self.exact_link = options.dpar is None and not family.categorical
        """Whether the value is the mean's η (``type="link"``) or a function of it alone, so that arms'
        differences can start from the exact η difference."""
        self.exact_response = self.exact_link and not set(family.mean_aux) & set(spec.dpars)
        """... and the expected value depends on the arms only through η (a modelled parameter the mean
        reads, such as a lognormal's sigma ~ x, differs by arm)."""
        self._deltas: dict[tuple[int, int], tuple[list[FactorPlan], Design, bool] | None] = {}
        self._lock = threading.Lock()
        """Guards the caches and records that chunks on worker threads fill in."""
        self.quadrature: QuadratureInfo | None = None
        """The widest rule any integrated block needed (closed form or quadrature), for the result's record."""
        self.monte_carlo_se: np.ndarray | None = None
        """``(quantities, groups, S)`` Monte Carlo SE of averages over simulated new levels, when known."""
        self.all_finite: bool | None = None
        """Whether every value of the last per-row pass (:func:`per_row_values`) was finite, checked chunk by
        chunk while in cache (None before one)."""
        integrates = (
            options.sample_new_levels == "integrate"
            and options.type == "response"
            and any(p.integrated for p in self.plans)
        )
        self.cell_cost = integration_cost(spec, self.parameter_only) if integrates else 1.0
        """What a cell costs in cells of a plain prediction (integrated cells cost a table or a quadrature's
        nodes): the thresholds for threads and progress bars count cells times this."""

    def _check_integration(self) -> None:
        """Refuse integrating new levels that the requested value depends on but cannot be integrated.

        ``sample_new_levels="integrate"`` integrates new levels of the mean's η only; refuse new
        levels of a distributional parameter's formula that the requested value depends on.
        """
        o, family = self.options, self.spec.family
        if o.sample_new_levels != "integrate" or o.type == "link":
            return
        for name, plans in self.dpar_plans.items():
            new = [p.group.name for p in plans if p.n_new]
            if new and (name in family.mean_aux or family.categorical or o.dpar == name):
                raise ValueError(
                    f"sample_new_levels='integrate' integrates new levels of the mean's random effects only; "
                    f"newdata has new levels of {new} in the formula of {name!r}, which this value depends on: "
                    "use sample_new_levels='gaussian' (simulated levels) or re_formula='NA'"
                )

    def new_level_record(self) -> NewLevels | None:
        """How new levels were treated in this pass, for the result's credentials (None if none)."""
        plans = self.plans + [p for ps in self.dpar_plans.values() for p in ps]
        factors = list(dict.fromkeys(p.group.name for p in plans if p.n_new))
        if not factors:
            return None
        how = self.options.sample_new_levels
        levels = {p.group.name: p.n_new for p in plans if p.n_new}
        if how != "integrate":
            return NewLevels(how=how, factors=factors, levels=levels)
        q = self.quadrature or CLOSED_FORM  # with type="link" nothing is integrated: u has mean 0
        return NewLevels(how=how, factors=factors, levels=levels, method=q.method, error_bound=q.error_bound)

    def record_quadrature(self, info: QuadratureInfo) -> None:
        with self._lock:
            if self.quadrature is None or (info.nodes, info.error_bound) > (
                self.quadrature.nodes,
                self.quadrature.error_bound,
            ):
                self.quadrature = info

    def shared(self, keys: pd.DataFrame | None = None) -> SharedPlan:
        """The plan of this pass, for the pieces of a split table to share."""
        return SharedPlan(tuple(self.plans), dict(self.dpar_plans), keys)

    @property
    def n_rows(self) -> int:
        return self.designs[0].n

    def delta(self, lo: int, hi: int) -> tuple[list[FactorPlan], Design, bool] | None:
        """``(plans, design, same_trials)`` giving η_hi − η_lo exactly, or None (cached per pair of arms).

        ``same_trials``: both arms have the same binomial trials (or none), so that a response-scale
        increment exists.
        """
        with self._lock:
            if (lo, hi) not in self._deltas:
                exact = difference_design(self.plans, self.designs[lo], self.designs[hi])
                t_lo, t_hi = self.designs[lo].trials, self.designs[hi].trials
                same = (t_lo is None and t_hi is None) or (
                    t_lo is not None and t_hi is not None and np.array_equal(t_lo, t_hi)
                )
                self._deltas[(lo, hi)] = None if exact is None else (*exact, same)
            return self._deltas[(lo, hi)]


class ChunkDraws:
    """The ``(chunk, S)`` values of every arm for one row chunk, computed on demand and cached.

    Blocks live in buffers reused by the next chunk: quantities must consume or
    copy them before the loop moves on.
    """

    def __init__(self, arms: ArmPass, rows: slice, buffers: _Buffers, into: dict[int, np.ndarray] | None = None):
        self.arms, self.rows, self._buffers = arms, rows, buffers
        self._into = into or {}
        """Arms whose values go straight into the caller's ``(chunk, S)`` output block (no copy)."""
        self._eta: dict[int, np.ndarray] = {}
        self._value: dict[int, np.ndarray] = {}
        self._new: dict[int, tuple[np.ndarray, np.ndarray] | None] = {}
        self._aux: dict[int, tuple[dict, dict]] = {}

    @property
    def size(self) -> int:
        return self.rows.stop - self.rows.start

    def eta(self, arm: int) -> np.ndarray:
        if arm not in self._eta:
            a = self.arms
            self._eta[arm] = linear_predictor(
                a.spec, a.plans, a.designs[arm], self.rows, out=self._buffers.eta(arm), scratch=self._buffers.scratch
            )
        return self._eta[arm]

    def new_levels(self, arm: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(row indices, variance)`` of the arm's rows at integrated new levels, or None (cached)."""
        if arm not in self._new:
            a = self.arms
            self._new[arm] = new_level_variance(a.plans, a.designs[arm], self.rows)
        return self._new[arm]

    def aux(self, arm: int) -> tuple[dict, dict]:
        """``(parameters, dpar η)`` of the arm's rows.

        The auxiliary parameters' draws (``(chunk, S)`` where the model gives them a formula), the
        rows' categories, and each modelled parameter's η.
        """
        if arm not in self._aux:
            a = self.arms
            spec, design = a.spec, a.designs[arm]
            aux: dict[str, Any] = dict(spec.aux)
            etas: dict[str, np.ndarray] = {}
            for name in a.needed_dpars:
                part = spec.dpars[name]
                etas[name] = linear_predictor(part, a.dpar_plans[name], design.dpars[name], self.rows)
                aux[name] = part.link.inverse(etas[name].copy())
            if spec.family.categorical and not spec.family.ordinal:
                aux["category_eta"] = [aux[name] for name in spec.dpars]
            if design.category is not None:
                aux["category"] = design.category[self.rows]
            self._aux[arm] = aux, etas
        return self._aux[arm]

    def value(self, arm: int) -> np.ndarray:
        """The arm's values on the call's scale (η itself for ``type="link"``)."""
        if arm not in self._value:
            a = self.arms
            dpar, spec = a.options.dpar, a.spec
            if dpar is not None and (dpar in spec.dpars or dpar in spec.aux):
                self._value[arm] = self._parameter(arm, dpar)
            elif a.options.type == "link":
                categorical = spec.family.categorical and not spec.family.ordinal
                if not categorical and arm in self._into and arm not in self._eta:
                    self._eta[arm] = linear_predictor(
                        a.spec, a.plans, a.designs[arm], self.rows, out=self._into[arm], scratch=self._buffers.scratch
                    )
                self._value[arm] = self._category_eta(arm) if categorical else self.eta(arm)
            elif a.options.type == "log_lik":
                self._value[arm] = self._log_lik(arm)
            else:
                self._value[arm] = self._response(arm)
        return self._value[arm]

    def _parameter(self, arm: int, name: str) -> np.ndarray:
        """A distributional parameter's values (``dpar=``): its η for ``type="link"``."""
        aux, etas = self.aux(arm)
        if name in etas:
            return etas[name] if self.arms.options.type == "link" else aux[name]
        return np.broadcast_to(aux[name], (self.size, self.arms.spec.n_samples)).copy()  # one draw per row

    def _log_lik(self, arm: int) -> np.ndarray:
        """The log-likelihood of the rows' observed responses (``type="log_lik"``)."""
        a = self.arms
        design = a.designs[arm]
        y = None if design.y is None else design.y[self.rows]
        trials = None if design.trials is None else design.trials[self.rows]
        return log_likelihood(a.spec, self.eta(arm), y, trials, self.aux(arm)[0])

    def _category_eta(self, arm: int) -> np.ndarray:
        """Each row's own category's η (0 for the reference category) of a categorical model."""
        return own_category_eta(self.aux(arm)[0], (self.size, self.arms.spec.n_samples))

    def _response(self, arm: int) -> np.ndarray:
        a = self.arms
        out = self._into[arm] if arm in self._into else self._buffers.value(arm)[: self.size]
        if arm in self._eta:  # keep the cached η intact for exact differences
            np.copyto(out, self._eta[arm])
        else:
            linear_predictor(a.spec, a.plans, a.designs[arm], self.rows, out=out, scratch=self._buffers.scratch)
        trials = a.designs[arm].trials
        trials = None if trials is None else trials[self.rows]
        aux, _ = self.aux(arm)
        new = self.new_levels(arm) if a.options.type == "response" else None
        if new is not None and len(new[0]) == self.size:  # every row at a new level: no plain response to compute
            values, info = integrated_response(a.spec, out, new[1], trials, aux, a.parameter_only)
            np.copyto(out, values)
            a.record_quadrature(info)
            return out
        eta_new = None if new is None else out[new[0]]  # fancy indexing copies η of the new-level rows
        value = response(a.spec, a.options.type, out, trials, a.rng, aux, a.parameter_only)
        if new is not None:
            assert eta_new is not None  # set with new
            idx, var = new
            values, info = integrated_response(
                a.spec,
                eta_new,
                var,
                None if trials is None else trials[idx],
                self._aux_rows(aux, idx),
                a.parameter_only,
            )
            value[idx] = values
            a.record_quadrature(info)
        return value

    def _aux_rows(self, aux: dict, idx: np.ndarray) -> dict:
        """``aux`` at the chunk rows ``idx``: row-varying entries sliced, per-draw ones kept."""
        out = dict(aux)
        for name in [*self.arms.spec.dpars, "category"]:
            if name in out:
                out[name] = out[name][idx]
        if "category_eta" in out:
            out["category_eta"] = [e[idx] for e in out["category_eta"]]
        return out

    def difference(self, lo: int, hi: int) -> np.ndarray:
        """``value(hi) − value(lo)``, exact where the model allows (see the module notes)."""
        a = self.arms
        delta = a.delta(lo, hi)
        if delta is None or a.options.type == "prediction" or not a.exact_link:
            return self.value(hi) - self.value(lo)
        plans, design, same_trials = delta
        d = self._eta_difference(plans, design)
        if a.options.type == "link":
            return np.broadcast_to(per_row(d), (self.size, a.spec.n_samples)).copy()
        if not same_trials or not a.exact_response:
            return self.value(hi) - self.value(lo)  # different trials or parameters: no common increment
        t_lo = a.designs[lo].trials
        trials = None if t_lo is None else t_lo[self.rows]
        new_lo = self.new_levels(lo)
        if new_lo is not None:
            return self._integrated_difference(lo, hi, d, trials, new_lo)
        exact = response_increment(
            a.spec,
            self.eta(lo),
            d,
            trials,
            self.aux(lo)[0],
            out=self._buffers.difference((lo, hi)),
            scratch=self._buffers.work,
        )
        return self.value(hi) - self.value(lo) if exact is None else exact

    def _eta_difference(self, plans: list[FactorPlan], design: Design) -> np.ndarray | SharedRows:
        """η_hi − η_lo of the chunk's rows.

        When only X differs between the arms and its difference takes few distinct rows in the chunk
        (a binary or +1 contrast of a main effect, a slope's step: the same change up to rounding of
        ``x + h``), a :class:`SharedRows` block, or a single ``(1, S)`` row, so that the increment's
        factors in d are computed per distinct row, not per cell.
        """
        rows, a, step = self.rows, self.arms, self._buffers.step
        if plans:
            return linear_predictor(a.spec, plans, design, rows, out=step, scratch=self._buffers.scratch)
        key = design.X[rows] if design.offset is None else np.column_stack([design.X[rows], design.offset[rows]])
        if (key == key[0]).all():
            return linear_predictor(a.spec, [], design, slice(rows.start, rows.start + 1), out=step)
        distinct, index = np.unique(key, axis=0, return_inverse=True)
        if len(distinct) > self.size // SHARED_ROWS_FACTOR:
            return linear_predictor(a.spec, [], design, rows, out=step, scratch=self._buffers.scratch)
        p = design.X.shape[1]
        values = rows_times(distinct[:, :p], a.spec.beta_t, out=step)
        if design.offset is not None:
            values += distinct[:, p, None]
        return SharedRows(values, index.ravel())

    def _integrated_difference(
        self,
        lo: int,
        hi: int,
        d: np.ndarray | SharedRows,
        trials: np.ndarray | None,
        new_lo: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
        """``value(hi) − value(lo)`` of an arm pair with integrated new levels.

        Exact increments at existing-level rows and, where both arms integrate the same
        variance (equal Z of the new factors), the integrated increment at new-level rows;
        otherwise the difference of the two integrated means.
        """
        a = self.arms
        idx, var = new_lo
        eta = self.eta(lo)
        aux = self.aux(lo)[0]
        out = response_increment(a.spec, eta, d, trials, aux)
        if out is None:
            return self.value(hi) - self.value(lo)
        integrated = None
        d = np.broadcast_to(per_row(d), eta.shape)
        new_hi = self.new_levels(hi)
        assert new_hi is not None  # the arms share their group levels (a difference design exists)
        if np.array_equal(var, new_hi[1]):
            integrated = integrated_increment(
                a.spec, eta[idx], d[idx], var, None if trials is None else trials[idx], self._aux_rows(aux, idx)
            )
        if integrated is None:
            out[idx] = self.value(hi)[idx] - self.value(lo)[idx]
        else:
            out[idx] = integrated[0]
            a.record_quadrature(integrated[1])
        return out


class _Buffers:
    """Per-arm η and value blocks, per-pair differences, and scratch, allocated once per pass and thread.

    A chunk allocates nothing of its size (under dask's ``MALLOC_TRIM_THRESHOLD_`` every such allocation
    would be a fresh mapping and its page faults).
    """

    def __init__(self, chunk_rows: int, n_samples: int):
        self.shape = (chunk_rows, n_samples)
        self._eta: dict[int, np.ndarray] = {}
        self._value: dict[int, np.ndarray] = {}
        self.scratch = np.empty(self.shape)
        self.work = (np.empty(self.shape), np.empty(self.shape))
        """Scratch blocks of the exact increments."""
        self.step = np.empty((max(2, chunk_rows), n_samples))
        """η_hi − η_lo of a pair of arms (two rows at least: a one-row product is computed as two)."""
        self._difference: dict[tuple[int, int], np.ndarray] = {}

    def difference(self, pair: tuple[int, int]) -> np.ndarray:
        return self._block(self._difference, pair)

    def eta(self, arm: int) -> np.ndarray:
        return self._block(self._eta, arm)

    def value(self, arm: int) -> np.ndarray:
        return self._block(self._value, arm)

    def _block(self, blocks: dict, key: int | tuple[int, int]) -> np.ndarray:
        # not blocks.setdefault(key, np.empty(...)): that would allocate a block on every call
        if key not in blocks:
            blocks[key] = np.empty(self.shape)
        return blocks[key]


class Pair:
    """One contrast's arms in one chunk, as comparison and slope rules see them.

    ``lo``, ``hi``: the arms' values; ``diff``: ``hi − lo`` (exact where possible);
    ``orig``: the values at the original frame; ``x``: the focal variable's
    original values (``(chunk, 1)``); ``rows``: the chunk's row slice.
    """

    def __init__(self, chunk: ChunkDraws, lo: int, hi: int, original: int | None, x: np.ndarray | None):
        self._chunk, self._lo, self._hi, self._original, self._x = chunk, lo, hi, original, x
        self._diff: np.ndarray | None = None
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

    def __init__(self, rule: Any, lo: int, hi: int, original: int | None = None, x: np.ndarray | None = None):
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

    The three stages in one: the plan (``arms``), :func:`accumulate` (or :func:`per_row_values`
    without groups) and :func:`finish`.

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
    if groups is None:
        return per_row_values(arms, quantities)
    return finish(arms, quantities, groups, accumulate(arms, quantities, groups))


def per_row_values(arms: ArmPass, quantities: list) -> np.ndarray:
    """``(quantities, rows, S)``: every quantity's values in every row."""
    return _evaluate(arms, quantities, None)


def accumulate(arms: ArmPass, quantities: list, groups: Grouping) -> ChunkSums:
    """The accumulate stage: every quantity's within-draw weighted sums by group.

    Tasks of rows (each a few chunks) run on ``arms.options.n_jobs`` threads
    (:mod:`mixeff.engine.parallel`).  A task adds its rows into its group sums in row order, and
    the tasks' sums are added in task order; tasks have a fixed number of rows, so the sums are the
    same, bit for bit, for any number of threads and any ``chunk_rows``.
    """
    return _evaluate(arms, quantities, groups)


def partial(arms: ArmPass, quantities: list, groups: Grouping) -> Partial:
    """The accumulate stage's sums of one piece of a table, to be added to the other pieces'."""
    return Partial(tuple(accumulate(arms, quantities, groups).raw()), arms.quadrature)


def finish(arms: ArmPass, quantities: list, groups: Grouping, sums: ChunkSums | Partial) -> np.ndarray:
    """The finish stage: the quantities' ``(quantities, G, S)`` values from their within-draw means.

    ``sums`` is this pass's :func:`accumulate`, or the added :class:`Partial` sums of every piece of a
    table (then groups whose weights sum to zero over the whole table are refused here).  The Monte
    Carlo error of averages over simulated levels is kept on ``arms``.
    """
    if isinstance(sums, Partial):
        arms.quadrature = sums.quadrature
        cells = level_grouping(arms, groups)
        sums = ChunkSums.from_raw(quantities, groups, cells, arms.spec.n_samples, list(sums.sums))
    return _finish(arms, quantities, groups, sums)


@overload
def _evaluate(arms: ArmPass, quantities: list, groups: None) -> np.ndarray: ...
@overload
def _evaluate(arms: ArmPass, quantities: list, groups: Grouping) -> ChunkSums: ...
def _evaluate(arms: ArmPass, quantities: list, groups: Grouping | None) -> np.ndarray | ChunkSums:
    """The row-chunk loop: per-row values (no groups) or the groups' :class:`ChunkSums`.

    Predictive draws (``type="prediction"``) take one random stream in row order and run on one thread.
    """
    n, s = arms.n_rows, arms.spec.n_samples
    default = default_chunk_rows(s, len(arms.designs))
    task_rows = CHUNKS_PER_TASK * default
    chunk_rows = min(arms.options.chunk_rows or default, task_rows)
    if groups is None:  # a row's values do not depend on the rows it is computed with: tasks of one chunk
        task_rows = chunk_rows
    tasks = [slice(start, min(n, start + task_rows)) for start in range(0, n, task_rows)]
    work = n * s * len(arms.designs) * arms.cell_cost
    threshold = PARALLEL_MIN_CELLS * (PER_ROW_PARALLEL_SHARE if groups is None else 1)
    jobs = (
        1
        if arms.options.type == "prediction" or work < threshold
        else min(resolve_jobs(arms.options.n_jobs), len(tasks))
    )
    out = np.empty((len(quantities), n, s)) if groups is None else None
    cells = level_grouping(arms, groups)
    sums = None if groups is None else ChunkSums(quantities, groups, cells, s, task_rows)
    local = threading.local()

    def evaluate(task: slice) -> TaskSums | bool:
        if not hasattr(local, "buffers"):
            local.buffers = _Buffers(min(n, chunk_rows), s)
        task_sums = None if sums is None else sums.of_task(task)
        finite = True
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # per thread
            for start in range(task.start, task.stop, chunk_rows):
                rows = slice(start, min(task.stop, start + chunk_rows))
                if task_sums is None:
                    assert out is not None  # per-row values: no sums
                    blocks = [out[i, rows] for i in range(len(quantities))]
                    into: dict[int, np.ndarray] = {}
                    for q, block in zip(quantities, blocks):
                        if type(q) is ArmValue:  # an arm's own values: computed in their place in out
                            into.setdefault(q.arm, block)
                    chunk = ChunkDraws(arms, rows, local.buffers, into)
                    for q, block in zip(quantities, blocks):
                        values = q.per_row(chunk)
                        if values is not block:
                            block[...] = values
                        finite = finite and kernels.all_finite(block)
                else:
                    task_sums.add(ChunkDraws(arms, rows, local.buffers))
                done(rows.stop - rows.start)
        return finite if task_sums is None else task_sums

    # Overflow and invalid operations stay silent in the loop: the verbs refuse non-finite results with
    # a message that says where they came from.
    with row_progress(n, work=work, progress=arms.options.progress) as done, single_threaded_blas():
        finite = True
        for task_result in ordered_map(evaluate, tasks, jobs):
            if sums is not None:
                assert isinstance(task_result, TaskSums)  # a task of a pass with sums returns its sums
                sums.add(task_result)
            else:
                finite = finite and bool(task_result)
    if sums is not None:
        return sums
    assert out is not None  # per-row values: no sums
    arms.all_finite = finite
    return out


def _finish(arms: ArmPass, quantities: list, groups: Grouping, sums: ChunkSums) -> np.ndarray:
    """The quantities' ``(quantities, G, S)`` values from their within-draw means.

    The Monte Carlo error of averages over simulated levels is kept on ``arms``.
    """
    cells = sums.cells
    finishes = [_scaled(q.finish, groups.scale) for q in quantities]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        means, level_means = sums.means()
        if cells is not None:
            levels = [lr for lr in level_means if lr is not None]
            assert len(levels) == len(means)  # with cells every quantity has its level sums
            arms.monte_carlo_se = np.stack(
                [monte_carlo_se(f, m, lr, cells[1]) for f, m, lr in zip(finishes, means, levels)]
            )
        return np.stack([f(m) for f, m in zip(finishes, means)])


def _scaled(finish: Callable[[np.ndarray], np.ndarray], scale: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray]:
    """``finish`` of the group means times ``scale`` (sums of collapsed response categories), or as is."""
    if scale is None:
        return finish
    return lambda means: finish(means * scale[None, :, None])


class ChunkSums:
    """The within-draw weighted sums of every quantity's parts by group.

    Also by group × new level, for the Monte Carlo error.  Each task of rows adds its rows one by one, in
    row order, into sums of its own groups (:class:`TaskSums`); the tasks' sums are added here in task
    order.  Tasks have a fixed number of rows, so the order of every addition depends on neither ``n_jobs``
    nor ``chunk_rows``.
    """

    def __init__(
        self, quantities: list, groups: Grouping, cells: tuple[Grouping, int] | None, n_samples: int, task_rows: int = 1
    ):
        self.quantities, self.groups, self.cells, self.n_samples = quantities, groups, cells, n_samples
        self.task_rows = task_rows
        self.reducers: list[GroupMeans | None] = [None] * len(quantities)
        self.level_reducers: list[GroupMeans | None] = [None] * len(quantities)
        self._spare: dict[tuple, list[np.ndarray]] = {}
        self._lock = threading.Lock()

    def of_task(self, rows: slice) -> TaskSums:
        return TaskSums(self, rows)

    def zeros(self, parts: int, n_groups: int, grouping: Grouping) -> np.ndarray:
        """A zeroed ``(parts, n_groups, S)`` accumulator for a task.

        Taken from the blocks earlier tasks handed back (a task's groups are at most its rows): no
        fresh mapping and page faults per task.
        """
        key = (parts, min(len(grouping.keys), self.task_rows))
        with self._lock:
            spare = self._spare.get(key)
            block = spare.pop() if spare else None
        if block is None:
            block = np.empty((*key, self.n_samples))
        view = block[:, :n_groups]
        view.fill(0.0)
        return view

    def add(self, task: TaskSums) -> None:
        for i, sums in enumerate(task.sums):
            assert sums is not None  # a task has at least one chunk: every quantity added its rows
            group_sums, level_sums = sums
            if self.reducers[i] is None:
                self.reducers[i] = GroupMeans(self.groups, self.n_samples, n_parts=len(group_sums))
                if self.cells is not None:
                    self.level_reducers[i] = GroupMeans(self.cells[0], self.n_samples, n_parts=len(group_sums))
            reducer, level_reducer = self.reducers[i], self.level_reducers[i]
            assert reducer is not None
            reducer.add(group_sums, task.present)
            if level_sums is not None:
                assert level_reducer is not None and task.level_present is not None  # level sums: with cells
                level_reducer.add(level_sums, task.level_present)
            with self._lock:
                for block in (group_sums, level_sums):
                    if block is not None:
                        base = block.base
                        assert base is not None  # a view of a block from zeros()
                        self._spare.setdefault(base.shape[:2], []).append(base)

    @classmethod
    def from_raw(
        cls, quantities: list, groups: Grouping, cells: tuple[Grouping, int] | None, n_samples: int, raw: list
    ) -> ChunkSums:
        """Sums handed back by :meth:`raw` (of all pieces of a table, added).

        The level sums are used only if every piece had them.  Refuses groups whose weights sum to zero over
        the whole table.
        """
        if any(level is None for _, _, level, _ in raw):
            cells = None
        out = cls(quantities, groups, cells, n_samples)
        for i, (group_sums, total, level_sums, level_total) in enumerate(raw):
            reducer = out.reducers[i] = GroupMeans(groups, n_samples, n_parts=len(group_sums))
            reducer.sums, reducer.total = group_sums, total
            if cells is not None:
                level_reducer = out.level_reducers[i] = GroupMeans(cells[0], n_samples, n_parts=len(group_sums))
                level_reducer.sums, level_reducer.total = level_sums, level_total
        first = out.reducers[0] if raw else None
        empty: np.ndarray | list[int] = [] if first is None else np.flatnonzero(first.total <= 0)
        if len(empty):
            bad = groups.keys.iloc[empty[:3]].to_dict("records")
            raise ValueError(
                f"wts: the weights sum to zero in group(s) {bad} of newdata; every group needs a positive weight"
            )
        return out

    def raw(self) -> list[tuple]:
        """Per quantity ``(group sums, group weights, level sums, level weights)`` (levels: None if none)."""
        return [
            (r.sums, r.total, None if lr is None else lr.sums, None if lr is None else lr.total)
            for r, lr in zip(self._added(), self.level_reducers)
        ]

    def means(self) -> tuple[list[np.ndarray], list[GroupMeans | None]]:
        return [r.result() for r in self._added()], self.level_reducers

    def _added(self) -> list[GroupMeans]:
        """Every quantity's reducer (each has been added to)."""
        reducers = [r for r in self.reducers if r is not None]
        assert len(reducers) == len(self.reducers)  # every quantity's sums were added
        return reducers


class TaskSums:
    """One task's sums (run on a worker thread).

    Per quantity ``(n_parts, groups here, S)`` for the groups its rows have, and the same by
    group × new level.
    """

    def __init__(self, owner: ChunkSums, rows: slice):
        self.owner, self.start = owner, rows.start
        self.present, self.codes = local_codes(owner.groups.codes[rows])
        cells = owner.cells
        self.level_present: np.ndarray | None = None
        self.level_codes: np.ndarray | None = None
        if cells is not None:
            self.level_present, self.level_codes = local_codes(cells[0].codes[rows])
        self.sums: list[tuple[np.ndarray, np.ndarray | None] | None] = [None] * len(owner.quantities)

    def add(self, chunk: ChunkDraws) -> None:
        """Add the chunk's rows (inside this task) to the sums."""
        owner, here = self.owner, slice(chunk.rows.start - self.start, chunk.rows.stop - self.start)
        weights = owner.groups.weights[chunk.rows]  # the group × level cells carry the same weights
        for i, q in enumerate(owner.quantities):
            blocks = q.parts(chunk)
            sums = self.sums[i]
            if sums is None:
                cells = owner.cells
                sums = self.sums[i] = (
                    owner.zeros(len(blocks), len(self.present), owner.groups),
                    None
                    if self.level_present is None or cells is None
                    else owner.zeros(len(blocks), len(self.level_present), cells[0]),
                )
            group_sums, level_sums = sums
            for a, block in enumerate(blocks):
                add_by_group(group_sums[a], self.codes[here], weights, block)
                if level_sums is not None:
                    assert self.level_codes is not None  # level sums: with level codes
                    add_by_group(level_sums[a], self.level_codes[here], weights, block)


def require_memory(n_quantities: int, n_rows: int, groups: Grouping | None, n_samples: int) -> None:
    """Refuse at once a result whose draws would not fit in memory, naming the size and the ways out.

    The draws are float64, plus a working copy for the summary; the limit is
    :func:`mixeff.config.memory_limit`.

    Verbs call this before any arm is built: per row the result is ``n_quantities × n_rows × S``,
    with ``by`` it is ``n_quantities × groups × S``.
    """
    per_row = groups is None
    cells = n_quantities * (n_rows if groups is None else len(groups.keys)) * n_samples
    need = 2 * 8 * float(cells)
    limit = memory_limit()
    if need <= limit:
        return
    ways = (
        "average within draws instead (avg_predictions/avg_comparisons, or by= with few groups)"
        if per_row
        else "use by= columns with fewer groups"
    )
    raise MemoryError(
        f"the result would hold {cells:,} draws: about {need / 2**30:.1f} GiB with the working copy of its "
        f"summary, more than the {limit / 2**30:.1f} GiB available. Ways out: {ways}; a smaller grid "
        "(mixeff.datagrid); a fit with fewer draws; or newdata in pieces, keeping what you need of each "
        "(mixeff.set_options(memory_limit=...) moves the limit)"
    )


PROGRESS_LOG_INTERVAL = 60.0
"""Seconds between progress updates when stderr is not interactive (a pipe, a log file)."""


def row_chunks(n: int, chunk_rows: int, *, work: float, progress: bool | None = None) -> Iterator[slice]:
    """Row slices of at most ``chunk_rows``, with a progress bar (:func:`row_progress`) counting rows.

    The bar is closed in a ``finally``: close the generator (``contextlib.closing``) to close it
    as soon as the loop stops.

    Examples
    --------
    >>> [(r.start, r.stop) for r in row_chunks(5, 2, work=10.0, progress=False)]
    [(0, 2), (2, 4), (4, 5)]
    """
    with row_progress(n, work=work, progress=progress) as done:
        for start in range(0, n, chunk_rows):
            stop = min(n, start + chunk_rows)
            yield slice(start, stop)
            done(stop - start)


@contextmanager
def row_progress(
    n: int,
    *,
    work: float,
    progress: bool | None = None,
    unit: str = "row",
    desc: str = "mixeff",
    monitor: bool = True,
) -> Iterator[Callable[[int], None]]:
    """A function ``done(rows)`` that advances a progress bar of ``n`` rows (from any thread).

    The bar is closed however the block ends.  ``unit`` and ``desc`` label it (``"fold"`` and
    ``"kfold"`` for :func:`mixeff.kfold`'s refits); ``monitor=False`` starts no tqdm monitor thread
    (kfold's sampler forks worker processes, which should not copy a process with threads).

    ``progress``: True always shows a bar, False never; None takes the package default
    (:func:`mixeff.config.set_options`), and when that is None too shows one if ``work``
    (cells to compute) exceeds :data:`PROGRESS_MIN_CELLS` and stderr is interactive (a
    terminal or a Jupyter kernel).  On a stream that is not interactive an asked-for bar
    writes at most one update per :data:`PROGRESS_LOG_INTERVAL` seconds and leaves its
    final line.

    Examples
    --------
    >>> with row_progress(5, work=10.0, progress=False) as done:
    ...     done(5)
    """
    import sys

    from ..config import get_options

    if progress is None:
        progress = get_options()["progress"]
    stream = sys.stderr
    interactive = _interactive(stream)
    if progress is None:
        progress = work > PROGRESS_MIN_CELLS and interactive
    if not progress:
        yield lambda rows: None
        return
    throttle = {} if interactive else dict(mininterval=PROGRESS_LOG_INTERVAL, maxinterval=PROGRESS_LOG_INTERVAL)
    bar_class = _bar_class()
    if not monitor:
        bar_class = type(bar_class.__name__, (bar_class,), {"monitor_interval": 0})
    bar = bar_class(
        total=n, desc=desc, unit=unit, unit_scale=unit == "row", leave=not interactive, file=stream, **throttle
    )
    lock = threading.Lock()

    def done(rows: int) -> None:
        with lock:
            bar.update(rows)

    try:
        yield done
    finally:
        bar.close()


def _interactive(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal or a Jupyter kernel's output (which redraws a bar in place)."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
    return type(stream).__module__.split(".")[0] == "ipykernel"


def _bar_class():
    """Tqdm's notebook bar when ipywidgets can draw it, else the text bar.

    ``tqdm.auto`` without ipywidgets warns (TqdmWarning) before falling back to text.
    """
    try:
        import ipywidgets  # noqa: F401
    except Exception:  # absent, or broken: no widgets
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm
