"""engine.design on toy specs: each frame's X, Z, level codes and trials, and the exact difference design."""

import numpy as np
import pandas as pd
import pytest
from toy_models import make_spec

from mixeff.engine.design import difference_design, prepare
from mixeff.engine.options import PassOptions
from mixeff.engine.predictor import linear_predictor
from mixeff.engine.random_effects import plan_random_effects

NEW = PassOptions(include={"g": [0, 1]}, allow_new_levels=True, sample_new_levels="gaussian")


def plans_for(spec, frames, options=NEW, seed=1):
    return plan_random_effects(spec.groups, options.include, frames, options, np.random.default_rng(seed))


def test_fixed_and_group_columns_and_level_codes(spec, frame):
    plans = plans_for(spec, [frame])
    d = prepare(spec, plans, frame, "response")
    x = frame["x"].to_numpy()
    np.testing.assert_array_equal(d.X, np.column_stack([np.ones(7), x]))
    assert d.X.flags.c_contiguous and d.offset is None and d.trials is None and d.n == 7
    # (1 + x | g): Z is (1, x) for every row; existing levels at their positions, new ones after
    np.testing.assert_array_equal(d.Z[0], np.column_stack([np.ones(7), x]))
    assert list(plans[0].labels) == ["a", "b", "c", "n1", "n2"]
    np.testing.assert_array_equal(d.codes[0], [0, 1, 2, 3, 0, 3, 4])


def test_an_intercept_only_term_has_no_z_columns(spec, frame):
    """re_formula keeping only (1 | g): Z of all ones is stored as None (the kernels add b directly)."""
    options = PassOptions(include={"g": [0]}, allow_new_levels=True)
    plans = plans_for(spec, [frame], options)
    d = prepare(spec, plans, frame, "link")
    assert d.Z == [None]
    np.testing.assert_array_equal(plans[0].active, [0])


def test_trials_from_a_column_or_a_number_and_whole_counts_for_prediction():
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0], "g": ["a", "b", "c"], "n": [3.0, 5.0, 7.0]})
    spec = make_spec("binomial", trials="n", correlated=False)
    plans = plans_for(spec, [frame])
    np.testing.assert_array_equal(prepare(spec, plans, frame, "response").trials, [3.0, 5.0, 7.0])
    assert prepare(spec, plans, frame, "link").trials is None  # η needs no trials
    with pytest.raises(ValueError, match=r"non-whole values \[2.5\]"):
        prepare(spec, plans, frame.assign(n=[3.0, 2.5, 7.0]), "prediction")
    fixed = make_spec("binomial", trials=12, correlated=False)
    np.testing.assert_array_equal(prepare(fixed, plans, frame, "response").trials, [12.0, 12.0, 12.0])


def test_difference_design_gives_eta_hi_minus_eta_lo(spec, frame):
    """Shifting x: the design of hi − lo is (0, Δx) for β and (0, Δx) for b: the intercepts drop out,
    and its η equals η_hi − η_lo computed by hand."""
    lo, hi = frame, frame.assign(x=frame["x"] + 0.25)
    plans = plans_for(spec, [lo, hi])
    d_lo, d_hi = prepare(spec, plans, lo, "link"), prepare(spec, plans, hi, "link")
    kept, diff = difference_design(plans, d_lo, d_hi)
    assert kept == plans and diff.offset is None
    np.testing.assert_allclose(diff.X, np.column_stack([np.zeros(7), np.full(7, 0.25)]), atol=1e-15)
    np.testing.assert_allclose(diff.Z[0], np.column_stack([np.zeros(7), np.full(7, 0.25)]), atol=1e-15)
    rows = slice(0, 7)
    got = linear_predictor(spec, kept, diff, rows)
    ref = linear_predictor(spec, plans, d_hi, rows) - linear_predictor(spec, plans, d_lo, rows)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    # by hand: Δx (β_x + b_x[level])
    table = plans[0].table_t  # (k, levels, S)
    by_hand = 0.25 * (spec.beta[:, 1][None, :] + table[1, d_lo.codes[0]])
    np.testing.assert_allclose(got, by_hand, rtol=1e-12)


def test_an_intercept_only_term_cancels_and_a_level_change_has_no_difference_design(spec, frame):
    options = PassOptions(include={"g": [0]}, allow_new_levels=True)
    lo, hi = frame, frame.assign(x=frame["x"] * 2)
    plans = plans_for(spec, [lo, hi], options)
    kept, diff = difference_design(plans, prepare(spec, plans, lo, "link"), prepare(spec, plans, hi, "link"))
    assert kept == [] and diff.Z == [] and diff.codes == []
    moved = frame.assign(g=["b", "b", "b", "b", "b", "b", "b"])
    plans = plans_for(spec, [frame, moved])
    assert difference_design(plans, prepare(spec, plans, frame, "link"), prepare(spec, plans, moved, "link")) is None
