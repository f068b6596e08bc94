"""``mixeff demo``: the lognormal cluster example, conditional vs marginal means.

Fits ``y ~ 1 + TX + (1 | cluster)`` (lognormal) on the bundled Magnusson data and
prints, for TX = 0 and 1, the typical-cluster mean, the average over the
existing clusters, the exact integral over new clusters, the average over 100
simulated new clusters (with its Monte Carlo error) and the closed form
exp(β0 + β1·TX + (σ0² + σy²)/2), each with its 95% interval.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .bambi.fitting import MixedFit
    from .model.spec import ModelSpec


def demo_table(fit: MixedFit, n_new: int = 100, seed: int = 2022) -> pd.DataFrame:
    """The demo's comparison table for a fitted lognormal ``y ~ 1 + TX + (1 | cluster)`` model.

    Examples
    --------
    >>> import mixeff
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", mixeff.MonteCarloWarning)
    ...     t = demo_table(mixeff.example_fit())
    >>> t["quantity"].unique().tolist()[:3]
    ['typical cluster (re_formula="NA")', 'existing clusters (average)', 'new clusters, integrated out (exact)']
    """
    from . import datagrid, new_levels, predictions
    from .results import Result, summarise_draws

    spec = fit.spec()
    tx = [0, 1]
    rows = [
        ('typical cluster (re_formula="NA")', predictions(fit, datagrid(fit, TX=tx), re_formula="NA")),
        ("existing clusters (average)", predictions(fit, datagrid(fit, TX=tx, cluster="unique"), by="TX")),
        (
            "new clusters, integrated out (exact)",
            predictions(
                fit, datagrid(fit, TX=tx, cluster=new_levels(1)), allow_new_levels=True, sample_new_levels="integrate"
            ),
        ),
        (
            f"{n_new} simulated new clusters (average)",
            predictions(
                fit,
                datagrid(fit, TX=tx, cluster=new_levels(n_new)),
                by="TX",
                allow_new_levels=True,
                sample_new_levels="gaussian",
                seed=seed,
            ),
        ),
    ]
    closed = closed_form_means(spec, tx)
    out = []
    for name, res in rows:
        assert isinstance(res, Result)  # newdata is a pandas grid: the draws are in memory
        s = res.summary
        mc_se = [0.0] * len(s) if res.new_levels is None else res.new_levels.get("mc_se", [0.0] * len(s))
        out.append(
            pd.DataFrame(
                {
                    "quantity": name,
                    "TX": s["TX"].to_numpy(),
                    "estimate": s["estimate"],
                    "conf_low": s["conf_low"],
                    "conf_high": s["conf_high"],
                    "mc_se": mc_se,
                }
            )
        )
    cf = summarise_draws(closed)
    out.append(
        pd.DataFrame({"quantity": "closed form exp(b0 + b1 TX + (s0^2 + sy^2)/2)", "TX": tx, **cf, "mc_se": 0.0})
    )
    table = pd.concat(out, ignore_index=True)
    exact = rows[2][1].draws
    table.attrs["exact_vs_closed"] = float(np.max(np.abs(exact / closed - 1)))  # draw by draw
    return table


def closed_form_means(spec: ModelSpec, tx: Sequence[float]) -> np.ndarray:
    """``(len(tx), S)`` E[y | TX] over new clusters: exp(b0 + b1 TX + (s0² + sy²)/2), draw by draw."""
    b0 = spec.beta[:, spec.beta_names.index("Intercept")]
    b1 = spec.beta[:, spec.beta_names.index("TX")]
    v = (spec.groups["cluster"].sd[:, 0] ** 2 + spec.aux["sigma"] ** 2) / 2
    return np.exp(b0 + np.outer(tx, b1) + v)


def demo_ates(fit: MixedFit, n_new: int = 100, seed: int = 2022) -> pd.DataFrame:
    """The three ATEs of TX in Magnusson's example (typical, existing clusters, new clusters) and the closed form.

    Examples
    --------
    >>> import mixeff
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", mixeff.MonteCarloWarning)
    ...     bool(demo_ates(mixeff.example_fit())["estimate"].lt(0).all())
    True
    """
    from . import avg_comparisons, datagrid, new_levels
    from .results import summarise_draws

    spec = fit.spec()
    rows = [
        ('typical cluster (re_formula="NA")', avg_comparisons(fit, variables="TX", re_formula="NA")),
        ("existing clusters (average)", avg_comparisons(fit, variables="TX")),
        (
            "new clusters, integrated out (exact)",
            avg_comparisons(
                fit,
                variables="TX",
                newdata=datagrid(fit, cluster=new_levels(1)),
                allow_new_levels=True,
                sample_new_levels="integrate",
            ),
        ),
        (
            f"{n_new} simulated new clusters (average)",
            avg_comparisons(
                fit,
                variables="TX",
                newdata=datagrid(fit, cluster=new_levels(n_new)),
                allow_new_levels=True,
                sample_new_levels="gaussian",
                seed=seed,
            ),
        ),
    ]
    means = closed_form_means(spec, [0, 1])
    closed = (means[1] - means[0])[None, :]
    out = [
        pd.DataFrame(
            {
                "quantity": name,
                **r.summary[["estimate", "conf_low", "conf_high"]],
                "mc_se": [0.0] if r.new_levels is None else r.new_levels.get("mc_se", [0.0]),
            }
        )
        for name, r in rows
    ]
    out.append(pd.DataFrame({"quantity": "closed form difference", **summarise_draws(closed), "mc_se": 0.0}))
    return pd.concat(out, ignore_index=True)


def demo(draws: int, chains: int, seed: int, sampler: str, progress: bool) -> int:
    """Run ``mixeff demo``: fit the model on the bundled Magnusson data and print its tables; returns 0."""
    import mixeff

    data = mixeff.datasets.load_magnusson()
    print(
        f"Fitting y ~ 1 + TX + (1 | cluster), lognormal, on {len(data)} rows "
        f"({data['cluster'].nunique()} clusters): {chains} chains x {draws} draws ...",
        flush=True,
    )
    t0 = time.perf_counter()
    fit = mixeff.fit(
        "y ~ 1 + TX + (1 | cluster)",
        data,
        family="lognormal",
        draws=draws,
        tune=draws,
        chains=chains,
        seed=seed,
        sampler=sampler,
        progress=progress,
    )
    t_fit = time.perf_counter() - t0
    spec = fit.spec()
    params = {
        "Intercept (b0)": spec.beta[:, spec.beta_names.index("Intercept")],
        "TX (b1)": spec.beta[:, spec.beta_names.index("TX")],
        "sd(cluster) (s0)": spec.groups["cluster"].sd[:, 0],
        "sigma (sy)": spec.aux["sigma"],
    }
    print(f"\nPosterior (fitted in {t_fit:.0f} s)")
    print(
        pd.DataFrame(
            {k: [np.median(v), *np.quantile(v, [0.025, 0.975])] for k, v in params.items()},
            index=["estimate", "conf_low", "conf_high"],
        )
        .T.round(3)
        .to_string()
    )
    t1 = time.perf_counter()
    with warnings.catch_warnings():  # the demo prints the Monte Carlo error itself (column mc_se)
        warnings.simplefilter("ignore", mixeff.MonteCarloWarning)
        table = demo_table(fit, seed=seed)
        ates = demo_ates(fit, seed=seed)
    print(
        f"\nExpected weekly gambling losses in dollars, E[y], by TX (median and 95% interval of {spec.n_samples} draws)"
    )
    with pd.option_context("display.width", 140, "display.max_colwidth", 60):
        print(table.round(1).to_string(index=False))
    print(
        f"integrated vs the moment formula, draw by draw: max relative difference {table.attrs['exact_vs_closed']:.1e}"
    )
    print("\nAverage treatment effect of TX, E[y | TX = 1] - E[y | TX = 0]")
    with pd.option_context("display.width", 140, "display.max_colwidth", 60):
        print(ates.round(1).to_string(index=False))
    print(
        f"\n(computed in {time.perf_counter() - t1:.1f} s). The typical cluster (b = 0) is not the average "
        "cluster: on the log scale the cluster effects are symmetric, on the dollar scale they are not, so "
        "averages over clusters sit above the typical cluster. Integrating the new clusters out gives the "
        "closed form exactly, draw by draw; 100 simulated clusters approximate it with the Monte Carlo "
        "error in mc_se (median over draws)."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mixeff`` command line (``mixeff demo --draws 1000 --chains 4``).

    Examples
    --------
    >>> main(["--help"])
    Traceback (most recent call last):
    ...
    SystemExit: 0
    """
    from . import __version__

    parser = argparse.ArgumentParser(prog="mixeff", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "demo", help="fit the lognormal cluster model of Magnusson's example (bundled data) and compare its means"
    )
    d.add_argument("--draws", type=int, default=1000, help="draws per chain (and warm-up draws)")
    d.add_argument("--chains", type=int, default=4)
    d.add_argument("--seed", type=int, default=2022)
    d.add_argument("--sampler", choices=["pymc", "nutpie"], default="pymc")
    d.add_argument("--no-progress", action="store_true", help="hide the sampler's progress bar")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.draws, args.chains, args.seed, args.sampler, not args.no_progress)
    return 1


if __name__ == "__main__":
    sys.exit(main())
