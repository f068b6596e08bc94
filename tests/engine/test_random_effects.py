"""engine.random_effects on toy specs: existing levels keep their draws, new levels get one simulated
draw shared by every row and arm at that level, reproducibly, as brms simulates them."""

import numpy as np
import pandas as pd
import pytest
from toy_models import LEVELS, S, make_spec

from mixeff.engine.options import PassOptions
from mixeff.engine.random_effects import covariance, matrix_root, plan_random_effects, simulate_new_levels


def plan(spec, frames, how="gaussian", seed=5, include=None, allow=True):
    include = {"g": [0, 1]} if include is None else include
    options = PassOptions(include=include, allow_new_levels=allow, sample_new_levels=how)
    return plan_random_effects(spec.groups, options.include, frames, options, np.random.default_rng(seed))


def effects_of_rows(p, frame):
    """``(rows, S, k)``: each row's effects, read from the plan's table."""
    return p.table_t[:, p.codes(frame), :].transpose(1, 2, 0)


def test_existing_levels_map_to_their_own_draws(spec, frame):
    (p,) = plan(spec, [frame])
    b = spec.groups["g"].b  # (S, L, k)
    assert p.n_new == 2 and not p.integrated and p.table_t.flags.c_contiguous
    assert p.table_t.shape == (2, len(LEVELS) + 2, S)
    for r, level in enumerate(frame["g"]):
        if level in LEVELS:
            np.testing.assert_array_equal(effects_of_rows(p, frame)[r], b[:, LEVELS.index(level), :])
    np.testing.assert_array_equal(p.new_rows(p.codes(frame)), [False, False, False, True, False, True, True])


def test_a_new_level_is_one_draw_shared_by_its_rows_and_by_every_arm(spec, frame):
    hi = frame.assign(x=frame["x"] + 1.0)
    (p,) = plan(spec, [frame, hi])
    rows = effects_of_rows(p, frame)
    np.testing.assert_array_equal(rows[3], rows[5])  # both rows at n1
    assert not np.array_equal(rows[3], rows[6])  # n1 and n2 are different levels
    np.testing.assert_array_equal(effects_of_rows(p, hi), rows)  # the other arm reads the same table


def test_new_levels_are_reproducible_under_a_seed_and_differ_across_seeds(spec, frame):
    one, again, other = plan(spec, [frame], seed=9)[0], plan(spec, [frame], seed=9)[0], plan(spec, [frame], seed=10)[0]
    np.testing.assert_array_equal(one.table_t, again.table_t)
    assert not np.array_equal(one.table_t[:, 3:], other.table_t[:, 3:])
    np.testing.assert_array_equal(one.table_t[:, :3], other.table_t[:, :3])  # existing levels: no randomness


def test_gaussian_new_levels_are_the_cholesky_factor_times_standard_normals(spec):
    """brms: b_new = L z, L L' = Σ_s = diag(sd) R diag(sd), z ~ N(0, I), per draw and level."""
    group = spec.groups["g"]
    got = simulate_new_levels(group, 3, "gaussian", np.random.default_rng(4))
    z = np.random.default_rng(4).standard_normal((S, 3, 2))
    for s in range(S):
        sd, rho = group.sd[s], group.cor[s, 0, 1]
        cov = np.array([[sd[0] ** 2, rho * sd[0] * sd[1]], [rho * sd[0] * sd[1], sd[1] ** 2]])
        chol = np.linalg.cholesky(cov)
        np.testing.assert_allclose(got[s], z[s] @ chol.T, rtol=1e-12)


def test_uncorrelated_gaussian_new_levels_scale_by_the_sd():
    group = make_spec(correlated=False).groups["g"]
    got = simulate_new_levels(group, 2, "gaussian", np.random.default_rng(4))
    np.testing.assert_array_equal(got, np.random.default_rng(4).standard_normal((S, 2, 2)) * group.sd[:, None, :])


def test_uncertainty_copies_a_random_existing_level_per_draw_and_old_levels_one_for_all_draws(spec):
    group = spec.groups["g"]
    got = simulate_new_levels(group, 4, "uncertainty", np.random.default_rng(2))
    pick = np.random.default_rng(2).integers(0, len(LEVELS), size=(S, 4))
    for s in range(S):
        for n in range(4):
            np.testing.assert_array_equal(got[s, n], group.b[s, pick[s, n]])
    assert len({tuple(p) for p in pick.T}) > 1  # levels vary across draws
    old = simulate_new_levels(group, 4, "old_levels", np.random.default_rng(2))
    chosen = np.random.default_rng(2).integers(0, len(LEVELS), size=4)
    np.testing.assert_array_equal(old, group.b[:, chosen, :])
    assert simulate_new_levels(group, 0, "gaussian", np.random.default_rng(2)).shape == (S, 0, 2)


def test_covariance_and_its_root_by_hand(spec):
    group = spec.groups["g"]
    cov = covariance(group)
    for s in (0, 17, S - 1):
        sd, rho = group.sd[s], group.cor[s, 0, 1]
        np.testing.assert_allclose(cov[s], [[sd[0] ** 2, rho * sd[0] * sd[1]], [rho * sd[0] * sd[1], sd[1] ** 2]])
    root = matrix_root(cov)
    np.testing.assert_allclose(root @ root.transpose(0, 2, 1), cov, rtol=1e-12, atol=1e-15)
    # |ρ| = 1: not positive definite, the eigen-root still gives R R' = Σ
    singular = np.array([[[4.0, 2.0], [2.0, 1.0]]])
    r = matrix_root(singular)
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), singular, atol=1e-12)
    independent = make_spec(correlated=False).groups["g"]
    np.testing.assert_array_equal(covariance(independent)[:, [0, 1], [0, 1]], independent.sd**2)
    assert np.all(covariance(independent)[:, 0, 1] == 0.0)


def test_integrate_leaves_new_levels_at_zero_and_keeps_their_covariance(spec, frame):
    (p,) = plan(spec, [frame], how="integrate")
    assert p.integrated
    np.testing.assert_array_equal(p.table_t[:, 3:, :], 0.0)
    np.testing.assert_allclose(p.cov_t.transpose(2, 0, 1), covariance(spec.groups["g"]))


def test_re_formula_keeps_only_the_named_terms(spec, frame):
    (p,) = plan(spec, [frame], include={"g": [1]})
    np.testing.assert_array_equal(p.active, [1])
    np.testing.assert_array_equal(p.table_t[0, :3], spec.groups["g"].b[:, :, 1].T)
    assert plan(spec, [frame], include={}) == []  # re_formula = NA: no factor at all


def test_new_levels_need_permission_and_are_named(spec, frame):
    with pytest.raises(ValueError, match=r"level\(s\) \['n1', 'n2'\] of grouping factor 'g'"):
        plan(spec, [frame], allow=False)
    (p,) = plan(spec, [pd.DataFrame({"x": [0.0], "g": ["b"]})], allow=False)  # existing only: fine
    assert p.n_new == 0 and list(p.labels) == LEVELS
