"""Sorted point-intervals (ggdist's ``stat_pointinterval``): :func:`plot_estimates`."""

from __future__ import annotations

import numpy as np

from ..results import Result
from .common import check_result, new_axes, tick_labels, sort_order, x_label


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
    check_result(result)
    if orientation not in ("horizontal", "vertical"):
        raise ValueError(f"orientation={orientation!r} must be 'horizontal' or 'vertical'")
    summary = result.summary if conf_level is None else result.summarise(conf_level=conf_level)
    labels = np.asarray(tick_labels(result.grid, label), dtype=object)
    est = summary["estimate"].to_numpy()
    lo, hi = summary["conf_low"].to_numpy(), summary["conf_high"].to_numpy()
    n = len(est)
    order = sort_order(est) if sort else np.arange(n)[::-1] if orientation == "horizontal" else np.arange(n)
    pos = np.arange(n, dtype=float)
    fig, ax = new_axes(ax, n if orientation == "horizontal" else 8,
                        width=6.4 if orientation == "horizontal" else max(6.4, 0.22 * n + 1.5))
    e, l, h = est[order], lo[order], hi[order]
    title = x_label(result, xlabel)
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
