"""The arrays adapter: brms-named draws in, hand-computed η and expected values out."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

import mixeff
from mixeff import datagrid, from_arrays, from_brms_draws, new_levels, predictions
from mixeff.model.formula import brms_name
from mixeff.model.spec import GroupFactor

# The draws here are made up with numpy (independent normals, a few hundred per chain): R-hat and ESS
# of such draws cross mixeff's thresholds by chance, so its ConvergenceWarning is noise here (the
# warning itself is tested in tests/test_trust.py).
pytestmark = pytest.mark.filterwarnings("ignore::mixeff.ConvergenceWarning")

S_PER_CHAIN, CHAINS = 300, 2


@pytest.fixture(scope="module")
def sleep():
    return mixeff.datasets.load_sleepstudy()


@pytest.fixture(scope="module")
def brms_draws(sleep):
    """Draws as brms names them for Reaction ~ 1 + Days + (1 + Days | Subject)."""
    rng = np.random.default_rng(42)
    s = S_PER_CHAIN * CHAINS
    subjects = sorted(sleep["Subject"].unique())
    d = {
        ".chain": np.repeat(np.arange(1, CHAINS + 1), S_PER_CHAIN),
        ".iteration": np.tile(np.arange(1, S_PER_CHAIN + 1), CHAINS),
        "b_Intercept": rng.normal(251, 7, s),
        "b_Days": rng.normal(10.4, 1.7, s),
        "sd_Subject__Intercept": rng.gamma(50, 0.5, s),
        "sd_Subject__Days": rng.gamma(50, 0.13, s),
        "cor_Subject__Intercept__Days": rng.uniform(-0.2, 0.8, s),
        "sigma": rng.gamma(100, 0.26, s),
    }
    for subj in subjects:
        d[f"r_Subject[{subj},Intercept]"] = rng.normal(0, 25, s)
        d[f"r_Subject[{subj},Days]"] = rng.normal(0, 6, s)
    draws = pd.DataFrame(d)
    return draws.sample(frac=1.0, random_state=1)  # rows shuffled: chains are re-sorted


def test_brms_names_reproduce_hand_computed_eta(sleep, brms_draws):
    spec = from_brms_draws(brms_draws, formula="Reaction ~ 1 + Days + (1 + Days | Subject)", data=sleep)
    assert (spec.n_chains, spec.n_draws) == (CHAINS, S_PER_CHAIN)
    dr = brms_draws.sort_values([".chain", ".iteration"])
    new = sleep.iloc[[0, 25, 100, 179]]
    r_int = np.stack([dr[f"r_Subject[{s},Intercept]"] for s in new["Subject"]])
    r_days = np.stack([dr[f"r_Subject[{s},Days]"] for s in new["Subject"]])
    days = new["Days"].to_numpy()[:, None]
    eta = dr["b_Intercept"].to_numpy() + days * dr["b_Days"].to_numpy() + r_int + days * r_days
    np.testing.assert_allclose(predictions(spec, new).draws, eta, rtol=1e-12)
    np.testing.assert_allclose(predictions(spec, new, type="link").draws, eta, rtol=1e-12)
    typical = dr["b_Intercept"].to_numpy() + days * dr["b_Days"].to_numpy()
    np.testing.assert_allclose(predictions(spec, new, re_formula="NA").draws, typical, rtol=1e-12)
    # lognormal on the same draws: E[Y] = exp(eta + sigma^2 / 2)
    # (sigma / 10 keeps exp(eta + sigma^2 / 2) finite: with sigma ~ 26 it overflows, and mixeff refuses)
    spec_ln = from_brms_draws(
        brms_draws.assign(b_Intercept=lambda x: x.b_Intercept / 50, sigma=lambda x: x.sigma / 10),
        formula="Reaction ~ 1 + Days + (1 + Days | Subject)",
        data=sleep,
        family="lognormal",
    )
    eta_ln = eta - (dr["b_Intercept"].to_numpy() - dr["b_Intercept"].to_numpy() / 50)
    expected = np.exp(eta_ln + (dr["sigma"].to_numpy() / 10) ** 2 / 2)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(predictions(spec_ln, new).draws, expected, rtol=1e-12)


def test_gaussian_new_subjects_have_the_correlated_covariance(sleep, brms_draws):
    """New levels drawn from MVN(0, Σ_s) with Σ_s from sd_ and cor_ draws of the same draw."""
    one = brms_draws.iloc[:1].copy()
    one[".chain"] = 1
    spec = from_brms_draws(one, formula="Reaction ~ 1 + Days + (1 + Days | Subject)", data=sleep)
    K = 20000
    grid = datagrid(spec, Days=[0, 1], Subject=new_levels(K))
    eta = predictions(spec, grid, type="link", allow_new_levels=True, sample_new_levels="gaussian", seed=9).draws[:, 0]
    b0, b1 = one["b_Intercept"].iloc[0], one["b_Days"].iloc[0]
    u_int = eta[:K] - b0
    u_days = eta[K:] - b0 - b1 - u_int  # same subject, Days = 1
    sd_i, sd_d = one["sd_Subject__Intercept"].iloc[0], one["sd_Subject__Days"].iloc[0]
    rho = one["cor_Subject__Intercept__Days"].iloc[0]
    # MC standard errors: sd/sqrt(2K) for an sd, (1 - rho^2)/sqrt(K) for a correlation
    assert abs(u_int.std() - sd_i) < 4 * sd_i / np.sqrt(2 * K)
    assert abs(u_days.std() - sd_d) < 4 * sd_d / np.sqrt(2 * K)
    assert abs(np.corrcoef(u_int, u_days)[0, 1] - rho) < 4 * (1 - rho**2) / np.sqrt(K)


def test_uncorrelated_when_no_cor_columns(sleep, brms_draws):
    spec = from_brms_draws(
        brms_draws.drop(columns="cor_Subject__Intercept__Days"),
        formula="Reaction ~ 1 + Days + (1 + Days || Subject)",
        data=sleep,
    )
    assert spec.groups["Subject"].cor is None
    assert spec.groups["Subject"].term_blocks == {"1": [0], "Days": [1]}


def test_brms_name_rules():
    assert brms_name("age[30-39]") == "age30M39"
    assert brms_name("age[70+]") == "age70P"
    assert brms_name("education[Some college]") == "educationSomecollege"
    assert brms_name("Intercept") == "Intercept"


def test_factor_coefficients_use_brms_names():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"age": pd.Categorical(["18-29", "30-39", "70+"] * 4), "state": list("abcd") * 3})
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(size=50),
            "b_age30M39": rng.normal(size=50),
            "b_age70P": rng.normal(size=50),
            "sd_state__Intercept": np.ones(50),
            **{f"r_state[{s},Intercept]": rng.normal(size=50) for s in "abcd"},
        }
    )
    spec = from_brms_draws(draws, formula="y ~ age + (1 | state)", data=data, family="bernoulli")
    new = pd.DataFrame({"age": ["70+", "18-29"], "state": ["b", "a"]})
    eta = np.stack(
        [
            draws.b_Intercept + draws.b_age70P + draws["r_state[b,Intercept]"],
            draws.b_Intercept + draws["r_state[a,Intercept]"],
        ]
    )
    np.testing.assert_allclose(predictions(spec, new).draws, special.expit(eta), rtol=1e-12)


def test_missing_sd_column_is_named():
    data = pd.DataFrame({"x": [0.0, 1.0], "g": ["a", "b"]})
    draws = pd.DataFrame({"b_Intercept": [0.0], "r_g[a,Intercept]": [0.1], "r_g[b,Intercept]": [0.2], "sigma": [1.0]})
    with pytest.raises(ValueError, match="no 'sd_g__Intercept' column"):
        from_brms_draws(draws, formula="y ~ 1 + (1 | g)", data=data)


# ------------------------------------------------------ families and links


def _spec(family, link=None, aux=None, trials=None, n=40, s=30):
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"x": rng.normal(size=n), "n": rng.integers(1, 20, n), "g": rng.choice(["a", "b"], n)})
    beta = np.column_stack([rng.normal(0.5, 0.1, s), rng.normal(0.3, 0.1, s)])
    b = rng.normal(0, 0.2, (s, 2, 1))
    group = GroupFactor(
        "g",
        ("g",),
        np.array(["a", "b"]),
        ["Intercept"],
        b,
        np.full((s, 1), 0.2),
        None,
        design=lambda f: np.ones((len(f), 1)),
        term_blocks={"1": [0]},
    )
    spec = from_arrays(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"]]),
        beta=beta,
        beta_names=["Intercept", "x"],
        family=family,
        link=link,
        data=data,
        groups=[group],
        aux=aux or {},
        predictors=["x"],
        trials=trials,
    )
    eta = (beta @ np.column_stack([np.ones(n), data["x"]]).T).T + b[:, (data["g"] == "b").astype(int), 0].T
    return spec, data, eta


SIGMA = np.linspace(0.5, 1.5, 30)
CASES = [
    ("gaussian", None, {"sigma": SIGMA}, lambda e, a, d: e),
    ("t", None, {"sigma": SIGMA, "nu": np.full(30, 5.0)}, lambda e, a, d: e),
    ("bernoulli", None, {}, lambda e, a, d: special.expit(e)),
    ("bernoulli", "probit", {}, lambda e, a, d: special.ndtr(e)),
    ("bernoulli", "cloglog", {}, lambda e, a, d: 1 - np.exp(-np.exp(e))),
    ("binomial", None, {}, lambda e, a, d: special.expit(e) * d["n"].to_numpy()[:, None]),
    ("poisson", None, {}, lambda e, a, d: np.exp(e)),
    ("negativebinomial", None, {"shape": np.full(30, 3.0)}, lambda e, a, d: np.exp(e)),
    ("lognormal", None, {"sigma": SIGMA}, lambda e, a, d: np.exp(e + SIGMA**2 / 2)),
    ("gamma", "log", {"shape": np.full(30, 2.0)}, lambda e, a, d: np.exp(e)),
    ("gamma", "inverse", {"alpha": np.full(30, 2.0)}, lambda e, a, d: 1 / e),
    ("beta", None, {"phi": np.full(30, 10.0)}, lambda e, a, d: special.expit(e)),
]


@pytest.mark.parametrize("family,link,aux,expected", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_expected_value_per_family(family, link, aux, expected):
    spec, data, eta = _spec(family, link, aux, trials="n" if family == "binomial" else None)
    np.testing.assert_allclose(predictions(spec, data, type="link").draws, eta, rtol=1e-12)
    np.testing.assert_allclose(predictions(spec, data).draws, expected(eta, aux, data), rtol=1e-10)


@pytest.mark.parametrize(
    "family,aux,check",
    [
        ("poisson", {}, lambda y, mu: abs(y.mean() - mu.mean()) < 4 * np.sqrt(mu.sum()) / mu.size),
        (
            "negativebinomial",
            {"shape": np.full(30, 3.0)},
            lambda y, mu: abs(y.mean() - mu.mean()) < 4 * np.sqrt((mu + mu**2 / 3).sum()) / mu.size,
        ),
        (
            "beta",
            {"phi": np.full(30, 10.0)},
            lambda y, mu: (
                abs(y.mean() - mu.mean()) < 4 * np.sqrt((mu * (1 - mu) / 11).sum()) / mu.size
                and (0 < y).all()
                and (y < 1).all()
            ),
        ),
        (
            "gamma",
            {"shape": np.full(30, 2.0)},
            lambda y, mu: abs(y.mean() - mu.mean()) < 4 * np.sqrt((mu**2 / 2).sum()) / mu.size,
        ),
    ],
)
def test_posterior_predict_has_the_family_mean(family, aux, check):
    spec, data, eta = _spec(family, "log" if family == "gamma" else None, aux, n=400)
    mu = predictions(spec, data).draws
    y = predictions(spec, data, type="prediction", seed=3).draws
    assert check(y, mu)


def test_family_and_link_errors():
    with pytest.raises(ValueError, match="family='vonmises' is not supported"):
        _spec("vonmises")
    with pytest.raises(ValueError, match="link='log' is not available for family 'bernoulli'"):
        _spec("bernoulli", "log")
    with pytest.raises(ValueError, match=r"needs draws of \['sigma'\]"):
        _spec("gaussian")


@pytest.mark.parametrize("link", ["identity", "log", "logit"])
def test_exact_increments_are_stable_and_right(link):
    """inverse(eta + d) - inverse(eta), also for |d| ~ 1e6 where a naive form gives inf * 0."""
    from mixeff.engine.links import LINKS

    L = LINKS[link]
    rng = np.random.default_rng(0)
    eta = rng.normal(0, 3, 2000)
    d = rng.normal(0, 2, 2000) * rng.choice([1e-6, 1.0], 2000)
    naive = L.inverse(eta + d) - L.inverse(eta.copy())
    np.testing.assert_allclose(L.increment(eta, d), naive, rtol=1e-6, atol=1e-12)
    huge = np.array([-1e6, 1e6, -1e6, 1e6])
    base = np.array([3.0, -3.0, -800.0, 800.0])
    with np.errstate(over="ignore" if link == "log" else "warn"):  # exp(1e6) is inf, as it should be
        out = L.increment(base, huge)
    assert np.all(np.isfinite(out)) if link != "log" else not np.isnan(out).any()
    if link == "logit":
        np.testing.assert_allclose(out, [-special.expit(3.0), special.expit(3.0), 0.0, 0.0], atol=1e-300)


def test_brms_interaction_factor_levels_joined_with_underscore():
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"x": rng.normal(size=8), "g": list("AABB") * 2, "h": list("uvuv") * 2})
    levels = ["A_u", "A_v", "B_u", "B_v"]
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(size=20),
            "b_x": rng.normal(size=20),
            "sd_g:h__Intercept": np.ones(20),
            "sigma": np.ones(20),
            **{f"r_g:h[{lev},Intercept]": rng.normal(size=20) for lev in levels},
        }
    )
    spec = from_brms_draws(draws, formula="y ~ x + (1 | g:h)", data=data)
    eta = predictions(spec, data).draws
    expected = np.stack(
        [
            draws.b_Intercept + draws.b_x * x + draws[f"r_g:h[{g}_{h},Intercept]"]
            for x, g, h in zip(data.x, data.g, data.h)
        ]
    )
    np.testing.assert_allclose(eta, expected, rtol=1e-12)


def test_unordered_factor_reference_is_its_first_level():
    """brms's reference level is the factor's first level, even for an unordered Categorical."""
    rng = np.random.default_rng(3)
    edu = pd.Categorical(["No HS", "4 year", "2 year"] * 4, categories=["No HS", "2 year", "4 year"])
    data = pd.DataFrame({"edu": edu})
    draws = pd.DataFrame(
        {"b_Intercept": rng.normal(size=10), "b_edu2year": rng.normal(size=10), "b_edu4year": rng.normal(size=10)}
    )
    spec = from_brms_draws(draws, formula="y ~ edu", data=data, family="bernoulli")
    eta = predictions(spec, pd.DataFrame({"edu": ["No HS", "4 year"]}), type="link").draws
    np.testing.assert_allclose(eta[0], draws.b_Intercept)
    np.testing.assert_allclose(eta[1], draws.b_Intercept + draws.b_edu4year)
    with pytest.raises(ValueError, match=r"column 'edu' has level\(s\) \['PhD'\]"):
        predictions(spec, pd.DataFrame({"edu": ["PhD"]}))
