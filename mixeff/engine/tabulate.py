"""E[F(η + u)], u ~ N(0, s²), of the logit and cloglog inverse links from one table shared by every cell.

Quadrature (:mod:`mixeff.engine.integrate`) pays 35–400 evaluations of F per cell.  But
``G(η, s) = E[F(η + s·Z)]`` is one smooth function of two numbers, the same for every row, draw
and call, so it is tabulated once per process and each cell interpolates it:

* **What is tabulated.** ``L = log G`` on panels of ``ETA_WIDTH`` in η by ``SD_WIDTH`` in s, a
  tensor Chebyshev interpolant of degree ``(eta_degree, SD_DEGREE)`` per panel.  The log keeps the
  relative error of G uniform however small G is (``L ≈ η + s²/2`` in the lower tail, a quadratic),
  and a panel's values change by a bounded factor, so no tail needs an asymptotic form.  The
  logistic is symmetric, ``G(η) = 1 − G(−η)``, so its table covers η ≤ 0 only, and the values above
  0 are ``−expm1(L(−η))``: accurate relative to ``1 − G`` too.  The inverse cloglog's covers
  ``|η| ≤ ETA_RANGE``.
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
* **Exact increments (logistic).** ``G(η + d) − G(η)`` keeps the relative accuracy of the
  difference however small d is: ``G(a)·expm1(L(b) − L(a))`` where ``L(b) − L(a)`` is the table's
  own difference, ``Σ b_i (T_i(x') − T_i(x))`` by a recurrence in ``x' − x`` (split at the panel
  edge when a and b are in neighbouring panels); above 0 by the symmetry, across 0 as the sum of
  the two same-signed pieces ``[G(0) − G(a)] + [G(b) − G(0)]``.
* **Cost.** One cell: ``(eta_degree + 1)·(SD_DEGREE + 1)`` multiply-adds, a Clenshaw sum and an exp,
  in a compiled loop (numpy otherwise, the same operations in the same order, so the same bits).
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
        n_eta = int(round((ETA_RANGE if self.symmetric else 2 * ETA_RANGE) / ETA_WIDTH))
        n_sd = int(round(SD_RANGE / SD_WIDTH))
        self.coef = np.zeros((n_eta, n_sd, self.eta_degree + 1, SD_DEGREE + 1))
        self.built = np.zeros((n_eta, n_sd), dtype=np.uint8)

    eta_width: float = field(default=ETA_WIDTH, init=False)
    sd_width: float = field(default=SD_WIDTH, init=False)

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
        ne, ns = self.eta_degree, SD_DEGREE
        xe, xs = _chebyshev_points(ne), _chebyshev_points(ns)
        eta = self.eta_lo + ETA_WIDTH * (eta_panels[:, None] + 0.5 * (xe[None, :] + 1.0))  # (P, ne + 1)
        sd = SD_WIDTH * (j + 0.5 * (xs + 1.0))  # (ns + 1,)
        sd_hi = SD_WIDTH * (j + 1)
        h = min(0.25, self.step / sd_hi)
        k = int(math.ceil((sd_hi + BUILD_RANGE) / h))
        nodes = h * np.arange(-k, k + 1)
        weights = h * np.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi)
        total = np.empty((len(eta_panels), ne + 1, ns + 1))
        for start in range(0, len(eta_panels), BUILD_BATCH):  # all nodes at once: one call of F per batch
            part = slice(start, start + BUILD_BATCH)
            f = self.lower(eta[part, :, None, None] + sd[None, None, :, None] * nodes)
            total[part] = (f * weights).sum(axis=-1)  # each cell's own contiguous sum: independent of the batch
        values = np.log(total)
        # the discrete Chebyshev transform, along sd then η, as elementwise sums (no BLAS: fixed order)
        te, ts = _transform(ne), _transform(ns)
        along_sd = np.zeros_like(values)
        for m in range(ns + 1):
            along_sd += values[:, :, m, None] * ts[None, None, :, m]
        out = np.zeros_like(values)
        for m in range(ne + 1):
            out += along_sd[:, m, None, :] * te[None, :, m, None]
        return out


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
