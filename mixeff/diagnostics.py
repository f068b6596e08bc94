"""Convergence diagnostics of derived quantities, vectorised over rows.

arviz-stats defines rank-normalised split R-hat, bulk and tail ESS and the
Monte Carlo standard error (Vehtari et al. 2021) one array at a time; a result
with 10⁵ rows would take minutes that way.  These are the same definitions,
written for ``(rows, chains, draws)`` arrays: each row is sorted once and that
order gives its ranks (ties averaged, as ``scipy.stats.rankdata``), its median
and its quantiles; one FFT per ESS and a vectorised form of Geyer's initial
positive and monotone sequences serve all rows at once; blocks of rows run on
threads (numpy's sorts and FFTs release the GIL; the engine's pool, :func:`~mixeff.engine.parallel.ordered_map`),
which also bounds memory.
``tests/test_trust.py`` checks every number against arviz-stats.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import fft, special, stats

from .engine.parallel import ordered_map, resolve_jobs

TAIL_PROB = 0.89
"""arviz's default ``ci_prob``: tail ESS is the smaller ESS of the 5.5% and 94.5% quantiles."""

BLOCK_CELLS = 1 << 21
"""Draws per block of rows (16 MB of float64): bounds the dozen temporaries of a block."""
MAX_THREADS = 8
"""Most threads one call of :func:`diagnose` uses (each holds a block of ``BLOCK_CELLS`` draws and its temporaries)."""


def _split(x: np.ndarray) -> np.ndarray:
    """(rows, m, n) -> (rows, 2m, n // 2): each chain's first and last halves (the middle draw dropped)."""
    half = x.shape[2] // 2
    return np.concatenate([x[:, :, :half], x[:, :, x.shape[2] - half :]], axis=1)


@functools.lru_cache(maxsize=8)
def _normal_scores(size: int) -> np.ndarray:
    """Blom's normal scores of every half-rank 1, 1.5, ..., size (read-only: shared by every call)."""
    table = special.ndtri((np.arange(2, 2 * size + 1) / 2 - 3 / 8) / (size - 2 * 3 / 8 + 1))
    table.flags.writeable = False
    return table


class _Sorted:
    """One row-wise sort of ``flat`` (rows, size), reused for ranks, median and quantiles."""

    def __init__(self, flat: np.ndarray):
        rows, size = flat.shape
        self.order = np.argsort(flat, axis=1)
        # flat positions of the sorted order: one 1-D take and put (take_along_axis builds 2-D indexes)
        self._flat_order = (self.order + (np.arange(rows) * size)[:, None]).ravel()
        self.values = np.ascontiguousarray(flat).ravel().take(self._flat_order).reshape(rows, size)

    def z_scores(self) -> np.ndarray:
        """Rank-normalised values (Blom's offset 3/8) in the original order of ``flat``.

        Average ranks are multiples of 1/2, so ``ndtri`` is evaluated once per half-rank (a table) and
        looked up: for a value whose run of ties spans sorted positions ``first..last`` the doubled
        rank is ``first + last + 2`` (``scipy.stats.rankdata(method="average")``).
        """
        rows, size = self.values.shape
        table = _normal_scores(size)
        z_sorted = np.broadcast_to(table[::2], (rows, size))
        starts = np.ones((rows, size), dtype=bool)
        np.not_equal(self.values[:, 1:], self.values[:, :-1], out=starts[:, 1:])
        tied = ~starts.all(axis=1)
        if tied.any():
            starts = starts[tied]
            index = np.broadcast_to(np.arange(size), starts.shape)
            first = np.maximum.accumulate(np.where(starts, index, 0), axis=1)
            ends = np.ones_like(starts)
            ends[:, :-1] = starts[:, 1:]
            last = np.minimum.accumulate(np.where(ends, index, size - 1)[:, ::-1], axis=1)[:, ::-1]
            z_sorted = z_sorted.copy()
            z_sorted[tied] = table[first + last]
        z = np.empty((rows, size))
        z.ravel()[self._flat_order] = z_sorted.ravel()
        return z

    def quantile(self, prob: float) -> np.ndarray:
        """``np.quantile(flat, prob, axis=1)`` (linear method, numpy's interpolation formula) from the sort."""
        size = self.values.shape[1]
        h = (size - 1) * prob
        lo = int(np.floor(h))
        hi = min(lo + 1, size - 1)
        t = h - lo
        a, b = self.values[:, lo], self.values[:, hi]
        diff = b - a
        return b - diff * (1 - t) if t >= 0.5 else a + diff * t

    def median(self) -> np.ndarray:
        """``np.median``: the mean of the two middle values of an even count, computed as numpy does."""
        size = self.values.shape[1]
        middle = self.values[:, (size - 1) // 2 : size // 2 + 1]
        return middle.mean(axis=1)


def _z_scale(x: np.ndarray, by: _Sorted | None = None) -> np.ndarray:
    flat = x.reshape(x.shape[0], -1)
    return (by or _Sorted(flat)).z_scores().reshape(x.shape)


def _rhat(x: np.ndarray) -> np.ndarray:
    n = x.shape[2]
    between = n * np.var(x.mean(axis=2), axis=1, ddof=1)
    within = np.var(x, axis=2, ddof=1).mean(axis=1)
    return np.sqrt((between / within + n - 1) / n)


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of (rows, m, n) arrays: arviz's ``_ess`` (Geyer's initial monotone sequence), all rows at once."""
    rows, m, n = x.shape
    if n < 2:
        return np.full(rows, np.nan)
    size = m * n
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    centred = x - x.mean(axis=2, keepdims=True)
    nfft = fft.next_fast_len(2 * n - 1, real=True)  # any length >= 2n - 1 gives the linear autocovariance
    spec = fft.rfft(centred, n=nfft, axis=2)
    acov = fft.irfft(spec * np.conjugate(spec), n=nfft, axis=2)[:, :, :n] / n
    mean_var = acov[:, :, 0].mean(axis=1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]  # (rows, n) by lag
    n_pairs = (n - 1) // 2
    # pair k (k >= 1) is (rho[2k], rho[2k + 1]); pair 0 is (1, rho[1])
    even = rho[:, 0 : 2 * n_pairs + 1 : 2]
    odd = rho[:, 1 : 2 * n_pairs + 2 : 2]
    k_max = min(even.shape[1], odd.shape[1])
    sums = even[:, :k_max] + odd[:, :k_max]
    sums[:, 0] = 1.0 + rho[:, 1]
    k_lim = max(int(np.ceil((n - 2) / 2)) - 1, 0)  # iterations the loop may run (t < n - 3)
    k_lim = min(k_lim, k_max - 1)
    nonpositive = sums[:, : k_lim + 1] <= 0
    first = np.where(nonpositive.any(axis=1), nonpositive.argmax(axis=1), k_lim)
    count = np.minimum(first, k_lim)  # pairs 0..count-1 enter the sum
    cummin = np.minimum.accumulate(sums[:, : max(k_lim, 1)], axis=1)
    keep = np.arange(cummin.shape[1])[None, :] < count[:, None]
    total = 2.0 * np.where(keep, cummin, 0.0).sum(axis=1)
    tail_idx = 2 * count
    tail_rho = np.where(count > 0, rho[np.arange(rows), np.minimum(tail_idx, n - 1)], 1.0)
    tail_sum = np.where(count < sums.shape[1], sums[np.arange(rows), np.minimum(count, sums.shape[1] - 1)], -1.0)
    tail = np.where((count == 0) | (tail_sum >= 0) | (tail_rho > 0), tail_rho, 0.0)
    tau = np.maximum(-1.0 + total + tail, 1.0 / np.log10(size))
    ess = size / tau
    ess = np.where(np.isnan(rho).any(axis=1), np.nan, ess)
    return np.where(constant, float(size), ess)


def _quantile_ess(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    return _ess(_split((x <= q[:, None, None]).astype(float)))


def _full_sort(x: np.ndarray, split_sort: _Sorted) -> _Sorted:
    """The sort of all draws: the split's own when no middle draw was dropped (an even chain length)."""
    return split_sort if x.shape[2] % 2 == 0 else _Sorted(x.reshape(x.shape[0], -1))


def _rhat_from(split: np.ndarray, z_split: np.ndarray, split_sort: _Sorted) -> np.ndarray:
    median = split_sort.median()
    folded = np.abs(split - median[:, None, None])
    return np.maximum(_rhat(z_split), _rhat(_z_scale(folded)))


def _mcse_median(x: np.ndarray, full: _Sorted) -> np.ndarray:
    ess = _quantile_ess(x, full.quantile(0.5))
    with np.errstate(invalid="ignore"):
        ppf = stats.beta.ppf(np.array([0.1586553, 0.8413447])[None, :], ess[:, None] * 0.5 + 1, ess[:, None] * 0.5 + 1)
    size = full.values.shape[1]
    lo = np.floor(np.nanmax(np.column_stack([ppf[:, 0] * size - 1, np.zeros(len(ess))]), axis=1)).astype(int)
    hi = np.ceil(np.nanmin(np.column_stack([ppf[:, 1] * size - 1, np.full(len(ess), size - 1)]), axis=1)).astype(int)
    rows = np.arange(len(ess))
    return (full.values[rows, hi] - full.values[rows, lo]) / 2


def _mcse_mean(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1).std(axis=1, ddof=1) / np.sqrt(_ess(_split(x)))


def _tail_ess(x: np.ndarray, full: _Sorted) -> np.ndarray:
    low, high = sorted((TAIL_PROB, 1 - TAIL_PROB))
    return np.minimum(_quantile_ess(x, full.quantile(low)), _quantile_ess(x, full.quantile(high)))


def _too_short(x: np.ndarray) -> bool:
    return x.shape[2] < 4  # arviz: at least 4 draws per chain


def rhat_and_bulk_ess(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R-hat and bulk ESS of ``(rows, chains, draws)``, sharing one sort of the split chains."""
    d = _diagnose_block(x, estimator=None)
    return d["rhat"], d["ess_bulk"]


def _diagnose_block(x: np.ndarray, estimator: str | None, mcse_only: bool = False) -> dict[str, np.ndarray]:
    rows = x.shape[0]
    if _too_short(x):
        nan = np.full(rows, np.nan)
        return {"mcse": nan} if mcse_only else {"rhat": nan, "ess_bulk": nan, "ess_tail": nan, "mcse": nan}
    if mcse_only:
        return {"mcse": _mcse_mean(x) if estimator == "mean" else _mcse_median(x, _Sorted(x.reshape(rows, -1)))}
    split = _split(x)
    split_sort = _Sorted(split.reshape(rows, -1))
    z_split = _z_scale(split, split_sort)
    out = {
        "rhat": _rhat_from(split, z_split, split_sort) if x.shape[1] > 1 else np.full(rows, np.nan),
        "ess_bulk": _ess(z_split),
    }
    if estimator is None:
        return out
    full = _full_sort(x, split_sort)
    out["ess_tail"] = _tail_ess(x, full)
    out["mcse"] = _mcse_mean(x) if estimator == "mean" else _mcse_median(x, full)
    return out


def diagnose(
    draws: np.ndarray, n_chains: int, n_draws: int, estimator: str = "median", mcse_only: bool = False
) -> dict[str, np.ndarray]:
    """``rhat``, ``ess_bulk``, ``ess_tail``, ``mcse`` of each row of ``(rows, S)`` chain-major draws.

    Only ``mcse`` depends on ``estimator``; ``mcse_only=True`` computes just that one.  Rows with
    a non-finite draw get NaN throughout.  Blocks of rows run on threads (at most 8, and no more than
    the package's ``n_jobs``: :func:`mixeff.set_options`).

    Examples
    --------
    >>> import numpy as np
    >>> d = diagnose(np.random.default_rng(0).normal(size=(2, 4000)), n_chains=4, n_draws=1000)
    >>> bool(np.all(np.abs(d["rhat"] - 1) < 0.01)), bool(np.all(d["ess_bulk"] > 3000))
    (True, True)
    """
    x = np.asarray(draws, dtype=float).reshape(-1, n_chains, n_draws)
    rows = x.shape[0]
    block = max(1, BLOCK_CELLS // max(n_chains * n_draws, 1))
    starts = range(0, rows, block)
    workers = min(len(starts), resolve_jobs(None), MAX_THREADS)

    def one(start: int) -> dict[str, np.ndarray]:
        return _diagnose_block(x[start : start + block], estimator, mcse_only)

    parts = list(ordered_map(one, starts, workers))
    names = ("mcse",) if mcse_only else ("rhat", "ess_bulk", "ess_tail", "mcse")
    out = {name: np.concatenate([p[name] for p in parts]) if parts else np.empty(0) for name in names}
    finite = np.isfinite(x).all(axis=(1, 2))
    if not finite.all():
        for values in out.values():
            values[~finite] = np.nan
    return out
