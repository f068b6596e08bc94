"""slopes / avg_slopes: MAR.1, MAR.6, MAR.7 (seed 001) and elasticities against numpy on the same draws."""

import numpy as np
import pytest
from scipy import special

import mixeff
from mixeff import avg_slopes, comparisons, datagrid, get_draws, new_levels, predictions, slopes


def flat(da):
    v = da.transpose("chain", "draw", ...).values
    return v.reshape(-1, *v.shape[2:])


# --------------------------------------------------------------------------- MAR.1


def test_mar1_lmm_slope_is_the_same_with_zero_existing_or_new_random_effects(gaussian_ri_fit):
    fit = gaussian_ri_fit
    data = fit.spec().data
    beta_x = flat(fit.idata["posterior"]["x"])
    zero = slopes(fit, "x", re_formula="NA")
    existing = slopes(fit, "x")
    new = slopes(
        fit,
        "x",
        newdata=data.assign(g="new_" + data["g"].astype(str)),
        allow_new_levels=True,
        sample_new_levels="gaussian",
        seed=1,
    )
    assert zero.summary["contrast"].unique().tolist() == ["dY/dX"]
    # random intercepts cancel in the exact link-scale difference: identical, not just close
    assert np.abs(existing.draws - zero.draws).max() <= 1e-10
    assert np.abs(new.draws - zero.draws).max() <= 1e-10
    # and the slope is β_x in every row and draw: Δη = (X_hi − X_lo)β divided by the realised step
    np.testing.assert_allclose(zero.draws, np.broadcast_to(beta_x, zero.draws.shape), rtol=1e-13)
    # averaged within draw, too
    avg = avg_slopes(
        fit,
        "x",
        newdata=data.assign(g="new_" + data["g"].astype(str)),
        allow_new_levels=True,
        sample_new_levels="gaussian",
        seed=2,
    )
    assert avg.summary["contrast"].tolist() == ["mean(dY/dX)"]
    np.testing.assert_allclose(avg.draws[0], beta_x, rtol=1e-10)


def test_random_slope_enters_the_slope(sleep_fit):
    # Days has a random slope: dY/dDays = β_Days + b_Days[subject], or β_Days with only (1|Subject)
    post = sleep_fit.idata["posterior"]
    beta = flat(post["Days"])
    b = flat(post["Days|Subject"])  # (S, subjects)
    levels = post["Days|Subject"].coords["Subject__factor_dim"].values.astype(str).tolist()
    subject = sleep_fit.spec().data["Subject"].astype(str)
    expected = beta[None, :] + b[:, [levels.index(s) for s in subject]].T
    np.testing.assert_allclose(slopes(sleep_fit, "Days").draws, expected, rtol=1e-12, atol=1e-12)
    only_intercepts = slopes(sleep_fit, "Days", re_formula="~(1|Subject)").draws
    np.testing.assert_allclose(only_intercepts, np.broadcast_to(beta, only_intercepts.shape), rtol=1e-12)


# --------------------------------------------------------------------------- MAR.6 / MAR.7


def _logit_params(fit):
    post = fit.idata["posterior"]
    return flat(post["Intercept"]), flat(post["x"]), flat(post["1|g_sigma"])


def test_mar6_mar7_marginal_slope_is_attenuated_on_response_scale_only(bernoulli_fit):
    fit = bernoulli_fit
    b0, bx, sd = _logit_params(fit)
    x0, k = 2.0, 400  # x0 = 2: η = b0 + 2·bx ≈ 0 for the true parameters, where σ' peaks
    cond_grid = datagrid(fit, x=x0, z="a")
    marg_grid = datagrid(fit, x=x0, z="a", g=new_levels(k))
    marg_kw = dict(newdata=marg_grid, allow_new_levels=True, sample_new_levels="gaussian", seed=4)
    cond = avg_slopes(fit, "x", newdata=cond_grid, re_formula="NA")
    with pytest.warns(mixeff.MonteCarloWarning, match="Monte Carlo error"):  # the error checked below
        marg = avg_slopes(fit, "x", **marg_kw)

    eta = b0 + bx * x0
    # conditional: d/dx expit(η) = bx·σ'(η), up to the O(eps²) finite-difference error
    np.testing.assert_allclose(cond.draws[0], bx * special.expit(eta) * special.expit(-eta), rtol=1e-6)
    # marginal: bx·E_b[σ'(η + b)], b ~ N(0, sd²), by Gauss-Hermite quadrature; the K-cluster
    # estimate must be within 3 Monte Carlo SEs (sd over clusters / √K, per draw; errors are
    # independent across draws, so the mean error has SE sqrt(Σ se²)/S)
    t, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    e = eta[:, None] + sd[:, None] * t
    dens = special.expit(e) * special.expit(-e)
    quad = bx * (dens * w).sum(axis=1)
    se = np.abs(bx) * np.sqrt(((dens**2 * w).sum(axis=1) - (dens * w).sum(axis=1) ** 2) / k)
    err = marg.draws[0] - quad
    assert abs(err.mean()) < 3 * np.sqrt(np.sum(se**2)) / se.size
    assert 0.75 < np.mean((err / se) ** 2) < 1.35

    # MAR.6: attenuated on the response scale (posterior summary, and in nearly every draw)
    assert abs(marg.summary["estimate"][0]) < abs(cond.summary["estimate"][0])
    assert np.mean(np.abs(marg.draws[0]) < np.abs(cond.draws[0])) > 0.95
    # MAR.7: on the link scale the two are equal (to β_x) in every draw
    cond_link = avg_slopes(fit, "x", newdata=cond_grid, re_formula="NA", type="link")
    marg_link = avg_slopes(fit, "x", type="link", **marg_kw)
    assert np.abs(cond_link.draws - marg_link.draws).max() <= 1e-10
    np.testing.assert_allclose(cond_link.draws[0], bx, rtol=1e-10)


# --------------------------------------------------------------------------- elasticities vs numpy


@pytest.mark.parametrize("slope", ["dydx", "eyex", "eydx", "dyex"])
def test_elasticities_match_numpy(bernoulli_fit, slope):
    fit = bernoulli_fit
    data = fit.spec().data
    _, bx, _ = _logit_params(fit)
    y = predictions(fit).draws  # prediction at each row's own x
    x = data["x"].to_numpy()[:, None]
    dydx = bx * y * (1 - y)  # d expit(η)/dx
    expected = {"dydx": dydx, "eyex": dydx * x / y, "eydx": dydx / y, "dyex": dydx * x}[slope]
    r = slopes(fit, "x", slope=slope)
    np.testing.assert_allclose(r.draws, expected, rtol=1e-6, atol=1e-12)
    label = {"dydx": "dY/dX", "eyex": "eY/eX", "eydx": "eY/dX", "dyex": "dY/eX"}[slope]
    assert set(r.summary["contrast"]) == {label}
    a = avg_slopes(fit, "x", slope=slope, by="z")
    for i, lev in enumerate(a.summary["z"]):
        m = (data["z"] == lev).to_numpy()
        # averages of signed elasticities can be near 0: tolerance relative to the row values
        np.testing.assert_allclose(a.draws[i], expected[m].mean(axis=0), rtol=1e-6, atol=1e-7 * np.abs(expected).max())
    assert set(a.summary["contrast"]) == {f"mean({label})"}


def test_link_scale_slope_and_elasticity(bernoulli_fit):
    fit = bernoulli_fit
    _, bx, _ = _logit_params(fit)
    eta = predictions(fit, type="link").draws
    x = fit.spec().data["x"].to_numpy()[:, None]
    np.testing.assert_allclose(slopes(fit, "x", type="link").draws, np.broadcast_to(bx, eta.shape), rtol=1e-10)
    np.testing.assert_allclose(slopes(fit, "x", type="link", slope="eyex").draws, bx * x / eta, rtol=1e-9)


def test_step_is_central_difference_of_predictions(bernoulli_fit, logistic_data):
    fit = bernoulli_fit
    data = fit.spec().data
    h = 1e-4 * (logistic_data["x"].max() - logistic_data["x"].min())
    lo = predictions(fit, data.assign(x=data["x"] - h / 2)).draws
    hi = predictions(fit, data.assign(x=data["x"] + h / 2)).draws
    ours = slopes(fit, "x").draws
    np.testing.assert_allclose(ours, (hi - lo) / h, rtol=1e-7, atol=1e-10)
    # an explicit step is honoured
    big = slopes(fit, "x", eps=1.0).draws
    lo1 = predictions(fit, data.assign(x=data["x"] - 0.5)).draws
    hi1 = predictions(fit, data.assign(x=data["x"] + 0.5)).draws
    np.testing.assert_allclose(big, hi1 - lo1, rtol=1e-9, atol=1e-13)


def test_categorical_variables_fall_back_to_contrasts(bernoulli_fit, magnusson_fit):
    s = avg_slopes(bernoulli_fit, ["x", "z"])
    assert s.summary[["term", "contrast"]].values.tolist() == [["x", "mean(dY/dX)"], ["z", "b - a"], ["z", "c - a"]]
    c = comparisons(bernoulli_fit, "z", by=True)
    np.testing.assert_allclose(s.draws[1:], c.draws, rtol=1e-13)
    assert c.summary["contrast"].tolist() == ["b - a", "c - a"]
    # a 0/1 variable is a contrast too (the seed's TX); on the link scale it is β_TX
    tx = slopes(magnusson_fit, "TX", type="link", newdata=datagrid(magnusson_fit, TX=0))
    assert tx.summary["contrast"].tolist() == ["1 - 0"]
    np.testing.assert_allclose(tx.draws[0], flat(magnusson_fit.idata["posterior"]["TX"]), rtol=1e-13)
    assert len(get_draws(tx, "long")) == tx.draws.shape[1]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(variables="x", slope="dxdy"), ["slope='dxdy'", "dydx", "eyex"]),
        (dict(variables="w"), ["variables", "'w'", "not a predictor"]),
        (dict(variables={"x": 1}), ["variables", "'x'", "names only"]),
        (dict(variables="x", eps=0), ["eps=0", "positive"]),
        (dict(variables={"z": ["a", "q"]}), ["'q'", "does not exist"]),
    ],
)
def test_bad_input_is_a_clear_value_error(bernoulli_fit, kwargs, words):
    with pytest.raises(ValueError) as err:
        slopes(bernoulli_fit, **kwargs)
    for w in words:
        assert w in str(err.value), (w, str(err.value))
