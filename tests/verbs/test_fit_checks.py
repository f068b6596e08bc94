"""``bayes_R2`` against numpy on made-up brms draws, and ``to_datatree`` read by arviz (no MCMC)."""

from dataclasses import replace

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import expit

import mixeff
from mixeff.verbs.datatree import OBS
from mixeff.verbs.inputs import draw_selection

matplotlib.use("Agg")

S = 2000  # 2 chains × 1000 independent draws: no ConvergenceWarning
FORMULA = "y ~ x + z + (1 | g)"


def _data(seed=1, n=160):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.uniform(-2, 2, n),
            "z": rng.choice(["a", "b", "c"], n),
            "g": np.repeat([f"g{i}" for i in range(4)], n // 4),
            "n": rng.integers(5, 15, n),
        }
    )


def _draws(family, seed=7):
    rng = np.random.default_rng(seed)
    scale = {"gaussian": 1.0, "poisson": 0.3, "binomial": 0.5}[family]
    draws = pd.DataFrame(
        {
            ".chain": np.repeat([1, 2], S // 2),
            "b_Intercept": rng.normal(0.5, 0.1, S) * scale,
            "b_x": rng.normal(0.8, 0.1, S) * scale,
            "b_zb": rng.normal(0.6, 0.2, S) * scale,
            "b_zc": rng.normal(-0.5, 0.2, S) * scale,
            "sd_g__Intercept": rng.gamma(10, 0.05, S),
        }
    )
    for i in range(4):
        draws[f"r_g[g{i},Intercept]"] = rng.normal(0.4 * (i - 1.5), 0.2, S) * scale
    if family == "gaussian":
        draws["sigma"] = rng.gamma(20, 0.05, S)
    return draws


def _spec(family):
    d, draws = _data(), _draws(family)
    rng = np.random.default_rng(3)
    eta = _eta(draws, d, True)[:, 0]
    if family == "gaussian":
        d["y"] = eta + rng.normal(0, 1, len(d))
        return mixeff.from_brms_draws(draws, formula=FORMULA, data=d, family="gaussian")
    if family == "poisson":
        d["y"] = rng.poisson(np.exp(eta))
        return mixeff.from_brms_draws(draws, formula=FORMULA, data=d, family="poisson")
    d["y"] = rng.binomial(d["n"], expit(eta))
    return mixeff.from_brms_draws(draws, formula=FORMULA, data=d, family="binomial", trials="n")


def _eta(draws, d, random):
    """η by hand, ``(rows, S)``: X β (+ r_g of each row's level)."""
    X = np.column_stack([np.ones(len(d)), d["x"], d["z"] == "b", d["z"] == "c"]).astype(float)
    beta = draws[["b_Intercept", "b_x", "b_zb", "b_zc"]].to_numpy().T
    eta = X @ beta
    if random:
        eta = eta + np.vstack([draws[f"r_g[{lev},Intercept]"].to_numpy() for lev in d["g"]])
    return eta


def _numpy_r2(y, yhat):
    e = y[:, None] - yhat
    v_fit, v_err = yhat.var(axis=0, ddof=1), e.var(axis=0, ddof=1)
    return v_fit / (v_fit + v_err)


@pytest.fixture(scope="module")
def specs():
    return {family: _spec(family) for family in ("gaussian", "poisson", "binomial")}


def _case(name, specs, xzg_spec):
    """(spec, brms draws table, hand-made expected value from η)."""
    if name == "bernoulli":
        return xzg_spec, mixeff.as_draws_df(xzg_spec), expit
    spec = specs[name]
    inverse = {
        "gaussian": lambda eta: eta,
        "poisson": np.exp,
        "binomial": lambda eta: spec.data["n"].to_numpy()[:, None] * expit(eta),
    }[name]
    return spec, mixeff.as_draws_df(spec), inverse


# --------------------------------------------------------------------------- bayes_R2


@pytest.mark.parametrize("re_formula", [None, "NA"])
@pytest.mark.parametrize("family", ["bernoulli", "gaussian", "poisson", "binomial"])
def test_bayes_r2_equals_numpy(family, re_formula, specs, xzg_spec):
    spec, draws, inverse = _case(family, specs, xzg_spec)
    yhat = inverse(_eta(draws, spec.data, re_formula is None))
    expected = _numpy_r2(spec.data["y"].to_numpy(dtype=float), yhat)
    r2 = mixeff.bayes_R2(spec, re_formula=re_formula)
    assert r2.kind == "bayes_R2" and r2.grid["term"].tolist() == ["R2"]
    assert r2.draws.shape == (1, spec.n_samples) and (r2.n_chains, r2.n_draws) == (spec.n_chains, spec.n_draws)
    np.testing.assert_allclose(r2.draws[0], expected, rtol=0, atol=1e-12)
    assert np.all((r2.draws > 0) & (r2.draws < 1))


def test_marginal_r2_below_conditional(specs):
    conditional = mixeff.bayes_R2(specs["gaussian"]).summary["estimate"].iloc[0]
    marginal = mixeff.bayes_R2(specs["gaussian"], re_formula="NA").summary["estimate"].iloc[0]
    assert marginal < conditional


def test_bayes_r2_summary_diagnostics_and_draw_choice(specs):
    spec = specs["poisson"]
    full = mixeff.bayes_R2(spec, conf_level=0.9, estimator="mean")
    table = full.summarise(diagnostics=True)
    assert {"term", "estimate", "conf_low", "conf_high", "rhat", "ess_bulk", "ess_tail", "mcse"} <= set(table)
    assert table["estimate"].iloc[0] == pytest.approx(full.draws.mean())
    assert table["conf_low"].iloc[0] == pytest.approx(np.quantile(full.draws, 0.05))
    assert abs(table["rhat"].iloc[0] - 1) < 0.02
    # the same draws as the chosen ones, and ndraws as the verbs choose them
    ids = [5, 17, 300, 2]
    with pytest.warns(mixeff.ConvergenceWarning):  # 4 draws
        sub = mixeff.bayes_R2(spec, draw_ids=ids)
    np.testing.assert_array_equal(sub.draws[0], full.draws[0, ids])
    picked, _, _ = draw_selection(spec, ndraws=400, seed=4)
    some = mixeff.bayes_R2(spec, ndraws=400, seed=4)
    np.testing.assert_array_equal(some.draws[0], full.draws[0, picked])
    assert some.selection.startswith("400 of 2000 draws")


def test_bayes_r2_refuses_categories_and_missing_response(specs, xzg_spec):
    ordinal = _ordinal_spec(xzg_spec)
    with pytest.raises(ValueError, match="not defined for the cumulative family"):
        mixeff.bayes_R2(ordinal)
    with pytest.raises(ValueError, match="names no response column"):
        mixeff.bayes_R2(replace(specs["gaussian"], response=None))
    with pytest.raises(ValueError, match="have no column 'y'"):
        mixeff.bayes_R2(replace(specs["gaussian"], data=specs["gaussian"].data.drop(columns="y")))
    with pytest.raises(ValueError, match="1 missing or infinite"):
        mixeff.bayes_R2(
            replace(specs["gaussian"], data=specs["gaussian"].data.assign(y=lambda f: f.y.where(f.index != 3)))
        )


def _ordinal_spec(xzg_spec):
    rng = np.random.default_rng(8)
    d = xzg_spec.data.assign(
        r=pd.Categorical(rng.choice(["low", "mid", "high"], len(xzg_spec.data)), ["low", "mid", "high"], ordered=True)
    )
    draws = pd.DataFrame(
        {
            "b_Intercept[1]": rng.normal(-0.5, 0.1, S),
            "b_Intercept[2]": rng.normal(0.8, 0.1, S),
            "b_x": rng.normal(0.7, 0.1, S),
        }
    )
    return mixeff.from_brms_draws(draws, formula="r ~ x", data=d, family="cumulative")


# --------------------------------------------------------------------------- to_datatree


def test_datatree_groups_dims_and_values(specs):
    spec = specs["binomial"]
    n = len(spec.data)
    dt = mixeff.to_datatree(spec)
    assert isinstance(dt, xr.DataTree)
    assert sorted(dt.children) == ["constant_data", "observed_data", "posterior"]
    post = dt["posterior"]
    table = mixeff.as_draws_df(spec)
    names = [c for c in table.columns if not c.startswith(".")]
    assert list(post.data_vars) == names
    for name in names:
        assert post[name].dims == ("chain", "draw") and post[name].shape == (2, S // 2)
        np.testing.assert_array_equal(post[name].values.ravel(), table[name].to_numpy())
    obs = dt["observed_data"]["y"]
    assert obs.dims == (OBS,) == ("__obs__",) and obs.shape == (n,)
    np.testing.assert_array_equal(obs.values, spec.data["y"].to_numpy(dtype=float))
    const = dt["constant_data"]
    assert sorted(const.data_vars) == ["n", "x"]  # numeric predictors (trials too); z and g are labels
    np.testing.assert_array_equal(const["x"].values, spec.data["x"].to_numpy())


def test_posterior_predictive_is_predictions_and_reproducible(specs):
    spec = specs["poisson"]
    dt = mixeff.to_datatree(spec, posterior_predictive=True, seed=11)
    ppc = dt["posterior_predictive"]["y"]
    assert ppc.dims == ("chain", "draw", "__obs__") and ppc.shape == (2, S // 2, len(spec.data))
    expected = mixeff.predictions(spec, type="prediction", seed=11).draws
    np.testing.assert_array_equal(ppc.values.reshape(-1, len(spec.data)).T, expected)
    again = mixeff.to_datatree(spec, posterior_predictive=True, seed=11)["posterior_predictive"]["y"]
    np.testing.assert_array_equal(again.values, ppc.values)
    other = mixeff.to_datatree(spec, posterior_predictive=True, seed=12)["posterior_predictive"]["y"]
    assert not np.array_equal(other.values, ppc.values)
    assert np.all(ppc.values == np.round(ppc.values)) and ppc.values.min() >= 0  # counts


def test_ndraws_chooses_the_same_draws_in_every_group(specs):
    spec = specs["gaussian"]
    dt = mixeff.to_datatree(spec, posterior_predictive=True, seed=5, ndraws=400)
    ids, chains, _ = draw_selection(spec, ndraws=400, seed=5)
    assert chains == 2 and dt["posterior"]["b_x"].shape == (2, 200)
    np.testing.assert_array_equal(
        dt["posterior"]["b_x"].values.ravel(), mixeff.as_draws_df(spec)["b_x"].to_numpy()[ids]
    )
    expected = mixeff.predictions(spec, type="prediction", seed=5, ndraws=400).draws
    np.testing.assert_array_equal(dt["posterior_predictive"]["y"].values.reshape(400, -1).T, expected)
    gen = mixeff.to_datatree(spec, posterior_predictive=True, seed=np.random.default_rng(3), ndraws=400)
    with pytest.warns(mixeff.ConvergenceWarning):  # predictive draws, checked by predictions
        by_gen = mixeff.predictions(spec, type="prediction", seed=np.random.default_rng(3), ndraws=400).draws
    np.testing.assert_array_equal(gen["posterior_predictive"]["y"].values.reshape(400, -1).T, by_gen)


def test_a_category_fit_with_its_own_posterior(xzg_spec):
    ordinal = _ordinal_spec(xzg_spec)
    fit = _FitWithTree(ordinal, xr.Dataset({"b": (("chain", "draw"), np.zeros((1, S)))}))
    dt = mixeff.to_datatree(fit)
    assert dt["observed_data"]["r"].values.tolist() == ordinal.data["r"].astype(str).tolist()
    assert sorted(dt["constant_data"].data_vars) == ["x"]


class _FitWithTree:
    """A fit that carries its own DataTree (as mixeff.fit's MixedFit does), without MCMC."""

    def __init__(self, spec, posterior=None):
        self._spec = spec
        if posterior is None:
            posterior = mixeff.to_datatree(spec)["posterior"].to_dataset()
            posterior["mu_like"] = (("chain", "draw", "k"), np.arange(S * 3.0).reshape(2, S // 2, 3))
        self.idata = xr.DataTree.from_dict({"posterior": posterior})

    def spec(self, draws="posterior"):
        return self._spec


def test_a_fits_own_posterior_is_reused_and_subset(specs):
    fit = _FitWithTree(specs["gaussian"])
    dt = mixeff.to_datatree(fit)
    xr.testing.assert_identical(dt["posterior"].to_dataset(), fit.idata["posterior"].to_dataset())
    sub = mixeff.to_datatree(fit, ndraws=10, seed=2)
    ids, _, _ = draw_selection(specs["gaussian"], ndraws=10, seed=2)
    assert sub["posterior"]["mu_like"].shape == (2, 5, 3)
    flat = np.arange(S * 3.0).reshape(S, 3)
    np.testing.assert_array_equal(sub["posterior"]["mu_like"].values.reshape(10, 3), flat[ids])


def test_datatree_refusals(specs, xzg_spec):
    ordinal = _ordinal_spec(xzg_spec)
    with pytest.raises(ValueError, match="does not yet replicate the responses of the cumulative family"):
        mixeff.to_datatree(ordinal, posterior_predictive=True)
    with pytest.raises(ValueError, match="names no response column"):
        mixeff.to_datatree(replace(specs["gaussian"], response=None), posterior_predictive=True)
    with pytest.raises(ValueError, match="this model has the cumulative family: pass the fit"):
        mixeff.to_datatree(ordinal)  # a spec's brms names (as_draws_df) cover one-formula models only
    # without predictive draws, a fit without a named response has no observed_data group
    assert "observed_data" not in mixeff.to_datatree(replace(specs["gaussian"], response=None)).children


def test_arviz_reads_the_tree(specs, xzg_spec, tmp_path):
    import arviz_plots as azp
    import arviz_stats as azs
    import matplotlib.pyplot as plt

    cases = [("gaussian", specs["gaussian"]), ("poisson", specs["poisson"]), ("bernoulli", xzg_spec)]
    for name, spec in cases:
        dt = mixeff.to_datatree(spec, posterior_predictive=True, seed=1)
        for plot in (azp.plot_ppc_dist, azp.plot_ppc_pit):
            if name == "bernoulli":  # arviz suggests plot_ppc_pava for 0/1 data (below)
                with pytest.warns(UserWarning, match="look binary"):
                    pc = plot(dt, backend="matplotlib")
            else:
                pc = plot(dt, backend="matplotlib")
            path = tmp_path / f"{plot.__name__}_{name}.png"
            pc.savefig(path)
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            plt.close("all")
        if name == "bernoulli":
            azp.plot_ppc_pava(dt, backend="matplotlib").savefig(tmp_path / "plot_ppc_pava_bernoulli.png")
            plt.close("all")
        summary = azs.summary(dt, kind="stats")
        assert "b_x" in summary.index
        rmse = azs.metrics(dt, kind="rmse")
        assert np.isfinite(rmse[0])


def test_arviz_residual_r2_agrees(specs):
    """arviz-stats's residual R² (brms's bayes_R2 formula) on the same expected values."""
    import arviz_stats as azs

    spec = specs["gaussian"]
    dt = mixeff.to_datatree(spec)
    yhat = mixeff.predictions(spec).draws  # (rows, S)
    posterior = dt["posterior"].to_dataset()
    posterior["mu"] = (("chain", "draw", OBS), yhat.T.reshape(2, S // 2, -1))
    dt["posterior"] = xr.DataTree(posterior)
    theirs = np.asarray(azs.residual_r2(dt, pred_mean="mu", obs_name="y", summary=False)).ravel()
    np.testing.assert_allclose(mixeff.bayes_R2(spec).draws[0], theirs, rtol=1e-10)
