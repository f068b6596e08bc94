"""datagrid's FUN_* arguments, grid_type="dataframe" and the string newdata shortcuts, against
marginaleffects' rules and hand-computed (R) values."""

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest

import mixeff
from mixeff import datagrid
from mixeff.estimands.variables import variable_kind
from mixeff.verbs.grid import fivenum, newdata_shortcut

LEVELS = ["lo", "mid", "hi"]


def _frame() -> pd.DataFrame:
    """One column of each kind; the summaries below are worked out by hand."""
    return pd.DataFrame(
        {
            "x": [0.5, 1.5, 2.0, 3.0, 7.0, 4.0, 2.5],  # numeric: mean 20.5/7, median 2.5
            "k": [1, 4, 2, 9, 3, 3, 5],  # integer: mean 27/7, median 3
            "f": pd.Categorical(["lo", "hi", "mid", "hi", "lo", "hi", "mid"], categories=LEVELS),  # mode "hi"
            "s": ["b", "a", "b", "c", "b", "a", "c"],  # character: mode "b"
            "b": [True, True, False, True, False, True, False],  # logical: mode and median True
            "t": [0, 1, 1, 0, 1, 1, 0],  # binary: mode 1
        }
    )


# R: fivenum(c(0.5, 1.5, 2, 3, 7, 4, 2.5)) and fivenum(c(1, 4, 2, 9, 3, 3, 5))
X_FIVE = [0.5, 1.75, 2.5, 3.5, 7.0]
K_FIVE = [1.0, 2.5, 3.0, 4.5, 9.0]


@pytest.fixture(scope="module")
def frame():
    return _frame()


@pytest.fixture(scope="module")
def spec():
    """A spec whose data has a numeric, an integer, a factor, a string, a boolean and a 0/1 predictor,
    and a response column y."""
    d = _frame().assign(y=[1.0, 0.0, 2.0, 5.0, 1.0, 3.0, 2.0])
    s = mixeff.from_arrays(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"], f["k"]]),
        beta=np.array([[1.0, 0.5, -0.2]]),
        beta_names=["Intercept", "x", "k"],
        family="gaussian",
        aux={"sigma": np.array([1.0])},
        data=d,
        predictors=["x", "k", "f", "s", "b", "t"],
    )
    return dataclasses.replace(s, response="y")


@pytest.fixture(scope="module")
def example():
    return mixeff.example_fit()


def _rows(g: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in g.astype(object).itertuples(index=False)]


# ---------------------------------------------------------------- fivenum and variable kinds


@pytest.mark.parametrize(
    "x, expected",
    [
        ([1, 2, 3, 4, 5, 6], [1, 2, 3.5, 5, 6]),  # R: fivenum(c(1,2,3,4,5,6))
        (range(1, 11), [1, 3, 5.5, 8, 10]),  # R: fivenum(1:10)
        ([1, 2, 3, 4], [1, 1.5, 2.5, 3.5, 4]),  # R: fivenum(1:4)
        ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]),  # R: fivenum(1:5)
        ([*range(1, 11), 100], [1, 3.5, 6, 8.5, 100]),  # R: fivenum(c(1:10, 100))
        ([6, 3, np.nan, 1, 2, 5, 4], [1, 2, 3.5, 5, 6]),  # unsorted, NA dropped (na.rm = TRUE)
        ([3.0], [3, 3, 3, 3, 3]),
    ],
)
def test_fivenum_matches_r(x, expected):
    np.testing.assert_array_equal(fivenum(x), np.array(expected, dtype=float))


def test_fivenum_hinges_are_not_quantiles_and_empty_is_nan():
    assert fivenum(range(1, 11))[1] == 3.0 and np.quantile(np.arange(1, 11), 0.25) == 3.25
    assert np.isnan(fivenum([np.nan])).all() and len(fivenum([])) == 5


def test_variable_kinds(frame):
    assert {c: variable_kind(frame[c]) for c in frame.columns} == {
        "x": "numeric",
        "k": "integer",
        "f": "factor",
        "s": "character",
        "b": "logical",
        "t": "binary",
    }
    assert variable_kind(pd.Series([1.0, 3.0, np.nan])) == "integer"  # whole numbers in a float column
    assert variable_kind(pd.Series([0.0, 1.0])) == "binary"
    assert variable_kind(pd.Series(pd.to_datetime(["2020-01-01", "2021-01-01"]))) == "other"


# ---------------------------------------------------------------- FUN_* arguments


def test_fun_numeric_is_an_argument_not_a_column(spec):
    g = datagrid(spec, FUN_numeric=np.median)
    assert "FUN_numeric" not in g.columns and len(g) == 1
    assert g["x"].iloc[0] == np.median(spec.data["x"]) == 2.5
    assert g["k"].iloc[0] == np.median(spec.data["k"]) == 3.0  # integers fall back to FUN_numeric
    assert "y" not in g.columns


def test_defaults_are_mean_and_mode(spec):
    g = datagrid(spec)
    assert g.columns.tolist() == ["b", "f", "k", "s", "t", "x"]  # the spec's predictors, never y
    row = g.iloc[0]
    assert row["x"] == pytest.approx(20.5 / 7) and row["k"] == pytest.approx(27 / 7)  # integer mean not rounded
    assert (row["f"], row["s"], row["b"], row["t"]) == ("hi", "b", True, 1)
    assert g["f"].cat.categories.tolist() == LEVELS


def test_fun_integer_overrides_fun_numeric(frame):
    g = datagrid(newdata=frame, FUN_numeric=np.median, FUN_integer=np.max)
    assert (g["x"].iloc[0], g["k"].iloc[0]) == (2.5, 9)


def test_fun_with_several_values_is_crossed_with_given_values(spec):
    g = datagrid(spec, t=[0, 1], FUN_numeric=lambda c: [c.min(), c.max()])
    assert len(g) == 2 * 2 * 2  # t given × x's two values × k's two values
    assert g.columns.tolist() == ["t", "b", "f", "k", "s", "x"]
    assert _rows(g[["t", "k", "x"]]) == [(t, k, x) for t in [0, 1] for k in [1, 9] for x in [0.5, 7.0]]
    assert set(g["f"]) == {"hi"} and set(g["s"]) == {"b"}


def test_five_number_summary_gives_five_rows(frame):
    g = datagrid(newdata=frame, FUN_numeric=fivenum, FUN_integer=np.mean)
    assert g["x"].tolist() == X_FIVE and g["k"].unique().tolist() == [pytest.approx(27 / 7)]


def test_each_type_has_its_function(frame):
    g = datagrid(
        newdata=frame,
        FUN_binary=lambda c: [0, 1],
        FUN_factor=lambda c: c.cat.categories[0],
        FUN_character=lambda c: sorted(c.unique()),
        FUN_logical=lambda c: [False],
    )
    assert g["t"].unique().tolist() == [0, 1] and set(g["f"]) == {"lo"}
    assert g["s"].unique().tolist() == ["a", "b", "c"] and set(g["b"]) == {False}
    assert len(g) == 2 * 3
    dates = pd.DataFrame({"when": pd.to_datetime(["2020-01-01", "2020-01-01", "2021-06-01"]), "x": [1.5, 2.5, 3.5]})
    assert datagrid(newdata=dates)["when"].iloc[0] == pd.Timestamp("2020-01-01")  # mode by default
    assert datagrid(newdata=dates, FUN_other=lambda c: c.max())["when"].iloc[0] == pd.Timestamp("2021-06-01")


def test_fun_applies_to_every_type_unless_a_specific_one_is_given(frame):
    g = datagrid(newdata=frame, FUN=lambda c: c.iloc[0])  # the first non-missing value of every column
    assert _rows(g) == [(0.5, 1, "lo", "b", True, 0)]
    g = datagrid(newdata=frame, FUN=lambda c: c.iloc[0], FUN_character=lambda c: c.max(), FUN_numeric=np.median)
    assert _rows(g) == [(2.5, 3.0, "lo", "c", True, 0)]  # k falls back to FUN_numeric, not FUN


def test_functions_see_the_column_without_missing_values():
    d = pd.DataFrame({"x": [1.0, np.nan, 3.0, 10.0]})
    assert datagrid(newdata=d, FUN_numeric=np.median)["x"].iloc[0] == 3.0


def test_balanced_grid_with_a_fun_override(frame):
    g = datagrid(newdata=frame, grid_type="balanced", FUN_character=lambda c: c.mode().iloc[0])
    assert len(g) == 3 * 2 * 2  # f levels × b × t; s at its mode; x and k at their means
    assert g["f"].unique().tolist() == LEVELS and set(g["s"]) == {"b"}
    assert g["x"].unique().tolist() == [pytest.approx(20.5 / 7)]


def test_bad_fun_arguments(frame):
    with pytest.raises(TypeError, match="FUN_numeric must be a function"):
        datagrid(newdata=frame, FUN_numeric=3)
    with pytest.raises(TypeError, match="FUN must be a function"):
        datagrid(newdata=frame, FUN="median")
    with pytest.raises(ValueError, match="FUN_numeric returned no values for column 'x'"):
        datagrid(newdata=frame, FUN_numeric=lambda c: [])
    with pytest.raises(ValueError, match="FUN_integer returned no values for column 'k'"):
        datagrid(newdata=frame, FUN_integer=lambda c: np.array([]))
    with pytest.raises(ValueError, match="grid_type='counterfactual'"):
        datagrid(newdata=frame, grid_type="counterfactual", x=1.0, FUN_numeric=np.median)
    with pytest.raises(TypeError) as err:
        datagrid(newdata=frame, FUN_character=lambda c: c + 1)  # strings plus a number
    assert "raised by FUN_character on column 's'" in "".join(err.value.__notes__)


# ---------------------------------------------------------------- grid_type="dataframe"


def test_dataframe_grid_binds_given_values_element_by_element(frame):
    g = datagrid(newdata=frame, grid_type="dataframe", x=[1.0, 2.0, 3.0], s=["a", "c", "b"], t=1)
    assert len(g) == 3
    assert _rows(g[["x", "s", "t"]]) == [(1.0, "a", 1), (2.0, "c", 1), (3.0, "b", 1)]
    assert set(g["f"]) == {"hi"} and set(g["b"]) == {True}
    assert g["k"].tolist() == [pytest.approx(27 / 7)] * 3


def test_dataframe_grid_with_a_fit_and_a_fun(spec):
    g = datagrid(spec, grid_type="dataframe", k=[1, 2, 3, 4, 5], FUN_numeric=fivenum)
    assert _rows(g[["k", "x"]]) == list(zip([1, 2, 3, 4, 5], X_FIVE))
    assert "y" not in g.columns and set(g["f"]) == {"hi"}


def test_dataframe_grid_refuses_unequal_lengths(frame):
    with pytest.raises(ValueError, match=r"1 value or the same number of values; got x: 3, s: 2"):
        datagrid(newdata=frame, grid_type="dataframe", x=[1.0, 2.0, 3.0], s=["a", "b"])
    with pytest.raises(ValueError, match=r"got x: 2, k: 5"):
        datagrid(newdata=frame, grid_type="dataframe", x=[1.0, 2.0], FUN_integer=fivenum)


# ---------------------------------------------------------------- newdata shortcuts on a plain DataFrame


def test_shortcut_mean(frame):
    assert _rows(newdata_shortcut(frame, "mean")) == _rows(datagrid(newdata=frame))
    assert newdata_shortcut(frame, "mean")["x"].iloc[0] == pytest.approx(20.5 / 7)


def test_shortcut_median(frame):
    g = newdata_shortcut(frame, "median")
    assert _rows(g) == [(2.5, 3.0, "hi", "b", True, 1)]
    assert isinstance(g["b"].iloc[0], (bool, np.bool_))
    # R: median(c(TRUE, FALSE)) is 0.5
    assert newdata_shortcut(pd.DataFrame({"b": [True, False]}), "median")["b"].iloc[0] == 0.5


def test_shortcut_tukey(frame):
    g = newdata_shortcut(frame, "tukey")
    assert _rows(g) == [(x, k, "hi", "b", True, 1) for x in X_FIVE for k in K_FIVE]


def test_shortcut_grid(frame):
    g = newdata_shortcut(frame, "grid")
    expected = itertools.product(X_FIVE, K_FIVE, LEVELS, ["a", "b", "c"], [False, True], [1])
    assert _rows(g) == list(expected)  # binary t stays at its mode, as in marginaleffects
    assert g["f"].cat.categories.tolist() == LEVELS


def test_shortcut_balanced(frame):
    g = newdata_shortcut(frame, "balanced")
    mx, mk = 20.5 / 7, 27 / 7
    expected = itertools.product([mx], [mk], LEVELS, ["a", "b", "c"], [False, True], [0, 1])
    assert len(g) == 3 * 3 * 2 * 2
    for got, want in zip(_rows(g), expected):
        assert got[0] == pytest.approx(want[0]) and got[1] == pytest.approx(want[1]) and got[2:] == want[2:]


def test_shortcut_by_takes_every_value(frame):
    g = newdata_shortcut(frame, "median", by=["s", "t"])
    assert g.columns.tolist() == ["s", "t", "x", "k", "f", "b"]
    assert _rows(g[["s", "t"]]) == [(s, t) for s in ["a", "b", "c"] for t in [0, 1]]
    assert set(g["x"]) == {2.5}
    assert _rows(newdata_shortcut(frame, "tukey", by=True)) == _rows(newdata_shortcut(frame, "tukey"))
    assert newdata_shortcut(frame, "mean", by="f")["f"].tolist() == LEVELS


def test_shortcut_errors(frame):
    with pytest.raises(
        ValueError, match=r"'typical' is not one of the shortcuts \['mean', 'median', 'tukey', 'grid', 'balanced'\]"
    ):
        newdata_shortcut(frame, "typical")
    with pytest.raises(TypeError, match="name must be one of"):
        newdata_shortcut(frame, None)
    with pytest.raises(TypeError, match="by=3 must be a column name, a list of column names, True"):
        newdata_shortcut(frame, "mean", by=3)
    with pytest.raises(ValueError, match="'nope' is not a column"):
        newdata_shortcut(frame, "mean", by="nope")


# ---------------------------------------------------------------- newdata shortcuts on a spec and a fit


def test_shortcuts_on_a_spec_leave_out_the_response(spec):
    for name in ["mean", "median", "tukey", "grid", "balanced"]:
        assert "y" not in newdata_shortcut(spec, name).columns
    g = newdata_shortcut(spec, "grid")
    assert len(g) == 5 * 5 * 3 * 3 * 2 and set(g["t"]) == {1}
    assert sorted(g["x"].unique()) == X_FIVE and sorted(g["k"].unique()) == K_FIVE
    m = newdata_shortcut(spec, "median")
    assert (m["x"].iloc[0], m["k"].iloc[0], m["b"].iloc[0], m["f"].iloc[0]) == (2.5, 3.0, True, "hi")
    g = newdata_shortcut(spec, "mean", by="y")  # a by column may be any column of the data
    assert sorted(g["y"]) == [0.0, 1.0, 2.0, 3.0, 5.0]


def test_a_spec_is_used_as_given_even_with_prior_draws(spec):
    prior = dataclasses.replace(spec, source="prior")
    assert _rows(newdata_shortcut(prior, "tukey")) == _rows(newdata_shortcut(spec, "tukey"))
    assert _rows(datagrid(prior, t=0)) == _rows(datagrid(spec, t=0))


def test_shortcuts_on_the_example_fit(example):
    d = example.spec().data
    tx_mode, cluster_mode = d["TX"].mode().iloc[0], d["cluster"].mode().iloc[0]
    clusters = [str(i) for i in range(1, 21)]
    mean = newdata_shortcut(example, "mean")
    assert _rows(mean) == [(tx_mode, cluster_mode)] and mean.columns.tolist() == ["TX", "cluster"]
    # TX is binary (mode) and cluster a string (mode): no numeric variable, so median and tukey are the mean grid
    assert _rows(newdata_shortcut(example, "median")) == _rows(mean)
    assert _rows(newdata_shortcut(example, "tukey")) == _rows(mean)
    assert _rows(newdata_shortcut(example, "grid")) == [(tx_mode, c) for c in clusters]
    assert _rows(newdata_shortcut(example, "balanced")) == [(tx, c) for tx in [0, 1] for c in clusters]
    assert _rows(newdata_shortcut(example, "mean", by="TX")) == [(0, cluster_mode), (1, cluster_mode)]
    for name in ["mean", "median", "tukey", "grid", "balanced"]:
        assert "y" not in newdata_shortcut(example, name).columns
    assert _rows(newdata_shortcut(example, "grid")) == _rows(newdata_shortcut(example.spec(), "grid"))
