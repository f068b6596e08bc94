"""Half-eye plots (ggdist's ``stat_halfeye``): :func:`plot_draws` and :func:`plot_prior_posterior`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..results import Result
from .common import (
    INK,
    INTERVALS,
    POINT,
    ROW_INCHES,
    SLAB,
    TRIM,
    add_caption,
    add_key,
    auto_bounds,
    auto_log,
    check_result,
    facet_grid,
    interval_bounds,
    interval_key,
    interval_widths,
    new_axes,
    palette,
    point_estimate,
    positions,
    quantity_label,
    row_axis,
    row_axis_label,
    x_label,
    x_range,
)
from .common import (
    caption as caption_text,
)
from .density import kde

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BAR_GAP_PT = 6.0
"""Distance between the dodged interval bars of overlaid layers, in points."""

HALF_BAR_PT = 2.2
"""Half the thickest interval bar (4 points) and a hair, in points."""

AUTO_NORMALIZE = 5.0
"""``normalize=None`` scales slabs to the tallest density of the plot unless it is more than this many
times the lowest peak (a flat slab would then vanish); then to the tallest at each position."""


# --------------------------------------------------------------------------- #
# geometry and drawing
# --------------------------------------------------------------------------- #


def _geometry(ax, n_positions: int, n_layers: int, height):
    """Bar offsets below each baseline, how deep a row's bars reach, and the slab height.

    A single layer's bars sit on the baseline (as ggdist's); overlaid layers' bars are
    dodged below it, ``BAR_GAP_PT`` apart.  By default a slab rises at most 0.9 of the
    row spacing and stays clear of the next row's bars (its baseline minus their depth).
    """
    fig = ax.figure
    # the axes' height in points before the layout trims it (roughly 15%), over the y span
    axes_pt = max(ax.get_position().height * fig.get_figheight() * 72 * 0.85, 1.0)
    per_pt = (n_positions + 0.5) / axes_pt
    half = HALF_BAR_PT * per_pt
    if n_layers == 1:
        offsets = [0.0]
    else:
        step = min(BAR_GAP_PT * per_pt, 0.5 / n_layers)
        offsets = [-(j + 0.5) * step for j in range(n_layers)]
    depth = -min(offsets) + half
    if height is None:
        height = 0.9 if n_positions == 1 else float(np.clip(1.0 - depth - 0.05, 0.4, 0.9))
    elif not height > 0:
        raise ValueError(f"height={height!r} must be a positive slab height (in rows), e.g. 0.9")
    return offsets, depth, float(height)


def _halfeyes(ax, layers, *, height, offsets, normalize, intervals, point, fill_alpha, xlim, log=False):
    """Draw ``layers``: dicts with ``y`` (positions), ``draws`` (rows, S), ``color``, ``label``, ``bounds``.

    Slabs rise from their baseline ``y`` to at most ``height``, lower rows over upper
    ones; interval bars (at ``y + offsets[j]``) and points are drawn above every slab.
    Only the x range ``xlim`` is estimated and drawn (see :func:`mixeff.plots.density.kde`); with
    ``log`` the densities are those of the draws' logarithms, drawn on a log axis.
    """
    f, f_inv = (np.log, np.exp) if log else (np.asarray, np.asarray)
    xlim = f(np.asarray(xlim, dtype=float))
    span = xlim[1] - xlim[0]
    window = (xlim[0] - 0.5 * span, xlim[1] + 0.5 * span)
    dens = [kde(f(layer["draws"]), bounds=layer.get("bounds"), window=window) for layer in layers]
    if normalize is None:
        peaks = np.concatenate([d.max(axis=1) for _, d in dens])
        peaks = peaks[peaks > 0]
        normalize = "all" if not len(peaks) or peaks.max() <= AUTO_NORMALIZE * peaks.min() else "positions"
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
        raise ValueError(
            f"normalize={normalize!r} must be 'all', 'each', 'positions' or None (chosen from the densities)"
        )
    y_top = max(max(layer["y"]) for layer in layers) + 1.0
    widths = interval_widths(len(intervals))
    lo_x, hi_x = xlim[0] - 0.02 * span, xlim[1] + 0.02 * span
    for j, (layer, (x, d), s) in enumerate(zip(layers, dens, scales)):
        color = layer["color"]
        ys = np.asarray(layer["y"], dtype=float)
        draws = layer["draws"]
        bars = interval_bounds(draws, intervals)
        est = point_estimate(draws, point)
        icolor = INK if len(layers) == 1 else color
        for i, y in enumerate(ys):
            # the shown part: drop negligible tails (e.g. of a narrow density on bounds=(0, 1)) and what is
            # beyond the x range
            keep = np.flatnonzero((d[i] > 1e-3 * d[i].max()) & (x[i] >= lo_x) & (x[i] <= hi_x))
            sl = slice(max(keep[0] - 1, 0), keep[-1] + 2) if len(keep) else slice(0, 0)
            xi, top = f_inv(x[i][sl]), y + height * d[i][sl] / s[i]
            z = 1.0 + 0.5 * (y_top - y) / y_top + 0.01 * j  # lower rows over upper ones
            ax.fill_between(
                xi,
                y,
                top,
                color=color,
                alpha=fill_alpha,
                linewidth=0,
                zorder=z,
                label=layer.get("label") if i == 0 else None,
            )
            ax.plot(xi, top, color=color, linewidth=0.8, alpha=min(1.0, fill_alpha + 0.4), zorder=z)
            yb = y + offsets[j]
            for (lo, hi), lw in zip(bars, widths):
                ax.plot([lo[i], hi[i]], [yb, yb], color=icolor, linewidth=lw, solid_capstyle="butt", zorder=3)
            ax.plot([est[i]], [yb], color=icolor, zorder=3.5, **POINT)


def _finish_rows(ax, pos: dict[str, float], *, bottom: float, top: float, xlabel: str, ylabel: str) -> None:
    """Row labels as y ticks (none when no column tells the rows apart), the y range, the axis labels, grid."""
    ticks = sorted(pos.items(), key=lambda kv: kv[1])
    if any(k for k, _ in ticks):
        ax.set_yticks([p for _, p in ticks], [k for k, _ in ticks])
    else:
        ax.set_yticks([])
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(bottom, top)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(axis="x", alpha=0.3)


def _patch(color, alpha):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, edgecolor=color, alpha=alpha, linewidth=0.8)


def _key(fig, ax, own: bool, handles, names, *, point, levels, legend: bool, caption, text: str) -> None:
    """The legend of the layers and the interval levels.

    A caption (and a legend outside the right edge) on a figure of its own, or a legend beside a given
    ``ax``.
    """
    if own:
        if handles and legend:
            fig.legend(handles, names, loc="outside right upper", frameon=False)
        if caption:
            add_caption(fig, text)
    elif legend:
        for h, n in zip(handles, names):
            h.set_label(n)
        add_key(ax, list(handles) + interval_key(point, levels))


def _levels(intervals) -> tuple[float, ...]:
    levels = tuple(sorted(float(v) for v in np.atleast_1d(intervals)))
    if not levels or not all(0 < v < 1 for v in levels):
        raise ValueError(f"intervals={intervals!r} must be interval levels in (0, 1), e.g. (0.66, 0.95)")
    return levels


def _draws_note(result: Result) -> str:
    return f"{result.n_chains * result.n_draws} {result.source} draws"


# --------------------------------------------------------------------------- #
# plot_draws
# --------------------------------------------------------------------------- #


def plot_draws(
    result: Result,
    group: str | None = None,
    ax: Axes | None = None,
    *,
    label: str | Sequence[str] | None = None,
    sort: bool = False,
    intervals: Sequence[float] = INTERVALS,
    point: Literal["median", "mean"] = "median",
    bounds: tuple[float, float] | Literal[False] | None = None,
    normalize: Literal["all", "each", "positions"] | None = None,
    height: float | None = None,
    alpha: float = 0.45,
    colors: Sequence[str] | None = None,
    xlabel: str | None = None,
    legend: bool = True,
    trim: float = TRIM,
    xscale: Literal["linear", "log"] | None = None,
    caption: bool = True,
) -> Figure:
    """Half-eye plot of a result's draws: density, point estimate and interval bars per row.

    Parameters
    ----------
    result : Result
        Any verb's result (its ``.draws`` are plotted).
    group : str, optional
        A grid column whose values are overlaid in one slab position, each in its own
        colour with a legend (e.g. ``"TX"``); rows are positioned by the other grid
        columns that vary (or ``label``).  Without it every row gets its own position.
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure (the interval levels then go in a
        legend beside it rather than in a caption).
    label : str or list of str, optional
        Grid column(s) naming the positions (y tick labels, and the y axis label).
        Default: the grid columns that vary between rows, so a column held constant
        (e.g. the modal cluster of a ``re_formula="NA"`` prediction) labels nothing,
        and a single position gets no label.
    sort : bool
        Order positions by their point estimate, the largest at the top (as a
        per-state figure of an MRP analysis); otherwise the first row is at the top.
    intervals : tuple of float
        Equal-tailed interval levels drawn as bars, thickest for the narrowest
        (66% and 95% as ggdist).
    point : {"median", "mean"}
    bounds : (lo, hi) or False, optional
        Known support of the quantity: the density is reflected there instead of
        spilling over.  Default: ``(0, 1)`` for predictions on the response scale whose
        draws all lie in [0, 1] (probabilities), none otherwise; False: none.
    normalize : {"all", "each", "positions"}, optional
        Slab heights relative to the tallest density of the plot (ggdist's
        default), each slab's own maximum, or the tallest at each position.
        Default: "all", unless the tallest density is more than 5 times the lowest
        peak -- a wide slab would then be a flat line next to a narrow one -- then
        "positions" (for rows without ``group``, the same as "each").
    height : float, optional
        Slab height in rows.  Default: 0.9, less the room the next row's interval
        bars need, so that a slab never covers its neighbour's bars; a larger value
        gives overlapping ridgelines (the bars stay on top).
    alpha, colors, xlabel, legend
        Fill transparency, colours of the ``group`` values (the conditional plots'
        palette by default), the x-axis label (default: the quantity and the draws,
        e.g. "predicted y (expected value), posterior draws" -- the response is named
        when the result records it) and whether to draw the legend.
    trim : float
        The x range spans the ``trim`` and ``1 - trim`` quantiles of all draws (0.5% and
        99.5%), widened a little and always covering every interval bar, so one wild
        draw does not squash the densities; 0 shows every draw.
    xscale : {"linear", "log"}, optional
        Default: "log" when every draw is positive and their bulk spans three orders of
        magnitude or more (e.g. a lognormal model's prior predictions), else "linear".
        On the log scale the densities are those of the draws' logarithms.
    caption : bool
        Say below the plot what the points and bars are (levels, number and
        kind of draws); only on a figure of its own.

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
    >>> [t.get_text() for t in fig.legends[0].get_texts()]
    ['TX = 0', 'TX = 1']
    >>> fig.axes[0].get_yticks().tolist()      # one position, no label: the cluster column is constant
    []
    >>> fig.savefig("/tmp/mixeff_plot_draws.png")
    """
    check_result(result)
    grid = result.grid
    if group is not None and group not in grid.columns:
        raise ValueError(f"group={group!r} is not a column of the result; available: {list(grid.columns)}")
    levels = _levels(intervals)
    keys, cols = row_axis(grid, label, exclude=() if group is None else (group,))
    if group is None:
        # every row its own position (rows may share a label: keep them apart)
        keys = [k if keys.count(k) == 1 else f"{k} [{i}]" if k else f"row {i + 1}" for i, k in enumerate(keys)]
    est = point_estimate(result.draws, point)
    if sort:
        order = pd.Series(est).groupby(pd.Series(keys)).mean().sort_values(kind="stable")
        pos = {k: float(i) for i, k in enumerate(order.index)}
    else:
        pos = positions(keys)
    if group is None:
        values, rows = [None], [np.arange(len(grid))]
    else:
        codes, values = pd.factorize(grid[group], sort=True)
        rows = [np.flatnonzero(codes == j) for j in range(len(values))]
    n_layers = len(rows)
    own = ax is None
    fig, ax = new_axes(ax, len(pos), row=ROW_INCHES + 0.2 * (n_layers - 1))
    if colors is None:
        colors = [SLAB] if group is None else palette(n_layers)
    elif isinstance(colors, str):
        colors = [colors]
    bounds = auto_bounds([result], bounds)
    layers = []
    for j, (v, r) in enumerate(zip(values, rows)):
        layers.append(
            dict(
                y=[pos[keys[i]] for i in r],
                draws=result.draws[r],
                color=colors[j % len(colors)],
                label=None if group is None else f"{group} = {v}",
                bounds=bounds,
            )
        )
    ends = interval_bounds(result.draws, levels[-1:])
    log = auto_log([result.draws], xscale, bounds=bounds, trim=trim)
    xlim = x_range([result.draws], ends, bounds=bounds, trim=trim, log=log)
    offsets, depth, height = _geometry(ax, len(pos), n_layers, height)
    _halfeyes(
        ax,
        layers,
        height=height,
        offsets=offsets,
        normalize=normalize,
        intervals=levels,
        point=point,
        fill_alpha=alpha,
        xlim=xlim,
        log=log,
    )
    if log:
        ax.set_xscale("log")
    _finish_rows(
        ax,
        pos,
        bottom=-depth - 0.25,
        top=max(pos.values()) + height + 0.12,
        xlabel=x_label(result, xlabel),
        ylabel=row_axis_label(cols, point if sort else None),
    )
    ax.set_xlim(*xlim)
    handles = [] if group is None else [_patch(layer["color"], alpha) for layer in layers]
    names = [layer["label"] for layer in layers] if group is not None else []
    _key(
        fig,
        ax,
        own,
        handles,
        names,
        point=point,
        levels=levels,
        legend=legend,
        caption=caption,
        text=caption_text(point=point, levels=levels, draws=_draws_note(result), note=result.new_levels_note),
    )
    return fig


# --------------------------------------------------------------------------- #
# plot_prior_posterior
# --------------------------------------------------------------------------- #


def plot_prior_posterior(
    prior_result: Result,
    posterior_result: Result,
    *,
    labels: tuple[str, str] = ("prior", "posterior"),
    label: str | Sequence[str] | None = None,
    facets: bool | None = None,
    ax: Axes | None = None,
    intervals: Sequence[float] = INTERVALS,
    bounds: tuple[float, float] | Literal[False] | None = None,
    colors: tuple[str, str] = ("0.55", "C0"),
    alpha: float = 0.45,
    normalize: Literal["all", "each", "positions"] = "each",
    sharex: bool = True,
    xlabel: str | None = None,
    trim: float = TRIM,
    xscale: Literal["linear", "log"] | None = None,
    caption: bool = True,
) -> Figure:
    """Prior and posterior draws of the same quantity, overlaid per row.

    Parameters
    ----------
    prior_result, posterior_result : Result
        The same verb with the same arguments, computed with ``draws="prior"`` and
        ``draws="posterior"`` (e.g. from one ``sample_prior="yes"`` fit).  Their
        grids must agree; the numbers of draws may differ.  Any two results of the
        same quantity work (e.g. vague vs informative priors, as figure 11.1 of the
        marginaleffects book) -- set ``labels``.
    labels : pair of str
        Legend entries of the two results.
    label : str or list of str, optional
        Grid column(s) naming the rows (panel titles or y tick labels); default: the
        columns that vary between rows.
    facets : bool, optional
        One panel per row (default when there are at most 6 rows and no ``ax``),
        else every row stacked in one axes.
    ax : matplotlib Axes, optional
        Draw stacked into this axes.
    intervals, bounds, colors, alpha, xlabel, trim, xscale, caption
        As in :func:`plot_draws` (``bounds`` defaults to ``(0, 1)`` when both results
        are probabilities); ``sharex`` shares the x axis (and its range) between panels.
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
    >>> fig = plot_prior_posterior(prior, post, label="gender")
    >>> [a.get_title() for a in fig.axes]
    ['gender = Man', 'gender = Woman']
    >>> [t.get_text() for t in fig.legends[0].get_texts()]
    ['prior', 'posterior']
    >>> fig.savefig("/tmp/mixeff_plot_prior_posterior.png")
    """
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
    levels = _levels(intervals)
    results = (prior_result, posterior_result)
    names, cols = row_axis(g1, label)
    n = len(names)
    if facets is None:
        facets = ax is None and n <= 6
    q = [quantity_label(r) for r in results]
    xl = xlabel if xlabel is not None else q[0] if q[0] == q[1] else "estimate"
    bounds = auto_bounds(results, bounds)
    common = dict(normalize=normalize, intervals=levels, point="median", fill_alpha=alpha)
    handles = [_patch(c, alpha) for c in colors]
    if tuple(labels) == tuple(r.source for r in results):
        drawn = f"{_draws_note(prior_result).replace(' draws', '')} and {_draws_note(posterior_result)}"
    else:
        drawn = f"{labels[0]}: {_draws_note(prior_result)}, {labels[1]}: {_draws_note(posterior_result)}"
    text = caption_text(point="median", levels=levels, draws=drawn)
    log = auto_log([r.draws for r in results], xscale, bounds=bounds, trim=trim)
    common["log"] = log

    def limits(rows):
        draws = [r.draws[rows] for r in results]
        ends = [interval_bounds(d, levels[-1:]) for d in draws]
        return x_range(draws, ends, bounds=bounds, trim=trim, log=log)

    if facets:
        if ax is not None:
            raise ValueError("facets=True draws one panel per row and cannot use ax=; pass facets=False")
        fig, axes, ncol = facet_grid(n, sharex=sharex, most_columns=3)
        shared = limits(slice(None)) if sharex else None
        for i in range(n):
            a = axes[i]
            layers = [
                dict(y=[0.0], draws=r.draws[i : i + 1], color=c, label=lab, bounds=bounds)
                for r, c, lab in zip(results, colors, labels)
            ]
            xlim = shared or limits(slice(i, i + 1))
            offsets, depth, height = _geometry(a, 1, 2, None)
            _halfeyes(a, layers, height=height, offsets=offsets, xlim=xlim, **common)
            if log:
                a.set_xscale("log")
            a.set_yticks([])
            a.set_ylim(-depth - 0.15, height + 0.1)
            a.set_xlim(*xlim)
            a.set_title(_title(g1, cols, i), fontsize="medium")
            a.grid(axis="x", alpha=0.3)
            if not sharex or i + ncol >= n:
                a.set_xlabel(xl)
                a.tick_params(axis="x", labelbottom=True)
        _key(
            fig,
            axes[0],
            True,
            handles,
            list(labels),
            point="median",
            levels=levels,
            legend=True,
            caption=caption,
            text=text,
        )
        return fig
    keys = [k if names.count(k) == 1 else f"{k} [{i}]" if k else f"row {i + 1}" for i, k in enumerate(names)]
    pos = positions(keys)
    own = ax is None
    fig, ax = new_axes(ax, n, row=ROW_INCHES + 0.2)
    layers = [
        dict(y=[pos[k] for k in keys], draws=r.draws, color=c, label=lab, bounds=bounds)
        for r, c, lab in zip(results, colors, labels)
    ]
    xlim = limits(slice(None))
    offsets, depth, height = _geometry(ax, len(pos), 2, None)
    _halfeyes(ax, layers, height=height, offsets=offsets, xlim=xlim, **common)
    _finish_rows(
        ax, pos, bottom=-depth - 0.25, top=max(pos.values()) + height + 0.12, xlabel=xl, ylabel=row_axis_label(cols)
    )
    if log:
        ax.set_xscale("log")
    ax.set_xlim(*xlim)
    _key(fig, ax, own, handles, list(labels), point="median", levels=levels, legend=True, caption=caption, text=text)
    return fig


def _title(grid: pd.DataFrame, cols: list, i: int) -> str:
    return ", ".join(f"{c} = {grid[c].iloc[i]}" for c in cols)
