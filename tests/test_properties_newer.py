"""Property-based tests (Hypothesis) of the newer features: hypothesis formulas, custom lo/hi contrasts,
dask input against pandas input, and response categories collapsed by a ``by`` table.

Each property is checked against an independent numpy computation on the same draws.
"""

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mixeff
from mixeff.results import Result

EXAMPLES = int(os.environ.get("MIXEFF_HYPOTHESIS_EXAMPLES", "25"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FINITE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def _explicit(how: str, x: np.ndarray) -> np.ndarray:
    """marginaleffects' hypothesis formulas written as explicit linear combinations of the rows."""
    n = len(x)
    if how == "reference":
        w = [np.eye(n)[i] - np.eye(n)[0] for i in range(1, n)]
    elif how == "revreference":
        w = [np.eye(n)[0] - np.eye(n)[i] for i in range(1, n)]
    elif how == "sequential":
        w = [np.eye(n)[i] - np.eye(n)[i - 1] for i in range(1, n)]
    elif how == "pairwise":  # R's lower triangle, column by column: row i - row j, i > j
        w = [np.eye(n)[i] - np.eye(n)[j] for j in range(n) for i in range(j + 1, n)]
    elif how == "revpairwise":  # R's upper triangle, column by column: row i - row j, i < j
        w = [np.eye(n)[i] - np.eye(n)[j] for j in range(n) for i in range(j)]
    elif how == "meandev":
        w = [np.eye(n)[i] - np.full(n, 1 / n) for i in range(n)]
    else:  # meanotherdev
        w = [np.eye(n)[i] - (np.ones(n) - np.eye(n)[i]) / (n - 1) for i in range(n)]
    return np.asarray(w) @ x


@PROPERTY
@given(
    how=st.sampled_from(
        ["reference", "revreference", "sequential", "pairwise", "revpairwise", "meandev", "meanotherdev"]
    ),
    x=st.integers(2, 7).flatmap(lambda n: arrays(float, (n, 3), elements=FINITE)),
)
def test_hypothesis_formulas_are_their_explicit_linear_combinations(how, x):
    rows = Result(pd.DataFrame({"i": range(len(x))}), x, 1, 3)
    got = mixeff.hypotheses(rows, f"~ {how}").draws
    np.testing.assert_allclose(got, _explicit(how, x), rtol=1e-12, atol=1e-9)
    # a hypothesis string of explicit weights gives the same rows
    weights = np.linalg.lstsq(np.eye(len(x)), _explicit(how, np.eye(len(x))).T, rcond=None)[0]
    np.testing.assert_allclose(mixeff.hypotheses(rows, weights).draws, got, rtol=1e-12, atol=1e-9)


def _gaussian_spec():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"x": rng.normal(size=12), "z": rng.choice(["a", "b"], 12)})
    s = 400  # enough independent draws that no ConvergenceWarning is due
    beta = np.column_stack([rng.normal(1, 0.1, s), rng.normal(2, 0.3, s), rng.normal(-1, 0.2, s)])
    return mixeff.from_arrays(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"], (f["z"] == "b").astype(float)]),
        beta=beta,
        beta_names=["Intercept", "x", "zb"],
        family="gaussian",
        aux={"sigma": np.ones(s)},
        data=d,
        n_chains=2,
        predictors=["x", "z"],
    )


@PROPERTY
@given(
    lo=arrays(float, 12, elements=st.floats(-50, 50)),
    step=arrays(float, 12, elements=st.floats(-50, 50)),
    averaged=st.booleans(),
)
def test_custom_lo_hi_contrasts_are_hi_minus_lo_predictions(lo, step, averaged):
    spec = _gaussian_spec()
    hi = lo + step
    table = pd.DataFrame({"lo": lo, "hi": hi})
    verb = mixeff.avg_comparisons if averaged else mixeff.comparisons
    got = verb(spec, {"x": table}).draws
    expected = np.outer(step, spec.beta[:, 1])  # hi - lo of β0 + β1 x + β2 zb: (hi - lo) β1
    np.testing.assert_allclose(got, expected.mean(axis=0, keepdims=True) if averaged else expected, atol=1e-9)
    fn = verb(spec, {"x": lambda x: pd.DataFrame({"lo": x - 1, "hi": x + 2})}).draws
    np.testing.assert_allclose(fn, np.broadcast_to(3 * spec.beta[:, 1], fn.shape), rtol=1e-12)


@pytest.fixture(scope="module")
def xzg(xzg_spec):
    return xzg_spec


@PROPERTY
@given(
    partitions=st.integers(1, 7),
    order=st.randoms(use_true_random=False),
    verb=st.sampled_from(["avg_predictions", "avg_comparisons", "avg_slopes"]),
    by=st.sampled_from([True, "z", ["z", "g"]]),
    weighted=st.booleans(),
)
def test_dask_input_equals_pandas_input_for_any_partitioning(xzg, partitions, order, verb, by, weighted):
    dd = pytest.importorskip("dask.dataframe")
    rows = list(range(len(xzg.data)))
    order.shuffle(rows)
    frame = xzg.data.iloc[rows].reset_index(drop=True).assign(w=np.linspace(0.5, 2.0, len(rows)))
    wts = "w" if weighted else None
    kwargs = {} if verb == "avg_predictions" else {"variables": "x"}
    pandas = getattr(mixeff, verb)(xzg, newdata=frame, by=by, wts=wts, **kwargs)
    lazy = getattr(mixeff, verb)(xzg, newdata=dd.from_pandas(frame, npartitions=partitions), by=by, wts=wts, **kwargs)
    pd.testing.assert_frame_equal(lazy.grid.astype(object), pandas.grid.astype(object))  # dask: pyarrow strings
    np.testing.assert_allclose(lazy.draws, pandas.draws, rtol=1e-12, atol=1e-15)


@PROPERTY
@given(labels=st.lists(st.sampled_from(["A", "B", "C"]), min_size=3, max_size=3), seed=st.integers(0, 50))
def test_categories_collapsed_by_a_table_are_summed_probabilities(labels, seed):
    rng = np.random.default_rng(seed)
    s = 400  # enough independent draws that no ConvergenceWarning is due
    cats = ["lo", "mid", "hi"]
    data = pd.DataFrame({"x": rng.normal(size=9), "y": pd.Categorical(cats * 3, categories=cats, ordered=True)})
    tau1 = rng.normal(-0.5, 0.2, s)
    draws = pd.DataFrame(
        {"b_Intercept[1]": tau1, "b_Intercept[2]": tau1 + np.exp(rng.normal(0, 0.2, s)), "b_x": rng.normal(0.7, 0.2, s)}
    )
    spec = mixeff.from_brms_draws(draws, formula="y ~ x", data=data, family="cumulative")
    per_row = mixeff.predictions(spec).draws.reshape(3, len(data), s)
    table = pd.DataFrame({"group": cats, "by": labels})
    got = mixeff.avg_predictions(spec, by=table)
    for label, row in zip(got.grid["by"], got.draws):
        members = [k for k, lab in enumerate(labels) if lab == label]
        np.testing.assert_allclose(row, per_row[members].sum(axis=0).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(got.draws.sum(axis=0), 1.0, atol=1e-12)
