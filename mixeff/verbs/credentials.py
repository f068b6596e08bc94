"""What a verb's numbers carry besides the draws: how new levels were treated, and how exactly."""

from __future__ import annotations

import warnings

import numpy as np

from ..engine.passes import ArmPass
from ..results import MonteCarloWarning

MC_SE_WARN_RATIO = 0.1
"""Warn when the Monte Carlo SE of an average over simulated levels exceeds this share of the posterior sd."""


def new_level_credentials(arms: ArmPass, values: np.ndarray, transform=None) -> dict | None:
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
    per_row = np.median(se, axis=1)
    ratio = per_row / np.maximum(values.std(axis=1, ddof=1), np.finfo(float).tiny)
    record.update(mc_se=per_row.tolist(), mc_se_ratio=ratio.tolist())
    if np.max(ratio) > MC_SE_WARN_RATIO:
        k = ", ".join(f"{f} = {n}" for f, n in record["levels"].items())
        warnings.warn(
            f"the average over simulated new levels ({k}) carries Monte Carlo error: its standard error "
            f"(median over draws) is up to {np.max(ratio):.0%} of the posterior sd of the estimate. Use "
            "sample_new_levels='integrate' for the exact average over the population of levels, or more levels",
            MonteCarloWarning, stacklevel=4,
        )
    return record
