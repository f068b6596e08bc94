"""Benchmark: mixeff vs Bambi ``Model.predict`` vs a bare numpy floor, on identical draws.

A bernoulli ``y ~ x + (1 | g)`` model with 5000 rows and 4 chains × 500 draws.
Draws come from Bambi's prior sampler relabelled as a posterior, so all three
contenders see the same numbers without paying for MCMC (the engine's cost does
not depend on where draws came from).  Timings are noisy on a shared machine,
so each case is run several times and the best time is reported, and all ratios
are computed within this one run.

``--per-row`` runs only the per-row part: on brms-named draws of a bernoulli ``y ~ x + z + (1 + x | g)``
model, the time of a per-row result's summary (median and 95% ETI of every row) next to the time of
computing its draws, at 5k rows × 1000 draws and 50k rows × 4000 draws (with numpy's ``np.quantile``
on the same draws, and a check that the numbers are the same bits), and ``predictions(re_formula="NA")``
at 5k × 1000 against its numpy floor.

Run: ``.venv/bin/python bench/bench_engine.py [--per-row]`` (or ``make bench``).
"""

from __future__ import annotations

import gc
import time
import tracemalloc

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

N_ROWS, CHAINS, DRAWS, N_GROUPS = 5000, 4, 500, 50


def make_fit():
    import bambi as bmb

    import mixeff

    rng = np.random.default_rng(0)
    g = rng.integers(0, N_GROUPS, N_ROWS)
    x = rng.normal(size=N_ROWS)
    eta = -0.5 + 0.8 * x + rng.normal(0, 1, N_GROUPS)[g]
    data = pd.DataFrame({"y": (rng.random(N_ROWS) < special.expit(eta)).astype(int), "x": x, "g": [f"g{i}" for i in g]})
    model = bmb.Model("y ~ x + (1 | g)", data, family="bernoulli")
    model.build()
    prior = model.prior_predictive(draws=CHAINS * DRAWS, random_seed=1)["prior"].to_dataset()
    keep = [v for v in prior.data_vars if "__obs__" not in prior[v].dims]
    from mixeff.bambi.fitting import _split_chains  # (chain=1, draw=2000) -> (4, 500)

    post = _split_chains(prior[keep], CHAINS)
    idata = xr.DataTree.from_dict(
        {
            "posterior": post,
            "observed_data": xr.Dataset(
                {"y": ("__obs__", data["y"].to_numpy())}, coords={"__obs__": np.arange(N_ROWS)}
            ),
        }
    )
    return mixeff.from_bambi(model, idata), data


def measure(fn, repeats=3):
    """Best wall time over ``repeats`` and the peak traced memory of one run."""
    best = np.inf
    for _ in range(repeats):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
        del out
    gc.collect()
    tracemalloc.start()
    out = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del out
    return best, peak


def brms_spec(n_samples: int, chains: int = 4, n_levels: int = 50):
    """brms-named draws of a bernoulli ``y ~ x + z + (1 + x | g)`` with correlated group terms."""
    import mixeff

    rng = np.random.default_rng(0)
    s = n_samples
    d = {
        "b_Intercept": rng.normal(-0.5, 0.2, s),
        "b_x": rng.normal(0.8, 0.1, s),
        "b_z": rng.normal(0.3, 0.1, s),
        "sd_g__Intercept": np.abs(rng.normal(1.0, 0.15, s)),
        "sd_g__x": np.abs(rng.normal(0.5, 0.1, s)),
        "cor_g__Intercept__x": rng.uniform(0.2, 0.6, s),
        ".chain": np.repeat(np.arange(1, chains + 1), s // chains),
    }
    for j in range(n_levels):
        d[f"r_g[g{j},Intercept]"] = rng.normal(0, 1.0, s)
        d[f"r_g[g{j},x]"] = rng.normal(0, 0.5, s)
    data = pd.DataFrame(
        {
            "y": rng.integers(0, 2, 200),
            "x": rng.normal(size=200),
            "z": rng.normal(size=200),
            "g": [f"g{j}" for j in rng.integers(0, n_levels, 200)],
        }
    )
    spec = mixeff.from_brms_draws(pd.DataFrame(d), formula="y ~ x + z + (1 + x | g)", data=data, family="bernoulli")
    return spec


def brms_newdata(rows: int, n_levels: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    levels = np.array([f"g{j}" for j in range(n_levels)])
    return pd.DataFrame(
        {"x": rng.normal(size=rows), "z": rng.normal(size=rows), "g": levels[rng.integers(0, n_levels, rows)]}
    )


def best_time(fn, repeats):
    """Best wall time of ``repeats`` runs (no memory tracing: it would slow the small calls)."""
    best = np.inf
    for _ in range(repeats):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def summary_row(rows: int, samples: int, repeats: int) -> None:
    """One line: the time of the draws of predictions, of their summary, and of np.quantile on them."""
    import mixeff

    spec, data = brms_spec(samples), brms_newdata(rows)
    t_draws = best_time(lambda: mixeff.predictions(spec, data, progress=False), repeats)
    result = mixeff.predictions(spec, data, progress=False)
    draws = result.draws
    t_summary = best_time(result.summarise, repeats)
    probs = [(1 - 0.95) / 2, (1 + 0.95) / 2, 0.5]  # as the summary computes them (not exactly 0.025)
    t_numpy = best_time(lambda: np.quantile(draws, probs, axis=1), min(repeats, 2))
    q = np.quantile(draws, probs, axis=1)
    summary = result.summarise()
    same = all(
        np.array_equal(summary[c].to_numpy().view(np.int64), q[i].view(np.int64))
        for i, c in enumerate(["conf_low", "conf_high", "estimate"])
    )
    print(
        f"{f'{rows} x {samples}':>16}{t_draws:>11.3f}{t_summary:>13.3f}{t_summary / t_draws:>15.2f}"
        f"{t_numpy:>17.3f}  {'yes' if same else 'NO'}"
    )


def bench_per_row():
    """The per-row summary next to the draws' time, and the fixed costs of a small predictions call."""
    import mixeff

    print("per-row results: bernoulli y ~ x + z + (1 + x | g), brms-named draws, 50 levels of g")
    print("(a shared machine: the ratios are from this one run; best of several runs each)\n")
    print(f"{'rows x draws':>16}{'draws (s)':>11}{'summary (s)':>13}{'summary/draws':>15}{'np.quantile (s)':>17}  same")
    for rows, samples, repeats in [(5000, 1000, 7), (50000, 4000, 3)]:
        summary_row(rows, samples, repeats)
    print("target: summary/draws <= 1, identical numbers\n")

    spec, data = brms_spec(1000), brms_newdata(5000)
    X = np.column_stack([np.ones(len(data)), data["x"], data["z"]])
    beta = spec.beta

    def floor():
        eta = X @ beta.T
        np.negative(eta, out=eta)
        np.exp(eta, out=eta)
        eta += 1.0
        return np.reciprocal(eta, out=eta)

    small = lambda: mixeff.predictions(spec, data, re_formula="NA", progress=False)  # noqa: E731
    np.testing.assert_allclose(small().draws, floor(), rtol=1e-14)
    t_floor, t_small = np.inf, np.inf
    for _ in range(5):  # in turn, so that both see the same load
        t_floor = min(t_floor, best_time(floor, 5))
        t_small = min(t_small, best_time(small, 5))
    print(
        f'predictions(re_formula="NA"), 5000 rows x 1000 draws: {t_small * 1e3:.1f} ms; numpy floor '
        f"(X @ beta, 1 / (1 + exp(-eta))): {t_floor * 1e3:.1f} ms; ratio {t_small / t_floor:.2f} (target <= 1.2)"
    )


def main():
    import mixeff

    if "--per-row" in __import__("sys").argv:
        bench_per_row()
        return
    fit, data = make_fit()
    post = fit.idata["posterior"]
    beta = np.column_stack([post["Intercept"].values.ravel(), post["x"].values.ravel()])
    b = post["1|g"].transpose("chain", "draw", "g__factor_dim").values.reshape(CHAINS * DRAWS, -1)
    levels = list(post["g__factor_dim"].values)
    g_idx = pd.Index(levels).get_indexer(data["g"])
    X = np.column_stack([np.ones(N_ROWS), data["x"].to_numpy()])

    def floor():
        # the same in-place 1/(1+exp(-eta)) mixeff uses (4x faster than scipy's expit),
        # so the ratio measures mixeff's overhead, not a faster formula
        eta = X @ beta.T + b.T[g_idx]
        np.negative(eta, out=eta)
        np.exp(eta, out=eta)
        eta += 1.0
        return np.reciprocal(eta, out=eta)

    def ours():
        return mixeff.predictions(fit, data, progress=False).draws

    def bambi():
        return fit.model.predict(fit.idata, kind="response_params", data=data, inplace=False)

    ref = floor()
    np.testing.assert_allclose(ours(), ref, atol=1e-12)
    bambi_p = bambi()["posterior"]["p"].transpose("chain", "draw", "__obs__").values.reshape(CHAINS * DRAWS, -1).T
    np.testing.assert_allclose(bambi_p, ref, atol=1e-10)
    del ref, bambi_p

    print(f"bernoulli y ~ x + (1|g): {N_ROWS} rows x {CHAINS} chains x {DRAWS} draws ({N_GROUPS} groups)")
    print("all three agree to 1e-10 on every cell\n")
    t_floor, m_floor = measure(floor, 5)
    t_ours, m_ours = measure(ours, 5)
    t_bambi, m_bambi = measure(bambi, 2)
    print(f"{'case':<38}{'time (s)':>10}{'peak MiB':>10}")
    for name, t, m in [
        ("numpy floor (X@beta + b[g], inv-logit)", t_floor, m_floor),
        ("mixeff predictions (rows x draws)", t_ours, m_ours),
        ("bambi Model.predict", t_bambi, m_bambi),
    ]:
        print(f"{name:<38}{t:>10.3f}{m / 2**20:>10.1f}")
    print()
    print(f"mixeff speed-up over bambi      : {t_bambi / t_ours:6.1f}x   (target >= 10x)")
    print(f"mixeff time / numpy floor       : {t_ours / t_floor:6.2f}x   (target <= 2x)")
    print(f"mixeff peak memory / floor      : {m_ours / m_floor:6.2f}x   (target <= 2x)")

    t_sum, _ = measure(lambda: mixeff.predictions(fit, data, progress=False).summary, 3)
    print(
        f"mixeff predictions incl. summary : {t_sum:.3f} s (median + 95% interval of 5000 rows: "
        f"{t_bambi / t_sum:.1f}x faster than bambi's predict without any summary)"
    )

    # Streaming: the by-group average never holds rows x draws.
    def ours_by():
        return mixeff.avg_predictions(fit, data, by="g", progress=False).draws

    t_by, m_by = measure(ours_by, 5)
    print(
        f"mixeff avg_predictions(by='g')  : {t_by:.3f} s, peak {m_by / 2**20:.1f} MiB "
        f"({m_by / m_floor:.2f}x the floor's memory: streamed, no rows x draws array)"
    )

    # Comparisons: ATE of x with by over the 5000-row grid, against bambi's interpret.comparisons.
    if "--no-comparisons" not in __import__("sys").argv:
        bench_comparisons(fit, data, m_floor)
    print()
    bench_per_row()


def bench_comparisons(fit, data, m_floor):
    """ATE of x (0 -> 1 in every row) averaged by g over the 5000 rows, vs bambi's interpret.comparisons
    (``conditional=None``: bambi's unit-level comparisons on the observed rows, then ``average_by``)."""
    import mixeff

    def ours_cmp():
        return mixeff.avg_comparisons(fit, variables={"x": [0, 1]}, newdata=data, by="g", progress=False).draws

    def bambi_cmp():
        import bambi as bmb

        return bmb.interpret.comparisons(fit.model, fit.idata, contrast={"x": [0, 1]}, conditional=None, average_by="g")

    t_cmp, m_cmp = measure(ours_cmp, 3)
    try:
        theirs = bambi_cmp().summary
        ours = mixeff.avg_comparisons(fit, variables={"x": [0, 1]}, newdata=data, by="g")
        # bambi's estimate is the posterior mean of the group-averaged contrast: ours must agree
        # (its interval differs: bambi averages per-row bounds, issue #1004)
        np.testing.assert_allclose(ours.draws.mean(axis=1), theirs["estimate"].to_numpy(), atol=1e-10)
        print("\ncomparisons: per-group posterior means agree with bambi's estimates to 1e-10")
        t_bcmp, _ = measure(bambi_cmp, 1)
        print(
            f"\ncomparisons (x: 0 -> 1, by='g', 5000 rows): mixeff {t_cmp:.3f} s (peak {m_cmp / 2**20:.0f} MiB), "
            f"bambi {t_bcmp:.3f} s "
            f"-> mixeff {t_bcmp / t_cmp:.1f}x faster"
        )
    except Exception as err:  # bambi's interpret API differs across versions: report, don't hide
        print(f"\ncomparisons: mixeff {t_cmp:.3f} s; bambi interpret.comparisons failed: {err!r}")


if __name__ == "__main__":
    main()
