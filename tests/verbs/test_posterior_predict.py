"""posterior_predict: replicated responses against numpy simulations from the same parameter draws,
new-level ("mixed") replication, and refusals.

Every spec is built from made-up brms-named draws (no MCMC): two chains of 1000 independent draws,
so that R-hat and ESS of the replications stay inside mixeff's thresholds.  Statistical checks compare
a Monte Carlo estimate with its expectation within Z_MAX standard errors; every simulation is seeded.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import special

import mixeff

S = 2000
"""Draws: two chains of 1000."""
Z_MAX = 4.5
"""Tolerance of every statistical check, in Monte Carlo standard errors."""
CLUSTERS = [f"c{i}" for i in range(10)]


def _chains(columns: dict) -> pd.DataFrame:
    table = pd.DataFrame(columns)
    table[".chain"] = np.repeat([1, 2], S // 2)
    table[".iteration"] = np.tile(np.arange(1, S // 2 + 1), 2)
    table[".draw"] = np.arange(1, S + 1)
    return table


def _z(statistic_rep: np.ndarray, statistic_np: np.ndarray) -> float:
    """Paired z of two simulations of the same cells: given the parameter draws every cell is an
    independent draw in both, so the mean difference has SE sd(difference) / sqrt(cells)."""
    d = (statistic_rep - statistic_np).ravel()
    return float(d.mean() / (d.std(ddof=1) / np.sqrt(d.size)))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 200
    return pd.DataFrame(
        {
            "x": rng.uniform(-1, 1, n),
            "g": np.repeat(CLUSTERS, n // len(CLUSTERS)),
            "n": rng.integers(1, 12, n),
        }
    )


def _group(rng, dpar: str = "", sd: float = 0.4) -> dict:
    key, term = (f"g__{dpar}", f"{dpar}_Intercept") if dpar else ("g", "Intercept")
    return {
        f"sd_g__{term}": np.abs(rng.normal(sd, 0.05, S)),
        **{f"r_{key}[{lev},Intercept]": rng.normal(0, sd, S) for lev in CLUSTERS},
    }


def _eta(draws: pd.DataFrame, frame: pd.DataFrame, prefix: str = "b_", dpar: str = "", intercept=True) -> np.ndarray:
    """``(rows, S)`` linear predictor by hand: Intercept + x·slope + the row's cluster's effect."""
    x = frame["x"].to_numpy()[:, None]
    key = f"g__{dpar}" if dpar else "g"
    eta = x * draws[prefix + "x"].to_numpy()[None, :]
    if intercept:
        eta = eta + draws[prefix + "Intercept"].to_numpy()[None, :]
    return eta + np.stack([draws[f"r_{key}[{lev},Intercept]"].to_numpy() for lev in frame["g"]])


def _aux(draws: pd.DataFrame, name: str) -> np.ndarray:
    return draws[name].to_numpy()[None, :]


# family, its brms draws beyond the mean's, the intercept, and a numpy simulation of (rows, S) cells
FAMILIES = {
    "gaussian": (
        lambda r: {"sigma": r.uniform(0.8, 1.2, S)},
        0.5,
        lambda r, eta, d, f: r.normal(eta, _aux(d, "sigma")),
    ),
    "lognormal": (
        lambda r: {"sigma": r.uniform(0.3, 0.5, S)},
        0.5,
        lambda r, eta, d, f: np.exp(eta + _aux(d, "sigma") * r.standard_normal(eta.shape)),
    ),
    "bernoulli": (lambda r: {}, 0.2, lambda r, eta, d, f: (r.random(eta.shape) < special.expit(eta)).astype(float)),
    "binomial": (
        lambda r: {},
        0.2,
        lambda r, eta, d, f: r.binomial(np.broadcast_to(f["n"].to_numpy()[:, None], eta.shape), special.expit(eta)),
    ),
    "poisson": (lambda r: {}, 1.0, lambda r, eta, d, f: r.poisson(np.exp(eta))),
    "negbinomial": (
        lambda r: {"shape": r.uniform(1.5, 3.0, S)},
        1.0,
        # numpy's negative_binomial(n, p): mean n (1 - p) / p = mu for n = shape, p = shape / (shape + mu)
        lambda r, eta, d, f: r.negative_binomial(
            np.broadcast_to(_aux(d, "shape"), eta.shape), _aux(d, "shape") / (_aux(d, "shape") + np.exp(eta))
        ),
    ),
    "zero_inflated_poisson": (
        lambda r: {"zi": r.uniform(0.2, 0.4, S)},
        1.0,
        lambda r, eta, d, f: np.where(r.random(eta.shape) < _aux(d, "zi"), 0, r.poisson(np.exp(eta))),
    ),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_replications_match_a_numpy_simulation(family, data):
    """E[y], E[y²], E[y·η] (η by hand: the rows' alignment with their parameters) and, for counts, the
    share of zeros of mixeff's replications agree with numpy's within Z_MAX paired Monte Carlo SEs."""
    extra, intercept, simulate = FAMILIES[family]
    rng = np.random.default_rng(30 + list(FAMILIES).index(family))
    draws = _chains(
        {"b_Intercept": rng.normal(intercept, 0.1, S), "b_x": rng.normal(0.8, 0.1, S), **_group(rng), **extra(rng)}
    )
    spec = mixeff.from_brms_draws(
        draws,
        formula="y ~ x + (1 | g)",
        data=data,
        family=family,
        trials="n" if family == "binomial" else None,
    )
    y_rep = mixeff.posterior_predict(spec, seed=5)
    assert y_rep.kind == "posterior_predict" and y_rep.type == "prediction"
    assert y_rep.draws.shape == (len(data), S) and y_rep.grid["g"].tolist() == data["g"].tolist()
    eta = _eta(draws, data)
    y_np = np.asarray(simulate(np.random.default_rng(99), eta, draws, data), dtype=float)
    statistics = {"y": lambda y: y, "y^2": lambda y: y**2, "y*eta": lambda y: y * eta}
    if family not in ("gaussian", "lognormal"):
        statistics["zero"] = lambda y: (y == 0).astype(float)
        assert np.all(y_rep.draws == np.round(y_rep.draws)) and np.all(y_rep.draws >= 0)
    if family == "binomial":
        assert np.all(y_rep.draws <= data["n"].to_numpy()[:, None])  # counts out of the trials
    z = {name: _z(f(y_rep.draws), f(y_np)) for name, f in statistics.items()}
    assert all(abs(v) < Z_MAX for v in z.values()), z


def test_the_same_seed_gives_the_same_replications(data):
    rng = np.random.default_rng(2)
    draws = _chains({"b_Intercept": rng.normal(1, 0.1, S), "b_x": rng.normal(0.8, 0.1, S), **_group(rng)})
    spec = mixeff.from_brms_draws(draws, formula="y ~ x + (1 | g)", data=data, family="poisson")
    rows = data.head(20)
    a, b = (mixeff.posterior_predict(spec, rows, seed=4) for _ in range(2))
    np.testing.assert_array_equal(a.draws, b.draws)
    assert not np.array_equal(a.draws, mixeff.posterior_predict(spec, rows, seed=5).draws)
    # the non-category path is predictions(type="prediction"): the same draws
    np.testing.assert_array_equal(a.draws, mixeff.predictions(spec, rows, type="prediction", seed=4).draws)


# -- ordinal and categorical -----------------------------------------------------------------


def _category_z(y_rep: np.ndarray, y_np: np.ndarray, k: int, x: np.ndarray) -> dict:
    """Paired z of each category's share, and of its share weighted by x (the rows' alignment)."""
    out = {}
    for c in range(1, k + 1):
        out[f"P({c})"] = _z((y_rep == c).astype(float), (y_np == c).astype(float))
        out[f"x·P({c})"] = _z((y_rep == c) * x[:, None], (y_np == c) * x[:, None])
    return out


def _numpy_categories(probabilities: np.ndarray) -> np.ndarray:
    """``(rows, S)`` positions 1..K drawn with numpy's multinomial from ``(K, rows, S)`` probabilities."""
    p = np.moveaxis(probabilities, 0, -1)
    p = p / p.sum(axis=-1, keepdims=True)
    return np.argmax(np.random.default_rng(77).multinomial(1, p), axis=-1) + 1.0


def test_cumulative_replications_are_category_positions_with_the_model_probabilities(data):
    rng = np.random.default_rng(3)
    tau1 = rng.normal(-1.0, 0.1, S)
    tau2 = tau1 + np.exp(rng.normal(0, 0.1, S))
    tau3 = tau2 + np.exp(rng.normal(0, 0.1, S))
    draws = _chains(
        {"b_Intercept[1]": tau1, "b_Intercept[2]": tau2, "b_Intercept[3]": tau3, "b_x": rng.normal(1.2, 0.1, S)}
        | _group(rng)
    )
    categories = ["lo", "mid", "hi", "top"]
    spec = mixeff.from_brms_draws(
        draws, formula="y ~ x + (1 | g)", data=data, family="cumulative", categories=categories
    )
    y_rep = mixeff.posterior_predict(spec, seed=8)
    assert y_rep.draws.shape == (len(data), S) and "group" not in y_rep.grid.columns
    assert set(np.unique(y_rep.draws)) == {1.0, 2.0, 3.0, 4.0}
    eta = _eta(draws, data, intercept=False)
    cdf = [np.zeros_like(eta)] + [special.expit(t[None, :] - eta) for t in (tau1, tau2, tau3)] + [np.ones_like(eta)]
    probabilities = np.stack([cdf[k + 1] - cdf[k] for k in range(4)])
    z = _category_z(y_rep.draws, _numpy_categories(probabilities), 4, data["x"].to_numpy())
    assert all(abs(v) < Z_MAX for v in z.values()), z


def test_categorical_replications_follow_the_softmax_probabilities(data):
    rng = np.random.default_rng(4)
    draws = _chains(
        {
            "b_muB_Intercept": rng.normal(0.3, 0.1, S),
            "b_muB_x": rng.normal(1.0, 0.1, S),
            "b_muC_Intercept": rng.normal(-0.2, 0.1, S),
            "b_muC_x": rng.normal(-0.8, 0.1, S),
        }
        | _group(rng, "muB")
        | _group(rng, "muC")
    )
    spec = mixeff.from_brms_draws(
        draws, formula="y ~ x + (1 | g)", data=data, family="categorical", categories=["A", "B", "C"]
    )
    y_rep = mixeff.posterior_predict(spec, seed=9)
    assert y_rep.draws.shape == (len(data), S) and set(np.unique(y_rep.draws)) == {1.0, 2.0, 3.0}
    etas = np.stack([np.zeros((len(data), S))] + [_eta(draws, data, f"b_{m}_", m) for m in ("muB", "muC")])
    probabilities = special.softmax(etas, axis=0)
    z = _category_z(y_rep.draws, _numpy_categories(probabilities), 3, data["x"].to_numpy())
    assert all(abs(v) < Z_MAX for v in z.values()), z
    again = mixeff.posterior_predict(spec, seed=9)
    np.testing.assert_array_equal(again.draws, y_rep.draws)
    fresh = mixeff.posterior_predict(spec, data.head(30), levels="new", seed=9)
    assert fresh.draws.shape == (30, S) and set(np.unique(fresh.draws)) <= {1.0, 2.0, 3.0}
    assert fresh.new_levels.levels == {"g": 2}  # data.head(30): clusters c0 and c1


# -- new levels ------------------------------------------------------------------------------


def _intercept_spec(n_clusters: int, per: int, sigma: float):
    """Gaussian ``y ~ 1 + (1 | g)``; the fitted levels' effects are far wider (sd 3) than sd_g (about 1),
    so replications that used them would fail the checks."""
    rng = np.random.default_rng(21)
    levels = [f"k{i}" for i in range(n_clusters)]
    data = pd.DataFrame({"g": np.repeat(levels, per)})
    draws = _chains(
        {
            "b_Intercept": rng.normal(2.0, 0.3, S),
            "sd_g__Intercept": rng.uniform(0.8, 1.2, S),
            "sigma": np.full(S, sigma) * rng.uniform(0.9, 1.1, S),
            **{f"r_g[{lev},Intercept]": rng.normal(0, 3.0, S) for lev in levels},
        }
    )
    return mixeff.from_brms_draws(draws, formula="y ~ 1 + (1 | g)", data=data), draws, data


def test_new_levels_vary_across_clusters_as_sd_squared_plus_sigma_squared_over_n():
    """Per draw, the variance across clusters of the cluster means of y_rep − b_Intercept has expectation
    sd² + σ²/n (unbiased sample variance over 200 clusters); averaged over draws within Z_MAX SEs.
    Clusters are independent: the pooled product of neighbouring clusters' standardised means is 0 within
    Z_MAX SEs (1/sqrt(pairs × draws))."""
    n_clusters, per = 200, 5
    spec, draws, data = _intercept_spec(n_clusters, per, sigma=0.5)
    y_rep = mixeff.posterior_predict(spec, levels="new", seed=3)
    assert y_rep.grid["g"].tolist() == data["g"].tolist()  # the original labels
    assert y_rep.new_levels.how == "gaussian" and y_rep.new_levels.levels == {"g": n_clusters}
    centred = y_rep.draws - draws["b_Intercept"].to_numpy()[None, :]
    means = centred.reshape(n_clusters, per, S).mean(axis=1)
    sd, sigma = draws["sd_g__Intercept"].to_numpy(), draws["sigma"].to_numpy()
    expected = sd**2 + sigma**2 / per
    excess = means.var(axis=0, ddof=1) - expected
    assert abs(excess.mean()) < Z_MAX * excess.std(ddof=1) / np.sqrt(S), (excess.mean(), expected.mean())
    standard = means / np.sqrt(expected)
    products = standard[0::2] * standard[1::2]
    assert abs(products.mean()) < Z_MAX / np.sqrt(products.size)
    # existing levels would vary far more across clusters (fitted effects with sd 3)
    existing = mixeff.posterior_predict(spec, seed=3).draws - draws["b_Intercept"].to_numpy()[None, :]
    assert existing.reshape(n_clusters, per, S).mean(axis=1).var(axis=0).mean() > 4 * expected.mean()


def test_every_row_of_a_new_level_shares_it_and_seeds_reproduce():
    n_clusters, per = 20, 5
    spec, draws, data = _intercept_spec(n_clusters, per, sigma=1e-6)
    rows = data.sample(frac=1.0, random_state=1)  # a level's rows apart from each other
    y_rep = mixeff.posterior_predict(spec, rows, levels="new", seed=7)
    assert y_rep.grid["g"].tolist() == rows["g"].tolist()
    by_level = pd.DataFrame(y_rep.draws).groupby(rows["g"].to_numpy())
    assert (by_level.max() - by_level.min()).to_numpy().max() < 1e-4  # one level per cluster and draw
    assert by_level.mean().std(axis=0).min() > 0.1  # clusters differ
    np.testing.assert_array_equal(mixeff.posterior_predict(spec, rows, levels="new", seed=7).draws, y_rep.draws)
    assert not np.allclose(mixeff.posterior_predict(spec, rows, levels="new", seed=8).draws, y_rep.draws)
    # no group-level terms: nothing to replace, the same stream as levels="existing"
    np.testing.assert_array_equal(
        mixeff.posterior_predict(spec, rows, levels="new", re_formula="NA", seed=7).draws,
        mixeff.posterior_predict(spec, rows, re_formula="NA", seed=7).draws,
    )


def test_new_levels_of_interaction_factors_are_combinations_of_their_columns():
    """``(1 | g) + (1 | g:h)``: rows with the same (g, h) share both levels; rows with the same g and
    another h share g's level only."""
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"g": np.repeat(["a", "b", "c"], 4), "h": np.tile([1, 1, 2, 2], 3)})
    columns = {"b_Intercept": rng.normal(size=S), "sigma": np.full(S, 1e-6)}
    columns |= {"sd_g__Intercept": np.full(S, 1.0), "sd_g:h__Intercept": np.full(S, 1.0)}
    columns |= {f"r_g[{g},Intercept]": rng.normal(size=S) for g in "abc"}
    columns |= {f"r_g:h[{g}_{h},Intercept]": rng.normal(size=S) for g in "abc" for h in (1, 2)}
    draws = _chains(columns)
    spec = mixeff.from_brms_draws(draws, formula="y ~ 1 + (1 | g) + (1 | g:h)", data=data)
    y_rep = mixeff.posterior_predict(spec, levels="new", seed=1)
    assert y_rep.new_levels.levels == {"g": 3, "g:h": 6}
    values = y_rep.draws - draws["b_Intercept"].to_numpy()[None, :]
    np.testing.assert_allclose(values[0::2], values[1::2], atol=1e-4)  # rows 2i and 2i+1 share (g, h)
    cells = values[0::2]  # (a,1), (a,2), (b,1), (b,2), (c,1), (c,2)
    assert np.abs(cells[0] - cells[1]).min() > 0  # g:h differs within g
    # var(u_g + u_gh) = 2 and, within g, cov of (u_g + u_gh1, u_g + u_gh2) = var(u_g) = 1
    n = 3 * S
    pairs = cells.reshape(3, 2, S)
    assert abs((pairs[:, 0] * pairs[:, 1]).mean() - 1.0) < Z_MAX * np.sqrt(5.0 / n)  # var(XY) = 2·2 + 1² = 5
    assert abs((cells**2).mean() - 2.0) < Z_MAX * np.sqrt(10.0 / (6 * S))  # var 8, cov 2 within g


def test_correlated_new_levels_have_the_fitted_correlation():
    """``(1 + x | g)``: new levels' intercept and slope, read from rows at x = 0 and 1 (σ tiny), have
    standardised second moments 1, 1 and the mean fitted correlation, within Z_MAX SEs."""
    rng = np.random.default_rng(6)
    levels = [f"k{i}" for i in range(200)]
    data = pd.DataFrame({"g": np.repeat(levels, 2), "x": np.tile([0.0, 1.0], len(levels))})
    rho = rng.uniform(0.5, 0.7, S)
    columns = {
        "b_Intercept": rng.normal(1.0, 0.2, S),
        "b_x": rng.normal(0.5, 0.2, S),
        "sd_g__Intercept": rng.uniform(0.8, 1.2, S),
        "sd_g__x": rng.uniform(0.4, 0.6, S),
        "cor_g__Intercept__x": rho,
        "sigma": np.full(S, 1e-6),
    }
    columns |= {f"r_g[{lev},{t}]": rng.normal(0, 2.0, S) for lev in levels for t in ("Intercept", "x")}
    draws = _chains(columns)
    spec = mixeff.from_brms_draws(draws, formula="y ~ 1 + x + (1 + x | g)", data=data)
    y_rep = mixeff.posterior_predict(spec, levels="new", seed=2).draws.reshape(len(levels), 2, S)
    b0, b1 = draws["b_Intercept"].to_numpy(), draws["b_x"].to_numpy()
    z0 = (y_rep[:, 0] - b0) / draws["sd_g__Intercept"].to_numpy()
    z1 = (y_rep[:, 1] - y_rep[:, 0] - b1) / draws["sd_g__x"].to_numpy()
    n = z0.size
    assert abs((z0 * z1).mean() - rho.mean()) < Z_MAX * np.sqrt((1 + np.mean(rho**2)) / n)
    assert abs((z0**2).mean() - 1) < Z_MAX * np.sqrt(2 / n) and abs((z1**2).mean() - 1) < Z_MAX * np.sqrt(2 / n)


# -- refusals --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_spec():
    spec, _, _ = _intercept_spec(10, 2, sigma=0.5)
    return spec


def test_bad_arguments_are_refused(small_spec):
    with pytest.raises(ValueError, match=r"levels='fresh' is not one of \['existing', 'new'\]"):
        mixeff.posterior_predict(small_spec, levels="fresh")
    with pytest.raises(TypeError, match=r"newdata must be a pandas DataFrame .* got str"):
        mixeff.posterior_predict(small_spec, "mean")
    with pytest.raises(ValueError, match=r"ndraws=5000: the fit has 2000 draws \(2 chains × 1000\); choose 1 to 2000"):
        mixeff.posterior_predict(small_spec, ndraws=5000)
    with pytest.raises(ValueError, match=r"seed=-1"):
        mixeff.posterior_predict(small_spec, seed=-1)


def test_unseen_levels_raise_unless_replaced(small_spec):
    rows = pd.DataFrame({"g": ["k1", "elsewhere"]})
    with pytest.raises(
        ValueError, match=r"level\(s\) \['elsewhere'\] of grouping factor 'g' that the model has not seen; relabel"
    ):
        mixeff.posterior_predict(small_spec, rows)
    assert mixeff.posterior_predict(small_spec, rows, levels="new", seed=1).draws.shape == (2, S)


def test_a_grouping_column_that_is_also_a_predictor_is_refused_for_new_levels():
    rng = np.random.default_rng(8)
    data = pd.DataFrame({"g": np.repeat([1, 2, 3], 2)})
    group = mixeff.model.spec.GroupFactor(
        name="g",
        columns=("g",),
        levels=np.array(["1", "2", "3"]),
        terms=["Intercept"],
        b=rng.normal(size=(S, 3, 1)),
        sd=np.ones((S, 1)),
        cor=None,
        design=lambda f: np.ones((len(f), 1)),
        term_blocks={"1": [0]},
    )
    spec = mixeff.from_arrays(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["g"].to_numpy(dtype=float)]),
        beta=rng.normal(size=(S, 2)),
        beta_names=["Intercept", "g"],
        family="gaussian",
        data=data,
        groups=[group],
        aux={"sigma": np.ones(S)},
        n_chains=2,
        predictors=["g"],
    )
    with pytest.raises(ValueError, match=r"levels='new': a grouping column among \['g'\] is also a population-level"):
        mixeff.posterior_predict(spec, levels="new")
