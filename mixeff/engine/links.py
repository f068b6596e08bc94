"""The engine's arithmetic of links: in-place inverses, exact increments, normal means, quadrature steps.

:mod:`mixeff.model.families` describes each link (its name, its inverse as a formula, whether
its mean over a normal random effect exists); here is how the engine computes with it, on
``(rows, S)`` blocks, reusing buffers and the compiled kernels of :mod:`mixeff.engine.kernels`.
Every link of the description has an entry in :data:`LINKS` (:func:`arithmetic`'s example checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..model import families
from . import kernels


@dataclass(frozen=True)
class SharedRows:
    """A ``(rows, S)`` block whose rows take few distinct values: row r is ``values[index[r]]``.

    An increment's d is often like this (a contrast or slope step changes every row by the same
    amount, up to rounding of ``x + h``), so kernels apply their functions of d to the distinct
    rows and gather, instead of evaluating them once per cell.
    """

    values: np.ndarray
    index: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.index), self.values.shape[1]

    def apply(self, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        return np.take(fn(self.values), self.index, axis=0)


def per_row(d: np.ndarray | SharedRows, fn: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """``fn(d)`` (d itself without ``fn``) for an array or a :class:`SharedRows` block."""
    fn = fn or (lambda v: v)
    return d.apply(fn) if isinstance(d, SharedRows) else fn(np.asarray(d, dtype=float))


def _buffer(buffer: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """``buffer``'s first ``shape[0]`` rows when given (a reused block), else a new array."""
    return np.empty(shape) if buffer is None else buffer[: shape[0]]


def _row_factors(d: np.ndarray | SharedRows, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """``(values, index)`` with row r of d equal to ``values[index[r]]``, for a 2-D d of ``shape``'s width."""
    if isinstance(d, SharedRows):
        return (d.values, d.index) if d.values.shape[1] == shape[1] else None
    d = np.asarray(d, dtype=float)
    if d.ndim != 2 or d.shape[1] != shape[1]:
        return None
    return d, (np.zeros(shape[0], dtype=np.intp) if len(d) == 1 else np.arange(shape[0]))


# -- inverses ------------------------------------------------------------------------------


def _inv_logit(x):
    # the description's 1 / (1 + exp(-x)), with its tail after exp(-x) compiled where it can be:
    # one pass instead of two, the same IEEE quotient (tests/test_scale.py checks the bits)
    if not kernels.enabled() or not (isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.c_contiguous):
        return families.LINKS["logit"].inverse(x)
    with np.errstate(over="ignore"):
        np.negative(x, out=x)
        np.exp(x, out=x)
    if kernels.one_over_one_plus(x):
        return x
    x += 1.0
    return np.divide(1.0, x, out=x)


# -- exact increments: inverse(eta + d) - inverse(eta) without cancellation -------------------


def _log_increment(eta, d, out=None, scratch=()):
    # exp(hi) - exp(lo) = sign(d) * exp(hi) * (1 - exp(-|d|)) with hi = eta + max(d, 0): no inf * 0.
    # The factors in d are computed once per distinct row of d, the exp once per cell.
    shape = np.broadcast_shapes(np.shape(eta), np.shape(d))
    factor = per_row(d, lambda v: np.expm1(-np.abs(v)) * -np.sign(v))
    out = np.add(eta, per_row(d, lambda v: np.maximum(v, 0.0)), out=_buffer(out, shape))
    np.exp(out, out=out)
    out *= factor
    return out


def _identity_increment(eta, d, out=None, scratch=()):
    out = _buffer(out, np.broadcast_shapes(np.shape(eta), np.shape(d)))
    np.copyto(out, per_row(d))
    return out


def _logit_increment(eta, d, out=None, scratch=()):
    # expit(eta + d) - expit(eta) = e m / ((1 + e)(1 + e e^d)) with e = exp(eta), m = expm1(d): products and
    # quotients of exact factors, so no cancellation, and one exp per cell (m once per distinct row of d).
    # Where e or (1 + e)^2 overflows (eta beyond ~350) the exact ordered form
    # expit(hi) * expit(-lo) * (1 - exp(-|d|)) takes over.
    eta = np.asarray(eta, dtype=float)
    shape = np.broadcast_shapes(eta.shape, np.shape(d))
    rows = _row_factors(d, shape) if kernels.enabled() and eta.shape == shape and eta.ndim == 2 else None
    if rows is not None:  # the compiled tail: one pass after the exp, in place, the same numbers
        values, index = rows
        with np.errstate(over="ignore", invalid="ignore"):
            fused = np.exp(eta, out=_buffer(out, shape))
            m, big = (_buffer(b, values.shape) for b in (*scratch, None, None)[:2])  # d's rows: at most η's
            if kernels.logit_increment_tail(fused, np.expm1(values, out=m), np.exp(values, out=big), index):
                return fused
    e, den = (_buffer(b, shape) for b in (*scratch, None, None)[:2])
    with np.errstate(over="ignore", invalid="ignore"):
        m, big = per_row(d, np.expm1), per_row(d, np.exp)
        np.exp(eta, out=e)
        out = np.multiply(e, m, out=_buffer(out, shape))
        np.multiply(e, big, out=den)  # 1 + e e^d, not 1 + e + e m: no cancellation when m is -1
        den += 1.0
        e += 1.0
        den *= e
        out /= den
    if not np.isfinite(den.max()):  # den >= 1 where finite (then out is finite too); max() is NaN if any cell is
        bad = ~np.isfinite(den)
        e, step = np.broadcast_to(eta, shape)[bad], np.broadcast_to(per_row(d), shape)[bad]
        hi, lo = e + np.maximum(step, 0.0), e + np.minimum(step, 0.0)
        out[bad] = np.sign(step) * special.expit(hi) * special.expit(-lo) * -np.expm1(-np.abs(step))
    return out


# -- means over a normal random effect: E[inverse(eta + u)], u ~ N(0, v) ----------------------


def _exp_normal_mean(eta, v):
    # E[exp(eta + u)] = exp(eta + v/2); overflow to inf is left for the caller to report
    with np.errstate(over="ignore"):
        return np.exp(eta + 0.5 * v)


def _probit_normal_mean(eta, v):
    # E[Phi(eta + u)] = P(Z - u < eta) = Phi(eta / sqrt(1 + v))
    return special.ndtr(eta / np.sqrt(1.0 + v))


@dataclass(frozen=True)
class LinkArithmetic:
    """How the engine computes with one link of :data:`mixeff.model.families.LINKS`."""

    name: str
    inverse: Callable[[np.ndarray], np.ndarray]
    """In-place inverse link: overwrites and returns its argument."""
    increment: Callable[..., np.ndarray] | None = None
    """``increment(eta, d, out=None, scratch=())`` = inverse(eta + d) − inverse(eta) without cancellation,
    where known; ``d`` is an array broadcastable to η or a :class:`SharedRows` block; ``out`` and the
    ``scratch`` arrays (η's shape) spare the allocations."""
    normal_mean: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    """``normal_mean(eta, v)`` = E[inverse(eta + u)], u ~ N(0, v), in closed form where one exists."""
    normal_increment_shift: float | None = None
    """``c`` where E[inverse(η + d + u)] − E[inverse(η + u)], u ~ N(0, v), is ``increment(η + c·v, d)``:
    0 for the identity (linear in η), 1/2 for the log (exp(η + u) has mean exp(η + v/2)); None otherwise."""
    quadrature_step: float = 0.3
    """Spacing in η at which quadrature resolves the inverse link to 1e-10 (mixeff.engine.integrate)."""


def _described(name):
    return families.LINKS[name].inverse


LINKS: dict[str, LinkArithmetic] = {
    "identity": LinkArithmetic(
        "identity", _described("identity"), _identity_increment, lambda eta, v: eta.copy(), normal_increment_shift=0.0
    ),
    "log": LinkArithmetic("log", _described("log"), _log_increment, _exp_normal_mean, normal_increment_shift=0.5),
    "logit": LinkArithmetic("logit", _inv_logit, _logit_increment, quadrature_step=0.6),  # poles at ±iπ
    "probit": LinkArithmetic("probit", _described("probit"), None, _probit_normal_mean),
    "cloglog": LinkArithmetic("cloglog", _described("cloglog")),
    "inverse": LinkArithmetic("inverse", _described("inverse")),
    "inverse_squared": LinkArithmetic("inverse_squared", _described("inverse_squared")),
    "softmax": LinkArithmetic("softmax", _described("softmax")),  # each category's η, combined by the family
}


def arithmetic(link: families.Link) -> LinkArithmetic:
    """The engine's arithmetic of ``link`` (a description of :mod:`mixeff.model.families`).

    Examples
    --------
    >>> sorted(LINKS) == sorted(families.LINKS)
    True
    >>> arithmetic(families.LINKS["logit"]).quadrature_step
    0.6
    """
    return LINKS[link.name]
