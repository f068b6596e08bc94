"""pp_check: every type's artists show its data, checked against numpy computations of the same draws.

Specs come from made-up brms-named draws (no MCMC): two chains of 1000 independent draws, so that the
replications pass mixeff's convergence checks.  The replicated draws are mixeff.posterior_predict's with
the same seed; the draws a type picks are read from its ``draw=False`` data (the ``rep`` column).
"""

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import mixeff  # noqa: E402
from mixeff.plots.density import kde  # noqa: E402
from mixeff.plots.ppc import TYPES, binned_residuals, hist_edges  # noqa: E402

S = 2000
CLUSTERS = [f"c{i}" for i in range(6)]
SEED = 3
PNG = Path("/tmp/mixeff_pp_check")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _chains(columns: dict) -> pd.DataFrame:
    table = pd.DataFrame(columns)
    table[".chain"] = np.repeat([1, 2], S // 2)
    table[".iteration"] = np.tile(np.arange(1, S // 2 + 1), 2)
    table[".draw"] = np.arange(1, S + 1)
    return table


def _spec(family: str, source: str = "posterior", n: int = 120, **extra):
    rng = np.random.default_rng(11)
    data = pd.DataFrame(
        {"x": rng.uniform(-1, 1, n), "g": np.repeat(CLUSTERS, n // len(CLUSTERS)), "n": rng.integers(1, 10, n)}
    )
    r = np.random.default_rng(5)
    intercept = {"gaussian": 2.0, "poisson": 1.0, "bernoulli": 0.2, "binomial": 0.2}.get(family, 0.0)
    columns = {"b_Intercept": r.normal(intercept, 0.1, S), "b_x": r.normal(0.8, 0.1, S)}
    columns["sd_g__Intercept"] = np.abs(r.normal(0.4, 0.05, S))
    columns |= {f"r_g[{lev},Intercept]": r.normal(0, 0.4, S) for lev in CLUSTERS}
    if family == "gaussian":
        columns["sigma"] = r.uniform(0.8, 1.2, S)
    eta = intercept + 0.8 * data["x"].to_numpy()
    y = {
        "gaussian": lambda: eta + rng.normal(0, 1, n),
        "poisson": lambda: rng.poisson(np.exp(eta)),
        "bernoulli": lambda: (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
        "binomial": lambda: rng.binomial(data["n"], 1 / (1 + np.exp(-eta))),
    }[family]()
    data["y"] = y
    return mixeff.from_brms_draws(
        _chains(columns),
        formula="y ~ x + (1 | g)",
        data=data,
        family=family,
        trials="n" if family == "binomial" else None,
        source=source,
        **extra,
    )


@pytest.fixture(scope="module")
def gaussian():
    return _spec("gaussian")


@pytest.fixture(scope="module")
def poisson():
    return _spec("poisson")


@pytest.fixture(scope="module")
def bernoulli():
    return _spec("bernoulli")


@pytest.fixture(scope="module")
def binomial():
    return _spec("binomial")


@pytest.fixture(scope="module")
def ordinal():
    rng = np.random.default_rng(3)
    n = 120
    data = pd.DataFrame({"x": rng.uniform(-1, 1, n), "g": np.repeat(CLUSTERS, n // len(CLUSTERS))})
    data["y"] = rng.choice(["lo", "mid", "hi"], n)
    r = np.random.default_rng(4)
    tau1 = r.normal(-0.5, 0.1, S)
    columns = {"b_Intercept[1]": tau1, "b_Intercept[2]": tau1 + np.exp(r.normal(0, 0.1, S))}
    columns |= {"b_x": r.normal(0.5, 0.1, S), "sd_g__Intercept": np.abs(r.normal(0.3, 0.05, S))}
    columns |= {f"r_g[{lev},Intercept]": r.normal(0, 0.3, S) for lev in CLUSTERS}
    return mixeff.from_brms_draws(
        _chains(columns), formula="y ~ x + (1 | g)", data=data, family="cumulative", categories=["lo", "mid", "hi"]
    )


def _y(spec):
    return spec.data["y"].to_numpy(dtype=float)


def _rep(spec, data, **kw):
    """The replicated draws the check used: posterior_predict with its seed, at the draws it names."""
    y_rep = mixeff.posterior_predict(spec, seed=SEED, **kw).draws
    ids = data.loc[data["rep"] != "observed", "rep"].drop_duplicates().to_numpy(dtype=int)
    return y_rep[:, ids]


def _gid(ax, gid):
    return [a for a in [*ax.lines, *ax.collections, *ax.patches] if a.get_gid() == gid]


def _save(fig, name):
    PNG.mkdir(exist_ok=True)
    fig.savefig(PNG / f"{name}.png", dpi=90)


def _caption(fig):
    return fig._supxlabel.get_text()


# --------------------------------------------------------------------------- #
# types
# --------------------------------------------------------------------------- #


def test_dens_overlay_lines_are_the_kdes_of_y_and_of_the_replicated_draws(gaussian):
    fig = mixeff.pp_check(gaussian, seed=SEED)
    _save(fig, "dens_overlay")
    data = mixeff.pp_check(gaussian, seed=SEED, draw=False)
    ax = fig.axes[0]
    y = _y(gaussian)
    (observed,) = _gid(ax, "observed")
    gx, gd = kde(y[None, :])
    np.testing.assert_allclose(observed.get_xdata(), gx[0])
    np.testing.assert_allclose(observed.get_ydata(), gd[0])
    rep = _rep(gaussian, data)
    assert rep.shape == (len(y), 50)
    lines = _gid(ax, "replicated")
    rx, rd = kde(rep.T, window=ax.get_xlim())
    assert len(lines) == 50
    for line, xs, ds in zip(lines, rx, rd):
        np.testing.assert_allclose(line.get_xdata(), xs)
        np.testing.assert_allclose(line.get_ydata(), ds)
    text = _caption(fig)
    assert "50 of 2000 posterior draws" in text and "existing levels" in text
    assert ax.get_xlabel() == "y" and "Posterior predictive check" in fig._suptitle.get_text()


def test_draw_false_is_the_long_data_of_y_and_the_replicated_draws(gaussian):
    data = mixeff.pp_check(gaussian, ndraws=7, group="g", seed=SEED, draw=False)
    y = _y(gaussian)
    rep = _rep(gaussian, data)
    expected = np.concatenate([y, rep.T.ravel()])
    np.testing.assert_array_equal(data["value"].to_numpy(), expected)
    assert (data["rep"] == "observed").sum() == len(y) and data["rep"].nunique() == 8
    assert data["g"].tolist() == gaussian.data["g"].tolist() * 8
    assert data.attrs["ndraws"] == 7 and data.attrs["source"] == "posterior"


def test_hist_bar_heights_are_numpy_histogram_counts(poisson):
    fig = mixeff.pp_check(poisson, "hist", seed=SEED)
    _save(fig, "hist")
    data = mixeff.pp_check(poisson, "hist", seed=SEED, draw=False)
    y, rep = _y(poisson), _rep(poisson, data)
    edges = hist_edges(y, rep, discrete=True)
    assert np.all(np.diff(edges) == 1)
    for i, ax in enumerate(fig.axes[:9]):
        values = y if i == 0 else rep[:, i - 1]
        heights = [p.get_height() for p in ax.patches if isinstance(p, Rectangle)]
        np.testing.assert_array_equal(heights, np.histogram(values, edges)[0])
        lefts = [p.get_x() for p in ax.patches]
        np.testing.assert_allclose(lefts, edges[:-1])
    assert fig.axes[0].get_title() == "y (observed)"


def test_boxplot_medians_are_numpy_medians(gaussian):
    fig = mixeff.pp_check(gaussian, "boxplot", ndraws=5, seed=SEED)
    _save(fig, "boxplot")
    data = mixeff.pp_check(gaussian, "boxplot", ndraws=5, seed=SEED, draw=False)
    y, rep = _y(gaussian), _rep(gaussian, data)
    ax = fig.axes[0]
    medians = [line.get_ydata()[0] for line in ax.lines if line.get_color() == "white"]
    np.testing.assert_allclose(medians, np.median(np.column_stack([y, rep]), axis=0))


def test_ecdf_overlay_steps_are_the_empirical_cdfs(poisson):
    fig = mixeff.pp_check(poisson, "ecdf_overlay", ndraws=10, seed=SEED)
    _save(fig, "ecdf_overlay")
    y = _y(poisson)
    (observed,) = _gid(fig.axes[0], "observed")
    np.testing.assert_array_equal(observed.get_xdata(), np.sort(y))
    np.testing.assert_allclose(observed.get_ydata(), np.arange(1, len(y) + 1) / len(y))
    assert len(_gid(fig.axes[0], "replicated")) == 10


def test_stat_histogram_line_and_p_value(poisson):
    fig = mixeff.pp_check(poisson, "stat", stat="prop_zero", seed=SEED)
    _save(fig, "stat")
    data = mixeff.pp_check(poisson, "stat", stat="prop_zero", seed=SEED, draw=False)
    y = _y(poisson)
    rep = mixeff.posterior_predict(poisson, seed=SEED).draws  # every draw
    t_rep, t_obs = np.mean(rep == 0, axis=0), np.mean(y == 0)
    ax = fig.axes[0]
    (line,) = _gid(ax, "observed")
    assert line.get_xdata()[0] == pytest.approx(t_obs)
    heights = [p.get_height() for p in ax.patches]
    edges = [p.get_x() for p in ax.patches] + [ax.patches[-1].get_x() + ax.patches[-1].get_width()]
    np.testing.assert_array_equal(heights, np.histogram(t_rep, np.array(edges))[0])
    assert fig.mixeff_p_value == pytest.approx(np.mean(t_rep >= t_obs))
    assert f"p = {np.mean(t_rep >= t_obs):.3f}" in [t.get_text() for t in ax.get_legend().get_texts()][1]
    np.testing.assert_allclose(np.diff(edges), 1 / len(y))  # one bin per share k/n: no empty aliasing bins
    assert data.attrs["p_value"] == fig.mixeff_p_value
    np.testing.assert_allclose(data["prop_zero"].to_numpy(), np.concatenate([[t_obs], t_rep]))
    assert data["rep"].iloc[0] == "observed" and len(data) == S + 1


def test_two_stats_scatter_and_a_callable(gaussian):
    def q90(a):
        return np.quantile(a, 0.9)

    fig = mixeff.pp_check(gaussian, "stat", stat=("mean", q90), seed=SEED)
    _save(fig, "stat_2d")
    y, rep = _y(gaussian), mixeff.posterior_predict(gaussian, seed=SEED).draws
    t1, t2 = rep.mean(axis=0), np.quantile(rep, 0.9, axis=0)
    (points,) = _gid(fig.axes[0], "replicated")
    np.testing.assert_allclose(points.get_xdata(), t1)
    np.testing.assert_allclose(points.get_ydata(), t2)
    (obs,) = _gid(fig.axes[0], "observed")
    assert obs.get_xdata()[0] == pytest.approx(y.mean()) and obs.get_ydata()[0] == pytest.approx(np.quantile(y, 0.9))
    assert fig.mixeff_p_value == {
        "mean": pytest.approx(np.mean(t1 >= y.mean())),
        "q90": pytest.approx(np.mean(t2 >= np.quantile(y, 0.9))),
    }


def test_stat_grouped_p_values_per_group(gaussian):
    fig = mixeff.pp_check(gaussian, "stat_grouped", stat="sd", group="g", seed=SEED)
    _save(fig, "stat_grouped")
    y, rep = _y(gaussian), mixeff.posterior_predict(gaussian, seed=SEED).draws
    g = gaussian.data["g"].to_numpy()
    assert list(fig.mixeff_p_value) == CLUSTERS
    for ax, lev in zip(fig.axes, CLUSTERS):
        m = g == lev
        t_rep, t_obs = rep[m].std(axis=0, ddof=1), y[m].std(ddof=1)
        assert fig.mixeff_p_value[lev] == pytest.approx(np.mean(t_rep >= t_obs))
        assert _gid(ax, "observed")[0].get_xdata()[0] == pytest.approx(t_obs)
        assert ax.get_title() == f"g = {lev}: T(y) = {t_obs:.4g}, p = {np.mean(t_rep >= t_obs):.3f}"


def test_intervals_are_numpy_quantiles_per_observation(gaussian):
    fig = mixeff.pp_check(gaussian, "intervals", x="x", prob=0.8, seed=SEED)
    _save(fig, "intervals")
    y, rep = _y(gaussian), mixeff.posterior_predict(gaussian, seed=SEED).draws
    ax = fig.axes[0]
    (median,) = _gid(ax, "median")
    np.testing.assert_allclose(median.get_xdata(), gaussian.data["x"])
    np.testing.assert_allclose(median.get_ydata(), np.median(rep, axis=1))
    (segments,) = [c for c in _gid(ax, "interval") if isinstance(c, LineCollection)]
    ends = np.array([s[:, 1] for s in segments.get_segments()])
    np.testing.assert_allclose(ends, np.quantile(rep, [0.1, 0.9], axis=1).T)
    np.testing.assert_allclose(_gid(ax, "observed")[0].get_ydata(), y)
    assert ax.get_xlabel() == "x"


def test_intervals_grouped_panels(poisson):
    fig = mixeff.pp_check(poisson, "intervals_grouped", group="g", seed=SEED)
    _save(fig, "intervals_grouped")
    rep = mixeff.posterior_predict(poisson, seed=SEED).draws
    m = (poisson.data["g"] == "c2").to_numpy()
    (median,) = _gid(fig.axes[2], "median")
    np.testing.assert_allclose(median.get_ydata(), np.median(rep[m], axis=1))
    np.testing.assert_allclose(median.get_xdata(), np.flatnonzero(m) + 1)


def test_scatter_avg(gaussian):
    fig = mixeff.pp_check(gaussian, "scatter_avg", seed=SEED)
    _save(fig, "scatter_avg")
    rep = mixeff.posterior_predict(gaussian, seed=SEED).draws
    (points,) = _gid(fig.axes[0], "observed")
    np.testing.assert_allclose(points.get_xdata(), rep.mean(axis=1))
    np.testing.assert_allclose(points.get_ydata(), _y(gaussian))


def test_bars_heights_and_replicated_medians(poisson):
    fig = mixeff.pp_check(poisson, "bars", seed=SEED)
    _save(fig, "bars")
    y, rep = _y(poisson), mixeff.posterior_predict(poisson, seed=SEED).draws
    values = np.union1d(np.unique(y), np.unique(rep))
    values = values[values <= max(y.max(), np.quantile(rep, 0.995))]  # the bulk of the counts
    assert values.max() < rep.max()
    ax = fig.axes[0]
    heights = [p.get_height() for p in _gid(ax, "observed")]
    np.testing.assert_array_equal(heights, [(y == v).sum() for v in values])
    counts = np.stack([(rep == v).sum(axis=0) for v in values])
    (median,) = _gid(ax, "median")
    np.testing.assert_array_equal(median.get_xdata(), values)
    np.testing.assert_allclose(median.get_ydata(), np.median(counts, axis=1))


def test_bars_of_an_ordinal_response_count_categories(ordinal):
    fig = mixeff.pp_check(ordinal, "bars", seed=SEED)
    _save(fig, "bars_ordinal")
    y = ordinal.data["y"].map({"lo": 1, "mid": 2, "hi": 3}).to_numpy()
    rep = mixeff.posterior_predict(ordinal, seed=SEED).draws
    ax = fig.axes[0]
    np.testing.assert_array_equal([p.get_height() for p in _gid(ax, "observed")], [(y == k).sum() for k in (1, 2, 3)])
    medians = np.median(np.stack([(rep == k).sum(axis=0) for k in (1, 2, 3)]), axis=1)
    np.testing.assert_allclose(_gid(ax, "median")[0].get_ydata(), medians)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lo", "mid", "hi"]


def test_bars_grouped_of_a_bernoulli(bernoulli):
    fig = mixeff.pp_check(bernoulli, "bars_grouped", group="g", seed=SEED)
    _save(fig, "bars_grouped")
    y = _y(bernoulli)
    m = (bernoulli.data["g"] == "c0").to_numpy()
    heights = [p.get_height() for p in _gid(fig.axes[0], "observed")]
    assert heights == [(y[m] == 0).sum(), (y[m] == 1).sum()]


def test_rootogram_hangs_observed_from_expected(poisson):
    fig = mixeff.pp_check(poisson, "rootogram", seed=SEED)
    _save(fig, "rootogram")
    y, rep = _y(poisson), mixeff.posterior_predict(poisson, seed=SEED).draws
    ax = fig.axes[0]
    bars = _gid(ax, "observed")
    ks = np.array([p.get_x() + p.get_width() / 2 for p in bars])
    np.testing.assert_allclose(ks, np.arange(len(ks)))
    assert ks[-1] >= y.max()
    expected = np.array([(rep == k).sum(axis=0).mean() for k in ks])
    observed = np.array([(y == k).sum() for k in ks])
    np.testing.assert_allclose([p.get_height() for p in bars], np.sqrt(observed))
    np.testing.assert_allclose([p.get_y() for p in bars], np.sqrt(expected) - np.sqrt(observed))
    np.testing.assert_allclose(_gid(ax, "expected")[0].get_ydata(), np.sqrt(expected))


@pytest.mark.parametrize("family", ["bernoulli", "binomial"])
def test_error_binned_bin_means(family, bernoulli, binomial):
    spec = {"bernoulli": bernoulli, "binomial": binomial}[family]
    fig = mixeff.pp_check(spec, "error_binned", seed=SEED)
    _save(fig, f"error_binned_{family}")
    y, rep = _y(spec), mixeff.posterior_predict(spec, seed=SEED).draws
    trials = spec.data["n"].to_numpy(dtype=float) if family == "binomial" else np.ones(len(y))
    p = rep.mean(axis=1) / trials
    order = np.argsort(p, kind="stable")
    bins = np.array_split(order, 10)  # 120 rows: floor(sqrt(120)) = 10 bins
    ax = fig.axes[0]
    (points,) = _gid(ax, "binned")
    np.testing.assert_allclose(points.get_xdata(), [p[b].mean() for b in bins])
    np.testing.assert_allclose(points.get_ydata(), [(y[b] / trials[b] - p[b]).mean() for b in bins])
    bound = [2 * np.sqrt(np.sum(p[b] * (1 - p[b]) / trials[b])) / b.size for b in bins]
    np.testing.assert_allclose(_gid(ax, "upper")[0].get_ydata(), bound)
    np.testing.assert_allclose(binned_residuals(y, rep, trials)["bound"], bound)
    lo, hi = ax.get_xlim()
    assert -0.05 <= lo and hi <= 1.05


def test_pit_ecdf_is_the_ecdf_of_numpy_pit_values(gaussian):
    fig = mixeff.pp_check(gaussian, "pit_ecdf", seed=SEED)
    _save(fig, "pit_ecdf")
    y, rep = _y(gaussian), mixeff.posterior_predict(gaussian, seed=SEED).draws
    pit = np.mean(rep < y[:, None], axis=1)  # continuous: no ties
    ax = fig.axes[0]
    (line,) = _gid(ax, "observed")
    grid = line.get_xdata()
    n = len(y)
    np.testing.assert_allclose(grid, np.concatenate([[0], np.arange(1, n) / n, [1]]))
    ecdf = np.searchsorted(np.sort(pit), grid[1:-1], side="right") / n
    np.testing.assert_allclose(line.get_ydata()[1:-1], ecdf - grid[1:-1])
    assert "simultaneous 90% band" in _caption(fig)


def test_levels_new_is_mixed_replication(gaussian):
    fig = mixeff.pp_check(gaussian, "stat", stat="sd", levels="new", seed=SEED)
    rep = mixeff.posterior_predict(gaussian, levels="new", seed=SEED).draws
    assert fig.mixeff_p_value == pytest.approx(np.mean(rep.std(axis=0, ddof=1) >= _y(gaussian).std(ddof=1)))
    assert "new levels" in _caption(fig)


def test_prior_predictive_check():
    prior = _spec("bernoulli", source="prior")
    fig = mixeff.pp_check(prior, "stat", stat="mean", seed=SEED)
    _save(fig, "stat_prior")
    text = _caption(fig)
    assert "2000 prior draws" in text and "Prior predictive check" in fig._suptitle.get_text()
    lo, hi = fig.axes[0].get_xlim()
    assert -0.05 <= lo and hi <= 1.05  # a share of ones
    fig = mixeff.pp_check(prior, "bars", seed=SEED)
    assert fig.axes[0].get_ylim()[0] == 0 and "prior draws" in _caption(fig)
    data = mixeff.pp_check(prior, "ecdf_overlay", seed=SEED, draw=False)
    assert data.attrs["source"] == "prior" and data["value"].isin([0, 1]).all()


def test_into_a_given_axes(gaussian):
    fig, ax = plt.subplots(layout="constrained")
    out = mixeff.pp_check(gaussian, "ecdf_overlay", ax=ax, seed=SEED)
    _save(out, "ecdf_into_ax")
    assert out is fig and "posterior draws" in ax.get_legend().get_title().get_text()


def test_every_type_is_drawn():
    assert set(TYPES) == {
        "dens_overlay", "hist", "boxplot", "ecdf_overlay", "stat", "stat_grouped", "intervals",
        "intervals_grouped", "scatter_avg", "bars", "bars_grouped", "rootogram", "error_binned", "pit_ecdf",
    }  # fmt: skip


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #


def test_errors(gaussian, poisson):
    with pytest.raises(ValueError, match=r"have no column 'y'.*pass rows that hold the response"):
        mixeff.pp_check(gaussian, newdata=gaussian.data.drop(columns="y"))
    with pytest.raises(ValueError, match=r"rootogram.*gaussian.*the types that do: \['dens_overlay'"):
        mixeff.pp_check(gaussian, "rootogram")
    with pytest.raises(ValueError, match=r"error_binned.*poisson.*'rootogram'"):
        mixeff.pp_check(poisson, "error_binned")
    with pytest.raises(ValueError, match=r"'bars' does not apply to the gaussian"):
        mixeff.pp_check(gaussian, "bars")
    with pytest.raises(ValueError, match=r"ndraws=5000 is larger than the fit's 2000 draws"):
        mixeff.pp_check(gaussian, ndraws=5000)
    with pytest.raises(ValueError, match=r"group='nope' is not a column.*available"):
        mixeff.pp_check(gaussian, "stat_grouped", stat="mean", group="nope")
    with pytest.raises(ValueError, match=r"needs stat=.*'prop_zero'"):
        mixeff.pp_check(gaussian, "stat")
    with pytest.raises(ValueError, match=r"stat='mode' is not a statistic"):
        mixeff.pp_check(gaussian, "stat", stat="mode")
    with pytest.raises(ValueError, match=r"type='density' is not a pp_check type.*'dens_overlay'"):
        mixeff.pp_check(gaussian, "density")
    with pytest.raises(ValueError, match=r"needs group="):
        mixeff.pp_check(gaussian, "intervals_grouped")
    with pytest.raises(ValueError, match=r"several panels"):
        mixeff.pp_check(gaussian, "hist", ax=plt.subplots()[1])
