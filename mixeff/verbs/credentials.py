"""What a verb's numbers carry besides the draws: how new levels were treated, and how exactly."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from ..diagnostics import rhat_and_bulk_ess
from ..engine.passes import ArmPass
from ..engine.quantiles import row_median
from ..records import NewLevels
from ..results import ConvergenceWarning, MonteCarloWarning, Result

RHAT_MAX = 1.01
ESS_BULK_MIN = 100
CHECKED_ROWS = 32
"""Rows checked at verb time (spread over the result); ``summarise(diagnostics=True)`` checks every row."""
MC_SE_WARN_RATIO = 0.1
"""Warn when the Monte Carlo SE of an average over simulated levels exceeds this share of the posterior sd."""


def new_level_credentials(arms: ArmPass, values: np.ndarray, transform=None) -> NewLevels | None:
    """The pass's new-level record, with the Monte Carlo error of simulated averages (and a warning).

    ``values`` are the ``(rows, S)`` draws before ``transform``; the Monte Carlo SE is
    carried through ``transform`` by its local slope.
    """
    record = arms.new_level_record()
    if record is None or arms.monte_carlo_se is None:
        return record
    se = arms.monte_carlo_se.reshape(values.shape)
    if transform is not None:
        se = np.abs(transform(values + se) - transform(values - se)) / 2
        values = transform(values)
    per_row = row_median(se)
    ratio = per_row / np.maximum(values.std(axis=1, ddof=1), np.finfo(float).tiny)
    record = replace(record, mc_se=per_row.tolist(), mc_se_ratio=ratio.tolist())
    if np.max(ratio) > MC_SE_WARN_RATIO:
        k = ", ".join(f"{f} = {n}" for f, n in record.levels.items())
        warnings.warn(
            f"the average over simulated new levels ({k}) carries Monte Carlo error: its standard error "
            f"(median over draws) is up to {np.max(ratio):.0%} of the posterior sd of the estimate. Use "
            "sample_new_levels='integrate' for the exact average over the population of levels, or more levels",
            MonteCarloWarning,
            stacklevel=4,
        )
    return record


def check_convergence(fit, result: Result) -> None:
    """Warn once (:class:`ConvergenceWarning`) when the result's draws show convergence problems.

    Problems are R-hat > 1.01, bulk ESS < 100, or divergences reported by the sampler; silent for
    healthy fits and for prior draws.
    """
    if result.source == "prior":
        return
    rows = np.unique(np.linspace(0, len(result) - 1, min(len(result), CHECKED_ROWS)).astype(int))
    x = result.draws[rows].reshape(len(rows), result.n_chains, result.n_draws)
    with np.errstate(invalid="ignore", divide="ignore"):
        r, e = rhat_and_bulk_ess(x)
    problems = []
    if np.any(r > RHAT_MAX):
        problems.append(
            f"R-hat up to {np.nanmax(r):.4f} (> {RHAT_MAX}) in {int(np.sum(r > RHAT_MAX))} of {len(rows)} rows checked"
        )
    if np.any(e < ESS_BULK_MIN):
        problems.append(
            f"bulk ESS as low as {np.nanmin(e):.0f} (< {ESS_BULK_MIN}) in {int(np.sum(e < ESS_BULK_MIN))} "
            f"of {len(rows)} rows checked"
        )
    divergent = _divergences(fit)
    if divergent and divergent[0] > 0:
        problems.append(f"{divergent[0]} of {divergent[1]} draws divergent")
    if problems:
        warnings.warn(
            f"the {result.kind} may not be trustworthy: " + "; ".join(problems) + ". Remedies: more draws "
            "(draws=, chains=), a higher target_accept (e.g. mixeff.fit(..., target_accept=0.95)), a "
            "reparameterisation, or a check of the model; result.summarise(diagnostics=True) gives every row's "
            "R-hat, ESS and MCSE",
            ConvergenceWarning,
            stacklevel=4,
        )


def _divergences(fit) -> tuple[int, int] | None:
    """``(divergent, total)`` draws from the fit's ``sample_stats``, when it has them."""
    idata = getattr(fit, "idata", None)
    if idata is None or "sample_stats" not in [n.strip("/") for n in getattr(idata, "children", {})]:
        return None
    stats = idata["sample_stats"]
    if "diverging" not in stats:
        return None
    diverging = np.asarray(stats["diverging"].values)
    return int(diverging.sum()), int(diverging.size)
