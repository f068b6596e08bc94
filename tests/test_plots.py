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

from mixeff.plots.density import kde  # noqa: E402
from mixeff.plots import plot_draws, plot_estimates, plot_prior_posterior  # noqa: E402
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
    assert ax.get_xlabel() == "predictions (posterior draws)"
    _save(fig, tmp_path, "rows.png")


def test_plot_draws_overlays_groups_with_a_legend(tmp_path):
    grid = {"cluster": ["a", "a", "b", "b"], "TX": [0, 1, 0, 1]}
    r = _result(grid, RNG.normal([[0.0], [1.0], [0.5], [1.5]], 0.3, (4, 400)), source="prior")
    fig = plot_draws(r, group="TX")
    ax = fig.axes[0]
    assert len(_slabs(ax)) == 4
    assert _ticklabels(ax.yaxis) == ["b", "a"]  # positions are the other column
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["TX = 0", "TX = 1"]
    colors = {tuple(np.round(s.get_facecolor()[0][:3], 3)) for s in _slabs(ax)}
    assert len(colors) == 2
    assert ax.get_xlabel() == "predictions (prior draws)"
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
    assert ax.get_xlabel() == "comparisons (posterior draws)"
    r = _result({**grid, "gender": ["Man", "Woman"]}, RNG.normal(size=(2, 200)))
    ax = plot_estimates(r, sort=False).axes[0]
    assert _ticklabels(ax.yaxis) == ["state=TX, gender=Woman", "state=CA, gender=Man"]
    one = _result({"term": ["military"], "contrast": ["1 - 0"]}, RNG.normal(size=(1, 200)))
    assert _ticklabels(plot_estimates(one).axes[0].yaxis) == ["term=military, contrast=1 - 0"]


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
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["prior", "posterior"]
    _save(fig, tmp_path, "facets.png")


def test_plot_prior_posterior_stacked_and_custom_labels(tmp_path):
    prior, post = _prior_post(8)
    fig = plot_prior_posterior(prior, post, labels=("Vague", "Informative"))
    (ax,) = fig.axes  # more than 6 rows: stacked in one axes
    assert len(_slabs(ax)) == 16
    assert _ticklabels(ax.yaxis) == ["V", "W", "Z", "Y", "X", "Other", "Woman", "Man"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Vague", "Informative"]
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
