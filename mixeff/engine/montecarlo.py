"""The Monte Carlo error of averages over simulated new levels (``sample_new_levels="gaussian"``).

An average over K simulated levels is itself a Monte Carlo estimate, per draw.
Its standard error comes from the scatter of the per-level means: for a
quantity ``f(M̄_1, …, M̄_m)`` of within-draw group means (a prediction, a
difference, or marginaleffects' ratio of means), linearise ``f`` around the
group means and sum the squared per-level influences,

    SE_g = sqrt(K/(K−1) · Σ_k W_k² ψ_k²) / W_g,   ψ_k = Σ_j ∂f/∂M̄_j · (M_jk − M̄_j),

with ``W_k`` the level's total weight (``sd across levels / √K`` for equal
weights and f = mean).  Only the common design is covered: every averaged row at
a new level of one simulated factor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .reduce import Grouping, GroupMeans

MAX_LEVEL_CELLS = 5e7
"""Skip the error estimate when per-level accumulators would exceed this many cells (400 MB)."""


def level_grouping(arms: Any, groups: Grouping | None) -> tuple[Grouping, int] | None:
    """``(group × new level) cells`` grouping of the rows and K, or None when not applicable."""
    if groups is None or arms.options.sample_new_levels == "integrate":
        return None
    simulated = [(j, p) for j, p in enumerate(arms.plans) if p.n_new]
    if len(simulated) != 1 or simulated[0][1].n_new < 2:
        return None
    j, plan = simulated[0]
    codes = arms.designs[0].codes[j]
    if any(not np.array_equal(d.codes[j], codes) for d in arms.designs[1:]) or not plan.new_rows(codes).all():
        return None
    k = plan.n_new
    n_groups = len(groups.keys)
    if 2 * n_groups * k * arms.spec.n_samples > MAX_LEVEL_CELLS:
        return None
    cells = groups.codes * k + (codes - (len(plan.labels) - k))
    return Grouping(cells, pd.DataFrame(index=np.arange(n_groups * k)), groups.weights), k


def monte_carlo_se(
    finish: Callable[[np.ndarray], np.ndarray], group_means: np.ndarray, levels: GroupMeans, k: int
) -> np.ndarray:
    """``(G, S)`` per-draw standard error of ``finish(group_means)`` over the K simulated levels."""
    n_parts, n_groups, s = group_means.shape
    weights = levels.total.reshape(n_groups, k)
    present = weights > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        level_means = levels.sums / np.where(levels.total > 0, levels.total, 1.0)[None, :, None]
    level_means = level_means.reshape(n_parts, n_groups, k, s)
    influence = np.zeros((n_groups, k, s))
    for j in range(n_parts):
        h = 1e-6 * (np.abs(group_means[j]) + 1e-8)
        up, down = group_means.copy(), group_means.copy()
        up[j] += h
        down[j] -= h
        slope = (finish(up) - finish(down)) / (2 * h)
        influence += slope[:, None, :] * (level_means[j] - group_means[j][:, None, :])
    influence *= present[:, :, None]
    n_levels = present.sum(axis=1)
    factor = np.where(n_levels > 1, n_levels / np.maximum(n_levels - 1, 1), np.nan)
    total = weights.sum(axis=1)
    var = factor[:, None] * np.einsum("gk,gks->gs", weights**2, influence**2)
    return np.sqrt(var) / total[:, None]
