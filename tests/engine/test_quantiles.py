"""The per-row summary by partial selection equals ``np.quantile`` and ``np.median`` bit for bit.

Every comparison is of the float64 bit patterns (``view(np.int64)``), so a sign of zero or a NaN
payload that differed would fail, and of the warnings numpy's arithmetic raises.
"""

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mixeff
from mixeff.engine import quantiles
from mixeff.engine.quantiles import row_median, row_quantiles
from mixeff.results import Result, summarise_draws

CONF_LEVELS = [0.5, 0.8, 0.95, 0.99, 0.999]


def assert_bits(got, ref):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    differ = got.view(np.int64) != ref.view(np.int64)
    assert not differ.any(), f"{differ.sum()} values differ, first at {np.argwhere(differ)[0]}"


def assert_matches_numpy(x, probs, median=True, n_jobs=None):
    """row_quantiles against np.quantile and np.median: values bit for bit, and the same warnings."""
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        got = row_quantiles(x, probs, median=median, n_jobs=n_jobs)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        ref = np.quantile(x, probs, axis=1)
        ref_median = np.median(x, axis=1) if median else None
    assert_bits(got[: len(probs)], ref)
    if median:
        assert_bits(got[-1], ref_median)
    assert {(w.category, str(w.message)) for w in ours} == {(w.category, str(w.message)) for w in theirs}
    return got


def draws(kind, rows, n, seed):
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(size=(rows, n))
    if kind == "integers":  # ties everywhere
        return rng.integers(0, 5, size=(rows, n)).astype(float)
    if kind == "constant":
        return np.repeat(rng.normal(size=(rows, 1)), n, axis=1)
    if kind == "zeros":  # +0.0 and -0.0 mixed: which one a partition leaves at a rank is arbitrary
        return rng.choice([-0.0, 0.0, 1.0, -1.0], size=(rows, n))
    if kind == "negative_zeros":
        return rng.choice([-0.0, 2.0], size=(rows, n))
    if kind == "nonfinite":
        return rng.choice([-np.inf, np.inf, 0.0, 2.0, np.nan], size=(rows, n), p=[0.1, 0.1, 0.3, 0.45, 0.05])
    if kind == "huge":  # b - a overflows
        return rng.standard_cauchy(size=(rows, n)) * 1e300
    raise ValueError(kind)


KINDS = ["normal", "integers", "constant", "zeros", "negative_zeros", "nonfinite", "huge"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 40, 41, 1000, 1001])
def test_every_conf_level_bit_for_bit(kind, n):
    x = draws(kind, 23, n, seed=n)
    for conf in CONF_LEVELS:
        assert_matches_numpy(x, [(1 - conf) / 2, (1 + conf) / 2, 0.5])
        assert_matches_numpy(x, [(1 - conf) / 2, (1 + conf) / 2], median=False)


@pytest.mark.parametrize("n", [1, 2, 7, 4000])
def test_median_alone_equals_np_median(n):
    for kind in KINDS:
        x = draws(kind, 9, n, seed=3)
        assert_bits(row_median(x), np.median(x, axis=1))


def test_many_quantiles_and_edges():
    # q = 0 and 1 (numpy's t = v + 1 at the last index), repeated and unsorted probabilities
    x = draws("normal", 31, 257, seed=5)
    assert_matches_numpy(x, [0.0, 1.0, 0.3, 0.3, 0.999999, 1e-9, 0.5, 0.25, 0.75])
    assert_matches_numpy(draws("nonfinite", 31, 257, seed=6), [0.0, 1.0, 0.5])
    assert_matches_numpy(x, np.array([], dtype=float))


def test_a_row_with_infinity_and_one_draw():
    # one draw: a = b = the draw, t = 1, so b - (b - a) * 0: NaN for an infinite draw, as in numpy
    x = np.array([[np.inf], [-np.inf], [1.5], [np.nan], [-0.0]])
    got = assert_matches_numpy(x, [0.025, 0.975, 0.5])
    assert np.isnan(got[:3, :2]).all() and (got[:, 2] == 1.5).all()
    assert got[3, 0] == np.inf and got[3, 1] == -np.inf  # the median of one draw is the draw


def test_blocks_and_threads_do_not_change_the_bits(monkeypatch):
    x = draws("integers", 301, 1001, seed=8)
    x[::7] = draws("zeros", 43, 1001, seed=9)
    x[5, 17] = np.nan
    one = assert_matches_numpy(x, [0.025, 0.975, 0.5], n_jobs=1)
    monkeypatch.setattr(quantiles, "BLOCK_CELLS", 3000)  # blocks of 2 rows ...
    monkeypatch.setattr(quantiles, "SERIAL_CELLS", 0)  # ... on threads
    for jobs in (2, 3):
        assert_bits(assert_matches_numpy(x, [0.025, 0.975, 0.5], n_jobs=jobs), one)


def test_rows_numpy_must_take_are_exactly_those():
    # NaN rows and rows with a -0.0 where a selected value is zero go to numpy; the rest do not
    x = np.vstack([draws("normal", 3, 100, seed=1), np.zeros((1, 100)), np.full((1, 100), -0.0)])
    x[1, 50] = np.nan
    x[2, :60] = -0.0  # most of the row is -0.0: the selected order statistics are zeros
    calls = []
    real = quantiles._numpy

    def spy(v, q, median):
        calls.append(len(v))
        return real(v, q, median)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(quantiles, "_numpy", spy)
        assert_matches_numpy(x, [0.025, 0.975, 0.5])
    assert calls == [3]  # rows 1 (NaN), 2 and 4 (a zero selected, -0.0 in the row); row 3 (+0.0 only) stays


@pytest.mark.parametrize("n", [2, 11, 1000, 1001])
def test_a_nan_anywhere_in_a_row_is_found(n):
    # numpy sorts NaN last: the max above the highest rank (or a rank's value) sees it, wherever it is
    rng = np.random.default_rng(n)
    x = np.tile(rng.normal(size=n), (n + 3, 1))
    x[np.arange(n), np.arange(n)] = np.nan  # one NaN at each position
    x[n, rng.choice(n, size=max(1, n // 3), replace=False)] = np.nan  # many NaNs
    x[n + 1] = np.nan  # all NaN
    for conf in CONF_LEVELS:
        got = assert_matches_numpy(x, [(1 - conf) / 2, (1 + conf) / 2, 0.5])
        assert np.isnan(got[:, : n + 2]).all() and not np.isnan(got[:, n + 2]).any()
    assert_matches_numpy(x, [0.0, 1.0])


def test_not_float64_goes_to_numpy_unchanged():
    x32 = draws("normal", 4, 11, seed=2).astype(np.float32)
    got, ref = row_quantiles(x32, [0.1, 0.9], median=True), np.quantile(x32, [0.1, 0.9], axis=1)
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got[:2], ref)
    np.testing.assert_array_equal(got[2], np.median(x32, axis=1))
    ints = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(row_quantiles(ints, [0.5]), np.quantile(ints, [0.5], axis=1))
    with pytest.raises(ValueError, match="Quantiles must be in the range"):
        row_quantiles(draws("normal", 2, 5, seed=0), [0.5, 1.5])
    with pytest.raises(ValueError, match="Quantiles must be in the range"):
        row_quantiles(draws("normal", 2, 5, seed=0), [np.nan])


def test_numpy_error_state_reaches_the_threads(monkeypatch):
    monkeypatch.setattr(quantiles, "BLOCK_CELLS", 64)
    monkeypatch.setattr(quantiles, "SERIAL_CELLS", 0)
    x = np.tile([[np.inf, -np.inf, 1.0, 2.0]], (40, 8))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        row_quantiles(x, [0.5, 0.9], n_jobs=2)
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        row_quantiles(x, [0.5, 0.9], n_jobs=2)


@pytest.mark.parametrize("interval", ["eti", "hdi"])
@pytest.mark.parametrize("estimator", ["median", "mean"])
def test_summary_equals_todays_numpy_summary(interval, estimator):
    x = np.vstack([draws("normal", 50, 2000, seed=4), draws("integers", 20, 2000, seed=5)])
    for conf in CONF_LEVELS:
        got = summarise_draws(x, conf_level=conf, estimator=estimator, interval=interval)
        if interval == "eti":
            probs = [(1 - conf) / 2, (1 + conf) / 2] + ([0.5] if estimator == "median" else [])
            q = np.quantile(x, probs, axis=1)
            lo, hi = q[0], q[1]
            est = q[2] if estimator == "median" else x.mean(axis=1)
        else:
            lo, hi = got["conf_low"], got["conf_high"]  # arviz-stats' HDI, unchanged
            est = np.median(x, axis=1) if estimator == "median" else x.mean(axis=1)
        assert_bits(got["estimate"], est)
        assert_bits(got["conf_low"], lo)
        assert_bits(got["conf_high"], hi)


def test_result_summary_uses_it():
    x = draws("integers", 7, 999, seed=12)
    r = Result(pd.DataFrame({"i": range(7)}), x, 3, 333)
    assert_bits(r.summary["estimate"], np.quantile(x, 0.5, axis=1))
    assert_bits(r.summarise(conf_level=0.999)["conf_high"], np.quantile(x, 0.9995, axis=1))


def test_n_jobs_option_is_respected(monkeypatch):
    seen = []
    real = quantiles.ordered_map

    def spy(fn, items, jobs):
        seen.append(jobs)
        return real(fn, items, jobs)

    monkeypatch.setattr(quantiles, "ordered_map", spy)
    monkeypatch.setattr(quantiles, "SERIAL_CELLS", 0)
    before = mixeff.set_options(n_jobs=1)
    try:
        row_quantiles(draws("normal", 10, 100, seed=1), [0.5])
    finally:
        mixeff.set_options(**before)
    row_quantiles(draws("normal", 10, 100, seed=1), [0.5], n_jobs=2)
    assert seen == [1, 2]
    # a result's summary takes its call's n_jobs (dask's pieces run with n_jobs=1)
    x = draws("normal", 10, 100, seed=2)
    one = Result(pd.DataFrame({"i": range(10)}), x, 1, 100, call=SimpleNamespace(n_jobs=1)).summary
    Result(pd.DataFrame({"i": range(10)}), x, 1, 100, call=SimpleNamespace(n_jobs=2)).summarise(n_jobs=3)
    assert seen == [1, 2, 1, 3]
    assert_bits(one["estimate"], np.quantile(x, 0.5, axis=1))  # the ETI summary's median: quantile 0.5
    with pytest.raises(ValueError, match="n_jobs=0 must be a positive whole number"):
        row_quantiles(x, [0.5], n_jobs=0)


float_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0]),  # ties and signed zeros often
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40), elements=float_values),
    probs=st.lists(st.floats(0, 1), min_size=0, max_size=5),
    median=st.booleans(),
)
def test_property_bit_for_bit(x, probs, median):
    assert_matches_numpy(x, np.array(probs, dtype=float), median=median)
