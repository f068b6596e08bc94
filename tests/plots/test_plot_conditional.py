"""plot_predictions, plot_comparisons, plot_slopes: what is drawn is what the verb computes.

The models are built from known draws (``from_brms_draws``), so no MCMC runs except the
cached ``example_fit``: each plot is compared artist by artist with the verb called on
the same grid.
"""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

import mixeff  # noqa: E402
from mixeff import avg_predictions, comparisons, datagrid, predictions, slopes  # noqa: E402
from mixeff.plots.conditional import fivenum, plot_comparisons, plot_predictions, plot_slopes  # noqa: E402

S = 300


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def spec(xzg_spec):
    return xzg_spec


@pytest.fixture(scope="module")
def ordinal_spec(xzg_spec):
    """Cumulative logit r ~ x + z with categories low < mid < high."""
    rng = np.random.default_rng(8)
    d = xzg_spec.data.assign(
        r=lambda f: pd.Categorical(
            np.random.default_rng(2).choice(["low", "mid", "high"], len(f)), ["low", "mid", "high"], ordered=True
        )
    )
    draws = pd.DataFrame(
        {
            "b_Intercept[1]": rng.normal(-0.5, 0.1, S),
            "b_Intercept[2]": rng.normal(0.8, 0.1, S),
            "b_x": rng.normal(0.7, 0.1, S),
            "b_zb": rng.normal(0.5, 0.2, S),
            "b_zc": rng.normal(-0.4, 0.2, S),
        }
    )
    spec = mixeff.from_brms_draws(draws, formula="r ~ x + z", data=d, family="cumulative")
    return spec


def _save(fig, tmp_path, name):
    path = tmp_path / name
    fig.savefig(path, dpi=60)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def _by_gid(ax, gid, kind=None):
    arts = [*ax.lines, *ax.collections]
    return [a for a in arts if a.get_gid() == gid and (kind is None or isinstance(a, kind))]


def _x_span(spec, n):
    return np.linspace(spec.data["x"].min(), spec.data["x"].max(), n)


def _ribbon_bounds(poly, xs):
    """Lower and upper edge of a fill_between polygon at each x."""
    v = np.concatenate([p.vertices for p in poly.get_paths()])
    lo = np.array([v[np.isclose(v[:, 0], x, rtol=0, atol=1e-12), 1].min() for x in xs])
    hi = np.array([v[np.isclose(v[:, 0], x, rtol=0, atol=1e-12), 1].max() for x in xs])
    return lo, hi


def _legend(fig):
    leg = fig.legends[0] if fig.legends else fig.axes[0].get_legend()
    return leg.get_title().get_text(), [t.get_text() for t in leg.get_texts()]


# --------------------------------------------------------------------------- #
# what is drawn equals the verb
# --------------------------------------------------------------------------- #


def test_numeric_condition_draws_the_verbs_estimates_and_interval_ribbons(spec, tmp_path):
    fig = plot_predictions(spec, "x", re_formula="NA", n_points=20)
    _save(fig, tmp_path, "numeric.png")
    p = predictions(spec, datagrid(spec, x=list(_x_span(spec, 20))), re_formula="NA")
    (ax,) = fig.axes
    (line,) = _by_gid(ax, "estimate")
    np.testing.assert_allclose(line.get_xdata(), _x_span(spec, 20), rtol=0, atol=1e-12)
    np.testing.assert_allclose(line.get_ydata(), p.summary["estimate"], rtol=0, atol=1e-12)
    (band95,) = _by_gid(ax, "interval 95", PolyCollection)
    lo, hi = _ribbon_bounds(band95, _x_span(spec, 20))
    np.testing.assert_allclose(lo, p.summary["conf_low"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(hi, p.summary["conf_high"], rtol=0, atol=1e-12)
    (band66,) = _by_gid(ax, "interval 66", PolyCollection)
    s66 = p.summarise(conf_level=0.66)
    lo, hi = _ribbon_bounds(band66, _x_span(spec, 20))
    np.testing.assert_allclose(lo, s66["conf_low"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(hi, s66["conf_high"], rtol=0, atol=1e-12)
    # the wider band is lighter; labels name the variables and the intervals are stated
    assert band95.get_alpha() < band66.get_alpha()
    assert ax.get_xlabel() == "x"
    assert ax.get_ylabel() == "predicted y (expected value)"
    caption = fig._supxlabel.get_text()
    assert "median" in caption and "66% and 95% equal-tailed intervals" in caption


def test_categorical_condition_draws_point_ranges_at_the_verbs_estimates(spec, tmp_path):
    fig = plot_predictions(spec, "z", re_formula="NA")
    _save(fig, tmp_path, "categorical.png")
    p = predictions(spec, datagrid(spec, z="unique"), re_formula="NA")
    (ax,) = fig.axes
    (points,) = _by_gid(ax, "estimate")
    assert points.get_linestyle() == "None" and points.get_marker() == "o"
    np.testing.assert_allclose(points.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(points.get_ydata(), p.summary["estimate"], rtol=0, atol=1e-12)
    (bars,) = _by_gid(ax, "interval 95", LineCollection)
    segs = np.array(bars.get_segments())
    np.testing.assert_allclose(segs[:, 0, 1], p.summary["conf_low"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(segs[:, 1, 1], p.summary["conf_high"], rtol=0, atol=1e-12)
    (thick,) = _by_gid(ax, "interval 66", LineCollection)
    assert thick.get_linewidth()[0] > bars.get_linewidth()[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "z"


def test_a_second_condition_gets_one_colour_per_level_and_a_legend(spec, tmp_path):
    fig = plot_predictions(spec, ["x", "z"], re_formula="NA", n_points=15)
    _save(fig, tmp_path, "colour.png")
    grid = datagrid(spec, x=list(_x_span(spec, 15)), z="unique")
    p = predictions(spec, grid, re_formula="NA")
    (ax,) = fig.axes
    lines = _by_gid(ax, "estimate")
    assert len(lines) == 3
    colours = [to_rgba(line.get_color()) for line in lines]
    assert len(set(colours)) == 3
    for level, line in zip("abc", lines):
        np.testing.assert_allclose(line.get_ydata(), p.summary.loc[grid["z"] == level, "estimate"], rtol=0, atol=1e-12)
    title, labels = _legend(fig)
    assert (title, labels) == ("z", ["a", "b", "c"])
    handles = fig.legends[0].legend_handles
    assert len(handles) == 3


def test_numeric_colour_takes_tukeys_five_numbers(spec):
    d = plot_predictions(spec, ["z", "x"], draw=False)
    assert d["x"].drop_duplicates().tolist() == pytest.approx(fivenum(spec.data["x"]).tolist(), abs=1e-12)
    assert fivenum([1, 2, 3, 4, 5, 6]).tolist() == [1.0, 2.0, 3.5, 5.0, 6.0]  # R: fivenum(1:6)
    fig = plot_predictions(spec, ["z", "x"])
    _, labels = _legend(fig)
    assert len(labels) == 5


def test_draw_false_returns_the_verbs_summary_plus_each_level(spec):
    d = plot_predictions(spec, ["x", "z"], re_formula="NA", n_points=10, draw=False, levels=(0.5, 0.8, 0.975))
    p = predictions(spec, datagrid(spec, x=list(_x_span(spec, 10)), z="unique"), re_formula="NA")
    pd.testing.assert_frame_equal(d[list(p.summary.columns)], p.summary, check_exact=False, rtol=0, atol=1e-12)
    extra = [c for c in d.columns if c not in p.summary.columns]
    assert extra == ["conf_low_50", "conf_high_50", "conf_low_80", "conf_high_80", "conf_low_97.5", "conf_high_97.5"]
    np.testing.assert_allclose(d["conf_low_80"], p.summarise(conf_level=0.8)["conf_low"], rtol=0, atol=1e-12)
    assert (d.attrs["x"], d.attrs["colour"], d.attrs["facet"]) == ("x", "z", None)


def test_conf_level_alone_sets_the_one_band(spec):
    d = plot_predictions(spec, "x", re_formula="NA", n_points=5, conf_level=0.9, draw=False)
    assert [c for c in d.columns if c.startswith("conf_low_")] == ["conf_low_90"]
    np.testing.assert_allclose(d["conf_low_90"], d["conf_low"], rtol=0, atol=0)


def test_third_condition_makes_one_panel_per_level(spec, tmp_path):
    fig = plot_predictions(spec, ["x", "z", "g"], n_points=10, points=0.3)
    _save(fig, tmp_path, "facets.png")
    assert [a.get_title() for a in fig.axes] == ["g = g0", "g = g1", "g = g2", "g = g3"]
    grid = datagrid(spec, x=list(_x_span(spec, 10)), z="unique", g="unique")
    p = predictions(spec, grid)
    for ax, g in zip(fig.axes, ["g0", "g1", "g2", "g3"]):
        lines = _by_gid(ax, "estimate")
        assert len(lines) == 3
        np.testing.assert_allclose(
            lines[1].get_ydata(), p.summary.loc[(grid["g"] == g) & (grid["z"] == "b"), "estimate"], rtol=0, atol=1e-12
        )
        (data_points,) = _by_gid(ax, "data")
        assert len(data_points.get_offsets()) == (spec.data["g"] == g).sum()
    assert all(a.get_xlabel() == "x" for a in fig.axes[2:])
    # a numeric facet variable: Tukey's five numbers, one panel each
    fig = plot_predictions(spec, ["z", "g", "x"], re_formula="NA")
    assert len(fig.axes) == 5


def test_spaghetti_draws_posterior_draws_reproducibly(spec, tmp_path):
    fig = plot_predictions(spec, "x", re_formula="NA", n_points=12, spaghetti=7, seed=3)
    _save(fig, tmp_path, "spaghetti.png")
    p = predictions(spec, datagrid(spec, x=list(_x_span(spec, 12))), re_formula="NA")
    lines = _by_gid(fig.axes[0], "draw")
    assert len(lines) == 7
    assert "400" not in fig._supxlabel.get_text() and "thin lines: 7 of them" in fig._supxlabel.get_text()
    ys = np.array([line.get_ydata() for line in lines])
    cols = [int(np.flatnonzero(np.all(np.abs(p.draws - y[:, None]) < 1e-12, axis=0))[0]) for y in ys]
    assert len(set(cols)) == 7
    again = plot_predictions(spec, "x", re_formula="NA", n_points=12, spaghetti=7, seed=3)
    np.testing.assert_array_equal(ys, [line.get_ydata() for line in _by_gid(again.axes[0], "draw")])


def test_by_plots_the_averaged_groups(spec, tmp_path):
    fig = plot_predictions(spec, by="z")
    _save(fig, tmp_path, "by.png")
    a = avg_predictions(spec, by="z")
    (points,) = _by_gid(fig.axes[0], "estimate")
    np.testing.assert_allclose(points.get_ydata(), a.summary["estimate"], rtol=0, atol=1e-12)
    assert fig.axes[0].get_xlabel() == "z"


def test_comparisons_get_a_panel_per_contrast(spec, tmp_path):
    fig = plot_comparisons(spec, "z", condition="x", re_formula="NA", n_points=10)
    _save(fig, tmp_path, "comparisons.png")
    c = comparisons(spec, "z", newdata=datagrid(spec, x=list(_x_span(spec, 10))), re_formula="NA")
    assert [a.get_title() for a in fig.axes] == ["z: b - a", "z: c - a"]
    for ax, contrast in zip(fig.axes, ["b - a", "c - a"]):
        (line,) = _by_gid(ax, "estimate")
        np.testing.assert_allclose(
            line.get_ydata(), c.summary.loc[c.summary["contrast"] == contrast, "estimate"], rtol=0, atol=1e-12
        )
    assert "difference" in fig.axes[0].get_ylabel() and fig.axes[0].get_ylabel().startswith("y:")
    # one contrast: the y label names it
    fig = plot_comparisons(spec, {"z": ["a", "b"]}, condition="x", re_formula="NA", n_points=5, comparison="ratio")
    assert fig.axes[0].get_ylabel() == "y: z b / a (ratio)"


def test_slopes_against_x_and_colour(spec, tmp_path):
    fig = plot_slopes(spec, "x", condition=["x", "z"], re_formula="NA", n_points=10)
    _save(fig, tmp_path, "slopes.png")
    grid = datagrid(spec, x=list(_x_span(spec, 10)), z="unique")
    s = slopes(spec, "x", newdata=grid, re_formula="NA")
    lines = _by_gid(fig.axes[0], "estimate")
    np.testing.assert_allclose(lines[2].get_ydata(), s.summary.loc[grid["z"] == "c", "estimate"], rtol=0, atol=1e-12)
    assert fig.axes[0].get_ylabel() == "dy/dx"
    assert fig.axes[0].get_xlabel() == "x"
    assert _legend(fig)[0] == "z"


def test_categorical_family_group_becomes_colour_or_facet(ordinal_spec, tmp_path):
    fig = plot_predictions(ordinal_spec, "x", n_points=8)
    _save(fig, tmp_path, "ordinal.png")
    assert _legend(fig) == ("r category", ["low", "mid", "high"])
    p = predictions(ordinal_spec, datagrid(ordinal_spec, x=list(_x_span(ordinal_spec, 8))))
    lines = _by_gid(fig.axes[0], "estimate")
    np.testing.assert_allclose(
        lines[1].get_ydata(), p.summary.loc[p.summary["group"] == "mid", "estimate"], rtol=0, atol=1e-12
    )
    assert fig.axes[0].get_ylabel() == "probability of each r category"
    fig = plot_predictions(ordinal_spec, ["x", "z"], n_points=8)
    assert [a.get_title() for a in fig.axes] == ["r = low", "r = mid", "r = high"]
    assert _legend(fig)[1] == ["a", "b", "c"]


def test_draws_into_a_given_axes_with_the_intervals_in_the_legend(spec):
    fig, ax = plt.subplots()
    out = plot_predictions(spec, ["x", "z"], re_formula="NA", n_points=5, ax=ax)
    assert out is fig and fig.axes == [ax]
    title, labels = _legend(fig)
    assert title == "z" and labels == ["a", "b", "c", "median", "66% interval", "95% interval"]


def test_example_fit_passes_random_effect_arguments_through(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mixeff.example_fit()
        kw = dict(allow_new_levels=True, sample_new_levels="integrate")
        cond = {"TX": [0, 1], "cluster": mixeff.new_levels(1)}
        fig = plot_predictions(fit, cond, **kw)
        p = predictions(fit, datagrid(fit, **cond), **kw)
        fig2 = plot_comparisons(fit, "TX", condition="cluster")
    _save(fig, tmp_path, "integrate.png")
    (points,) = _by_gid(fig.axes[0], "estimate")
    np.testing.assert_allclose(points.get_ydata(), p.summary["estimate"], rtol=0, atol=1e-12)
    assert "integrated over new levels of cluster" in fig._supxlabel.get_text()
    assert len(fig2.axes[0].get_xticklabels()) == 20
    assert _by_gid(fig2.axes[0], "reference")  # a dotted line at 0, no effect


def test_long_category_labels_are_rotated():
    from mixeff.plots.conditional import _discrete_ticks

    fig, ax = plt.subplots(figsize=(6.4, 4))
    _discrete_ticks(ax, [f"a rather long level name {i}" for i in range(6)])
    assert ax.get_xticklabels()[0].get_rotation() == 40
    fig, ax = plt.subplots(figsize=(6.4, 4))
    _discrete_ticks(ax, ["a", "b", "c"])
    assert ax.get_xticklabels()[0].get_rotation() == 0


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(condition="nope"), ValueError, r"condition='nope': 'nope' is not a predictor of the model"),
        (dict(condition="y"), ValueError, r"'y' is the response"),
        (dict(condition=["x", "z", "g", "x2"]), ValueError, r"names 4 variables; at most 3"),
        (dict(condition="x", by="z"), ValueError, r"both given.*not both"),
        (dict(), ValueError, r"give condition="),
        (dict(condition="z", spaghetti=5), ValueError, r"spaghetti=5 .* x='z' is categorical"),
        (
            dict(condition="x", spaghetti=2.5),
            TypeError,
            r"spaghetti=2.5: spaghetti must be an int >= 0 \(posterior draws drawn as lines",
        ),
        (dict(condition="x", spaghetti=10**6), ValueError, r"only 300 draws"),
        (dict(condition={"z": ["a", "zz"]}), ValueError, r"'z' has no level\(s\) \['zz'\] in the data"),
        (dict(condition={"z": "fivenum"}), ValueError, r"'fivenum' summarises a numeric variable"),
        (dict(condition="x", levels=(0.5, 1.2)), ValueError, r"1.2 is not an interval level"),
        (dict(condition=["x", "z", "g"], ax="new"), ValueError, r"4 panels .* ax= holds one"),
        (dict(condition=3), TypeError, r"condition=3 must be a predictor name"),
        (dict(by=["x", "z", "g", "y"]), ValueError, r"by=.* names 4 columns"),
        (dict(condition="x", points=2), ValueError, r"points=2 must be in \[0, 1\]"),
        (dict(condition="x", n_points=1), ValueError, r"n_points=1: n_points must be an int >= 2"),
        (dict(condition="x", newdata=[1]), TypeError, r"newdata must be a pandas DataFrame"),
    ],
)
def test_bad_arguments_raise_naming_the_argument_and_the_fix(spec, kwargs, error, words):
    if kwargs.get("ax") == "new":
        kwargs = dict(kwargs, ax=plt.subplots()[1])
    with pytest.raises(error, match=words):
        plot_predictions(spec, **kwargs)


def test_comparisons_and_slopes_refuse_the_same_way(spec):
    with pytest.raises(ValueError, match="not both"):
        plot_comparisons(spec, "z", condition="x", by="z")
    with pytest.raises(ValueError, match="not a predictor"):
        plot_slopes(spec, "x", condition="w")
    with pytest.raises(ValueError, match="spaghetti=3 .* x='z' is categorical"):
        plot_comparisons(spec, "x", by="z", spaghetti=3)


def test_newdata_is_the_data_of_the_grid_or_the_rows_averaged(spec):
    sub = spec.data[spec.data["z"] != "c"]
    d = plot_predictions(spec, ["x", "z"], newdata=sub, n_points=4, re_formula="NA", draw=False)
    assert d["z"].unique().tolist() == ["a", "b"]
    np.testing.assert_allclose(d["x"].unique(), np.linspace(sub["x"].min(), sub["x"].max(), 4))
    cf = datagrid(spec, z=["a", "b"], grid_type="counterfactual")
    d = plot_predictions(spec, by="z", newdata=cf, draw=False)
    pd.testing.assert_frame_equal(d[["z", "estimate"]], avg_predictions(spec, cf, by="z").summary[["z", "estimate"]])


def test_plot_comparisons_refuses_a_comparison_of_one_value_per_draw(xzg_spec):
    with pytest.raises(
        ValueError, match=r"plot_comparisons: comparison= is a function that returns one value per draw"
    ):
        plot_comparisons(xzg_spec, "x", condition="z", comparison=lambda hi, lo: (hi - lo).mean(axis=0))
