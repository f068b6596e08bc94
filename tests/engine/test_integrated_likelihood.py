"""The compiled curved-part sums of the adaptive Gauss–Hermite rule equal their numpy definition.

:func:`mixeff.engine.integrated_likelihood._curved_sums` computes, per draw s and tensor-grid node k,
Σ_i c(base[s, i] + slopes[s, i] · node_k) with c = t·log(1 + e^η) (binomial), log(1 + e^η) (bernoulli)
or e^η (poisson).  The compiled kernel builds e^η from per-draw tables of exps and sums log(1 + e^η) as
the log of a running product where the exponents are moderate; elsewhere it works cell by cell.  Both
must equal the direct numpy computation (``compiled=False``) to rounding, extremes included.
"""

import numpy as np
import pytest

import mixeff
from mixeff.engine.integrated_likelihood import _curved_sums


def _grid(q, m):
    x, _ = np.polynomial.hermite.hermgauss(m)
    return x, np.stack([g.ravel() for g in np.meshgrid(*([x] * q), indexing="ij")], axis=1)


@pytest.mark.parametrize("family,trials", [("bernoulli", 1.0), ("binomial", 7.0), ("poisson", 1.0)])
@pytest.mark.parametrize("q", [1, 2, 3])
def test_compiled_sums_equal_numpy(family, trials, q):
    rng = np.random.default_rng(q)
    n_draws, n = 7, 40
    base = rng.normal(0, 3, (n_draws, n))
    slopes = rng.normal(0, 0.6, (n_draws, n, q))
    base[1] = rng.normal(0, 40, n) if family != "poisson" else rng.normal(0, 5, n)  # wide but moderate
    if family != "poisson":
        base[2, :5] = [-700.0, -300.0, 250.0, 400.0, 705.0]  # beyond the tables: cell by cell
        base[3] += 80.0  # e^η above 1e30: its own log
        base[4] -= 80.0  # e^η below rounding of 1 + e^η
    x, nodes = _grid(q, 9 if q < 3 else 6)
    t = np.full(n, trials)
    fast = _curved_sums(base, slopes, x, nodes, t, family)
    before = mixeff.set_options(compiled=False)
    try:
        slow = _curved_sums(base, slopes, x, nodes, t, family)
    finally:
        mixeff.set_options(**before)
    assert np.isfinite(fast).all()
    # absolute error on the log-likelihood scale: n rows' rounding, relative to the sum's size
    np.testing.assert_allclose(fast, slow, rtol=1e-13, atol=1e-13 * n)
