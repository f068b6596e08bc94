"""sample_new_levels="integrate": new levels integrated out exactly, checked against independent computations."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate as sp_integrate
from scipy import special

import mixeff
from mixeff import datagrid, new_levels


def expect_1d(fn, eta, var):
    """E[fn(eta + u)], u ~ N(0, var): scipy's adaptive quad_vec over t = u/sd (an independent reference).

    Its tolerance is relative to the largest cell, so it suits cells of similar size
    (the extreme tails are checked cell by cell with quad below).
    """
    eta, var = np.broadcast_arrays(np.asarray(eta, float), np.asarray(var, float))
    sd = np.sqrt(var)
    phi = lambda t: np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi)  # noqa: E731
    value, _ = sp_integrate.quad_vec(
        lambda t: fn(eta + sd * t) * phi(t),
        -45,
        45,
        epsabs=0,
        epsrel=1e-13,
        points=[-10, -5, -2, 0, 2, 5, 10],
        limit=10000,
    )
    return value


# --------------------------------------------------------------------------- hand-written brms draws


def brms_draws(family="bernoulli", cor=0.5, n=300, seed=0, crossed=False):
    """Draws of y ~ x + (1 + x | g) [+ (1 | h)] with brms names, and the data they belong to."""
    rng = np.random.default_rng(seed)
    levels = ["a", "b", "c"]
    d = {
        "b_Intercept": rng.normal(-0.3, 0.3, n),
        "b_x": rng.normal(0.8, 0.2, n),
        "sd_g__Intercept": np.abs(rng.normal(1.2, 0.3, n)),
        "sd_g__x": np.abs(rng.normal(0.7, 0.2, n)),
        "cor_g__Intercept__x": np.clip(rng.normal(cor, 0.1, n), -0.95, 0.95),
    }
    for lev in levels:
        d[f"r_g[{lev},Intercept]"] = rng.normal(0, 1, n)
        d[f"r_g[{lev},x]"] = rng.normal(0, 0.5, n)
    if crossed:
        d["sd_h__Intercept"] = np.abs(rng.normal(0.9, 0.2, n))
        for lev in ["p", "q"]:
            d[f"r_h[{lev},Intercept]"] = rng.normal(0, 0.9, n)
    if family == "negativebinomial":
        d["shape"] = np.abs(rng.normal(3.0, 0.3, n))
    data = pd.DataFrame(
        {
            "y": [0, 1, 1, 0, 1, 0],
            "x": [-1.0, 0.0, 1.0, 0.5, -0.5, 2.0],
            "g": ["a", "b", "c", "a", "b", "c"],
            "h": ["p", "q", "p", "q", "p", "q"],
        }
    )
    formula = "y ~ x + (1 + x | g)" + (" + (1 | h)" if crossed else "")
    return pd.DataFrame(d), data, formula


def _sigma(draws):
    s0, s1, r = (draws[c].to_numpy() for c in ["sd_g__Intercept", "sd_g__x", "cor_g__Intercept__x"])
    return s0, s1, r


def test_correlated_logit_equals_2d_gauss_hermite():
    draws, data, formula = brms_draws()
    spec = mixeff.from_brms_draws(draws, formula=formula, data=data, family="bernoulli")
    grid = pd.DataFrame({"x": [-2.0, 0.0, 1.5], "g": ["new", "new", "new"]})
    got = mixeff.predictions(spec, grid, allow_new_levels=True, sample_new_levels="integrate")
    t, w = special.roots_hermitenorm(60)
    w = w / w.sum()
    s0, s1, r = _sigma(draws)
    b0, b1 = draws["b_Intercept"].to_numpy(), draws["b_x"].to_numpy()
    for i, x in enumerate(grid["x"]):
        # b = L (t1, t2) with L the Cholesky factor of Σ; u = b0 + x b1
        l11, l21, l22 = s0, r * s1, s1 * np.sqrt(1 - r**2)
        u = (l11 + x * l21)[:, None, None] * t[None, :, None] + (x * l22)[:, None, None] * t[None, None, :]
        eta = (b0 + x * b1)[:, None, None] + u
        ref = (special.expit(eta) * w[None, :, None] * w[None, None, :]).sum(axis=(1, 2))
        np.testing.assert_allclose(got.draws[i], ref, rtol=1e-9, atol=0)
    assert got.new_levels["how"] == "integrate" and got.new_levels["factors"] == ["g"]
    assert "integrated over new levels of g (exact" in repr(got)


@pytest.mark.parametrize(
    "family,link,fn",
    [
        ("bernoulli", "probit", None),
        ("poisson", "log", None),
        ("negativebinomial", "log", None),
    ],
)
def test_closed_forms(family, link, fn):
    draws, data, formula = brms_draws(family)
    spec = mixeff.from_brms_draws(draws, formula=formula, data=data, family=family, link=link)
    grid = pd.DataFrame({"x": [-1.0, 0.3, 2.0], "g": "new"})
    got = mixeff.predictions(spec, grid, allow_new_levels=True, sample_new_levels="integrate").draws
    s0, s1, r = _sigma(draws)
    x = grid["x"].to_numpy()[:, None]
    eta = draws["b_Intercept"].to_numpy() + x * draws["b_x"].to_numpy()
    v = s0**2 + 2 * x * r * s0 * s1 + x**2 * s1**2
    expected = special.ndtr(eta / np.sqrt(1 + v)) if link == "probit" else np.exp(eta + v / 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # and the closed forms agree with quadrature of the inverse link
    inverse = special.ndtr if link == "probit" else np.exp
    np.testing.assert_allclose(expected, expect_1d(inverse, eta, v), rtol=1e-9)


def test_crossed_factors_add_variances_and_existing_levels_stay():
    draws, data, formula = brms_draws(crossed=True)
    spec = mixeff.from_brms_draws(draws, formula=formula, data=data, family="bernoulli")
    s0, s1, r = _sigma(draws)
    sh = draws["sd_h__Intercept"].to_numpy()
    b0, b1 = draws["b_Intercept"].to_numpy(), draws["b_x"].to_numpy()
    grid = pd.DataFrame({"x": [0.5, 0.5, 0.5], "g": ["new", "new", "a"], "h": ["new", "p", "new"]})
    got = mixeff.predictions(spec, grid, allow_new_levels=True, sample_new_levels="integrate").draws
    eta = b0 + 0.5 * b1
    var_g = s0**2 + 2 * 0.5 * r * s0 * s1 + 0.25 * s1**2
    # both new: summed variances
    np.testing.assert_allclose(got[0], expect_1d(special.expit, eta, var_g + sh**2), rtol=1e-9)
    # g new, h existing: h's effect enters η, only g is integrated
    eta_p = eta + draws["r_h[p,Intercept]"].to_numpy()
    np.testing.assert_allclose(got[1], expect_1d(special.expit, eta_p, var_g), rtol=1e-9)
    # g existing, h new
    eta_a = eta + draws["r_g[a,Intercept]"].to_numpy() + 0.5 * draws["r_g[a,x]"].to_numpy()
    np.testing.assert_allclose(got[2], expect_1d(special.expit, eta_a, sh**2), rtol=1e-9)


def test_existing_levels_are_unchanged_and_link_scale_is_eta():
    draws, data, formula = brms_draws()
    spec = mixeff.from_brms_draws(draws, formula=formula, data=data, family="bernoulli")
    grid = pd.DataFrame({"x": [0.2, 1.0, -0.4], "g": ["a", "new", "c"]})
    got = mixeff.predictions(spec, grid, allow_new_levels=True, sample_new_levels="integrate").draws
    plain = mixeff.predictions(spec, grid.iloc[[0, 2]]).draws
    np.testing.assert_array_equal(got[[0, 2]], plain)
    link = mixeff.predictions(spec, grid, allow_new_levels=True, sample_new_levels="integrate", type="link").draws
    fixed = draws["b_Intercept"].to_numpy() + 1.0 * draws["b_x"].to_numpy()
    np.testing.assert_allclose(link[1], fixed, rtol=1e-14)


def test_extreme_eta_and_variance_stay_finite_and_accurate():
    rng = np.random.default_rng(3)
    s = 8
    data = pd.DataFrame({"x": [0.0, 1.0], "g": ["a", "b"]})
    for b0, sd in [(-15.0, 5.0), (15.0, 5.0), (-15.0, 0.05), (0.0, 5.0)]:
        group = mixeff.model.spec.GroupFactor(
            name="g",
            columns=("g",),
            levels=np.array(["a", "b"]),
            terms=["Intercept"],
            b=rng.normal(0, sd, (s, 2, 1)),
            sd=np.full((s, 1), sd),
            cor=None,
            design=lambda f: np.ones((len(f), 1)),
            term_blocks={"1": [0]},
        )
        spec = mixeff.from_arrays(
            fixed_design=lambda f: np.ones((len(f), 1)),
            beta=np.full((s, 1), b0),
            beta_names=["Intercept"],
            family="bernoulli",
            data=data,
            groups=[group],
        )
        with np.errstate(all="raise"):
            got = mixeff.predictions(
                spec, pd.DataFrame({"g": ["new"]}), allow_new_levels=True, sample_new_levels="integrate"
            ).draws[0]
        pdf = lambda u, sd=sd: np.exp(-0.5 * (u / sd) ** 2) / (sd * np.sqrt(2 * np.pi))  # noqa: E731
        mode = -b0 if abs(b0) < sd**2 else np.sign(-b0) * sd**2  # where expit(b0 + u) pdf(u) peaks
        ref = sum(
            sp_integrate.quad(
                lambda u, b0=b0, pdf=pdf: special.expit(b0 + u) * pdf(u), a, c, epsabs=0, epsrel=1e-13, limit=500
            )[0]
            for a, c in [(-60 * sd - 60, mode), (mode, 60 * sd + 60)]
        )
        assert np.all(np.isfinite(got)) and np.all((got > 0) & (got < 1))
        np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_integrate_agrees_with_many_gaussian_levels_within_mc_error(bernoulli_fit):
    k = 20000
    grid = datagrid(bernoulli_fit, g=new_levels(k))
    sim = mixeff.predictions(bernoulli_fit, grid, allow_new_levels=True, sample_new_levels="gaussian", seed=5)
    exact = mixeff.predictions(
        bernoulli_fit, datagrid(bernoulli_fit, g=new_levels(1)), allow_new_levels=True, sample_new_levels="integrate"
    )
    mc_mean = sim.draws.mean(axis=0)
    mc_se = sim.draws.std(axis=0, ddof=1) / np.sqrt(k)
    z = (mc_mean - exact.draws[0]) / mc_se
    assert np.all(np.abs(z) < 4), np.abs(z).max()
    assert abs(z.mean()) < 4 / np.sqrt(len(z))  # no bias across draws either


def test_lognormal_seed_model_predictions_and_ate_are_the_moment_formula(magnusson_fit):
    spec = magnusson_fit.spec()
    b0 = spec.beta[:, spec.beta_names.index("Intercept")]
    b1 = spec.beta[:, spec.beta_names.index("TX")]
    v = (spec.groups["cluster"].sd[:, 0] ** 2 + spec.aux["sigma"] ** 2) / 2
    grid = datagrid(magnusson_fit, TX=[0, 1], cluster=new_levels(1))
    p = mixeff.predictions(magnusson_fit, grid, allow_new_levels=True, sample_new_levels="integrate")
    np.testing.assert_allclose(p.draws, np.exp(b0 + np.outer([0, 1], b1) + v), rtol=1e-10)
    ate = mixeff.avg_comparisons(
        magnusson_fit,
        variables="TX",
        newdata=datagrid(magnusson_fit, cluster=new_levels(1)),
        allow_new_levels=True,
        sample_new_levels="integrate",
    )
    np.testing.assert_allclose(ate.draws[0], np.exp(b0 + b1 + v) - np.exp(b0 + v), rtol=1e-10)
    assert ate.new_levels["method"] == "closed form" and "closed form" in repr(ate)
    # the population-averaged log ratio of a log-link model is β_TX itself
    lnr = mixeff.avg_comparisons(
        magnusson_fit,
        variables="TX",
        comparison="lnratio",
        newdata=datagrid(magnusson_fit, cluster=new_levels(1)),
        allow_new_levels=True,
        sample_new_levels="integrate",
    )
    np.testing.assert_allclose(lnr.draws[0], b1, rtol=1e-10)


def test_integrated_contrast_and_slope_of_a_logit_model(bernoulli_fit):
    """Contrasts take differences of integrated means; slopes differentiate the integrated mean."""
    spec = bernoulli_fit.spec()
    beta = dict(zip(spec.beta_names, spec.beta.T))
    var = spec.groups["g"].sd[:, 0] ** 2
    grid = datagrid(bernoulli_fit, x=[-0.5, 0.7], z="a", g=new_levels(1))
    kw = dict(allow_new_levels=True, sample_new_levels="integrate")
    eta = beta["Intercept"] + np.outer(grid["x"], beta["x"])
    p = mixeff.predictions(bernoulli_fit, grid, **kw).draws
    np.testing.assert_allclose(p, expect_1d(special.expit, eta, var), rtol=1e-9)
    c = mixeff.comparisons(bernoulli_fit, "z", newdata=grid, comparison="lnor", **kw)
    eta_b = eta + beta["z[b]"]
    ref = expect_1d(special.expit, eta_b, var), expect_1d(special.expit, eta, var)
    lnor = special.logit(ref[0]) - special.logit(ref[1])
    got = c.draws[c.summary["contrast"].str.contains("b").to_numpy()]
    np.testing.assert_allclose(got, lnor, rtol=1e-8)
    # population-averaged log odds ratios are attenuated towards 0 relative to the conditional β
    assert np.mean(np.abs(got[0]) < np.abs(beta["z[b]"])) > 0.95
    s = mixeff.slopes(bernoulli_fit, "x", newdata=grid, **kw).draws
    dexpit = lambda e: special.expit(e) * special.expit(-e)  # noqa: E731
    np.testing.assert_allclose(s, beta["x"] * expect_1d(dexpit, eta, var), rtol=1e-7)


def test_bad_requests_are_clear_errors(magnusson_fit):
    grid = datagrid(magnusson_fit, TX=[0, 1], cluster=new_levels(1))
    with pytest.raises(ValueError, match="type='prediction'.*sample_new_levels='gaussian'"):
        mixeff.predictions(magnusson_fit, grid, allow_new_levels=True, sample_new_levels="integrate", type="prediction")
    with pytest.raises(ValueError, match="allow_new_levels=True"):
        mixeff.predictions(magnusson_fit, grid, sample_new_levels="integrate")
    draws, data, formula = brms_draws()
    draws["shape"] = 2.0
    spec = mixeff.from_brms_draws(draws, formula=formula, data=data, family="gamma", link="inverse")
    with pytest.raises(ValueError, match="'inverse' link.*does not exist"):
        mixeff.predictions(
            spec, pd.DataFrame({"x": [1.0], "g": ["new"]}), allow_new_levels=True, sample_new_levels="integrate"
        )


# --------------------------------------------------------------------------- Monte Carlo error where it remains


def test_monte_carlo_se_of_simulated_averages(bernoulli_fit):
    k = 40
    grid = datagrid(bernoulli_fit, g=new_levels(k))
    kw = dict(allow_new_levels=True, sample_new_levels="gaussian", seed=3)
    with pytest.warns(mixeff.MonteCarloWarning, match="sample_new_levels='integrate'"):
        avg = mixeff.avg_predictions(bernoulli_fit, grid, **kw)
    rows = mixeff.predictions(bernoulli_fit, grid, **kw).draws  # one row per level, same levels (same seed)
    np.testing.assert_allclose(avg.draws[0], rows.mean(axis=0), rtol=1e-12)
    per_draw_se = rows.std(axis=0, ddof=1) / np.sqrt(k)
    assert avg.new_levels["mc_se"][0] == pytest.approx(np.median(per_draw_se), rel=1e-9)
    assert avg.new_levels["mc_se_ratio"][0] == pytest.approx(
        np.median(per_draw_se) / avg.draws[0].std(ddof=1), rel=1e-9
    )
    assert "Monte Carlo SE" in repr(avg)
    # a ratio of means: the delta method over levels, by hand
    lo_hi = mixeff.predictions(bernoulli_fit, pd.concat([grid.assign(z="a"), grid.assign(z="b")]), **kw).draws
    lo, hi = lo_hi[:k], lo_hi[k:]
    with pytest.warns(mixeff.MonteCarloWarning):
        ratio = mixeff.avg_comparisons(
            bernoulli_fit, variables={"z": ["a", "b"]}, comparison="ratio", newdata=grid, **kw
        )
    r = hi.mean(axis=0) / lo.mean(axis=0)
    np.testing.assert_allclose(ratio.draws[0], r, rtol=1e-12)
    psi = (hi - r * lo) / lo.mean(axis=0)
    se = np.sqrt(k / (k - 1) * (psi**2).sum(axis=0)) / k
    assert ratio.new_levels["mc_se"][0] == pytest.approx(np.median(se), rel=1e-6)


def test_no_monte_carlo_warning_when_integrating_or_with_many_levels(bernoulli_fit):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", mixeff.MonteCarloWarning)
        exact = mixeff.avg_predictions(
            bernoulli_fit,
            datagrid(bernoulli_fit, g=new_levels(1)),
            allow_new_levels=True,
            sample_new_levels="integrate",
        )
        many = mixeff.avg_predictions(
            bernoulli_fit,
            datagrid(bernoulli_fit, g=new_levels(5000)),
            allow_new_levels=True,
            sample_new_levels="gaussian",
            seed=1,
        )
    assert "mc_se" not in exact.new_levels and max(many.new_levels["mc_se_ratio"]) < 0.1
