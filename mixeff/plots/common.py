"""What every mixeff plot shares: argument checks, row labels, axes, intervals and points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..results import Result, row_labels

INTERVALS = (0.66, 0.95)
"""Interval levels drawn by default (ggdist's 66% and 95%)."""


def check_result(result, argument="result") -> Result:
    if not isinstance(result, Result):
        raise ValueError(f"{argument} must be a mixeff Result (from predictions, comparisons, ...), "
                         f"got {type(result).__name__}")
    return result


def tick_labels(grid: pd.DataFrame, label=None, exclude=()) -> list[str]:
    """One text label per grid row: the ``label`` column(s), or the grid columns that vary."""
    if label is not None:
        cols = [label] if isinstance(label, str) else list(label)
        missing = [c for c in cols if c not in grid.columns]
        if missing:
            raise ValueError(f"label={label!r}: {missing} not a column of the result; "
                             f"available: {list(grid.columns)}")
        return row_labels(grid, cols)
    out = row_labels(grid, exclude=exclude)
    if out is None:
        cols = [c for c in grid.columns if c not in exclude]
        out = row_labels(grid, cols) if cols else None
    return out if out is not None else [""] * len(grid)


def new_axes(ax, n_positions: int, width: float = 6.4):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=(width, max(2.4, 0.32 * n_positions + 1.2)), layout="constrained")
    return fig, ax


def x_label(result: Result, xlabel):
    if xlabel is not None:
        return xlabel
    return f"{result.kind} ({result.source} draws)"


def interval_bounds(draws: np.ndarray, levels) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for lev in levels:
        if not 0 < lev < 1:
            raise ValueError(f"interval levels must be in (0, 1), got {lev!r}")
        lo, hi = np.quantile(draws, [(1 - lev) / 2, (1 + lev) / 2], axis=1)
        out.append((lo, hi))
    return out


def point_estimate(draws: np.ndarray, point: str) -> np.ndarray:
    if point == "median":
        return np.median(draws, axis=1)
    if point == "mean":
        return draws.mean(axis=1)
    raise ValueError(f"point={point!r} must be 'median' or 'mean'")


def positions(keys: list[str]) -> dict[str, float]:
    """y position of each distinct key, the first at the top."""
    uniq = list(dict.fromkeys(keys))
    return {k: float(len(uniq) - 1 - i) for i, k in enumerate(uniq)}


def sort_order(values: np.ndarray) -> np.ndarray:
    return np.argsort(values, kind="stable")
