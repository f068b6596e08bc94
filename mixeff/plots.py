"""Plots of draws: half-eye densities, sorted point-intervals, prior vs posterior.

Matplotlib only; every function returns the :class:`matplotlib.figure.Figure`
(draw into an existing axes with ``ax=``), so they work in notebooks and scripts.

* :func:`plot_draws` -- a half-eye per row of a result (ggdist's
  ``stat_halfeye``): a filled density of the draws above a point estimate (the
  median) with 66% and 95% equal-tailed interval bars; ``group=`` overlays the
  rows that differ only in one column (e.g. ``TX = 0`` and ``1``) in one slab
  position, with a legend.
* :func:`plot_estimates` -- one point-interval per row, sorted by estimate and
  labelled by a column (the seed's per-state figures).
* :func:`plot_prior_posterior` -- prior and posterior draws of the same quantity
  overlaid, per row (one panel each, or stacked).

Densities come from :func:`kde`: a Gaussian kernel with Silverman's bandwidth,
computed for all rows at once by binning the draws and smoothing the histogram
in Fourier space (no loop over rows or draws); ``bounds=(0, 1)`` reflects the
density at known bounds, e.g. for probabilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .results import Result

__all__ = ["kde", "silverman_bandwidth", "plot_draws", "plot_estimates", "plot_prior_posterior"]

_INTERVALS = (0.66, 0.95)


# --------------------------------------------------------------------------- #
# Density
# --------------------------------------------------------------------------- #


def silverman_bandwidth(draws: np.ndarray) -> np.ndarray:
    """Silverman's rule of thumb per row: ``0.9 min(sd, IQR / 1.34) n^(-1/5)``.

    Examples
    --------
    >>> import numpy as np
    >>> bw = silverman_bandwidth(np.random.default_rng(0).normal(size=(2, 1000)))
    >>> bw.shape, bool(0.1 < bw[0] < 0.4)
    ((2,), True)
    """
    x = np.atleast_2d(np.asarray(draws, dtype=float))
    n = x.shape[1]
    sd = x.std(axis=1, ddof=1) if n > 1 else np.zeros(x.shape[0])
    q75, q25 = np.quantile(x, [0.75, 0.25], axis=1)
    spread = np.minimum(sd, (q75 - q25) / 1.34)
    spread = np.where(spread > 0, spread, sd)
    scale = np.maximum(np.abs(x).max(axis=1), 1.0)
    spread = np.where(spread > 0, spread, 1e-3 * scale)  # all draws equal: a narrow spike
    return 0.9 * spread * n ** (-0.2)


def kde(draws, *, points: int = 512, bw=None, bounds=None):
    """Gaussian kernel density of each row of ``(rows, S)`` draws.

    Parameters
    ----------
    draws : array, ``(S,)`` or ``(rows, S)``
    points : int
        Grid points per row between the bounds (or the data range).
    bw : float or array, optional
        Bandwidth(s); Silverman's rule per row by default.
    bounds : (lo, hi), optional
        Known support (e.g. ``(0, 1)`` for probabilities): the density is reflected
        at the bounds, so no mass leaks outside and none is lost near them.

    Returns
    -------
    x, density : arrays ``(rows, G)``
        Evaluation grid and density of each row (integrating to about 1).

    Examples
    --------
    >>> import numpy as np
    >>> x, d = kde(np.random.default_rng(1).normal(size=(2, 4000)))
    >>> x.shape == d.shape, bool(abs(np.trapezoid(d[0], x[0]) - 1) < 0.01)
    (True, True)
    >>> bool(abs(d[0][np.argmin(abs(x[0]))] - 1 / np.sqrt(2 * np.pi)) < 0.03)
    True
    """
    x = np.atleast_2d(np.asarray(draws, dtype=float))
    if not np.all(np.isfinite(x)):
        raise ValueError("kde: the draws contain NaN or infinite values")
    rows, n = x.shape
    h = silverman_bandwidth(x) if bw is None else np.broadcast_to(np.asarray(bw, dtype=float), (rows,)).copy()
    if np.any(h <= 0):
        raise ValueError(f"kde: bandwidth must be positive, got {bw!r}")
    if bounds is not None:
        lo_b, hi_b = (float(b) for b in bounds)
        if not lo_b < hi_b:
            raise ValueError(f"kde: bounds={bounds!r} must be (lo, hi) with lo < hi")
        if x.min() < lo_b or x.max() > hi_b:
            raise ValueError(f"kde: draws fall outside bounds={bounds!r}")
        lo, hi = np.full(rows, lo_b), np.full(rows, hi_b)
    else:
        lo, hi = x.min(axis=1), x.max(axis=1)
        flat = hi - lo <= 0
        lo, hi = np.where(flat, lo - 3 * h, lo), np.where(flat, hi + 3 * h, hi)
    w = (hi - lo) / points                                       # bin width per row
    pad = int(min(4 * points, np.ceil(np.max(4 * h / w))))       # kernel tails, in bins
    total = points + 2 * pad
    idx = np.clip(np.floor((x - lo[:, None]) / w[:, None]).astype(np.int64), 0, points - 1) + pad
    counts = np.bincount((idx + total * np.arange(rows)[:, None]).ravel(), minlength=rows * total)
    hist = counts.reshape(rows, total) / (n * w[:, None])        # density of the histogram
    size = 1 << int(np.ceil(np.log2(2 * total)))                 # zero padding: no wrap-around
    freq = np.arange(size // 2 + 1)[None, :] / (size * w[:, None])
    smooth = np.fft.irfft(np.fft.rfft(hist, size, axis=1) * np.exp(-2 * (np.pi * freq * h[:, None]) ** 2),
                          size, axis=1)[:, :total]
    smooth = np.maximum(smooth, 0.0)
    centres = lo[:, None] + (np.arange(total)[None, :] - pad + 0.5) * w[:, None]
    if bounds is None:
        return centres, smooth
    inner = smooth[:, pad:pad + points].copy()
    k = min(pad, points)
    inner[:, :k] += smooth[:, pad - 1::-1][:, :k]                # reflect the left tail
    inner[:, points - k:] += smooth[:, pad + points:pad + points + k][:, ::-1]  # and the right
    return centres[:, pad:pad + points], inner


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def _check_result(result, argument="result") -> Result:
    if not isinstance(result, Result):
        raise ValueError(f"{argument} must be a mixeff Result (from predictions, comparisons, ...), "
                         f"got {type(result).__name__}")
    return result


def _labels(grid: pd.DataFrame, label=None, exclude=()) -> list[str]:
    """One text label per grid row: the ``label`` column, or the other grid columns joined."""
    if label is not None:
        cols = [label] if isinstance(label, str) else list(label)
        missing = [c for c in cols if c not in grid.columns]
        if missing:
            raise ValueError(f"label={label!r}: {missing} not a column of the result; "
                             f"available: {list(grid.columns)}")
    else:
        cols = [c for c in grid.columns if c not in exclude]
        # the columns that tell rows apart (a datagrid repeats its held-constant columns)
        varying = [c for c in cols if grid[c].astype(str).nunique() > 1]
        cols = varying or cols
    if not cols:
        return [""] * len(grid)
    if len(cols) == 1:
        return grid[cols[0]].astype(str).tolist()
    parts = [str(c) + "=" + grid[c].astype(str) for c in cols]
    out = parts[0]
    for p in parts[1:]:
        out = out + ", " + p
    return out.tolist()


def _new_axes(ax, n_positions: int, width: float = 6.4):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=(width, max(2.4, 0.32 * n_positions + 1.2)), layout="constrained")
    return fig, ax


def _xlabel(result: Result, xlabel):
    if xlabel is not None:
        return xlabel
    return f"{result.kind} ({result.source} draws)"


def _interval_bounds(draws: np.ndarray, levels) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for lev in levels:
        if not 0 < lev < 1:
            raise ValueError(f"interval levels must be in (0, 1), got {lev!r}")
        lo, hi = np.quantile(draws, [(1 - lev) / 2, (1 + lev) / 2], axis=1)
        out.append((lo, hi))
    return out


def _point(draws: np.ndarray, point: str) -> np.ndarray:
    if point == "median":
        return np.median(draws, axis=1)
    if point == "mean":
        return draws.mean(axis=1)
    raise ValueError(f"point={point!r} must be 'median' or 'mean'")


def _halfeyes(ax, layers, *, height, normalize, intervals, point, fill_alpha, interval_color=None):
    """Draw ``layers``: dicts with ``y`` (positions), ``draws`` (rows, S), ``color``, ``label``, ``bounds``.

    Slabs rise from their baseline ``y`` to at most ``height``; with several layers
    their interval bars are dodged just below the baseline.
    """
    dens = []
    for layer in layers:
        x, d = kde(layer["draws"], points=layer.get("points", 512), bounds=layer.get("bounds"))
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
        bars = _interval_bounds(draws, intervals)
        est = _point(draws, point)
        offset = -step * (j + 0.6) if n_layers > 1 else -0.06 * height
        icolor = interval_color or ("0.15" if n_layers == 1 else color)
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


def _positions(keys: list[str], top_first: bool = True) -> dict[str, float]:
    uniq = list(dict.fromkeys(keys))
    m = len(uniq)
    return {k: float(m - 1 - i if top_first else i) for i, k in enumerate(uniq)}


def _sort_order(values: np.ndarray) -> np.ndarray:
    return np.argsort(values, kind="stable")


# --------------------------------------------------------------------------- #
# Public plots
# --------------------------------------------------------------------------- #


def plot_draws(
    result: Result,
    group: str | None = None,
    ax=None,
    *,
    label=None,
    sort: bool = False,
    intervals=_INTERVALS,
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

    _check_result(result)
    grid = result.grid
    if group is not None and group not in grid.columns:
        raise ValueError(f"group={group!r} is not a column of the result; available: {list(grid.columns)}")
    keys = _labels(grid, label, exclude=() if group is None else (group,))
    if group is None:
        # every row its own position (rows may share a label: keep them apart)
        keys = [k if keys.count(k) == 1 else f"{k} [{i}]" for i, k in enumerate(keys)]
    est = _point(result.draws, point)
    if sort:
        order = pd.Series(est).groupby(pd.Series(keys)).mean().sort_values(kind="stable")
        pos = {k: float(i) for i, k in enumerate(order.index)}
    else:
        pos = _positions(keys)
    fig, ax = _new_axes(ax, len(pos))
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
    ticks = sorted(pos.items(), key=lambda kv: kv[1])
    ax.set_yticks([p for _, p in ticks], [k for k, _ in ticks])
    if len(pos) == 1 and not ticks[0][0]:
        ax.set_yticks([])
    ax.set_ylim(-0.35, max(pos.values()) + height + 0.1)
    ax.set_xlabel(_xlabel(result, xlabel))
    ax.grid(axis="x", alpha=0.3)
    if group is not None and legend:
        ax.legend(title=None, frameon=False, loc="best")
    return fig


def plot_estimates(
    result: Result,
    sort: bool = True,
    label=None,
    ax=None,
    *,
    conf_level: float | None = None,
    ref: float | None = None,
    orientation: str = "horizontal",
    color: str = "0.15",
    xlabel: str | None = None,
):
    """Point estimates with credible intervals, one row per grid row, sorted by estimate.

    The seed's per-state figures: ``comparisons(fit, variables="gender",
    newdata=datagrid(fit, state=unique))`` or MRP estimates ``by="state"``.

    Parameters
    ----------
    result : Result
    sort : bool
        Order rows by estimate: the smallest at the bottom (horizontal) or left
        (vertical); otherwise the first row is at the top (or left).
    label : str or list of str, optional
        Grid column(s) labelling the rows (default: the grid columns that vary
        between rows, joined).
    ax : matplotlib Axes, optional
    conf_level : float, optional
        Interval level (default: the result's own summary, 95%).
    ref : float, optional
        Draw a dotted reference line here (e.g. 0 for differences).
    orientation : {"horizontal", "vertical"}
        Rows on the y axis (default) or on the x axis with labels rotated 90°.
    color, xlabel

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.plots import plot_estimates
    >>> fit = mixeff.example_fit()
    >>> g = mixeff.datagrid(fit, cluster=list(fit.spec().groups["cluster"].levels), TX=1)
    >>> fig = plot_estimates(mixeff.predictions(fit, g), label="cluster", ref=0)
    >>> len(fig.axes[0].get_yticklabels())
    20
    >>> fig.savefig("/tmp/mixeff_plot_estimates.png")
    """
    _check_result(result)
    if orientation not in ("horizontal", "vertical"):
        raise ValueError(f"orientation={orientation!r} must be 'horizontal' or 'vertical'")
    summary = result.summary if conf_level is None else result.summarise(conf_level=conf_level)
    labels = np.asarray(_labels(result.grid, label), dtype=object)
    est = summary["estimate"].to_numpy()
    lo, hi = summary["conf_low"].to_numpy(), summary["conf_high"].to_numpy()
    n = len(est)
    order = _sort_order(est) if sort else np.arange(n)[::-1] if orientation == "horizontal" else np.arange(n)
    pos = np.arange(n, dtype=float)
    fig, ax = _new_axes(ax, n if orientation == "horizontal" else 8,
                        width=6.4 if orientation == "horizontal" else max(6.4, 0.22 * n + 1.5))
    e, l, h = est[order], lo[order], hi[order]
    title = _xlabel(result, xlabel)
    if orientation == "horizontal":
        ax.hlines(pos, l, h, color=color, linewidth=1.5)
        ax.plot(e, pos, "o", color=color, markersize=4.5)
        if ref is not None:
            ax.axvline(ref, linestyle=":", color="0.4", linewidth=1)
        ax.set_yticks(pos, labels[order])
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel(title)
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.vlines(pos, l, h, color=color, linewidth=1.5)
        ax.plot(pos, e, "o", color=color, markersize=4.5)
        if ref is not None:
            ax.axhline(ref, linestyle=":", color="0.4", linewidth=1)
        ax.set_xticks(pos, labels[order], rotation=90)
        ax.set_xlim(-0.7, n - 0.3)
        ax.set_ylabel(title)
        ax.grid(axis="y", alpha=0.3)
    return fig


def plot_prior_posterior(
    prior_result: Result,
    posterior_result: Result,
    *,
    labels=("prior", "posterior"),
    label=None,
    facets: bool | None = None,
    ax=None,
    intervals=_INTERVALS,
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

    _check_result(prior_result, "prior_result")
    _check_result(posterior_result, "posterior_result")
    g1, g2 = prior_result.grid, posterior_result.grid
    if list(g1.columns) != list(g2.columns) or len(g1) != len(g2) or not g1.astype(str).equals(g2.astype(str)):
        raise ValueError(
            "prior_result and posterior_result describe different rows: compute both with the same verb "
            f"and arguments (grids {list(g1.columns)} with {len(g1)} rows vs {list(g2.columns)} with {len(g2)})"
        )
    if len(labels) != 2:
        raise ValueError(f"labels={labels!r} must be a pair, e.g. ('prior', 'posterior')")
    names = _labels(g1, label)
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
    pos = _positions([f"{k} [{i}]" if names.count(k) > 1 else k for i, k in enumerate(names)])
    keys = list(pos)
    fig, ax = _new_axes(ax, n)
    layers = [dict(y=[pos[k] for k in keys], draws=r.draws, color=c, label=lab, bounds=bounds)
              for r, c, lab in zip((prior_result, posterior_result), colors, labels)]
    _halfeyes(ax, layers, **common)
    ticks = sorted(pos.items(), key=lambda kv: kv[1])
    ax.set_yticks([p for _, p in ticks], [k for k, _ in ticks])
    ax.set_ylim(-0.35, max(pos.values()) + 1.0)
    ax.set_xlabel(xl)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(frameon=False, loc="best")
    return fig


def _title(grid: pd.DataFrame, label, i: int, names: list[str]) -> str:
    if not len(grid.columns):
        return ""
    if label is not None:
        cols = [label] if isinstance(label, str) else list(label)
    else:
        cols = [c for c in grid.columns if grid[c].astype(str).nunique() > 1] or list(grid.columns)
    if len(cols) == 1:
        return f"{cols[0]} = {grid[cols[0]].iloc[i]}"
    return names[i]
