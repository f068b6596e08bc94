"""predictions / avg_predictions on Bambi fits, checked against Bambi and closed forms."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mixeff
from mixeff import datagrid, get_draws, new_levels, predictions


def flat(da):
    """(chain, draw, ...) DataArray -> (S, ...) array, chain-major like mixeff's draws."""
    v = da.transpose("chain", "draw", ...).values
    return v.reshape(-1, *v.shape[2:])


def bambi_mu(fit, **kwargs):
    out = fit.model.predict(fit.idata, kind="response_params", inplace=False, **kwargs)
    return flat(out["posterior"][fit.model.family.likelihood.parent]).T  # (rows, S)


@pytest.mark.slow  # MCMC fits through request.getfixturevalue, which the conftest scan cannot see
@pytest.mark.filterwarnings("ignore::mixeff.ConvergenceWarning")  # the suite's short fits (see conftest.py)
@pytest.mark.parametrize("fixture", ["sleep_fit", "bernoulli_fit"])
def test_matches_bambi_predict_on_own_rows(fixture, request):
    fit = request.getfixturevalue(fixture)
    ours = predictions(fit).draws
    np.testing.assert_allclose(ours, bambi_mu(fit), rtol=0, atol=1e-10)
    ours_na = predictions(fit, re_formula="NA").draws
    np.testing.assert_allclose(ours_na, bambi_mu(fit, include_group_specific=False), rtol=0, atol=1e-10)
    # the two differ: random effects matter in these models
    assert np.abs(ours - ours_na).max() > 1e-3


def test_matches_bambi_predict_on_newdata(bernoulli_fit, logistic_data):
    new = logistic_data.sample(50, random_state=1).assign(x=lambda d: d.x * 2 - 0.3)
    fit = bernoulli_fit
    out = fit.model.predict(fit.idata, kind="response_params", data=new, inplace=False)
    np.testing.assert_allclose(predictions(fit, new).draws, flat(out["posterior"]["p"]).T, atol=1e-10)


def test_lognormal_link_is_bambi_mu_and_response_is_lognormal_mean(magnusson_fit):
    fit = magnusson_fit
    link = predictions(fit, type="link").draws
    np.testing.assert_allclose(link, bambi_mu(fit), atol=1e-10)
    sigma = flat(fit.idata["posterior"]["sigma"])
    np.testing.assert_allclose(predictions(fit).draws, np.exp(link + sigma**2 / 2), rtol=1e-12)


def _magnusson_params(fit):
    post = fit.idata["posterior"]
    return (flat(post["Intercept"]), flat(post["TX"]), flat(post["1|cluster_sigma"]), flat(post["sigma"]))


def test_typical_cluster_is_closed_form(magnusson_fit):
    b0, b1, s0, sy = _magnusson_params(magnusson_fit)
    p = predictions(magnusson_fit, datagrid(magnusson_fit, TX=[0, 1]), re_formula="NA")
    expected = np.exp(b0 + np.outer([0, 1], b1) + sy**2 / 2)
    np.testing.assert_allclose(p.draws, expected, rtol=1e-12)
    np.testing.assert_allclose(p.summary["estimate"], np.median(expected, axis=1), rtol=1e-12)


def test_gaussian_new_levels_match_lognormal_moment_formula(magnusson_fit):
    """Per draw, the mean over K new clusters estimates exp(b0 + b1 TX + (s0² + sy²)/2).

    Given a draw, the K cluster means are iid lognormal with known variance
    exp(2(mu + sy²/2)) (exp(2 s0²) - exp(s0²)), so z = (avg - closed form) / (sd/√K)
    is standard normal per draw and independent across draws.  We require the
    mean of z within 3 of its standard error (1/√S) and its sd near 1.
    """
    K = 2000
    fit = magnusson_fit
    b0, b1, s0, sy = _magnusson_params(fit)
    grid = datagrid(fit, TX=[0, 1], cluster=new_levels(K))
    p = predictions(fit, grid, by="TX", allow_new_levels=True, sample_new_levels="gaussian", seed=7)
    mu = b0 + np.outer([0, 1], b1) + sy**2 / 2
    closed = np.exp(mu + s0**2 / 2)
    mc_se = np.sqrt(np.exp(2 * mu) * (np.exp(2 * s0**2) - np.exp(s0**2)) / K)
    z = (p.draws - closed) / mc_se
    S = z.shape[1]
    assert abs(z.mean()) < 3 / np.sqrt(z.size)
    assert 0.9 < z.std() < 1.1
    assert np.all(np.abs(z.mean(axis=1)) < 3 / np.sqrt(S))


def test_new_level_shared_across_rows_and_distinct_levels_differ(magnusson_fit):
    fit = magnusson_fit
    b0, b1, s0, sy = _magnusson_params(fit)
    grid = datagrid(fit, TX=[0, 1], cluster=new_levels(2))  # rows: (0,new_1) (0,new_2) (1,new_1) (1,new_2)
    eta = predictions(fit, grid, type="link", allow_new_levels=True, sample_new_levels="gaussian", seed=3).draws
    b_new = eta - (b0 + np.outer(grid["TX"], b1))
    np.testing.assert_allclose(b_new[0], b_new[2], atol=1e-12)  # new_1 identical in TX=0 and TX=1
    np.testing.assert_allclose(b_new[1], b_new[3], atol=1e-12)
    assert np.mean(b_new[0] != b_new[1]) == 1.0
    # each draw's new effect ~ N(0, s0): standardised draws have unit variance
    assert 0.9 < np.std(b_new[:2] / s0) < 1.1
    again = predictions(fit, grid, type="link", allow_new_levels=True, sample_new_levels="gaussian", seed=3).draws
    np.testing.assert_array_equal(eta, again)
    other = predictions(fit, grid, type="link", allow_new_levels=True, sample_new_levels="gaussian", seed=4).draws
    assert not np.allclose(eta, other)


def test_uncertainty_and_old_levels_copy_existing_effects(magnusson_fit):
    fit = magnusson_fit
    b = flat(fit.idata["posterior"]["1|cluster"])  # (S, L)
    b0, b1, _, _ = _magnusson_params(fit)
    grid = datagrid(fit, TX=0, cluster=new_levels(3))
    for how in ["uncertainty", "old_levels"]:
        eta = predictions(fit, grid, type="link", allow_new_levels=True, sample_new_levels=how, seed=1).draws
        effects = eta - b0  # (3, S)
        match = np.isclose(effects[:, :, None], b[None, :, :], rtol=0, atol=1e-12)  # (3, S, L)
        assert match.any(axis=2).all()  # every draw copies some existing level's effect
        chosen = match.argmax(axis=2)
        if how == "old_levels":
            assert (chosen == chosen[:, :1]).all()  # one level for all draws
        else:
            assert all(len(np.unique(c)) > 5 for c in chosen)  # a new pick per draw


def test_re_formula_subset_keeps_only_listed_terms(sleep_fit):
    fit = sleep_fit
    post = fit.idata["posterior"]
    b0, b1 = flat(post["Intercept"]), flat(post["Days"])
    r_int, r_days = flat(post["1|Subject"]), flat(post["Days|Subject"])
    levels = list(post["Subject__factor_dim"].values)
    d = fit.spec().data.iloc[[0, 15, 77]]
    idx = [levels.index(s) for s in d["Subject"]]
    days = d["Days"].to_numpy()[:, None]
    only_int = predictions(fit, d, re_formula="~(1|Subject)").draws
    np.testing.assert_allclose(only_int, b0 + days * b1 + r_int[:, idx].T, rtol=1e-12)
    both = predictions(fit, d, re_formula="~(1 + Days|Subject)").draws
    np.testing.assert_allclose(both, b0 + days * b1 + r_int[:, idx].T + days * r_days[:, idx].T, rtol=1e-12)
    only_days = predictions(fit, d, re_formula="~(0 + Days|Subject)").draws
    np.testing.assert_allclose(only_days, b0 + days * b1 + days * r_days[:, idx].T, rtol=1e-12)


def test_by_and_wts_average_within_draw(bernoulli_fit, logistic_data):
    fit = bernoulli_fit
    d = logistic_data.assign(w=np.random.default_rng(0).uniform(0, 3, len(logistic_data)))
    rows = predictions(fit, d).draws
    avg = predictions(fit, d, by="z", wts="w")
    assert avg.summary["z"].tolist() == ["a", "b", "c"]
    for i, level in enumerate(["a", "b", "c"]):
        m = (d["z"] == level).to_numpy()
        expected = np.average(rows[m], axis=0, weights=d["w"][m])
        np.testing.assert_allclose(avg.draws[i], expected, rtol=1e-12)
        lo, hi = np.quantile(expected, [0.025, 0.975])
        assert avg.summary["conf_low"][i] == pytest.approx(lo, rel=1e-12)
        assert avg.summary["conf_high"][i] == pytest.approx(hi, rel=1e-12)
        # bambi #1004: averaging per-row interval bounds is NOT the interval of the average
        naive = np.quantile(rows[m], 0.025, axis=1).mean()
        assert abs(naive - lo) > 1e-3
    # weights normalised within group: rescaling one group's weights changes nothing
    d2 = d.assign(w=np.where(d["z"] == "b", d["w"] * 17.0, d["w"]))
    np.testing.assert_allclose(predictions(fit, d2, by="z", wts="w").draws, avg.draws, rtol=1e-12)
    # array weights and by=True
    overall = mixeff.avg_predictions(fit, d, wts=d["w"].to_numpy())
    np.testing.assert_allclose(overall.draws[0], np.average(rows, axis=0, weights=d["w"]), rtol=1e-12)


def test_streamed_chunks_give_identical_results(bernoulli_fit, logistic_data):
    full = predictions(bernoulli_fit, logistic_data, by="g").draws
    tiny = predictions(bernoulli_fit, logistic_data, by="g", chunk_rows=7).draws
    np.testing.assert_allclose(tiny, full, rtol=1e-13)
    rows = predictions(bernoulli_fit, logistic_data, chunk_rows=13).draws
    np.testing.assert_allclose(rows, predictions(bernoulli_fit, logistic_data).draws, rtol=0, atol=0)


def test_posterior_predictive_draws(bernoulli_fit, magnusson_fit):
    ypred = predictions(bernoulli_fit, type="prediction", seed=1).draws
    assert set(np.unique(ypred)) == {0.0, 1.0}
    mu = predictions(bernoulli_fit).draws
    # mean of 0/1 draws over all rows and draws vs the mean probability: binomial MC error
    se = np.sqrt((mu * (1 - mu)).sum()) / mu.size
    assert abs(ypred.mean() - mu.mean()) < 4 * se
    logy = np.log(predictions(magnusson_fit, type="prediction", seed=2).draws)
    eta = predictions(magnusson_fit, type="link").draws
    sigma = flat(magnusson_fit.idata["posterior"]["sigma"])
    z = (logy - eta) / sigma
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and 0.98 < z.std() < 1.02


def test_hdi_is_the_analytic_hdi_of_known_distributions():
    """Exponential(1): HDI_0.9 = [0, -ln 0.1]; N(0, 1): ±1.6449; a skewed law's HDI differs from its ETI."""
    from mixeff.results import summarise_draws

    rng = np.random.default_rng(7)
    n = 400_000
    draws = np.vstack([rng.exponential(1.0, n), rng.normal(0.0, 1.0, n)])
    s = summarise_draws(draws, conf_level=0.9, interval="hdi")
    assert s["conf_low"][0] == pytest.approx(0.0, abs=2e-3)
    assert s["conf_high"][0] == pytest.approx(-np.log(0.1), abs=2e-2)
    assert s["conf_low"][1] == pytest.approx(-1.6449, abs=2e-2)
    assert s["conf_high"][1] == pytest.approx(1.6449, abs=2e-2)
    eti = summarise_draws(draws[:1], conf_level=0.9)
    assert eti["conf_low"][0] == pytest.approx(-np.log(0.95), abs=2e-3)  # ETI starts at the 5% quantile


def test_summary_options_and_get_draws(magnusson_fit):
    p = predictions(magnusson_fit, datagrid(magnusson_fit, TX=[0, 1]), re_formula="NA")
    d = p.draws
    mean = p.summarise(estimator="mean", conf_level=0.8)
    np.testing.assert_allclose(mean["estimate"], d.mean(axis=1))
    np.testing.assert_allclose(mean["conf_low"], np.quantile(d, 0.1, axis=1))
    hdi = p.summarise(interval="hdi", conf_level=0.9)
    assert np.all((hdi["conf_low"] < hdi["estimate"]) & (hdi["estimate"] < hdi["conf_high"]))
    long = get_draws(p, "long")
    assert list(long.columns[:3]) == ["drawid", "draw", "rowid"]
    assert len(long) == d.size
    np.testing.assert_array_equal(long.loc[long.rowid == 1, "draw"], d[1])
    assert (long.loc[long.rowid == 1, "TX"] == 1).all()
    np.testing.assert_array_equal(get_draws(p, "DxP"), d.T)
    xr_draws = get_draws(p, "xarray")
    assert xr_draws.dims == ("chain", "draw", "row")
    assert xr_draws["row"].values.tolist() == ["TX=0", "TX=1"]
    np.testing.assert_array_equal(xr_draws.sel(row="TX=1").values.ravel(), d[1])
    from arviz_stats import ess, rhat

    e = ess(xr_draws, sample_dims=["chain", "draw"])
    r = rhat(xr_draws, sample_dims=["chain", "draw"])
    assert e.shape == (2,) and np.all(e.values > 20)
    assert np.all(np.abs(r.values - 1) < 0.1)
    assert "posterior draws" in repr(p)


def test_datagrid_rules(magnusson_fit, bernoulli_fit, logistic_data):
    g = datagrid(magnusson_fit, TX=[0, 1])
    # TX given; cluster (a grouping factor left out) takes its mode, as in marginaleffects
    assert g.columns.tolist() == ["TX", "cluster"]
    assert g["cluster"].nunique() == 1
    g = datagrid(bernoulli_fit, z="unique")
    assert g["z"].tolist() == ["a", "b", "c"]
    assert g["x"].iloc[0] == pytest.approx(logistic_data["x"].mean())
    g = datagrid(bernoulli_fit, x=lambda c: c.quantile([0.25, 0.75]).to_numpy())
    np.testing.assert_allclose(g["x"], logistic_data["x"].quantile([0.25, 0.75]))
    assert g["z"].iloc[0] == logistic_data["z"].mode().iloc[0]
    cf = datagrid(bernoulli_fit, grid_type="counterfactual", z=["a", "c"])
    assert len(cf) == 2 * len(logistic_data) and set(cf["z"]) == {"a", "c"}
    bal = datagrid(bernoulli_fit, grid_type="balanced", x=0.0)
    assert len(bal) == 3 * logistic_data["g"].nunique()
    g = datagrid(magnusson_fit, TX=0, cluster=new_levels(100))
    assert len(g) == 100 and not set(g["cluster"]) & set(magnusson_fit.spec().data["cluster"])


# ---------------------------------------------------------------- bad input


def test_errors_name_the_argument(magnusson_fit, bernoulli_fit, logistic_data):
    fit = magnusson_fit
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['TX'\]"):
        predictions(fit, pd.DataFrame({"cluster": ["1"]}))
    with pytest.raises(ValueError, match=r"by=.*'nope'.*not a column"):
        predictions(fit, by="nope")
    with pytest.raises(ValueError, match=r"wts='w'.*not a column"):
        predictions(fit, by="TX", wts="w")
    with pytest.raises(ValueError, match=r"level\(s\) \['99'\] of grouping factor 'cluster'.*allow_new_levels=True"):
        predictions(fit, pd.DataFrame({"TX": [0], "cluster": ["99"]}))
    with pytest.raises(ValueError, match=r"column 'TX' has 1 missing"):
        predictions(fit, pd.DataFrame({"TX": [0, np.nan], "cluster": ["1", "2"]}))
    with pytest.raises(ValueError, match=r"grouping factor 'school'.*lacks"):
        predictions(fit, re_formula="~(1|school)")
    with pytest.raises(ValueError, match=r"term 'TX' for 'cluster'.*lacks"):
        predictions(fit, re_formula="~(1 + TX|cluster)")
    with pytest.raises(ValueError, match="sample_new_levels='normal'"):
        predictions(fit, sample_new_levels="normal")
    with pytest.raises(ValueError, match="type='mean'"):
        predictions(fit, type="mean")
    d = logistic_data.assign(w=1.0)
    with pytest.raises(ValueError, match="negative weights"):
        predictions(bernoulli_fit, d.assign(w=-1.0), by="z", wts="w")
    with pytest.raises(ValueError, match=r"missing \(NaN\) weights"):
        predictions(bernoulli_fit, d.assign(w=np.nan), by="z", wts="w")
    with pytest.raises(ValueError, match="sum to zero in group"):
        predictions(bernoulli_fit, d.assign(w=np.where(d.z == "b", 0.0, 1.0)), by="z", wts="w")
    with pytest.raises(ValueError, match="wts needs by="):
        predictions(bernoulli_fit, d, wts="w")


def test_unseen_category_in_fixed_part_is_clear(bernoulli_fit):
    with pytest.raises(ValueError, match="newdata cannot be evaluated"):
        predictions(bernoulli_fit, pd.DataFrame({"x": [0.0], "z": ["zzz"], "g": ["g1"]}))


def test_datatree_without_needed_group(magnusson_fit):
    import xarray as xr

    no_post = xr.DataTree.from_dict({"observed_data": magnusson_fit.idata["observed_data"].to_dataset()})
    with pytest.raises(ValueError, match="idata has no 'posterior' group"):
        mixeff.from_bambi(magnusson_fit.model, no_post)
    with pytest.raises(ValueError, match="no prior draws.*sample_prior"):
        predictions(magnusson_fit, draws="prior")


def test_grouping_labels_match_across_int_float_and_str():
    """In a numeric grouping column a cluster id written 1, 1.0 or "1" names one level (Bambi labels float
    levels '1.0'); in a string column (the default) a number names the level it prints as."""
    from mixeff.model.spec import GroupFactor

    b = np.arange(6.0).reshape(2, 3, 1)
    g = GroupFactor(
        "g",
        ("g",),
        np.array(["1.0", "2.0", "3.5"]),
        ["Intercept"],
        b,
        np.ones((2, 1)),
        None,
        design=lambda f: np.ones((len(f), 1)),
        numeric=True,
    )
    assert g.levels.tolist() == ["1", "2", "3.5"]
    for col in ([1, 2], [1.0, 2.0], ["1", "2"]):
        assert g.labels_of(pd.DataFrame({"g": col})).tolist() == ["1", "2"]
    # never merge distinct labels: "01" and "1" stay apart
    g2 = GroupFactor(
        "g",
        ("g",),
        np.array(["01", "1"]),
        ["Intercept"],
        b[:, :2],
        np.ones((2, 1)),
        None,
        design=lambda f: np.ones((len(f), 1)),
        numeric=True,
    )
    assert g2.levels.tolist() == ["01", "1"]
    assert g2.labels_of(pd.DataFrame({"g": ["01", "1"]})).tolist() == ["01", "1"]
    text = GroupFactor(
        "g",
        ("g",),
        np.array(["1", "01"]),
        ["Intercept"],
        b[:, :2],
        np.ones((2, 1)),
        None,
        design=lambda f: np.ones((len(f), 1)),
    )
    assert text.labels_of(pd.DataFrame({"g": ["01", "1", 1, 1.0]})).tolist() == ["01", "1", "1", "1"]


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    st.lists(st.sampled_from([1, 2, 2.5, -0.0, 0.0, float("nan")]), min_size=0, max_size=30),
    st.lists(st.sampled_from(["a", "01", "1", "b"]), min_size=30, max_size=30),
    st.sampled_from(["float", "str", "category", "Int64", "object"]),
    st.booleans(),
    st.booleans(),
)
def test_distinct_labels_equal_row_labels(numbers, words, kind, numeric, two_columns):
    """The hashed path (labels built once per distinct value) gives every row the label factor_labels gives it,
    for float, string, categorical, nullable-integer and mixed object columns, single and interaction factors."""
    from mixeff.model.spec import distinct_labels, factor_labels

    n = len(numbers)
    column = {
        "float": pd.Series(numbers, dtype=float),
        "str": pd.Series([None if v != v else str(v) for v in numbers], dtype="str"),
        "category": pd.Series([str(v) for v in numbers], dtype="category"),
        "Int64": pd.Series([None if v != v else int(v) for v in numbers], dtype="Int64"),
        "object": pd.Series([w if i % 2 else v for i, (v, w) in enumerate(zip(numbers, words))], dtype=object),
    }[kind]
    frame = pd.DataFrame({"g": column, "h": pd.Series(words[:n], dtype="str")})
    columns = ("h", "g") if two_columns else ("g",)
    labels, inverse = distinct_labels(frame, columns, ":", numeric)
    assert labels[inverse].tolist() == factor_labels(frame, columns, ":", numeric).tolist()
    assert len(set(labels.tolist())) == len(labels)


def test_float_grouping_column_uses_existing_levels():
    import bambi as bmb

    rng = np.random.default_rng(1)
    d = pd.DataFrame({"y": rng.normal(size=60), "x": rng.normal(size=60), "g": np.repeat(np.arange(6.0), 10)})
    m = bmb.Model("y ~ x + (1|g)", d)
    idata = m.fit(draws=30, tune=30, chains=1, progressbar=False, random_seed=1)
    fit = mixeff.from_bambi(m, idata)
    out = m.predict(idata, kind="response_params", data=d.head(12), inplace=False)
    np.testing.assert_allclose(predictions(fit, d.head(12)).draws, flat(out["posterior"]["mu"]).T, atol=1e-10)
    ints = d.head(12).assign(g=lambda f: f.g.astype(int))
    np.testing.assert_allclose(predictions(fit, ints).draws, predictions(fit, d.head(12)).draws, atol=0)


def test_datagrid_unique_keeps_level_order_and_sorts_the_rest():
    d = pd.DataFrame(
        {
            "f": pd.Categorical(["hi", "lo", "mid"], categories=["lo", "mid", "hi"]),
            "s": ["3", "10", "2"],
            "x": [3.0, 1.0, 2.0],
        }
    )
    assert datagrid(newdata=d, f="unique")["f"].tolist() == ["lo", "mid", "hi"]
    assert datagrid(newdata=d, s="unique")["s"].tolist() == ["2", "3", "10"]  # ids in numeric order
    assert datagrid(newdata=d.assign(s=["b", "c", "a"]), s="unique")["s"].tolist() == ["a", "b", "c"]
    assert datagrid(newdata=d, x="unique")["x"].tolist() == [1.0, 2.0, 3.0]


@pytest.fixture(scope="module")
def count_fits():
    """Binomial with constant and column trials, poisson with an exposure offset (small, quick fits)."""
    import bambi as bmb

    rng = np.random.default_rng(4)
    n = 120
    d = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "g": rng.choice(list("abcdef"), n),
            "trials": rng.integers(5, 15, n),
            "expo": rng.uniform(0.5, 3, n),
        }
    )
    d["y10"] = rng.binomial(10, 0.4, n)
    d["yn"] = rng.binomial(d["trials"], 0.4)
    d["count"] = rng.poisson(2 * d["expo"])
    fits = {}
    for name, formula, family in [
        ("const", "p(y10, 10) ~ x + (1|g)", "binomial"),
        ("column", "p(yn, trials) ~ x + (1|g)", "binomial"),
        ("offset", "count ~ x + offset(np.log(expo)) + (1|g)", "poisson"),
    ]:
        m = bmb.Model(formula, d, family=family)
        fits[name] = (mixeff.from_bambi(m, m.fit(draws=40, tune=40, chains=1, progressbar=False, random_seed=2)), d)
    return fits


def test_binomial_expected_value_is_mu_times_trials(count_fits):
    for name, trials in [("const", 10.0), ("column", None)]:
        fit, d = count_fits[name]
        mu = predictions(fit, d.head(9), type="link").draws
        n = trials if trials is not None else d["trials"].head(9).to_numpy()[:, None]
        np.testing.assert_allclose(predictions(fit, d.head(9)).draws, n / (1 + np.exp(-mu)), rtol=1e-12)
    fit, d = count_fits["column"]
    grid = datagrid(fit, x=0.0)  # trials at its mean: not a whole number
    assert grid["trials"].iloc[0] != round(grid["trials"].iloc[0])
    with pytest.raises(ValueError, match="binomial trials.*non-whole.*set trials="):
        predictions(fit, grid, type="prediction")


def test_offset_enters_eta_and_is_not_a_default_contrast(count_fits):
    fit, d = count_fits["offset"]
    base = predictions(fit, d.head(5).assign(expo=1.0), type="link").draws
    double = predictions(fit, d.head(5).assign(expo=2.0), type="link").draws
    np.testing.assert_allclose(double - base, np.log(2.0), atol=1e-12)
    terms = mixeff.avg_comparisons(fit).summary["term"].tolist()
    assert terms == ["x"]
