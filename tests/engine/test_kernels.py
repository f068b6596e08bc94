"""The compiled (numba) kernels: each one runs (``compiled_calls`` counts it) and gives numpy's bits.

Every test here takes the ``compiled_calls`` fixture (tests/conftest.py), which skips without numba and
fails unless each kernel is a numba dispatcher; each test then asserts its kernel was called, so a
silent fallback to numpy cannot pass as parity.
"""

import numpy as np
import pytest
from scipy import special

import mixeff
from mixeff.engine.reduce import add_by_group


def kernels_module():
    """mixeff's numba kernels (:mod:`mixeff.engine.kernels`)."""
    from mixeff.engine import kernels

    return kernels


def _numpy_only(fn):
    before = mixeff.set_options(compiled=False)
    try:
        return fn()
    finally:
        mixeff.set_options(**before)


def _families():
    """Where the link arithmetic lives (:mod:`mixeff.engine.links`)."""
    from mixeff.engine import links

    return links


@pytest.mark.parametrize("scale", [1.0, 40.0, 400.0, 2000.0])
@pytest.mark.parametrize("form", ["one row", "shared rows", "every row"])
def test_compiled_logit_increment_equals_numpy_bit_for_bit(scale, form, compiled_calls):
    """The numba tail does numpy's operations in numpy's order: equal bits, at ordinary and at extreme
    eta and d (where some denominators overflow and the ordered form takes those cells)."""
    families = _families()
    rng = np.random.default_rng(int(scale))
    eta = rng.normal(0, scale, (57, 300))
    d = {
        "one row": lambda: rng.normal(0, scale, (1, 300)),
        "shared rows": lambda: families.SharedRows(rng.normal(0, scale, (4, 300)), rng.integers(0, 4, 57)),
        "every row": lambda: rng.normal(0, scale, (57, 300)),
    }[form]()
    compiled = families._logit_increment(eta, d)
    assert compiled_calls["logit_increment_tail"] == 1
    plain = _numpy_only(lambda: families._logit_increment(eta, d))
    assert compiled_calls["logit_increment_tail"] == 1  # compiled=False: numpy only
    assert np.isfinite(plain).all()
    np.testing.assert_array_equal(compiled, plain)


def test_compiled_inverse_logit_equals_numpy_bit_for_bit(compiled_calls):
    families = _families()
    x = np.concatenate([np.random.default_rng(5).normal(0, 30, 4000), [-800, -709.5, -40, 0, 40, 800, np.inf, -np.inf]])
    compiled = families._inv_logit(x.reshape(4, -1).copy())
    assert compiled_calls["one_over_one_plus"] == 1
    plain = _numpy_only(lambda: families._inv_logit(x.reshape(4, -1).copy()))
    np.testing.assert_array_equal(compiled, plain)
    assert compiled.ravel()[-2:].tolist() == [1.0, 0.0]
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(compiled.ravel(), special.expit(x), rtol=1e-15, atol=0)


@pytest.mark.parametrize("with_z", [False, True])
def test_compiled_random_effects_equal_numpy_bit_for_bit(with_z, compiled_calls):
    """η += b[level] (· z) in one compiled pass gives numpy's take-multiply-add bits."""
    kernels = kernels_module()
    rng = np.random.default_rng(4)
    eta, table = rng.normal(0, 3, (61, 250)), rng.normal(0, 1e3, (9, 250))
    index, z = rng.integers(0, 9, 61), (rng.normal(0, 50, 61) if with_z else None)
    compiled = eta.copy()
    assert kernels.add_random_effects(compiled, table, index, z)
    assert compiled_calls["add_effects" if with_z else "add_intercepts"] == 1
    plain = eta + np.take(table, index, axis=0) * (1.0 if z is None else z[:, None])
    np.testing.assert_array_equal(compiled, plain)


@pytest.mark.parametrize("n_draws", [250, 40])
@pytest.mark.parametrize("n_groups", [1, 7])
def test_compiled_group_sums_equal_numpy_bit_for_bit(n_draws, n_groups, compiled_calls):
    """Each row added to its group's sums in row order: the compiled loop and the numpy loop give the
    same bits, and equal a plain Python accumulation (not a pairwise or BLAS sum)."""
    rng = np.random.default_rng(n_draws + n_groups)
    block, codes = rng.lognormal(0, 4, (301, n_draws)), rng.integers(0, n_groups, 301)
    weights = rng.uniform(0, 3, 301)
    start = rng.normal(0, 1e3, (n_groups, n_draws))
    compiled, plain = start.copy(), start.copy()
    add_by_group(compiled, codes, weights, block)
    assert compiled_calls["group_sums"] == 1
    _numpy_only(lambda: add_by_group(plain, codes, weights, block))
    assert compiled_calls["group_sums"] == 1
    np.testing.assert_array_equal(compiled, plain)
    by_hand = start.copy()
    for r in range(301):
        for s in range(n_draws):
            by_hand[codes[r], s] = by_hand[codes[r], s] + weights[r] * block[r, s]
    np.testing.assert_array_equal(compiled, by_hand)


def test_logit_increment_tail_is_the_difference_of_two_inverse_logits(compiled_calls):
    """out = e m / ((1 + e)(1 + e·big)) with e = exp(η), m = expm1(d), big = exp(d): expit(η + d) − expit(η)."""
    kernels = kernels_module()
    rng = np.random.default_rng(8)
    eta, d = rng.normal(0, 2, (5, 30)), rng.normal(0, 0.5, (2, 30))
    index = np.array([0, 1, 1, 0, 1])
    out = np.exp(eta)
    assert kernels.logit_increment_tail(out, np.expm1(d), np.exp(d), index) is True
    np.testing.assert_allclose(out, special.expit(eta + d[index]) - special.expit(eta), rtol=1e-12, atol=1e-15)
    assert compiled_calls["logit_increment_tail"] == 1


def test_the_kernels_refuse_what_they_do_not_handle_and_step_aside_when_switched_off(compiled_calls):
    kernels = kernels_module()
    assert kernels.one_over_one_plus(np.ones((3, 2), dtype=np.float32)) is None  # not float64: numpy's job
    assert kernels.one_over_one_plus(np.ones((3, 4))[:, ::2]) is None  # not contiguous
    x = np.array([0.0, 1.0, 3.0])
    assert kernels.one_over_one_plus(x) is True and x.tolist() == [1.0, 0.5, 0.25]
    assert compiled_calls["one_over_one_plus"] == 1
    assert _numpy_only(kernels.enabled) is False
    assert _numpy_only(lambda: kernels.group_sums(np.zeros((1, 1)), [0], [1.0], np.ones((1, 1)))) is None
    assert kernels.enabled() is True
    assert compiled_calls["one_over_one_plus"] == 1
