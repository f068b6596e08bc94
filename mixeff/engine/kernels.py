"""Compiled hot loops (numba), with the same numbers as numpy, bit for bit.

Four loops take most of a pass's time: adding each row's random effects to η, the tail of
the inverse logit after ``exp(−η)``, the tail of the exact logit increment after ``exp(η)``,
and adding each row's values into its ``by`` group's sums; a fifth checks that a chunk's values are
finite while they are still in cache.  Two more read the tables of
integrated means (:mod:`mixeff.engine.tabulate`), which exist only here: without numba the
engine integrates by quadrature instead.  numpy runs each step of them as its
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
    for helper in _HELPERS.get(name, ()):  # called from the kernel: compiled first (inlined), in the module's namespace
        if not hasattr(globals()[helper], "py_func"):
            globals()[helper] = numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")(
                globals()[helper]
            )
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


# -- tables of E[F(η + u)] (mixeff.engine.tabulate) ---------------------------------------------
# A cell's panel (pe, ps) of the table and its local coordinates x, y in [-1, 1]; the panel's polynomial in x at
# the cell's sd, b_i = Σ_j c[pe, ps, i, j] T_j(y), then L = Σ_i b_i T_i(x) (Clenshaw).  ``coef`` is the table's
# (n_eta, n_sd, ne + 1, ns + 1) array flattened; panel widths are powers of 2 (multiplying by their inverse is
# exact).  Most of a cell's cost is b (80 multiply-adds).  b depends on the cell only through (pe, var), and
# within a draw var often repeats across rows (a random intercept, a factor's or a 0/1 slope: zᵀΣz takes a few
# values), so each draw keeps the b of its panels in a direct-mapped cache (slot pe mod TABLE_SLOTS, keyed by pe and
# the exact bits of var; ``LinkTable.row_cache``).  A hit reuses the b the cell would compute — the same numbers,
# bit for bit — and the cache outlives the call (a built panel's coefficients never change).

TABLE_NE = 10
"""Coefficients in η of a table's panel (degree 9): compile-time constants, so the loops unroll."""
TABLE_NS = 8  # _table_row is written out for 8
"""... and in sd (degree 7)."""
TABLE_SLOTS = 32
"""Panels whose b each draw keeps, a power of 2 (η within 32 panels, 8 units, of each other never evict each other)."""
TABLE_PROBE = 64
"""Rows where var did not repeat try the cache again every 64 rows."""


def _table_row(coef, base, y, b, at):
    # b[at + i] = Σ_j c[base + i·TABLE_NS + j] T_j(y), j in order; the T_j(y) in registers (written out for
    # TABLE_NS = 8: in an array they are reloaded for every i, which costs more than the arithmetic)
    y2 = 2.0 * y
    t0 = 1.0
    t1 = y
    t2 = y2 * t1 - t0
    t3 = y2 * t2 - t1
    t4 = y2 * t3 - t2
    t5 = y2 * t4 - t3
    t6 = y2 * t5 - t4
    t7 = y2 * t6 - t5
    for i in range(TABLE_NE):
        k = base + i * TABLE_NS
        acc = coef[k] * t0 + coef[k + 1] * t1
        acc = acc + coef[k + 2] * t2
        acc = acc + coef[k + 3] * t3
        acc = acc + coef[k + 4] * t4
        acc = acc + coef[k + 5] * t5
        acc = acc + coef[k + 6] * t6
        b[at + i] = acc + coef[k + 7] * t7


def _table_sum(b, at, x):
    # Σ_i b[at + i] T_i(x) by Clenshaw
    u1 = 0.0
    u2 = 0.0
    for i in range(TABLE_NE - 1, 0, -1):
        u0 = 2.0 * x * u1 - u2 + b[at + i]
        u2 = u1
        u1 = u0
    return x * u1 - u2 + b[at]


def _table_difference(b, at, x, delta):
    # Σ_i b[at + i] (T_i(x + delta) − T_i(x)) by the recurrence of the differences: relative to delta, no cancellation
    x1 = x + delta
    t0 = 1.0
    t1 = x
    d0 = 0.0
    d1 = delta
    acc = b[at + 1] * d1
    for i in range(1, TABLE_NE - 1):
        d2 = 2.0 * x1 * d1 + 2.0 * delta * t1 - d0
        t2 = 2.0 * x * t1 - t0
        acc = acc + b[at + i + 1] * d2
        d0 = d1
        d1 = d2
        t0 = t1
        t1 = t2
    return acc


def _cached_row(coef, n_sd, sd_width, pe, v, c, built, missing, cache_b, cache_pe, cache_v):
    # the slot of draw c's cache holding b of panel pe at variance v (computed on a miss); -1 where the cell is
    # outside the table in sd or its panel is not built yet (marked in missing)
    slot = pe & (TABLE_SLOTS - 1)
    if cache_pe[slot, c] == pe and cache_v[slot, c] == v:
        return slot
    s = np.sqrt(v)
    if not (s < n_sd * sd_width):
        return -1
    inv_sd = 1.0 / sd_width
    ps = min(int(np.floor(s * inv_sd)), n_sd - 1)
    if built[pe, ps] == 0:
        missing[pe, ps] = 1
        return -1
    y = 2.0 * ((s - ps * sd_width) * inv_sd) - 1.0
    _table_row(coef, (pe * n_sd + ps) * TABLE_NE * TABLE_NS, y, cache_b, (slot * cache_pe.shape[1] + c) * TABLE_NE)
    cache_pe[slot, c] = pe
    cache_v[slot, c] = v
    return slot


def _table_values(
    out, eta, var, coef, n_eta, n_sd, built, lo, hi, eta_width, sd_width, symmetric, missing, cache_b, cache_pe, cache_v
):
    # out = L(−|η|, sqrt(var)) of a symmetric table, L(η, sqrt(var)) of another (table_values takes the exp);
    # cells outside the table, or in a panel not built yet (marked in `missing`), get NaN.  Returns their number.
    # Row by row.  Where var repeats, two loops: the first finds each cell's b in the cache (filling it where it
    # misses), the second only reads it, without a branch.  Where var does not repeat (two rows running, more than
    # a quarter of the cells found their panel cached at another var), one loop computes each cell's b in place,
    # and the cache is tried again every TABLE_PROBE rows.  Either way a cell gets the same operations and bits.
    inv_eta, inv_sd = 1.0 / eta_width, 1.0 / sd_width
    n_draws = eta.shape[1]
    b = np.empty(TABLE_NE)
    xs = np.empty(n_draws)
    at = np.empty(n_draws, dtype=np.int64)
    missed = np.empty(n_draws, dtype=np.int64)
    skipped = 0
    direct = was_varying = False
    for r in range(eta.shape[0]):
        if direct and r % TABLE_PROBE != 0:
            for c in range(n_draws):
                e = -abs(eta[r, c]) if symmetric else eta[r, c]
                s = np.sqrt(var[r, c])
                if not (e >= lo and e <= hi and s < n_sd * sd_width):
                    out[r, c] = np.nan
                    skipped += 1
                    continue
                pe = min(max(int(np.floor((e - lo) * inv_eta)), 0), n_eta - 1)
                ps = min(int(np.floor(s * inv_sd)), n_sd - 1)
                if built[pe, ps] == 0:
                    missing[pe, ps] = 1
                    out[r, c] = np.nan
                    skipped += 1
                    continue
                y = 2.0 * ((s - ps * sd_width) * inv_sd) - 1.0
                _table_row(coef, (pe * n_sd + ps) * TABLE_NE * TABLE_NS, y, b, 0)
                out[r, c] = _table_sum(b, 0, 2.0 * ((e - (lo + pe * eta_width)) * inv_eta) - 1.0)
            continue
        misses = 0
        other_var = 0
        for c in range(n_draws):  # no call in this loop: the misses are handled in the next
            e = -abs(eta[r, c]) if symmetric else eta[r, c]
            pe = min(max(int(np.floor((e - lo) * inv_eta)), 0), n_eta - 1) if e >= lo and e <= hi else -1
            slot = pe & (TABLE_SLOTS - 1)
            xs[c] = 2.0 * ((e - (lo + pe * eta_width)) * inv_eta) - 1.0
            at[c] = (slot * n_draws + c) * TABLE_NE
            same_panel = pe >= 0 and cache_pe[slot, c] == pe
            if not (same_panel and cache_v[slot, c] == var[r, c]):
                missed[misses] = c
                misses += 1
                other_var += same_panel
        for k in range(misses):
            c = missed[k]
            e = -abs(eta[r, c]) if symmetric else eta[r, c]
            slot = -1
            if e >= lo and e <= hi:
                pe = min(max(int(np.floor((e - lo) * inv_eta)), 0), n_eta - 1)
                slot = _cached_row(coef, n_sd, sd_width, pe, var[r, c], c, built, missing, cache_b, cache_pe, cache_v)
            if slot < 0:
                xs[c] = np.nan
                at[c] = 0
                skipped += 1
        # two rows in a row, not a cold or stale cache: var itself changes from row to row
        varying = 4 * other_var > n_draws
        direct = varying and was_varying
        was_varying = varying
        for c in range(n_draws):
            out[r, c] = _table_sum(cache_b, at[c], xs[c])
    return skipped


def _table_lower_increment(coef, n_eta, n_sd, built, lo, width, a, length, ps, y, b, missing):
    # G(a + length) − G(a) for length >= 0, both ends in the table (<= 0 for a symmetric one):
    # G(a)·expm1(L(a + length) − L(a))
    inv = 1.0 / width
    pa = min(max(int(np.floor((a - lo) * inv)), 0), n_eta - 1)
    xa = 2.0 * ((a - (lo + pa * width)) * inv) - 1.0
    end = a + length
    pb = min(max(int(np.floor((end - lo) * inv)), 0), n_eta - 1)
    if built[pa, ps] == 0 or built[pb, ps] == 0:
        missing[pa, ps] = 1
        missing[pb, ps] = 1
        return np.nan
    size = TABLE_NE * TABLE_NS
    _table_row(coef, (pa * n_sd + ps) * size, y, b, 0)
    la = _table_sum(b, 0, xa)
    if pb == pa:
        dl = _table_difference(b, 0, xa, (length * inv) * 2.0)
    elif pb == pa + 1:  # split at the panel edge
        first = lo + pb * width - a
        dl = _table_difference(b, 0, xa, (first * inv) * 2.0)
        _table_row(coef, (pb * n_sd + ps) * size, y, b, 0)
        dl = dl + _table_difference(b, 0, -1.0, ((length - first) * inv) * 2.0)
    else:  # a panel apart or more: L changes enough that the plain difference keeps its digits
        _table_row(coef, (pb * n_sd + ps) * size, y, b, 0)
        dl = _table_sum(b, 0, 2.0 * ((end - (lo + pb * width)) * inv) - 1.0) - la
    return np.exp(la) * np.expm1(dl)


def _table_increments(out, eta, d, var, coef, n_eta, n_sd, built, lo, hi, eta_width, sd_width, symmetric, missing):
    # out = G(eta + d) − G(eta), G(x) = E[F(x + u)], without cancellation: from a symmetric table (G(x) = 1 − G(−x),
    # covering x <= 0) anywhere in |x| <= −lo, from another with both ends in [lo, hi]; cells outside the table or
    # in panels not built get NaN (returns their number)
    inv_sd = 1.0 / sd_width
    b = np.empty(TABLE_NE)
    skipped = 0
    for r in range(eta.shape[0]):
        for c in range(eta.shape[1]):
            e = eta[r, c]
            step = d[r, c]
            s = np.sqrt(var[r, c])
            if step == 0.0 and e == e and s == s:
                out[r, c] = 0.0
                continue
            if step > 0.0:
                start = e
                length = step
                sign = 1.0
            else:
                start = e + step
                length = -step
                sign = -1.0
            end = start + length
            if not (start >= lo and end <= (-lo if symmetric else hi) and s < n_sd * sd_width):
                out[r, c] = np.nan
                skipped += 1
                continue
            ps = min(int(np.floor(s * inv_sd)), n_sd - 1)
            y = 2.0 * ((s - ps * sd_width) * inv_sd) - 1.0
            if end <= 0.0 or not symmetric:
                first, first_length, second, second_length = start, length, 0.0, 0.0
            elif start >= 0.0:  # G(end) − G(start) = G(−start) − G(−end)
                first, first_length, second, second_length = -end, length, 0.0, 0.0
            else:  # across 0: [G(0) − G(start)] + [G(end) − G(0)], both of one sign
                first, first_length, second, second_length = start, -start, -end, end
            value = _table_lower_increment(
                coef, n_eta, n_sd, built, lo, eta_width, first, first_length, ps, y, b, missing
            )
            if second_length > 0.0:
                value = value + _table_lower_increment(
                    coef, n_eta, n_sd, built, lo, eta_width, second, second_length, ps, y, b, missing
                )
            if value != value:
                skipped += 1
            out[r, c] = sign * value
    return skipped


def table_values(
    out: np.ndarray, eta: np.ndarray, var: np.ndarray, table: Any, missing: np.ndarray, log: bool = False
) -> int | None:
    """``out = G(η, √var)`` from ``table`` (a :class:`mixeff.engine.tabulate.LinkTable`), cell by cell.

    Cells outside the table, or in a panel not built yet (marked 1 in ``missing``, the table's
    panel shape), are NaN; returns their number, or None when compiled kernels are unavailable
    or switched off.  ``out``, ``eta`` and ``var`` are ``(rows, S)`` float64 blocks.  ``log``: the
    table's own value, ``log G`` (no exp; the raw interpolant for a table that stores something else).
    """
    kernel = _kernel("table_values")
    if kernel is None:
        return None
    skipped = kernel(out, eta, var, *_table_arguments(table), missing, *table.row_cache(eta.shape[1]))
    if log:
        if table.symmetric:  # log G(η) = log(1 − G(−η)) above 0, accurate relative to 1 − G(η) = G(−η) too
            above = eta > 0.0
            out[above] = np.log1p(-np.exp(out[above]))
        return int(skipped)
    np.exp(out, out=out)  # numpy's exp, a vector loop: a third of the cost of the kernel's own
    if table.symmetric:  # G(η) = 1 − G(−η) above 0; G(−η) <= 1/2 there, so 1 − G keeps its relative accuracy
        np.subtract(1.0, out, out=out, where=eta > 0.0)
    return int(skipped)


def table_increments(
    out: np.ndarray, eta: np.ndarray, d: np.ndarray, var: np.ndarray, table: Any, missing: np.ndarray
) -> int | None:
    """``out = G(η + d, √var) − G(η, √var)`` without cancellation, from ``table``.

    A symmetric table's cells anywhere in its range (across 0 as two pieces); another's with η and
    η + d both in its range.  As :func:`table_values`: NaN cells (outside the table or in panels not
    built, marked in ``missing``) are counted and returned; None without compiled kernels.
    """
    kernel = _kernel("table_increments")
    if kernel is None:
        return None
    return int(kernel(out, eta, d, var, *_table_arguments(table), missing))


def _table_arguments(table: Any) -> tuple:
    """What the table kernels read of a table: its flat coefficients, panel counts, built flags and geometry."""
    n_eta, n_sd = table.built.shape
    return (
        table.coef.reshape(-1),
        n_eta,
        n_sd,
        table.built,
        table.eta_lo,
        table.eta_hi,
        table.eta_width,
        table.sd_width,
        table.symmetric,
    )


_SOURCES: dict[str, Callable[..., Any]] = {
    "logit_increment_tail": _logit_tail,
    "add_effects": _add_effects,
    "add_intercepts": _add_intercepts,
    "one_over_one_plus": _one_over_one_plus,
    "group_sums": _group_sums,
    "all_finite": _all_finite,
    "table_values": _table_values,
    "table_increments": _table_increments,
}
_HELPERS = {
    "table_values": ("_table_row", "_cached_row", "_table_sum"),
    "table_increments": ("_table_row", "_table_sum", "_table_difference", "_table_lower_increment"),
}
"""Functions a kernel calls, compiled before it (innermost first)."""
