"""E[F(η + u)], u ~ N(0, s²), of the logit and cloglog inverse links from one table shared by every cell.

Quadrature (:mod:`mixeff.engine.integrate`) pays 35–400 evaluations of F per cell.  But
``G(η, s) = E[F(η + s·Z)]`` is one smooth function of two numbers, the same for every row, draw
and call, so it is tabulated once per process and each cell interpolates it:

* **What is tabulated.** ``L = log G`` on panels of ``ETA_WIDTH`` in η by ``SD_WIDTH`` in s, a
  tensor Chebyshev interpolant of degree ``(eta_degree, SD_DEGREE)`` per panel.  The log keeps the
  relative error of G uniform however small G is (``L ≈ η + s²/2`` in the lower tail, a quadratic),
  and a panel's values change by a bounded factor, so no tail needs an asymptotic form.  The
  logistic is symmetric, ``G(η) = 1 − G(−η)``, so its table covers η ≤ 0 only, and the values above
  0 are ``1 − exp(L(−η))`` with ``exp(L(−η)) ≤ 1/2``: accurate relative to G, and ``1 − G`` is
  ``G(−η)`` itself.  The inverse cloglog's covers
  ``|η| ≤ ETA_RANGE``; there ``1 − G`` is only as accurate as G's rounding (``L ≈ −(1 − G)`` to
  ~1e-16 absolute: 3e-5 relative at ``1 − G = 2e-9``), so its upper tail has a table of its own.
* **What they serve.** Integrated means of the families affine in a logit or cloglog inverse link
  (bernoulli, binomial, beta, ...; ``dpar="mu"``), logit contrasts and slopes as exact increments, and
  cumulative logit and cloglog categories (:func:`mixeff.engine.predictor.integrated_response`).
  Cumulative probit categories have a closed form
  (:func:`mixeff.engine.response.normal_category_probability`); sratio, hurdle and the other families
  without one take the quadrature rule.
* **Building.** A panel's values are trapezoidal quadrature with half the step of the rule of
  :mod:`mixeff.engine.integrate` and 8.5 sd of range (3e-15 accurate), then a discrete Chebyshev
  transform written as elementwise sums: a panel's coefficients depend on the panel alone, never on
  which panels were built with it, so results do not depend on which rows share a chunk or which
  thread asked first.  Panels are built when a cell first needs them (~0.3 ms each) and kept.
* **Accuracy.** Interpolation error, measured against 8.5-sd quadrature at random points of every
  panel kind: relative ≤ 3e-13 (logistic) and ≤ 6e-13 (cloglog) over ``|η| ≤ 40``, ``s ≤ 6``
  (``tests/engine/test_tabulate.py`` checks ``TABLE_RTOL`` against scipy's adaptive quad).
  Cells outside the tables (``|η| > 40``, ``s ≥ 6``, non-finite) fall back to quadrature, cell by
  cell.
* **Exact increments.** ``G(η + d) − G(η)`` keeps the relative accuracy of the
  difference however small d is: ``G(a)·expm1(L(b) − L(a))`` where ``L(b) − L(a)`` is the table's
  own difference, ``Σ b_i (T_i(x') − T_i(x))`` by a recurrence in ``x' − x`` (split at the panel
  edge when a and b are in neighbouring panels).  The logistic's above 0 by the symmetry, across 0
  as the sum of the two same-signed pieces ``[G(0) − G(a)] + [G(b) − G(0)]``; the cloglog's with
  both ends in its table (cumulative cloglog categories below 0).
* **The cloglog's upper tail.** ``1 − G(η) = E[exp(−e^{η + u})]`` falls doubly exponentially.  Its log
  M is a Laplace term in closed form, ``−(W/s²)(1 + W/2) − ½ log(1 + W)`` with W the Lambert W of
  ``s²e^η`` (computed per cell to an ulp), plus a remainder R below 0.2 in size, tabulated over
  ``0 ≤ η ≤ 40`` in (η, ``q = W + 2 log(1 + W)``) by the same panels and kernels
  (:class:`SurvivalTable`, :func:`tabulated_log_survival`; built at ~0.2–1 ms a panel).  So
  ``1 − G = exp(M)`` is accurate relative to itself down to 1e-300: M's error, measured against
  scipy's quad at random points, ≤ 3.4e-13 absolute (at M ≈ −600; R's interpolation error alone
  ≤ 1.2e-13 at 50 000 random points of the region), checked to 1e-12.  Cells beyond η = 40 or
  sd 6 take the remainder by quadrature around the Laplace mode, cell by cell.
* **Cost.** A cell needs its panel's polynomial in η at its sd, ``b_i = Σ_j c_ij T_j(y)``
  (``(eta_degree + 1)·(SD_DEGREE + 1)`` multiply-adds), then a Clenshaw sum and an exp.  b depends on
  the cell only through its panel and its variance, and within a draw rows often share the variance
  (a random intercept, a factor's or a 0/1 slope), so each draw keeps the b of its panels in a small
  cache (:meth:`LinkTable.row_cache`, see :mod:`mixeff.engine.kernels`): such cells cost the Clenshaw
  sum and the exp, about 10 ns; cells whose variance changes every row (a continuous slope) about
  35 ns.  The exp runs as one numpy pass.  Compiled kernels only: without numba the engine integrates
  by quadrature.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ..model import families
from . import kernels
from .integrate import VERIFIED_RTOL, QuadratureInfo, cellwise_expectation

ETA_WIDTH = 0.25
"""Width in η of a panel (0 is a panel edge)."""
SD_WIDTH = 0.125
"""Width in s = sd(u) of a panel."""
ETA_RANGE = 40.0
"""The tables cover |η| ≤ 40."""
SD_RANGE = 6.0
"""... and s < 6."""
SD_DEGREE = kernels.TABLE_NS - 1
ETA_DEGREE = kernels.TABLE_NE - 1
TABLE_RTOL = 1e-12
"""The relative error the tables are tested to meet (measured: ≤ 6e-13, see the module notes)."""
BUILD_BATCH = 8
"""η panels built in one vectorised call (bounds the ``(panels, 10, 8, nodes)`` block to a few MiB)."""
BUILD_RANGE = 8.5
"""Standard deviations of the normal beyond the integrand's tilt covered when building a panel."""


@dataclass
class LinkTable:
    """The table of ``log E[F(η + s·Z)]`` of one inverse link F (built lazily, panel by panel)."""

    name: str
    eta_degree: int
    symmetric: bool
    """``G(η) = 1 − G(−η)``: the table covers η ≤ 0."""
    step: float
    """Spacing in η at which the building quadrature resolves F (half the rule of mixeff.engine.integrate)."""
    coef: np.ndarray = field(init=False, repr=False)
    """``(η panels, sd panels, η degree + 1, sd degree + 1)``: the coefficient of T_i(x) T_j(y) at ``[.., i, j]``."""
    built: np.ndarray = field(init=False, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    local: threading.local = field(default_factory=threading.local, init=False, repr=False)

    def __post_init__(self) -> None:
        n_eta = int(round((self.eta_hi - self.eta_lo) / self.eta_width))
        n_sd = int(round(self.sd_range / self.sd_width))
        self.coef = np.zeros((n_eta, n_sd, self.eta_degree + 1, SD_DEGREE + 1))
        self.built = np.zeros((n_eta, n_sd), dtype=np.uint8)

    eta_width: float = field(default=ETA_WIDTH, init=False)
    sd_width: float = field(default=SD_WIDTH, init=False)

    @property
    def sd_range(self) -> float:
        """The table's second coordinate (sd(u) here) covers [0, sd_range)."""
        return SD_RANGE

    @property
    def eta_lo(self) -> float:
        return -ETA_RANGE

    @property
    def eta_hi(self) -> float:
        return 0.0 if self.symmetric else ETA_RANGE

    @property
    def method(self) -> str:
        return (
            f"tabulated: log E[F(η + u)] as Chebyshev degree {self.eta_degree} in η × {SD_DEGREE} in sd(u) on "
            f"{ETA_WIDTH} × {SD_WIDTH} panels (|η| ≤ {ETA_RANGE:g}, sd < {SD_RANGE:g}), interpolation error "
            f"≤ {TABLE_RTOL:g}; trapezoidal quadrature outside"
        )

    def lower(self, x: np.ndarray) -> np.ndarray:
        if self.name == "logit":
            return special.expit(x)
        return -np.expm1(-np.exp(x))

    def row_cache(self, n_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The calling thread's cache of panel rows b for ``n_samples`` draws: ``(b, panel, var)`` (:mod:`.kernels`).

        Kept across calls: an entry is keyed by everything its b depends on (the panel, the exact variance), and a
        built panel's coefficients never change.
        """
        cache = getattr(self.local, "cache", None)
        if cache is None or cache[1].shape[1] != n_samples:
            slots = kernels.TABLE_SLOTS
            cache = (
                np.empty(slots * n_samples * (self.eta_degree + 1)),  # flat: b of (slot, draw) at its offset
                np.full((slots, n_samples), -1, dtype=np.int64),
                np.zeros((slots, n_samples)),
            )
            self.local.cache = cache
        return cache

    def ensure(self, panels: np.ndarray) -> None:
        """Build the ``(k, 2)`` panels ``(η index, sd index)`` not built yet."""
        panels = np.unique(panels, axis=0)
        with self.lock:
            panels = panels[self.built[panels[:, 0], panels[:, 1]] == 0]
            for j in np.unique(panels[:, 1]):  # panels of one sd band share the quadrature nodes
                eta_panels = panels[panels[:, 1] == j, 0]
                self.coef[eta_panels, j] = self._panel_coefficients(eta_panels, int(j))
                self.built[eta_panels, j] = 1

    def ensure_all(self) -> None:
        """Build every panel (for tests and benchmarks that want the tables ready)."""
        i, j = np.meshgrid(np.arange(self.built.shape[0]), np.arange(self.built.shape[1]), indexing="ij")
        self.ensure(np.column_stack([i.ravel(), j.ravel()]))

    def _panel_coefficients(self, eta_panels: np.ndarray, j: int) -> np.ndarray:
        values = self._panel_values(eta_panels, j)
        ne, ns = self.eta_degree, SD_DEGREE
        # the discrete Chebyshev transform, along sd then η, as elementwise sums (no BLAS: fixed order)
        te, ts = _transform(ne), _transform(ns)
        along_sd = np.zeros_like(values)
        for m in range(ns + 1):
            along_sd += values[:, :, m, None] * ts[None, None, :, m]
        out = np.zeros_like(values)
        for m in range(ne + 1):
            out += along_sd[:, m, None, :] * te[None, :, m, None]
        return out

    def _panel_values(self, eta_panels: np.ndarray, j: int) -> np.ndarray:
        """``(P, ne + 1, ns + 1)`` log E[F(η + s·Z)] at the Chebyshev points of the panels ``(eta_panels, j)``."""
        ne, ns = self.eta_degree, SD_DEGREE
        xe, xs = _chebyshev_points(ne), _chebyshev_points(ns)
        eta = self.eta_lo + self.eta_width * (eta_panels[:, None] + 0.5 * (xe[None, :] + 1.0))  # (P, ne + 1)
        sd = self.sd_width * (j + 0.5 * (xs + 1.0))  # (ns + 1,)
        sd_hi = self.sd_width * (j + 1)
        h = min(0.25, self.step / sd_hi)
        k = int(math.ceil((sd_hi + BUILD_RANGE) / h))
        nodes = h * np.arange(-k, k + 1)
        weights = h * np.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi)
        total = np.empty((len(eta_panels), ne + 1, ns + 1))
        for start in range(0, len(eta_panels), BUILD_BATCH):  # all nodes at once: one call of F per batch
            part = slice(start, start + BUILD_BATCH)
            f = self.lower(eta[part, :, None, None] + sd[None, None, :, None] * nodes)
            total[part] = (f * weights).sum(axis=-1)  # each cell's own contiguous sum: independent of the batch
        return np.log(total)


def _chebyshev_points(n: int) -> np.ndarray:
    return np.cos(np.pi * (np.arange(n + 1) + 0.5) / (n + 1))


def _transform(n: int) -> np.ndarray:
    """``(n + 1, n + 1)``: coefficient a from the values at :func:`_chebyshev_points` m is ``Σ_m T[a, m] v_m``."""
    angles = np.pi * (np.arange(n + 1) + 0.5) / (n + 1)
    out = np.cos(np.outer(np.arange(n + 1), angles)) * (2.0 / (n + 1))
    out[0] *= 0.5
    return out


TABLES: dict[str, LinkTable] = {
    "logit": LinkTable("logit", eta_degree=ETA_DEGREE, symmetric=True, step=0.3),
    "cloglog": LinkTable("cloglog", eta_degree=ETA_DEGREE, symmetric=False, step=0.15),
}
"""The links whose normal mean is tabulated (probit, log and identity have closed forms)."""


def table_for(link_name: str) -> LinkTable | None:
    """The table of ``link_name``'s normal mean when there is one and compiled kernels run, else None."""
    table = TABLES.get(link_name)
    return table if table is not None and kernels.enabled() else None


def table_link(table: LinkTable) -> families.Link:
    """The link whose inverse ``table`` integrates."""
    return families.LINKS[table.name]


def _info(table: LinkTable) -> QuadratureInfo:
    # nodes 1: a quadrature block (more nodes) anywhere in the pass names the rule; a closed form (0) does not
    return QuadratureInfo(table.method, 1, VERIFIED_RTOL)


def _fill(table: LinkTable, run: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Run a table kernel, building the panels it asked for and running again until none is missing."""
    missing = np.zeros_like(table.built)
    out = run(missing)
    while missing.any():
        table.ensure(np.argwhere(missing))
        missing[:] = 0
        out = run(missing)
    return out


def tabulated_mean(table: LinkTable, eta: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, QuadratureInfo]:
    """E[F(η + u)], u ~ N(0, var), from ``table``; cells outside it by quadrature, cell by cell.

    Examples
    --------
    >>> import numpy as np
    >>> table = table_for("logit")
    >>> if table is not None:
    ...     values, info = tabulated_mean(table, np.array([[0.0, -2.0]]), np.array([[1.0, 4.0]]))
    ...     print(np.round(values, 10).tolist())       # scipy.integrate.quad gives 0.2247997546 for the second
    [[0.5, 0.2247997546]]
    """
    eta = np.ascontiguousarray(eta, dtype=float)
    var = np.ascontiguousarray(np.broadcast_to(var, eta.shape), dtype=float)
    out = np.empty_like(eta)
    skipped = [0]

    def run(missing: np.ndarray) -> np.ndarray:
        result = kernels.table_values(out, eta, var, table, missing)
        assert result is not None  # table_for checked that kernels run
        skipped[0] = result
        return out

    _fill(table, run)
    if skipped[0]:
        bad = np.isnan(out)
        out[bad] = cellwise_expectation(table.lower, eta[bad], var[bad], step=2 * table.step)
    return out, _info(table)


def tabulated_increment(
    table: LinkTable,
    eta: np.ndarray,
    d: np.ndarray,
    var: np.ndarray,
    increment: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
) -> tuple[np.ndarray, QuadratureInfo]:
    """E[F(η + d + u)] − E[F(η + u)] without cancellation from a symmetric ``table``.

    Cells outside the table by quadrature of ``increment(x, d)`` (the link's exact increment), cell by cell
    (``increment`` None: there must be none).

    Examples
    --------
    >>> import numpy as np
    >>> table = table_for("logit")
    >>> if table is not None:      # d = 1e-9: expit'(0) · 1e-9 at sd 0, to 1e-11
    ...     values, _ = tabulated_increment(table, np.array([[0.0]]), np.array([[1e-9]]), np.array([[0.0]]), None)
    ...     print(f"{values[0, 0]:.10e}")
    2.5000000000e-10
    """
    eta = np.ascontiguousarray(eta, dtype=float)
    d = np.ascontiguousarray(np.broadcast_to(d, eta.shape), dtype=float)
    var = np.ascontiguousarray(np.broadcast_to(var, eta.shape), dtype=float)
    out = np.empty_like(eta)
    skipped = [0]

    def run(missing: np.ndarray) -> np.ndarray:
        result = kernels.table_increments(out, eta, d, var, table, missing)
        assert result is not None  # table_for checked that kernels run
        skipped[0] = result
        return out

    _fill(table, run)
    if skipped[0]:
        if increment is None:
            raise ValueError("tabulated_increment: cells outside the table and no increment to integrate them")
        bad = np.isnan(out)
        steps = d[bad]
        out[bad] = cellwise_expectation(lambda x: increment(x, steps), eta[bad], var[bad], step=2 * table.step)
    return out, _info(table)


# -- the upper tail of the inverse cloglog ----------------------------------------------------------------------
# 1 − G(x) = E[S(x + s·Z)], S(x) = exp(−e^x), is where a cumulative cloglog model's upper categories live, and it
# falls faster than the cloglog table's absolute accuracy (log G ≈ −(1 − G) is only accurate to ~1e-16 there).  Its
# log M(x, s) = log ∫ exp(g(t)) φ-normalised dt, g(t) = −e^{x + s t} − t²/2, is a Laplace term plus a small remainder:
# the mode is t* = −W/s with W the Lambert W of z = s² e^x, g(t*) = −(W/s²)(1 + W/2), and
#     M = g(t*) − ½ log(1 + W) + R,   R = log I + ½ log(1 + W),
#     I = ∫ exp(−(W/s²)(e^{sτ} − 1 − sτ) − τ²/2) dτ / √(2π)
# (the integral around the mode; I = 1/√(1 + W) at s = 0, so R is 0 there).  g(t*) carries M's doubly exponential fall
# (M = −e^x at s = 0) in closed form; R is below 0.2 in size and is tabulated in (x, q), q = W + 2 log(1 + W).  At
# small s, R changes with s on the scale e^{−x/2} (too fast for panels in s) but smoothly with W; q stretches W near
# 0, where R's singularity at W = −1 is close (R's interpolation error ≤ 1.2e-13, module notes).

SURVIVAL_Q_WIDTH = 0.25
"""Width in q = W + 2 log(1 + W) of a panel of the upper-tail table."""
SURVIVAL_Q_RANGE = 48.0
"""... which covers q < 48: every cell with 0 <= η <= 40 and sd(u) < 6 (q ≤ 47.3 there)."""
SURVIVAL_STEP = 0.15
"""Spacing in η at which the remainder's quadrature resolves S (as the cloglog table's build)."""
SURVIVAL_RANGE = 9.5
"""The remainder's quadrature covers 9.5 units of τ below the mode and 9.5/√(1 + W) above (g'' <= −1, <= −(1 + W))."""
SURVIVAL_BLOCK = 64
"""Cells read from the upper-tail table are laid out as blocks of this many columns (its row cache's width)."""
_EM1M = [1.0 / math.factorial(k) for k in range(2, 15)]


@dataclass
class SurvivalTable(LinkTable):
    """The remainder R of ``log E[1 − F(x + u)]`` of the inverse cloglog, tabulated over ``0 <= x <= 40``.

    The second coordinate is ``q = W + 2 log(1 + W)``, ``W`` the Lambert W of ``var·e^x`` (see the module
    notes); read with :func:`tabulated_log_survival`.
    """

    sd_width: float = field(default=SURVIVAL_Q_WIDTH, init=False)

    @property
    def sd_range(self) -> float:
        return SURVIVAL_Q_RANGE

    @property
    def eta_lo(self) -> float:
        return 0.0

    @property
    def eta_hi(self) -> float:
        return ETA_RANGE

    @property
    def method(self) -> str:
        return (
            f"above 0, log(1 − E[F(η + u)]) as a Laplace term and a remainder tabulated likewise in η × "
            f"W + 2 log(1 + W) (W = Lambert W(var(u)·e^η)), error ≤ {TABLE_RTOL:g}"
        )

    def _panel_values(self, eta_panels: np.ndarray, j: int) -> np.ndarray:
        ne, ns = self.eta_degree, SD_DEGREE
        xe, xs = _chebyshev_points(ne), _chebyshev_points(ns)
        x = self.eta_lo + self.eta_width * (eta_panels[:, None] + 0.5 * (xe[None, :] + 1.0))  # (P, ne + 1)
        w = _w_of_q(self.sd_width * (j + 0.5 * (xs + 1.0)))  # (ns + 1,)
        var = w * np.exp(w - x[:, :, None])  # s² = W e^{W − x}: z = s² e^x has Lambert W equal to W
        return _survival_remainder(np.broadcast_to(w, var.shape), var)


SURVIVAL_TABLES: dict[str, SurvivalTable] = {
    "cloglog": SurvivalTable("cloglog", eta_degree=ETA_DEGREE, symmetric=False, step=SURVIVAL_STEP),
}
"""The upper tails tabulated apart from their link's table (a symmetric link's is its lower tail)."""


def survival_table(table: LinkTable) -> SurvivalTable | None:
    """The table of ``1 − G`` above 0 that goes with ``table``, or None where ``table`` is symmetric."""
    return None if table.symmetric else SURVIVAL_TABLES[table.name]


def two_sided_info(table: LinkTable) -> QuadratureInfo:
    """How a value read from ``table`` below 0 and from its :func:`survival_table` above 0 was computed."""
    upper = survival_table(table)
    return _info(table) if upper is None else QuadratureInfo(f"{table.method}; {upper.method}", 1, VERIFIED_RTOL)


def _lambert_w(x: np.ndarray, var: np.ndarray) -> np.ndarray:
    """The principal Lambert W of ``z = var·e^x`` (``w e^w = z``), to an ulp or two; 0 at ``z = 0``.

    Two steps of Fritsch's iteration (fourth order) from Winitzki's start (within 2%): 4e-16 over all doubles.
    Where z overflows, the same in ``log z`` (no z needed).
    """
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        z = var * np.exp(x)
        w = np.log1p(z)
        w *= 1.0 - np.log1p(w) / (2.0 + w)
        for _ in range(2):
            w = _fritsch_step(w, np.log(z / w) - w)
        big = np.flatnonzero(z == np.inf)
        if len(big):
            log_z = np.log(var[big]) + x[big]
            w_big = log_z - np.log(log_z)
            for _ in range(3):
                w_big = _fritsch_step(w_big, log_z - np.log(w_big) - w_big)
            w[big] = w_big
    return w


def _fritsch_step(w: np.ndarray, r: np.ndarray) -> np.ndarray:
    """One step of Fritsch's iteration for W from ``w`` and its residual ``r = log(z/w) − w`` (w = 0 stays)."""
    q = 2.0 * (1.0 + w) * (1.0 + w + (2.0 / 3.0) * r)
    return np.where(w > 0.0, w * (1.0 + r / (1.0 + w) * (q - r) / (q - 2.0 * r)), w)


def _w_of_q(q: np.ndarray) -> np.ndarray:
    """W >= 0 with ``W + 2 log(1 + W) = q`` (Newton's method: the table's panels' points)."""
    q = np.asarray(q, dtype=float)
    w = q / 3.0
    for _ in range(60):
        w = w - (w + 2.0 * np.log1p(w) - q) / (1.0 + 2.0 / (1.0 + w))
    return w


def _exp_minus_one_minus(y: np.ndarray) -> np.ndarray:
    """``e^y − 1 − y`` without cancellation (a series below |y| = 0.2)."""
    series = np.full(y.shape, _EM1M[-1])
    for c in _EM1M[-2::-1]:
        series = series * y + c
    with np.errstate(over="ignore"):
        return np.where(np.abs(y) < 0.2, series * (y * y), np.expm1(y) - y)


def _survival_remainder(w: np.ndarray, var: np.ndarray) -> np.ndarray:
    """R = log I + ½ log(1 + W) (module notes) by the trapezoidal rule around the mode, cell by cell.

    Step ``min(1/4, σ/2, SURVIVAL_STEP/s)`` in τ, σ = 1/√(1 + W) the width at the mode; each cell's nodes are
    added in order from the lowest, and nodes beyond its own add exact zeros, so a cell's value does not depend on
    the other cells.  NaN where ``w`` or ``var`` is not finite; 0 at ``var = 0``.
    """
    w, var = np.broadcast_arrays(np.asarray(w, dtype=float), np.asarray(var, dtype=float))
    shape = w.shape
    w, var = w.ravel(), var.ravel()
    out = np.full(w.shape, np.nan)
    ok = np.isfinite(w) & np.isfinite(var) & (var >= 0.0)
    out[ok & (var == 0.0)] = 0.0
    cells = np.flatnonzero(ok & (var > 0.0))
    if len(cells):
        w_c, var_c = w[cells], var[cells]
        s = np.sqrt(var_c)
        ratio = w_c / var_c  # W/s²
        width = 1.0 / np.sqrt(1.0 + w_c)
        h = np.minimum(np.minimum(0.25, 0.5 * width), SURVIVAL_STEP / s)
        below = np.ceil(SURVIVAL_RANGE / h)
        above = np.ceil(SURVIVAL_RANGE * width / h) + 1.0
        total = np.zeros(len(cells))
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(-int(below.max()), int(above.max()) + 1):
                tau = h * k
                f = np.exp(-ratio * _exp_minus_one_minus(s * tau) - 0.5 * tau * tau)
                total += np.where((k >= -below) & (k <= above), f, 0.0)
        out[cells] = np.log(total * h / math.sqrt(2.0 * math.pi)) + 0.5 * np.log1p(w_c)
    return out.reshape(shape)


def tabulated_log_survival(table: SurvivalTable, x: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``log(1 − E[F(x + u)])``, u ~ N(0, var), of the inverse cloglog, accurate relative to ``1 − E[F]``.

    Meant for ``x >= 0`` (the remainder is tabulated over ``0 <= x <= 40``, sd < 6; other cells get the same
    remainder by quadrature, cell by cell).  ``x`` and ``var`` are arrays of one shape (any); so is the result.

    Examples
    --------
    >>> import numpy as np
    >>> from mixeff.engine import kernels
    >>> if kernels.enabled():     # 1 − G(3) at sd 0 is exp(−e³) = 1.8921786948e-09: far below G's own rounding
    ...     m = tabulated_log_survival(SURVIVAL_TABLES["cloglog"], np.array([3.0, 3.0]), np.array([0.0, 1.0]))
    ...     print(f"{np.exp(m[0]):.10e} {np.exp(m[1]):.10e}")
    1.8921786948e-09 5.3815678545e-03
    """
    x = np.asarray(x, dtype=float)
    var = np.broadcast_to(np.asarray(var, dtype=float), x.shape)
    flat_x, flat_v = x.ravel(), np.ascontiguousarray(var).ravel()
    w = _lambert_w(flat_x, flat_v)
    q = w + 2.0 * np.log1p(w)
    remainder = np.full(flat_x.shape, np.nan)
    inside = np.flatnonzero((flat_x >= 0.0) & (flat_x <= table.eta_hi) & (flat_v < SD_RANGE**2) & (q < table.sd_range))
    if len(inside):
        remainder[inside] = _survival_table_values(table, flat_x[inside], q[inside])
    rest = np.flatnonzero(np.isnan(remainder))
    if len(rest):
        remainder[rest] = _survival_remainder(w[rest], flat_v[rest])
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = np.where(flat_v > 0.0, w / flat_v, np.exp(flat_x))  # W/s² = e^{x − W}
        out = -ratio * (1.0 + 0.5 * w) - 0.5 * np.log1p(w) + remainder
    out[flat_x == np.inf] = -np.inf
    return out.reshape(x.shape)


def _survival_table_values(table: SurvivalTable, x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The tabulated remainder at the 1-D cells ``(x, q)``, read in blocks of ``SURVIVAL_BLOCK`` columns."""
    n = len(x)
    rows = -(-n // SURVIVAL_BLOCK)
    eta = np.zeros((rows, SURVIVAL_BLOCK))  # padding cells at (0, 0): inside the table
    second = np.zeros((rows, SURVIVAL_BLOCK))
    eta.reshape(-1)[:n] = x
    second.reshape(-1)[:n] = q * q  # the kernel reads its second coordinate as √var
    out = np.empty_like(eta)

    def run(missing: np.ndarray) -> np.ndarray:
        result = kernels.table_values(out, eta, second, table, missing, log=True)
        assert result is not None  # table_for checked that kernels run
        return out

    _fill(table, run)
    return out.reshape(-1)[:n]
