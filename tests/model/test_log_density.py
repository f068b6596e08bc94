"""Every family's log-density (brms's ``log_lik``) against scipy and PyMC, on the same parameters.

Each family's ``log_density(y, mu, aux, trials)`` takes ``mu`` and the auxiliary parameters exactly as
the family's ``mean`` and ``draw`` do (PyMC's parameterisations); each case below maps them to scipy's
explicitly.  Zero-inflated, hurdle, ordinal and categorical families are checked against PyMC's own
``pm.logp``.  Then the tails: |η| up to 700 through each inverse link gives finite values, and the
closed forms of the far tails.
"""

import numpy as np
import pymc as pm
import pytest
from scipy import special, stats

from mixeff.engine.response import CATEGORY_PROBABILITY, category_log_probability
from mixeff.model.families import FAMILIES, LINKS, get_family, log1mexp

R, S = 9, 6
TIGHT = dict(rtol=1e-10, atol=1e-12)


def _rng():
    return np.random.default_rng(20240917)


def _inverse(link: str, eta: np.ndarray) -> np.ndarray:
    return LINKS[link].inverse(np.array(eta, dtype=float))


def _draws(rng, lo, hi):
    return rng.uniform(lo, hi, S)


def _case(name):
    """``(y, mu, eta, link, aux, trials, reference logpdf)`` of a family, its parameters mapped to scipy's."""
    rng = _rng()
    eta_real = rng.normal(0, 1.5, (R, S))
    trials = rng.integers(1, 15, R).astype(float)
    if name in ("gaussian", "t", "laplace", "asymmetriclaplace", "exgaussian"):
        y, mu, link = rng.normal(0, 2, R), eta_real, "identity"
        eta = eta_real
    elif name in ("bernoulli", "binomial", "beta", "beta_binomial"):
        eta, link = eta_real, "logit"
        mu = special.expit(eta)
        y = {
            "bernoulli": rng.integers(0, 2, R).astype(float),
            "binomial": np.floor(rng.uniform(0, 1, R) * (trials + 1)),
            "beta_binomial": np.floor(rng.uniform(0, 1, R) * (trials + 1)),
            "beta": rng.uniform(0.01, 0.99, R),
        }[name]
    else:  # positive means, log link
        eta, link = 0.5 * eta_real, "log"
        mu = np.exp(eta)
        count = name in ("poisson", "negativebinomial")
        y = rng.poisson(3, R).astype(float) if count else rng.gamma(2.0, 1.0, R)
    sigma, nu, alpha, kappa = _draws(rng, 0.3, 2), _draws(rng, 1.5, 20), _draws(rng, 0.5, 5), _draws(rng, 1, 30)
    b, kap, lam = _draws(rng, 0.5, 3), _draws(rng, 0.3, 3), _draws(rng, 0.5, 10)
    yc = y[:, None]
    n = trials[:, None]
    ref = {
        "gaussian": ({"sigma": sigma}, lambda: stats.norm.logpdf(yc, mu, sigma)),
        "t": ({"sigma": sigma, "nu": nu}, lambda: stats.t.logpdf(yc, nu, mu, sigma)),
        "laplace": ({"b": b}, lambda: stats.laplace.logpdf(yc, mu, b)),
        # PyMC's AsymmetricLaplace(b, kappa, mu) is scipy's laplace_asymmetric(kappa, loc=mu, scale=1/b)
        "asymmetriclaplace": (
            {"b": b, "kappa": kap},
            lambda: stats.laplace_asymmetric.logpdf(yc, kap, loc=mu, scale=1 / b),
        ),
        # normal(mu, sigma) + exponential with mean nu: scipy's exponnorm(K = nu / sigma, loc=mu, scale=sigma)
        "exgaussian": ({"sigma": sigma, "nu": nu / 5}, lambda: stats.exponnorm.logpdf(yc, nu / 5 / sigma, mu, sigma)),
        "bernoulli": ({}, lambda: stats.bernoulli.logpmf(yc, mu)),
        "binomial": ({}, lambda: stats.binom.logpmf(yc, n, mu)),
        "beta": ({"kappa": kappa}, lambda: stats.beta.logpdf(yc, mu * kappa, (1 - mu) * kappa)),
        "beta_binomial": ({"kappa": kappa}, lambda: stats.betabinom.logpmf(yc, n, mu * kappa, (1 - mu) * kappa)),
        "poisson": ({}, lambda: stats.poisson.logpmf(yc, mu)),
        # mean mu, shape alpha: scipy's nbinom(n = alpha, p = alpha / (alpha + mu))
        "negativebinomial": ({"alpha": alpha}, lambda: stats.nbinom.logpmf(yc, alpha, alpha / (alpha + mu))),
        "lognormal": ({"sigma": sigma}, lambda: stats.lognorm.logpdf(yc, sigma, scale=np.exp(mu))),
        # shape alpha, mean mu: scale mu / alpha
        "gamma": ({"alpha": alpha}, lambda: stats.gamma.logpdf(yc, alpha, scale=mu / alpha)),
        "exponential": ({}, lambda: stats.expon.logpdf(yc, scale=mu)),
        # shape alpha, mean mu: scale mu / Γ(1 + 1/alpha)
        "weibull": (
            {"alpha": alpha},
            lambda: stats.weibull_min.logpdf(yc, alpha, scale=mu / special.gamma(1 + 1 / alpha)),
        ),
        # Wald(mu, lam): scipy's invgauss(mu / lam, scale=lam)
        "wald": ({"lam": lam}, lambda: stats.invgauss.logpdf(yc, mu / lam, scale=lam)),
    }[name]
    if name == "lognormal":  # identity link on the log scale
        link, eta = "identity", mu
    return y, mu, eta, link, ref[0], trials, ref[1]()


SCIPY_FAMILIES = [
    "gaussian",
    "t",
    "laplace",
    "asymmetriclaplace",
    "exgaussian",
    "bernoulli",
    "binomial",
    "beta",
    "beta_binomial",
    "poisson",
    "negativebinomial",
    "lognormal",
    "gamma",
    "exponential",
    "weibull",
    "wald",
]


@pytest.mark.parametrize("name", SCIPY_FAMILIES)
@pytest.mark.parametrize("with_eta", [False, True])
def test_log_density_equals_scipy(name, with_eta):
    y, mu, eta, link, aux, trials, expected = _case(name)
    density = FAMILIES[name].log_density
    kw = dict(eta=eta, link=link) if with_eta else {}
    got = density(y, mu.copy(), aux, trials, **kw)
    assert got.shape == (R, S)
    np.testing.assert_allclose(got, expected, **TIGHT)
    np.testing.assert_allclose(density(y[:, None], mu.copy(), aux, trials, **kw), expected, **TIGHT)  # (rows, 1) y


@pytest.mark.parametrize("link", ["probit", "cloglog"])
@pytest.mark.parametrize("name", ["bernoulli", "binomial", "beta", "beta_binomial"])
def test_probability_families_read_eta_of_every_link(name, link):
    y, _, eta, _, aux, trials, _ = _case(name)
    eta = np.clip(eta, -2.5, 2.0)  # where g⁻¹(η) is not rounded to 0 or 1: log(mu) and log1p(-mu) are exact
    mu = _inverse(link, eta)
    with_mu = FAMILIES[name].log_density(y, mu.copy(), aux, trials)
    with_eta = FAMILIES[name].log_density(y, mu.copy(), aux, trials, eta=eta, link=link)
    np.testing.assert_allclose(with_eta, with_mu, **TIGHT)


def test_asymmetric_laplace_is_pymcs():
    y, mu, _, _, aux, trials, _ = _case("asymmetriclaplace")
    dist = pm.AsymmetricLaplace.dist(b=aux["b"], kappa=aux["kappa"], mu=mu)
    expected = pm.logp(dist, np.broadcast_to(y[:, None], mu.shape)).eval()
    np.testing.assert_allclose(FAMILIES["asymmetriclaplace"].log_density(y, mu, aux, trials), expected, **TIGHT)


def test_exgaussian_is_stable_where_the_exponential_is_narrow():
    """nu << sigma: the direct form cancels (terms of 1e4 and more); the erfcx form keeps the digits."""
    y = np.array([-3.0, 0.0, 2.0, 50.0])
    mu, sigma, nu = np.zeros((4, 1)), np.array([1.0]), np.array([1e-3])
    got = get_family("exgaussian").log_density(y, mu, {"sigma": sigma, "nu": nu}, None)
    expected = stats.exponnorm.logpdf(y[:, None], nu / sigma, 0.0, sigma)
    np.testing.assert_allclose(got[:3], expected[:3], rtol=1e-9)
    assert np.isfinite(got).all()


# -- zero-inflated and hurdle families against PyMC ---------------------------------------------


def _count_case(rng, with_trials=False):
    eta = rng.normal(0.3, 1.2, (R, S))
    y = np.array([0, 0, 0, 1, 2, 3, 5, 0, 8], dtype=float)
    psi, alpha = rng.uniform(0.05, 0.95, S), rng.uniform(0.5, 5, S)
    trials = np.full(R, 10.0)
    return y, eta, psi, alpha, trials


def _pm_logp(dist, y, shape):
    return pm.logp(dist, np.broadcast_to(y[:, None], shape)).eval()


@pytest.mark.parametrize(
    "name",
    [
        "zero_inflated_poisson",
        "zero_inflated_negativebinomial",
        "zero_inflated_binomial",
        "hurdle_poisson",
        "hurdle_negativebinomial",
        "hurdle_gamma",
        "hurdle_lognormal",
    ],
)
def test_zero_inflated_and_hurdle_equal_pymc(name):
    rng = _rng()
    y, eta, psi, alpha, trials = _count_case(rng)
    family = FAMILIES[name]
    sigma = rng.uniform(0.3, 1.5, S)
    if name == "zero_inflated_binomial":
        mu, link = special.expit(eta), "logit"
        dist = pm.ZeroInflatedBinomial.dist(psi=psi, n=trials[:, None], p=mu)
    elif name == "hurdle_lognormal":
        mu, link = eta, "identity"
        y = np.where(y > 0, y * 0.37, 0.0)
        dist = pm.HurdleLogNormal.dist(psi=psi, mu=mu, sigma=sigma)
    else:
        mu, link = np.exp(eta), "log"
        dist = {
            "zero_inflated_poisson": lambda: pm.ZeroInflatedPoisson.dist(psi=psi, mu=mu),
            "zero_inflated_negativebinomial": lambda: pm.ZeroInflatedNegativeBinomial.dist(psi=psi, mu=mu, alpha=alpha),
            "hurdle_poisson": lambda: pm.HurdlePoisson.dist(psi=psi, mu=mu),
            "hurdle_negativebinomial": lambda: pm.HurdleNegativeBinomial.dist(psi=psi, mu=mu, alpha=alpha),
            "hurdle_gamma": lambda: pm.HurdleGamma.dist(psi=psi, alpha=alpha, beta=alpha / mu),
        }[name]()
        if name == "hurdle_gamma":
            y = np.where(y > 0, y * 0.37, 0.0)
    aux = {"psi": psi, "alpha": alpha, "sigma": sigma}
    expected = _pm_logp(dist, y, mu.shape)
    for kw in ({}, {"eta": eta, "link": link}):
        got = family.log_density(y, mu.copy(), aux, trials, **kw)
        np.testing.assert_allclose(got, expected, **TIGHT)


# -- ordinal and categorical families against PyMC ----------------------------------------------


def _ordinal_case(rng, k=4):
    tau = np.sort(rng.normal(0, 1.5, (S, k - 1)), axis=1)
    eta = rng.normal(0, 1.5, (R, S))
    category = rng.integers(0, k, R)
    category[:k] = np.arange(k)  # every category at least once
    return tau, eta, category


@pytest.mark.parametrize("link", ["logit"])
def test_cumulative_log_probability_equals_pymc(link):
    """PyMC's OrderedLogistic (its OrderedProbit is accurate to ~1e-7 only: probit is checked below)."""
    rng = _rng()
    tau, eta, category = _ordinal_case(rng)
    cutpoints = np.broadcast_to(tau, (R, S, tau.shape[1]))
    dist = (pm.OrderedLogistic if link == "logit" else pm.OrderedProbit).dist(eta=eta, cutpoints=cutpoints)
    expected = pm.logp(dist, np.broadcast_to(category[:, None], (R, S))).eval()
    aux = {"threshold": tau, "category": category}
    got = category_log_probability(get_family("cumulative"), LINKS[link], eta, aux)
    np.testing.assert_allclose(got, expected, **TIGHT)


@pytest.mark.parametrize(
    "family,link",
    [
        ("cumulative", "probit"),
        ("cumulative", "cloglog"),
        ("sratio", "logit"),
        ("sratio", "probit"),
        ("sratio", "cloglog"),
    ],
)
def test_ordinal_log_probability_is_the_log_of_brms_probabilities(family, link):
    """sratio (no PyMC distribution): brms's P(Y = k | Y >= k) = F(τ_k − η), as pm.Categorical's logp."""
    rng = _rng()
    tau, eta, category = _ordinal_case(rng)
    cdf = [_inverse(link, tau[:, j] - eta) for j in range(tau.shape[1])]
    if family == "sratio":
        probs, survive = [], np.ones_like(eta)
        for c in cdf:
            probs.append(survive * c)
            survive = survive * (1 - c)
        probs.append(survive)
    else:
        edges = [np.zeros_like(eta), *cdf, np.ones_like(eta)]
        probs = [hi - lo for lo, hi in zip(edges[:-1], edges[1:])]
    p = np.stack(probs, axis=-1)  # (R, S, K)
    expected = pm.logp(pm.Categorical.dist(p=p), np.broadcast_to(category[:, None], (R, S))).eval()
    aux = {"threshold": tau, "category": category}
    got = category_log_probability(get_family(family), LINKS[link], eta, aux)
    assert np.isfinite(got).all()
    ok = expected > np.log(1e-6)  # where the reference's differences and products of probabilities keep their digits
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-9)
    own = CATEGORY_PROBABILITY[get_family(family).category_rule](eta, LINKS[link].inverse, aux)
    ok = own > 1e-6  # where the engine's difference of probabilities keeps its digits
    np.testing.assert_allclose(got[ok], np.log(own[ok]), rtol=1e-9)  # the engine's probabilities, in log space


def test_categorical_log_probability_equals_pymc():
    rng = _rng()
    etas = [rng.normal(0, 2, (R, S)) for _ in range(3)]  # categories 1..3; the reference's η is 0
    category = np.array([0, 1, 2, 3, 0, 1, 2, 3, 3])
    logits = np.stack([np.zeros((R, S)), *etas], axis=-1)
    expected = pm.logp(pm.Categorical.dist(logit_p=logits), np.broadcast_to(category[:, None], (R, S))).eval()
    aux = {"category_eta": etas, "category": category}
    got = category_log_probability(get_family("categorical"), LINKS["softmax"], np.zeros((R, S)), aux)
    np.testing.assert_allclose(got, expected, **TIGHT)


# -- the tails -------------------------------------------------------------------------------------

EXTREME = np.array([-700.0, -300.0, -40.0, -1.0, 0.0, 1.0, 40.0, 300.0, 700.0])


def _extreme_cases():
    """(family, link, y per row, aux): parameters moderate, η extreme (y's log-density representable)."""
    aux = {"psi": np.array([0.3, 0.999999]), "alpha": np.array([0.7, 3.0]), "kappa": np.array([2.0, 40.0])}
    aux.update(sigma=np.array([0.5, 2.0]))
    cases = []
    for link in ("logit", "probit", "cloglog"):
        cases += [
            ("bernoulli", link, np.array([0, 1] * 4 + [0.0])),
            ("binomial", link, np.array([0, 3, 10, 7, 0, 10, 2, 10, 0.0])),
            ("beta", link, np.array([0.01, 0.5, 0.99, 0.2, 0.7, 1e-6, 0.999999, 0.4, 0.3])),
            ("beta_binomial", link, np.array([0, 3, 10, 7, 0, 10, 2, 10, 0.0])),
            ("zero_inflated_binomial", link, np.array([0, 3, 10, 7, 0, 10, 2, 10, 0.0])),
        ]
    counts = np.array([0, 3, 0, 7, 1, 0, 2, 10, 4.0])
    for name in (
        "poisson",
        "negativebinomial",
        "zero_inflated_poisson",
        "zero_inflated_negativebinomial",
        "hurdle_poisson",
        "hurdle_negativebinomial",
    ):
        cases.append((name, "log", counts))
    positive = np.array([0.5, 2.0, 1e-3, 7.0, 1.0, 0.1, 30.0, 1e3, 2.0])
    for name in ("gamma", "exponential"):
        cases.append((name, "log", positive))
    cases.append(("hurdle_gamma", "log", np.where(counts > 0, positive, 0.0)))
    return [(name, link, y, aux) for name, link, y in cases]


@pytest.mark.parametrize("name,link,y,aux", _extreme_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_finite_for_eta_up_to_700(name, link, y, aux):
    eta = np.repeat(EXTREME[:, None], 2, axis=1)
    mu = _inverse(link, eta)
    trials = np.full(len(y), 10.0)
    got = FAMILIES[name].log_density(y, mu, aux, trials, eta=eta, link=link)
    assert got.shape == eta.shape
    assert np.isfinite(got).all(), got


def test_far_tail_values_are_exact():
    bern, binom = get_family("bernoulli"), get_family("binomial")
    eta = np.array([[700.0], [-700.0], [40.0]])
    mu = special.expit(eta)
    got = bern.log_density(np.array([0.0, 1.0, 0.0]), mu, {}, None, eta=eta, link="logit")
    np.testing.assert_allclose(got[:, 0], [-700.0, -700.0, -40.0 - np.log1p(np.exp(-40.0))], rtol=1e-15)
    # probit: log(1 − Φ(700)) = log Φ(−700)
    got = bern.log_density(np.array([0.0]), special.ndtr(eta[:1]), {}, None, eta=eta[:1], link="probit")
    np.testing.assert_allclose(got, special.log_ndtr(-700.0), rtol=1e-14)
    got = binom.log_density(np.array([2.0]), mu[:1], {}, np.array([5.0]), eta=eta[:1], link="logit")
    np.testing.assert_allclose(got, np.log(10.0) - 3 * 700.0, rtol=1e-14)
    assert float(log1mexp(np.array(-1e-300))) == pytest.approx(np.log(1e-300), rel=1e-14)


def test_cumulative_far_tails():
    """K = 3, logit: the middle category at η = ±700 is a difference of two numbers near 0 or near 1."""
    tau = np.array([[-0.5, 1.0]])
    cumulative = get_family("cumulative")
    for e, expected in (
        (700.0, -700.0 + np.log(np.exp(1.0) - np.exp(-0.5))),
        (-700.0, -700.0 + np.log(np.exp(0.5) - np.exp(-1.0))),
    ):
        aux = {"threshold": tau, "category": np.array([0, 1, 2])}
        got = category_log_probability(cumulative, LINKS["logit"], np.full((3, 1), e), aux)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got[1, 0], expected, rtol=1e-14)
    for link in ("probit", "cloglog", "logit"):
        got = category_log_probability(
            cumulative, LINKS[link], EXTREME[:, None], {"threshold": tau, "category": np.arange(9) % 3}
        )
        assert np.isfinite(got).all(), (link, got)
        got = category_log_probability(
            get_family("sratio"), LINKS[link], EXTREME[:, None], {"threshold": tau, "category": np.arange(9) % 3}
        )
        assert np.isfinite(got).all(), (link, got)
    etas = [np.full((9, 1), 700.0), EXTREME[:, None]]
    got = category_log_probability(
        get_family("categorical"),
        LINKS["softmax"],
        np.zeros((9, 1)),
        {"category_eta": etas, "category": np.arange(9) % 3},
    )
    assert np.isfinite(got).all()


def test_every_family_has_a_log_density():
    for name, family in FAMILIES.items():
        assert (family.log_density is None) == family.categorical, name
