"""``loo``, ``waic``, ``loo_compare`` and ``to_datatree(log_likelihood=True)`` on made-up brms draws (no MCMC)."""

from __future__ import annotations

import warnings

import arviz_stats
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import mixeff

N_DRAWS = 500  # per chain; 2 chains, independent draws


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 120
    d = pd.DataFrame({"x": rng.normal(size=n), "g": np.repeat([f"g{i}" for i in range(4)], n // 4)})
    effect = np.repeat([-0.6, -0.2, 0.2, 0.6], n // 4)
    d["y"] = 1.0 + 0.8 * d.x + effect + rng.normal(0, 1.0, n)
    return d


def _draws(b_x: float | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    s = 2 * N_DRAWS
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(1.0, 0.1, s),
            "b_x": rng.normal(0.8, 0.08, s),
            "sigma": rng.gamma(300, 1 / 300, s),
            "sd_g__Intercept": rng.gamma(20, 0.025, s),
        }
    )
    for i, mean in enumerate([-0.6, -0.2, 0.2, 0.6]):
        draws[f"r_g[g{i},Intercept]"] = rng.normal(mean, 0.1, s)
    if b_x is not None:
        draws["b_x"] = b_x
    draws[".chain"] = np.repeat([1, 2], N_DRAWS)
    return draws


@pytest.fixture(scope="module")
def spec():
    return mixeff.from_brms_draws(_draws(), formula="y ~ x + (1 | g)", data=_data(), family="gaussian")


@pytest.fixture(scope="module")
def worse():
    return mixeff.from_brms_draws(_draws(b_x=0.0), formula="y ~ x + (1 | g)", data=_data(), family="gaussian")


def _ll(fit, **kw) -> np.ndarray:
    return np.asarray(mixeff.log_lik(fit, **kw).draws)


def test_datatree_log_likelihood_group(spec):
    tree = mixeff.to_datatree(spec, log_likelihood=True)
    group = tree["log_likelihood"]
    assert list(group.data_vars) == ["y"]
    assert group["y"].dims == ("chain", "draw", "__obs__")
    assert dict(group["y"].sizes) == {"chain": 2, "draw": N_DRAWS, "__obs__": 120}
    result = mixeff.log_lik(spec)
    assert (result.n_chains, result.n_draws) == (2, N_DRAWS)
    expected = np.asarray(result.draws).reshape(120, 2, N_DRAWS).transpose(1, 2, 0)
    np.testing.assert_array_equal(group["y"].values, expected)
    # re_formula is passed through; without it there is no log_likelihood group
    no_re = mixeff.to_datatree(spec, log_likelihood=True, re_formula="NA")["log_likelihood"]["y"].values
    np.testing.assert_array_equal(no_re, _ll(spec, re_formula="NA").reshape(120, 2, N_DRAWS).transpose(1, 2, 0))
    assert "log_likelihood" not in mixeff.to_datatree(spec).children


def test_datatree_log_likelihood_ndraws(spec):
    tree = mixeff.to_datatree(spec, log_likelihood=True, ndraws=600, seed=2)
    ll = tree["log_likelihood"]["y"]
    assert dict(ll.sizes) == {"chain": 2, "draw": 300, "__obs__": 120}
    # the same draws as the posterior group's: b_Intercept at draw s gives the same η as the log-lik
    flat_b = tree["posterior"]["b_Intercept"].values.reshape(-1)
    full_b = _draws()["b_Intercept"].to_numpy()
    ids = [int(np.flatnonzero(full_b == b)[0]) for b in flat_b]
    np.testing.assert_array_equal(ll.values.reshape(600, 120), _ll(spec).T[ids])


def test_loo_equals_arviz_stats_on_the_same_matrix(spec):
    ll = _ll(spec)
    tree = xr.DataTree.from_dict(
        {
            "posterior": mixeff.to_datatree(spec)["posterior"].to_dataset(),
            "log_likelihood": xr.Dataset(
                {"y": (("chain", "draw", "__obs__"), ll.reshape(120, 2, N_DRAWS).transpose(1, 2, 0))},
            ),
        }
    )
    expected = arviz_stats.loo(tree, pointwise=True, var_name="y")
    got = mixeff.loo(spec)
    assert got.elpd == expected.elpd
    assert got.se == expected.se
    assert got.p == expected.p
    np.testing.assert_array_equal(got.elpd_i.values, expected.elpd_i.values)
    np.testing.assert_array_equal(got.pareto_k.values, expected.pareto_k.values)
    assert float(got.pareto_k.max()) < 0.7
    assert mixeff.loo(spec, pointwise=False).elpd == expected.elpd


def test_loo_close_to_lppd_for_a_well_behaved_model(spec):
    ll = _ll(spec)
    top = ll.max(axis=1, keepdims=True)
    lppd = float(np.sum(top[:, 0] + np.log(np.mean(np.exp(ll - top), axis=1))))
    res = mixeff.loo(spec)
    # elpd_loo = lppd − p_loo, p_loo small: a handful of well-determined parameters
    assert 0 < lppd - res.elpd < 10
    assert res.elpd == pytest.approx(lppd - res.p, abs=1e-8)
    assert res.elpd == pytest.approx(mixeff.waic(spec).elpd, abs=0.5)


def test_waic_equals_numpy(spec):
    ll = _ll(spec)
    n = ll.shape[0]
    lppd_i = np.log(np.mean(np.exp(ll), axis=1))
    p_i = np.var(ll, axis=1, ddof=1)
    elpd_i = lppd_i - p_i
    res = mixeff.waic(spec)
    assert res.elpd == pytest.approx(elpd_i.sum(), abs=1e-12, rel=1e-12)
    assert res.p == pytest.approx(p_i.sum(), abs=1e-12, rel=1e-12)
    assert res.se == pytest.approx(np.sqrt(n * np.var(elpd_i, ddof=1)), abs=1e-12, rel=1e-12)
    np.testing.assert_allclose(res.elpd_i.values, elpd_i, rtol=1e-12, atol=1e-12)
    assert (res.n_data_points, res.n_samples, res.scale, res.warning) == (n, 2 * N_DRAWS, "log", False)


def test_waic_warns_on_large_p_waic():
    from mixeff.verbs.compare import waic_pointwise

    _, p = waic_pointwise(np.array([[0.0, -3.0, 0.0, -3.0]]))
    assert p[0] > 0.4
    d = _data()
    draws = _draws().assign(sigma=lambda t: np.random.default_rng(0).gamma(2, 0.1, len(t)))
    bad = mixeff.from_brms_draws(draws, formula="y ~ x + (1 | g)", data=d, family="gaussian")
    with pytest.warns(mixeff.WAICWarning, match="p_waic above 0.4"):
        assert mixeff.waic(bad).warning


def test_loo_compare_puts_the_better_model_first(spec, worse):
    table = mixeff.loo_compare({"worse": worse, "true": spec})
    assert list(table.index) == ["true", "worse"]
    assert list(table.columns[:2]) == ["elpd_diff", "se_diff"]
    assert table.loc["true", "elpd_diff"] == 0
    assert table.loc["true", "se_diff"] == 0
    assert table.loc["worse", "elpd_diff"] < 0
    a, b = mixeff.loo(spec), mixeff.loo(worse)
    assert table.loc["worse", "elpd_diff"] == pytest.approx(b.elpd - a.elpd, rel=1e-12)
    # R's loo: sqrt(n) * sd(diff), the n - 1 variance (arviz-stats' dse uses n)
    assert table.loc["worse", "se_diff"] == pytest.approx(
        np.sqrt(120 * np.var(b.elpd_i.values - a.elpd_i.values, ddof=1)), rel=1e-12
    )
    assert "dse" not in table.columns
    # positional fits are model1, model2, ...; precomputed ELPDData (loo or waic) are used as given
    positional = mixeff.loo_compare(worse, spec)
    assert list(positional.index) == ["model2", "model1"]
    assert positional["elpd_diff"].tolist() == table["elpd_diff"].tolist()
    from_elpd = mixeff.loo_compare({"true": a, "worse": b})
    assert from_elpd["elpd_diff"].tolist() == table["elpd_diff"].tolist()
    with pytest.warns(mixeff.WAICWarning):  # the misspecified model's outliers
        worse_waic = mixeff.waic(worse)
    by_waic = mixeff.loo_compare({"true": mixeff.waic(spec), "worse": worse_waic})
    assert list(by_waic.index) == ["true", "worse"]


def test_loo_compare_errors(spec):
    with pytest.raises(ValueError, match="at least two"):
        mixeff.loo_compare(spec)
    with pytest.raises(ValueError, match="pointwise=True"):
        mixeff.loo_compare({"a": mixeff.loo(spec, pointwise=False), "b": spec})


def test_leave_one_cluster_out_is_arviz_loo_on_the_integrated_cluster_likelihoods():
    """loo(group="Subject"): one pointwise value per subject, arviz-stats' PSIS on the matrix of
    log_lik(group=) (each subject's likelihood with its effects integrated out)."""
    import pathlib

    import arviz_stats
    import xarray as xr

    fixture = pathlib.Path(__file__).parents[1] / "fixtures" / "brms_sleepstudy"
    spec = mixeff.from_brms_draws(
        pd.read_csv(fixture / "draws.csv"),
        formula="Reaction ~ 1 + Days + (1 + Days | Subject)",
        data=mixeff.datasets.load_sleepstudy(),
        family="gaussian",
    )
    with warnings.catch_warnings():
        # brms's fixture: 1000 draws whose R-hat for one subject's likelihood is 1.01; Pareto k of 18 clusters
        warnings.filterwarnings("ignore", category=mixeff.ConvergenceWarning)
        warnings.filterwarnings("ignore", category=mixeff.ParetoKWarning)
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        clusters = mixeff.log_lik(spec, group="Subject")
        got = mixeff.loo(spec, group="Subject")
        values = clusters.draws.reshape(18, clusters.n_chains, clusters.n_draws).transpose(1, 2, 0)
        by_hand = xr.DataTree.from_dict(
            {
                "posterior": mixeff.to_datatree(spec)["posterior"].to_dataset(),
                "log_likelihood": xr.Dataset({"ll": (("chain", "draw", "Subject"), values)}),
            }
        )
        want = arviz_stats.loo(by_hand, pointwise=True, var_name="ll")
    assert int(got.n_data_points) == 18
    assert got.elpd == want.elpd and got.se == want.se and got.p == want.p
    np.testing.assert_array_equal(np.asarray(got.elpd_i), np.asarray(want.elpd_i))
    # a new subject is harder to predict than new days of known subjects: per subject, the LOGO elpd is
    # below the sum of the pointwise (conditional) LOO elpds of its rows
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=mixeff.ConvergenceWarning)
        warnings.filterwarnings("ignore", category=mixeff.ParetoKWarning)
        rows = mixeff.loo(spec)
    assert got.elpd < rows.elpd
