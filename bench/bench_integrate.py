"""Benchmark: exact integration over new levels vs the conditional answer and Monte Carlo over 100 levels.

A bernoulli ``y ~ x + (1 + x | g)`` model with correlated group terms (brms-named draws, 4 chains), so
that sd(u) varies continuously across rows ("slope"), and ``y ~ x + (1 | g)``, one sd(u) per draw
("intercept": also what a factor's or a 0/1 slope gives, a few sds per draw).  ``avg_predictions`` of the
population-averaged probability at 5k, 200k and 1M rows × 1000 and 4000 draws (default settings: every core):

* ``sample_new_levels="integrate"``: every row at one new level, integrated out exactly;
* ``re_formula="NA"``: the conditional answer at u = 0 (the floor integration is measured against);
* ``sample_new_levels="gaussian"``: every row crossed with 100 simulated new levels (5k rows only).

Each is compared, draw by draw, with a high-order reference: the trapezoidal rule with a quarter of the
engine's step, cell by cell (on every row at 5k, on 2000 sampled rows' per-row predictions above, where
the average's reference would cost more than the benchmark).  ``re_formula="NA"`` answers another
question; its "error" is how far the conditional answer is from the population average.

Run: ``.venv/bin/python bench/bench_integrate.py`` (a few minutes; ``--quick``: 5k rows only;
``--rows 5000 200000 --draws 1000`` to choose).
"""

from __future__ import annotations

import argparse
import gc
import time
import warnings

import numpy as np
import pandas as pd
from scipy import special

import mixeff
from mixeff.engine import integrate

CHAINS, N_LEVELS, K_MC, SAMPLED = 4, 50, 100, 2000


def make_spec(n_draws: int, slope: bool = True):
    """``y ~ x + (1 + x | g)`` (correlated: sd(u) varies with x), or ``y ~ x + (1 | g)`` (one sd per draw)."""
    rng = np.random.default_rng(0)
    d = {
        "b_Intercept": rng.normal(-0.5, 0.2, n_draws),
        "b_x": rng.normal(0.8, 0.1, n_draws),
        "sd_g__Intercept": np.abs(rng.normal(1.0, 0.15, n_draws)),
        "sd_g__x": np.abs(rng.normal(0.5, 0.1, n_draws)),
        "cor_g__Intercept__x": rng.uniform(0.2, 0.6, n_draws),
        ".chain": np.repeat(np.arange(1, CHAINS + 1), n_draws // CHAINS),
    }
    for j in range(N_LEVELS):
        d[f"r_g[g{j},Intercept]"] = rng.normal(0, 1.0, n_draws)
        d[f"r_g[g{j},x]"] = rng.normal(0, 0.5, n_draws)
    data = pd.DataFrame(
        {
            "y": rng.integers(0, 2, 200),
            "x": rng.normal(size=200),
            "g": [f"g{j}" for j in rng.integers(0, N_LEVELS, 200)],
        }
    )
    if not slope:
        d = {k: v for k, v in d.items() if not (k.endswith(",x]") or k in ("sd_g__x", "cor_g__Intercept__x"))}
    formula = "y ~ x + (1 + x | g)" if slope else "y ~ x + (1 | g)"
    return mixeff.from_brms_draws(pd.DataFrame(d), formula=formula, data=data, family="bernoulli")


def reference_rows(spec, x):
    """``(rows, S)`` E[expit(η + u)] per cell, with a quarter of the engine's step (the 'exact' answer to 1e-13)."""
    g = spec.groups["g"]
    cov = g.cor * g.sd[:, :, None] * g.sd[:, None, :] if g.sd.shape[1] == 2 else g.sd[:, :, None] ** 2
    out = np.empty((len(x), spec.n_samples))
    for rows in np.array_split(np.arange(len(x)), max(1, len(x) // 100)):
        xr = x[rows][:, None]
        eta = spec.beta[:, 0] + xr * spec.beta[:, 1]
        if cov.shape[1] == 2:
            var = cov[:, 0, 0] + 2 * xr * cov[:, 0, 1] + xr**2 * cov[:, 1, 1]
        else:
            var = np.broadcast_to(cov[:, 0, 0], eta.shape)
        out[rows] = integrate.normal_expectation(special.expit, eta, var, step=0.15)[0]
    return out


def best_time(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        out = None
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run(n_rows: int, n_draws: int, repeats: int, slope: bool = True) -> dict:
    spec = make_spec(n_draws, slope)
    x = np.random.default_rng(1).normal(size=n_rows)
    grid = pd.DataFrame({"x": x, "g": "new"})
    kw = dict(allow_new_levels=True, progress=False)
    exact = lambda: mixeff.avg_predictions(spec, grid, sample_new_levels="integrate", **kw)  # noqa: E731
    conditional = lambda: mixeff.avg_predictions(spec, grid, re_formula="NA", progress=False)  # noqa: E731
    out = {"rows": n_rows, "draws": n_draws}
    out["t_int"], r_int = best_time(exact, repeats)
    out["t_na"], r_na = best_time(conditional, max(repeats, 3))
    out["method"] = r_int.new_levels["method"]
    if n_rows <= 5000:
        ref = reference_rows(spec, x).mean(axis=0)
        out["e_int"] = np.max(np.abs(r_int.draws[0] - ref) / ref)
        grid_mc = pd.DataFrame({"x": np.repeat(x, K_MC), "g": np.tile([f"new{k}" for k in range(K_MC)], n_rows)})
        simulated = lambda: mixeff.avg_predictions(spec, grid_mc, sample_new_levels="gaussian", seed=1, **kw)  # noqa: E731
        out["t_mc"], r_mc = best_time(simulated, 1)
        out["e_mc"] = np.max(np.abs(r_mc.draws[0] - ref) / ref)
    else:  # per-row predictions of sampled rows against their reference
        rows = np.sort(np.random.default_rng(2).choice(n_rows, SAMPLED, replace=False))
        got = mixeff.predictions(spec, grid.iloc[rows], sample_new_levels="integrate", **kw).draws
        ref_rows = reference_rows(spec, x[rows])
        out["e_int"] = np.max(np.abs(got - ref_rows) / ref_rows)
        ref = None
    if ref is not None:
        out["e_na"] = np.max(np.abs(r_na.draws[0] - ref) / ref)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5k rows only")
    parser.add_argument("--rows", type=int, nargs="+", default=[5000, 200_000, 1_000_000])
    parser.add_argument("--draws", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--models", nargs="+", default=["slope", "intercept"], choices=["slope", "intercept"])
    args = parser.parse_args()
    rows = [5000] if args.quick else args.rows
    warnings.simplefilter("ignore", mixeff.MonteCarloWarning)  # the error is measured below instead
    print("bernoulli, avg_predictions, every core.  slope: y ~ x + (1 + x | g), correlated, sd(u) varying with x;")
    print("intercept: y ~ x + (1 | g), one sd(u) per draw")
    header = f"{'model':>10s}{'rows':>9s}{'draws':>7s}{'integrate s':>13s}{'NA s':>9s}{'MC100 s':>9s}"
    header += f"{'int/NA':>8s}{'int/MC':>8s}{'err int':>10s}{'err MC':>10s}{'NA vs avg':>11s}"
    print(header)
    method = None
    for model in args.models:
        for n_draws in args.draws:
            for n_rows in rows:
                r = run(n_rows, n_draws, 3 if n_rows <= 5000 else 1, slope=model == "slope")
                method = r["method"]
                mc = r.get("t_mc")
                print(
                    f"{model:>10s}{r['rows']:9d}{r['draws']:7d}{r['t_int']:13.3f}{r['t_na']:9.3f}"
                    f"{(f'{mc:9.2f}' if mc else f'{chr(8212):>9s}')}{r['t_int'] / r['t_na']:8.1f}"
                    f"{(f'{r["t_int"] / mc:8.2f}' if mc else f'{chr(8212):>8s}')}{r['e_int']:10.1e}"
                    f"{(f'{r["e_mc"]:10.1e}' if 'e_mc' in r else f'{chr(8212):>10s}')}"
                    f"{(f'{r["e_na"]:11.1e}' if 'e_na' in r else f'{chr(8212):>11s}')}",
                    flush=True,
                )
    print(f"(integrate used: {method})")
    print("targets: integrate <= 3x re_formula='NA' and <= 0.25x the 100-level Monte Carlo; error <= 1e-10")
    print("errors at 5k rows: of the average; above: max over 2000 sampled rows' per-row predictions")


if __name__ == "__main__":
    main()
