"""Sorted point-intervals (ggdist's ``stat_pointinterval``): :func:`plot_estimates`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..results import Result
from .common import (
    POINT,
    WIDTH,
    add_caption,
    add_key,
    check_result,
    interval_key,
    level_name,
    new_axes,
    row_axis,
    row_axis_label,
    sort_order,
    x_label,
)
from .common import (
    caption as caption_text,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def plot_estimates(
    result: Result,
    sort: bool = True,
    label: str | Sequence[str] | None = None,
    ax: Axes | None = None,
    *,
    conf_level: float | None = None,
    ref: float | None = None,
    orientation: Literal["horizontal", "vertical"] = "horizontal",
    color: str = "0.2",
    xlabel: str | None = None,
    caption: bool = True,
) -> Figure:
    """Point estimates with credible intervals, one row per grid row, sorted by estimate.

    Per-state figures of an MRP analysis: ``comparisons(fit, variables="gender",
    newdata=datagrid(fit, state=unique))`` or MRP estimates ``by="state"``.

    Parameters
    ----------
    result : Result
    sort : bool
        Order rows by estimate: the smallest at the bottom (horizontal) or left
        (vertical); otherwise the first row is at the top (or left).
    label : str or list of str, optional
        Grid column(s) labelling the rows (default: the grid columns that vary
        between rows; a single row gets no label).  They also name the row axis.
    ax : matplotlib Axes, optional
        Draw into this axes (the interval level then goes in a legend beside it
        rather than in a caption).
    conf_level : float, optional
        Interval level (default: the result's own summary, 95%).
    ref : float, optional
        Draw a dotted reference line here (e.g. 0 for differences).
    orientation : {"horizontal", "vertical"}
        Rows on the y axis (default) or on the x axis with labels rotated 90°.
    color : str
        Colour of the points and bars.
    xlabel : str, optional
        Name of the estimates' axis (default: the quantity and the draws, e.g.
        "predicted y (expected value), posterior draws").
    caption : bool
        Say below the plot what the points and bars are (estimator, level and kind
        of interval, number and kind of draws); only on a figure of its own.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.plots import plot_estimates
    >>> fit = mixeff.example_fit()
    >>> g = mixeff.datagrid(fit, cluster=list(fit.spec().groups["cluster"].levels), TX=1)
    >>> fig = plot_estimates(mixeff.predictions(fit, g), ref=0)
    >>> len(fig.axes[0].get_yticklabels()), fig.axes[0].get_ylabel()   # TX is constant: the clusters label the rows
    (20, 'cluster (sorted by median)')
    >>> fig.savefig("/tmp/mixeff_plot_estimates.png")
    """
    check_result(result)
    if orientation not in ("horizontal", "vertical"):
        raise ValueError(f"orientation={orientation!r} must be 'horizontal' or 'vertical'")
    summary = result.summary if conf_level is None else result.summarise(conf_level=conf_level)
    options = {**result.options, **({} if conf_level is None else {"conf_level": conf_level})}
    names, cols = row_axis(result.grid, label)
    labels = np.asarray(names, dtype=object)
    est = summary["estimate"].to_numpy()
    lo, hi = summary["conf_low"].to_numpy(), summary["conf_high"].to_numpy()
    n = len(est)
    order = sort_order(est) if sort else np.arange(n)[::-1] if orientation == "horizontal" else np.arange(n)
    pos = np.arange(n, dtype=float)
    own = ax is None
    fig, ax = new_axes(
        ax,
        n if orientation == "horizontal" else 8,
        width=WIDTH if orientation == "horizontal" else max(WIDTH, 0.22 * n + 1.5),
    )
    e, lw, h = est[order], lo[order], hi[order]
    title = x_label(result, xlabel)
    rows_name = row_axis_label(cols, options["estimator"] if sort and n > 1 else None)
    ticks = pos if any(labels) else []
    shown = labels[order] if any(labels) else []
    if orientation == "horizontal":
        ax.hlines(pos, lw, h, color=color, linewidth=1.8, zorder=2)
        ax.plot(e, pos, color=color, zorder=3, **POINT)
        if ref is not None:
            ax.axvline(ref, linestyle=":", color="0.35", linewidth=1.0, zorder=1)
        ax.set_yticks(ticks, shown)
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel(title)
        ax.set_ylabel(rows_name)
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.vlines(pos, lw, h, color=color, linewidth=1.8, zorder=2)
        ax.plot(pos, e, color=color, zorder=3, **POINT)
        if ref is not None:
            ax.axhline(ref, linestyle=":", color="0.35", linewidth=1.0, zorder=1)
        ax.set_xticks(ticks, shown, rotation=90)
        ax.set_xlim(-0.7, n - 0.3)
        ax.set_ylabel(title)
        ax.set_xlabel(rows_name)
        ax.grid(axis="y", alpha=0.3)
    point, level, interval = options["estimator"], options["conf_level"], options["interval"]
    if own:
        if caption:
            add_caption(
                fig,
                caption_text(
                    point=point,
                    levels=[level],
                    interval=interval,
                    draws=f"{result.n_chains * result.n_draws} {result.source} draws",
                    note=result.new_levels_note,
                ),
            )
    else:
        key = interval_key(point, [level], color)
        if interval != "eti":
            key[1].set_label(f"{level_name(level)}% highest-density interval")
        add_key(ax, key)
    return fig
