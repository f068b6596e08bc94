"""The engine's arithmetic of families: exact increments, normal means, category probabilities.

Exact increments of the expected value, its closed form over a normal random effect, and
the probability of each row's own category.

:mod:`mixeff.model.families` describes each family (its mean, affine form, category rule); here
the engine computes with those descriptions and the links' arithmetic of :mod:`mixeff.engine.links`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from ..model.families import Family, Link, log1mexp
from .links import LINKS, SharedRows, arithmetic


def mean_increment(
    family: Family,
    link: Link,
    eta: np.ndarray,
    d: np.ndarray | SharedRows,
    aux: dict,
    trials: np.ndarray | None,
    out: np.ndarray | None = None,
    scratch: tuple[np.ndarray, ...] = (),
) -> np.ndarray | None:
    """E[Y | η + d] − E[Y | η] computed without cancellation, or None where no exact form is known.

    Used for finite-difference slopes and small contrasts, whose two arms differ
    by ~1e-4 of η: subtracting two expected values would lose those digits.
    Both arms must share the auxiliary parameters (the engine checks that).  ``out`` and ``scratch``:
    reused blocks of η's shape (see :attr:`~mixeff.engine.links.LinkArithmetic.increment`).
    """
    if not has_mean_increment(family, link, trials is not None):
        return None
    if family.affine is not None:
        scale, _ = family.affine(aux, trials)
        increment = arithmetic(link).increment
        assert increment is not None  # has_mean_increment checked it
        out = increment(eta, d, out, scratch)
        if not (np.isscalar(scale) and scale == 1.0):
            out *= scale
        return out
    assert family.log_mean_shift is not None  # has_mean_increment checked it
    return _log_increment(eta + family.log_mean_shift(aux), d, out, scratch)  # E[Y] = exp(μ + shift)


def has_mean_increment(family: Family, link: Link, with_trials: bool) -> bool:
    """Whether :func:`mean_increment` has an exact form for this family and link."""
    if arithmetic(link).increment is None:
        return False
    if family.affine is not None:
        return with_trials or not family.needs_trials
    return family.log_mean_shift is not None


def normal_mean(
    family: Family, link: Link, eta: np.ndarray, v: np.ndarray, aux: dict, trials: np.ndarray | None
) -> np.ndarray | None:
    """E[Y | η + u], u ~ N(0, v), in closed form, or None where quadrature is needed.

    Identity links give η; log links exp(η + v/2); probit Φ(η/√(1 + v)); a mean
    exp(η + shift) (the lognormal's, shift = σ²/2) becomes exp(η + shift + v/2); an affine mean
    scales and shifts these.
    """
    if family.log_mean_shift is not None:  # (such a family has only the identity link)
        return _log_normal_mean(eta + family.log_mean_shift(aux), v)
    closed = arithmetic(link).normal_mean
    if closed is None or family.affine is None:
        return None
    scale, shift = family.affine(aux, trials)
    return closed(eta, v) * scale + shift


def has_normal_category_probability(family: Family, link: Link) -> bool:
    """Whether :func:`normal_category_probability` has a closed form for this family and link."""
    return family.category_rule == "cumulative" and link.name == "probit"


def normal_category_probability(
    family: Family, link: Link, eta: np.ndarray, v: np.ndarray, aux: dict
) -> np.ndarray | None:
    """P(Y = c | η + u), u ~ N(0, v), of each row's own category in closed form, or None where none exists.

    Cumulative probit: E[Φ(τ − η − u)] = Φ((τ − η)/√(1 + v)), so P(Y = c) = Φ(b) − Φ(a) with
    a = (τ_{c−1} − η)/√(1 + v), b = (τ_c − η)/√(1 + v) (τ_0 = −∞, τ_K = ∞), computed from the tail
    that keeps it accurate (:func:`normal_interval`).

    Examples
    --------
    >>> from mixeff.model.families import FAMILIES, LINKS as DESCRIBED
    >>> aux = {"threshold": np.array([[-1.0, 1.0]]), "category": np.array([0, 1, 2])}
    >>> p = normal_category_probability(FAMILIES["cumulative"], DESCRIBED["probit"], np.zeros((3, 1)),
    ...                                 np.full((3, 1), 3.0), aux)
    >>> np.round(p.ravel(), 12).tolist(), float(p.sum())        # Φ(−1/2), Φ(1/2) − Φ(−1/2), Φ(−1/2)
    ([0.308537538726, 0.382924922548, 0.308537538726], 1.0)
    """
    if not has_normal_category_probability(family, link):
        return None
    tau, category = aux["threshold"], aux["category"]  # (S, K - 1), (rows,)
    edge = np.full((tau.shape[0], 1), np.inf)
    padded = np.concatenate([-edge, tau, edge], axis=1)  # (S, K + 1)
    scale = np.sqrt(1.0 + v)
    return normal_interval((padded[:, category].T - eta) / scale, (padded[:, category + 1].T - eta) / scale)


def normal_interval(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Φ(b) − Φ(a) for a <= b without cancellation between the tails.

    Both above 0: the difference of the upper tails Φ(−a) − Φ(−b); both below: Φ(b) − Φ(a); across 0:
    [Φ(b) − ½] + [½ − Φ(a)] = (erf(b/√2) + erf(−a/√2))/2, two terms >= 0.  Each term keeps its relative
    accuracy, so the result does too, but where b − a is small relative to Φ's scale there (close
    thresholds), whose relative error is about 1e-16 / (b − a).

    Examples
    --------
    >>> from scipy.special import ndtr
    >>> got = normal_interval(np.array([9.0, -1e-9, -36.0]), np.array([9.5, 1e-9, -35.0]))
    >>> bool(got[0] == ndtr(-9.0) - ndtr(-9.5)), f"{got[1]:.9e}", bool(got[2] > 0)     # 2e-9·φ(0) in the middle
    (True, '7.978845608e-10', True)
    """
    a, b = np.broadcast_arrays(a, b)
    out = np.empty(a.shape)
    upper = a >= 0.0
    lower = b <= 0.0
    across = ~(upper | lower)
    out[upper] = special.ndtr(-a[upper]) - special.ndtr(-b[upper])
    out[lower] = special.ndtr(b[lower]) - special.ndtr(a[lower])
    half = np.sqrt(0.5)
    out[across] = 0.5 * (special.erf(b[across] * half) + special.erf(-a[across] * half))
    return out


def normal_mean_increment(
    family: Family,
    link: Link,
    eta: np.ndarray,
    d: np.ndarray | SharedRows,
    v: np.ndarray,
    aux: dict,
    trials: np.ndarray | None,
) -> np.ndarray | None:
    """E[Y | η + d + u] − E[Y | η + u], u ~ N(0, v), in closed form without cancellation, or None.

    Identity links: d (linear in η, the increment does not depend on u); log links (and a mean
    exp(η + shift)): the log increment at η + v/2.
    """
    if family.log_mean_shift is not None:
        shift = LINKS["log"].normal_increment_shift
    elif family.affine is not None:
        shift = arithmetic(link).normal_increment_shift
    else:
        shift = None
    if shift is None:
        return None
    return mean_increment(family, link, eta + shift * v if shift else eta, d, aux, trials)


# -- ordinal and categorical responses -------------------------------------------------------

# Rows are (row, category) pairs: each computes its own category's probability only, from the
# thresholds or η it needs, never all K probabilities of its row.


def _cumulative_probability(eta, inverse, aux):
    """P(Y = c) = F(τ_c − η) − F(τ_{c−1} − η), with τ_0 = −∞ and τ_K = ∞: two evaluations of F."""
    tau, category = aux["threshold"], aux["category"]  # (S, K - 1), (rows,)
    edge = np.full((tau.shape[0], 1), np.inf)
    padded = np.concatenate([-edge, tau, edge], axis=1)  # (S, K + 1)
    upper = inverse(padded[:, category + 1].T - eta)
    return upper - inverse(padded[:, category].T - eta)


def _sratio_probability(eta, inverse, aux):
    """P(Y = c) = F(τ_c − η) ∏_{j<c} (1 − F(τ_j − η)); the last category the product of all (1 − F)."""
    tau, category = aux["threshold"], aux["category"]
    out = np.ones_like(eta)
    for j in range(tau.shape[1]):
        rows = np.flatnonzero(category >= j)  # rows whose category has not stopped before threshold j
        if not len(rows):
            break
        stop = inverse(tau[:, j] - eta[rows])
        out[rows] *= np.where((category[rows] == j)[:, None], stop, 1.0 - stop)
    return out


def own_category_eta(aux: dict, shape: tuple[int, ...]) -> np.ndarray:
    """Each row's own category's η in a categorical model: 0 for the reference, else ``aux["category_eta"]``."""
    category = aux["category"][:, None]
    own = np.zeros(shape)
    for k, eta in enumerate(aux["category_eta"], start=1):
        own = np.where(category == k, eta, own)
    return own


def _softmax_probability(eta, inverse, aux):
    """exp(η_c) / Σ_k exp(η_k), with the reference category's η = 0, scaled by the largest η."""
    etas = [np.broadcast_to(e, eta.shape) for e in aux["category_eta"]]
    top = np.zeros(eta.shape)
    for e in etas:
        np.maximum(top, e, out=top)
    total = np.exp(-top)
    for e in etas:
        total += np.exp(e - top)
    own = own_category_eta(aux, eta.shape) - top
    np.exp(own, out=own)
    own /= total
    return own


CATEGORY_PROBABILITY: dict[str, Callable[[np.ndarray, Callable[[np.ndarray], np.ndarray], dict], np.ndarray]] = {
    "cumulative": _cumulative_probability,
    "sratio": _sratio_probability,
    "softmax": _softmax_probability,
}
"""Each :attr:`~mixeff.model.families.Family.category_rule`: ``(eta, inverse, aux) -> (rows, S)``,
the probability of each row's own category ``aux["category"]``."""


def category_probability(family: Family, link: Link, eta: np.ndarray, aux: dict) -> np.ndarray:
    """The probability of each row's own category (ordinal and categorical families)."""
    assert family.category_rule is not None  # every category family has a rule
    return CATEGORY_PROBABILITY[family.category_rule](eta, arithmetic(link).inverse, aux)


# -- log-probabilities of each row's own category (log_lik) -----------------------------------


def _log_cdf_pair(link: Link) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """(log F, log(1 − F)) of an ordinal link's F, each computed in its own tail."""
    name = link.name
    if name == "logit":
        return (lambda x: -np.logaddexp(0.0, -x)), (lambda x: -np.logaddexp(0.0, x))
    if name == "probit":
        return special.log_ndtr, (lambda x: special.log_ndtr(-x))
    if name == "cloglog":
        return (lambda x: log1mexp(-np.exp(x))), (lambda x: -np.exp(x))
    raise ValueError(f"no log-probabilities for an ordinal model with the {name!r} link")


def _cumulative_log_probability(eta, link, aux):
    """log(F(b) − F(a)), a = τ_{c−1} − η, b = τ_c − η: from the lower tail, or the upper one where a + b > 0.

    log F(b) + log(1 − F(a)/F(b)) below the median, log S(a) + log(1 − S(b)/S(a)) above it (S = 1 − F):
    no difference of two numbers near 1.  The first and last categories are log F(b) and log S(a).
    """
    log_f, log_s = _log_cdf_pair(link)
    tau, category = aux["threshold"], aux["category"]
    edge = np.full((tau.shape[0], 1), np.inf)
    padded = np.concatenate([-edge, tau, edge], axis=1)  # (S, K + 1)
    a = padded[:, category].T - eta
    b = padded[:, category + 1].T - eta
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = log_f(b) + log1mexp(log_f(a) - log_f(b))
        upper = log_s(a) + log1mexp(log_s(b) - log_s(a))
    first = np.isneginf(a)
    last = np.isposinf(b)
    out = np.where(a + b > 0, upper, lower)
    out = np.where(first, log_f(np.where(first, b, 0.0)), out)
    return np.where(last, log_s(np.where(last, a, 0.0)), out)


def _sratio_log_probability(eta, link, aux):
    """The sum log F(τ_c − η) + Σ_{j<c} log(1 − F(τ_j − η)); the last category the sum over every threshold."""
    log_f, log_s = _log_cdf_pair(link)
    tau, category = aux["threshold"], aux["category"]
    out = np.zeros_like(eta)
    for j in range(tau.shape[1]):
        x = tau[:, j] - eta
        own = (category == j)[:, None]
        before = (category > j)[:, None]
        out += np.where(own, log_f(x), np.where(before, log_s(x), 0.0))
    return out


def _softmax_log_probability(eta, link, aux):
    """η_c − log Σ_k exp(η_k), the reference category's η 0 (log-sum-exp from the largest)."""
    etas = [np.broadcast_to(e, eta.shape) for e in aux["category_eta"]]
    top = np.zeros(eta.shape)
    for e in etas:
        np.maximum(top, e, out=top)
    total = np.exp(-top)
    for e in etas:
        total += np.exp(e - top)
    return own_category_eta(aux, eta.shape) - top - np.log(total)


CATEGORY_LOG_PROBABILITY: dict[str, Callable[[np.ndarray, Link, dict], np.ndarray]] = {
    "cumulative": _cumulative_log_probability,
    "sratio": _sratio_log_probability,
    "softmax": _softmax_log_probability,
}
"""The log of :data:`CATEGORY_PROBABILITY`'s values, computed in log space (finite far in the tails)."""


def category_log_probability(family: Family, link: Link, eta: np.ndarray, aux: dict) -> np.ndarray:
    """The log-probability of each row's own category ``aux["category"]``: an ordinal or categorical log_lik."""
    assert family.category_rule is not None  # every category family has a rule
    return CATEGORY_LOG_PROBABILITY[family.category_rule](eta, link, aux)


def _log_increment(eta: np.ndarray, d: np.ndarray | SharedRows, out: np.ndarray | None, scratch: Any) -> np.ndarray:
    increment = LINKS["log"].increment
    assert increment is not None  # the log link has one
    return increment(eta, d, out, scratch)


def _log_normal_mean(eta: np.ndarray, v: np.ndarray) -> np.ndarray:
    normal_mean = LINKS["log"].normal_mean
    assert normal_mean is not None  # the log link has one
    return normal_mean(eta, v)
