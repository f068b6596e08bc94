"""engine.predictor on toy specs: η = Xβ + Zb by hand, the family means, and new levels integrated out
against scipy's adaptive quadrature."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats
from toy_models import LEVELS, eta_by_hand, make_spec

import mixeff
from mixeff.engine.design import prepare
from mixeff.engine.options import PassOptions
from mixeff.engine.predictor import (
    integrated_response,
    linear_predictor,
    new_level_variance,
    response,
    rows_times,
)
from mixeff.engine.random_effects import covariance, plan_random_effects


def planned(spec, frame, how="gaussian", seed=3):
    options = PassOptions(include={"g": [0, 1]}, allow_new_levels=True, sample_new_levels=how)
    plans = plan_random_effects(spec.groups, options.include, [frame], options, np.random.default_rng(seed))
    return plans, prepare(spec, plans, frame, "response")


def level_table(spec, plan):
    """Level label -> its (S, 2) effects: the model's own draws for existing levels, the plan's for new ones."""
    table = {lev: spec.groups["g"].b[:, i, :] for i, lev in enumerate(LEVELS)}
    for i, lev in enumerate(plan.labels[len(LEVELS) :], start=len(LEVELS)):
        table[lev] = plan.table_t[:, i, :].T
    return table


@pytest.mark.parametrize("compiled", [True, False])
def test_linear_predictor_is_x_beta_plus_z_b_by_hand(spec, frame, compiled, request):
    calls = request.getfixturevalue("compiled_calls") if compiled else None
    plans, design = planned(spec, frame)
    before = mixeff.set_options(compiled=compiled)
    try:
        eta = linear_predictor(spec, plans, design, slice(0, len(frame)))
        chunk = linear_predictor(spec, plans, design, slice(2, 5))
    finally:
        mixeff.set_options(**before)
    if compiled:  # (1 + x | g): both terms have a z column, added by the compiled kernel
        assert calls["add_effects"] == 4
    ref = eta_by_hand(spec, frame, level_table(spec, plans[0]))
    np.testing.assert_allclose(eta, ref, rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(chunk, eta[2:5])  # a chunk is the same rows, bit for bit


def test_rows_times_one_row_equals_the_same_row_of_a_block():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 7)), rng.normal(size=(7, 300))
    block = rows_times(a, b)
    np.testing.assert_allclose(block, a @ b, rtol=1e-13)
    for i in range(5):
        np.testing.assert_array_equal(rows_times(a[i : i + 1], b), block[i : i + 1])
    out = np.empty((2, 300))
    np.testing.assert_array_equal(rows_times(a[:1], b, out=out), block[:1])


@pytest.mark.parametrize(
    "family, mean",
    [
        ("gaussian", lambda eta, sigma: eta),
        ("lognormal", lambda eta, sigma: np.exp(eta + sigma**2 / 2)),
        ("bernoulli", lambda eta, sigma: special.expit(eta)),
        ("poisson", lambda eta, sigma: np.exp(eta)),
    ],
)
def test_response_is_the_family_mean_of_the_inverse_link(family, mean):
    spec = make_spec(family)
    eta = np.random.default_rng(1).normal(0, 1.5, (6, spec.n_samples))
    sigma = spec.aux.get("sigma")
    aux = {} if sigma is None else {"sigma": sigma}
    got = response(spec, "response", eta.copy(), None, np.random.default_rng(0), aux)
    np.testing.assert_allclose(got, mean(eta, sigma), rtol=1e-13)


def test_new_level_variance_is_z_sigma_z_on_new_rows_only(spec, frame):
    plans, design = planned(spec, frame, how="integrate")
    idx, var = new_level_variance(plans, design, slice(0, len(frame)))
    np.testing.assert_array_equal(idx, [3, 5, 6])  # the rows at n1, n1, n2
    cov = covariance(spec.groups["g"])
    for pos, r in enumerate(idx):
        z = np.array([1.0, frame["x"][r]])
        np.testing.assert_allclose(var[pos], np.einsum("i,sij,j->s", z, cov, z), rtol=1e-12)
    existing = frame[frame["g"].isin(LEVELS)].reset_index(drop=True)
    plans, design = planned(spec, existing, how="integrate")
    assert new_level_variance(plans, design, slice(0, len(existing))) is None


@pytest.mark.parametrize("x", ["one value", "two values", "every row its own"])
def test_new_level_variance_from_distinct_z_has_the_bits_of_each_row_alone(spec, x):
    """Where rows share z (an intercept, a 0/1 slope), zᵀΣz is computed once per distinct z and gathered:
    each row's bits are those of its own computation, row by row."""
    rng = np.random.default_rng(4)
    n = 64
    values = {
        "one value": np.full(n, 0.7),
        "two values": rng.choice([0.0, 1.0], n),
        "every row its own": rng.normal(size=n),
    }
    frame = pd.DataFrame({"x": values[x], "g": ["n1"] * n})
    plans, design = planned(spec, frame, how="integrate")
    idx, var = new_level_variance(plans, design, slice(0, n))
    np.testing.assert_array_equal(idx, np.arange(n))
    alone = np.concatenate([new_level_variance(plans, design, slice(r, r + 1))[1] for r in range(n)])
    np.testing.assert_array_equal(var, alone)
    cov = covariance(spec.groups["g"])
    z = np.column_stack([np.ones(n), frame["x"]])
    np.testing.assert_allclose(var, np.einsum("ri,sij,rj->rs", z, cov, z), rtol=1e-12)


def test_integrated_logistic_mean_equals_adaptive_quadrature():
    """E[expit(η + u)], u ~ N(0, v), cell by cell against scipy.integrate.quad."""
    spec = make_spec("bernoulli")
    rng = np.random.default_rng(2)
    eta, var = rng.normal(0, 2, (3, 4)), rng.uniform(0.1, 4, (3, 4))
    got, info = integrated_response(spec, eta.copy(), var, None, {})
    assert info.nodes > 0 and info.error_bound <= 1e-10

    def by_quad(e, v):
        sd = np.sqrt(v)
        return integrate.quad(
            lambda u: special.expit(e + u) * stats.norm.pdf(u, 0, sd), -40 * sd, 40 * sd, epsabs=0, epsrel=1e-12
        )[0]

    np.testing.assert_allclose(got, np.vectorize(by_quad)(eta, var), rtol=1e-9)


def test_integrated_means_in_closed_form():
    """Closed forms: identity E[η + u] = η; log E[exp(η + u)] = exp(η + v/2); probit Φ(η / √(1 + v))."""
    rng = np.random.default_rng(3)
    eta, var = rng.normal(0, 1, (2, 5)), rng.uniform(0.1, 2, (2, 5))
    got, info = integrated_response(make_spec("gaussian"), eta.copy(), var, None, {"sigma": np.full(5, 0.7)})
    np.testing.assert_allclose(got, eta, rtol=1e-14)
    assert info.method == "closed form" and info.nodes == 0
    got, _ = integrated_response(make_spec("poisson"), eta.copy(), var, None, {})
    np.testing.assert_allclose(got, np.exp(eta + var / 2), rtol=1e-13)
    got, _ = integrated_response(make_spec("bernoulli", link="probit"), eta.copy(), var, None, {})
    np.testing.assert_allclose(got, stats.norm.cdf(eta / np.sqrt(1 + var)), rtol=1e-12)
