"""sample_new_levels="integrate" from the tables: every tabulated family and link, predictions, comparisons
and slopes, where sd(u) varies continuously across rows (a numeric slope in the group term), against a
high-order trapezoidal reference computed here cell by cell on the same draws."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

import mixeff
from mixeff.engine import kernels
from mixeff.engine.links import LINKS

pytestmark = pytest.mark.skipif(not kernels.enabled(), reason="the tables run in compiled kernels (numba)")

S = 200
INVERSE = {"logit": special.expit, "cloglog": lambda x: -np.expm1(-np.exp(x))}


def expect(f, eta, var):
    """E[f(η + u)], u ~ N(0, var), per cell: trapezoid in t = u/sd with h = 0.02 over |t| <= sd_max + 12."""
    eta, var = np.broadcast_arrays(np.asarray(eta, float), np.asarray(var, float))
    sd = np.sqrt(var)
    k = int(np.ceil((sd.max() + 12.0) / 0.02))
    total = np.zeros(eta.shape)
    for t in 0.02 * np.arange(-k, k + 1):
        total += 0.02 * np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi) * f(eta + sd * t)
    return total


def draws(shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    d = {
        "b_Intercept": rng.normal(-0.4 + shift, 0.3, S),
        "b_x": rng.normal(0.8, 0.2, S),
        "b_w": rng.normal(-0.6, 0.1, S),
        "b_zb": rng.normal(0.7, 0.2, S),
        "sd_g__Intercept": np.abs(rng.normal(1.2, 0.3, S)),
        "sd_g__x": np.abs(rng.normal(0.7, 0.2, S)),
        "cor_g__Intercept__x": np.clip(rng.normal(0.4, 0.1, S), -0.9, 0.9),
        "phi": np.abs(rng.normal(5.0, 1.0, S)),
    }
    for lev in "abc":
        d[f"r_g[{lev},Intercept]"] = rng.normal(0, 1, S)
        d[f"r_g[{lev},x]"] = rng.normal(0, 0.5, S)
    data = pd.DataFrame(
        {
            "y": [0, 1, 1, 0, 1, 0],
            "x": [-1.0, 0.0, 1.0, 0.5, -0.5, 2.0],
            "w": [0.0, 1.0, -1.0, 2.0, 0.5, -2.0],
            "z": ["a", "b", "a", "b", "a", "b"],
            "g": ["a", "b", "c", "a", "b", "c"],
            "n": [5, 5, 5, 5, 5, 5],
        }
    )
    return pd.DataFrame(d), data


def model(family, link, shift=0.0):
    d, data = draws(shift)
    if family == "beta":
        data = data.assign(y=[0.2, 0.5, 0.7, 0.4, 0.6, 0.3])
    if family == "binomial":
        data = data.assign(y=[1, 2, 3, 0, 4, 5])
    cols = [c for c in d if family == "beta" or c != "phi"]
    trials = dict(trials="n") if family == "binomial" else {}
    spec = mixeff.from_brms_draws(
        d[cols], formula="y ~ x + w + z + (1 + x | g)", data=data, family=family, link=link, **trials
    )
    return spec, d


def eta_var(d, grid):
    x, w, zb = (grid[c].to_numpy()[:, None] for c in ("x", "w", "zb"))
    eta = d["b_Intercept"].to_numpy() + x * d["b_x"].to_numpy() + w * d["b_w"].to_numpy() + zb * d["b_zb"].to_numpy()
    s0, s1, r = (d[c].to_numpy() for c in ("sd_g__Intercept", "sd_g__x", "cor_g__Intercept__x"))
    var = s0**2 + 2 * x * r * s0 * s1 + x**2 * s1**2
    return eta, var


CASES = [("bernoulli", "logit"), ("bernoulli", "cloglog"), ("binomial", "logit"), ("beta", "logit")]
KW = dict(allow_new_levels=True, sample_new_levels="integrate")


@pytest.mark.parametrize("family,link", CASES)
@pytest.mark.parametrize("shift", [0.0, -14.0, 9.0])  # probabilities near 0 and 1 included
def test_predictions_where_sd_varies_with_x(family, link, shift):
    spec, d = model(family, link, shift)
    grid = pd.DataFrame(
        {"x": [-2.5, -0.3, 0.0, 1.1, 3.0], "w": [0.5, -1.0, 2.0, 0.0, 1.5], "z": "a", "g": "new", "n": 5}
    )
    got = mixeff.predictions(spec, grid, **KW)
    eta, var = eta_var(d, grid.assign(zb=0.0))
    scale = 5.0 if family == "binomial" else 1.0
    np.testing.assert_allclose(got.draws, scale * expect(INVERSE[link], eta, var), rtol=1e-10, atol=0)
    assert got.new_levels["method"].startswith("tabulated: log E[F(η + u)] as Chebyshev degree 9 in η")


@pytest.mark.parametrize("family,link", CASES)
def test_comparisons_difference_ratio_lnor(family, link):
    spec, d = model(family, link)
    grid = pd.DataFrame({"x": [-1.5, 0.4, 2.0], "w": [0.3, -0.7, 1.0], "z": "a", "g": "new", "n": 5})
    eta, var = eta_var(d, grid.assign(zb=0.0))
    f = INVERSE[link]
    lo, hi = expect(f, eta, var), expect(f, eta + d["b_zb"].to_numpy(), var)
    if link == "logit":  # the exact increment, integrated (what the tables compute, without cancellation)
        step = np.broadcast_to(d["b_zb"].to_numpy(), eta.shape)
        diff = expect(lambda e: LINKS["logit"].increment(e, step), eta, var)
    else:
        diff = hi - lo
    scale = 5.0 if family == "binomial" else 1.0
    for comparison, expected in [
        ("difference", scale * diff),
        ("ratio", hi / lo),
        ("lnor", special.logit(hi) - special.logit(lo)),
    ]:
        if comparison == "lnor" and family == "binomial":
            continue  # the odds of a count are not defined
        got = mixeff.comparisons(spec, "z", newdata=grid, comparison=comparison, **KW).draws
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=0, err_msg=comparison)


def test_small_contrasts_keep_their_relative_accuracy():
    """A slope's step of a variable outside the group term: the integrated exact increment, to 1e-10."""
    spec, d = model("bernoulli", "logit")
    grid = pd.DataFrame({"x": [-1.5, 0.4, 2.0], "w": [0.3, -0.7, 1.0], "z": "a", "g": "new"})
    eps = 1e-6
    got = mixeff.slopes(spec, "w", newdata=grid, eps=eps, **KW).draws
    lo_w = grid["w"].to_numpy() - eps / 2
    step = (grid["w"].to_numpy() + eps / 2) - lo_w
    eta, var = eta_var(d, grid.assign(w=lo_w, zb=0.0))
    d_eta = step[:, None] * d["b_w"].to_numpy()
    ref = expect(lambda e: LINKS["logit"].increment(e, d_eta), eta, var) / step[:, None]
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)
    avg = mixeff.avg_slopes(spec, "w", newdata=grid, eps=eps, **KW).draws[0]
    np.testing.assert_allclose(avg, ref.mean(axis=0), rtol=1e-10)


def test_slopes_of_the_variable_in_the_group_term():
    """x moves both η and sd(u): the slope is the difference of two integrated means (1e-8 at eps 1e-4)."""
    spec, d = model("bernoulli", "logit")
    grid = pd.DataFrame({"x": [-1.5, 0.4, 2.0], "w": [0.3, -0.7, 1.0], "z": "a", "g": "new"})
    got = mixeff.slopes(spec, "x", newdata=grid, eps=1e-4, **KW).draws
    x = grid["x"].to_numpy()
    lo, hi = x - 0.5e-4, x + 0.5e-4
    means = [expect(special.expit, *eta_var(d, grid.assign(x=v, zb=0.0))) for v in (lo, hi)]
    np.testing.assert_allclose(got, (means[1] - means[0]) / (hi - lo)[:, None], rtol=1e-8)


def test_chunks_and_threads_do_not_change_a_bit():
    spec, _ = model("bernoulli", "logit")
    rng = np.random.default_rng(7)
    grid = pd.DataFrame(
        {"x": rng.normal(0, 1.5, 300), "w": rng.normal(size=300), "z": rng.choice(["a", "b"], 300), "g": "new"}
    )
    one = mixeff.avg_comparisons(spec, "z", newdata=grid, n_jobs=1, **KW).draws
    many = mixeff.avg_comparisons(spec, "z", newdata=grid, n_jobs=2, chunk_rows=7, **KW).draws
    np.testing.assert_array_equal(one, many)
    rows = mixeff.predictions(spec, grid, chunk_rows=13, n_jobs=2, **KW).draws
    np.testing.assert_array_equal(rows, mixeff.predictions(spec, grid, n_jobs=1, **KW).draws)


@pytest.mark.parametrize("shift", [0.0, 12.0])
def test_cumulative_logit_categories_from_the_table_and_sratio_by_quadrature(shift):
    rng = np.random.default_rng(2)
    d = pd.DataFrame(
        {
            "b_x": rng.normal(0.5, 0.1, S),
            "b_Intercept[1]": rng.normal(-1.0 + shift, 0.1, S),
            "b_Intercept[2]": rng.normal(-0.999 + shift, 1e-4, S),  # close thresholds: a small middle category
            "b_Intercept[3]": rng.normal(1.0 + shift, 0.1, S),
            "sd_g__Intercept": np.abs(rng.normal(1.0, 0.2, S)),
            **{f"r_g[{lev},Intercept]": rng.normal(0, 1, S) for lev in "ab"},
        }
    )
    d["b_Intercept[2]"] = np.maximum(d["b_Intercept[2]"], d["b_Intercept[1]"] + 1e-5)
    data = pd.DataFrame({"y": [1, 2, 3, 4], "x": [0.0, 1.0, -1.0, 0.5], "g": ["a", "b", "a", "b"]})
    spec = mixeff.from_brms_draws(d, formula="y ~ x + (1 | g)", data=data, family="cumulative")
    got = mixeff.predictions(spec, pd.DataFrame({"x": [0.3], "g": "new"}), **KW)
    assert got.new_levels["method"].startswith("tabulated")
    tau = d[["b_Intercept[1]", "b_Intercept[2]", "b_Intercept[3]"]].to_numpy()
    eta, var = 0.3 * d["b_x"].to_numpy(), d["sd_g__Intercept"].to_numpy() ** 2
    gaps = [
        expect(lambda e, k=k: LINKS["logit"].increment(e, tau[:, k + 1] - tau[:, k]), tau[:, k] - eta, var)
        for k in range(2)
    ]
    expected = [expect(special.expit, tau[:, 0] - eta, var), *gaps, expect(special.expit, eta - tau[:, 2], var)]
    np.testing.assert_allclose(got.draws, np.stack(expected), rtol=1e-10, atol=0)
    sratio = mixeff.from_brms_draws(d, formula="y ~ x + (1 | g)", data=data, family="sratio")
    got = mixeff.predictions(sratio, pd.DataFrame({"x": [0.3], "g": "new"}), **KW)
    assert got.new_levels["method"].startswith("trapezoidal quadrature")
    first = expect(special.expit, tau[:, 0] - eta, var)
    np.testing.assert_allclose(got.draws[0], first, rtol=1e-10)


def ordinal_model(link, seed=4):
    """A cumulative ``y ~ x + (1 + x | g)`` model, five categories (two thresholds 1e-3 apart), brms-named draws."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(
        {
            "b_x": rng.normal(0.9, 0.1, S),
            "b_Intercept[1]": rng.normal(-3.0, 0.1, S),
            "b_Intercept[2]": rng.normal(-0.5, 0.1, S),
            "b_Intercept[3]": rng.normal(0.5, 0.1, S),
            "b_Intercept[4]": rng.normal(2.5, 0.1, S),
            "sd_g__Intercept": np.abs(rng.normal(1.0, 0.2, S)),
            "sd_g__x": np.abs(rng.normal(0.6, 0.1, S)),
            "cor_g__Intercept__x": rng.uniform(0.1, 0.5, S),
            **{f"r_g[{lev},{t}]": rng.normal(0, 0.5, S) for lev in "ab" for t in ("Intercept", "x")},
        }
    )
    d["b_Intercept[3]"] = d["b_Intercept[2]"] + 1e-3  # a category 1e-3 wide
    data = pd.DataFrame({"y": [1, 2, 3, 4, 5], "x": [0.0, 1.0, -1.0, 0.5, 2.0], "g": ["a", "b", "a", "b", "a"]})
    spec = mixeff.from_brms_draws(d, formula="y ~ x + (1 + x | g)", data=data, family="cumulative", link=link)
    return spec, d


ORDINAL_CDF = {"probit": special.ndtr, "cloglog": INVERSE["cloglog"]}


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_cumulative_probit_and_cloglog_categories_are_the_engines_rule(link):
    """predictions at a new level: the engine's closed form (probit) or tables (cloglog), applied to η and zᵀΣz by
    hand, and within 1e-10 of the trapezoidal reference where that is accurate (moderate probabilities)."""
    from mixeff.engine.predictor import integrated_response

    spec, d = ordinal_model(link)
    x = np.array([-6.0, -1.5, 0.0, 0.7, 2.0, 5.0])
    got = mixeff.predictions(spec, pd.DataFrame({"x": x, "g": "new"}), **KW)
    method = got.new_levels["method"]
    if link == "probit":
        assert method == "closed form"
    else:
        assert method.startswith("tabulated: log E[F(η + u)]") and "above 0, log(1 − E[F(η + u)])" in method
    tau = d[[f"b_Intercept[{k}]" for k in range(1, 5)]].to_numpy()
    eta = x[:, None] * d["b_x"].to_numpy()
    s0, s1, r = (d[c].to_numpy() for c in ("sd_g__Intercept", "sd_g__x", "cor_g__Intercept__x"))
    var = s0**2 + 2 * x[:, None] * r * s0 * s1 + x[:, None] ** 2 * s1**2
    rows = np.repeat(np.arange(5), len(x)), np.tile(np.arange(len(x)), 5)  # the result's rows: category-major
    aux = {"threshold": tau, "category": rows[0]}
    engine, _ = integrated_response(spec, eta[rows[1]], var[rows[1]], None, aux)
    # η by hand differs from the engine's in the last bit, which the 1e-3-wide category's a and b amplify by 1e3
    np.testing.assert_allclose(got.draws, engine, rtol=1e-11, atol=0)
    f = ORDINAL_CDF[link]
    cdf = [np.zeros_like(eta)] + [expect(f, tau[:, k] - eta, var) for k in range(4)] + [np.ones_like(eta)]
    ref = np.concatenate([cdf[k + 1] - cdf[k] for k in range(5)])
    moderate = (ref > 1e-3) & (ref < 1 - 1e-3)  # a plain difference of trapezoidal CDFs is accurate there
    assert moderate.mean() > 0.4
    np.testing.assert_allclose(got.draws[moderate], ref[moderate], rtol=1e-10, atol=0)
    np.testing.assert_allclose(got.draws.reshape(5, len(x), S).sum(axis=0), 1.0, rtol=0, atol=1e-12)


def test_cumulative_cloglog_comparisons_are_the_difference_of_the_integrated_averages():
    spec, _ = ordinal_model("cloglog")
    grid = pd.DataFrame({"x": [-2.0, -0.3, 0.4, 1.8], "g": "new"})
    got = mixeff.avg_comparisons(spec, "x", newdata=grid, **KW).draws
    lo = mixeff.avg_predictions(spec, grid, **KW).draws
    hi = mixeff.avg_predictions(spec, grid.assign(x=grid["x"] + 1), **KW).draws
    assert np.isfinite(got).all() and got.shape == (5, S)
    np.testing.assert_allclose(got, hi - lo, rtol=0, atol=1e-12)
    assert np.abs(got).max() > 0.05  # the contrast is not trivially 0


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_ordinal_integration_does_not_change_a_bit_with_chunks_or_threads(link):
    spec, _ = ordinal_model(link)
    rng = np.random.default_rng(8)
    grid = pd.DataFrame({"x": rng.normal(0, 3.0, 150), "g": "new"})
    one = mixeff.predictions(spec, grid, n_jobs=1, **KW).draws
    many = mixeff.predictions(spec, grid, n_jobs=2, chunk_rows=7, **KW).draws
    np.testing.assert_array_equal(one, many)
    a = mixeff.avg_comparisons(spec, "x", newdata=grid, n_jobs=1, **KW).draws
    b = mixeff.avg_comparisons(spec, "x", newdata=grid, n_jobs=2, chunk_rows=11, **KW).draws
    np.testing.assert_array_equal(a, b)
