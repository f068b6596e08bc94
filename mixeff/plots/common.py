"""What every mixeff plot shares.

Argument checks, row labels, axis names, x ranges, intervals, points, colours and the caption (in the
style of :mod:`mixeff.plots.conditional`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..results import Result, row_median, row_quantiles, varying_columns

INTERVALS = (0.66, 0.95)
"""Interval levels drawn by default (ggdist's 66% and 95%)."""

WIDTH = 6.4
"""Figure width in inches (matplotlib's default, a notebook's width)."""

ROW_INCHES = 0.36
"""Height of one row (slab position) of a single-layer plot, in inches."""

CAPTION = dict(fontsize="small", color="0.3")
"""The caption's text style (as the conditional plots')."""

POINT = dict(marker="o", markersize=5.5, markeredgecolor="white", markeredgewidth=0.7, linestyle="none")
"""The point estimate's marker (as the conditional plots')."""

INK = "0.2"
"""Colour of a single layer's points and interval bars (the conditional plots' single colour)."""

SLAB = "0.45"
"""Fill colour of a single layer's densities."""

TRIM = 0.005
"""Share of the pooled draws left out of the x range at each end (the 0.5% and 99.5% quantiles)."""


def check_result(result, argument="result") -> Result:
    if not isinstance(result, Result):
        raise ValueError(
            f"{argument} must be a mixeff Result (from predictions, comparisons, ...), got {type(result).__name__}"
        )
    return result


# --------------------------------------------------------------------------- #
# rows: tick labels and the row axis' name
# --------------------------------------------------------------------------- #


def row_axis(grid: pd.DataFrame, label=None, exclude=()) -> tuple[list[str], list[str]]:
    """One text label per grid row and the columns they come from.

    ``label`` names the column(s); by default the grid columns that *vary* between
    rows (not in ``exclude``).  A column held constant -- a datagrid's mean or mode,
    such as the modal cluster of a ``re_formula="NA"`` prediction, or the ``term`` of
    a one-variable comparison -- tells no row apart, so it labels none; when no
    column varies (a single row) every label is empty.  Several columns give their
    values joined by ", " (the axis label names the columns, see :func:`row_axis_label`).

    Examples
    --------
    >>> import pandas as pd
    >>> row_axis(pd.DataFrame({"TX": [0, 1], "cluster": ["1", "1"]}))
    (['0', '1'], ['TX'])
    >>> row_axis(pd.DataFrame({"TX": [1], "cluster": ["1"]}))
    ([''], [])
    >>> row_axis(pd.DataFrame({"state": ["CA", "TX"], "gender": ["Man", "Woman"]}))
    (['CA, Man', 'TX, Woman'], ['state', 'gender'])
    """
    if label is not None:
        cols = [label] if isinstance(label, str) else list(label)
        missing = [c for c in cols if c not in grid.columns]
        if missing:
            raise ValueError(f"label={label!r}: {missing} not a column of the result; available: {list(grid.columns)}")
    else:
        cols = varying_columns(grid, exclude)
    if not cols:
        return [""] * len(grid), []
    values = grid[cols].astype(str)
    return [", ".join(row) for row in values.itertuples(index=False, name=None)], cols


def tick_labels(grid: pd.DataFrame, label=None, exclude=()) -> list[str]:
    """One text label per grid row: the ``label`` column(s), or the grid columns that vary (see :func:`row_axis`)."""
    return row_axis(grid, label, exclude)[0]


def row_axis_label(columns, sorted_by: str | None = None) -> str:
    """The name of the row axis: the labelling columns, and the order when sorted.

    Examples
    --------
    >>> row_axis_label(["cluster"], sorted_by="median"), row_axis_label([])
    ('cluster (sorted by median)', '')
    """
    if not columns:
        return ""
    text = ", ".join(str(c) for c in columns)
    return text + (f" (sorted by {sorted_by})" if sorted_by else "")


# --------------------------------------------------------------------------- #
# what the x axis shows
# --------------------------------------------------------------------------- #

_SCALES = {"link": "link scale", "prediction": "posterior predictive"}
_SLOPES = {
    "dY/dX": "d{y}/d{x}",
    "eY/eX": "elasticity e{y}/e{x}",
    "eY/dX": "semi-elasticity e{y}/d{x}",
    "dY/eX": "semi-elasticity d{y}/e{x}",
}


def response_name(result: Result) -> str | None:
    """The fit's response column, when the result records it (``result.response``)."""
    name = getattr(result, "response", None)
    return str(name) if name else None


def comparison_name(contrast: str) -> str:
    """The comparison a contrast label was made with (its marginaleffects name).

    Examples
    --------
    >>> [comparison_name(c) for c in ("1 - 0", "mean(1) / mean(0)", "ln(odds(1) / odds(0))", "(1 - 0) / 0", "+1")]
    ['difference', 'ratio', 'lnor', 'lift', 'difference']
    """
    c = str(contrast)
    if c.startswith("ln(odds("):
        return "lnor"
    if c.startswith("ln("):
        return "lnratio"
    if c.startswith("custom"):
        return "custom"
    if " / " in c and " - " in c:
        return "lift"
    if " / " in c:
        return "ratio"
    return "difference"


def quantity_label(result: Result) -> str:
    """What the draws are, in words, as the conditional plots say it.

    The result's ``kind`` and ``type``, the grid's ``term`` and ``contrast`` and the response name
    (when the result records it).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> r = Result(pd.DataFrame({"term": ["TX"], "contrast": ["1 - 0"]}), np.zeros((1, 4)), 1, 4,
    ...            kind="comparisons", response="y")
    >>> quantity_label(r)
    'y: TX 1 - 0 (difference)'
    >>> quantity_label(Result(pd.DataFrame({"TX": [0, 1]}), np.zeros((2, 4)), 1, 4, type="link"))
    'predicted response (link scale)'
    """
    y = response_name(result)
    scale = _SCALES.get(result.type)
    grid = result.grid
    if result.kind == "predictions":
        return f"predicted {y or 'response'} ({scale or 'expected value'})"
    if result.kind in ("comparisons", "slopes") and {"term", "contrast"} <= set(grid.columns):
        prefix = f"{y}: " if y else ""
        pairs = list(dict.fromkeys(zip(grid["term"].astype(str), grid["contrast"].astype(str))))
        terms = list(dict.fromkeys(t for t, _ in pairs))
        whats = list(dict.fromkeys("slope" if _slope(c) else comparison_name(c) for _, c in pairs))
        what = whats[0] if len(whats) == 1 else "comparison"
        details = ", ".join(d for d in (what, scale) if d)
        if len(pairs) == 1:
            term, contrast = pairs[0]
            form = _slope(contrast)
            if form is not None:
                text = form.format(y=y or "y", x=term)
                if contrast.startswith("mean("):
                    text = f"average {text}"
                return text + (f" ({scale})" if scale else "")
            return f"{prefix}{term} {contrast} ({details})"
        if len(terms) == 1:
            return f"{prefix}{terms[0]} contrasts ({details})"
        return f"{prefix}{details}"
    if result.kind == "hypotheses" and "hypothesis" in grid.columns and grid["hypothesis"].nunique() == 1:
        return f"hypothesis {grid['hypothesis'].iloc[0]}"
    return str(result.kind) + (f" ({scale})" if scale else "")


def _slope(contrast: str):
    inner = contrast[5:-1] if contrast.startswith("mean(") and contrast.endswith(")") else contrast
    return _SLOPES.get(inner)


def source_note(result: Result) -> str:
    """``"prior draws"`` or ``"posterior draws"``."""
    return f"{result.source} draws"


def x_label(result: Result, xlabel=None) -> str:
    """The quantity and whether the draws are prior or posterior ones (``xlabel`` overrides).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x_label(Result(pd.DataFrame({"TX": [0]}), np.zeros((1, 4)), 1, 4, source="prior"))
    'predicted response (expected value), prior draws'
    """
    if xlabel is not None:
        return xlabel
    return f"{quantity_label(result)}, {source_note(result)}"


# --------------------------------------------------------------------------- #
# the x range and the densities' support
# --------------------------------------------------------------------------- #


def x_range(
    draws, ends=(), *, bounds=None, trim: float = TRIM, pad: float = 0.1, log: bool = False
) -> tuple[float, float]:
    """X limits covering the bulk of ``draws`` (arrays, pooled).

    The ``trim`` and ``1 - trim`` quantiles widened by ``pad`` of their span (no further than the
    draws go), then every value of ``ends`` (the interval bars' ends, always fully shown), plus a
    small margin.  One wild draw moves no limit.  ``log``: the same on the log scale (positive draws).

    Examples
    --------
    >>> import numpy as np
    >>> d = np.random.default_rng(0).normal(size=(2, 4000)); d[0, 0] = 1e3
    >>> lo, hi = x_range([d])
    >>> bool(-4 < lo < -2.5), bool(2.5 < hi < 4)
    (True, True)
    """
    if not 0 <= trim < 0.5:
        raise ValueError(f"trim={trim!r} must be in [0, 0.5): the share of draws left out at each end")
    pooled = np.concatenate([np.asarray(d, dtype=float).ravel() for d in draws])
    ends = _flat(ends)
    if log:
        lo, hi = x_range([np.log(pooled)], np.log(ends), trim=trim, pad=pad)
        return float(np.exp(lo)), float(np.exp(hi))
    q_lo, q_hi = np.quantile(pooled, [trim, 1 - trim])
    span = q_hi - q_lo
    lo, hi = max(pooled.min(), q_lo - pad * span), min(pooled.max(), q_hi + pad * span)
    if ends.size:
        lo, hi = min(lo, ends.min()), max(hi, ends.max())
    if not hi > lo:
        half = 5e-3 * max(abs(lo), 1.0)
        return float(lo - half), float(hi + half)
    margin = 0.03 * (hi - lo)
    lo, hi = lo - margin, hi + margin
    if bounds is not None:  # no further than a little beyond the support
        b_lo, b_hi = bounds
        lo, hi = max(lo, b_lo - margin), min(hi, b_hi + margin)
    return float(lo), float(hi)


def _flat(values) -> np.ndarray:
    """Every number in nested lists/tuples of arrays, as one flat array."""
    if isinstance(values, np.ndarray):
        return values.astype(float).ravel()
    parts = [_flat(v) if isinstance(v, (list, tuple, np.ndarray)) else np.array([float(v)]) for v in values]
    return np.concatenate(parts) if parts else np.empty(0)


def auto_log(draws, xscale=None, *, bounds=None, trim: float = TRIM, orders: float = 3.0) -> bool:
    """Whether to draw the x axis on the log scale.

    ``xscale`` when given ("log" or "linear"), else when every draw is positive, no ``bounds`` are
    known, and the bulk of the draws (the ``trim`` and ``1 - trim`` quantiles) spans at least
    ``orders`` orders of magnitude -- e.g. the prior predictive draws of a lognormal model, which a
    linear axis squashes against 0.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.exp(np.random.default_rng(0).normal(0, 3, (1, 1000)))
    >>> auto_log([x]), auto_log([x], "linear"), auto_log([np.log(x)])
    (True, False, False)
    """
    if xscale is not None:
        if xscale not in ("linear", "log"):
            raise ValueError(f"xscale={xscale!r} must be 'linear', 'log' or None (chosen from the draws)")
        if xscale == "log" and any(np.min(d) <= 0 for d in draws):
            raise ValueError("xscale='log' needs positive draws; some are <= 0")
        return xscale == "log"
    if bounds is not None:
        return False
    pooled = np.concatenate([np.asarray(d, dtype=float).ravel() for d in draws])
    if pooled.min() <= 0:
        return False
    q_lo, q_hi = np.quantile(pooled, [trim, 1 - trim])
    return bool(q_hi / q_lo >= 10.0**orders)


def auto_bounds(results, bounds):
    """The support passed to the KDE.

    ``bounds`` when given (False: none), else ``(0, 1)`` for predictions on the response scale whose
    draws all lie in [0, 1] -- probabilities (bernoulli, binomial and categorical models, or
    proportions) -- and None otherwise.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> p = Result(pd.DataFrame({"x": [0]}), np.array([[0.1, 0.9, 0.5]]), 1, 3)
    >>> auto_bounds([p], None), auto_bounds([p], False), auto_bounds([p], (0, 2))
    ((0.0, 1.0), None, (0, 2))
    """
    if bounds is False:
        return None
    if bounds is not None:
        return bounds
    if all(
        r.kind == "predictions" and r.type == "response" and r.draws.min() >= 0 and r.draws.max() <= 1 for r in results
    ):
        return (0.0, 1.0)
    return None


# --------------------------------------------------------------------------- #
# intervals, points, colours
# --------------------------------------------------------------------------- #


def interval_bounds(draws: np.ndarray, levels) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for lev in levels:
        if not 0 < lev < 1:
            raise ValueError(f"interval levels must be in (0, 1), got {lev!r}")
        lo, hi = row_quantiles(draws, [(1 - lev) / 2, (1 + lev) / 2])
        out.append((lo, hi))
    return out


def interval_widths(n: int) -> np.ndarray:
    """Line widths (points) of ``n`` interval bars, narrowest level first: thicker for narrower."""
    return np.linspace(4.0, 1.4, n) if n > 1 else np.array([1.8])


def point_estimate(draws: np.ndarray, point: str) -> np.ndarray:
    if point == "median":
        return row_median(draws)
    if point == "mean":
        return draws.mean(axis=1)
    raise ValueError(f"point={point!r} must be 'median' or 'mean'")


def level_name(level: float) -> str:
    """``0.66 -> "66"``, ``0.975 -> "97.5"``."""
    return f"{round(level * 100, 6):g}"


def palette(n: int) -> list:
    """Colours of ``n`` groups, as the conditional plots choose them."""
    import matplotlib.pyplot as plt

    if n == 1:
        return [INK]
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", [f"C{i}" for i in range(10)])
    if n <= len(cycle):
        return list(cycle[:n])
    cmap = plt.get_cmap("viridis")
    return [cmap(v) for v in np.linspace(0.0, 0.92, n)]


def caption(*, point: str, levels, interval: str = "eti", draws: str, note: str = "") -> str:
    """The caption: what the points and bars are, at which levels, from how many draws.

    Examples
    --------
    >>> caption(point="median", levels=(0.66, 0.95), draws="500 posterior draws")
    'points: median; bars: 66% and 95% equal-tailed intervals (thicker: narrower); 500 posterior draws'
    """
    kind = "equal-tailed" if interval == "eti" else "highest-density"
    levels = list(levels)
    names = [f"{level_name(v)}%" for v in levels]
    lev = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    plural = "s" if len(levels) > 1 else ""
    thick = " (thicker: narrower)" if len(levels) > 1 else ""
    text = f"points: {point}; bars: {lev} {kind} interval{plural}{thick}"
    text += f"; {draws}"
    return text + (f"\n{note}" if note else "")


def add_caption(fig, text: str) -> None:
    """The caption below the figure (``fig.supxlabel``), wrapped to the figure's width."""
    import textwrap

    from matplotlib.font_manager import FontProperties

    size = FontProperties(size=CAPTION["fontsize"]).get_size_in_points()
    chars = max(int(fig.get_figwidth() * 72 / (0.56 * size)), 40)
    lines = []
    for paragraph in text.split("\n"):  # whole "; "-separated parts per line where they fit
        line = ""
        for part in paragraph.split("; "):
            joined = f"{line}; {part}" if line else part
            if len(joined) <= chars or not line:
                line = joined
            else:
                lines.append(line + ";")
                line = part
        lines.extend(textwrap.wrap(line, chars, break_on_hyphens=False) or [""])
    fig.supxlabel("\n".join(lines), **CAPTION)


def interval_key(point: str, levels, color=INK) -> list:
    """Legend handles of the point and the interval bars (for plots drawn into a given ``ax``)."""
    from matplotlib.lines import Line2D

    levels = list(levels)
    out = [Line2D([], [], color=color, label=point, **POINT)]
    for lev, w in zip(levels, interval_widths(len(levels))):
        out.append(
            Line2D([], [], color=color, linewidth=w, solid_capstyle="butt", label=f"{level_name(lev)}% interval")
        )
    return out


def add_key(ax, handles, *, title=None) -> None:
    """A legend outside the axes' right edge (where it covers no data), as the conditional plots'."""
    ax.legend(
        handles=handles,
        title=title,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        frameon=False,
        fontsize="small",
    )


# --------------------------------------------------------------------------- #
# layout
# --------------------------------------------------------------------------- #


def new_axes(ax, n_positions: int, width: float = WIDTH, row: float = ROW_INCHES):
    """The figure and axes to draw in: ``ax``'s, or a new one sized to ``n_positions`` rows."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=(width, max(2.4, row * n_positions + 1.4)), layout="constrained")
    return fig, ax


PANEL = (4.2, 3.1)
"""Inches of one panel of a facet grid (plus 0.4 in of height for the figure's key and caption)."""


def facet_shape(n: int, most_columns: int = 4) -> tuple[int, int]:
    """``(rows, columns)`` of a grid of ``n`` panels: 1, 2 (for 2 or 4 panels), 3 (up to 9), else ``most_columns``.

    Examples
    --------
    >>> [facet_shape(n) for n in (1, 2, 4, 5, 11)]
    [(1, 1), (1, 2), (2, 2), (2, 3), (3, 4)]
    >>> facet_shape(11, most_columns=3)
    (4, 3)
    """
    ncol = 1 if n == 1 else 2 if n in (2, 4) else 3 if n <= 9 else most_columns
    return int(np.ceil(n / ncol)), ncol


def facet_grid(n: int, *, sharex: bool, sharey: bool = False, most_columns: int = 4, single=None):
    """The one facet layout: ``(figure, its n axes in reading order, columns)``.

    Panels of :data:`PANEL` inches (``single``: the figure size when there is one panel) in
    :func:`facet_shape`'s grid; the unused cells of the grid are removed.
    """
    import matplotlib.pyplot as plt

    nrow, ncol = facet_shape(n, most_columns)
    width, height = PANEL
    size = single if n == 1 and single is not None else (width * ncol, height * nrow + 0.4)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=size, squeeze=False, layout="constrained", sharex=sharex, sharey=sharey
    )
    axes = list(axes.ravel())
    for extra in axes[n:]:
        fig.delaxes(extra)
    return fig, axes[:n], ncol


def positions(keys: list[str]) -> dict[str, float]:
    """Y position of each distinct key, the first at the top."""
    uniq = list(dict.fromkeys(keys))
    return {k: float(len(uniq) - 1 - i) for i, k in enumerate(uniq)}


def sort_order(values: np.ndarray) -> np.ndarray:
    return np.argsort(values, kind="stable")
