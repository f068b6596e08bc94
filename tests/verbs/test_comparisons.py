"""comparisons / avg_comparisons, checked draw by draw against closed forms and numpy on the same draws."""

import numpy as np
import pytest
from scipy import special

from mixeff import avg_comparisons, comparisons, datagrid, get_draws, new_levels, predictions


def flat(da):
    """(chain, draw, ...) DataArray -> (S, ...) array, chain-major like mixeff's draws."""
    v = da.transpose("chain", "draw", ...).values
    return v.reshape(-1, *v.shape[2:])


def magnusson_params(fit):
    post = fit.idata["posterior"]
    return flat(post["Intercept"]), flat(post["TX"]), flat(post["1|cluster_sigma"]), flat(post["sigma"])


def arm(fit, **values):
    """Predictions (rows, S) on the model data with columns set to values: an independent arm."""
    data = fit.spec().data
    return predictions(fit, data.assign(**values)).draws


# --------------------------------------------------------------------------- the seed's lognormal model


def test_conditional_ate_is_closed_form_draw_by_draw(magnusson_fit):
    b0, b1, _, sy = magnusson_params(magnusson_fit)
    expected = np.exp(b0 + b1 + sy**2 / 2) - np.exp(b0 + sy**2 / 2)
    per_row = comparisons(magnusson_fit, "TX", re_formula="NA")
    assert per_row.summary[["term", "contrast"]].drop_duplicates().values.tolist() == [["TX", "1 - 0"]]
    assert per_row.draws.shape == (600, expected.size)
    np.testing.assert_allclose(per_row.draws, np.broadcast_to(expected, per_row.draws.shape), rtol=1e-12)
    avg = avg_comparisons(magnusson_fit, "TX", re_formula="NA")
    np.testing.assert_allclose(avg.draws[0], expected, rtol=1e-12)
    assert avg.kind == "comparisons" and avg.source == "posterior"


def test_marginal_ate_over_new_gaussian_clusters_is_within_mc_error(magnusson_fit):
    b0, b1, s0, sy = magnusson_params(magnusson_fit)
    k = 200
    grid = datagrid(magnusson_fit, cluster=new_levels(k))
    ate = avg_comparisons(
        magnusson_fit, "TX", newdata=grid, allow_new_levels=True, sample_new_levels="gaussian", seed=7
    )
    closed = np.exp(b0 + b1 + (s0**2 + sy**2) / 2) - np.exp(b0 + (s0**2 + sy**2) / 2)
    # Per draw the K cluster effects b_k ~ N(0, s0²) are iid and the ATE is
    # c·mean_k exp(b_k) with c = exp(b0 + sy²/2)(exp(b1) - 1), so its Monte Carlo
    # SE is |c|·sd(exp(b))/√K with Var(exp(b)) = (exp(s0²) - 1)·exp(s0²): computed
    # here in closed form, independently of the implementation.  Draws are
    # independent given the posterior draws, so the mean error over S draws has SE
    # sqrt(Σ se²)/S: that is the "within 3 MC standard errors" criterion.
    c = np.exp(b0 + sy**2 / 2) * np.expm1(b1)
    se = np.abs(c) * np.sqrt(np.expm1(s0**2) * np.exp(s0**2) / k)
    err = ate.draws[0] - closed
    assert abs(err.mean()) < 3 * np.sqrt(np.sum(se**2)) / se.size
    # Per draw, the standardised errors must look like N(0, 1): their mean square
    # is ~1 only if the lo and hi arms share the clusters (common random numbers);
    # two independent sets of clusters would give about (1 + exp(2·b1))/(1 - exp(b1))² ≈ 5.
    z = err / se
    assert 0.75 < np.mean(z**2) < 1.35
    assert np.mean(np.abs(z) > 3) < 0.02


def test_new_clusters_are_shared_between_arms(magnusson_fit):
    # hi / lo in every simulated cluster is exactly exp(b1): only true if both arms
    # use the same draw of each new cluster's intercept.
    _, b1, _, _ = magnusson_params(magnusson_fit)
    grid = datagrid(magnusson_fit, cluster=new_levels(50))
    r = comparisons(
        magnusson_fit,
        "TX",
        comparison="ratio",
        newdata=grid,
        allow_new_levels=True,
        sample_new_levels="gaussian",
        seed=3,
    )
    np.testing.assert_allclose(r.draws, np.broadcast_to(np.exp(b1), r.draws.shape), rtol=1e-12)


@pytest.mark.parametrize("transform", ["exp", np.exp])
def test_link_comparison_exponentiated_is_exp_beta(magnusson_fit, transform):
    _, b1, _, _ = magnusson_params(magnusson_fit)
    grid = datagrid(magnusson_fit, TX=0)
    for re in ("NA", None):
        r = comparisons(magnusson_fit, "TX", newdata=grid, type="link", transform=transform, re_formula=re)
        np.testing.assert_allclose(r.draws[0], np.exp(b1), rtol=1e-13)


def test_transform_applies_after_averaging(magnusson_fit):
    plain = avg_comparisons(magnusson_fit, "TX", comparison="lnratio")
    exped = avg_comparisons(magnusson_fit, "TX", comparison="lnratio", transform="exp")
    np.testing.assert_allclose(exped.draws, np.exp(plain.draws), rtol=1e-13)
    ratio = avg_comparisons(magnusson_fit, "TX", comparison="ratio")
    np.testing.assert_allclose(exped.draws, ratio.draws, rtol=1e-12)


# --------------------------------------------------------------------------- comparison functions vs numpy


def test_ratio_lnratio_lift_per_row_and_averaged(magnusson_fit):
    lo, hi = arm(magnusson_fit, TX=0), arm(magnusson_fit, TX=1)
    expected = {"ratio": hi / lo, "lnratio": np.log(hi / lo), "lift": (hi - lo) / lo, "difference": hi - lo}
    for name, value in expected.items():
        np.testing.assert_allclose(
            comparisons(magnusson_fit, "TX", comparison=name).draws, value, rtol=1e-10, err_msg=name
        )
    # with by: marginaleffects' "avg" forms, f(mean(hi), mean(lo)) within each draw
    mhi, mlo = hi.mean(axis=0), lo.mean(axis=0)
    averaged = {
        "difference": (hi - lo).mean(axis=0),
        "ratio": mhi / mlo,
        "lnratio": np.log(mhi / mlo),
        "lift": (hi - lo).mean(axis=0) / mlo,
    }
    for name, value in averaged.items():
        r = avg_comparisons(magnusson_fit, "TX", comparison=name)
        np.testing.assert_allclose(r.draws[0], value, rtol=1e-10, err_msg=name)
    assert avg_comparisons(magnusson_fit, "TX", comparison="ratio").summary["contrast"].tolist() == [
        "mean(1) / mean(0)"
    ]


def test_lnor_per_row_and_averaged(bernoulli_fit):
    lo, hi = arm(bernoulli_fit, z="a"), arm(bernoulli_fit, z="c")
    r = comparisons(bernoulli_fit, {"z": ["a", "c"]}, comparison="lnor")
    np.testing.assert_allclose(r.draws, np.log((hi / (1 - hi)) / (lo / (1 - lo))), rtol=1e-9, atol=1e-12)
    assert r.summary["contrast"].iloc[0] == "ln(odds(c) / odds(a))"
    mhi, mlo = hi.mean(axis=0), lo.mean(axis=0)
    a = avg_comparisons(bernoulli_fit, {"z": ["a", "c"]}, comparison="lnor")
    np.testing.assert_allclose(a.draws[0], np.log((mhi / (1 - mhi)) / (mlo / (1 - mlo))), rtol=1e-9, atol=1e-12)
    # ratio with by is mean(hi)/mean(lo) (marginaleffects' ratioavg), not the mean of per-row ratios
    ratio = avg_comparisons(bernoulli_fit, {"z": ["a", "c"]}, comparison="ratio")
    np.testing.assert_allclose(ratio.draws[0], mhi / mlo, rtol=1e-10)
    assert np.abs(ratio.draws[0] - (hi / lo).mean(axis=0)).max() > 1e-3


def test_custom_function_comparison(bernoulli_fit):
    lo, hi = arm(bernoulli_fit, z="a"), arm(bernoulli_fit, z="b")
    f = lambda hi, lo: special.logit(hi) - special.logit(lo)  # noqa: E731
    r = comparisons(bernoulli_fit, {"z": ["a", "b"]}, comparison=f)
    np.testing.assert_allclose(r.draws, f(hi, lo), rtol=1e-9, atol=1e-12)
    # with by: row-wise, then averaged within draw
    a = avg_comparisons(bernoulli_fit, {"z": ["a", "b"]}, comparison=f)
    np.testing.assert_allclose(a.draws[0], f(hi, lo).mean(axis=0), rtol=1e-9)


def test_weighted_by_groups(bernoulli_fit, logistic_data):
    data = bernoulli_fit.spec().data
    w = np.linspace(0.5, 2.0, len(data))
    lo, hi = arm(bernoulli_fit, z="a"), arm(bernoulli_fit, z="b")
    r = comparisons(bernoulli_fit, {"z": ["a", "b"]}, by="g", wts=w)
    groups = sorted(data["g"].astype(str).unique())
    assert r.summary["g"].astype(str).tolist() == groups
    for i, grp in enumerate(groups):
        m = (data["g"].astype(str) == grp).to_numpy()
        np.testing.assert_allclose(r.draws[i], np.average((hi - lo)[m], axis=0, weights=w[m]), rtol=1e-10)
    ratio = comparisons(bernoulli_fit, {"z": ["a", "b"]}, comparison="ratio", by=True, wts=w)
    np.testing.assert_allclose(
        ratio.draws[0], np.average(hi, axis=0, weights=w) / np.average(lo, axis=0, weights=w), rtol=1e-10
    )


# --------------------------------------------------------------------------- numeric contrasts vs numpy


def test_numeric_shortcuts_match_numpy(bernoulli_fit, logistic_data):
    x = logistic_data["x"].to_numpy()
    m, s = x.mean(), x.std(ddof=1)
    q1, q3 = np.quantile(x, [0.25, 0.75])
    cases = {
        "sd": (m - s / 2, m + s / 2, "(x + sd/2) - (x - sd/2)"),
        "2sd": (m - s, m + s, "(x + sd) - (x - sd)"),
        "iqr": (q1, q3, "Q3 - Q1"),
        "minmax": (x.min(), x.max(), "Max - Min"),
        (2.0, -1.0): (-1.0, 2.0, "2 - -1"),
    }
    for how, (lo_v, hi_v, label) in cases.items():
        lo, hi = arm(bernoulli_fit, x=lo_v), arm(bernoulli_fit, x=hi_v)
        r = comparisons(bernoulli_fit, {"x": list(how) if isinstance(how, tuple) else how})
        np.testing.assert_allclose(r.draws, hi - lo, rtol=1e-9, atol=1e-13, err_msg=str(how))
        assert r.summary["contrast"].iloc[0] == label
        a = avg_comparisons(bernoulli_fit, {"x": list(how) if isinstance(how, tuple) else how}, comparison="ratio")
        np.testing.assert_allclose(a.draws[0], hi.mean(axis=0) / lo.mean(axis=0), rtol=1e-10)


def test_numeric_step_default_and_explicit(bernoulli_fit):
    x = bernoulli_fit.spec().data["x"].to_numpy()
    lo = arm(bernoulli_fit)
    for step, label in [(None, "+1"), (0.5, "+0.5")]:
        hi = arm(bernoulli_fit, x=x + (1 if step is None else step))
        r = comparisons(bernoulli_fit, "x" if step is None else {"x": step})
        np.testing.assert_allclose(r.draws, hi - lo, rtol=1e-9, atol=1e-13)
        assert set(r.summary["contrast"]) == {label}
    a = avg_comparisons(bernoulli_fit, "x", comparison="ratio")
    assert a.summary["contrast"].tolist() == ["mean(+1)"]


# --------------------------------------------------------------------------- factor contrasts vs numpy


@pytest.mark.parametrize(
    "how, pairs",
    [
        ("reference", [("a", "b"), ("a", "c")]),
        ("pairwise", [("a", "b"), ("a", "c"), ("b", "c")]),
        ("sequential", [("a", "b"), ("b", "c")]),
        ("revreference", [("b", "a"), ("c", "a")]),
        ("all", [("a", "b"), ("a", "c"), ("b", "a"), ("b", "c"), ("c", "a"), ("c", "b")]),
        (["c", "b"], [("c", "b")]),
    ],
)
def test_factor_contrasts_match_numpy(bernoulli_fit, how, pairs):
    preds = {lev: arm(bernoulli_fit, z=lev) for lev in "abc"}
    r = avg_comparisons(bernoulli_fit, {"z": how})
    assert r.summary["term"].tolist() == ["z"] * len(pairs)
    assert r.summary["contrast"].tolist() == [f"{hi} - {lo}" for lo, hi in pairs]
    expected = np.stack([(preds[hi] - preds[lo]).mean(axis=0) for lo, hi in pairs])
    np.testing.assert_allclose(r.draws, expected, rtol=1e-10, atol=1e-13)


def test_several_variables_give_one_block_per_term(bernoulli_fit):
    data = bernoulli_fit.spec().data
    r = comparisons(bernoulli_fit, ["z", "x"])  # sorted, as marginaleffects
    n = len(data)
    assert r.draws.shape[0] == 3 * n
    assert r.summary["term"].tolist() == ["x"] * n + ["z"] * (2 * n)
    assert r.summary["contrast"].tolist() == ["+1"] * n + ["b - a"] * n + ["c - a"] * n
    assert list(r.summary.columns[:2]) == ["term", "contrast"]
    lo, hi = arm(bernoulli_fit, z="a"), arm(bernoulli_fit, z="c")
    np.testing.assert_allclose(r.draws[2 * n :], hi - lo, rtol=1e-9, atol=1e-13)
    a = avg_comparisons(bernoulli_fit)  # all population-level predictors
    assert a.summary[["term", "contrast"]].values.tolist() == [["x", "+1"], ["z", "b - a"], ["z", "c - a"]]
    long = get_draws(a, "long")
    assert len(long) == 3 * a.draws.shape[1]
    np.testing.assert_array_equal(get_draws(a, "PxD"), a.draws)


def test_binary_default_is_one_minus_zero(magnusson_fit):
    r = avg_comparisons(magnusson_fit, {"TX": [1, 0]}, re_formula="NA")
    ref = avg_comparisons(magnusson_fit, "TX", re_formula="NA")
    assert r.summary["contrast"].tolist() == ["0 - 1"]
    np.testing.assert_allclose(r.draws, -ref.draws, rtol=1e-12)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(variables="age"), ["variables", "'age'", "not a predictor", "choose from"]),
        (dict(variables="y"), ["variables", "'y'", "not a predictor"]),
        (dict(variables={"z": ["a", "d"]}), ["variables", "'d'", "does not exist", "levels"]),
        (dict(variables={"z": 1}), ["variables", "'z'", "categorical", "numeric step", "pair of levels"]),
        (dict(variables={"z": "sd"}), ["variables", "'sd'", "categorical", "numeric variables only"]),
        (dict(variables={"x": "pairwise"}), ["variables", "'pairwise'", "numeric", "'sd'"]),
        (dict(variables="x", comparison="odds"), ["comparison='odds'", "difference", "lnor"]),
        (dict(variables="x", transform="sqrt2"), ["transform='sqrt2'", "exp"]),
        (dict(variables="x", wts=np.ones(480)), ["wts needs by="]),
        (dict(variables="x", by="nope"), ["by='nope'", "not a column"]),
    ],
)
def test_bad_input_is_a_clear_value_error(bernoulli_fit, kwargs, words):
    with pytest.raises(ValueError) as err:
        comparisons(bernoulli_fit, **kwargs)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_numeric_step_for_binary_variable_is_an_error(magnusson_fit):
    with pytest.raises(ValueError, match=r"variables=\{'TX': 2\}.*binary.*numeric step"):
        comparisons(magnusson_fit, {"TX": 2})


def test_new_levels_need_permission(magnusson_fit):
    grid = datagrid(magnusson_fit, cluster=new_levels(3))
    with pytest.raises(ValueError, match="allow_new_levels=True"):
        comparisons(magnusson_fit, "TX", newdata=grid)


def test_undefined_comparison_is_an_error_not_nan(gaussian_ri_fit):
    """lnor of gaussian expected values outside (0, 1) is undefined: say so, do not return NaN."""
    with pytest.raises(ValueError, match=r"comparison='lnor' is not finite in .*NaN.*lnor values in \(0, 1\)"):
        comparisons(gaussian_ri_fit, "x", comparison="lnor")
