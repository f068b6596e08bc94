"""The notebooks' identities, checked on tiny fits without executing a notebook.

Each notebook (``notebooks/0*.ipynb``) shows its quantities in the narrative and verifies them in a
final "Checks" section, on its own full-size fit.  The checks that are identities -- a verb's draws
equal a closed form or a quadrature of the parameter draws, draw by draw -- hold for any fit, so
they are tested here on the suite's small shared fits (``tests/conftest.py``) or on a short fit of
their own.  Checks against the seeds' published numbers and against synthetic truths need the
notebooks' fits and stay in the notebooks.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import mixeff as me

# E[f(u)], u ~ N(0, 1), as f(NODES) @ WEIGHTS: the trapezoidal rule on [-38, 38], exact to rounding for
# expit(b + sd u) up to sd ~ 30 (its poles at u = ±iπ/sd keep the error below exp(-2π (π/sd) / h)); a
# 200-node Gauss–Hermite rule is off by 1e-5 (relative) at sd = 6, which posterior draws reach.
NODES = np.linspace(-38.0, 38.0, 4001)
WEIGHTS = np.exp(-0.5 * NODES**2) * (NODES[1] - NODES[0]) / np.sqrt(2 * np.pi)


def _logit(p):
    return np.log(p / (1 - p))


def _cols(fit, *names):
    d = me.as_draws_df(fit)
    return [d[n].to_numpy() for n in names]


# --------------------------------------------------------------------------- #
# 01: conditional vs marginal effects in the lognormal cluster model
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def magnusson(magnusson_fit):
    fit = magnusson_fit
    b0, b1, s0, sy = _cols(fit, "b_Intercept", "b_TX", "sd_cluster__Intercept", "sigma")
    tx = np.array([0, 1])
    typical = np.exp(b0 + np.outer(tx, b1) + sy**2 / 2)
    marginal = np.exp(b0 + np.outer(tx, b1) + (s0**2 + sy**2) / 2)
    return fit, (b0, b1, s0, sy), typical, marginal


def test_01_typical_cluster_mean_and_ate_are_the_closed_form(magnusson):
    fit, _, typical, _ = magnusson
    pred = me.predictions(fit, me.datagrid(fit, TX=[0, 1]), re_formula="NA")
    np.testing.assert_allclose(pred.draws, typical, rtol=1e-10)
    ate = me.avg_comparisons(fit, "TX", re_formula="NA")
    np.testing.assert_allclose(ate.draws[0], typical[1] - typical[0], rtol=1e-10)


def test_01_offsets_and_existing_cluster_average_come_from_the_r_cluster_draws(magnusson):
    fit, (b0, b1, _, sy), _, _ = magnusson
    link_clusters = me.predictions(fit, me.datagrid(fit, TX=0, cluster="unique"), type="link")
    link_typical = me.predictions(fit, me.datagrid(fit, TX=0), type="link", re_formula="NA")
    clusters = link_clusters.grid["cluster"]
    r = me.as_draws_df(fit)[[f"r_cluster[{c},Intercept]" for c in clusters]].to_numpy()  # (S, 20)
    np.testing.assert_allclose(link_clusters.draws - link_typical.draws, r.T, atol=1e-10)

    existing = me.predictions(fit, me.datagrid(fit, TX=[0, 1], cluster="unique"), by="TX")
    by_hand = np.exp(b0[None, :, None] + np.outer([0, 1], b1)[:, :, None] + r[None] + sy[None, :, None] ** 2 / 2)
    np.testing.assert_allclose(existing.draws, by_hand.mean(axis=2), rtol=1e-10)
    # balanced data (30 rows per cluster): the ATE over the rows is the difference of the cluster averages
    ate = me.avg_comparisons(fit, "TX")
    np.testing.assert_allclose(ate.draws[0], existing.draws[1] - existing.draws[0], rtol=1e-9)


def test_01_integrated_new_cluster_is_the_moment_formula(magnusson):
    fit, _, _, marginal = magnusson
    new1 = dict(allow_new_levels=True, sample_new_levels="integrate")
    exact = me.predictions(fit, me.datagrid(fit, TX=[0, 1], cluster=me.new_levels(1)), **new1)
    np.testing.assert_allclose(exact.draws, marginal, rtol=1e-9)
    ate = me.avg_comparisons(fit, "TX", newdata=me.datagrid(fit, cluster=me.new_levels(1)), **new1)
    np.testing.assert_allclose(ate.draws[0], marginal[1] - marginal[0], rtol=1e-9)
    assert np.all(marginal > magnusson[2])  # Jensen: above the typical cluster in every draw


def test_01_simulated_clusters_err_by_their_closed_form_standard_error(magnusson):
    fit, (_, _, s0, _), typical, marginal = magnusson
    k = 200
    with pytest.warns(me.MonteCarloWarning, match="Monte Carlo error"):  # the error this test measures
        res = me.predictions(
            fit,
            me.datagrid(fit, TX=[0, 1], cluster=me.new_levels(k)),
            by="TX",
            allow_new_levels=True,
            sample_new_levels="gaussian",
            seed=3,
        )
    z = (res.draws - marginal) / (typical * np.sqrt(np.expm1(s0**2) * np.exp(s0**2) / k))
    np.testing.assert_allclose(z[0], z[1], rtol=1e-6, atol=1e-9)  # both arms share their clusters
    assert abs(z[0].mean()) < 4 / np.sqrt(z.shape[1])
    assert 0.8 < (z[0] ** 2).mean() < 1.25


def test_01_ratios_are_exp_beta1(magnusson):
    fit, (_, b1, _, _), _, _ = magnusson
    grid0 = me.datagrid(fit, TX=0)
    ratio_link = me.comparisons(fit, "TX", newdata=grid0, type="link", transform="exp")
    slope_link = me.slopes(fit, "TX", newdata=grid0, type="link")
    ratio_new = me.avg_comparisons(
        fit,
        "TX",
        comparison="ratio",
        newdata=me.datagrid(fit, cluster=me.new_levels(20)),
        allow_new_levels=True,
        sample_new_levels="gaussian",
        seed=1,
    )
    for ratio in (ratio_link.draws[0], np.exp(slope_link.draws[0]), ratio_new.draws[0]):
        np.testing.assert_allclose(ratio, np.exp(b1), rtol=1e-10)


# --------------------------------------------------------------------------- #
# 02: properties MAR.1-MAR.7
# --------------------------------------------------------------------------- #


def test_02_mar1_slopes_of_a_random_intercept_lmm_are_beta(gaussian_ri_fit):
    fit = gaussian_ri_fit
    (beta,) = _cols(fit, "b_x")
    for res in (
        me.avg_slopes(fit, "x", re_formula="NA"),
        me.slopes(fit, "x", newdata=me.datagrid(fit, g="unique")),
        me.avg_slopes(fit, "x"),
        me.avg_slopes(
            fit,
            "x",
            newdata=me.datagrid(fit, g=me.new_levels(20)),
            allow_new_levels=True,
            sample_new_levels="gaussian",
            seed=1,
        ),
    ):
        np.testing.assert_allclose(res.draws, np.broadcast_to(beta, res.draws.shape), rtol=1e-8)


def test_02_mar2_conditional_is_population_plus_offset(gaussian_ri_fit):
    fit = gaussian_ri_fit
    grid = me.datagrid(fit, g="unique", x=0)
    b_g = me.as_draws_df(fit)[[f"r_g[{v},Intercept]" for v in grid["g"]]].to_numpy().T
    np.testing.assert_allclose(
        me.predictions(fit, grid).draws, me.predictions(fit, grid, re_formula="NA").draws + b_g, atol=1e-9
    )


def test_02_mar3_row_average_weights_groups_by_size(gaussian_ri_fit):
    fit = gaussian_ri_fit
    n_groups = 5
    overall = me.avg_predictions(fit)
    means = me.avg_predictions(fit, by="g")
    np.testing.assert_allclose(overall.draws, me.hypotheses(means, np.full(n_groups, 1 / n_groups)).draws, rtol=1e-12)
    data = fit.data
    size_of = {g: 30 - 6 * i for i, g in enumerate(sorted(data["g"].unique()))}
    keep = data[data.groupby("g").cumcount() < data["g"].map(size_of)]
    sizes = keep["g"].value_counts().sort_index().to_numpy()
    np.testing.assert_allclose(
        me.avg_predictions(fit, newdata=keep).draws,
        me.hypotheses(me.avg_predictions(fit, newdata=keep, by="g"), sizes / sizes.sum()).draws,
        rtol=1e-12,
    )


@pytest.fixture(scope="module")
def logistic(bernoulli_fit):
    b0, b1, sd = _cols(bernoulli_fit, "b_Intercept", "b_x", "sd_g__Intercept")  # z = "a" is the reference level
    return bernoulli_fit, b0, b1, sd


def test_02_mar4_group_gaps_are_constant_on_the_link_scale_only(logistic):
    fit = logistic[0]
    xs = np.arange(-3, 4)
    groups = list(fit.data["g"].unique()[:3])
    grid, typ = me.datagrid(fit, x=xs, z="a", g=groups), me.datagrid(fit, x=xs, z="a")
    gaps = {}
    for t in ("link", "response"):
        gaps[t] = (
            me.predictions(fit, grid, type=t).draws.reshape(len(xs), len(groups), -1)
            - me.predictions(fit, typ, type=t, re_formula="NA").draws[:, None, :]
        )
    np.testing.assert_allclose(gaps["link"], np.broadcast_to(gaps["link"][:1], gaps["link"].shape), atol=1e-9)
    assert np.ptp(np.median(gaps["response"], axis=2), axis=0).max() > 0.05


def test_02_mar5_integrated_probability_is_the_quadrature_and_pulled_toward_half(logistic):
    fit, b0, b1, sd = logistic
    x = np.array([-6.0, 0.0, 6.0])
    exact = me.predictions(
        fit, me.datagrid(fit, x=x, z="a", g=me.new_levels(1)), allow_new_levels=True, sample_new_levels="integrate"
    )
    eta = b0[None, :] + np.outer(x, b1)
    np.testing.assert_allclose(exact.draws, expit(eta[..., None] + sd[None, :, None] * NODES) @ WEIGHTS, rtol=1e-6)
    typical = me.predictions(fit, me.datagrid(fit, x=x, z="a"), re_formula="NA").draws
    np.testing.assert_allclose(typical, expit(eta), rtol=1e-10)
    assert np.all(np.where(eta < 0, exact.draws >= typical, exact.draws <= typical))


def test_02_mar6_integrated_slope_is_beta_times_mean_density(logistic):
    fit, b0, b1, sd = logistic
    slope = me.avg_slopes(
        fit,
        "x",
        newdata=me.datagrid(fit, x=0.0, z="a", g=me.new_levels(1)),
        allow_new_levels=True,
        sample_new_levels="integrate",
    )
    p = expit(b0[:, None] + sd[:, None] * NODES)
    np.testing.assert_allclose(slope.draws[0], b1 * ((p * (1 - p)) @ WEIGHTS), rtol=1e-5)


def test_02_population_averaged_log_odds_ratio_is_the_quadrature_and_attenuated(logistic):
    fit, b0, b1, sd = logistic
    lnor = me.avg_comparisons(
        fit,
        {"x": 1},
        comparison="lnor",
        newdata=me.datagrid(fit, x=0.0, z="a", g=me.new_levels(1)),
        allow_new_levels=True,
        sample_new_levels="integrate",
    )
    p0 = expit(b0[:, None] + sd[:, None] * NODES) @ WEIGHTS
    p1 = expit(b0[:, None] + b1[:, None] + sd[:, None] * NODES) @ WEIGHTS
    np.testing.assert_allclose(lnor.draws[0], _logit(p1) - _logit(p0), rtol=1e-6)
    assert np.mean(np.abs(lnor.draws[0]) < np.abs(b1)) > 0.99


def test_02_mar7_link_scale_slopes_are_beta_however_groups_are_treated(logistic):
    fit, _, b1, _ = logistic
    for res in (
        me.avg_slopes(fit, "x", type="link", re_formula="NA"),
        me.avg_slopes(fit, "x", type="link"),
        me.avg_slopes(
            fit,
            "x",
            type="link",
            newdata=me.datagrid(fit, g=me.new_levels(20)),
            allow_new_levels=True,
            sample_new_levels="gaussian",
            seed=9,
        ),
        me.avg_slopes(
            fit,
            "x",
            type="link",
            newdata=me.datagrid(fit, g=me.new_levels(1)),
            allow_new_levels=True,
            sample_new_levels="integrate",
        ),
    ):
        np.testing.assert_allclose(res.draws[0], b1, rtol=1e-8)


# --------------------------------------------------------------------------- #
# 03: sleepstudy, the effect of Days for whom
# --------------------------------------------------------------------------- #


def test_03_the_three_answers_come_from_beta_and_the_subject_offsets(sleep_fit):
    fit = sleep_fit
    d = me.as_draws_df(fit)
    subjects = [str(s) for s in fit.spec().groups["Subject"].levels]
    beta = d["b_Days"].to_numpy()
    nu = d[[f"r_Subject[{s},Days]" for s in subjects]].to_numpy()

    np.testing.assert_allclose(me.avg_slopes(fit, "Days", re_formula="NA").draws[0], beta, rtol=1e-8)
    per_subject = me.slopes(fit, "Days", newdata=me.datagrid(fit, Subject="unique"))
    idx = [subjects.index(s) for s in per_subject.grid["Subject"].astype(str)]
    np.testing.assert_allclose(per_subject.draws, beta + nu[:, idx].T, rtol=1e-8)
    mean_existing = me.avg_slopes(fit, "Days", newdata=me.datagrid(fit, Subject="unique"))
    np.testing.assert_allclose(mean_existing.draws[0], beta + nu.mean(axis=1), rtol=1e-8)
    # "a random study subject" (brms's sample_new_levels="uncertainty") is one of them in every draw
    random_existing = me.slopes(
        fit,
        "Days",
        newdata=me.datagrid(fit, Subject=me.new_levels(1)),
        allow_new_levels=True,
        sample_new_levels="uncertainty",
        seed=1,
    )
    assert np.isclose(per_subject.draws, random_existing.draws).any(axis=0).all()
    # the typical subject's trajectory is a line with slope beta
    traj = me.predictions(fit, me.datagrid(fit, Days=[0, 1]), re_formula="NA")
    np.testing.assert_allclose(traj.draws[1] - traj.draws[0], beta, rtol=1e-8)


# --------------------------------------------------------------------------- #
# 04: post-stratification
# --------------------------------------------------------------------------- #


def test_04_poststratified_average_is_the_weighted_mean_of_cell_predictions(logistic):
    fit, b0, b1, _ = logistic
    d = me.as_draws_df(fit)
    rng = np.random.default_rng(4)
    groups = sorted(fit.data["g"].unique())
    cells = pd.DataFrame([(g, z, x) for g in groups for z in "abc" for x in (-1.0, 0.5)], columns=["g", "z", "x"])
    cells["percent"] = rng.uniform(0.1, 5.0, len(cells))
    mrp = me.avg_predictions(fit, newdata=cells, wts="percent", by="g")

    # numpy only, from the parameter draws: every cell's probability, then the weighted mean per group
    b_z = {"a": np.zeros_like(b0), "b": d["b_zb"].to_numpy(), "c": d["b_zc"].to_numpy()}
    eta = np.column_stack(
        [
            b0 + b1 * x + b_z[z] + d[f"r_g[{g},Intercept]"].to_numpy()
            for g, z, x in cells[["g", "z", "x"]].itertuples(index=False)
        ]
    )
    p = expit(eta)  # (S, cells)
    w = cells["percent"].to_numpy()
    by_hand = np.vstack(
        [
            p[:, (cells["g"] == g).to_numpy()] @ w[(cells["g"] == g).to_numpy()] / w[(cells["g"] == g).to_numpy()].sum()
            for g in mrp.grid["g"]
        ]
    )
    np.testing.assert_allclose(mrp.draws, by_hand, rtol=1e-9)

    # the overall average is the size-weighted average of the by-group averages
    by_z = me.avg_predictions(fit, by="z")
    n = fit.data["z"].value_counts().reindex(by_z.grid["z"].astype(str)).to_numpy()
    np.testing.assert_allclose(me.avg_predictions(fit).draws, me.hypotheses(by_z, n / n.sum()).draws, rtol=1e-10)


# --------------------------------------------------------------------------- #
# 05: ordinal outcomes
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def wine_fit():
    """The notebook's cumulative-logit model, short chains (Bambi's ordered thresholds)."""
    d = me.datasets.load_wine()
    with warnings.catch_warnings():  # Bambi: "The intercept is omitted in ordinal families"
        warnings.simplefilter("ignore", UserWarning)
        fit = me.fit(
            "rating ~ temp + contact + (1 | judge)",
            d,
            family="cumulative",
            draws=150,
            tune=200,
            chains=2,
            seed=1,
            progress=False,
            target_accept=0.95,
        )

    def flat(name):
        da = fit.idata["posterior"][name]
        return da.values.reshape(da.sizes["chain"] * da.sizes["draw"], -1).squeeze()

    return fit, flat("threshold"), flat("temp"), flat("contact"), flat("1|judge_sigma")


def _cumulative_probs(eta, thresholds):
    cdf = [expit(thresholds[..., k] - eta) for k in range(thresholds.shape[-1])]
    return np.diff(np.stack([np.zeros_like(cdf[0]), *cdf, np.ones_like(cdf[0])]), axis=0)


def test_05_typical_judge_probabilities_are_the_closed_form_and_sum_to_one(wine_fit):
    fit, th, bw, bc, _ = wine_fit
    grid = me.datagrid(fit, temp=["cold", "warm"], contact=["no", "yes"])
    typical = me.predictions(fit, grid, re_formula="NA")
    assert list(typical.summary.columns[:3]) == ["group", "temp", "contact"]
    warm = (grid["temp"] == "warm").to_numpy(float)
    yes = (grid["contact"] == "yes").to_numpy(float)
    closed = _cumulative_probs(np.outer(warm, bw) + np.outer(yes, bc), th)  # (5, 4, S)
    np.testing.assert_allclose(typical.draws, closed.reshape(20, -1), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(typical.draws.reshape(5, 4, -1).sum(axis=0), 1.0, atol=1e-12)


def test_05_integrated_judge_effect_is_the_quadrature_and_sums_to_zero(wine_fit):
    fit, th, bw, bc, sd = wine_fit
    effect = me.avg_comparisons(
        fit,
        "temp",
        newdata=me.datagrid(fit, contact=["no", "yes"], judge=me.new_levels(1)),
        allow_new_levels=True,
        sample_new_levels="integrate",
    )

    def integrated(eta):  # (5, rows, S): E_u[P(Y = k | eta + u)], u ~ N(0, sd^2)
        return _cumulative_probs(eta[..., None] + sd[None, :, None] * NODES, th[:, None, :]) @ WEIGHTS

    eta_c = np.outer([0.0, 1.0], bc)
    quad = (integrated(eta_c + bw) - integrated(eta_c)).mean(axis=1)
    np.testing.assert_allclose(effect.draws, quad, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(effect.draws.sum(axis=0), 0.0, atol=1e-12)


def test_05_expected_rating_is_a_linear_combination_of_rows(wine_fit):
    fit = wine_fit[0]
    by_temp = me.avg_predictions(
        fit, newdata=me.datagrid(fit, temp=["cold", "warm"], contact=["no", "yes"]), by="temp", re_formula="NA"
    )
    k = by_temp.grid["group"].astype(int).to_numpy()
    expected = np.vstack(
        [
            k[(by_temp.grid["temp"] == t).to_numpy()] @ by_temp.draws[(by_temp.grid["temp"] == t).to_numpy()]
            for t in ("cold", "warm")
        ]
    )
    w = np.column_stack([np.where(by_temp.grid["temp"] == t, k, 0) for t in ("cold", "warm")])
    np.testing.assert_allclose(me.hypotheses(by_temp, w).draws, expected, rtol=1e-12)
    assert np.all((expected >= 1) & (expected <= 5))


# --------------------------------------------------------------------------- #
# 06: model checking at existing and at new clusters
# --------------------------------------------------------------------------- #


def _sd_of_cluster_means(d):
    """The notebook's statistic: sd of the clusters' mean log(y) around their arm's mean."""
    codes, names = pd.factorize(d["cluster"])
    n = np.bincount(codes)
    arm = d.groupby("cluster", sort=False)["TX"].first().loc[names].to_numpy()

    def sd_cluster_means(y):
        m = np.bincount(codes, weights=np.log(y)) / n
        resid = m - np.where(arm == 1, m[arm == 1].mean(), m[arm == 0].mean())
        return np.sqrt(np.sum(resid**2) / (m.size - 2))

    return sd_cluster_means


def test_06_cluster_spread_p_values_and_new_levels_spread_more(magnusson_fit):
    fit = magnusson_fit
    d = fit.data
    stat = _sd_of_cluster_means(d)
    log_means = np.log(d["y"]).groupby(d["cluster"]).mean()
    tx = d.groupby("cluster")["TX"].first()
    by_hand = np.sqrt(((log_means - log_means.groupby(tx).transform("mean")) ** 2).sum() / (len(log_means) - 2))
    spread = {}
    for lev in ("existing", "new"):
        t = me.pp_check(fit, "stat", stat=stat, levels=lev, seed=2, draw=False)
        obs, rep = t["sd_cluster_means"].iloc[0], t["sd_cluster_means"].iloc[1:].to_numpy()
        assert t["rep"].iloc[0] == "observed" and len(rep) == fit.spec().n_samples == t.attrs["ndraws"]
        np.testing.assert_allclose(obs, by_hand, rtol=1e-12)
        p = t.attrs["p_value"]
        assert 0 <= p <= 1 and p == np.mean(rep >= obs)
        fig = me.pp_check(fit, "stat", stat=stat, levels=lev, seed=2)  # the figure's p-value is the data's
        assert fig.mixeff_p_value == p
        spread[lev] = np.std(rep)
    # mixed replication draws new cluster offsets: their spread varies far more than the fitted clusters'
    assert spread["new"] > 2 * spread["existing"]


def test_06_sleepstudy_subject_statistics_are_least_squares_and_r2_marginal_below_conditional(sleep_fit):
    fit = sleep_fit
    d = fit.data
    codes = pd.factorize(d["Subject"])[0]
    days = d["Days"].to_numpy(dtype=float)

    def sd_slopes(y):
        return np.std([np.polyfit(days[codes == k], y[codes == k], 1)[0] for k in range(codes.max() + 1)], ddof=1)

    def slope(y):
        return np.polyfit(np.arange(y.size), y, 1)[0]

    ols = np.vstack([np.polyfit(g["Days"], g["Reaction"], 1) for _, g in d.groupby("Subject", observed=True)])
    t = me.pp_check(fit, "stat", stat=(sd_slopes, "mean"), levels="new", seed=4, draw=False)
    np.testing.assert_allclose(t["sd_slopes"].iloc[0], np.std(ols[:, 0], ddof=1), rtol=1e-10)
    np.testing.assert_allclose(t["mean"].iloc[0], d["Reaction"].mean(), rtol=1e-12)
    assert set(t.attrs["p_value"]) == {"sd_slopes", "mean"} and all(0 <= p <= 1 for p in t.attrs["p_value"].values())

    shown = d[d["Subject"].astype(str).isin(["308", "335"])]
    g = me.pp_check(fit, "stat_grouped", group="Subject", stat=slope, newdata=shown, levels="new", seed=5, draw=False)
    observed = g[g["rep"] == "observed"]
    by_subject = dict(zip(observed["Subject"].astype(str), observed["slope"]))
    subjects = [str(s) for s in d.groupby("Subject", observed=True).groups]
    for s in ("308", "335"):
        np.testing.assert_allclose(by_subject[s], ols[subjects.index(s), 0], rtol=1e-10)
    assert all(0 <= p <= 1 for p in g.attrs["p_value"].values())

    conditional = me.bayes_R2(fit).draws[0]
    marginal = me.bayes_R2(fit, re_formula="NA").draws[0]
    assert np.all((0 <= marginal) & (marginal <= 1) & (0 <= conditional) & (conditional <= 1))
    assert np.median(marginal) < np.median(conditional)


def test_06_prior_predictive_check_uses_prior_draws(logistic_data):
    prior_fit = me.fit(
        "y ~ x + z + (1 | g)",
        logistic_data,
        family="bernoulli",
        priors={"b": "normal(0, 1e6)", "Intercept": "normal(0, 1e6)"},
        sample_prior="only",
        seed=1,
        chains=2,
        draws=200,
        progress=False,
    )
    t = me.pp_check(prior_fit, "stat", stat="mean", seed=6, draw=False)
    assert t.attrs["source"] == "prior"
    np.testing.assert_allclose(t["mean"].iloc[0], logistic_data["y"].mean(), rtol=1e-12)
    share = t["mean"].iloc[1:]
    assert share.between(0, 1).all() and share.quantile(0.05) < 0.2 and share.quantile(0.95) > 0.8
    bars = me.pp_check(prior_fit, "bars", seed=6, draw=False)
    assert set(bars["value"].unique()) <= {0.0, 1.0}
