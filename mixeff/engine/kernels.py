"""Compiled hot loops (numba), with the same numbers as numpy, bit for bit.

Four loops take most of a pass's time: adding each row's random effects to η, the tail of
the inverse logit after ``exp(−η)``, the tail of the exact logit increment after ``exp(η)``,
and adding each row's values into its ``by`` group's sums; a fifth checks that a chunk's values are
finite while they are still in cache.  numpy runs each step of them as its
own pass over the chunk's ``(rows, S)`` block and takes the GIL back between passes; here each is
one loop that releases the GIL.  The
``exp`` stays numpy's, so every cell's inputs are the same, and the loops do the same IEEE
operations in the same order as the numpy code they replace, with no fast-math and no fused
multiply-add: their results equal numpy's exactly (``tests/test_scale.py`` checks that on
random and extreme inputs, and verb by verb).

numba is a dependency of mixeff itself (not only through PyMC, which is optional).  Where it cannot be imported, or when
``mixeff.set_options(compiled=False)``, the functions here return ``None`` and callers run
their numpy code.

Examples
--------
>>> import numpy as np
>>> from scipy.special import expit
>>> eta, d = np.array([[0.0, 1.0]]), np.array([[0.5, -0.5]])
>>> out = np.exp(eta)
>>> if logit_increment_tail(out, np.expm1(d), np.exp(d), np.zeros(1, dtype=np.intp)):
...     print(np.allclose(out, expit(eta + d) - expit(eta)))
True
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..config import get_options

_LARGEST = float(np.finfo(np.float64).max)
_compiled: dict[str, Callable[..., Any] | None] = {}
_lock = threading.Lock()


def enabled() -> bool:
    """Whether compiled kernels run: the option is on and numba imports."""
    return _kernel("logit_increment_tail") is not None


def _kernel(name: str) -> Callable[..., Any] | None:
    """The compiled kernel ``name``, or None without numba (compiled on first use, cached on disk)."""
    if not get_options()["compiled"]:
        return None
    if name not in _compiled:
        with _lock:
            if name not in _compiled:
                _compiled[name] = _compile(name)
    return _compiled[name]


def _compile(name: str) -> Callable[..., Any] | None:
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; a platform without its wheels still runs numpy
        return None
    jit = numba.njit(nogil=True, cache=True, error_model="numpy")
    return jit(_SOURCES[name])


def _logit_tail(out, m, big, index):
    # on entry out holds e = exp(eta); on exit e m / ((1 + e)(1 + e big)), d's factors m = expm1(d) and
    # big = exp(d) read at row index[r]: the same operations, in the same order, as the numpy passes of
    # engine.links._logit_increment (one array read and written, so that LLVM vectorises the loop)
    finite = True
    for r in range(out.shape[0]):
        j = index[r]
        for s in range(out.shape[1]):
            x = out[r, s]
            den = (x * big[j, s] + 1.0) * (x + 1.0)
            out[r, s] = (x * m[j, s]) / den
            finite &= den <= _LARGEST
    return finite


def _add_effects(eta, table, index, z):
    # eta += take(table, index, axis=0) * z[:, None], as linear_predictor's numpy passes do it
    for r in range(eta.shape[0]):
        j = index[r]
        for s in range(eta.shape[1]):
            eta[r, s] += table[j, s] * z[r]


def _add_intercepts(eta, table, index):
    # eta += take(table, index, axis=0)
    for r in range(eta.shape[0]):
        j = index[r]
        for s in range(eta.shape[1]):
            eta[r, s] += table[j, s]


def _group_sums(total, codes, weights, block):
    # total[codes[r]] += weights[r] * block[r] for each row r in turn, as numpy's unbuffered
    # np.add.at(total, codes, weights[:, None] * block) does it
    for r in range(block.shape[0]):
        c = codes[r]
        w = weights[r]
        for s in range(block.shape[1]):
            total[c, s] += w * block[r, s]


def _one_over_one_plus(x):
    # x = 1 / (1 + x), as the numpy passes x += 1; divide(1, x) do it
    for i in range(x.size):
        x[i] = 1.0 / (x[i] + 1.0)


def _all_finite(x):
    # every |x| <= the largest double (false for NaN and ±inf), counted so that LLVM vectorises the loop
    n = 0
    for i in range(x.size):
        n += abs(x[i]) <= _LARGEST
    return n == x.size


_SOURCES: dict[str, Callable[..., Any]] = {
    "logit_increment_tail": _logit_tail,
    "add_effects": _add_effects,
    "add_intercepts": _add_intercepts,
    "one_over_one_plus": _one_over_one_plus,
    "group_sums": _group_sums,
    "all_finite": _all_finite,
}


def all_finite(x: np.ndarray) -> bool:
    """``np.isfinite(x).all()``, in one pass without a temporary where the compiled kernel applies.

    Examples
    --------
    >>> all_finite(np.array([[1.0, 2.0]])), all_finite(np.array([1.0, np.inf])), all_finite(np.array([np.nan]))
    (True, False, False)
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.c_contiguous:
        kernel = _kernel("all_finite")
        if kernel is not None:
            return bool(kernel(x.reshape(-1)))
    return bool(np.isfinite(x).all())


def one_over_one_plus(x: np.ndarray) -> bool | None:
    """``x = 1 / (1 + x)`` in place in one pass (the tail of the inverse logit after ``exp(−η)``).

    Returns True, or None when ``x`` is not a C-contiguous float64 array or compiled kernels are
    unavailable or switched off.
    """
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.c_contiguous):
        return None
    kernel = _kernel("one_over_one_plus")
    if kernel is None:
        return None
    kernel(x.reshape(-1))
    return True


def group_sums(total: np.ndarray, codes: np.ndarray, weights: np.ndarray, block: np.ndarray) -> bool | None:
    """``total[codes[r]] += weights[r] * block[r]`` for each row ``r`` of ``block``, in row order.

    ``total`` is a ``(groups, S)`` float64 accumulator, ``block`` the ``(rows, S)`` values, ``codes``
    each row's group (valid positions of ``total``) and ``weights`` its weight.  Returns True, or
    None when compiled kernels are unavailable or switched off.
    """
    kernel = _kernel("group_sums")
    if kernel is None:
        return None
    kernel(
        total,
        np.ascontiguousarray(codes, dtype=np.intp),
        np.ascontiguousarray(weights, dtype=float),
        np.asarray(block, dtype=float),
    )
    return True


def add_random_effects(
    eta: np.ndarray, table: np.ndarray, index: np.ndarray, z: np.ndarray | None = None
) -> bool | None:
    """``eta += table[index] * z[:, None]`` in place (``z`` None: a random intercept), in one pass.

    ``eta`` is a C-contiguous ``(rows, S)`` block, ``table`` the ``(levels, S)`` effects of one
    term, ``index`` each row's level (valid positions of ``table``), ``z`` the rows' term values.
    Returns True, or None when compiled kernels are unavailable or switched off.
    """
    if z is None:
        kernel = _kernel("add_intercepts")
        if kernel is None:
            return None
        kernel(eta, table, np.ascontiguousarray(index, dtype=np.intp))
        return True
    kernel = _kernel("add_effects")
    if kernel is None:
        return None
    kernel(eta, table, np.ascontiguousarray(index, dtype=np.intp), np.ascontiguousarray(z, dtype=float))
    return True


def logit_increment_tail(out: np.ndarray, m: np.ndarray, big: np.ndarray, index: np.ndarray) -> bool | None:
    """``out = e·m / ((1 + e)(1 + e·big))`` in place.

    ``out`` holds ``e = exp(η)`` on entry; ``m`` and ``big`` are read at row ``index[r]`` for row r.

    ``out`` is a C-contiguous ``(rows, S)`` block, ``m`` and ``big`` are ``(k, S)``.  Returns
    whether every denominator was finite (where one is not, ``out`` is not yet right there and
    the caller computes those cells another way), or None when compiled kernels are unavailable
    or switched off.
    """
    kernel = _kernel("logit_increment_tail")
    if kernel is None:
        return None
    return bool(
        kernel(out, np.ascontiguousarray(m), np.ascontiguousarray(big), np.ascontiguousarray(index, dtype=np.intp))
    )
