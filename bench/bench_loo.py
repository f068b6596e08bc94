"""Benchmark: streamed ``loo``, integrated leave-one-cluster-out, and ``log_lik`` next to ``predictions``.

Models are brms-named draws without MCMC (``mixeff.from_brms_draws``, 4 chains).  Three cases, one run:

1. ``loo`` of a gaussian ``y ~ x + (1 | g)`` over ``--rows`` rows × 1000 draws (the issue's size is
   ``--rows 1000000``): wall time and peak RSS in a fresh subprocess (Linux: the peak is reset once the
   model is built, so it is ``loo``'s own), next to the size a rows × draws float64 array would have.  For scale, on
   ``--compare-rows`` rows it also times ``arviz_stats.loo`` on the whole log-likelihood matrix (which
   computes PSIS twice: for the pointwise values and for the log weights it returns).
2. ``loo(group="g")``: a bernoulli ``y ~ x + (1 + x | g)`` with correlated terms, ``--clusters`` clusters ×
   50 rows × 4000 draws (default: the issue's 200): each cluster's likelihood integrated by adaptive
   Gauss–Hermite (18² nodes, checked against 12²), then PSIS; ``log_lik(group=)`` alone is timed too.
3. ``log_lik`` next to ``predictions`` on the same 50 000 rows × 1000 draws (best of 3): times and ratio.

arviz-stats' PSIS is a Python loop over observations that holds the GIL (about half a millisecond per
observation of 1000 draws): from 5·10⁷ cells ``loo`` runs it in worker processes, one per core (case 1 at
10⁶ rows), below that on one core beside the log-likelihood's threads (the 10 000-row comparison).
Timings are noisy on a shared machine.

Run: ``.venv/bin/python bench/bench_loo.py [--rows 1000000] [--clusters 200] [--quick]`` (default: 100 000
rows and 200 clusters, a few minutes on a quiet machine; ``--rows 1000000`` adds PSIS's ~0.5 ms per row, about
ten minutes; ``--quick``: small sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy import special

CHAINS = 4


def gaussian_spec(rows: int, draws: int = 1000, levels: int = 100):
    import mixeff

    rng = np.random.default_rng(0)
    g = rng.integers(0, levels, rows)
    effects = rng.normal(0, 0.5, levels)
    x = rng.normal(size=rows)
    data = pd.DataFrame({"y": 1.0 + 0.5 * x + effects[g] + rng.normal(size=rows), "x": x, "g": g.astype(str)})
    columns = {
        "b_Intercept": rng.normal(1.0, 0.02, draws),
        "b_x": rng.normal(0.5, 0.01, draws),
        "sigma": rng.gamma(1000, 1 / 1000, draws),
        "sd_g__Intercept": rng.gamma(100, 0.005, draws),
        ".chain": np.repeat(np.arange(1, CHAINS + 1), draws // CHAINS),
    }
    for j in range(levels):
        columns[f"r_g[{j},Intercept]"] = rng.normal(effects[j], 0.05, draws)
    return mixeff.from_brms_draws(pd.DataFrame(columns), formula="y ~ x + (1 | g)", data=data, family="gaussian")


def bernoulli_slopes_spec(clusters: int = 200, per: int = 50, draws: int = 4000):
    import mixeff

    rng = np.random.default_rng(1)
    n = clusters * per
    x = rng.normal(size=n)
    g = np.repeat(np.arange(clusters), per)
    b0, b1 = rng.normal(0, 0.8, clusters), rng.normal(0, 0.4, clusters)
    data = pd.DataFrame({"x": x, "g": g.astype(str)})
    data["y"] = (rng.random(n) < special.expit(-0.3 + 0.7 * x + b0[g] + b1[g] * x)).astype(int)
    columns = {
        "b_Intercept": rng.normal(-0.3, 0.1, draws),
        "b_x": rng.normal(0.7, 0.05, draws),
        "sd_g__Intercept": rng.gamma(60, 0.8 / 60, draws),
        "sd_g__x": rng.gamma(60, 0.4 / 60, draws),
        "cor_g__Intercept__x": rng.uniform(-0.2, 0.4, draws),
        ".chain": np.repeat(np.arange(1, CHAINS + 1), draws // CHAINS),
    }
    for j in range(clusters):
        columns[f"r_g[{j},Intercept]"] = rng.normal(b0[j], 0.2, draws)
        columns[f"r_g[{j},x]"] = rng.normal(b1[j], 0.1, draws)
    return mixeff.from_brms_draws(pd.DataFrame(columns), formula="y ~ x + (1 + x | g)", data=data, family="bernoulli")


def _status_kib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise KeyError(field)


def child(rows: int) -> None:
    """In a fresh process: build the model, warm up, reset the peak RSS, run ``loo``; print JSON."""
    import mixeff

    warnings.simplefilter("ignore")  # made-up draws: no convergence or Pareto-k noise
    spec = gaussian_spec(rows)
    mixeff.loo(gaussian_spec(1000), progress=False)  # imports and caches
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # Linux: VmHWM (peak RSS) restarts from the current RSS
        f.write("5")
    t = time.perf_counter()
    res = mixeff.loo(spec, progress=False)
    seconds = time.perf_counter() - t
    assert res.n_data_points == rows
    print(json.dumps({"seconds": seconds, "before": before * 1024, "peak": _status_kib("VmHWM") * 1024}))


def in_subprocess(rows: int) -> dict:
    """:func:`child`'s time, RSS before ``loo`` and peak RSS during it, from a fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(__file__)), *sys.path]))
    here = os.path.dirname(os.path.abspath(__file__))
    code = f"import sys; sys.path.insert(0, {here!r}); import bench_loo; bench_loo.child({rows})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000, help="rows of case 1 (the issue's: 1000000)")
    parser.add_argument("--compare-rows", type=int, default=10_000, help="rows of the arviz_stats.loo comparison")
    parser.add_argument("--clusters", type=int, default=200, help="clusters of case 2 (the issue's 200)")
    parser.add_argument("--quick", action="store_true", help="small sizes: 5000 rows, 3 clusters, 10 000 rows")
    opts = parser.parse_args()
    import arviz_stats
    import xarray as xr

    import mixeff

    warnings.simplefilter("ignore")  # made-up draws: no convergence or Pareto-k noise
    rows = 5000 if opts.quick else opts.rows
    compare_rows = 2000 if opts.quick else opts.compare_rows
    clusters = 3 if opts.quick else opts.clusters
    pred_rows = 10_000 if opts.quick else 50_000
    draws = 1000

    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} (timings are noisy under load)")
    # 1. streamed loo: time and peak RSS in a fresh process
    one = in_subprocess(rows)
    t_loo, own = one["seconds"], one["peak"] - one["before"]
    matrix = rows * draws * 8
    print(f"\n1. loo, gaussian y ~ x + (1 | g), {rows:,} rows x {draws} draws ({CHAINS} chains)")
    print(f"   wall time                          {t_loo:9.1f} s   ({t_loo / rows * 1e6:.0f} us per row)")
    print(f"   RSS before loo (model, data)       {one['before'] / 2**20:9.0f} MiB")
    print(f"   peak RSS during loo                {one['peak'] / 2**20:9.0f} MiB")
    print(f"   loo's own (peak - before)          {own / 2**20:9.0f} MiB")
    print(f"   a rows x draws float64 array       {matrix / 2**20:9.0f} MiB   (own / array: {own / matrix:.3f})")

    def whole_matrix(small):
        ll = mixeff.log_lik(small, progress=False)
        values = ll.draws.reshape(len(small.data), ll.n_chains, ll.n_draws).transpose(1, 2, 0)
        tree = xr.DataTree.from_dict(
            {
                "posterior": mixeff.to_datatree(small)["posterior"].to_dataset(),
                "log_likelihood": xr.Dataset({"y": (("chain", "draw", "__obs__"), values)}),
            }
        )
        return arviz_stats.loo(tree, pointwise=True, var_name="y")

    warm = gaussian_spec(200)  # imports and first-call costs outside the timings
    mixeff.loo(warm, progress=False)
    whole_matrix(warm)
    small = gaussian_spec(compare_rows)
    t_stream = best_of(lambda: mixeff.loo(small, progress=False), 1)
    t_whole = best_of(lambda: whole_matrix(small), 1)
    print(f"   on {compare_rows:,} rows: streamed loo {t_stream:.1f} s; log_lik + arviz_stats.loo on the whole matrix")
    print(f"   {t_whole:.1f} s (ratio streamed / whole {t_stream / t_whole:.2f}; arviz_stats.loo runs PSIS twice)")

    # 2. integrated leave-one-cluster-out
    spec = bernoulli_slopes_spec(clusters)
    t = time.perf_counter()
    clusters_ll = mixeff.log_lik(spec, group="g")
    t_int = time.perf_counter() - t
    t = time.perf_counter()
    logo = mixeff.loo(spec, group="g")
    t_logo = time.perf_counter() - t
    print(f"\n2. loo(group='g'), bernoulli y ~ x + (1 + x | g) correlated, {clusters} clusters x 50 rows x 4000 draws")
    print(
        f"   log_lik(group='g') alone           {t_int:9.1f} s   ({t_int / clusters:.2f} s per cluster; 200 clusters: "
        f"~{200 * t_int / clusters:.0f} s)"
    )
    print(f"   {clusters_ll.integrated_likelihood.method}")
    print(
        f"   loo(group='g')                     {t_logo:9.1f} s   (elpd {logo.elpd:.1f}, se {logo.se:.1f}, "
        f"max Pareto k {float(logo.pareto_k.max()):.2f}; "
        f"error estimate {clusters_ll.integrated_likelihood.error_bound:.1e})"
    )

    # 3. log_lik next to predictions
    spec = gaussian_spec(pred_rows)
    t_ll = best_of(lambda: mixeff.log_lik(spec, progress=False), 3)
    t_pred = best_of(lambda: mixeff.predictions(spec, progress=False), 3)
    print(f"\n3. log_lik vs predictions, gaussian, {pred_rows:,} rows x {draws} draws (best of 3)")
    print(f"   log_lik                            {t_ll:9.2f} s")
    print(f"   predictions                        {t_pred:9.2f} s")
    print(f"   ratio log_lik / predictions        {t_ll / t_pred:9.2f}")


if __name__ == "__main__":
    main()
