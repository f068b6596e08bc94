"""engine.passes through its public entry only, ``run(ArmPass(spec, frames, options), quantities, groups)``:
per-row values and within-draw group means against numpy by hand.

passes.py is being rewritten: these tests use nothing else of it, so they adapt in one place.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import special
from toy_models import LEVELS, eta_by_hand, make_spec

from mixeff.engine.options import PassOptions
from mixeff.engine.passes import ArmPass, ArmValue, run
from mixeff.engine.reduce import grouping

EXISTING = pd.DataFrame({"x": [0.5, -1.0, 2.0, 0.0, 1.5, -0.3], "g": ["a", "b", "c", "a", "c", "b"]})


def own_table(spec):
    return {lev: spec.groups["g"].b[:, i, :] for i, lev in enumerate(LEVELS)}


@pytest.mark.parametrize("family, inverse", [("gaussian", lambda e: e), ("bernoulli", special.expit)])
@pytest.mark.parametrize("chunk_rows", [None, 1, 4])
def test_per_row_values_are_the_inverse_link_of_x_beta_plus_z_b(family, inverse, chunk_rows):
    spec = make_spec(family)
    options = PassOptions(include={"g": [0, 1]}, chunk_rows=chunk_rows)
    (got,) = run(ArmPass(spec, [EXISTING], options), [ArmValue()], None)
    ref = inverse(eta_by_hand(spec, EXISTING, own_table(spec)))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)


def test_re_formula_na_leaves_x_beta_only():
    spec = make_spec()
    (got,) = run(ArmPass(spec, [EXISTING], PassOptions(include={})), [ArmValue()], None)
    x = EXISTING["x"].to_numpy()
    np.testing.assert_allclose(got, spec.beta[:, 0][None, :] + x[:, None] * spec.beta[:, 1][None, :], rtol=1e-13)


def test_group_means_within_each_draw_by_hand():
    spec = make_spec("bernoulli")
    frame = EXISTING.assign(z=["p", "q", "p", "p", "q", "q"], w=[1.0, 2.0, 0.5, 1.5, 1.0, 3.0])
    groups = grouping(frame, ["z"], "w")
    (got,) = run(ArmPass(spec, [frame], PassOptions(include={"g": [0, 1]}, chunk_rows=2)), [ArmValue()], groups)
    values = special.expit(eta_by_hand(spec, frame, own_table(spec)))
    codes, w = np.array([0, 1, 0, 0, 1, 1]), frame["w"].to_numpy()
    for s in range(spec.n_samples):
        num = np.bincount(codes, weights=w * values[:, s])
        np.testing.assert_allclose(got[:, s], num / np.bincount(codes, weights=w), rtol=1e-12)


def test_rows_sharing_a_new_level_share_its_draws_under_a_seed():
    spec = make_spec()
    frame = pd.DataFrame({"x": [0.0, 0.0, 0.0, 1.0], "g": ["new", "new", "other", "new"]})
    options = PassOptions(include={"g": [0, 1]}, allow_new_levels=True, sample_new_levels="gaussian", seed=11)
    (one,) = run(ArmPass(spec, [frame], options), [ArmValue()], None)
    (again,) = run(ArmPass(spec, [frame], options), [ArmValue()], None)
    np.testing.assert_array_equal(one, again)
    np.testing.assert_array_equal(one[0], one[1])  # same level, same x: the same values
    assert not np.array_equal(one[0], one[2])  # another new level
    # row 3 is at "new" too: η differs from row 0 by x (β_x + b_x[new]) with the same b_new
    b_x_new = (one[3] - one[0]) - spec.beta[:, 1]
    assert np.std(b_x_new) > 0  # a simulated slope, one per draw
