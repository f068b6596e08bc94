"""``mixeff.log_lik(group=...)``: each level's joint likelihood with its effects integrated out (no MCMC).

Gaussian against scipy's multivariate normal (1e-10), lognormal against the same closed form written
here, bernoulli and poisson random intercepts against ``scipy.integrate.quad`` (1e-8), a correlated
``(1 + x | g)`` bernoulli against a 400 × 400 trapezoid grid (1e-7); the recorded error estimate bounds
the true error.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special, stats

import mixeff
from mixeff.model.families import get_link

pytestmark = pytest.mark.filterwarnings("ignore::mixeff.ConvergenceWarning")

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brms_sleepstudy"
DRAWS = [0, 7, 500, 999]


@pytest.fixture(scope="module")
def sleep():
    draws = pd.read_csv(FIXTURE / "draws.csv")
    data = mixeff.datasets.load_sleepstudy()
    spec = mixeff.from_brms_draws(
        draws, formula="Reaction ~ 1 + Days + (1 + Days | Subject)", data=data, family="gaussian"
    )
    return spec, draws, data


def _mvn_args(draws, days, s):
    x = np.c_[np.ones(len(days)), days]
    mean = x @ [draws["b_Intercept"][s], draws["b_Days"][s]]
    sd = np.array([draws["sd_Subject__Intercept"][s], draws["sd_Subject__Days"][s]])
    cor = draws["cor_Subject__Intercept__Days"][s]
    sigma = np.outer(sd, sd) * np.array([[1.0, cor], [cor, 1.0]])
    return mean, x @ sigma @ x.T + draws["sigma"][s] ** 2 * np.eye(len(days))


def test_gaussian_sleepstudy_equals_multivariate_normal(sleep):
    spec, draws, data = sleep
    result = mixeff.log_lik(spec, group="Subject")
    assert result.kind == "log_lik" and result.draws.shape == (18, 1000)
    assert result.grid["Subject"].tolist() == pd.unique(data["Subject"].astype(str)).tolist()
    record = result.integrated_likelihood
    assert (record.factor, record.method, record.nodes, record.error_bound) == ("Subject", "closed form", 0, 0.0)
    for j, level in enumerate(result.grid["Subject"]):
        rows = data["Subject"].astype(str) == level
        for s in DRAWS:
            mean, cov = _mvn_args(draws, data["Days"][rows].to_numpy(float), s)
            expected = stats.multivariate_normal.logpdf(data["Reaction"][rows], mean, cov)
            np.testing.assert_allclose(result.draws[j, s], expected, rtol=1e-10, atol=1e-10)


def test_gaussian_sums_to_the_joint_with_draw_ids(sleep):
    spec, _, _ = sleep
    whole = mixeff.log_lik(spec, group="Subject")
    some = mixeff.log_lik(spec, group="Subject", draw_ids=[3, 5])
    np.testing.assert_array_equal(some.draws, whole.draws[:, [3, 5]])


def test_lognormal_is_the_closed_form_on_log_y(sleep):
    _, draws, data = sleep
    scaled = draws.copy()
    for col in scaled.columns:
        if not col.startswith(("cor_", ".")):
            scaled[col] = scaled[col] / 100.0
    frame = data.assign(y=np.exp(data["Reaction"] / 100.0))
    spec = mixeff.from_brms_draws(scaled, formula="y ~ 1 + Days + (1 + Days | Subject)", data=frame, family="lognormal")
    result = mixeff.log_lik(spec, group="Subject")
    assert result.integrated_likelihood.method == "closed form"
    for j, level in enumerate(result.grid["Subject"]):
        rows = frame["Subject"].astype(str) == level
        log_y = np.log(frame["y"][rows].to_numpy())
        for s in DRAWS:
            mean, cov = _mvn_args(scaled, frame["Days"][rows].to_numpy(float), s)
            expected = stats.multivariate_normal.logpdf(log_y, mean, cov) - log_y.sum()
            np.testing.assert_allclose(result.draws[j, s], expected, rtol=1e-10, atol=1e-10)


def _quad_reference(loglik, sd):
    """log ∫ exp(loglik(b)) N(b; 0, sd²) db by adaptive quad around the integrand's mode."""

    def f(b):
        return loglik(b) + stats.norm.logpdf(b, 0.0, sd)

    mode = optimize.minimize_scalar(lambda b: -f(b), bracket=(-1.0, 1.0)).x
    peak = f(mode)
    lo, hi = mode - 40 * sd, mode + 40 * sd
    value, _ = integrate.quad(lambda b: np.exp(f(b) - peak), lo, hi, epsabs=0, epsrel=1e-13, limit=500, points=[mode])
    return np.log(value) + peak


def _check_random_intercept(spec, data, family_ll):
    result = mixeff.log_lik(spec, group="g")
    record = result.integrated_likelihood
    assert record.nodes == 30 and "Gauss-Hermite" in record.method
    eta0 = spec.fixed_design(data) @ spec.beta.T
    sd = spec.groups["g"].sd[:, 0]
    worst = 0.0
    for j, level in enumerate(result.grid["g"]):
        rows = (data["g"] == level).to_numpy()
        y = data["y"].to_numpy(float)[rows]
        for s in range(4):
            eta = eta0[rows, s]
            ref = _quad_reference(lambda b, y=y, eta=eta: family_ll(y, eta + b).sum(), sd[s])
            worst = max(worst, abs(result.draws[j, s] - ref))
    assert worst < 1e-8
    assert worst <= record.error_bound + 1e-12
    assert record.error_bound < 1e-6


def test_bernoulli_random_intercept_equals_quad(xzg_spec):
    _check_random_intercept(xzg_spec, xzg_spec.data, lambda y, eta: y * eta - np.logaddexp(0.0, eta))


def test_poisson_random_intercept_equals_quad():
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"x": rng.normal(size=60), "g": np.repeat(["a", "b", "c"], 20)})
    data["y"] = rng.poisson(np.exp(0.5 + 0.3 * data["x"] + np.repeat([-0.8, 0.1, 0.9], 20)))
    n = 50
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(0.5, 0.1, n),
            "b_x": rng.normal(0.3, 0.05, n),
            "sd_g__Intercept": rng.gamma(10, 0.08, n),
        }
    )
    for lev in "abc":
        draws[f"r_g[{lev},Intercept]"] = rng.normal(0, 0.8, n)
    spec = mixeff.from_brms_draws(draws, formula="y ~ x + (1 | g)", data=data, family="poisson")
    _check_random_intercept(spec, data, lambda y, eta: y * eta - np.exp(eta) - special.gammaln(y + 1.0))


def test_correlated_bernoulli_equals_a_2d_grid():
    rng = np.random.default_rng(11)
    data = pd.DataFrame({"x": rng.normal(size=90), "g": np.repeat(["a", "b", "c"], 30)})
    data["y"] = (rng.random(90) < special.expit(-0.3 + 0.8 * data["x"])).astype(int)
    n = 20
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(-0.3, 0.2, n),
            "b_x": rng.normal(0.8, 0.2, n),
            "sd_g__Intercept": np.abs(rng.normal(0.9, 0.1, n)),
            "sd_g__x": np.abs(rng.normal(0.5, 0.1, n)),
            "cor_g__Intercept__x": rng.uniform(-0.5, 0.8, n),
        }
    )
    for lev in "abc":
        draws[f"r_g[{lev},Intercept]"] = rng.normal(0, 0.7, n)
        draws[f"r_g[{lev},x]"] = rng.normal(0, 0.4, n)
    spec = mixeff.from_brms_draws(draws, formula="y ~ x + (1 + x | g)", data=data, family="bernoulli")
    result = mixeff.log_lik(spec, group="g")
    record = result.integrated_likelihood
    assert record.nodes == 18**2
    t = np.linspace(-8.0, 8.0, 400)
    h = t[1] - t[0]
    u1, u2 = (a.ravel() for a in np.meshgrid(t, t, indexing="ij"))
    weight = np.full(400, h)
    weight[[0, -1]] = h / 2
    log_w = np.log(np.outer(weight, weight).ravel()) + stats.norm.logpdf(u1) + stats.norm.logpdf(u2)
    worst = 0.0
    for j, level in enumerate(result.grid["g"]):
        rows = data["g"] == level
        x, y = data["x"][rows].to_numpy(), data["y"][rows].to_numpy(float)
        for s in range(2):
            sd1, sd2 = draws["sd_g__Intercept"][s], draws["sd_g__x"][s]
            rho = draws["cor_g__Intercept__x"][s]
            b1 = sd1 * u1  # b = L u, L the Cholesky factor of Σ
            b2 = sd2 * (rho * u1 + np.sqrt(1 - rho**2) * u2)
            eta = draws["b_Intercept"][s] + b1[:, None] + x * (draws["b_x"][s] + b2[:, None])
            loglik = (y * eta - np.logaddexp(0.0, eta)).sum(axis=1)
            ref = special.logsumexp(loglik + log_w)
            worst = max(worst, abs(result.draws[j, s] - ref))
    assert worst < 1e-7
    assert worst <= record.error_bound
    assert record.error_bound < 1e-5


def test_refusals(sleep, xzg_spec):
    spec, _, data = sleep
    with pytest.raises(ValueError, match=r"not a grouping factor of the model; its factors are \['Subject'\]"):
        mixeff.log_lik(spec, group="Days")
    with pytest.raises(ValueError, match="no column 'Reaction'"):
        mixeff.log_lik(spec, data.drop(columns="Reaction"), group="Subject")
    with pytest.raises(ValueError, match=r"not yet for gaussian\(log\)"):
        mixeff.log_lik(replace(spec, link=get_link(spec.family, "log")), group="Subject")
    with pytest.raises(ValueError, match="re_formula does not apply"):
        mixeff.log_lik(xzg_spec, group="g", re_formula="NA")
    g = xzg_spec.groups["g"]
    s = xzg_spec.n_samples
    four = replace(xzg_spec, groups={"g": replace(g, sd=np.ones((s, 4)), b=np.zeros((s, 4, 4)))})
    with pytest.raises(ValueError, match="has 4 group-level terms; adaptive quadrature is offered for up to 3"):
        mixeff.log_lik(four, group="g")
