"""engine.reduce: ``by`` groups, validated weights and within-draw group means, against np.bincount and loops."""

import numpy as np
import pandas as pd
import pytest

import mixeff
from mixeff.engine.reduce import GroupMeans, add_by_group, group_codes, grouping, local_codes, normalised_weights


@pytest.fixture
def table():
    return pd.DataFrame(
        {
            "z": ["b", "a", "c", "a", "b", "b", "c"],
            "h": [1, 0, 0, 1, 1, 0, 0],
            "w": [1.0, 2.0, 0.5, 3.0, 0.0, 1.5, 2.5],
        }
    )


def test_group_codes_are_positions_in_the_sorted_keys(table):
    codes, keys = group_codes(table, ["z"])
    assert keys["z"].tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(codes, [1, 0, 2, 0, 1, 1, 2])
    codes, keys = group_codes(table, ["z", "h"])
    assert list(keys.itertuples(index=False, name=None)) == [("a", 0), ("a", 1), ("b", 0), ("b", 1), ("c", 0)]
    for r, (z, h) in enumerate(zip(table["z"], table["h"])):
        assert tuple(keys.iloc[codes[r]]) == (z, h)
    codes, keys = group_codes(table, [])  # by=[]: one group of every row
    assert codes.tolist() == [0] * 7 and len(keys) == 1


def test_group_means_within_each_draw_equal_weighted_bincount(table):
    """Each draw's weighted mean of each group: Σ_r w_r v_rs / Σ_r w_r over the group's rows."""
    g = grouping(table, ["z"], "w")
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, (7, 30))
    means = GroupMeans(g, 30, n_parts=1)
    sums = np.zeros((3, 30))
    add_by_group(sums, g.codes, g.weights, values)
    means.add(sums[None], np.arange(3))
    got = means.result()[0]
    w = table["w"].to_numpy()
    for s in range(30):
        num = np.bincount(g.codes, weights=w * values[:, s], minlength=3)
        np.testing.assert_allclose(got[:, s], num / np.bincount(g.codes, weights=w), rtol=1e-14)
    np.testing.assert_allclose(means.total, [5.0, 2.5, 3.0])


def test_a_task_adds_only_the_groups_it_has(table):
    g = grouping(table, ["z"], None)
    means = GroupMeans(g, 2, n_parts=2)
    means.add(np.ones((2, 1, 2)), np.array([2]))
    means.add(np.full((2, 2, 2), 3.0), np.array([0, 1]))
    np.testing.assert_array_equal(means.sums[0], [[3.0, 3.0], [3.0, 3.0], [1.0, 1.0]])
    np.testing.assert_array_equal(means.result()[1, :, 0], [3.0 / 2, 3.0 / 3, 1.0 / 2])  # equal weights: counts


def test_add_by_group_adds_rows_in_order_as_a_loop_does():
    rng = np.random.default_rng(3)
    block, codes, w = rng.normal(0, 1e3, (50, 9)), rng.integers(0, 4, 50), rng.uniform(0, 2, 50)
    for compiled in (True, False):
        before = mixeff.set_options(compiled=compiled)
        try:
            total = np.zeros((4, 9))
            add_by_group(total, codes, w, block)
        finally:
            mixeff.set_options(**before)
        by_hand = np.zeros((4, 9))
        for r in range(50):
            by_hand[codes[r]] = by_hand[codes[r]] + w[r] * block[r]
        np.testing.assert_array_equal(total, by_hand)


def test_local_codes():
    present, local = local_codes(np.array([5, 2, 5, 9, 2]))
    assert present.tolist() == [2, 5, 9] and local.tolist() == [1, 0, 1, 2, 0]


def test_weights_from_a_column_an_array_or_equal(table):
    codes, keys = group_codes(table, ["z"])
    np.testing.assert_array_equal(normalised_weights(table, "w", codes, keys), table["w"])
    np.testing.assert_array_equal(normalised_weights(table, np.arange(7.0) + 1, codes, keys), np.arange(7.0) + 1)
    np.testing.assert_array_equal(normalised_weights(table, None, codes, keys), np.ones(7))


@pytest.mark.parametrize(
    "wts, match",
    [
        ("nope", r"wts='nope' is not a column of newdata"),
        (np.ones(3), "wts has 3 values but newdata has 7 rows"),
        ([1, 1, np.nan, 1, 1, 1, 1], r"1 missing \(NaN\) weights"),
        ([1, 1, np.inf, 1, 1, 1, 1], "1 infinite weight"),
        ([1, 1, -1, 1, 1, 1, 1], r"negative weights \(min -1\)"),
        ([1, 0, 1, 0, 1, 1, 1], r"the weights sum to zero in group\(s\) \[\{'z': 'a'\}\]"),
    ],
)
def test_bad_weights_are_refused(table, wts, match):
    codes, keys = group_codes(table, ["z"])
    with pytest.raises(ValueError, match=match):
        normalised_weights(table, wts, codes, keys)


def test_per_row_results_have_no_grouping_and_no_weights(table):
    assert grouping(table, None) is None
    with pytest.raises(ValueError, match="wts needs by="):
        grouping(table, None, "w")
