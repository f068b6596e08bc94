"""Property-based tests of the verbs (Hypothesis): invariants that hold for any valid input.

Models: ``y ~ x + f + (1 + x | g)`` with correlated group terms, brms-named draws made up
with numpy (2 chains x 30 draws), for the gaussian, bernoulli, poisson and lognormal
families.  Grids, ``by``/``wts``, contrast values, seeds and chunk sizes are drawn at
random.  The example budget is fixed for CI (``MIXEFF_HYPOTHESIS_EXAMPLES``, default 25
per test); set it higher for a thorough run.
"""

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mixeff

# slow: Hypothesis draws many random models, grids and arguments per test
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("MIXEFF_HYPOTHESIS_EXAMPLES", "25"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LEVELS = [f"g{i}" for i in range(5)]
FACTOR = ["a", "b", "c"]
FAMILIES = {"gaussian": {"sigma": (1.0, 0.1)}, "bernoulli": {}, "poisson": {}, "lognormal": {"sigma": (0.5, 0.05)}}


def _spec(family: str):
    rng = np.random.default_rng(sorted(FAMILIES).index(family))
    s = 60
    d = {
        "b_Intercept": rng.normal(0.3, 0.2, s),
        "b_x": rng.normal(0.5, 0.1, s),
        "b_fb": rng.normal(0.2, 0.1, s),
        "b_fc": rng.normal(-0.3, 0.1, s),
        "sd_g__Intercept": np.abs(rng.normal(0.8, 0.1, s)),
        "sd_g__x": np.abs(rng.normal(0.3, 0.05, s)),
        "cor_g__Intercept__x": rng.uniform(-0.5, 0.5, s),
        ".chain": np.repeat([1, 2], s // 2),
    }
    for level in LEVELS:
        d[f"r_g[{level},Intercept]"] = rng.normal(0, 0.8, s)
        d[f"r_g[{level},x]"] = rng.normal(0, 0.3, s)
    for name, (m, sd) in FAMILIES[family].items():
        d[name] = np.abs(rng.normal(m, sd, s))
    data = pd.DataFrame(
        {
            "y": rng.integers(0, 2, 60),
            "x": rng.normal(size=60),
            "f": pd.Categorical(rng.choice(FACTOR, 60), categories=FACTOR),
            "g": rng.choice(LEVELS, 60),
        }
    )
    return mixeff.from_brms_draws(pd.DataFrame(d), formula="y ~ x + f + (1 + x | g)", data=data, family=family)


SPECS = {family: _spec(family) for family in FAMILIES}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.MixeffWarning)  # 60 made-up draws: diagnostics would warn
        yield


@st.composite
def grids(draw, min_rows=1, max_rows=12, new_levels=True):
    n = draw(st.integers(min_rows, max_rows))
    levels = LEVELS + (["new1", "new2"] if new_levels else [])
    return pd.DataFrame(
        {
            "x": draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=n, max_size=n)),
            "f": pd.Categorical(draw(st.lists(st.sampled_from(FACTOR), min_size=n, max_size=n)), categories=FACTOR),
            "g": draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n)),
            "w": draw(st.lists(st.floats(0.1, 10), min_size=n, max_size=n)),
        }
    )


families = st.sampled_from(sorted(FAMILIES))
new_level_modes = st.sampled_from(["uncertainty", "gaussian", "old_levels", "integrate"])
seeds = st.integers(0, 2**31 - 1)


@PROPERTY
@given(
    family=families,
    grid=grids(),
    by=st.sampled_from([["f"], ["g"], ["f", "g"], True]),
    weighted=st.booleans(),
    how=new_level_modes,
    seed=seeds,
)
def test_avg_predictions_is_the_weighted_mean_of_predictions_within_each_draw(family, grid, by, weighted, how, seed):
    spec = SPECS[family]
    kw = dict(allow_new_levels=True, sample_new_levels=how, seed=seed)
    rows = mixeff.predictions(spec, grid, **kw)
    avg = mixeff.avg_predictions(spec, grid, by=by, wts="w" if weighted else None, **kw)
    w = grid["w"].to_numpy() if weighted else np.ones(len(grid))
    cols = [] if by is True else by
    keys = avg.grid[cols] if cols else pd.DataFrame(index=[0])
    for i in range(len(keys)):
        mask = np.ones(len(grid), bool)
        for c in cols:
            mask &= (grid[c].astype(str) == str(keys[c].iloc[i])).to_numpy()
        expected = (w[mask] @ rows.draws[mask]) / w[mask].sum()
        np.testing.assert_allclose(avg.draws[i], expected, rtol=1e-10, atol=1e-12)
    assert np.isfinite(avg.draws).all()


@PROPERTY
@given(
    family=families,
    grid=grids(),
    values=st.tuples(st.floats(-2, 2), st.floats(-2, 2)).filter(lambda v: abs(v[0] - v[1]) > 1e-3),
    how=st.sampled_from(["uncertainty", "gaussian", "integrate"]),
    seed=seeds,
)
def test_a_difference_is_hi_minus_lo_predictions_with_shared_new_levels(family, grid, values, how, seed):
    spec = SPECS[family]
    lo, hi = sorted(values)
    kw = dict(allow_new_levels=True, sample_new_levels=how, seed=seed)
    diff = mixeff.comparisons(spec, {"x": [lo, hi]}, newdata=grid, **kw)
    p_hi = mixeff.predictions(spec, grid.assign(x=hi), **kw)
    p_lo = mixeff.predictions(spec, grid.assign(x=lo), **kw)
    np.testing.assert_allclose(diff.draws, p_hi.draws - p_lo.draws, rtol=1e-9, atol=1e-12)


@PROPERTY
@given(
    family=st.sampled_from(["bernoulli", "poisson", "lognormal"]),
    grid=grids(new_levels=False),
    step=st.floats(0.1, 2.0),
    averaged=st.booleans(),
)
def test_the_log_of_a_ratio_is_lnratio(family, grid, step, averaged):
    spec = SPECS[family]
    verb = mixeff.avg_comparisons if averaged else mixeff.comparisons
    ratio = verb(spec, {"x": step}, newdata=grid, comparison="ratio")
    lnratio = verb(spec, {"x": step}, newdata=grid, comparison="lnratio")
    np.testing.assert_allclose(np.log(ratio.draws), lnratio.draws, rtol=1e-9, atol=1e-12)


@PROPERTY
@given(
    family=families,
    grid=grids(min_rows=2, new_levels=False),
    data=st.data(),
    verb=st.sampled_from(["predictions", "comparisons", "slopes"]),
)
def test_permuting_newdata_rows_permutes_per_row_results(family, grid, data, verb):
    spec = SPECS[family]
    order = np.array(data.draw(st.permutations(range(len(grid)))))
    call = {
        "predictions": lambda g: mixeff.predictions(spec, g),
        "comparisons": lambda g: mixeff.comparisons(spec, "x", newdata=g),
        "slopes": lambda g: mixeff.slopes(spec, "x", newdata=g),
    }[verb]
    base = call(grid).draws
    permuted = call(grid.iloc[order].reset_index(drop=True)).draws
    np.testing.assert_allclose(permuted, base[order], rtol=1e-12, atol=1e-14)


@PROPERTY
@given(
    family=families,
    grid=grids(max_rows=20),
    chunk_rows=st.integers(1, 7),
    how=new_level_modes,
    seed=seeds,
    by=st.sampled_from([None, ["f"], True]),
)
def test_results_do_not_depend_on_chunk_rows(family, grid, chunk_rows, how, seed, by):
    spec = SPECS[family]
    kw = dict(allow_new_levels=True, sample_new_levels=how, seed=seed, by=by)
    whole = mixeff.comparisons(spec, "x", newdata=grid, **kw)
    chunked = mixeff.comparisons(spec, "x", newdata=grid, chunk_rows=chunk_rows, **kw)
    # quadrature adapts its nodes to each chunk's widest new-level sd: equal to its verified accuracy
    rtol = 1e-10 if how == "integrate" else 1e-12
    np.testing.assert_allclose(chunked.draws, whole.draws, rtol=rtol, atol=1e-14)


BAD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-2, 2), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(np.array([np.nan, 1.0])),
    st.just(pd.DataFrame({"zz": [1]})),
)
ARGUMENTS = [
    "newdata",
    "by",
    "wts",
    "type",
    "re_formula",
    "allow_new_levels",
    "sample_new_levels",
    "seed",
    "conf_level",
    "estimator",
    "interval",
    "chunk_rows",
    "variables",
    "comparison",
    "transform",
    "eps",
    "slope",
    "hypothesis",
]


@PROPERTY
@given(
    family=families,
    argument=st.sampled_from(ARGUMENTS),
    value=BAD_VALUES,
    verb=st.sampled_from(["avg_predictions", "avg_comparisons", "avg_slopes", "hypotheses"]),
)
def test_random_arguments_raise_only_value_or_type_errors_from_mixeff(family, argument, value, verb):
    spec = SPECS[family]
    grid = pd.DataFrame({"x": [0.0, 1.0], "f": pd.Categorical(["a", "b"], categories=FACTOR), "g": ["g0", "g1"]})
    kwargs = {argument: value}
    try:
        if verb == "hypotheses":
            if argument != "hypothesis":
                return
            mixeff.hypotheses(mixeff.avg_predictions(spec, grid, by="f"), value)
            return
        if (
            argument == "hypothesis"
            or (verb == "avg_predictions" and argument in ("variables", "comparison", "transform", "eps", "slope"))
            or (verb == "avg_comparisons" and argument in ("eps", "slope"))
            or (verb == "avg_slopes" and argument in ("comparison", "transform"))
        ):
            return
        kwargs.setdefault("newdata", grid)
        result = getattr(mixeff, verb)(spec, **kwargs)
    except (ValueError, TypeError) as err:
        assert type(err).__module__ == "builtins"
        frames = _traceback_modules(err)
        assert frames[-1].startswith("mixeff"), (argument, value, frames[-3:], str(err))
        return
    assert np.isfinite(result.draws).all()


def _traceback_modules(err) -> list[str]:
    """Module of each frame of the traceback, outermost first."""
    out, tb = [], err.__traceback__
    while tb is not None:
        out.append(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next
    return out
