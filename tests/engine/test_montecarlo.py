"""engine.montecarlo: the Monte Carlo SE of averages over K simulated new levels, against its formula.

SE_g = sqrt(K/(K−1) · Σ_k W_k² ψ_k²) / W_g with ψ_k = Σ_j ∂f/∂M̄_j (M_jk − M̄_j), written out by hand.
"""

import types

import numpy as np
import pandas as pd
import pytest
from toy_models import make_spec

from mixeff.engine.design import prepare
from mixeff.engine.montecarlo import level_grouping, monte_carlo_se
from mixeff.engine.options import PassOptions
from mixeff.engine.random_effects import plan_random_effects
from mixeff.engine.reduce import Grouping, GroupMeans

K, S = 5, 30


def level_accumulators(values, weights, level, group, n_groups=1):
    """GroupMeans over (group × level) cells of ``(parts, rows, S)`` values, and the group means."""
    cells = group * K + level
    levels = GroupMeans(Grouping(cells, pd.DataFrame(index=range(n_groups * K)), weights), S, len(values))
    groups = GroupMeans(Grouping(group, pd.DataFrame(index=range(n_groups)), weights), S, len(values))
    for part, v in enumerate(values):
        np.add.at(levels.sums[part], cells, weights[:, None] * v)
        np.add.at(groups.sums[part], group, weights[:, None] * v)
    return levels, groups.result()


def test_equal_weights_and_a_mean_give_the_sd_across_levels_over_root_k():
    rng = np.random.default_rng(0)
    level = np.repeat(np.arange(K), 4)  # 4 rows at each of K new levels, one group
    values = rng.normal(0, 1, (1, len(level), S))
    levels, means = level_accumulators(values, np.ones(len(level)), level, np.zeros(len(level), int))
    se = monte_carlo_se(lambda m: m[0], means, levels, K)
    per_level = values[0].reshape(K, 4, S).mean(axis=1)  # (K, S)
    np.testing.assert_allclose(se[0], per_level.std(axis=0, ddof=1) / np.sqrt(K), rtol=1e-6)


def test_weighted_ratio_of_means_by_the_delta_method_by_hand():
    """f = M̄_hi / M̄_lo (marginaleffects' avg ratio), unequal weights, two groups."""
    rng = np.random.default_rng(1)
    n = 40
    level, group = rng.integers(0, K, n), rng.integers(0, 2, n)
    w = rng.uniform(0.5, 2.0, n)
    values = rng.uniform(1, 3, (2, n, S))  # parts: lo, hi
    levels, means = level_accumulators(values, w, level, group, n_groups=2)
    se = monte_carlo_se(lambda m: m[1] / m[0], means, levels, K)
    for g in range(2):
        for s in (0, 11, S - 1):
            lo, hi = means[0, g, s], means[1, g, s]
            psi, wk = [], []
            for k in range(K):
                rows = (group == g) & (level == k)
                if not rows.any():
                    continue
                wsum = w[rows].sum()
                m_lo = (w[rows] * values[0, rows, s]).sum() / wsum
                m_hi = (w[rows] * values[1, rows, s]).sum() / wsum
                psi.append(-hi / lo**2 * (m_lo - lo) + 1 / lo * (m_hi - hi))
                wk.append(wsum)
            psi, wk = np.array(psi), np.array(wk)
            k_present = len(psi)
            ref = np.sqrt(k_present / (k_present - 1) * np.sum(wk**2 * psi**2)) / wk.sum()
            np.testing.assert_allclose(se[g, s], ref, rtol=1e-5)


def _arms(spec, frames, how="gaussian"):
    options = PassOptions(include={"g": [0, 1]}, allow_new_levels=True, sample_new_levels=how)
    plans = plan_random_effects(spec.groups, options.include, frames, options, np.random.default_rng(0))
    designs = [prepare(spec, plans, f, "response") for f in frames]
    return types.SimpleNamespace(spec=spec, options=options, plans=plans, designs=designs)


def test_level_grouping_crosses_groups_with_new_levels():
    spec = make_spec()
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "g": ["n1", "n2", "n1", "n3", "n2"]})
    groups = Grouping(np.array([0, 0, 1, 1, 1]), pd.DataFrame({"z": ["p", "q"]}), np.ones(5))
    cells, k = level_grouping(_arms(spec, [frame]), groups)
    assert k == 3
    # group × new level: (p, n1) = 0, (p, n2) = 1, (q, n1) = 3, (q, n3) = 5, (q, n2) = 4
    np.testing.assert_array_equal(cells.codes, [0, 1, 3, 5, 4])
    assert len(cells.keys) == 6


@pytest.mark.parametrize(
    "g, how",
    [
        (["n1", "a", "n1", "n2", "n2"], "gaussian"),  # a row at an existing level
        (["n1", "n2", "n1", "n2", "n2"], "integrate"),  # nothing simulated
        (["n1", "n1", "n1", "n1", "n1"], "gaussian"),  # one new level: no spread to measure
    ],
)
def test_no_level_grouping_outside_the_common_design(g, how):
    spec = make_spec()
    frame = pd.DataFrame({"x": np.arange(5.0), "g": g})
    groups = Grouping(np.zeros(5, dtype=np.int64), pd.DataFrame(index=[0]), np.ones(5))
    assert level_grouping(_arms(spec, [frame], how), groups) is None
    assert level_grouping(_arms(spec, [frame], how), None) is None
