"""Half-eye plots (ggdist's ``stat_halfeye``): :func:`plot_draws` and :func:`plot_prior_posterior`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..results import Result, varying_columns
from .common import (
    INTERVALS, check_result, interval_bounds, new_axes, point_estimate, positions, tick_labels, x_label,
)
from .density import kde


def _finish_rows(ax, pos: dict[str, float], *, top: float, xlabel: str) -> None:
    """Row labels as y ticks (none for a single unlabelled row), the y range, the x label and grid."""
    ticks = sorted(pos.items(), key=lambda kv: kv[1])
    ax.set_yticks([p for _, p in ticks], [k for k, _ in ticks])
    if len(pos) == 1 and not ticks[0][0]:
        ax.set_yticks([])
    ax.set_ylim(-0.35, top)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)


def _halfeyes(ax, layers, *, height, normalize, intervals, point, fill_alpha):
    """Draw ``layers``: dicts with ``y`` (positions), ``draws`` (rows, S), ``color``, ``label``, ``bounds``.

    Slabs rise from their baseline ``y`` to at most ``height``; with several layers
    their interval bars are dodged just below the baseline.
    """
    dens = []
    for layer in layers:
        x, d = kde(layer["draws"], bounds=layer.get("bounds"))
        dens.append((x, d))
    if normalize == "all":
        top = max(float(d.max()) for _, d in dens) or 1.0
        scales = [np.full(d.shape[0], top) for _, d in dens]
    elif normalize == "each":
        scales = [np.where(d.max(axis=1) > 0, d.max(axis=1), 1.0) for _, d in dens]
    elif normalize == "positions":
        # one scale per slab position, shared by the layers drawn there
        tops: dict[float, float] = {}
        for layer, (_, d) in zip(layers, dens):
            for y, m in zip(layer["y"], d.max(axis=1)):
                tops[y] = max(tops.get(y, 0.0), float(m))
        scales = [np.array([tops[y] or 1.0 for y in layer["y"]]) for layer in layers]
    else:
        raise ValueError(f"normalize={normalize!r} must be 'all', 'each' or 'positions'")
    n_layers = len(layers)
    step = min(0.12, 0.3 / max(n_layers, 1)) * height
    for j, (layer, (x, d), s) in enumerate(zip(layers, dens, scales)):
        color = layer["color"]
        ys = np.asarray(layer["y"], dtype=float)
        draws = layer["draws"]
        bars = interval_bounds(draws, intervals)
        est = point_estimate(draws, point)
        offset = -step * (j + 0.6) if n_layers > 1 else -0.06 * height
        icolor = "0.15" if n_layers == 1 else color
        widths = np.linspace(1.2, 4.0, len(intervals))[::-1] if len(intervals) > 1 else [2.0]
        for i, y in enumerate(ys):
            # drop the negligible tails (e.g. of a narrow density on bounds=(0, 1))
            keep = np.flatnonzero(d[i] > 1e-3 * d[i].max())
            sl = slice(max(keep[0] - 1, 0), keep[-1] + 2) if len(keep) else slice(None)
            xi, top = x[i][sl], y + height * d[i][sl] / s[i]
            ax.fill_between(xi, y, top, color=color, alpha=fill_alpha, linewidth=0,
                            label=layer.get("label") if i == 0 else None)
            ax.plot(xi, top, color=color, linewidth=0.8, alpha=min(1.0, fill_alpha + 0.4))
            for (lo, hi), lw in zip(bars, widths):
                ax.plot([lo[i], hi[i]], [y + offset] * 2, color=icolor, linewidth=lw, solid_capstyle="butt")
            ax.plot([est[i]], [y + offset], "o", color=icolor, markersize=4.5,
                    markeredgecolor="white", markeredgewidth=0.6, zorder=3)


def plot_draws(
    result: Result,
    group: str | None = None,
    ax=None,
    *,
    label=None,
    sort: bool = False,
    intervals=INTERVALS,
    point: str = "median",
    bounds=None,
    normalize: str = "all",
    height: float = 0.9,
    alpha: float = 0.45,
    colors=None,
    xlabel: str | None = None,
    legend: bool = True,
):
    """Half-eye plot of a result's draws: density, point estimate and interval bars per row.

    Parameters
    ----------
    result : Result
        Any verb's result (its ``.draws`` are plotted).
    group : str, optional
        A grid column whose values are overlaid in one slab position, each in its own
        colour with a legend (e.g. ``"TX"``); rows are positioned by the other grid
        columns (or ``label``).  Without it every row gets its own position.
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.
    label : str or list of str, optional
        Grid column(s) naming the positions (y tick labels); default: the other
        grid columns that vary between rows, joined.
    sort : bool
        Order positions by their point estimate, the largest at the top (the seed's
        per-state figure); otherwise the first row is at the top.
    intervals : tuple of float
        Equal-tailed interval levels drawn as bars, thickest for the narrowest
        (66% and 95% as ggdist).
    point : {"median", "mean"}
    bounds : (lo, hi), optional
        Known support of the quantity, e.g. ``(0, 1)`` for probabilities: the
        density is reflected there instead of spilling over.
    normalize : {"all", "each", "positions"}
        Slab heights relative to the tallest density of the plot (ggdist's
        default), each slab's own maximum, or the tallest at each position.
    height, alpha, colors, xlabel, legend
        Slab height (in position units), fill transparency, colours of the
        ``group`` values (matplotlib's cycle by default), x-axis label (default:
        the result's kind and source, e.g. "predictions (prior draws)") and
        whether to draw the legend of ``group``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.plots import plot_draws
    >>> fit = mixeff.example_fit()
    >>> p = mixeff.predictions(fit, mixeff.datagrid(fit, TX=[0, 1]), re_formula="NA")
    >>> fig = plot_draws(p, group="TX")        # both arms in one panel, with a legend
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['TX = 0', 'TX = 1']
    >>> fig.savefig("/tmp/mixeff_plot_draws.png")
    """
    import matplotlib.pyplot as plt

    check_result(result)
    grid = result.grid
    if group is not None and group not in grid.columns:
        raise ValueError(f"group={group!r} is not a column of the result; available: {list(grid.columns)}")
    keys = tick_labels(grid, label, exclude=() if group is None else (group,))
    if group is None:
        # every row its own position (rows may share a label: keep them apart)
        keys = [k if keys.count(k) == 1 else f"{k} [{i}]" for i, k in enumerate(keys)]
    est = point_estimate(result.draws, point)
    if sort:
        order = pd.Series(est).groupby(pd.Series(keys)).mean().sort_values(kind="stable")
        pos = {k: float(i) for i, k in enumerate(order.index)}
    else:
        pos = positions(keys)
    fig, ax = new_axes(ax, len(pos))
    if group is None:
        values, rows = [None], [np.arange(len(grid))]
    else:
        codes, values = pd.factorize(grid[group], sort=True)
        rows = [np.flatnonzero(codes == j) for j in range(len(values))]
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2"])
    if colors is None:
        colors = ["0.45"] if group is None else [cycle[j % len(cycle)] for j in range(len(values))]
    elif isinstance(colors, str):
        colors = [colors]
    layers = []
    for j, (v, r) in enumerate(zip(values, rows)):
        layers.append(dict(
            y=[pos[keys[i]] for i in r], draws=result.draws[r], color=colors[j % len(colors)],
            label=None if group is None else f"{group} = {v}", bounds=bounds,
        ))
    _halfeyes(ax, layers, height=height, normalize=normalize, intervals=tuple(intervals), point=point,
              fill_alpha=alpha)
    _finish_rows(ax, pos, top=max(pos.values()) + height + 0.1, xlabel=x_label(result, xlabel))
    if group is not None and legend:
        ax.legend(title=None, frameon=False, loc="best")
    return fig


def plot_prior_posterior(
    prior_result: Result,
    posterior_result: Result,
    *,
    labels=("prior", "posterior"),
    label=None,
    facets: bool | None = None,
    ax=None,
    intervals=INTERVALS,
    bounds=None,
    colors=("0.55", "C0"),
    alpha: float = 0.45,
    normalize: str = "each",
    sharex: bool = True,
    xlabel: str | None = None,
):
    """Prior and posterior draws of the same quantity, overlaid per row.

    Parameters
    ----------
    prior_result, posterior_result : Result
        The same verb with the same arguments, computed with ``draws="prior"`` and
        ``draws="posterior"`` (e.g. from one ``sample_prior="yes"`` fit).  Their
        grids must agree; the numbers of draws may differ.  Any two results of the
        same quantity work (e.g. vague vs informative priors, the seed's figure
        11.1) -- set ``labels``.
    labels : pair of str
        Legend entries of the two results.
    label : str or list of str, optional
        Grid column(s) naming the rows (panel titles or y tick labels).
    facets : bool, optional
        One panel per row (default when there are at most 6 rows and no ``ax``),
        else every row stacked in one axes.
    ax : matplotlib Axes, optional
        Draw stacked into this axes.
    intervals, bounds, colors, alpha, xlabel
        As in :func:`plot_draws`; ``sharex`` shares the x axis between panels.
    normalize : {"each", "all", "positions"}
        Slab heights: each density scaled to its own maximum (default, so a flat
        prior stays visible next to a peaked posterior), or as in :func:`plot_draws`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mixeff.results import Result
    >>> from mixeff.plots import plot_prior_posterior
    >>> rng = np.random.default_rng(1)
    >>> grid = pd.DataFrame({"gender": ["Man", "Woman"]})
    >>> prior = Result(grid, rng.uniform(0, 1, (2, 400)), 1, 400, source="prior")
    >>> post = Result(grid, rng.normal([[0.40], [0.43]], 0.02, (2, 400)), 1, 400)
    >>> fig = plot_prior_posterior(prior, post, label="gender", bounds=(0, 1))
    >>> [a.get_title() for a in fig.axes]
    ['gender = Man', 'gender = Woman']
    >>> fig.savefig("/tmp/mixeff_plot_prior_posterior.png")
    """
    import matplotlib.pyplot as plt

    check_result(prior_result, "prior_result")
    check_result(posterior_result, "posterior_result")
    g1, g2 = prior_result.grid, posterior_result.grid
    if list(g1.columns) != list(g2.columns) or len(g1) != len(g2) or not g1.astype(str).equals(g2.astype(str)):
        raise ValueError(
            "prior_result and posterior_result describe different rows: compute both with the same verb "
            f"and arguments (grids {list(g1.columns)} with {len(g1)} rows vs {list(g2.columns)} with {len(g2)})"
        )
    if len(labels) != 2:
        raise ValueError(f"labels={labels!r} must be a pair, e.g. ('prior', 'posterior')")
    names = tick_labels(g1, label)
    n = len(names)
    if facets is None:
        facets = ax is None and n <= 6
    xl = xlabel if xlabel is not None else (
        prior_result.kind if prior_result.kind == posterior_result.kind else "estimate")
    common = dict(height=0.9, normalize=normalize, intervals=tuple(intervals), point="median", fill_alpha=alpha)
    if facets:
        if ax is not None:
            raise ValueError("facets=True draws one panel per row and cannot use ax=; pass facets=False")
        ncol = min(n, 3)
        nrow = int(np.ceil(n / ncol))
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 2.6 * nrow), sharex=sharex, squeeze=False,
                                 layout="constrained")
        axes = axes.ravel()
        for i in range(n):
            a = axes[i]
            layers = [dict(y=[0.0], draws=r.draws[i:i + 1], color=c, label=lab, bounds=bounds)
                      for r, c, lab in zip((prior_result, posterior_result), colors, labels)]
            _halfeyes(a, layers, **common)
            a.set_yticks([])
            a.set_ylim(-0.3, 1.0)
            a.set_title(_title(g1, label, i, names))
            a.set_xlabel(xl)
        for a in axes[n:]:
            fig.delaxes(a)
        axes[0].legend(frameon=False, loc="upper left", fontsize="small")
        return fig
    pos = positions([f"{k} [{i}]" if names.count(k) > 1 else k for i, k in enumerate(names)])
    keys = list(pos)
    fig, ax = new_axes(ax, n)
    layers = [dict(y=[pos[k] for k in keys], draws=r.draws, color=c, label=lab, bounds=bounds)
              for r, c, lab in zip((prior_result, posterior_result), colors, labels)]
    _halfeyes(ax, layers, **common)
    _finish_rows(ax, pos, top=max(pos.values()) + 1.0, xlabel=xl)
    ax.legend(frameon=False, loc="best")
    return fig


def _title(grid: pd.DataFrame, label, i: int, names: list[str]) -> str:
    if not len(grid.columns):
        return ""
    if label is not None:
        cols = [label] if isinstance(label, str) else list(label)
    else:
        cols = varying_columns(grid) or list(grid.columns)
    if len(cols) == 1:
        return f"{cols[0]} = {grid[cols[0]].iloc[i]}"
    return names[i]
