"""Benchmark: exact integration over new levels vs Monte Carlo over 100 simulated levels.

A bernoulli ``y ~ x + (1 + x | g)`` model with correlated group terms (brms-named
draws, 4 chains × 250 draws), 5000 covariate rows.  ``avg_predictions`` of the
population-averaged probability:

* ``sample_new_levels="integrate"``: every row at one new level, integrated out exactly;
* ``sample_new_levels="gaussian"``: every row crossed with 100 simulated new levels
  (500 000 rows), the recipe of Magnusson's example.

Each is compared, draw by draw, with a high-order reference (the same average
computed cell by cell with a 4x finer quadrature step, independent of the block's
node set).  Run: ``.venv/bin/python bench/bench_integrate.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from bench_engine import measure
from scipy import special

import mixeff
from mixeff.engine import integrate

N_ROWS, CHAINS, DRAWS, N_LEVELS, K_MC = 5000, 4, 250, 50, 100


def make_spec():
    rng = np.random.default_rng(0)
    s = CHAINS * DRAWS
    d = {
        "b_Intercept": rng.normal(-0.5, 0.2, s),
        "b_x": rng.normal(0.8, 0.1, s),
        "sd_g__Intercept": np.abs(rng.normal(1.0, 0.15, s)),
        "sd_g__x": np.abs(rng.normal(0.5, 0.1, s)),
        "cor_g__Intercept__x": rng.uniform(0.2, 0.6, s),
        ".chain": np.repeat(np.arange(1, CHAINS + 1), DRAWS),
    }
    for j in range(N_LEVELS):
        d[f"r_g[g{j},Intercept]"] = rng.normal(0, 1.0, s)
        d[f"r_g[g{j},x]"] = rng.normal(0, 0.5, s)
    data = pd.DataFrame(
        {
            "y": rng.integers(0, 2, 200),
            "x": rng.normal(size=200),
            "g": [f"g{j}" for j in rng.integers(0, N_LEVELS, 200)],
        }
    )
    spec = mixeff.from_brms_draws(pd.DataFrame(d), formula="y ~ x + (1 + x | g)", data=data, family="bernoulli")
    return spec, np.random.default_rng(1).normal(size=N_ROWS)


def reference(spec, x):
    """Per-draw average of E[expit(η + u)] with a 4x finer step: the 'exact' answer to 1e-13."""
    g = spec.groups["g"]
    cov = g.cor * g.sd[:, :, None] * g.sd[:, None, :]
    out = np.zeros(spec.n_samples)
    for rows in np.array_split(np.arange(len(x)), 50):
        xr = x[rows][:, None]
        eta = spec.beta[:, 0] + xr * spec.beta[:, 1]
        var = cov[:, 0, 0] + 2 * xr * cov[:, 0, 1] + xr**2 * cov[:, 1, 1]
        val, _ = integrate.normal_expectation(special.expit, eta, var, step=0.15)
        out += val.sum(axis=0)
    return out / len(x)


def main():
    spec, x = make_spec()
    grid_exact = pd.DataFrame({"x": x, "g": "new"})
    grid_mc = pd.DataFrame({"x": np.repeat(x, K_MC), "g": np.tile([f"new{k}" for k in range(K_MC)], N_ROWS)})
    kw = dict(allow_new_levels=True, progress=False)
    exact = lambda: mixeff.avg_predictions(spec, grid_exact, sample_new_levels="integrate", **kw)  # noqa: E731
    simulated = lambda: mixeff.avg_predictions(spec, grid_mc, sample_new_levels="gaussian", seed=1, **kw)  # noqa: E731
    warnings.simplefilter("ignore", mixeff.MonteCarloWarning)  # the error is measured below instead
    (t_int, m_int), (t_mc, m_mc) = measure(exact, 3), measure(simulated, 1)
    r_int, r_mc = exact(), simulated()
    m_int, m_mc = m_int / 2**20, m_mc / 2**20
    ref = reference(spec, x)
    err_int = np.max(np.abs(r_int.draws[0] - ref) / ref)
    err_mc = np.max(np.abs(r_mc.draws[0] - ref) / ref)
    print(f"bernoulli y ~ x + (1 + x | g), correlated: {N_ROWS} rows x {spec.n_samples} draws")
    print(f"{'case':44s}{'time (s)':>10s}{'peak MiB':>10s}{'max rel. error':>16s}")
    print(f"{'integrate':44s}{t_int:10.2f}{m_int:10.1f}{err_int:16.1e}")
    print(f"{f'gaussian, {K_MC} new levels per row':44s}{t_mc:10.2f}{m_mc:10.1f}{err_mc:16.1e}")
    print(f"(integrate used {r_int.new_levels['method']})")
    print(f"\nintegrate time / Monte Carlo time: {t_int / t_mc:.2f}   (target <= 0.5)")
    print(f"integrate error: {err_int:.1e} (target <= 1e-8); Monte Carlo error: {err_mc:.1e}")


if __name__ == "__main__":
    main()
