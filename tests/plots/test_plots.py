"""mixeff.plots: densities (kde), half-eyes, sorted point-intervals, prior vs posterior.

Results are built from known draws, so every assertion can be checked by hand.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from mixeff.plots import plot_draws, plot_estimates, plot_prior_posterior  # noqa: E402
from mixeff.plots.density import kde  # noqa: E402
from mixeff.results import Result  # noqa: E402

RNG = np.random.default_rng(20240611)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _result(grid, draws, source="posterior", kind="predictions"):
    draws = np.asarray(draws, dtype=float)
    return Result(pd.DataFrame(grid), draws, 1, draws.shape[1], source=source, kind=kind)


def _slabs(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def _ticklabels(axis):
    return [t.get_text() for t in axis.get_ticklabels()]


def _save(fig, tmp_path, name):
    path = tmp_path / name
    fig.savefig(path, dpi=80)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 3000
    return path


@pytest.fixture
def states():
    """48 'states' whose true centres are known, draws of a probability."""
    names = [f"S{i:02d}" for i in range(48)]
    centre = RNG.uniform(0.3, 0.5, 48)
    draws = np.clip(centre[:, None] + RNG.normal(0, 0.02, (48, 800)), 0, 1)
    return _result({"state": names}, draws), names, centre


# --------------------------------------------------------------------------- #
# kde
# --------------------------------------------------------------------------- #


def test_kde_recovers_known_densities():
    from scipy import stats

    n = 20000
    x = np.vstack([RNG.normal(0, 1, n), RNG.gamma(2.0, 3.0, n), RNG.normal(5, 0.01, n)])
    truth = [stats.norm(0, 1), stats.gamma(2.0, scale=3.0), stats.norm(5, 0.01)]
    grid, dens = kde(x, points=512)
    for i, dist in enumerate(truth):
        ref = dist.pdf(grid[i])
        # sampling noise at n = 20000 is ~2% of the peak; boundary bias of the gamma at 0 is excluded
        inner = grid[i] > dist.ppf(0.01)
        assert np.max(np.abs(dens[i] - ref)[inner]) < 0.06 * ref.max()
        assert abs(np.trapezoid(dens[i], grid[i]) - 1) < 0.01


def test_kde_reflects_at_bounds():
    u = RNG.uniform(0, 1, (1, 20000))
    grid, dens = kde(u, bounds=(0, 1))
    assert grid.min() > 0 and grid.max() < 1
    assert abs(np.trapezoid(dens[0], grid[0]) - 1) < 0.01
    # without reflection the density would halve at the edges
    assert dens[0, :5].mean() > 0.85 and dens[0, -5:].mean() > 0.85
    _, free = kde(u)
    assert free[0].max() < 1.2


def test_kde_handles_constant_rows_and_checks_inputs():
    grid, dens = kde(np.full((1, 100), 0.5))
    assert np.all(np.isfinite(dens)) and grid[0, np.argmax(dens[0])] == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError, match="NaN or infinite"):
        kde(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="outside bounds"):
        kde(np.array([[0.5, 1.5]]), bounds=(0, 1))
    with pytest.raises(ValueError, match="lo < hi"):
        kde(np.array([[0.5, 0.6]]), bounds=(1, 0))


# --------------------------------------------------------------------------- #
# plot_draws
# --------------------------------------------------------------------------- #


def test_plot_draws_one_halfeye_per_row(tmp_path):
    r = _result({"TX": [0, 1, 2]}, RNG.normal([[0.0], [2.0], [4.0]], 0.5, (3, 500)))
    fig = plot_draws(r)
    (ax,) = fig.axes
    assert len(_slabs(ax)) == 3
    assert _ticklabels(ax.yaxis) == ["2", "1", "0"]  # bottom to top: the first row is on top
    # per slab: a median point and two interval bars (66% thick, 95% thin)
    points = [line for line in ax.lines if line.get_marker() == "o"]
    bars = [line for line in ax.lines if len(line.get_xdata()) == 2 and line.get_marker() != "o"]
    assert len(points) == 3 and len(bars) == 6
    med = sorted(float(p.get_xdata()[0]) for p in points)
    np.testing.assert_allclose(med, np.median(r.draws, axis=1), atol=1e-12)
    widths = sorted({line.get_linewidth() for line in bars})
    assert len(widths) == 2
    thick = [b for b in bars if b.get_linewidth() == widths[1]]
    # the thick bar is the 66% interval of its row
    lo, hi = np.quantile(r.draws[0], [0.17, 0.83])
    assert any(np.allclose(b.get_xdata(), [lo, hi]) for b in thick)
    assert ax.get_xlabel() == "predicted response (expected value), posterior draws"
    assert ax.get_ylabel() == "TX"
    _save(fig, tmp_path, "rows.png")


def test_plot_draws_overlays_groups_with_a_legend(tmp_path):
    grid = {"cluster": ["a", "a", "b", "b"], "TX": [0, 1, 0, 1]}
    r = _result(grid, RNG.normal([[0.0], [1.0], [0.5], [1.5]], 0.3, (4, 400)), source="prior")
    fig = plot_draws(r, group="TX")
    ax = fig.axes[0]
    assert len(_slabs(ax)) == 4
    assert _ticklabels(ax.yaxis) == ["b", "a"]  # positions are the other column
    assert ax.get_ylabel() == "cluster"
    # the legend sits outside the axes (as the conditional plots'), where it covers no slab
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["TX = 0", "TX = 1"]
    colors = {tuple(np.round(s.get_facecolor()[0][:3], 3)) for s in _slabs(ax)}
    assert len(colors) == 2
    assert ax.get_xlabel() == "predicted response (expected value), prior draws"
    _save(fig, tmp_path, "groups.png")


def test_plot_draws_sorted_states_like_the_seed_figure(states, tmp_path):
    r, names, centre = states
    fig = plot_draws(r, label="state", sort=True, bounds=(0, 1))
    ax = fig.axes[0]
    assert len(_slabs(ax)) == 48
    order = np.argsort(np.median(r.draws, axis=1), kind="stable")
    assert _ticklabels(ax.yaxis) == [names[i] for i in order]  # lowest at the bottom
    _save(fig, tmp_path, "states_halfeye.png")


def test_plot_draws_into_existing_axes_and_errors():
    r = _result({"TX": [0, 1]}, RNG.normal(size=(2, 300)))
    fig, (a1, a2) = plt.subplots(1, 2)
    out = plot_draws(r, ax=a2)
    assert out is fig and len(_slabs(a2)) == 2 and len(_slabs(a1)) == 0
    with pytest.raises(ValueError, match="group='nope' is not a column"):
        plot_draws(r, group="nope")
    with pytest.raises(ValueError, match="label='nope'"):
        plot_draws(r, label="nope")
    with pytest.raises(ValueError, match="must be a mixeff Result"):
        plot_draws(r.draws)
    with pytest.raises(ValueError, match="normalize"):
        plot_draws(r, normalize="max")


def test_plot_draws_of_an_overall_average_has_no_tick_labels():
    r = Result(pd.DataFrame(index=[0]), RNG.normal(size=(1, 300)), 1, 300)  # avg_* with by=True
    ax = plot_draws(r).axes[0]
    assert len(_slabs(ax)) == 1 and _ticklabels(ax.yaxis) == []


# --------------------------------------------------------------------------- #
# plot_estimates
# --------------------------------------------------------------------------- #


def test_plot_estimates_sorted_by_estimate(states, tmp_path):
    r, names, centre = states
    fig = plot_estimates(r, label="state", ref=0.4)
    ax = fig.axes[0]
    est = r.summary["estimate"].to_numpy()
    expected = [names[i] for i in np.argsort(est, kind="stable")]
    assert _ticklabels(ax.yaxis) == expected
    # point markers sit at the estimates, bottom to top in increasing order
    (points,) = [line for line in ax.lines if line.get_marker() == "o"]
    np.testing.assert_allclose(points.get_xdata(), np.sort(est))
    assert np.all(np.diff(points.get_xdata()) >= 0)
    (bars,) = [c for c in ax.collections]
    segs = bars.get_segments()
    assert len(segs) == 48
    lo = r.summary["conf_low"].to_numpy()[np.argsort(est, kind="stable")]
    np.testing.assert_allclose([s[0][0] for s in segs], lo)
    assert any(line.get_linestyle() == ":" for line in ax.lines)  # the reference line
    _save(fig, tmp_path, "states_estimates.png")


def test_plot_estimates_unsorted_vertical_and_conf_level(states):
    r, names, _ = states
    ax = plot_estimates(r, sort=False, label="state").axes[0]
    assert _ticklabels(ax.yaxis) == names[::-1]  # first row on top
    ax = plot_estimates(r, label="state", orientation="vertical").axes[0]
    labels = ax.get_xticklabels()
    assert [t.get_text() for t in labels] == [names[i] for i in np.argsort(r.summary["estimate"], kind="stable")]
    assert labels[0].get_rotation() == 90
    # a narrower level gives shorter bars
    wide = plot_estimates(r).axes[0].collections[0].get_segments()
    narrow = plot_estimates(r, conf_level=0.5).axes[0].collections[0].get_segments()
    assert all(np.ptp(n[:, 0]) < np.ptp(w[:, 0]) for n, w in zip(narrow, wide))
    with pytest.raises(ValueError, match="orientation"):
        plot_estimates(r, orientation="diagonal")


def test_plot_estimates_default_labels_are_the_varying_grid_columns():
    grid = {"state": ["CA", "TX"], "contrast": ["Woman - Man"] * 2, "age": ["18-29"] * 2}
    r = _result(grid, RNG.normal(size=(2, 200)), kind="comparisons")
    ax = plot_estimates(r, sort=False).axes[0]
    assert _ticklabels(ax.yaxis) == ["TX", "CA"]  # held-constant datagrid columns are left out
    assert ax.get_ylabel() == "state"
    assert ax.get_xlabel() == "comparisons, posterior draws"  # no term/contrast columns: the kind
    r = _result({**grid, "gender": ["Man", "Woman"]}, RNG.normal(size=(2, 200)))
    ax = plot_estimates(r, sort=False).axes[0]
    assert _ticklabels(ax.yaxis) == ["TX, Woman", "CA, Man"]  # the axis label names the columns
    assert ax.get_ylabel() == "state, gender"
    # a single row: its term and contrast name the x axis, not a tick
    one = _result({"term": ["military"], "contrast": ["1 - 0"]}, RNG.normal(size=(1, 200)), kind="comparisons")
    ax = plot_estimates(one).axes[0]
    assert _ticklabels(ax.yaxis) == [] and ax.get_ylabel() == ""
    assert ax.get_xlabel() == "military 1 - 0 (difference), posterior draws"


# --------------------------------------------------------------------------- #
# plot_prior_posterior
# --------------------------------------------------------------------------- #


def _prior_post(n_rows=2):
    grid = {"gender": ["Man", "Woman", "Other", "X", "Y", "Z", "W", "V"][:n_rows]}
    prior = _result(grid, RNG.beta(1.2, 1.2, (n_rows, 1000)), source="prior")
    post = _result(grid, np.clip(RNG.normal(0.42, 0.02, (n_rows, 600)), 0, 1))
    return prior, post


def test_plot_prior_posterior_facets(tmp_path):
    prior, post = _prior_post()
    fig = plot_prior_posterior(prior, post, label="gender", bounds=(0, 1))
    assert len(fig.axes) == 2
    assert [a.get_title() for a in fig.axes] == ["gender = Man", "gender = Woman"]
    for a in fig.axes:
        slabs = _slabs(a)
        assert len(slabs) == 2  # prior and posterior overlaid
        # where each slab is above half its height: the posterior's is narrow around 0.42
        half = []
        for s in slabs:
            v = s.get_paths()[0].vertices
            half.append(v[v[:, 1] > 0.5 * v[:, 1].max(), 0])
        assert np.ptp(half[0]) > 0.6  # the prior's Beta(1.2, 1.2) is wide
        assert np.ptp(half[1]) < 0.1 and 0.38 < half[1].mean() < 0.46
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["prior", "posterior"]
    _save(fig, tmp_path, "facets.png")


def test_plot_prior_posterior_stacked_and_custom_labels(tmp_path):
    prior, post = _prior_post(8)
    fig = plot_prior_posterior(prior, post, labels=("Vague", "Informative"))
    (ax,) = fig.axes  # more than 6 rows: stacked in one axes
    assert len(_slabs(ax)) == 16
    assert _ticklabels(ax.yaxis) == ["V", "W", "Z", "Y", "X", "Other", "Woman", "Man"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Vague", "Informative"]
    assert ax.get_ylabel() == "gender"
    _save(fig, tmp_path, "stacked.png")
    fig2, ax2 = plt.subplots()
    assert plot_prior_posterior(prior, post, ax=ax2) is fig2


def test_plot_prior_posterior_rejects_mismatched_results():
    prior, post = _prior_post()
    other = _result({"gender": ["Woman", "Man"]}, post.draws)
    with pytest.raises(ValueError, match="different rows"):
        plot_prior_posterior(prior, other)
    with pytest.raises(ValueError, match="labels="):
        plot_prior_posterior(prior, post, labels=("a",))
    with pytest.raises(ValueError, match="prior_result must be a mixeff Result"):
        plot_prior_posterior(prior.draws, post)


# --------------------------------------------------------------------------- #
# defaults that need no manual fixes (issue 15)
# --------------------------------------------------------------------------- #


def _caption(fig):
    return fig._supxlabel.get_text().replace("\n", " ")


def _bars(ax):
    """Interval bars: two-point horizontal lines, by line width (thick first)."""
    return [line for line in ax.lines if len(line.get_xdata()) == 2 and line.get_marker() in ("None", "", None)]


def _points(ax):
    return [line for line in ax.lines if line.get_marker() == "o"]


@pytest.fixture(scope="module")
def bernoulli_spec():
    """Bernoulli y ~ x + z + (1 | g) from known draws (no sampling), as tests/verbs/test_verbs_parity.py's."""
    import mixeff

    rng = np.random.default_rng(7)
    n, s = 120, 300
    data = pd.DataFrame(
        {
            "x": rng.uniform(-3, 3, n),
            "z": rng.choice(["a", "b", "c"], n),
            "g": np.repeat([f"g{i}" for i in range(4)], n // 4),
        }
    )
    data["y"] = (rng.random(n) < 0.5).astype(int)
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(-0.5, 0.2, s),
            "b_x": rng.normal(0.9, 0.1, s),
            "b_zb": rng.normal(1.0, 0.25, s),
            "b_zc": rng.normal(-0.7, 0.25, s),
            "sd_g__Intercept": rng.gamma(10, 0.05, s),
        }
    )
    for i in range(4):
        draws[f"r_g[g{i},Intercept]"] = rng.normal(0.5 * (i - 1.5), 0.3, s)
    return mixeff.from_brms_draws(draws, formula="y ~ x + z + (1 | g)", data=data, family="bernoulli")


# 1. variable names on the axes ------------------------------------------------


def test_axis_labels_name_the_quantity_the_draws_and_the_row_columns():
    r = _result({"TX": [0, 1], "cluster": ["1", "1"]}, RNG.normal(size=(2, 300)))
    r = r.replace(response="y")  # a result that records its response names it
    ax = plot_draws(r).axes[0]
    assert ax.get_xlabel() == "predicted y (expected value), posterior draws"
    assert ax.get_ylabel() == "TX"
    link = Result(r.grid, r.draws, 1, 300, type="link")
    assert plot_draws(link).axes[0].get_xlabel() == "predicted response (link scale), posterior draws"
    cmp = _result({"term": ["TX"], "contrast": ["1 - 0"]}, RNG.normal(size=(1, 300)), kind="comparisons")
    cmp = cmp.replace(response="y")
    ax = plot_draws(cmp).axes[0]
    assert ax.get_xlabel() == "y: TX 1 - 0 (difference), posterior draws"
    ratio = _result(
        {"term": ["TX"] * 2, "contrast": ["1 / 0"] * 2, "g": ["a", "b"]},
        RNG.normal(2, 0.1, (2, 300)),
        kind="comparisons",
    )
    ax = plot_estimates(ratio).axes[0]
    assert ax.get_xlabel() == "TX 1 / 0 (ratio), posterior draws"
    assert ax.get_ylabel() == "g (sorted by median)" and sorted(_ticklabels(ax.yaxis)) == ["a", "b"]
    slope = _result({"term": ["Days"], "contrast": ["dY/dX"]}, RNG.normal(size=(1, 300)), kind="slopes")
    slope = slope.replace(response="Reaction")
    assert plot_draws(slope).axes[0].get_xlabel() == "dReaction/dDays, posterior draws"
    # stacked results of several kinds keep their kind's name; xlabel= still overrides
    assert plot_draws(r, xlabel="Gambling losses ($)").axes[0].get_xlabel() == "Gambling losses ($)"


# 2. no meaningless tick labels ------------------------------------------------


def test_constant_columns_label_no_rows(bernoulli_spec):
    import mixeff

    # re_formula="NA" at the modal cluster: g (and z) are the same in every row
    p = mixeff.predictions(bernoulli_spec, mixeff.datagrid(bernoulli_spec, x=[-1, 1]), re_formula="NA")
    assert p.grid["g"].nunique() == 1 and p.grid["z"].nunique() == 1
    fig = plot_draws(p, group="x")
    ax = fig.axes[0]
    assert len(_slabs(ax)) == 2
    assert _ticklabels(ax.yaxis) == [] and ax.get_ylabel() == ""  # one position: nothing to tell apart
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["x = -1", "x = 1"]
    ax = plot_draws(p).axes[0]
    assert _ticklabels(ax.yaxis) == ["1", "-1"] and ax.get_ylabel() == "x"  # not "x=-1, z=a, g=g0"
    one = mixeff.predictions(bernoulli_spec, mixeff.datagrid(bernoulli_spec, x=1), re_formula="NA")
    for fig in (plot_draws(one), plot_estimates(one), plot_draws(one, group="x")):
        ax = fig.axes[0]
        assert _ticklabels(ax.yaxis) == [] and list(ax.get_yticks()) == [] and ax.get_ylabel() == ""
    # an explicit label= is kept, even a constant one
    assert _ticklabels(plot_draws(p, label="g").axes[0].yaxis) == ["g0 [1]", "g0 [0]"]


def test_rows_with_identical_grids_are_numbered():
    r = _result({"g": ["a", "a"]}, RNG.normal(size=(2, 200)))
    ax = plot_draws(r).axes[0]
    assert _ticklabels(ax.yaxis) == ["row 2", "row 1"] and len(_slabs(ax)) == 2


# 3. x range: the bulk of the draws, every interval bar ---------------------------


def test_x_range_is_the_bulk_not_the_wildest_draw():
    draws = RNG.normal(np.arange(4)[:, None], 0.5, (4, 2000))
    draws[2, 5] = 1e3  # one wild draw
    r = _result({"g": list("abcd")}, draws)
    ax = plot_draws(r, normalize="each").axes[0]
    lo, hi = ax.get_xlim()
    q_lo, q_hi = np.quantile(draws, [0.005, 0.995])
    assert q_lo - 0.2 * (q_hi - q_lo) < lo <= q_lo and q_hi <= hi < q_hi + 0.2 * (q_hi - q_lo)
    for bar in _bars(ax):  # every interval bar is fully visible
        assert lo <= min(bar.get_xdata()) and max(bar.get_xdata()) <= hi
    # the densities are estimated where they are shown: the wild draw leaves the row's slab smooth
    wild = _slabs(ax)[2].get_paths()[0].vertices
    shown = wild[(wild[:, 0] > 1) & (wild[:, 0] < 3), 0]
    assert len(np.unique(shown)) > 100
    assert wild[:, 0].max() < hi + 0.1 * (hi - lo)
    # trim=0 shows every draw
    assert plot_draws(r, trim=0).axes[0].get_xlim()[1] > 1e3


def test_x_range_keeps_wide_interval_bars():
    # one wide row among narrow ones: its 95% bar lies beyond the pooled 0.5%/99.5% quantiles
    draws = np.vstack([RNG.normal(0, 0.1, (30, 1000)), RNG.normal(0, 20, (1, 1000))])
    r = _result({"g": [f"r{i}" for i in range(31)]}, draws)
    for ax in (plot_draws(r).axes[0], plot_prior_posterior(r, r, facets=False).axes[0]):
        lo, hi = ax.get_xlim()
        ends = np.quantile(draws[30], [0.025, 0.975])
        assert lo <= ends[0] and ends[1] <= hi


def test_heavy_tailed_positive_draws_go_on_a_log_axis():
    prior = _result({"TX": [0, 1]}, np.exp(RNG.normal(0, 4, (2, 1000))), source="prior")
    post = _result({"TX": [0, 1]}, np.exp(RNG.normal(6, 0.1, (2, 1000))))
    for fig in (plot_draws(prior), plot_prior_posterior(prior, post)):
        assert all(a.get_xscale() == "log" for a in fig.axes)
    assert plot_draws(post).axes[0].get_xscale() == "linear"
    assert plot_draws(prior, xscale="linear").axes[0].get_xscale() == "linear"
    with pytest.raises(ValueError, match="xscale"):
        plot_draws(prior, xscale="sqrt")


# 4. probabilities are bounded to [0, 1] ------------------------------------------


def _kde_bounds(monkeypatch):
    import mixeff.plots.halfeye as halfeye

    seen = []

    def spy(draws, **kw):
        seen.append(kw.get("bounds"))
        return kde(draws, **kw)

    monkeypatch.setattr(halfeye, "kde", spy)
    return seen


def test_probabilities_get_bounds_0_1(monkeypatch, bernoulli_spec):
    import mixeff

    seen = _kde_bounds(monkeypatch)
    p = mixeff.predictions(bernoulli_spec, mixeff.datagrid(bernoulli_spec, x=[-3, 3]))
    assert p.type == "response" and p.draws.min() >= 0 and p.draws.max() <= 1
    plot_draws(p)
    assert seen == [(0.0, 1.0)]
    link = mixeff.predictions(bernoulli_spec, mixeff.datagrid(bernoulli_spec, x=[-3, 3]), type="link")
    plot_draws(link)
    cmp = mixeff.comparisons(bernoulli_spec, "z", newdata=mixeff.datagrid(bernoulli_spec))
    plot_draws(cmp)  # risk differences are not probabilities
    plot_draws(p, bounds=False)
    plot_draws(p, bounds=(0, 2))
    assert seen[1:] == [None, None, None, (0, 2)]


def test_kde_of_probabilities_puts_no_mass_outside_0_1():
    near0, near1 = RNG.beta(0.7, 12, 4000), RNG.beta(12, 0.7, 4000)
    r = _result({"p": ["low", "high"]}, np.vstack([near0, near1]))
    ax = plot_draws(r, normalize="each").axes[0]
    low, high = (s.get_paths()[0].vertices for s in _slabs(ax))
    assert low[:, 0].min() >= 0 and high[:, 0].max() <= 1
    # reflected at the bound: the density of Beta(0.7, 12) is highest at 0, not halved there
    y0 = low[:, 1].min()
    edge = low[(low[:, 0] < 0.003) & (low[:, 1] > y0)]
    assert edge[:, 1].max() - y0 > 0.8 * (low[:, 1].max() - y0)
    free = plot_draws(r, normalize="each", bounds=False).axes[0]
    high_free = _slabs(free)[1].get_paths()[0].vertices
    assert high_free[:, 0].max() > 1  # without bounds the KDE spills over 1
    # prior vs posterior of a probability: both bounded
    prior, post = _prior_post()
    fig = plot_prior_posterior(prior, post)
    for a in fig.axes:
        for s in _slabs(a):
            v = s.get_paths()[0].vertices
            assert v[:, 0].min() >= 0 and v[:, 0].max() <= 1


# 5. ridgelines: slabs stay clear of the next row's interval bars --------------------


def _rows_of_slabs(ax):
    """(baseline, top) of each slab polygon."""
    out = []
    for s in _slabs(ax):
        v = s.get_paths()[0].vertices
        out.append((v[:, 1].min(), v[:, 1].max()))
    return out


@pytest.mark.parametrize("normalize", [None, "each"])
def test_ridgeline_slabs_stay_below_the_next_rows_bars(normalize, tmp_path):
    draws = RNG.normal(np.linspace(0, 2, 10)[:, None], 0.3, (10, 1000))
    r = _result({"state": [f"S{i}" for i in range(10)]}, draws)
    fig = plot_draws(r, normalize=normalize)
    ax = fig.axes[0]
    slabs = _rows_of_slabs(ax)
    assert len(slabs) == 10
    bar_y = {}
    for bar in _bars(ax):
        y = bar.get_ydata()[0]
        bar_y.setdefault(round(y), []).append(y)
    # points per data unit, to turn the thick bar's line width into a height
    fig.canvas.draw()
    per_unit = ax.get_window_extent().height / np.ptp(ax.get_ylim()) * 72 / fig.dpi
    half_bar = max(b.get_linewidth() for b in _bars(ax)) / 2 / per_unit
    for base, top in slabs:
        nxt = base + 1
        if round(nxt) in bar_y:  # the row above
            assert top < nxt - 0.03
            assert top < min(bar_y[round(nxt)]) - half_bar
    slab_z = max(s.get_zorder() for s in _slabs(ax))
    assert all(b.get_zorder() > slab_z for b in _bars(ax) + _points(ax))  # bars are drawn over any slab
    _save(fig, tmp_path, f"ridge_{normalize}.png")


def test_groups_dodge_their_bars_below_the_baseline_and_above_the_lower_slab():
    grid = {"g": np.repeat([f"r{i}" for i in range(8)], 2), "TX": [0, 1] * 8}
    r = _result(grid, RNG.normal(np.tile([0.0, 1.0], 8)[:, None], 0.3, (16, 800)))
    ax = plot_draws(r, group="TX", normalize="each").axes[0]
    slabs = _rows_of_slabs(ax)
    bars_by_row = {}
    for bar in _bars(ax):
        y = bar.get_ydata()[0]
        bars_by_row.setdefault(int(np.ceil(y - 1e-9)), []).append(y)
    for base, top in slabs:
        row = int(round(base))
        assert all(y < base for y in bars_by_row[row])  # dodged below the own baseline
        if row + 1 in bars_by_row:
            assert top < min(bars_by_row[row + 1]) - 0.03  # and clear of the next row's lowest bar


def test_an_explicit_height_overlaps_but_keeps_bars_on_top():
    r = _result({"g": list("abcd")}, RNG.normal(size=(4, 500)))
    ax = plot_draws(r, height=1.6, normalize="each").axes[0]
    assert max(top - base for base, top in _rows_of_slabs(ax)) == pytest.approx(1.6, rel=1e-6)
    assert min(b.get_zorder() for b in _bars(ax)) > max(s.get_zorder() for s in _slabs(ax))
    with pytest.raises(ValueError, match="height"):
        plot_draws(r, height=0)


# 6. interval levels and prior vs posterior are stated ------------------------------


def test_levels_and_draws_are_stated_in_a_caption_or_legend():
    r = _result({"TX": [0, 1]}, RNG.normal(size=(2, 500)), source="prior")
    fig = plot_draws(r)
    text = _caption(fig)
    assert "66% and 95% equal-tailed intervals" in text and "500 prior draws" in text and "median" in text
    assert "prior draws" in fig.axes[0].get_xlabel()
    fig = plot_draws(r, intervals=(0.5, 0.8, 0.95), point="mean")
    assert "50%, 80% and 95% equal-tailed intervals" in _caption(fig) and "points: mean" in _caption(fig)
    assert len({b.get_linewidth() for b in _bars(fig.axes[0])}) == 3
    # drawn into a given axes: the key is a legend beside it
    f, a = plt.subplots()
    plot_draws(r, ax=a)
    assert [t.get_text() for t in a.get_legend().get_texts()] == ["median", "66% interval", "95% interval"]
    # plot_estimates: the summary's own level and interval kind
    post = _result({"TX": [0, 1]}, RNG.normal(size=(2, 400)))
    assert "95% equal-tailed interval;" in _caption(plot_estimates(post))
    assert "50% equal-tailed interval" in _caption(plot_estimates(post, conf_level=0.5))
    hdi = Result(post.grid, post.draws, 1, 400, interval="hdi")
    assert "95% highest-density interval" in _caption(plot_estimates(hdi))
    assert "400 posterior draws" in _caption(plot_estimates(post))


def test_prior_and_posterior_are_labelled():
    prior, post = _prior_post()
    for fig in (plot_prior_posterior(prior, post), plot_prior_posterior(prior, post, facets=False)):
        assert [t.get_text() for t in fig.legends[0].get_texts()] == ["prior", "posterior"]
        text = _caption(fig)
        assert "1000 prior and 600 posterior draws" in text and "66% and 95%" in text
    fig = plot_prior_posterior(prior, prior, labels=("vague", "informative"))
    assert "vague: 1000 prior draws, informative: 1000 prior draws" in _caption(fig)


# 7. style: as the conditional plots, readable at notebook width and 300 dpi ---------


def test_style_matches_the_conditional_plots():
    from mixeff.plots import common

    r = _result({"TX": [0, 1]}, RNG.normal(size=(2, 300)))
    fig = plot_draws(r)
    assert fig.get_figwidth() == pytest.approx(6.4)  # matplotlib's default, the conditional plots' width
    cap = fig._supxlabel
    assert cap.get_color() == "0.3" and cap.get_fontsize() == pytest.approx(plt.rcParams["font.size"] * 0.833, 0.01)
    (p,) = _points(fig.axes[0])[:1]
    assert p.get_markersize() == 5.5 and p.get_markeredgecolor() == "white"
    assert sorted({b.get_linewidth() for b in _bars(fig.axes[0])}) == [1.4, 4.0]  # conditional's 95% and 66%
    assert common.palette(2) == plt.rcParams["axes.prop_cycle"].by_key()["color"][:2]


@pytest.mark.slow  # renders and measures every label at 300 dpi
@pytest.mark.parametrize("n", [1, 10, 48])
def test_text_fits_at_300_dpi(n, tmp_path):
    names = [f"S{i:02d}" for i in range(n)]
    r = _result(
        {"state": names, "contrast": ["Woman - Man"] * n, "term": ["gender"] * n},
        RNG.normal(size=(n, 400)),
        kind="comparisons",
    )
    for fig in (plot_draws(r, sort=True), plot_estimates(r), plot_prior_posterior(r, r)):
        fig.savefig(tmp_path / "f.png", dpi=300)
        renderer = fig.canvas.get_renderer()
        box = fig.bbox
        texts = [fig._supxlabel] + [
            t for a in fig.axes for t in (a.xaxis.label, a.yaxis.label, *a.get_yticklabels()) if t.get_text()
        ]
        for t in texts:
            e = t.get_window_extent(renderer)
            assert e.x0 >= box.x0 - 1 and e.x1 <= box.x1 + 1, t.get_text()  # nothing cut off
        ticks = sorted(
            (t.get_window_extent(renderer) for t in fig.axes[0].get_yticklabels() if t.get_text()), key=lambda e: e.y0
        )
        assert all(lo.y1 <= hi.y0 + 1 for lo, hi in zip(ticks, ticks[1:]))  # tick labels do not overlap
        plt.close(fig)
