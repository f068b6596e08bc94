"""pp_check's streamed statistics at scale: time and peak traced memory, against avg_predictions.

The bernoulli ``y ~ x + (1 | g)`` model of ``bench_scale.py`` (draws without MCMC, 50 clusters) and newdata
of ``--rows`` rows at its clusters with an observed ``y``.  It times (best of ``--repeats``) and traces
(one run, tracemalloc)

* ``pp_check(type="stat", stat="mean", draw=False)``;
* ``pp_check(type="stat_grouped", stat="sd", group="g", draw=False)`` (50 panels);
* ``avg_predictions`` on the same rows,

and prints the ratios and the size a rows × draws array of float64 would have: the streamed checks hold
none (their peak is far below it).  The default is a quick size; the issue's is
``--rows 1000000 --draws 4000``.  CI does not run this.

Run: ``.venv/bin/python bench/bench_ppc.py [--rows 1000000] [--draws 4000] [--repeats 1]``
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from bench_engine import measure  # best wall time over repeats, and the peak traced memory of one run
from bench_scale import make_fit, newdata


def main():
    import mixeff

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    opts = parser.parse_args()
    warnings.simplefilter("ignore")  # prior draws relabelled as a posterior: no convergence noise
    fit = make_fit(opts.draws)
    data = newdata(opts.rows)
    rng = np.random.default_rng(2)
    data["y"] = (rng.random(opts.rows) < 0.4).astype(int)
    cases = {
        'pp_check(type="stat", stat="mean")': lambda: mixeff.pp_check(
            fit, "stat", stat="mean", newdata=data, seed=1, draw=False
        ),
        'pp_check(type="stat_grouped", stat="sd", group="g")': lambda: mixeff.pp_check(
            fit, "stat_grouped", stat="sd", group="g", newdata=data, seed=1, draw=False
        ),
        "avg_predictions": lambda: mixeff.avg_predictions(fit, newdata=data, progress=False).draws,
    }
    results = {name: measure(fn, opts.repeats) for name, fn in cases.items()}
    base_t, base_m = results["avg_predictions"]
    array = opts.rows * opts.draws * 8
    print(f"{opts.rows:,} rows x {opts.draws} draws; a rows x draws float64 array: {array / 2**30:.1f} GiB")
    print(f"{'case':<55} {'time (s)':>9} {'peak (MiB)':>11} {'time / avg':>11} {'peak / avg':>11} {'peak / array':>13}")
    for name, (t, m) in results.items():
        print(f"{name:<55} {t:>9.2f} {m / 2**20:>11.1f} {t / base_t:>11.2f} {m / base_m:>11.2f} {m / array:>13.5f}")
    worst = max(m for name, (_, m) in results.items() if name.startswith("pp_check"))
    assert worst < max(array / 100, 256 * 2**20), "a pp_check held something of the order of rows x draws"
    print(f"no rows x draws array: the pp_check peaks are at most {worst / array:.2%} of one")


if __name__ == "__main__":
    main()
