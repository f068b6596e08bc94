"""Evidence kernels: bw.nrd0, KDE at a point, Savage-Dickey ratios, one-sided evidence ratios,
parameter draws under brms names -- all against hand-computed or closed-form values."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixeff
from mixeff.estimands import evidence
from mixeff.estimands.evidence import (
    bw_nrd0,
    density_at,
    evidence_ratio,
    posterior_probability,
    resolve_parameter,
    savage_dickey,
)
from mixeff.model.adapters.arrays import from_arrays
from mixeff.model.examples import toy_spec
from mixeff.verbs.fits import parameter_draws

# --------------------------------------------------------------------------- bw.nrd0


def test_bw_nrd0_hand_computed():
    # 1:10 -- sd = sqrt(55 / 6) = 3.02765 < IQR / 1.34 = 4.5 / 1.34 (type-7 quartiles 3.25, 7.75)
    sd = math.sqrt(55 / 6)
    assert bw_nrd0(np.arange(1.0, 11.0)) == pytest.approx(0.9 * sd * 10**-0.2, abs=1e-12)
    assert bw_nrd0(np.arange(1.0, 11.0)) == pytest.approx(1.7192864046922830, abs=1e-9)  # R: bw.nrd0(1:10)
    # heavy tail: IQR / 1.34 wins (quartiles 2 and 4)
    assert bw_nrd0(np.array([1.0, 2, 3, 4, 100])) == pytest.approx(0.9 * (2 / 1.34) * 5**-0.2, abs=1e-12)
    # IQR 0, sd > 0: falls back to sd
    x = np.array([0.0] * 8 + [1.0, 100.0])
    assert bw_nrd0(x) == pytest.approx(0.9 * np.std(x, ddof=1) * 10**-0.2, abs=1e-12)
    # constant draws: |x[0]|, then 1
    assert bw_nrd0(np.array([-3.0, -3.0, -3.0])) == pytest.approx(0.9 * 3 * 3**-0.2, abs=1e-12)
    assert bw_nrd0(np.zeros(4)) == pytest.approx(0.9 * 4**-0.2, abs=1e-12)
    # shape does not matter: draws are flattened
    assert bw_nrd0(np.arange(1.0, 11.0).reshape(2, 5)) == bw_nrd0(np.arange(1.0, 11.0))


# --------------------------------------------------------------------------- density_at


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.standard_normal(500),
        lambda rng: rng.gamma(2.0, 3.0, 2000),
        lambda rng: np.array([0.3, 1.1, 1.2, 4.0, -2.5]),
    ],
)
def test_density_at_equals_scipy_gaussian_kde_with_the_same_bandwidth(make):
    x = make(np.random.default_rng(4))
    h = bw_nrd0(x)
    kde = stats.gaussian_kde(x, bw_method=h / np.std(x, ddof=1))  # scipy's kernel sd = factor * sd(x)
    for point in [0.0, float(np.median(x)), float(x.max()) + 1.0, -7.3]:
        assert density_at(x, point) == pytest.approx(float(kde(point)[0]), rel=1e-12, abs=1e-300)


def test_density_at_of_normal_draws_matches_the_normal_density():
    n = 200_000
    x = np.random.default_rng(7).standard_normal(n)
    h = bw_nrd0(x)
    for point in [0.0, 1.0, -2.0]:
        k = stats.norm.pdf(point, x, h)
        se = k.std(ddof=1) / math.sqrt(n)
        f = density_at(x, point)
        assert f == pytest.approx(k.mean(), rel=1e-12)
        # E[KDE] of N(0, 1) draws is exactly N(point; 0, 1 + h^2)
        assert abs(f - stats.norm.pdf(point, 0, math.sqrt(1 + h * h))) < 4 * se
        # and the normal density itself within a few MC SE (the smoothing bias is < 1 SE here)
        assert abs(f - stats.norm.pdf(point)) < 4 * se


def test_density_at_is_chunked_without_changing_the_value(monkeypatch):
    x = np.random.default_rng(1).normal(2.0, 3.0, 1_000_003)
    h = bw_nrd0(x)
    direct = float(np.mean(np.exp(-0.5 * ((x - 1.5) / h) ** 2)) / (h * math.sqrt(2 * math.pi)))
    assert density_at(x, 1.5) == pytest.approx(direct, rel=1e-10)
    small = x[:1000]
    whole = density_at(small, 0.7)
    monkeypatch.setattr(evidence, "_CHUNK", 7)
    assert density_at(small, 0.7) == pytest.approx(whole, rel=1e-13)


def test_density_at_refuses_bad_draws():
    with pytest.raises(ValueError, match=r"1 of 3 draws are not finite"):
        density_at(np.array([1.0, np.nan, 2.0]), 0.0)
    with pytest.raises(ValueError, match="at least 2 needed"):
        density_at(np.array([1.0]), 0.0)


# --------------------------------------------------------------------------- Savage-Dickey


TAU, SIGMA, N_OBS, N_DRAWS = 2.0, 1.0, 20, 40_000


def _conjugate(true_mu, data_seed):
    """y_i ~ N(mu, 1), mu ~ N(0, 2^2): the posterior N(m, v) and the exact BF01 at mu = 0."""
    y = np.random.default_rng(data_seed).normal(true_mu, SIGMA, N_OBS)
    v = 1 / (1 / TAU**2 + N_OBS / SIGMA**2)
    m = v * y.sum() / SIGMA**2
    exact = stats.norm.pdf(0, m, math.sqrt(v)) / stats.norm.pdf(0, 0, TAU)
    return m, v, exact


@pytest.mark.parametrize("true_mu, data_seed, side", [(0.0, 11, "for H0"), (0.35, 12, "against H0")])
def test_savage_dickey_matches_the_conjugate_normal_closed_form(true_mu, data_seed, side):
    m, v, exact = _conjugate(true_mu, data_seed)
    assert (exact > 1) == (side == "for H0")  # one data set with BF01 > 1 (~6.1), one with BF01 < 1 (~0.49)
    rng = np.random.default_rng(2024)
    post, prior = rng.normal(m, math.sqrt(v), N_DRAWS), rng.normal(0, TAU, N_DRAWS)
    out = savage_dickey(post, prior, point=0.0)
    # within 4 of its own standard errors of the exact value, on the log scale
    assert abs(math.log(out["bf01"] / exact)) < 4 * out["se_log_bf01"]
    assert out["se_log_bf01"] < (0.03 if side == "for H0" else 0.15)  # the SE is small enough to mean something
    assert out["bf10"] == pytest.approx(1 / out["bf01"], rel=1e-15)
    assert out["posterior_density"] / out["prior_density"] == pytest.approx(out["bf01"], rel=1e-15)
    assert out["posterior_density"] == pytest.approx(density_at(post, 0.0), rel=1e-15)
    assert out["prior_density"] == pytest.approx(density_at(prior, 0.0), rel=1e-15)
    assert out["bandwidth_prior"] == bw_nrd0(prior)
    assert out["method"] == "Gaussian KDE, bw.nrd0 (as brms::density_ratio)"


def test_savage_dickey_standard_error_is_calibrated():
    """Across 60 independent replications the stated se(log BF01) matches the spread of log BF01."""
    m, v, exact = _conjugate(0.0, 11)
    logs, ses = [], []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        out = savage_dickey(rng.normal(m, math.sqrt(v), N_DRAWS), rng.normal(0, TAU, N_DRAWS))
        logs.append(math.log(out["bf01"]))
        ses.append(out["se_log_bf01"])
    spread, stated = np.std(logs, ddof=1), np.mean(ses)
    assert 0.7 < spread / stated < 1.35  # sd of a 60-sample sd is ~9%
    assert abs(np.mean(logs) - math.log(exact)) < 4 * stated / math.sqrt(60) + 0.01  # bias below ~1%


def test_savage_dickey_refusals_and_edges():
    rng = np.random.default_rng(3)
    post = rng.normal(0, 1, 1000)
    with pytest.raises(ValueError, match=r"prior puts no mass near 0.*support covers 0"):
        savage_dickey(post, rng.uniform(5, 6, 1000))
    with pytest.raises(ValueError, match=r"prior: 99 draws given, at least 100 needed"):
        savage_dickey(post, rng.normal(0, 1, 99))
    with pytest.raises(ValueError, match=r"posterior: 1 of 1000 draws are not finite"):
        savage_dickey(np.where(np.arange(1000) == 5, np.inf, post), rng.normal(0, 1, 1000))
    with pytest.raises(ValueError, match="must be a finite number"):
        savage_dickey(post, post, point=np.nan)
    # a posterior with no mass at the point: BF01 = 0, BF10 = inf
    out = savage_dickey(rng.uniform(5, 6, 1000), rng.normal(0, 10, 1000))
    assert out["bf01"] == 0.0 and out["bf10"] == math.inf and out["se_log_bf01"] == math.inf
    # another point
    out = savage_dickey(rng.normal(1, 0.5, 40_000), rng.normal(1, 2, 40_000), point=1.0)
    assert abs(math.log(out["bf01"] / 4.0)) < 4 * out["se_log_bf01"]


# --------------------------------------------------------------------------- one-sided hypotheses


def test_evidence_ratio_and_posterior_probability_by_hand():
    d = np.array([[-2.0, -1, 0, 1, 2, 3], [1.0, 2, 3, 4, 5, 6], [-1.0, -2, -3, -4, -5, -6]])
    np.testing.assert_array_equal(evidence_ratio(d, ">"), [3 / 3, np.inf, 0.0])
    np.testing.assert_array_equal(evidence_ratio(d, ">="), [4 / 2, np.inf, 0.0])
    np.testing.assert_array_equal(evidence_ratio(d, "<"), [2 / 4, 0.0, np.inf])
    np.testing.assert_array_equal(evidence_ratio(d, "<="), [3 / 3, 0.0, np.inf])
    np.testing.assert_array_equal(posterior_probability(d, ">="), [4 / 6, 1.0, 0.0])
    np.testing.assert_array_equal(posterior_probability(d, "<"), [2 / 6, 0.0, 1.0])
    # ER = p / (1 - p) on random draws
    x = np.random.default_rng(5).normal(0.3, 1, (4, 999))
    for op in (">", ">=", "<", "<="):
        p = posterior_probability(x, op)
        np.testing.assert_allclose(evidence_ratio(x, op), p / (1 - p), rtol=1e-12)
    assert evidence_ratio(np.array([1.0, 2.0]), ">").shape == ()
    assert float(evidence_ratio(np.array([1.0, 2.0]), ">")) == math.inf


def test_evidence_ratio_refusals():
    with pytest.raises(ValueError, match="needs prior draws: use savage_dickey"):
        evidence_ratio(np.zeros((1, 5)), "=")
    with pytest.raises(ValueError, match="nan"):
        posterior_probability(np.array([1.0, np.nan]), ">")
    with pytest.raises(ValueError, match="at least one draw"):
        evidence_ratio(np.zeros((2, 0)), "<")


# --------------------------------------------------------------------------- parameter draws


def test_parameter_draws_of_example_fit():
    fit = mixeff.example_fit()
    names, values, n_chains, n_draws = parameter_draws(fit)
    spec = fit.spec()
    assert names[:4] == ["b_Intercept", "b_TX", "sd_cluster__Intercept", "sigma"]
    assert not any(n.startswith(".") for n in names)
    assert values.shape == (len(names), spec.n_samples) and (n_chains, n_draws) == (2, 250)
    np.testing.assert_array_equal(values[names.index("b_TX")], spec.beta[:, spec.beta_names.index("TX")])
    np.testing.assert_array_equal(values[resolve_parameter("TX", names)], spec.beta[:, 1])
    np.testing.assert_array_equal(values[resolve_parameter("sigma", names)], spec.aux["sigma"])
    g = spec.groups["cluster"]
    lev = list(map(str, g.levels)).index("1")
    np.testing.assert_array_equal(values[resolve_parameter("r_cluster[1,Intercept]", names)], g.b[:, lev, 0])
    np.testing.assert_array_equal(values[resolve_parameter("r_cluster.1..Intercept.", names)], g.b[:, lev, 0])
    # brms's "TX < 0" on these draws
    tx = values[[resolve_parameter("TX", names)]]
    assert evidence_ratio(tx, "<")[0] == pytest.approx((tx < 0).sum() / (tx >= 0).sum())
    with pytest.raises(ValueError, match=r"no prior draws.*sample_prior='yes' or 'only'"):
        parameter_draws(fit, "prior")
    with pytest.raises(ValueError, match="must be 'posterior' or 'prior'"):
        parameter_draws(fit, "both")
    with pytest.raises(TypeError, match="needs a mixeff fit or ModelSpec"):
        parameter_draws(pd.DataFrame())


def test_parameter_draws_of_prior_draws():
    vague = mixeff.fit(
        "y ~ 1 + TX + (1 | cluster)",
        mixeff.datasets.load_magnusson(),
        family="lognormal",
        sample_prior="only",
        draws=50,
        chains=2,
        seed=3,
        progress=False,
        priors={"b": "normal(0, 1)", "Intercept": "normal(6, 1)"},
    )
    names, values, n_chains, n_draws = parameter_draws(vague, "prior")
    spec = vague.spec("prior")
    assert (n_chains, n_draws) == (2, 50) and values.shape == (len(names), 100)
    np.testing.assert_array_equal(values[names.index("b_TX")], spec.beta[:, spec.beta_names.index("TX")])
    # a prior-only fit answers "posterior" with its prior draws, as every verb does
    np.testing.assert_array_equal(parameter_draws(vague)[1], values)


def test_parameter_draws_of_specs():
    names, values, _, _ = parameter_draws(toy_spec())
    np.testing.assert_array_equal(values[names.index("b_TX")], toy_spec().beta[:, 1])
    with pytest.raises(ValueError, match="holds posterior draws, not prior draws"):
        parameter_draws(toy_spec(), "prior")
    rng = np.random.default_rng(0)
    d = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    prior_spec = from_arrays(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"]]),
        beta=rng.normal(size=(200, 2)),
        beta_names=["Intercept", "x"],
        family="gaussian",
        aux={"sigma": rng.gamma(2.0, 1.0, 200)},
        data=d,
        n_chains=2,
        source="prior",
    )
    names, values, n_chains, n_draws = parameter_draws(prior_spec, "prior")
    assert names == ["b_Intercept", "b_x", "sigma"] and (n_chains, n_draws) == (2, 100)
    np.testing.assert_array_equal(values[resolve_parameter("x", names)], prior_spec.beta[:, 1])


# --------------------------------------------------------------------------- resolve_parameter


NAMES = [
    "b_Intercept",
    "b_TX",
    "b_TX:age",
    "sd_cluster__Intercept",
    "cor_g__Intercept__x",
    "sigma",
    "r_cluster[1,Intercept]",
    "r_g:h[A_u,Intercept]",
]


def test_resolve_parameter_rules():
    r = lambda n: NAMES[resolve_parameter(n, NAMES)]  # noqa: E731
    assert r("TX") == "b_TX" and r("Intercept") == "b_Intercept"  # brms's class "b"
    assert r("b_TX") == "b_TX" and r("sigma") == "sigma"  # full names
    assert r("sd_cluster__Intercept") == "sd_cluster__Intercept"
    assert r("TX:age") == "b_TX:age" and r("TX___age") == "b_TX:age" and r("b_TX___age") == "b_TX:age"
    assert r("r_cluster[1,Intercept]") == "r_cluster[1,Intercept]"
    assert r("r_cluster.1..Intercept.") == "r_cluster[1,Intercept]"  # brms's renaming
    assert r("r_cluster.1.Intercept.") == "r_cluster[1,Intercept]"  # single-dot leniency
    assert r("r_g___h.A_u..Intercept.") == "r_g:h[A_u,Intercept]"
    assert r(" T X ") == "b_TX"  # whitespace ignored, as brms
    # b_<name> wins over a full name, as brms's default class "b"
    assert ["b_sigma", "sigma"][resolve_parameter("sigma", ["b_sigma", "sigma"])] == "b_sigma"


def test_resolve_parameter_errors():
    with pytest.raises(ValueError, match=r"unknown parameter 'TZ'.*b_<name>.*'b_TX'.*\(8 in all\)"):
        resolve_parameter("TZ", NAMES)
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_parameter("r_g.a.b.c.", ["r_g[a,b.c]", "r_g[a.b,c]"])
    with pytest.raises(TypeError, match="must be a string"):
        resolve_parameter(1, NAMES)
