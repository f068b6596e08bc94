"""Scale-out benchmark: cells per second per core, one core and all, against a numpy floor and Bambi.

A bernoulli ``y ~ x + (1 | g)`` model (draws from Bambi's prior sampler relabelled as a
posterior, 50 clusters); newdata of 5k / 50k / 1M rows at the model's clusters.  For each
size and number of draws it times

* ``predictions`` (rows × draws kept), ``avg_predictions`` and ``avg_comparisons`` (x: 0 → 1),
  on one thread (``n_jobs=1``) and on every core;
* the naive numpy floor of each, on one thread: η = Xβ + b[g], 1/(1 + e^−η), in row blocks
  (for the contrast: the two arms' probabilities, subtracted);
* Bambi's ``Model.predict`` at 5k rows (its cost grows with rows × draws in one array);

and reports cells/s/core, the ratios the issue asks for, and peak traced memory.  With
``--dask`` it also runs avg_comparisons on a 2-worker ``LocalCluster`` (processes) at the
largest size.  Timings are noisy here: every case is the best of several runs, the cases
compared with each other are timed in turn, and all ratios come from this one run.

``--huge`` runs only avg_comparisons(by='g') at 10⁷ rows × 4000 draws (time and peak memory), then
the same on the 2-worker cluster against in-process runs, in turn.

Run: ``.venv/bin/python bench/bench_scale.py [--quick] [--dask] [--huge] [--rows 5000,50000] [--draws 1000]``
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import xarray as xr
from bench_engine import measure  # best wall time over repeats, and the peak traced memory of one run

N_GROUPS = 50


def make_fit(n_samples: int):
    import bambi as bmb

    import mixeff
    from mixeff.bambi.fitting import _split_chains

    rng = np.random.default_rng(0)
    n = 2000
    g = rng.integers(0, N_GROUPS, n)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 0.8 * x + rng.normal(0, 1, N_GROUPS)[g])))).astype(int)
    data = pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})
    model = bmb.Model("y ~ x + (1 | g)", data, family="bernoulli")
    model.build()
    prior = model.prior_predictive(draws=n_samples, random_seed=1)["prior"].to_dataset()
    keep = [v for v in prior.data_vars if "__obs__" not in prior[v].dims]
    post = _split_chains(prior[keep], 4)
    idata = xr.DataTree.from_dict({"posterior": post})
    return mixeff.from_bambi(model, idata)


def newdata(n_rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=n_rows), rng.integers(0, N_GROUPS, n_rows)
    return pd.DataFrame({"x": x, "g": np.array([f"g{i}" for i in range(N_GROUPS)])[g]})


def floors(fit, data):
    """Naive numpy, one thread, in 2 MiB row blocks: predictions, their mean, and the 0 → 1 contrast's mean."""
    post = fit.idata["posterior"]
    s = post.sizes["chain"] * post.sizes["draw"]
    intercept, slope = post["Intercept"].values.ravel(), post["x"].values.ravel()
    b = post["1|g"].transpose("chain", "draw", "g__factor_dim").values.reshape(s, -1).T.copy()
    g = pd.Index(post["g__factor_dim"].values).get_indexer(data["g"])
    x = data["x"].to_numpy()
    block = max(1, (1 << 18) // s)

    def prob(rows, xv):
        eta = xv[:, None] * slope + intercept + b[g[rows]]
        return 1 / (1 + np.exp(-eta))

    def predictions():
        return np.vstack([prob(slice(i, i + block), x[i : i + block]) for i in range(0, len(x), block)])

    def avg_predictions():
        total = np.zeros(s)
        for i in range(0, len(x), block):
            total += prob(slice(i, i + block), x[i : i + block]).sum(axis=0)
        return total / len(x)

    def avg_comparisons():
        total = np.zeros(s)
        for i in range(0, len(x), block):
            rows = slice(i, i + block)
            n = len(x[rows])
            total += (prob(rows, np.ones(n)) - prob(rows, np.zeros(n))).sum(axis=0)
        return total / len(x)

    return {"predictions": predictions, "avg_predictions": avg_predictions, "avg_comparisons": avg_comparisons}


def verbs(fit, data, n_jobs):
    import mixeff

    return {
        "predictions": lambda: mixeff.predictions(fit, data, n_jobs=n_jobs, progress=False).draws,
        "avg_predictions": lambda: mixeff.avg_predictions(fit, data, n_jobs=n_jobs, progress=False).draws,
        "avg_comparisons": lambda: (
            mixeff.avg_comparisons(fit, {"x": [0, 1]}, newdata=data, n_jobs=n_jobs, progress=False).draws
        ),
    }


def best_time(fn, repeats: int) -> float:
    return measure(fn, repeats)[0]


def interleaved_best(fns: list, repeats: int) -> list[float]:
    """Best wall time of each of ``fns``, timed in turn ``repeats`` times: the cases compared with each
    other (one core, all cores, the floor) meet the same moments of this machine's noise."""
    import gc
    import time

    best = [np.inf] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            gc.collect()
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def peak_memory(fn) -> float:
    return measure(fn, 0)[1]


def main():
    from mixeff.engine.parallel import available_cores

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5k and 50k rows x 1000 draws only")
    parser.add_argument("--rows", default="5000,50000,1000000")
    parser.add_argument("--draws", default="1000,4000")
    parser.add_argument("--dask", action="store_true", help="also avg_comparisons on a 2-worker LocalCluster")
    parser.add_argument(
        "--huge",
        action="store_true",
        help="only avg_comparisons(by='g') at 10^7 rows x 4000 draws: in-process (time, peak) and dask",
    )
    opts = parser.parse_args()
    if opts.huge:
        bench_huge(10_000_000, 4000)
        bench_dask(10_000_000, 4000)
        return
    rows = [5000, 50000] if opts.quick else [int(r) for r in opts.rows.split(",")]
    draws = [1000] if opts.quick else [int(d) for d in opts.draws.split(",")]
    cores = available_cores()
    print(f"bernoulli y ~ x + (1 | g), {N_GROUPS} clusters; {cores} cores; cells = rows x draws\n")
    print(f"{'case':<50}{'time s':>9}{'Mcells/s/core':>15}{'peak MiB':>10}")
    summary = []
    for s in draws:
        fit = make_fit(s)
        for n in rows:
            data = newdata(n)
            cells = n * s
            repeats = 3 if cells <= 1e9 else 2
            floor = floors(fit, data)
            one, every = verbs(fit, data, 1), verbs(fit, data, None)
            np.testing.assert_allclose(one["avg_comparisons"]()[0], floor["avg_comparisons"](), rtol=1e-9)
            times = {}
            for name in ("predictions", "avg_predictions", "avg_comparisons"):
                if name == "predictions" and cells * 8 > 4e9:
                    print(f"{name + f' {n:,} x {s}':<50}{'(rows x draws over 4 GB: skipped)':>34}")
                    continue
                cases = [
                    ("numpy floor", floor[name], 1),
                    ("mixeff n_jobs=1", one[name], 1),
                    (f"mixeff all {cores} cores", every[name], cores),
                ]
                best = interleaved_best([fn for _, fn, _ in cases], repeats)
                for (label, fn, used), t in zip(cases, best):
                    peak = peak_memory(fn)
                    times[(name, label.split()[0] + ("1" if "=1" in label else ""))] = t
                    print(
                        f"{f'{name} {n:,} x {s}: {label}':<50}{t:>9.3f}{cells / t / used / 1e6:>15.1f}"
                        f"{peak / 2**20:>10.1f}"
                    )
            if n <= 5000:

                def bambi(fit=fit, data=data):
                    return fit.model.predict(fit.idata, kind="response_params", data=data, inplace=False)

                t = best_time(bambi, 1)
                print(f"{f'bambi Model.predict {n:,} x {s}':<50}{t:>9.3f}{cells / t / 1e6:>15.1f}")
                times[("predictions", "bambi")] = t
            summary.append((n, s, times))
            print()
    print("ratios (time / time; lower is better unless a speed-up)")
    for n, s, t in summary:

        def get(name, who, t=t):
            return t.get((name, who), np.nan)

        line = (
            f"{n:>9,} x {s}: avg_comparisons / avg_predictions (1 core) "
            f"{get('avg_comparisons', 'mixeff1') / get('avg_predictions', 'mixeff1'):.2f} (target <= 1.5); "
            f"avg_comparisons / numpy floor {get('avg_comparisons', 'mixeff1') / get('avg_comparisons', 'numpy'):.2f}"
            " (target <= 1.0); all-core speed-up avg_predictions "
            f"{get('avg_predictions', 'mixeff1') / get('avg_predictions', 'mixeff'):.2f}, avg_comparisons "
            f"{get('avg_comparisons', 'mixeff1') / get('avg_comparisons', 'mixeff'):.2f} (target >= 1.6)"
        )
        if ("predictions", "bambi") in t:
            line += f"; predictions vs bambi {get('predictions', 'bambi') / get('predictions', 'mixeff1'):.1f}x faster"
        print(line)
    if opts.dask:
        bench_dask(rows[-1], draws[-1])


def bench_huge(n: int, s: int):
    """avg_comparisons(by='g') at n rows x s draws on every core: the wall time of one run (progress
    shown), then a second run under tracemalloc for the peak memory of the call (its own arrays;
    tracemalloc slows allocation, so that run is not timed), and the process's peak resident memory
    (the table and the fit included)."""
    import resource
    import time
    import tracemalloc

    import mixeff

    fit, data = make_fit(s), newdata(n)
    table_mib = data.memory_usage(deep=True).sum() / 2**20

    def call(progress):
        return mixeff.avg_comparisons(fit, {"x": [0, 1]}, newdata=data, by="g", progress=progress)

    t = time.perf_counter()
    result = call(True)
    elapsed = time.perf_counter() - t
    tracemalloc.start()
    call(False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(
        f"\n{n:,} rows x {s} draws, avg_comparisons(by='g') on every core: {elapsed:.1f} s, "
        f"{n * s / elapsed / 1e6:.0f} Mcells/s; peak memory of the call {peak / 2**20:.0f} MiB "
        f"(rows x draws would be {n * s * 8 / 2**30:.0f} GiB), process peak RSS {rss:.0f} MiB with a "
        f"{table_mib:.0f} MiB table; {result.draws.shape[0]} groups"
    )


def bench_dask(n: int, s: int, repeats: int = 2, partitions: int = 16):
    """avg_comparisons(by='g') on a 2-worker LocalCluster of processes vs in-process on every core.

    The table is written to parquet files and read into the workers' memory (persisted), as a table
    past one machine would be; so the time is that of going distributed, not of reading files.  After
    one warm-up call on the cluster (the workers import mixeff and load the numba kernels), the two
    are timed in turn, ``repeats`` times each, and the best of each compared; the draws must agree
    to 1e-12.  The in-process runs share this process with the LocalCluster's scheduler, which can
    slow them: ``--huge`` also times the call before the cluster starts.
    """
    import tempfile
    import time

    import dask.dataframe as dd
    import distributed

    import mixeff

    def timed(fn):
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out

    fit, data = make_fit(s), newdata(n)
    local = lambda: mixeff.avg_comparisons(fit, {"x": [0, 1]}, newdata=data, by="g", progress=False).draws  # noqa: E731
    with (
        tempfile.TemporaryDirectory() as tmp,
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c,
        distributed.Client(c),
    ):
        step = -(-n // partitions)
        for i, start in enumerate(range(0, n, step)):
            data.iloc[start : start + step].to_parquet(f"{tmp}/part.{i:03d}.parquet")
        frame = dd.read_parquet(tmp).persist()
        distributed.wait(frame)
        run = lambda: mixeff.avg_comparisons(fit, {"x": [0, 1]}, newdata=frame, by="g").draws  # noqa: E731
        t_cold, _ = timed(run)
        t_local, t_dask = [], []
        for _ in range(repeats):
            seconds, want = timed(local)
            t_local.append(seconds)
            seconds, got = timed(run)
            t_dask.append(seconds)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    print(
        f"\ndask, {n:,} x {s}, avg_comparisons(by='g'), {partitions} parquet partitions persisted on 2 workers: "
        f"{min(t_dask):.2f} s (runs {', '.join(f'{t:.1f}' for t in t_dask)}; first call {t_cold:.1f} s) vs "
        f"in-process all cores {min(t_local):.2f} s (runs {', '.join(f'{t:.1f}' for t in t_local)}) -> "
        f"{min(t_dask) / min(t_local):.2f}x (target <= 1.3); draws equal to 1e-12"
    )


if __name__ == "__main__":
    main()
