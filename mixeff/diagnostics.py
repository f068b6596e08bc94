"""Convergence diagnostics of derived quantities, vectorised over rows.

arviz-stats defines rank-normalised split R-hat, bulk and tail ESS and the
Monte Carlo standard error (Vehtari et al. 2021) one array at a time; a result
with 10⁵ rows would take minutes that way.  These are the same definitions,
written for ``(rows, chains, draws)`` arrays: one rank, one FFT and a
vectorised form of Geyer's initial positive and monotone sequences for all rows
at once.  ``tests/test_diagnostics.py`` checks them against arviz-stats.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

TAIL_PROB = 0.89
"""arviz's default ``ci_prob``: tail ESS is the smaller ESS of the 5.5% and 94.5% quantiles."""


def _split(x: np.ndarray) -> np.ndarray:
    """(rows, m, n) -> (rows, 2m, n // 2): each chain's first and last halves (the middle draw dropped)."""
    half = x.shape[2] // 2
    return np.concatenate([x[:, :, :half], x[:, :, x.shape[2] - half:]], axis=1)


def _ranks(flat: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) along axis 1: one argsort; rows with ties fall back to scipy's rankdata."""
    order = np.argsort(flat, axis=1)
    ranks = np.empty(flat.shape)
    np.put_along_axis(ranks, order, np.arange(1.0, flat.shape[1] + 1.0)[None, :], axis=1)
    ordered = np.take_along_axis(flat, order, axis=1)
    tied = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    if tied.any():
        ranks[tied] = stats.rankdata(flat[tied], method="average", axis=1)
    return ranks


def _z_scale(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(x.shape[0], -1)
    size = flat.shape[1]
    return special.ndtri((_ranks(flat) - 3 / 8) / (size - 2 * 3 / 8 + 1)).reshape(x.shape)


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
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(centred, n=nfft, axis=2)
    acov = np.fft.irfft(spec * np.conjugate(spec), n=nfft, axis=2)[:, :, :n] / n
    mean_var = acov[:, :, 0].mean(axis=1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]  # (rows, n) by lag
    n_pairs = (n - 1) // 2
    # pair k (k >= 1) is (rho[2k], rho[2k + 1]); pair 0 is (1, rho[1])
    even = rho[:, 0:2 * n_pairs + 1:2]
    odd = rho[:, 1:2 * n_pairs + 2:2]
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


def _quantile_ess(x: np.ndarray, prob: float) -> np.ndarray:
    q = np.quantile(x.reshape(x.shape[0], -1), prob, axis=1)
    return _ess(_split((x <= q[:, None, None]).astype(float)))


def rhat(x: np.ndarray, z_split: np.ndarray | None = None) -> np.ndarray:
    """Rank-normalised split R-hat of each row of ``(rows, chains, draws)`` (NaN with < 2 chains or < 4 draws)."""
    if x.shape[1] < 2 or x.shape[2] < 4:
        return np.full(x.shape[0], np.nan)
    split = _split(x)
    z_split = _z_scale(split) if z_split is None else z_split
    folded = np.abs(split - np.median(split.reshape(split.shape[0], -1), axis=1)[:, None, None])
    return np.maximum(_rhat(z_split), _rhat(_z_scale(folded)))


def ess_bulk(x: np.ndarray, z_split: np.ndarray | None = None) -> np.ndarray:
    if x.shape[2] < 4:  # arviz: at least 4 draws
        return np.full(x.shape[0], np.nan)
    return _ess(_z_scale(_split(x)) if z_split is None else z_split)


def ess_tail(x: np.ndarray) -> np.ndarray:
    if x.shape[2] < 4:
        return np.full(x.shape[0], np.nan)
    low, high = sorted((TAIL_PROB, 1 - TAIL_PROB))
    return np.minimum(_quantile_ess(x, low), _quantile_ess(x, high))


def mcse(x: np.ndarray, estimator: str = "median") -> np.ndarray:
    """Monte Carlo standard error of each row's mean or median (arviz's ``mcse``)."""
    flat = x.reshape(x.shape[0], -1)
    if x.shape[2] < 4:
        return np.full(x.shape[0], np.nan)
    if estimator == "mean":
        return flat.std(axis=1, ddof=1) / np.sqrt(_ess(_split(x)))
    ess = _quantile_ess(x, 0.5)
    with np.errstate(invalid="ignore"):
        ppf = stats.beta.ppf(np.array([0.1586553, 0.8413447])[None, :], ess[:, None] * 0.5 + 1, ess[:, None] * 0.5 + 1)
    ordered = np.sort(flat, axis=1)
    size = flat.shape[1]
    lo = np.floor(np.nanmax(np.column_stack([ppf[:, 0] * size - 1, np.zeros(len(ess))]), axis=1)).astype(int)
    hi = np.ceil(np.nanmin(np.column_stack([ppf[:, 1] * size - 1, np.full(len(ess), size - 1)]), axis=1)).astype(int)
    rows = np.arange(flat.shape[0])
    return (ordered[rows, hi] - ordered[rows, lo]) / 2


def rhat_and_bulk_ess(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R-hat and bulk ESS of ``(rows, chains, draws)``, sharing one rank-normalisation of the split chains."""
    if x.shape[2] < 4:
        nan = np.full(x.shape[0], np.nan)
        return nan, nan.copy()
    z_split = _z_scale(_split(x))
    return rhat(x, z_split), ess_bulk(x, z_split)


def diagnose(draws: np.ndarray, n_chains: int, n_draws: int, estimator: str = "median") -> dict[str, np.ndarray]:
    """``rhat``, ``ess_bulk``, ``ess_tail``, ``mcse`` of each row of ``(rows, S)`` chain-major draws.

    Examples
    --------
    >>> import numpy as np
    >>> d = diagnose(np.random.default_rng(0).normal(size=(2, 4000)), n_chains=4, n_draws=1000)
    >>> bool(np.all(np.abs(d["rhat"] - 1) < 0.01)), bool(np.all(d["ess_bulk"] > 3000))
    (True, True)
    """
    x = np.asarray(draws, dtype=float).reshape(-1, n_chains, n_draws)
    r, bulk = rhat_and_bulk_ess(x)
    return {"rhat": r, "ess_bulk": bulk, "ess_tail": ess_tail(x), "mcse": mcse(x, estimator)}
