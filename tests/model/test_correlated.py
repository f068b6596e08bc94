"""Correlated group-level terms fitted in Python: brms's (1 + x | g), LKJ prior, brms's default priors."""

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixeff
from mixeff.diagnostics import rhat_and_bulk_ess

# slow: MCMC and prior-only fits of correlated models, each compiling a PyMC model
pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brms_sleepstudy"
SLEEP_FORMULA = "Reaction ~ 1 + Days + (1 + Days | Subject)"
QUIET = dict(progress=False)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.MixeffWarning)  # short fits: Monte Carlo notes expected
        yield


def _simulated(seed=7, n_groups=60, n_per=8, cor=0.6, sd=(1.0, 0.5)):
    """Gaussian data whose group intercepts and slopes have correlation ``cor``."""
    rng = np.random.default_rng(seed)
    cov = np.diag(sd) @ np.array([[1, cor], [cor, 1]]) @ np.diag(sd)
    u = rng.multivariate_normal([0, 0], cov, size=n_groups)
    g = np.repeat(np.arange(n_groups), n_per)
    x = rng.normal(size=g.size)
    y = 1.0 + 0.5 * x + u[g, 0] + u[g, 1] * x + rng.normal(0, 0.3, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})


@pytest.fixture(scope="module")
def simulated():
    return _simulated()


@pytest.fixture(scope="module")
def correlated_fit(simulated):
    return mixeff.fit("y ~ x + (1 + x | g)", simulated, draws=500, tune=500, chains=2, seed=3, **QUIET)


def _eti(values, level=0.95):
    return np.quantile(values, [(1 - level) / 2, (1 + level) / 2])


@pytest.mark.slow
def test_sleepstudy_posterior_matches_brms():
    """brms's default model and priors: means within 4 combined MCSE of brms's, sds within 20%."""
    fit = mixeff.fit(
        SLEEP_FORMULA,
        mixeff.datasets.load_sleepstudy(),
        priors="brms",
        draws=1000,
        tune=1000,
        chains=4,
        seed=2024,
        **QUIET,
    )
    ours = mixeff.as_draws_df(fit)
    brms = pd.read_csv(FIXTURE / "param_summary.csv").set_index("variable")
    names = [
        "b_Intercept",
        "b_Days",
        "sd_Subject__Intercept",
        "sd_Subject__Days",
        "cor_Subject__Intercept__Days",
        "sigma",
    ]
    values = ours[names].to_numpy().T.reshape(len(names), 4, 1000)
    rhat, ess = rhat_and_bulk_ess(values)
    assert rhat.max() < 1.01
    divergences = int(fit.idata["sample_stats"]["diverging"].sum())
    assert divergences == 0, f"{divergences} divergences of 4000"
    for k, name in enumerate(names):
        mean, sd = values[k].mean(), values[k].std(ddof=1)
        ref = brms.loc[name]
        mcse = np.sqrt(sd**2 / ess[k] + ref["sd"] ** 2 / ref["ess_bulk"])
        assert abs(mean - ref["mean"]) < 4 * mcse, (name, mean, ref["mean"], mcse)
        assert abs(sd / ref["sd"] - 1) < 0.2, (name, sd, ref["sd"])


def test_default_priors_are_brms_s():
    """The prior table of brms's fit (fixture's fit_summary.txt), and brms's rules elsewhere."""
    sleep = mixeff.datasets.load_sleepstudy()
    assert mixeff.default_priors(SLEEP_FORMULA, sleep) == {
        "b": "flat",
        "Intercept": "student_t(3, 288.7, 59.3)",
        "sd": "student_t(3, 0, 59.3)",
        "cor": "lkj(1)",
        "sigma": "student_t(3, 0, 59.3)",
    }
    assert "cor" not in mixeff.default_priors("Reaction ~ Days + (1 + Days || Subject)", sleep)
    counts = pd.DataFrame({"y": [0, 0, 1, 3, 7, 20], "x": np.arange(6.0), "g": list("aabbcc")})
    y = np.log(np.where(counts.y == 0, 0.1, counts.y))
    scale = max(2.5, round(1.4826 * np.median(np.abs(y - np.median(y))), 1))
    assert mixeff.default_priors("y ~ x + (1 | g)", counts, family="poisson") == {
        "b": "flat",
        "Intercept": f"student_t(3, {round(np.median(y), 1):g}, {scale:g})",
        "sd": f"student_t(3, 0, {scale:g})",
    }
    binary = counts.assign(y=(counts.y > 2).astype(int))
    assert mixeff.default_priors("y ~ x + (1 + x | g)", binary, family="bernoulli") == {
        "b": "flat",
        "Intercept": "student_t(3, 0, 2.5)",
        "sd": "student_t(3, 0, 2.5)",
        "cor": "lkj(1)",
    }
    positive = counts.assign(y=counts.y + 0.5)
    assert mixeff.default_priors("y ~ x", positive, family="gamma")["shape"] == "gamma(0.01, 0.01)"


def test_simulated_correlation_is_recovered(correlated_fit, simulated):
    group = correlated_fit.spec().groups["g"]
    assert group.terms == ["Intercept", "x"]
    low, high = _eti(group.cor[:, 0, 1])
    assert low < 0.6 < high and low > 0
    np.testing.assert_array_equal(group.cor[:, 0, 0], 1.0)
    # the draws are Bambi's layout plus the block's correlation matrix
    assert {"1|g", "x|g", "1|g_sigma", "x|g_sigma", "1+x|g_cor"} <= set(correlated_fit.idata["posterior"].data_vars)
    assert correlated_fit.idata["posterior"]["1+x|g_cor"].coords["1+x|g__cor_dim"].values.tolist() == ["Intercept__x"]

    independent = mixeff.fit("y ~ x + (1 + x || g)", simulated, draws=100, tune=200, chains=2, seed=3, **QUIET)
    assert independent.spec().groups["g"].cor is None
    assert not [v for v in independent.idata["posterior"].data_vars if v.endswith("_cor")]
    assert not [c for c in mixeff.as_draws_df(independent).columns if c.startswith("cor_")]


def test_new_gaussian_levels_use_the_fitted_correlation(correlated_fit):
    """New-level effects are diag(sd) L z per draw: whitened by the draw's own L they are N(0, I)."""
    spec = correlated_fit.spec()
    new = mixeff.datagrid(correlated_fit, x=[0.0, 1.0], g=mixeff.new_levels(40))
    link = mixeff.predictions(
        correlated_fit, new, type="link", allow_new_levels=True, sample_new_levels="gaussian", seed=9
    ).draws
    rows = new.reset_index(drop=True)
    at0, at1 = link[rows.index[rows.x == 0]], link[rows.index[rows.x == 1]]  # (levels, S) each
    b0, b1 = spec.beta[:, 0], spec.beta[:, 1]
    u = np.stack([at0 - b0, at1 - at0 - b1], axis=-1)  # (levels, S, 2): the new levels' effects
    group = spec.groups["g"]
    raw = np.corrcoef(u[..., 0].ravel(), u[..., 1].ravel())[0, 1]
    assert raw > 0.3  # the posterior correlation is about 0.6: ignoring it would give about 0
    chol = np.linalg.cholesky(group.cor)  # (S, 2, 2)
    w = np.linalg.solve(chol[None], (u / group.sd[None])[..., None])[..., 0].reshape(-1, 2)
    n = len(w)
    assert abs(np.corrcoef(w.T)[0, 1]) < 4 / np.sqrt(n)
    np.testing.assert_allclose(w.mean(axis=0), 0, atol=4 / np.sqrt(n))
    np.testing.assert_allclose(w.var(axis=0), 1, atol=4 * np.sqrt(2 / n))


def test_round_trip_through_brms_draws(correlated_fit, simulated):
    """from_brms_draws(as_draws_df(fit)) predicts what the fit predicts, correlation included."""
    table = mixeff.as_draws_df(correlated_fit)
    assert "cor_g__Intercept__x" in table.columns
    spec = mixeff.from_brms_draws(table, formula="y ~ x + (1 + x | g)", data=simulated)
    grid = mixeff.datagrid(correlated_fit, x=[-1.0, 0.5], g=["g0", "g7"])
    for kwargs in ({}, {"re_formula": "NA"}, {"re_formula": "~(1 | g)"}):
        np.testing.assert_allclose(
            mixeff.predictions(spec, grid, **kwargs).draws,
            mixeff.predictions(correlated_fit, grid, **kwargs).draws,
            rtol=1e-12,
            atol=0,
        )
    new = dict(
        newdata=mixeff.datagrid(correlated_fit, x=[0.0, 2.0], g=mixeff.new_levels(3)),
        allow_new_levels=True,
        sample_new_levels="gaussian",
        seed=4,
    )
    np.testing.assert_allclose(
        mixeff.predictions(spec, **new).draws, mixeff.predictions(correlated_fit, **new).draws, rtol=1e-12, atol=0
    )


def test_correlated_fit_pickles(correlated_fit):
    loaded = pickle.loads(pickle.dumps(correlated_fit))
    assert [b.name for b in loaded.model.backend.correlated_blocks] == ["1+x|g"]
    grid = mixeff.datagrid(correlated_fit, x=[0.0, 1.0], g=["g1", "g2"])
    np.testing.assert_array_equal(
        mixeff.predictions(loaded, grid).draws, mixeff.predictions(correlated_fit, grid).draws
    )


def test_bambi_predict_agrees_on_a_correlated_fit(correlated_fit, simulated):
    new = simulated.sample(30, random_state=2).assign(x=lambda d: d.x + 0.25)
    out = correlated_fit.model.predict(correlated_fit.idata, kind="response_params", data=new, inplace=False)
    mu = out["posterior"]["mu"].transpose("chain", "draw", ...).values
    np.testing.assert_allclose(
        mixeff.predictions(correlated_fit, new).draws, mu.reshape(-1, len(new)).T, rtol=0, atol=1e-10
    )


@pytest.fixture(scope="module")
def two_blocks():
    """Prior-only: factor g with (Intercept, x) and factor h with (Intercept, f[b], f[c]) -- a factor slope."""
    rng = np.random.default_rng(11)
    d = pd.DataFrame(
        {
            "x": rng.normal(size=120),
            "g": np.repeat([f"g{i}" for i in range(12)], 10),
            "h": np.tile([f"h{i}" for i in range(8)], 15),
            "f": rng.choice(["a", "b", "c"], 120),
        }
    )
    d["y"] = rng.poisson(3, size=120)
    priors = {"b": "normal(0, 0.5)", "Intercept": "normal(1, 0.5)", "sd": "normal(0, 0.5)", "cor": "lkj(2)"}
    fit = mixeff.fit(
        "y ~ x + (1 + x | g) + (1 + f | h)",
        d,
        family="poisson",
        priors=priors,
        sample_prior="only",
        draws=1500,
        chains=2,
        seed=5,
        **QUIET,
    )
    return fit, d


def test_two_factors_with_two_and_three_correlated_terms(two_blocks):
    fit, d = two_blocks
    spec = fit.spec()
    g, h = spec.groups["g"], spec.groups["h"]
    assert (g.terms, h.terms) == (["Intercept", "x"], ["Intercept", "f[b]", "f[c]"])
    assert g.cor.shape == (3000, 2, 2) and h.cor.shape == (3000, 3, 3)
    # LKJ(eta) marginal of one correlation in a k x k matrix: (r + 1) / 2 ~ Beta(eta - 1 + k/2, same)
    for cor, k in ((g.cor[:, 0, 1], 2), (h.cor[:, 0, 1], 3), (h.cor[:, 1, 2], 3)):
        a = 2 - 1 + k / 2
        assert stats.kstest((cor + 1) / 2, stats.beta(a, a).cdf).pvalue > 1e-3
    # each level's effects are diag(sd) L z with z ~ N(0, I): whitened by the draw's own sd and L
    for group in (g, h):
        chol = np.linalg.cholesky(group.cor)[:, None]  # (S, 1, k, k)
        w = np.linalg.solve(chol, (group.b / group.sd[:, None])[..., None])[..., 0].reshape(-1, len(group.terms))
        n = len(w)
        np.testing.assert_allclose(w.mean(axis=0), 0, atol=4 / np.sqrt(n))
        np.testing.assert_allclose(np.cov(w.T), np.eye(len(group.terms)), atol=4 * np.sqrt(2 / n))
    table = mixeff.as_draws_df(fit)
    assert sorted(c for c in table.columns if c.startswith("cor_")) == [
        "cor_g__Intercept__x",
        "cor_h__Intercept__fb",
        "cor_h__Intercept__fc",
        "cor_h__fb__fc",
    ]
    # the linear predictor by hand, from the same draws
    row = d.iloc[[3]]
    level_g, level_h = list(g.levels).index(row.g.item()), list(h.levels).index(row.h.item())
    dummies = np.array([1.0, row.f.item() == "b", row.f.item() == "c"])
    by_hand = (
        spec.beta[:, 0]
        + spec.beta[:, 1] * row.x.item()
        + g.b[:, level_g] @ np.array([1.0, row.x.item()])
        + h.b[:, level_h] @ dummies
    )
    np.testing.assert_allclose(mixeff.predictions(fit, row, type="link").draws[0], by_hand, rtol=1e-12)


def test_integration_over_new_levels_uses_the_correlation(two_blocks):
    """Poisson mean over a new level of g: exp(η + ½ zᵀΣz) with Σ = diag(sd) C diag(sd), per draw."""
    fit, _ = two_blocks
    spec = fit.spec()
    g = spec.groups["g"]
    new = pd.DataFrame({"x": [0.7], "g": ["new"], "h": ["h0"], "f": ["a"]})
    got = mixeff.predictions(
        fit, new, re_formula="~(1 + x | g)", allow_new_levels=True, sample_new_levels="integrate"
    ).draws[0]
    z = np.array([1.0, 0.7])
    cov = g.cor * g.sd[:, :, None] * g.sd[:, None, :]
    expected = np.exp(spec.beta @ np.array([1.0, 0.7]) + 0.5 * np.einsum("i,sij,j->s", z, cov, z))
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert np.abs(g.cor[:, 0, 1]).mean() > 0.1  # the correlation matters to the answer


def test_prior_only_with_brms_defaults_is_refused_for_flat_b():
    with pytest.raises(ValueError, match=r"improper \(flat\) priors: 'Days' has a Flat prior"):
        mixeff.fit(
            SLEEP_FORMULA,
            mixeff.datasets.load_sleepstudy(),
            priors="brms",
            sample_prior="only",
            draws=10,
            chains=1,
            **QUIET,
        )


@pytest.mark.parametrize(
    ("formula", "priors", "error", "match"),
    [
        ("y ~ x + (1 + x || g)", {"cor": "lkj(2)"}, ValueError, "no group-level terms are correlated"),
        (
            "y ~ x + (1 + x | g)",
            {"cor": "normal(0, 1)"},
            ValueError,
            r"priors\['cor'\]: 'normal\(0, 1\)' is not an LKJ",
        ),
        ("y ~ x + (1 + x | g)", {"cor": "lkj(0)"}, ValueError, "eta must be a finite number > 0"),
        ("y ~ x + (1 + x | g)", {"cor": "lkj(1)", "L": "lkj(2)"}, ValueError, "once, as 'cor' or as 'L'"),
        ("y ~ x + (1 + x | p | g)", None, ValueError, "ID syntax"),
        ("y ~ x + (1 | g) + (1 + x | g)", None, ValueError, "duplicated group-level effects"),
        ("y ~ x + (1 + x | g)", "brms!", TypeError, "priors must be 'brms' or a dict"),
    ],
)
def test_bad_correlation_input_is_refused(simulated, formula, priors, error, match):
    with pytest.raises(error, match=match):
        mixeff.fit(formula, simulated, priors=priors, draws=10, tune=10, chains=1, **QUIET)


def test_a_correlated_term_needs_a_normal_prior_with_an_sd(simulated):
    import bambi as bmb

    odd = {"1|g": bmb.Prior("StudentT", nu=3, mu=0, sigma=bmb.Prior("HalfNormal", sigma=1))}
    with pytest.raises(ValueError, match=r"'1\|g' is correlated with \['x\|g'\].*must be normal\(0, sd\)"):
        mixeff.fit("y ~ x + (1 + x | g)", simulated, priors=odd, draws=10, tune=10, chains=1, **QUIET)


def test_interaction_factor_with_correlated_terms(simulated):
    """(1 + x | g:h): the block belongs to the interaction factor, named as brms names it."""
    d = simulated.assign(h=np.where(simulated.index % 2 == 0, "u", "v"))
    fit = mixeff.fit(
        "y ~ x + (1 + x | g:h)",
        d,
        priors={"b": "normal(0, 1)", "Intercept": "normal(0, 1)", "sd": "normal(0, 1)", "sigma": "exponential(1)"},
        sample_prior="only",
        draws=200,
        chains=2,
        seed=2,
        **QUIET,
    )
    group = fit.spec().groups["g:h"]
    assert group.cor.shape == (400, 2, 2) and group.terms == ["Intercept", "x"]
    table = mixeff.as_draws_df(fit)
    assert "cor_g:h__Intercept__x" in table.columns and "r_g:h[g0_u,x]" in table.columns
    spec = mixeff.from_brms_draws(table, formula="y ~ x + (1 + x | g:h)", data=d)
    grid = d.head(6)
    np.testing.assert_allclose(
        mixeff.predictions(spec, grid).draws, mixeff.predictions(fit, grid).draws, rtol=1e-12, atol=0
    )


def test_nutpie_samples_the_same_model(simulated):
    """sampler="nutpie" compiles the same PyMC model: the same variables, the correlation recovered."""
    pytest.importorskip("nutpie")
    fit = mixeff.fit("y ~ x + (1 + x | g)", simulated, sampler="nutpie", draws=300, tune=300, chains=2, seed=1, **QUIET)
    assert {"1|g", "x|g", "1+x|g_cor"} <= set(fit.idata["posterior"].data_vars)
    low, high = _eti(fit.spec().groups["g"].cor[:, 0, 1])
    assert low < 0.6 < high and low > 0
