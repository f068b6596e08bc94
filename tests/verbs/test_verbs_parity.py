"""marginaleffects/brms vocabulary in the verbs: ndraws/draw_ids, NA levels, counterfactual ``variables``,
``cross``, custom contrasts and comparison functions, ``by`` as a DataFrame, string ``newdata``.

Each is checked against numpy on the same draws: predictions of hand-built counterfactual frames.
"""

import numpy as np
import pandas as pd
import pytest

import mixeff
from mixeff import avg_comparisons, avg_predictions, comparisons, datagrid, predictions
from mixeff.model.examples import toy_spec


@pytest.fixture(scope="module")
def spec(xzg_spec):
    """Bernoulli y ~ x + z + (1 | g) from known draws (conftest)."""
    return xzg_spec


@pytest.fixture(scope="module")
def rows(spec):
    """Five rows of cluster g0 with every level of z: two a, two b, one c."""
    d = spec.data[spec.data["g"] == "g0"]
    picked = [*d.index[d["z"] == "a"][:2], *d.index[d["z"] == "b"][:2], d.index[d["z"] == "c"][0]]
    return d.loc[picked].drop(columns="y").reset_index(drop=True)


def _p(spec, frame, **kw):
    return predictions(spec, frame, **kw).draws


# --------------------------------------------------------------------------- ndraws / draw_ids


def test_draw_ids_pick_those_draws(spec, rows):
    full = _p(spec, rows)
    ids = [5, 1, 299, 42]
    with pytest.warns(mixeff.ConvergenceWarning, match="bulk ESS"):  # 4 draws: ESS far below 100
        sub = predictions(spec, rows, draw_ids=ids)
    np.testing.assert_array_equal(sub.draws, full[:, ids])
    assert (sub.n_chains, sub.n_draws) == (1, 4) and "draw_ids" in sub.selection and "draw_ids" in repr(sub)


def test_ndraws_is_a_seeded_random_subset_kept_per_chain():
    spec = toy_spec()  # 2 chains x 100 draws
    frame = spec.data.head(3)
    full = _p(spec, frame)
    with pytest.warns(mixeff.ConvergenceWarning, match="bulk ESS"):  # 40 draws: ESS below 100
        a = predictions(spec, frame, ndraws=40, seed=3)
        b = predictions(spec, frame, ndraws=40, seed=3)
    np.testing.assert_array_equal(a.draws, b.draws)
    assert (a.n_chains, a.n_draws) == (2, 20)  # 20 from each chain: R-hat still compares chains
    # every column is one of the fit's draws, each chain's from that chain
    for chain in range(2):
        own = full[:, chain * 100 : (chain + 1) * 100]
        for col in a.draws[:, chain * 20 : (chain + 1) * 20].T:
            assert (np.abs(own - col[:, None]).max(axis=0) == 0).any()
    with pytest.warns(mixeff.ConvergenceWarning, match="bulk ESS"):  # 7 draws
        odd = predictions(spec, frame, ndraws=7, seed=1)
    assert (odd.n_chains, odd.n_draws) == (1, 7)
    assert len({tuple(c) for c in odd.draws.T}) == 7  # without replacement
    with pytest.warns(mixeff.ConvergenceWarning, match="bulk ESS"):  # 10 draws
        c = comparisons(spec, "TX", newdata=frame, ndraws=10, seed=2)
    assert c.draws.shape == (3, 10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(ndraws=10**6), "has 200 draws"),
        (dict(ndraws=0), r"ndraws=0: ndraws must be an int >= 1"),
        (dict(ndraws=2.5), r"ndraws=2.5: ndraws must be an int >= 1"),
        (dict(draw_ids=[0, 200]), r"out of range.*0 to 199"),
        (dict(draw_ids=[3, 3]), "repeated"),
        (dict(draw_ids=[0.5]), "whole numbers"),
        (dict(ndraws=5, draw_ids=[1]), "not both"),
    ],
)
def test_draw_selection_errors(kwargs, match):
    spec = toy_spec()
    with pytest.raises((ValueError, TypeError), match=match):
        predictions(spec, spec.data.head(2), **kwargs)


# --------------------------------------------------------------------------- NA grouping values


def test_missing_group_is_one_new_level_as_brms(spec, rows):
    frame = rows.assign(g=["g0", None, np.nan, "g1", None], x=[0.0, 0.3, 0.3, 0.0, -1.0], z=["a", "b", "b", "c", "c"])
    with pytest.raises(ValueError, match=r"'<NA>'.*missing values.*allow_new_levels=True"):
        predictions(spec, frame)
    kw = dict(allow_new_levels=True, sample_new_levels="gaussian", seed=11)
    got = _p(spec, frame, **kw)
    np.testing.assert_array_equal(got[1], got[2])  # every NA row shares one level ...
    named = _p(spec, frame.assign(g=["g0", "zz", "zz", "g1", "zz"]), **kw)
    np.testing.assert_array_equal(got, named)  # ... the same as one named new level, same seed
    np.testing.assert_array_equal(got[[0, 3]], _p(spec, frame.iloc[[0, 3]]))


def test_missing_population_predictor_is_still_refused(spec, rows):
    with pytest.raises(ValueError, match="'x' has 1 missing"):
        predictions(spec, rows.assign(x=[np.nan, 1, 2, 3, 4]), allow_new_levels=True)


# --------------------------------------------------------------------------- counterfactual predictions


def test_predictions_variables_replicate_the_data(spec, rows):
    p = predictions(spec, rows, variables={"z": ["a", "c"]})
    assert len(p) == 2 * len(rows) and p.grid["z"].tolist() == ["a"] * 5 + ["c"] * 5
    np.testing.assert_array_equal(p.draws[:5], _p(spec, rows.assign(z="a")))
    np.testing.assert_array_equal(p.draws[5:], _p(spec, rows.assign(z="c")))
    avg = avg_predictions(spec, newdata=rows, variables="z")  # by the counterfactual variable
    assert avg.grid["z"].tolist() == ["a", "b", "c"]
    for i, level in enumerate("abc"):
        np.testing.assert_allclose(avg.draws[i], _p(spec, rows.assign(z=level)).mean(axis=0), rtol=1e-13)


def test_predictions_variables_numeric_shortcuts(spec, rows):
    x = spec.data["x"].to_numpy()
    p = predictions(spec, rows.head(1), variables="x")  # many unique values: Tukey's five numbers
    np.testing.assert_allclose(p.grid["x"], mixeff.verbs.grid.fivenum(x))
    m, s = x.mean(), x.std(ddof=1)
    p = predictions(spec, rows.head(1), variables={"x": "threenum"})
    np.testing.assert_allclose(p.grid["x"], [m - s, m, m + s])
    p = predictions(spec, rows.head(2), variables={"x": "iqr", "z": ["b"]})
    np.testing.assert_allclose(p.grid["x"], np.repeat(np.quantile(x, [0.25, 0.75]), 2))
    np.testing.assert_array_equal(p.draws[:2], _p(spec, rows.head(2).assign(x=np.quantile(x, 0.25), z="b")))
    with pytest.raises(ValueError, match="numeric.*iqr"):
        predictions(spec, rows, variables={"x": "tukey"})
    with pytest.raises(ValueError, match="not a predictor"):
        predictions(spec, rows, variables={"w": [1]})


# --------------------------------------------------------------------------- contrasts


def test_cross_is_the_joint_change(spec, rows):
    c = comparisons(spec, ["x", "z"], cross=True, newdata=rows)
    assert set(c.grid["term"]) == {"cross"}
    assert c.grid[["contrast_x", "contrast_z"]].drop_duplicates().values.tolist() == [["+1", "b - a"], ["+1", "c - a"]]
    lo = _p(spec, rows.assign(z="a"))
    for block, level in enumerate("bc"):
        hi = _p(spec, rows.assign(x=rows["x"] + 1, z=level))
        np.testing.assert_allclose(c.draws[block * 5 : (block + 1) * 5], hi - lo, rtol=1e-12, atol=1e-15)
    avg = avg_comparisons(spec, {"x": 1, "z": ["a", "c"]}, cross=True, newdata=rows)
    hi = _p(spec, rows.assign(x=rows["x"] + 1, z="c"))
    np.testing.assert_allclose(avg.draws[0], (hi - lo).mean(axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="at least two variables"):
        comparisons(spec, "x", cross=True)


def test_custom_lo_hi_from_a_function_or_a_frame(spec, rows):
    lo_hi = pd.DataFrame({"lo": rows["x"] - 0.5, "hi": rows["x"] + 2.0})
    expected = _p(spec, rows.assign(x=lo_hi["hi"])) - _p(spec, rows.assign(x=lo_hi["lo"]))
    by_frame = comparisons(spec, {"x": lo_hi}, newdata=rows)
    by_function = comparisons(spec, {"x": lambda x: pd.DataFrame({"lo": x - 0.5, "hi": x + 2.0})}, newdata=rows)
    assert by_frame.grid["contrast"].unique().tolist() == ["custom"]
    np.testing.assert_allclose(by_frame.draws, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(by_function.draws, expected, rtol=1e-12, atol=1e-15)
    levels = pd.DataFrame({"lo": ["a", "b", "a", "c", "a"], "hi": ["c"] * 5})
    got = comparisons(spec, {"z": levels}, newdata=rows)
    np.testing.assert_allclose(
        got.draws, _p(spec, rows.assign(z="c")) - _p(spec, rows.assign(z=levels["lo"])), rtol=1e-12, atol=1e-15
    )
    with pytest.raises(ValueError, match="gives 2 rows but newdata has 5"):
        comparisons(spec, {"x": lo_hi.head(2)}, newdata=rows)
    with pytest.raises(ValueError, match="columns 'lo' and 'hi'"):
        comparisons(spec, {"x": lambda x: x + 1}, newdata=rows)


def test_comparison_function_with_one_value_per_draw(spec, rows):
    hi, lo = _p(spec, rows.assign(x=rows["x"] + 1)), _p(spec, rows)
    got = comparisons(spec, "x", newdata=rows, comparison=lambda hi, lo: np.median(hi - lo, axis=0))
    assert len(got) == 1 and got.grid["term"].tolist() == ["x"]
    np.testing.assert_allclose(got.draws[0], np.median(hi - lo, axis=0), rtol=1e-12)
    by_z = comparisons(spec, "x", newdata=rows, by="z", comparison=lambda hi, lo: (hi / lo).max(axis=0))
    for i, level in enumerate(by_z.grid["z"]):
        keep = (rows["z"] == level).to_numpy()
        np.testing.assert_allclose(by_z.draws[i], (hi[keep] / lo[keep]).max(axis=0), rtol=1e-12)
    elementwise = comparisons(spec, "x", newdata=rows, comparison=lambda hi, lo: hi - 2 * lo)
    np.testing.assert_allclose(elementwise.draws, hi - 2 * lo, rtol=1e-12)
    with pytest.raises(ValueError, match="does its own averaging"):
        comparisons(spec, "x", newdata=rows, by="z", wts=np.ones(5), comparison=lambda hi, lo: hi.mean(axis=0))


# --------------------------------------------------------------------------- by a DataFrame, wts=True, newdata strings


def test_by_a_frame_collapses_categories(spec, rows):
    table = pd.DataFrame({"z": ["a", "b", "c"], "by": ["A", "BC", "BC"]})
    got = avg_predictions(spec, newdata=rows, by=table)
    per_row = _p(spec, rows)
    assert got.grid["by"].tolist() == ["A", "BC"]
    is_a = (rows["z"] == "a").to_numpy()
    np.testing.assert_allclose(got.draws[0], per_row[is_a].mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(got.draws[1], per_row[~is_a].mean(axis=0), rtol=1e-13)
    cmp = avg_comparisons(spec, "x", newdata=rows, by=table)
    assert cmp.grid[["term", "by"]].values.tolist() == [["x", "A"], ["x", "BC"]]
    with pytest.raises(ValueError, match="no group to newdata rows"):
        avg_predictions(spec, newdata=rows, by=table.head(2))
    with pytest.raises(ValueError, match="column 'by'"):
        avg_predictions(spec, newdata=rows, by=table.rename(columns={"by": "group"}))


def test_wts_true_needs_model_weights(spec):
    with pytest.raises(ValueError, match="wts=True uses the weights the model was fitted with"):
        avg_predictions(spec, wts=True)


def test_newdata_strings(spec):
    mean_row = predictions(spec, newdata="mean")
    grid = datagrid(spec)
    assert len(mean_row) == 1 and mean_row.grid["x"].iloc[0] == pytest.approx(spec.data["x"].mean())
    np.testing.assert_array_equal(mean_row.draws, _p(spec, grid))
    balanced = avg_predictions(spec, newdata="balanced", by="z")
    bal = datagrid(spec, grid_type="balanced")
    for i, level in enumerate(balanced.grid["z"]):
        np.testing.assert_allclose(balanced.draws[i], _p(spec, bal[bal["z"] == level]).mean(axis=0), rtol=1e-13)
    tukey = predictions(spec, newdata="tukey", by=None)
    np.testing.assert_allclose(np.sort(tukey.grid["x"].unique()), mixeff.verbs.grid.fivenum(spec.data["x"]))
    cmp = avg_comparisons(spec, "z", newdata="median")
    med = datagrid(spec, FUN_numeric=np.median)
    np.testing.assert_allclose(cmp.draws[0], (_p(spec, med.assign(z="b")) - _p(spec, med.assign(z="a")))[0], rtol=1e-12)
    with pytest.raises(ValueError, match="not one of"):
        predictions(spec, newdata="average")
