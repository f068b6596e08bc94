"""Benchmark: per-row R-hat, ESS and MCSE of a result vs arviz-stats on the same draws.

``Result.summarise(diagnostics=True)`` computes rank-normalised split R-hat, bulk and
tail ESS and the MCSE of the median for every row.  arviz-stats computes the same
numbers on an xarray DataArray with a row dimension; both are timed on 2000 rows of
4 chains x 1000 draws of autocorrelated AR(1) series, the answers compared, and
mixeff's time extrapolated to 10^5 rows.  Run: ``.venv/bin/python bench/bench_diagnostics.py``.
"""

from __future__ import annotations

import time

import arviz_stats
import numpy as np
import xarray as xr

from mixeff.diagnostics import diagnose

ROWS, CHAINS, DRAWS = 2000, 4, 1000


def make_draws() -> np.ndarray:
    rng = np.random.default_rng(0)
    phi = rng.uniform(0.0, 0.9, size=(ROWS, 1))
    e = rng.normal(size=(ROWS * CHAINS, DRAWS))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0]
    phi_rows = np.repeat(phi, CHAINS, axis=0)
    for t in range(1, DRAWS):  # a benchmark fixture, not library code
        x[:, t] = phi_rows[:, 0] * x[:, t - 1] + e[:, t]
    return x.reshape(ROWS, CHAINS * DRAWS)


def arviz_table(da: xr.DataArray) -> dict[str, np.ndarray]:
    dims = ["chain", "draw"]
    return {
        "rhat": arviz_stats.rhat(da, sample_dims=dims).values,
        "ess_bulk": arviz_stats.ess(da, sample_dims=dims, method="bulk").values,
        "ess_tail": arviz_stats.ess(da, sample_dims=dims, method="tail").values,
        "mcse": arviz_stats.mcse(da, sample_dims=dims, method="median").values,
    }


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    draws = make_draws()
    da = xr.DataArray(draws.reshape(ROWS, CHAINS, DRAWS).transpose(1, 2, 0), dims=("chain", "draw", "row"))
    t_ours, ours = timed(lambda: diagnose(draws, CHAINS, DRAWS))
    t_az, ref = timed(lambda: arviz_table(da))
    err = max(np.max(np.abs(ours[k] - ref[k]) / np.abs(ref[k])) for k in ref)
    print(f"R-hat, bulk/tail ESS, MCSE of the median: {ROWS} rows x {CHAINS} chains x {DRAWS} draws")
    print(f"{'case':30s}{'time (s)':>10s}{'ms/row':>10s}")
    print(f"{'mixeff diagnose':30s}{t_ours:10.2f}{1e3 * t_ours / ROWS:10.2f}")
    print(f"{'arviz-stats (same numbers)':30s}{t_az:10.2f}{1e3 * t_az / ROWS:10.2f}")
    print(f"\narviz time / mixeff time: {t_az / t_ours:.1f}")
    print(f"max relative difference from arviz: {err:.1e} (target <= 1e-8)")
    print(f"extrapolated to 10^5 rows: {t_ours / ROWS * 1e5:.0f} s")


if __name__ == "__main__":
    main()
