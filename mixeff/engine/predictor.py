"""η = Xβ + offset + Σ_g Z_g b_g per draw, then the inverse link and the family mean."""

from __future__ import annotations

import numpy as np

from ..model.spec import ModelSpec, Predictor
from . import kernels
from .design import Design
from .integrate import QuadratureInfo, normal_expectation
from .links import SharedRows, arithmetic
from .random_effects import FactorPlan
from .response import (
    category_log_probability,
    category_probability,
    has_mean_increment,
    has_normal_category_probability,
    mean_increment,
    normal_category_probability,
    normal_mean,
    normal_mean_increment,
)
from .tabulate import (
    LinkTable,
    SurvivalTable,
    survival_table,
    table_for,
    table_link,
    tabulated_increment,
    tabulated_log_survival,
    tabulated_mean,
    two_sided_info,
)

CLOSED_FORM = QuadratureInfo(method="closed form", nodes=0, error_bound=0.0)
TABLE_CELL_COST = 30.0
"""What an integrated cell costs from a table, in cells of a plain prediction (measured: ~30 inverse logits)."""
QUADRATURE_CELL_COST = 60.0
"""... by quadrature (35–400 nodes of one fused pass each; 60 is typical at sd ≈ 1)."""


def integration_cost(spec: ModelSpec, parameter_only: bool = False) -> float:
    """The cost of a cell at an integrated new level, in cells of a plain prediction (1 for closed forms).

    Thresholds that count cells (threads, progress bars) multiply by it.

    Examples
    --------
    >>> from mixeff.model.adapters import from_arrays
    >>> import pandas as pd
    >>> spec = from_arrays(fixed_design=lambda f: np.ones((len(f), 1)), beta=np.zeros((2, 1)),
    ...                    beta_names=["Intercept"], family="poisson", data=pd.DataFrame({"x": [0.0]}))
    >>> integration_cost(spec)
    1.0
    """
    family, link = spec.family, arithmetic(spec.link)
    affine = parameter_only or family.affine is not None
    if family.log_mean_shift is not None or (affine and link.normal_mean is not None):
        return 1.0
    if has_normal_category_probability(family, spec.link):
        return 1.0
    tabulated = table_for(spec.link.name) is not None
    if tabulated and (affine or family.category_rule == "cumulative"):
        return TABLE_CELL_COST
    return QUADRATURE_CELL_COST


def rows_times(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b``, each row the same whatever the number of rows of ``a``.

    numpy sends a one-row product to BLAS's gemv, which adds in another order than gemm (the last
    bit can differ), so a single row goes as two.  Keeps chunked results independent of the chunk
    size.  ``out``: a block with at least as many rows as ``a`` (better two for a single row); the
    product is its first rows.

    Examples
    --------
    >>> rows_times(np.array([[1.0, 2.0]]), np.array([[1.0], [10.0]])).tolist()
    [[21.0]]
    """
    n = a.shape[0]
    if n != 1:
        return np.matmul(a, b, out=None if out is None else out[:n])
    if out is not None and len(out) >= 2:
        return np.matmul(np.repeat(a, 2, axis=0), b, out=out[:2])[:1]
    one = np.matmul(np.repeat(a, 2, axis=0), b)[:1]
    if out is None:
        return one
    out[:1] = one
    return out[:1]


def linear_predictor(
    spec: ModelSpec | Predictor,
    plans: list[FactorPlan],
    design: Design,
    rows: slice,
    out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> np.ndarray:
    """``(chunk, S)`` η for ``rows``, written into ``out`` (and using ``scratch``) when given.

    Reusing ``out`` and ``scratch`` across chunks matters: a fresh multi-MiB array
    per chunk costs more in page faults than the arithmetic.
    """
    c = rows.stop - rows.start
    eta = rows_times(design.X[rows], spec.beta_t, out=out)
    if design.offset is not None:
        eta += design.offset[rows, None]
    effect = None
    for plan, Z, codes in zip(plans, design.Z, design.codes):
        idx = codes[rows]
        for j in range(len(plan.active)):
            z = None if Z is None else Z[rows, j]
            if eta.flags.c_contiguous and kernels.add_random_effects(eta, plan.table_t[j], idx, z):
                continue
            if effect is None:
                effect = np.empty_like(eta) if scratch is None else scratch[:c]
            np.take(plan.table_t[j], idx, axis=0, out=effect)
            if z is not None:
                effect *= z[:, None]
            eta += effect
    return eta


def response(
    spec: ModelSpec,
    type: str,
    eta: np.ndarray,
    trials: np.ndarray | None,
    rng: np.random.Generator | None,
    aux: dict,
    parameter_only: bool = False,
) -> np.ndarray:
    """From η to the expected value (``"response"``) or a predictive draw; overwrites ``eta``.

    ``aux``: the auxiliary parameters of these rows (``(S,)`` draws, or ``(rows, S)`` where
    modelled); ``parameter_only``: stop at the inverse link (``dpar="mu"``).
    """
    if spec.family.categorical:
        return category_probability(spec.family, spec.link, eta, aux)
    mu = arithmetic(spec.link).inverse(eta)
    if parameter_only:
        return mu
    if type == "prediction":
        draw = spec.family.draw
        assert draw is not None  # every family that is not a category one draws
        try:
            return draw(rng, mu, aux, trials)
        except ValueError as err:
            raise ValueError(
                f"type='prediction': no draw from the {spec.family.name} distribution is possible at some rows "
                f"(numpy: {err}): the mean leaves the family's support (e.g. negative with an identity link) or "
                "is too large to sample (counts above ~1e18); check newdata for extreme values, or use "
                "type='response'"
            ) from None
    mean = spec.family.mean
    assert mean is not None  # None for category families only, handled above
    return mean(mu, aux, trials)


def log_likelihood(
    spec: ModelSpec, eta: np.ndarray, y: np.ndarray | None, trials: np.ndarray | None, aux: dict
) -> np.ndarray:
    """The log-density of each row's observed response at each draw (brms's ``log_lik``), ``(rows, S)``.

    ``y``: the rows' responses (None for category families, whose rows' categories are ``aux["category"]``);
    ``eta`` is left intact.  The family's :attr:`~mixeff.model.families.Family.log_density` reads η as well
    as the mean parameter, so probabilities' logs stay finite where g⁻¹(η) rounds to 0 or 1.
    """
    family = spec.family
    if family.categorical:
        return category_log_probability(family, spec.link, eta, aux)
    assert family.log_density is not None and y is not None  # every other family has one; the verb gave y
    mu = arithmetic(spec.link).inverse(eta.copy())
    return family.log_density(y, mu, aux, trials, eta=eta, link=spec.link.name)


def new_level_variance(plans: list[FactorPlan], design: Design, rows: slice) -> tuple[np.ndarray, np.ndarray] | None:
    """``(row indices, (n_new_rows, S) variance)`` of the integrated random term, or None.

    A new level's effects enter η only through ``u = zᵀb``, ``b ~ N(0, Σ_s)``, so
    ``u ~ N(0, zᵀ Σ_s z)``; independent factors that are new in the same row add
    their variances.
    """
    masks = [
        (plan, Z, plan.new_rows(codes[rows]))
        for plan, Z, codes in zip(plans, design.Z, design.codes)
        if plan.integrated
    ]
    masks = [(plan, Z, m) for plan, Z, m in masks if m.any()]
    if not masks:
        return None
    any_new = np.zeros(rows.stop - rows.start, dtype=bool)
    for _, _, m in masks:
        any_new |= m
    idx = np.flatnonzero(any_new)
    zs = []
    for plan, Z, m in masks:
        z = np.ones((rows.stop - rows.start, len(plan.active))) if Z is None else Z[rows]
        zs.append(z[idx] * m[idx, None])  # rows new in another factor but not this one add nothing
    key = np.column_stack(zs)
    if len(idx) > 1 and (key == key[0]).all():
        return idx, np.repeat(_variance([plan for plan, _, _ in masks], [z[:1] for z in zs]), len(idx), axis=0)
    distinct, inverse = np.unique(key, axis=0, return_inverse=True)
    if len(distinct) <= len(idx) // SHARED_VARIANCE_FACTOR:
        # a random intercept, a factor's or a 0/1 slope: zᵀΣz per distinct z, then gathered (the same bits per row)
        widths = np.cumsum([0] + [z.shape[1] for z in zs])
        parts = [distinct[:, lo:hi] for lo, hi in zip(widths[:-1], widths[1:])]
        return idx, np.take(_variance([plan for plan, _, _ in masks], parts), inverse.ravel(), axis=0)
    return idx, _variance([plan for plan, _, _ in masks], zs)


SHARED_VARIANCE_FACTOR = 8
"""The variance is computed per distinct z and gathered when the rows have at most 1/8 as many."""


def _variance(plans: list[FactorPlan], zs: list[np.ndarray]) -> np.ndarray:
    """``(rows, S)`` Σ_factors zᵀΣ_s z for each row's ``z`` of each factor (clipped at 0)."""
    var = np.zeros((len(zs[0]), plans[0].table_t.shape[2]))
    for plan, z in zip(plans, zs):
        k = z.shape[1]
        cov_t = plan.cov_t
        assert cov_t is not None  # an integrated plan has its covariance
        for j in range(k):
            for i in range(k):
                var += (z[:, j] * z[:, i])[:, None] * cov_t[j, i][None, :]
    np.maximum(var, 0.0, out=var)  # rounding of an indefinite-looking 0 must not give a negative variance
    return var


def response_increment(
    spec: ModelSpec,
    eta: np.ndarray,
    d: np.ndarray | SharedRows,
    trials: np.ndarray | None,
    aux: dict,
    out: np.ndarray | None = None,
    scratch: tuple[np.ndarray, ...] = (),
) -> np.ndarray | None:
    """E[Y | η + d] − E[Y | η] without cancellation, or None where the family has no exact form."""
    return mean_increment(spec.family, spec.link, eta, d, aux, trials, out, scratch)


def integrated_response(
    spec: ModelSpec,
    eta: np.ndarray,
    var: np.ndarray,
    trials: np.ndarray | None,
    aux: dict,
    parameter_only: bool = False,
) -> tuple[np.ndarray, QuadratureInfo]:
    """E[Y | η + u], u ~ N(0, var): a closed form where the family has one, else a table, else quadrature.

    Closed forms: :func:`~mixeff.engine.response.normal_mean` and (cumulative probit categories)
    :func:`~mixeff.engine.response.normal_category_probability`; tables (:mod:`mixeff.engine.tabulate`):
    families affine in a logit or cloglog inverse link, cumulative logit and cloglog categories.

    Returns the values and how they were computed (a :class:`~mixeff.engine.integrate.QuadratureInfo`).
    ``parameter_only``: E[g⁻¹(η + u)], the mean parameter itself.
    """
    if parameter_only:
        link_mean = arithmetic(spec.link).normal_mean
        closed = None if link_mean is None else link_mean(eta, var)
    else:
        closed = normal_mean(spec.family, spec.link, eta, var, aux, trials)
        if closed is None:
            closed = normal_category_probability(spec.family, spec.link, eta, var, aux)
    if closed is not None:
        return closed, CLOSED_FORM
    table = table_for(spec.link.name)
    if table is not None and spec.family.category_rule == "cumulative" and not parameter_only:
        return _tabulated_cumulative(table, eta, var, aux)
    if table is not None and (parameter_only or spec.family.affine is not None):
        # E[scale·F + shift] = scale·E[F] + shift: the link's table, then the family's affine mean
        mean, info = tabulated_mean(table, eta, var)
        if parameter_only:
            return mean, info
        family_mean = spec.family.mean
        assert family_mean is not None  # an affine family has its mean
        return family_mean(mean, aux, trials), info
    return normal_expectation(
        lambda x: response(spec, "response", x, trials, None, aux, parameter_only),
        eta,
        var,
        step=arithmetic(spec.link).quadrature_step,
    )


def _tabulated_cumulative(
    table: LinkTable, eta: np.ndarray, var: np.ndarray, aux: dict
) -> tuple[np.ndarray, QuadratureInfo]:
    """P(Y = c) = E[F(τ_c − η − u)] − E[F(τ_{c−1} − η − u)] from the link's table.

    u is symmetric, so each term is G(τ − η), G(x) = E[F(x + u)].  The first category is G(τ_1 − η), the last
    1 − G(τ_{K−1} − η), the middle ones G(b) − G(a), a = τ_{c−1} − η < b = τ_c − η, each without cancellation:

    * a symmetric link (logit): 1 − G(x) = G(−x); the middle categories are the table's exact increment from a by
      τ_c − τ_{c−1} (no cancellation between close thresholds).
    * the cloglog: G from its table at x <= 0, 1 − G from the table of its upper tail at x > 0
      (:func:`~mixeff.engine.tabulate.tabulated_log_survival`, accurate relative to 1 − G however small);
      a middle category is [G(min(b, 0)) − G(min(a, 0))] + [(1 − G(max(a, 0))) − (1 − G(max(b, 0)))], two
      terms >= 0, the first the table's exact increment, the second e^{M_a}·(−expm1(M_b − M_a)) of M = log(1 − G).
    """
    tau, category = aux["threshold"], np.asarray(aux["category"])  # (S, K - 1), (rows,)
    k = tau.shape[1]
    lower = tau[:, np.clip(category - 1, 0, k - 1)].T - eta  # τ_{c−1} − η (for c >= 1)
    upper = tau[:, np.clip(category, 0, k - 1)].T - eta  # τ_c − η (for c <= K − 2)
    first, last = category == 0, category == k
    middle = ~(first | last)
    out = np.empty_like(eta)
    survival = survival_table(table)
    if survival is None:
        if first.any():
            out[first], _ = tabulated_mean(table, upper[first], var[first])
        if last.any():
            out[last], _ = tabulated_mean(table, -lower[last], var[last])
    else:
        if first.any():
            out[first] = _cloglog_below(table, survival, upper[first], var[first])
        if last.any():
            out[last] = _cloglog_above(table, survival, lower[last], var[last])
    if middle.any():
        c = category[middle]
        gap = (tau[:, c] - tau[:, c - 1]).T  # τ_c − τ_{c−1}, exact of the thresholds
        if survival is None:
            inverse = arithmetic(table_link(table)).increment
            out[middle], _ = tabulated_increment(
                table, lower[middle], gap, var[middle], None if inverse is None else (lambda x, d: inverse(x, d))
            )
        else:
            out[middle] = _cloglog_between(table, survival, lower[middle], gap, upper[middle], var[middle])
    return out, two_sided_info(table)


def _cloglog_below(table: LinkTable, survival: SurvivalTable, x: np.ndarray, var: np.ndarray) -> np.ndarray:
    """G(x) of the cloglog: from its table at x <= 0, 1 − exp(M(x)) above."""
    above = ~(x <= 0.0)  # NaN too: the survival table gives NaN
    if above.all():
        return -np.expm1(tabulated_log_survival(survival, x, var))
    out, _ = tabulated_mean(table, np.minimum(x, 0.0), var)
    if above.any():
        out[above] = -np.expm1(tabulated_log_survival(survival, x[above], var[above]))
    return out


def _cloglog_above(table: LinkTable, survival: SurvivalTable, x: np.ndarray, var: np.ndarray) -> np.ndarray:
    """1 − G(x) of the cloglog: exp(M(x)) at x > 0, 1 − G(x) >= 1 − G(0) > 1/3 from its table below."""
    above = x > 0.0
    if above.all():
        return np.exp(tabulated_log_survival(survival, x, var))
    below, _ = tabulated_mean(table, np.minimum(x, 0.0), var)
    out = 1.0 - below
    if above.any():
        out[above] = np.exp(tabulated_log_survival(survival, x[above], var[above]))
    return out


def _cloglog_between(
    table: LinkTable, survival: SurvivalTable, a: np.ndarray, gap: np.ndarray, b: np.ndarray, var: np.ndarray
) -> np.ndarray:
    """G(b) − G(a) of the cloglog, b = a + gap (the part below 0 from its table, above 0 from the survival table)."""
    if (a > 0.0).all():
        out = np.zeros_like(a)
    else:
        start = np.minimum(a, 0.0)
        length = np.where(b <= 0.0, gap, -start)  # to b, or to 0 across it (0 above it)
        out, _ = tabulated_increment(table, start, length, var, _cloglog_increment)
    above = ~(b <= 0.0)
    if above.any():
        m_a = tabulated_log_survival(survival, np.maximum(a[above], 0.0), var[above])
        m_b = tabulated_log_survival(survival, b[above], var[above])
        with np.errstate(invalid="ignore"):
            part = np.exp(m_a) * -np.expm1(m_b - m_a)
        part[m_a == -np.inf] = 0.0  # both ends beyond the last double: 0, not −inf − (−inf)
        out[above] += part
    return out


def _cloglog_increment(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """F(x + d) − F(x) of the inverse cloglog without cancellation.

    From the lower end l = min(x, x + d): ±e^{−e^l}·(1 − exp(−e^l·expm1(|d|))).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(np.minimum(x, x + d))
        return np.sign(d) * np.exp(-e) * -np.expm1(-e * np.expm1(np.abs(d)))


def integrated_increment(
    spec: ModelSpec, eta: np.ndarray, d: np.ndarray, var: np.ndarray, trials: np.ndarray | None, aux: dict
) -> tuple[np.ndarray, QuadratureInfo] | None:
    """E[Y | η + d + u] − E[Y | η + u] without cancellation, or None where no exact form exists."""
    closed = normal_mean_increment(spec.family, spec.link, eta, d, var, aux, trials)
    if closed is not None:
        return closed, CLOSED_FORM
    if not has_mean_increment(spec.family, spec.link, trials is not None):
        return None
    table = table_for(spec.link.name)
    link = arithmetic(spec.link)
    if table is not None and table.symmetric and spec.family.affine is not None and link.increment is not None:
        link_increment = link.increment
        values, info = tabulated_increment(table, eta, d, var, lambda x, step: link_increment(x, step))
        scale, _ = spec.family.affine(aux, trials)
        if not (np.isscalar(scale) and scale == 1.0):
            values *= scale
        return values, info

    def increment(x: np.ndarray) -> np.ndarray:
        out = response_increment(spec, x, d, trials, aux)
        assert out is not None  # has_mean_increment checked it
        return out

    return normal_expectation(increment, eta, var, step=arithmetic(spec.link).quadrature_step)
