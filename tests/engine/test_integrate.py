"""The quadrature kernel alone: E[f(η + u)], u ~ N(0, v), against scipy's adaptive quad, cell by cell."""

import warnings

import numpy as np
import pytest
from references import quad_reference
from scipy import special

from mixeff.engine.integrate import VERIFIED_RTOL, normal_expectation
from mixeff.engine.links import LINKS

ETAS = [-15.0, -8.0, -2.0, 0.0, 3.0, 15.0]
SDS = [0.01, 0.3, 1.0, 2.5, 5.0]


def inv_cloglog(x):
    return -np.expm1(-np.exp(x))


def cloglog_increment(x, d=1e-4):
    """F(x + d) − F(x) = exp(−eˣ)·(1 − exp(−eˣ(eᵈ − 1))), without cancellation."""
    return np.exp(-np.exp(x)) * -np.expm1(-np.exp(x) * np.expm1(d))


CASES = {
    "logistic": (special.expit, LINKS["logit"].quadrature_step),
    "inverse cloglog": (inv_cloglog, LINKS["cloglog"].quadrature_step),
    "logistic increment": (
        lambda x: LINKS["logit"].increment(x, np.full_like(x, 1e-4)),
        LINKS["logit"].quadrature_step,
    ),
    "cloglog increment": (cloglog_increment, LINKS["cloglog"].quadrature_step),
}


@pytest.mark.slow  # the reference is scipy quad, cell by cell (tens of seconds)
@pytest.mark.parametrize("name", list(CASES))
def test_relative_error_below_1e_10_over_the_tested_range(name):
    f, step = CASES[name]
    eta, sd = np.meshgrid(ETAS, SDS, indexing="ij")
    got, info = normal_expectation(f, eta, sd**2, step=step)
    ref = np.vectorize(lambda e, s: quad_reference(f, e, s))(eta, sd)
    assert info.error_bound == VERIFIED_RTOL
    # a cloglog increment far above 0 underflows (e.g. 1e-43 at η = 15): there only absolute accuracy counts
    np.testing.assert_allclose(got, ref, rtol=VERIFIED_RTOL, atol=1e-30)


def test_block_equals_cell_by_cell_and_zero_variance_is_the_function():
    rng = np.random.default_rng(1)
    eta = rng.normal(0, 3, (40, 30))
    var = rng.uniform(0, 4, (40, 30))
    var[:, :3] = 0.0
    got, _ = normal_expectation(special.expit, eta, var, step=LINKS["logit"].quadrature_step)
    for i, j in [(0, 0), (5, 7), (39, 29), (12, 3)]:
        one, _ = normal_expectation(
            special.expit, eta[i : i + 1, j : j + 1], var[i : i + 1, j : j + 1], step=LINKS["logit"].quadrature_step
        )
        # a lone cell gets its own (shorter) node set: both meet the verified tolerance
        np.testing.assert_allclose(got[i, j], one[0, 0], rtol=VERIFIED_RTOL)
    np.testing.assert_allclose(got[:, :3], special.expit(eta[:, :3]), rtol=1e-13)
    assert normal_expectation(special.expit, eta, np.zeros_like(eta))[0].tolist() == special.expit(eta).tolist()


def test_identity_and_exponential_are_exact():
    eta = np.linspace(-5, 5, 11)
    var = np.linspace(0.1, 4, 11)
    np.testing.assert_allclose(normal_expectation(lambda x: x, eta, var)[0], eta, atol=1e-13)
    np.testing.assert_allclose(normal_expectation(np.exp, eta, var, step=0.4)[0], np.exp(eta + var / 2), rtol=1e-10)
    # a growing integrand tilts its mass to u ≈ +v whatever η is, also for a lone cell
    for sd in (2.0, 3.0):
        lone, _ = normal_expectation(np.exp, np.array([2.0]), np.array([sd**2]))
        np.testing.assert_allclose(lone, np.exp(2.0 + sd**2 / 2), rtol=1e-12)


def test_extreme_inputs_stay_finite_bounded_and_silent():
    eta = np.array([-700.0, -100.0, 0.0, 100.0, 700.0])
    with warnings.catch_warnings(), np.errstate(over="ignore"):
        warnings.simplefilter("error")
        for sd in [5.0, 20.0]:
            got, _ = normal_expectation(
                LINKS["logit"].inverse, eta, np.full(5, sd**2), step=LINKS["logit"].quadrature_step
            )
            assert np.all(np.isfinite(got)) and np.all((got >= 0) & (got <= 1))
            assert (
                got[0] < 1e-200 and got[-1] == pytest.approx(1.0, abs=1e-15) and got[2] == pytest.approx(0.5, abs=1e-12)
            )
