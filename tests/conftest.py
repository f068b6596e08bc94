"""Shared fits: each model is sampled once per test session (MCMC is the slow part)."""

import numpy as np
import pandas as pd
import pytest

import mixeff

FAST = dict(draws=250, tune=300, chains=2, progress=False)


@pytest.fixture(scope="session")
def magnusson_fit():
    """The seed's lognormal cluster model, y ~ 1 + TX + (1 | cluster)."""
    d = mixeff.datasets.load_magnusson()
    return mixeff.fit("y ~ 1 + TX + (1 | cluster)", d, family="lognormal", seed=11, **FAST)


@pytest.fixture(scope="session")
def sleep_fit():
    """Reaction ~ 1 + Days + (1 + Days | Subject): correlated intercepts and slopes, as brms fits them."""
    d = mixeff.datasets.load_sleepstudy()
    return mixeff.fit("Reaction ~ 1 + Days + (1 + Days | Subject)", d, family="gaussian", seed=12, **FAST)


def _logistic_data(seed=3, n_groups=12, n_per=40, sd=1.5):
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i}" for i in range(n_groups)], n_per)
    u = rng.normal(0, sd, n_groups)
    x = rng.normal(0, 1, g.size)
    z = rng.choice(["a", "b", "c"], g.size)
    eta = -1.0 + 0.5 * x + np.array([0.0, 0.4, -0.3])[pd.Categorical(z, ["a", "b", "c"]).codes] + np.repeat(u, n_per)
    y = (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"y": y, "x": x, "z": z, "g": g})


@pytest.fixture(scope="session")
def logistic_data():
    return _logistic_data()


@pytest.fixture(scope="session")
def bernoulli_fit(logistic_data):
    """y ~ x + z + (1 | g), bernoulli/logit, random-intercept sd about 1.5."""
    return mixeff.fit("y ~ x + z + (1 | g)", logistic_data, family="bernoulli", seed=13, **FAST)


@pytest.fixture(scope="session")
def gaussian_ri_fit():
    """A gaussian random-intercept model with a numeric x (seed 001, MAR.1)."""
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(5), 30)
    x = rng.normal(0, 1, g.size)
    y = np.array([60, 65, 70, 75, 80])[g] + 2.0 * x + rng.normal(0, 1, g.size)
    d = pd.DataFrame({"y": y, "x": x, "g": [f"grp{i}" for i in g]})
    return mixeff.fit("y ~ x + (1 | g)", d, family="gaussian", seed=14, **FAST)


@pytest.fixture(scope="session")
def xzg_spec():
    """Bernoulli y ~ x + z + (1 | g) from known brms-layout draws (no MCMC): a numeric x, a 3-level
    factor z, 4 clusters of 45 rows, 300 draws."""
    n, draws_n = 180, 300
    rng = np.random.default_rng(1)
    d = pd.DataFrame(
        {
            "x": rng.uniform(-3, 3, n),
            "z": rng.choice(["a", "b", "c"], n),
            "g": np.repeat([f"g{i}" for i in range(4)], n // 4),
        }
    )
    eta = -0.5 + 0.9 * d.x + (d.z == "b") * 1.0 - (d.z == "c") * 0.7
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    rng = np.random.default_rng(7)
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(-0.5, 0.2, draws_n),
            "b_x": rng.normal(0.9, 0.1, draws_n),
            "b_zb": rng.normal(1.0, 0.25, draws_n),
            "b_zc": rng.normal(-0.7, 0.25, draws_n),
            "sd_g__Intercept": rng.gamma(10, 0.05, draws_n),
        }
    )
    for i in range(4):
        draws[f"r_g[g{i},Intercept]"] = rng.normal(0.5 * (i - 1.5), 0.3, draws_n)
    return mixeff.from_brms_draws(draws, formula="y ~ x + z + (1 | g)", data=d, family="bernoulli")
