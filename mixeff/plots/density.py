"""Densities of draws for the half-eye plots: arviz-stats' KDE, vectorised over rows."""

from __future__ import annotations

import numpy as np
from arviz_stats.base import array_stats


def kde(draws, *, points: int = 512, bounds=None, window=None):
    """Kernel density of each row of ``(rows, S)`` draws.

    arviz-stats' linear KDE (its default "experimental" bandwidth, robust for
    skewed and multimodal draws), all rows at once.  ``bounds=(lo, hi)`` gives a
    known support (e.g. ``(0, 1)`` for probabilities): the grid spans it and the
    density is boundary-corrected, so no mass leaks outside.  A row whose draws
    are all equal gets a narrow spike at that value (arviz-stats returns NaN there).
    Without bounds the grid reaches three bandwidths beyond the extreme draws, so
    the tails fade out rather than stop (not below 0 when every draw is >= 0).

    ``window=(lo, hi)`` is the range that will be shown: draws outside it are left
    out of that row's estimate (whose density is scaled by the share kept), so one
    wild draw neither stretches the grid -- leaving the bulk a handful of grid
    points -- nor widens the bandwidth.

    Returns
    -------
    x, density : arrays ``(rows, points)``

    Examples
    --------
    >>> import numpy as np
    >>> x, d = kde(np.random.default_rng(1).normal(size=(2, 4000)))
    >>> x.shape == d.shape, bool(abs(np.trapezoid(d[0], x[0]) - 1) < 0.01)
    (True, True)
    >>> wild = np.random.default_rng(1).normal(size=(1, 4000)); wild[0, 0] = 1e4
    >>> x, d = kde(wild, window=(-6, 6))
    >>> bool(x.max() < 6), bool(np.ptp(x) / 512 < 0.02)      # the grid covers the bulk only
    (True, True)
    """
    x = np.atleast_2d(np.asarray(draws, dtype=float))
    if not np.all(np.isfinite(x)):
        raise ValueError("kde: the draws contain NaN or infinite values")
    if bounds is not None:
        lo, hi = (float(b) for b in bounds)
        if not lo < hi:
            raise ValueError(f"kde: bounds={bounds!r} must be (lo, hi) with lo < hi")
        if x.min() < lo or x.max() > hi:
            raise ValueError(f"kde: draws fall outside bounds={bounds!r}")
    if window is None:
        return _kde(x, points, bounds)
    w_lo, w_hi = (float(b) for b in window)
    if not w_lo < w_hi:
        raise ValueError(f"kde: window={window!r} must be (lo, hi) with lo < hi")
    inside = (x >= w_lo) & (x <= w_hi)
    whole = inside.all(axis=1)
    grid = np.empty((x.shape[0], points))
    density = np.empty((x.shape[0], points))
    if whole.any():
        grid[whole], density[whole] = _kde(x[whole], points, bounds)
    for i in np.flatnonzero(~whole):
        kept = x[i, inside[i]]
        if kept.size == 0:  # nothing of this row is shown
            grid[i], density[i] = np.linspace(w_lo, w_hi, points), 0.0
            continue
        g, d = _kde(kept[None, :], points, bounds)
        grid[i], density[i] = g[0], d[0] * kept.size / x.shape[1]
    return grid, density


def _kde(x: np.ndarray, points: int, bounds) -> tuple[np.ndarray, np.ndarray]:
    constant = x.min(axis=1) == x.max(axis=1)
    grid = np.empty((x.shape[0], points))
    density = np.empty((x.shape[0], points))
    spread = ~constant
    if spread.any() and bounds is not None:
        kwargs = {"custom_lims": tuple(float(b) for b in bounds), "bound_correction": True}
        grid[spread], density[spread], _ = array_stats.kde(x[spread], axis=-1, grid_len=points, **kwargs)
    elif spread.any():
        g, d, bw = array_stats.kde(x[spread], axis=-1, grid_len=points)
        grid[spread], density[spread] = g, d
        # the grid ends at the extreme draws, where the density is not yet zero: extend it by three
        # bandwidths so the tails fade out (not below 0 for draws that are all >= 0, e.g. a scale)
        for i, row, h in zip(np.flatnonzero(spread), x[spread], np.broadcast_to(bw, (len(g),))):
            lo, hi = row.min() - 3 * h, row.max() + 3 * h
            if row.min() >= 0:
                lo = max(lo, 0.0)
            grid[i], density[i], _ = array_stats.kde(row, grid_len=points, custom_lims=(float(lo), float(hi)))
    if constant.any():
        v = x[constant, :1]
        width = 1e-3 * np.maximum(np.abs(v), 1.0)
        z = np.linspace(-4.0, 4.0, points)[None, :]
        grid[constant] = v + width * z
        density[constant] = np.exp(-0.5 * z**2) / (width * np.sqrt(2 * np.pi))
    return grid, density
