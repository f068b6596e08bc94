"""``kfold``: exact K-fold cross-validation by refits (brms's ``kfold``).

Fold assignment and every refusal run without MCMC (a prior-only fit, or its prior draws posing as a
posterior).  The refitting tests sample (marked slow by tests/conftest.py) with few draws: the
leave-one-cluster-out agreement of the issue (PSIS ``loo(group=)`` vs 20 exact refits), the pointwise
values against numpy on the saved refits, ``loo_compare`` of two models' k-fold results, and a
``from_bambi`` fit's refits.
"""

from __future__ import annotations

import contextlib
import pickle
import time
import warnings

import bambi as bmb
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import special

import mixeff
from mixeff.bambi.fitting import MixedFit
from mixeff.verbs.kfold import assign_folds

FEW = dict(draws=300, tune=300, chains=2, progress=False)


def _clusters(seed=4, n_groups=20, n_per=30, sd=1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat([f"c{i:02d}" for i in range(n_groups)], n_per)
    x = rng.normal(size=g.size)
    eta = -0.3 + 0.5 * x + np.repeat(rng.normal(0, sd, n_groups), n_per)
    y = (rng.random(g.size) < special.expit(eta)).astype(int)
    return pd.DataFrame({"y": y, "x": x, "g": g})


def _log_mean_exp(ll: np.ndarray) -> np.ndarray:
    return np.log(np.mean(np.exp(ll), axis=1))


@contextlib.contextmanager
def _quiet():
    """Few draws per refit: R-hat/ESS of some scored rows may be flagged."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.ConvergenceWarning)
        yield


# --------------------------------------------------------------------------- folds (no MCMC)


def test_random_row_folds_are_balanced_and_reproducible():
    f1, k = assign_folds(103, K=10, labels=None, rng=np.random.default_rng(5))
    f2, _ = assign_folds(103, K=10, labels=None, rng=np.random.default_rng(5))
    f3, _ = assign_folds(103, K=10, labels=None, rng=np.random.default_rng(6))
    assert k == 10 and set(f1) == set(range(1, 11))
    sizes = np.bincount(f1)[1:]
    assert sizes.max() - sizes.min() == 1 and sizes.sum() == 103  # 3 folds of 11, 7 of 10
    np.testing.assert_array_equal(f1, f2)
    assert (f1 != f3).any()
    # not the rows in order: a permutation
    assert (np.diff(f1) != 0).sum() > 50


def test_grouped_folds_keep_levels_together_and_balance_levels():
    rng = np.random.default_rng(0)
    labels = np.repeat([f"L{i}" for i in range(23)], rng.integers(1, 9, 23))
    labels = labels[rng.permutation(labels.size)]  # levels interleaved in the data
    folds, k = assign_folds(labels.size, K=5, labels=labels, group="g", rng=np.random.default_rng(1))
    assert k == 5
    per_level = pd.DataFrame({"level": labels, "fold": folds}).groupby("level")["fold"].nunique()
    assert (per_level == 1).all()  # every level inside one fold
    levels_per_fold = pd.DataFrame({"level": labels, "fold": folds}).drop_duplicates().groupby("fold").size()
    assert sorted(levels_per_fold.tolist()) == [4, 4, 5, 5, 5]  # 23 levels: sizes differ by at most one
    again, _ = assign_folds(labels.size, K=5, labels=labels, group="g", rng=np.random.default_rng(1))
    np.testing.assert_array_equal(folds, again)
    # K = number of levels: one level per fold, in order of first appearance
    one, k = assign_folds(6, K=None, labels=np.array(["b", "b", "a", "c", "a", "d"]), rng=np.random.default_rng(0))
    assert k == 4 and one.tolist() == [1, 1, 2, 3, 2, 4]


def test_given_folds_are_respected():
    labels = np.array(["a", "a", "b", "b", "c", "c"])
    folds, k = assign_folds(6, K=None, labels=None, folds=["y", "x", "y", "x", "z", "z"], rng=np.random.default_rng(0))
    assert k == 3 and folds.tolist() == [2, 1, 2, 1, 3, 3]  # labels numbered in sorted order, as R's factor
    folds, k = assign_folds(6, K=2, labels=labels, folds=np.array([2, 2, 1, 1, 2, 2]), group="g", rng=None)
    assert k == 2 and folds.tolist() == [2, 2, 1, 1, 2, 2]
    folds, _ = assign_folds(6, K=None, labels=None, folds=pd.Series([1, 2, 1, 2, 1, 2], index=range(10, 16)), rng=None)
    assert folds.tolist() == [1, 2, 1, 2, 1, 2]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(K=1), ValueError, r"K=1 must be at least 2"),
        (dict(K=7), ValueError, r"K=7 exceeds the 6 rows; use K <= 6 \(K=n: exact leave-one-out\)"),
        (dict(K=4, labels=np.array(list("aabbcc"))), ValueError, r"K=4 exceeds the 3 levels of 'g'.*leave one level"),
        (dict(K=2.0), TypeError, r"K=2.0 must be a whole number"),
        (dict(K=True), TypeError, r"K=True must be a whole number"),
        (dict(folds=[1, 2, 1]), ValueError, r"folds has 3 labels but the fit's data has 6 rows"),
        (dict(folds=[1, 2, None, 1, 2, 1]), ValueError, r"1 missing label\(s\) \(first at row 2\)"),
        (dict(folds=[1] * 6), ValueError, r"folds has 1 distinct label\(s\)"),
        (dict(folds=[1, 2, 3, 1, 2, 3], K=2), ValueError, r"K=2 but folds has 3 distinct labels"),
        (dict(folds="abcdef"), TypeError, r"one fold label per row"),
        (
            dict(folds=[1, 1, 1, 2, 2, 2], labels=np.array(list("aabbcc"))),
            ValueError,
            r"folds split 1 level\(s\) of 'g' across folds, e.g. 'b' lies in folds \[1, 2\]",
        ),
    ],
)
def test_bad_folds_and_k_are_refused(kwargs, error, match):
    kwargs = {"K": None, "labels": None, **kwargs}
    with pytest.raises(error, match=match):
        assign_folds(6, group="g", rng=np.random.default_rng(0), **kwargs)


# --------------------------------------------------------------------------- refusals (no MCMC)


@pytest.fixture(scope="module")
def prior_fit():
    return mixeff.fit(
        "y ~ x + (1 | g)", _clusters(n_groups=6, n_per=10), family="bernoulli", sample_prior="only",
        priors={"b": "normal(0, 1)", "Intercept": "normal(0, 1)", "sd": "normal(0, 1)"},
        draws=100, chains=2, seed=1, progress=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def posing_fit(prior_fit):
    """The prior draws posing as a posterior: a fit kfold accepts, for the refusals that precede the refits."""
    tree = xr.DataTree.from_dict({"posterior": prior_fit.idata["prior"].to_dataset()})
    return MixedFit(prior_fit.model, tree, "no", data=prior_fit.data, fit_args=prior_fit.fit_args)


def test_refuses_draws_only_fits():
    d = _clusters(n_groups=3, n_per=5)
    rng = np.random.default_rng(0)
    draws = pd.DataFrame({"b_Intercept": rng.normal(size=100), "b_x": rng.normal(size=100)})
    spec = mixeff.from_brms_draws(draws, formula="y ~ x", data=d, family="bernoulli")
    with pytest.raises(TypeError, match=r"kfold refits the model.*mixeff.fit or mixeff.from_bambi.*brms::kfold"):
        mixeff.kfold(spec)
    with pytest.raises(TypeError, match=r"needs a fit of mixeff.fit or mixeff.from_bambi; got DataFrame"):
        mixeff.kfold(d)


def test_refuses_prior_only_fits(prior_fit):
    with pytest.raises(ValueError, match=r"prior draws only \(sample_prior='only'\).*sample_prior='no'"):
        mixeff.kfold(prior_fit)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(group="x"), ValueError, r"group='x' is not a grouping factor of the model; its factors are \['g'\]"),
        (dict(K=1), ValueError, r"K=1 must be at least 2"),
        (dict(K=61), ValueError, r"K=61 exceeds the 60 rows"),
        (dict(K=7, group="g"), ValueError, r"K=7 exceeds the 6 levels of 'g'; use K <= 6"),
        (dict(folds=[1, 2] * 20), ValueError, r"folds has 40 labels but the fit's data has 60 rows"),
        (dict(folds=np.arange(60) % 4, group="g"), ValueError, r"folds split 6 level\(s\) of 'g'"),
        (dict(sampler="stan"), ValueError, r"sampler='stan' must be one of \['pymc', 'nutpie'\]"),
        (dict(draws=0), ValueError, r"draws"),
        (dict(random_seed=1), TypeError, r"kfold passes its extra keyword arguments.*use seed="),
        (dict(targt_accept=0.9), TypeError, r"did you mean 'target_accept'"),
        (dict(save_fits="yes"), TypeError, r"save_fits='yes' must be True or False"),
    ],
)
def test_refusals_before_any_refit(posing_fit, kwargs, error, match):
    with pytest.raises(error, match=match):
        mixeff.kfold(posing_fit, **kwargs)


def test_settings_come_from_the_fit_and_survive_pickling(prior_fit, posing_fit):
    settings, notes = posing_fit._refit_settings(draws=None, tune=None, chains=None, sampler=None, fit_kwargs={})
    assert settings["draws"] == 100 and settings["chains"] == 2 and settings["tune"] == 1000  # fit()'s own call
    assert settings["sampler"] == "pymc" and settings["fit_kwargs"]["cores"] >= 1 and notes == ()
    settings, _ = posing_fit._refit_settings(draws=50, tune=20, chains=3, sampler="nutpie", fit_kwargs={})
    assert (settings["draws"], settings["tune"], settings["chains"], settings["sampler"]) == (50, 20, 3, "nutpie")
    assert "cores" not in settings["fit_kwargs"]
    loaded = pickle.loads(pickle.dumps(prior_fit))
    assert loaded.fit_args == prior_fit.fit_args and loaded.fit_args["priors"]["sd"] == "normal(0, 1)"


def test_a_from_bambi_fit_says_what_could_not_be_read(prior_fit):
    posterior = prior_fit.idata["prior"].to_dataset()
    posterior.attrs["tuning_steps"] = 77
    wrapped = MixedFit(prior_fit.model, xr.DataTree.from_dict({"posterior": posterior}), "no")
    settings, notes = wrapped._refit_settings(draws=None, tune=None, chains=None, sampler=None, fit_kwargs={})
    assert (settings["draws"], settings["chains"], settings["tune"]) == (100, 2, 77)  # from the draws
    assert len(notes) == 1 and "does not record its other sampler arguments" in notes[0]
    del posterior.attrs["tuning_steps"]
    wrapped = MixedFit(prior_fit.model, xr.DataTree.from_dict({"posterior": posterior}), "no")
    settings, notes = wrapped._refit_settings(draws=None, tune=None, chains=None, sampler=None, fit_kwargs={})
    assert settings["tune"] == 1000 and any("tuning steps; 1000 used" in n for n in notes)


# --------------------------------------------------------------------------- refits (MCMC)


def test_leave_one_cluster_out_loo_agrees_with_exact_refits():
    """The issue's check: 20 clusters of 30 bernoulli rows, (1 | g) with sd 1; every Pareto k of
    loo(group="g") below 0.7 and its elpd within 2 se_diff of kfold(group="g", K=20); the pointwise
    values of both line up level by level, and equal numpy on the saved refits."""
    d = _clusters(seed=5)
    start = time.perf_counter()
    # 2000 draws for PSIS (its error is common to every level, which se_diff does not count); 600 per refit
    fit = mixeff.fit("y ~ x + (1 | g)", d, family="bernoulli", seed=3, **{**FEW, "draws": 1000})
    with _quiet():
        logo = mixeff.loo(fit, group="g")
        res = mixeff.kfold(fit, K=20, group="g", seed=5, draws=300, save_fits=True, progress=False)
    elapsed = time.perf_counter() - start
    print(f"fit + 20 refits: {elapsed:.1f} s")
    assert float(np.max(logo.pareto_k)) < 0.7
    assert res.kind == "loo_kfold" and res.n_folds == 20 and res.n_data_points == 20 and res.n_samples == 600
    assert list(res.elpd_i.coords["g"].values) == list(logo.elpd_i.coords["g"].values)
    diff = np.asarray(logo.elpd_i) - np.asarray(res.elpd_i)
    se_diff = np.sqrt(diff.size * np.var(diff, ddof=1))
    print(f"elpd LOGO {logo.elpd:.2f}, kfold {res.elpd:.2f}, diff {diff.sum():.2f}, se_diff {se_diff:.2f}")
    assert abs(diff.sum()) < 2 * se_diff
    # K = 20 levels: one level per fold, in order
    assert res.folds.tolist() == np.repeat(np.arange(1, 21), 30).tolist()
    # numpy on the saved refits: each level's log mean exp of its integrated likelihood, per refit
    for k in (1, 7, 20):
        saved = res.fold_fits[k]
        rows = d.iloc[saved["test_indices"]]
        assert rows["g"].nunique() == 1
        refit = saved["fit"]
        assert (
            refit.spec().n_samples == 600 and len(refit.data) == 570 and rows["g"].iloc[0] not in set(refit.data["g"])
        )
        with _quiet():
            ll = np.asarray(mixeff.log_lik(refit, newdata=rows, group="g").draws)
        assert res.elpd_i.sel(g=rows["g"].iloc[0]).item() == pytest.approx(_log_mean_exp(ll)[0], abs=1e-12)
    with _quiet():
        full = np.asarray(mixeff.log_lik(fit, group="g").draws)
    np.testing.assert_allclose(np.asarray(res.p_kfold_i), _log_mean_exp(full) - np.asarray(res.elpd_i), atol=1e-12)
    assert res.p == pytest.approx(float(np.sum(res.p_kfold_i)), abs=1e-10)
    assert res.elpd == pytest.approx(float(np.sum(res.elpd_i)), abs=1e-10)
    assert res.se == pytest.approx(np.sqrt(20 * np.var(np.asarray(res.elpd_i), ddof=1)), rel=1e-12)
    # the refits share the fit's settings and differ by their seeds
    assert (
        res.refit_settings["draws"] == 300 and res.refit_settings["tune"] == 300 and res.refit_settings["chains"] == 2
    )


def test_row_folds_against_numpy_and_loo_compare_of_two_models():
    """Random row folds: each held-out row's elpd is numpy's log mean exp of the refit's conditional
    log-likelihood; loo_compare ranks two models by their k-fold results."""
    d = _clusters(seed=7, n_groups=6, n_per=20)
    d["y"] = (np.random.default_rng(8).random(len(d)) < special.expit(-0.3 + 1.5 * d.x)).astype(int)
    with_x = mixeff.fit("y ~ x + (1 | g)", d, family="bernoulli", seed=1, **FEW)
    without_x = mixeff.fit("y ~ 1 + (1 | g)", d, family="bernoulli", seed=1, **FEW)
    with _quiet():
        a = mixeff.kfold(with_x, K=2, seed=3, save_fits=True, progress=False)
        b = mixeff.kfold(without_x, K=2, seed=3, progress=False)
    np.testing.assert_array_equal(a.folds, b.folds)  # the same seed, the same rows: comparable folds
    assert sorted(np.bincount(a.folds)[1:].tolist()) == [60, 60]
    assert list(a.elpd_i.dims) == ["__obs__"] and a.elpd_i.coords["__obs__"].values.tolist() == list(range(120))
    for k in (1, 2):
        saved = a.fold_fits[k]
        test = saved["test_indices"]
        np.testing.assert_array_equal(test, np.flatnonzero(a.folds == k))
        assert set(d.g.iloc[test]) <= set(saved["fit"].data["g"])  # 20 rows per cluster: every cluster seen
        with _quiet():
            ll = np.asarray(mixeff.log_lik(saved["fit"], newdata=d.iloc[test]).draws)
        np.testing.assert_allclose(np.asarray(a.elpd_i)[test], _log_mean_exp(ll), rtol=0, atol=1e-12)
    table = mixeff.loo_compare({"with_x": a, "without_x": b})
    assert list(table.index) == ["with_x", "without_x"]
    diff = np.asarray(b.elpd_i) - np.asarray(a.elpd_i)
    assert table.loc["without_x", "elpd_diff"] == pytest.approx(diff.sum(), abs=1e-10)
    assert table.loc["without_x", "se_diff"] == pytest.approx(np.sqrt(120 * np.var(diff, ddof=1)), rel=1e-12)


def test_a_from_bambi_fit_is_refitted_with_its_own_model():
    d = _clusters(seed=9, n_groups=4, n_per=15)
    model = bmb.Model("y ~ x + (1 | g)", d, family="bernoulli", priors={"x": bmb.Prior("Normal", mu=0, sigma=0.5)})
    idata = model.fit(draws=150, tune=150, chains=2, random_seed=1, progressbar=False)
    fit = mixeff.from_bambi(model, idata)
    with _quiet():
        res = mixeff.kfold(fit, K=2, group="g", seed=2, save_fits=True, progress=False)
    assert res.refit_settings["draws"] == 150 and res.refit_settings["tune"] == 150 and res.n_samples == 300
    assert any("does not record its other sampler arguments" in n for n in res.notes)
    refit = res.fold_fits[1]["fit"]
    assert refit.model.parameters["p"].terms["x"].prior.args["sigma"] == 0.5  # the fit's own prior
    assert len(refit.data) == 30 and np.isfinite(np.asarray(res.elpd_i)).all()
