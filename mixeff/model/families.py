"""Families and links, described: each defined once, here.

A *link* maps the mean parameter to the linear predictor; it is described by its
inverse.  A *family* turns the mean parameter ``mu`` (and auxiliary
parameter draws) into the expected value of the response (brms's
``posterior_epred``) and into posterior-predictive draws (``posterior_predict``).

Arrays follow the engine's layout: ``mu`` is ``(rows, draws)`` and every
auxiliary parameter is a ``(draws,)`` vector broadcast along rows, or, when the
model gives it its own formula (a distributional model), a ``(rows, draws)``
block.  Families whose response is a category (ordinal, categorical) name the rule
that gives the probability of each row's category (:attr:`Family.category_rule`).

Families describe; the engine computes: exact increments, closed-form means over a
normal random effect, quadrature steps, category probabilities and the compiled fast
paths are in :mod:`mixeff.engine.links` and :mod:`mixeff.engine.response`.

Parameterisations are PyMC's, as Bambi fits them: ``psi`` of a zero-inflated
family is the probability of the count part (brms's ``zi`` is ``1 − psi``), and
of a hurdle family the probability of a non-zero response (brms's ``hu`` is ``1 − psi``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass(frozen=True)
class Link:
    name: str
    inverse: Callable[[np.ndarray], np.ndarray]
    """The inverse link, the link's definition in numpy: overwrites and returns its argument."""
    integrable: bool = True
    """False where E[inverse(eta + u)] does not exist (the inverse link: 1/(eta + u) has no mean)."""


def _identity(x):
    return x


def _inv_cloglog(x):
    # 1 - exp(-exp(x)), computed as -expm1(-exp(x)) for accuracy near 0
    np.exp(x, out=x)
    np.negative(x, out=x)
    np.expm1(x, out=x)
    np.negative(x, out=x)
    return x


def _inv_logit(x):
    # 1 / (1 + exp(-x)) in place: ~4x faster than scipy's expit on large arrays, same
    # accuracy (exp overflow to inf gives exactly 0, the correct limit); the engine compiles the tail
    with np.errstate(over="ignore"):
        np.negative(x, out=x)
        np.exp(x, out=x)
    x += 1.0
    return np.divide(1.0, x, out=x)  # the same IEEE quotient as np.reciprocal, twice as fast


def _inv_inverse(x):
    return np.divide(1.0, x, out=x)


def _inv_inverse_squared(x):
    # mu = 1 / sqrt(eta), the Wald family's canonical link
    np.sqrt(x, out=x)
    return np.divide(1.0, x, out=x)


LINKS: dict[str, Link] = {
    "identity": Link("identity", _identity),
    "log": Link("log", lambda x: np.exp(x, out=x)),
    "logit": Link("logit", _inv_logit),
    "probit": Link("probit", lambda x: special.ndtr(x, out=x)),
    "cloglog": Link("cloglog", _inv_cloglog),
    "inverse": Link("inverse", _inv_inverse, integrable=False),
    "inverse_squared": Link("inverse_squared", _inv_inverse_squared, integrable=False),
    "softmax": Link("softmax", _identity),  # categorical: each category's η, combined by the family
}
"""The links, described; :mod:`mixeff.engine.links` holds the engine's arithmetic of each."""


# -- expected values ----------------------------------------------------------------------
# Most families' means are affine in the inverse link: E[Y] = scale · g⁻¹(η) + shift, with
# scale and shift from the auxiliary parameters (and binomial trials).  Exact increments and
# closed-form integrals over a normal random effect follow from that form, in one place below.


def _unit(aux, trials):
    return 1.0, 0.0


def _trials_scale(aux, trials):
    return trials[:, None], 0.0


def _psi_scale(aux, trials):
    return aux["psi"], 0.0


def _psi_trials_scale(aux, trials):
    return aux["psi"] * trials[:, None], 0.0


def _exgaussian_shift(aux, trials):
    return 1.0, aux["nu"]


def _asymmetric_laplace_shift(aux, trials):
    # PyMC's AsymmetricLaplace(b, kappa, mu) has mean mu - (kappa - 1/kappa) / b
    kappa = aux["kappa"]
    return 1.0, (1.0 / kappa - kappa) / aux["b"]


def _affine_mean(affine):
    def mean(mu, aux, trials):
        scale, shift = affine(aux, trials)
        if not (np.isscalar(scale) and scale == 1.0):
            mu *= scale
        if not (np.isscalar(shift) and shift == 0.0):
            mu += shift
        return mu

    return mean


def _half_sigma_squared(aux):
    return 0.5 * aux["sigma"] ** 2


def _lognormal_mean(mu, aux, trials):
    # E[Y] = exp(mu + sigma^2 / 2)
    mu += _half_sigma_squared(aux)
    np.exp(mu, out=mu)
    return mu


def _hurdle_lognormal_mean(mu, aux, trials):
    return _lognormal_mean(mu, aux, trials) * aux["psi"]


def _positive_share_ratio(mu, log_p0):
    """Mu / (1 − p0) with p0 = exp(log_p0), the mean of a zero-truncated count; its limit 1 at mu = 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = mu / -np.expm1(log_p0)
    return np.where(mu > 0, out, 1.0)


def _hurdle_poisson_mean(mu, aux, trials):
    # psi * mu / (1 - exp(-mu)): P(Y > 0) = psi, then a zero-truncated Poisson
    return aux["psi"] * _positive_share_ratio(mu, -mu)


def _hurdle_negbinomial_mean(mu, aux, trials):
    # psi * mu / (1 - p0), p0 = (alpha / (alpha + mu))^alpha
    alpha = aux["alpha"]
    return aux["psi"] * _positive_share_ratio(mu, -alpha * np.log1p(mu / alpha))


# -- predictive draws ------------------------------------------------------------------------


def _full(aux_value, shape):
    return np.broadcast_to(aux_value, shape)


def _gaussian_draw(rng, mu, aux, trials):
    return rng.normal(mu, aux["sigma"])


def _student_draw(rng, mu, aux, trials):
    return mu + aux["sigma"] * rng.standard_t(_full(aux["nu"], mu.shape))


def _bernoulli_draw(rng, mu, aux, trials):
    return (rng.random(mu.shape) < mu).astype(float)


def _binomial_draw(rng, mu, aux, trials):
    return rng.binomial(_full(trials[:, None], mu.shape).astype(np.int64), mu).astype(float)


def _poisson_draw(rng, mu, aux, trials):
    return rng.poisson(mu).astype(float)


def _negbinomial_draw(rng, mu, aux, trials):
    # gamma-poisson mixture with mean mu and shape alpha (brms "shape")
    alpha = aux["alpha"]
    return rng.poisson(rng.gamma(alpha, mu / alpha)).astype(float)


def _lognormal_draw(rng, mu, aux, trials):
    return rng.lognormal(mu, _full(aux["sigma"], mu.shape))


def _gamma_draw(rng, mu, aux, trials):
    alpha = aux["alpha"]
    return rng.gamma(_full(alpha, mu.shape), mu / alpha)


def _unit_interval(mu):
    # a mean rounded to exactly 0 or 1 (|η| large) draws its limit instead of failing
    return np.clip(mu, np.finfo(float).tiny, np.nextafter(1.0, 0.0))


def _beta_draw(rng, mu, aux, trials):
    mu = _unit_interval(mu)
    kappa = aux["kappa"]
    return rng.beta(mu * kappa, (1.0 - mu) * kappa)


def _beta_binomial_draw(rng, mu, aux, trials):
    return _binomial_draw(rng, _beta_draw(rng, mu, aux, trials), aux, trials)


def _exponential_draw(rng, mu, aux, trials):
    return rng.exponential(mu)


def _weibull_draw(rng, mu, aux, trials):
    # Bambi's mu is the mean: scale = mu / Γ(1 + 1/alpha)
    alpha = _full(aux["alpha"], mu.shape)
    return rng.weibull(alpha) * mu / special.gamma(1.0 + 1.0 / alpha)


def _wald_draw(rng, mu, aux, trials):
    return rng.wald(mu, _full(aux["lam"], mu.shape))


def _laplace_draw(rng, mu, aux, trials):
    return rng.laplace(mu, _full(aux["b"], mu.shape))


def _asymmetric_laplace_draw(rng, mu, aux, trials):
    # PyMC's inverse-CDF sampler for AsymmetricLaplace(b, kappa, mu)
    b, kappa = _full(aux["b"], mu.shape), _full(aux["kappa"], mu.shape)
    u = rng.random(mu.shape)
    switch = kappa**2 / (1.0 + kappa**2)
    below = mu + kappa * np.log(u / switch) / b
    above = mu - np.log((1.0 - u) * (1.0 + kappa**2)) / (kappa * b)
    return np.where(u <= switch, below, above)


def _exgaussian_draw(rng, mu, aux, trials):
    return rng.normal(mu, _full(aux["sigma"], mu.shape)) + rng.exponential(_full(aux["nu"], mu.shape))


def _with_zeros(draw):
    """A zero-inflated or hurdle draw: ``draw``'s value with probability psi, else 0."""

    def zero_or(rng, mu, aux, trials):
        keep = rng.random(mu.shape) < aux["psi"]
        return np.where(keep, draw(rng, mu, aux, trials), 0.0)

    return zero_or


TRUNCATED_MAX_MEAN = 1e15
"""Largest mean of a zero-truncated count draw (float64 counts are exact to 2**53 ≈ 9e15)."""


def _truncated_draw(dist, positive_share, mu, rng, *args):
    """A draw of ``dist`` given Y > 0, by inverting its survival function at U · P(Y > 0).

    Exact for any mean, no rejection loop, and accurate where P(Y > 0) is tiny (then the draw is 1).
    """
    if np.any(mu > TRUNCATED_MAX_MEAN):  # scipy's quantile search stalls there; counts are not exact anyway
        raise ValueError(f"a mean above {TRUNCATED_MAX_MEAN:g} is too large to sample a zero-truncated count")
    u = 1.0 - rng.random(mu.shape)  # in (0, 1]
    out = dist.isf(u * positive_share, *args)
    if not np.all(np.isfinite(out)):
        raise ValueError("the mean is too large to sample a zero-truncated count")
    return out


def _truncated_poisson_draw(rng, mu, aux, trials):
    from scipy import stats

    return _truncated_draw(stats.poisson, -np.expm1(-mu), mu, rng, mu)


def _truncated_negbinomial_draw(rng, mu, aux, trials):
    from scipy import stats

    alpha = _full(aux["alpha"], mu.shape)
    return _truncated_draw(stats.nbinom, -np.expm1(-alpha * np.log1p(mu / alpha)), mu, rng, alpha, alpha / (alpha + mu))


# -- log-densities (brms's log_lik) ----------------------------------------------------------
# ``log_density(y, mu, aux, trials, eta=None, link=None) -> (rows, S)``: the log-density (or log-mass)
# of the observed ``y`` given the mean parameter ``mu`` (as ``mean`` and ``draw`` receive it) and the
# auxiliary parameters, in the same parameterisation as the family's draw.  ``eta`` and ``link`` (the
# mean's linear predictor and link name), when given, let a probability's log and its complement's come
# from η itself, so that they stay finite where ``mu`` rounds to exactly 0 or 1 (|η| > ~37).

_LOG_2PI = float(np.log(2.0 * np.pi))
_LN2 = float(np.log(2.0))


def _column(y) -> np.ndarray:
    """The observed responses as a ``(rows, 1)`` column."""
    y = np.asarray(y, dtype=float)
    return y.reshape(-1, 1) if y.ndim == 1 else y


def log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 − exp(x)) for x ≤ 0, accurate near 0 and in the far tail (Mächler's two forms).

    Examples
    --------
    >>> float(log1mexp(np.array(-1e-20))), float(log1mexp(np.array(-50.0)))
    (-46.051701859880914, -1.9287498479639178e-22)
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -_LN2, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _log_probabilities(mu, eta, link) -> tuple[np.ndarray, np.ndarray]:
    """(log p, log(1 − p)) of a probability ``mu``: from η itself for the logit, probit and cloglog links."""
    if eta is not None and link == "logit":
        return -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
    if eta is not None and link == "probit":
        return special.log_ndtr(eta), special.log_ndtr(-eta)
    if eta is not None and link == "cloglog":
        rate = np.exp(eta)  # 1 − p = exp(−exp(η))
        return log1mexp(-rate), -rate
    return np.log(mu), np.log1p(-mu)


def _where_positive(count, value):
    """``count · value`` with 0 where the count is 0 (0 · log 0 = 0, as ``xlogy``)."""
    return np.where(count > 0, count * value, 0.0)


def _log_choose(n, k):
    return special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)


def _normal_lpdf(y, mu, sigma):
    z = (y - mu) / sigma
    return -0.5 * z * z - np.log(sigma) - 0.5 * _LOG_2PI


def _gaussian_lpdf(y, mu, aux, trials, eta=None, link=None):
    return _normal_lpdf(_column(y), mu, aux["sigma"])


def _student_lpdf(y, mu, aux, trials, eta=None, link=None):
    nu, sigma = aux["nu"], aux["sigma"]
    z = (_column(y) - mu) / sigma
    return (
        special.gammaln(0.5 * (nu + 1.0))
        - special.gammaln(0.5 * nu)
        - 0.5 * np.log(nu * np.pi)
        - np.log(sigma)
        - 0.5 * (nu + 1.0) * np.log1p(z * z / nu)
    )


def _bernoulli_lpmf(y, mu, aux, trials, eta=None, link=None):
    log_p, log_q = _log_probabilities(mu, eta, link)
    return np.where(_column(y) == 1.0, log_p, log_q)


def _binomial_lpmf(y, mu, aux, trials, eta=None, link=None):
    y, n = _column(y), np.asarray(trials, dtype=float).reshape(-1, 1)
    log_p, log_q = _log_probabilities(mu, eta, link)
    return _log_choose(n, y) + _where_positive(y, log_p) + _where_positive(n - y, log_q)


def _poisson_lpmf(y, mu, aux, trials, eta=None, link=None):
    y = _column(y)
    return special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)


def _negbinomial_log_p0(mu, alpha):
    """The log of P(Y = 0): −α log(1 + μ/α)."""
    return -alpha * np.log1p(mu / alpha)


def _negbinomial_lpmf(y, mu, aux, trials, eta=None, link=None):
    # C(y + α − 1, y) (α / (α + μ))^α (μ / (α + μ))^y, the log of μ / (α + μ) as −log(1 + α/μ)
    y, alpha = _column(y), aux["alpha"]
    with np.errstate(divide="ignore"):
        success = -np.log1p(alpha / mu)
    return (
        special.gammaln(y + alpha)
        - special.gammaln(alpha)
        - special.gammaln(y + 1.0)
        + _negbinomial_log_p0(mu, alpha)
        + _where_positive(y, success)
    )


def _lognormal_lpdf(y, mu, aux, trials, eta=None, link=None):
    log_y = np.log(_column(y))
    return _normal_lpdf(log_y, mu, aux["sigma"]) - log_y


def _gamma_lpdf(y, mu, aux, trials, eta=None, link=None):
    # shape α, rate α / μ
    y, alpha = _column(y), aux["alpha"]
    log_rate = np.log(alpha) - (eta if eta is not None and link == "log" else np.log(mu))
    return alpha * log_rate - special.gammaln(alpha) + (alpha - 1.0) * np.log(y) - y * np.exp(log_rate)


def _beta_shapes(mu, aux, eta, link):
    """(a, b, log a, log b) with (a, b) = (μκ, (1 − μ)κ), the complement from η where it is known."""
    log_p, log_q = _log_probabilities(mu, eta, link)
    kappa = aux["kappa"]
    log_kappa = np.log(kappa)
    return np.exp(log_p) * kappa, np.exp(log_q) * kappa, log_p + log_kappa, log_q + log_kappa


_TINY_SHAPE = 1e-280
"""Below this a beta shape's log Γ is −log(shape) to double precision (log Γ(x) = −log x − γx + O(x²))."""


def _betaln(a, b, log_a, log_b):
    """The log of B(a, b), where a shape too small for floats (|η| of hundreds under a probit link) is −log of it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = special.betaln(a, b)
    out = np.where(a < _TINY_SHAPE, -log_a, out)
    return np.where(b < _TINY_SHAPE, -log_b, out)


def _beta_lpdf(y, mu, aux, trials, eta=None, link=None):
    y = _column(y)
    a, b, log_a, log_b = _beta_shapes(mu, aux, eta, link)
    return (a - 1.0) * np.log(y) + (b - 1.0) * np.log1p(-y) - _betaln(a, b, log_a, log_b)


def _beta_binomial_lpmf(y, mu, aux, trials, eta=None, link=None):
    y, n = _column(y), np.asarray(trials, dtype=float).reshape(-1, 1)
    a, b, log_a, log_b = _beta_shapes(mu, aux, eta, link)
    # B(y + a, n − y + b) / B(a, b): where y = 0 (or y = n) a tiny a (b) cancels, the ratio's log is exact
    with np.errstate(divide="ignore"):
        log_ya, log_nyb = np.where(y > 0, np.log(y + a), log_a), np.where(n > y, np.log(n - y + b), log_b)
    numerator = _betaln(y + a, n - y + b, log_ya, log_nyb)
    ratio = numerator - _betaln(a, b, log_a, log_b)
    # a tiny shape whose count is 0: its Γ cancels, B(a, n + b) / B(a, b) = Γ(n + b) Γ(a + b) / (Γ(n + a + b) Γ(b))
    tiny_a, tiny_b = (a < _TINY_SHAPE) & (y == 0), (b < _TINY_SHAPE) & (y == n)
    other = np.where(tiny_a, b, a)
    cancelled = (
        special.gammaln(n + other) + special.gammaln(a + b) - special.gammaln(n + a + b) - special.gammaln(other)
    )
    return _log_choose(n, y) + np.where(tiny_a | tiny_b, cancelled, ratio)


def _exponential_lpdf(y, mu, aux, trials, eta=None, link=None):
    log_mu = eta if eta is not None and link == "log" else np.log(mu)
    return -log_mu - _column(y) / mu


def _weibull_lpdf(y, mu, aux, trials, eta=None, link=None):
    # shape α, scale λ = μ / Γ(1 + 1/α)
    alpha = aux["alpha"]
    log_mu = eta if eta is not None and link == "log" else np.log(mu)
    log_ratio = np.log(_column(y)) - (log_mu - special.gammaln(1.0 + 1.0 / alpha))  # log(y / λ)
    return np.log(alpha) - np.log(_column(y)) + alpha * log_ratio - np.exp(alpha * log_ratio)


def _wald_lpdf(y, mu, aux, trials, eta=None, link=None):
    y, lam = _column(y), aux["lam"]
    return 0.5 * (np.log(lam) - _LOG_2PI - 3.0 * np.log(y)) - lam * (y - mu) ** 2 / (2.0 * mu * mu * y)


def _laplace_lpdf(y, mu, aux, trials, eta=None, link=None):
    b = aux["b"]
    return -np.log(2.0 * b) - np.abs(_column(y) - mu) / b


def _asymmetric_laplace_lpdf(y, mu, aux, trials, eta=None, link=None):
    # PyMC's AsymmetricLaplace(b, kappa, mu): log(b / (κ + 1/κ)) − (y − μ) b κ^sign(y − μ) sign(y − μ)
    b, kappa = aux["b"], aux["kappa"]
    d = _column(y) - mu
    return np.log(b / (kappa + 1.0 / kappa)) - np.where(d >= 0, d * b * kappa, -d * b / kappa)


def _exgaussian_lpdf(y, mu, aux, trials, eta=None, link=None):
    # y = normal(μ, σ) + exponential(mean ν): −log ν + (μ − y)/ν + σ²/(2ν²) + log Φ(z), z = (y − μ)/σ − σ/ν.
    # Where z < 0 the terms cancel: log Φ(z) = log(erfcx(−z/√2) / 2) − z²/2 gives
    # −log ν − (y − μ)²/(2σ²) + log(erfcx(−z/√2) / 2), without cancellation.
    sigma, nu = aux["sigma"], aux["nu"]
    d = _column(y) - mu
    z = d / sigma - sigma / nu
    log_nu = np.log(nu)
    upper = -log_nu - d / nu + 0.5 * (sigma / nu) ** 2 + special.log_ndtr(z)
    lower = -log_nu - 0.5 * (d / sigma) ** 2 + np.log(0.5 * special.erfcx(-z / np.sqrt(2.0)))
    return np.where(z < 0, lower, upper)


def _zero_inflated(lpmf):
    """P(0) = (1 − ψ) + ψ f(0), P(y > 0) = ψ f(y): ψ the probability of the count part (PyMC's)."""

    def log_density(y, mu, aux, trials, eta=None, link=None):
        psi = aux["psi"]
        with np.errstate(divide="ignore"):
            log_psi, log_zero = np.log(psi), np.log1p(-psi)
        counted = log_psi + lpmf(y, mu, aux, trials, eta, link)
        return np.where(_column(y) == 0.0, np.logaddexp(log_zero, counted), counted)

    return log_density


def _hurdle(lpdf, log_p0=None):
    """P(0) = 1 − ψ, y > 0 with density ψ f(y) / (1 − f(0)) (``log_p0``: log f(0) of a count, else none)."""

    def log_density(y, mu, aux, trials, eta=None, link=None):
        psi = aux["psi"]
        y = _column(y)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_psi, log_zero = np.log(psi), np.log1p(-psi)
            positive = log_psi + lpdf(np.where(y > 0, y, 1.0), mu, aux, trials, eta, link)
        if log_p0 is not None:
            positive = positive - log1mexp(log_p0(mu, aux))
        return np.where(y == 0.0, log_zero, positive)

    return log_density


def _poisson_log_p0(mu, aux):
    return -mu


def _hurdle_negbinomial_log_p0(mu, aux):
    return _negbinomial_log_p0(mu, aux["alpha"])


@dataclass(frozen=True)
class Family:
    name: str
    default_link: str
    links: tuple[str, ...]
    aux: tuple[str, ...]
    mean: Callable | None
    """``mean(mu, aux, trials)``: expected value, may overwrite ``mu``; None for category families."""
    draw: Callable | None
    """``draw(rng, mu, aux, trials)``: one posterior-predictive draw per cell."""
    needs_trials: bool = False
    support: str = "real"
    """The values a response may take: a key of :data:`SUPPORTS`."""
    affine: Callable | None = None
    """``affine(aux, trials) -> (scale, shift)`` when E[Y] = scale · g⁻¹(η) + shift."""
    mean_aux: tuple[str, ...] = ()
    """Auxiliary parameters the expected value reads (a modelled one makes arms differ in it)."""
    parent: str = "mu"
    """Bambi's name of the parameter the main formula predicts (``p`` for probabilities)."""
    category_rule: str | None = None
    """Ordinal and categorical families: how each row's own category's probability follows from η,
    ``"cumulative"`` (P(Y = c) = F(τ_c − η) − F(τ_{c−1} − η)), ``"sratio"`` (F(τ_c − η) ∏_{j<c} (1 − F(τ_j − η)))
    or ``"softmax"`` (exp(η_c) / Σ_k exp(η_k), the reference category's η 0); the engine computes it
    (:mod:`mixeff.engine.response`)."""
    ordinal: bool = False
    log_mean_shift: Callable | None = None
    """``shift(aux)`` when E[Y] = exp(μ + shift), μ the identity-linked mean parameter: σ²/2 for the
    lognormal.  The log link's exact increments and normal means then apply at μ + shift."""
    log_density: Callable | None = None
    """``log_density(y, mu, aux, trials, eta=None, link=None) -> (rows, S)``: the log-density (log-mass)
    of each row's observed ``y`` (``(rows,)`` or ``(rows, 1)``) given ``mu`` and ``aux`` as :attr:`mean`
    receives them (brms's ``log_lik``); ``eta`` and ``link`` (the link's name), when given, keep log p and
    log(1 − p) finite at any η.  None for category families: the engine computes their log-probability
    (:func:`mixeff.engine.response.category_log_probability`)."""

    @property
    def categorical(self) -> bool:
        """Whether the response is a category: verbs give one row per category (a ``group`` column)."""
        return self.category_rule is not None


SUPPORTS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "real": ("any real number", lambda y: np.isfinite(y)),
    "binary": ("0 or 1", lambda y: (y == 0) | (y == 1)),
    "count": ("a whole number >= 0", lambda y: (y >= 0) & (y == np.round(y))),
    "positive": ("a number > 0", lambda y: y > 0),
    "nonnegative": ("a number >= 0", lambda y: y >= 0),
    "unit": ("a number strictly between 0 and 1", lambda y: (y > 0) & (y < 1)),
    "category": ("one of the response's categories", lambda y: np.ones(np.shape(y), dtype=bool)),
}
"""Support of each family's response: a description for messages and a test of each value."""


def outside_support(family: Family, y: np.ndarray) -> np.ndarray:
    """Boolean mask of response values the family cannot have produced."""
    if family.support == "category":
        return np.zeros(len(y), dtype=bool)
    return ~SUPPORTS[family.support][1](np.asarray(y, dtype=float))


def _family(name, default_link, links, aux, draw, *, affine=_unit, mean=None, mean_aux=(), **kw):
    """A family whose mean is ``mean`` or, by default, the affine form ``affine``."""
    if mean is not None:
        affine = None
    return Family(
        name, default_link, links, aux, mean or _affine_mean(affine), draw, affine=affine, mean_aux=mean_aux, **kw
    )


_PROBABILITY_LINKS = ("logit", "probit", "cloglog")
_COUNT_LINKS = ("log", "identity")
_POSITIVE_LINKS = ("log", "identity", "inverse")

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        _family(
            "gaussian",
            "identity",
            ("identity", "log", "inverse"),
            ("sigma",),
            _gaussian_draw,
            log_density=_gaussian_lpdf,
        ),
        _family(
            "t", "identity", ("identity", "log", "inverse"), ("sigma", "nu"), _student_draw, log_density=_student_lpdf
        ),
        _family(
            "bernoulli",
            "logit",
            _PROBABILITY_LINKS,
            (),
            _bernoulli_draw,
            support="binary",
            parent="p",
            log_density=_bernoulli_lpmf,
        ),
        _family(
            "binomial",
            "logit",
            _PROBABILITY_LINKS,
            (),
            _binomial_draw,
            log_density=_binomial_lpmf,
            affine=_trials_scale,
            needs_trials=True,
            support="count",
            parent="p",
        ),
        _family("poisson", "log", _COUNT_LINKS, (), _poisson_draw, support="count", log_density=_poisson_lpmf),
        _family(
            "negativebinomial",
            "log",
            _COUNT_LINKS,
            ("alpha",),
            _negbinomial_draw,
            support="count",
            log_density=_negbinomial_lpmf,
        ),
        _family(
            "lognormal",
            "identity",
            ("identity",),
            ("sigma",),
            _lognormal_draw,
            log_density=_lognormal_lpdf,
            mean=_lognormal_mean,
            mean_aux=("sigma",),
            support="positive",
            log_mean_shift=_half_sigma_squared,
        ),
        _family(
            "gamma", "inverse", _POSITIVE_LINKS, ("alpha",), _gamma_draw, support="positive", log_density=_gamma_lpdf
        ),
        _family("beta", "logit", _PROBABILITY_LINKS, ("kappa",), _beta_draw, support="unit", log_density=_beta_lpdf),
        _family(
            "beta_binomial",
            "logit",
            _PROBABILITY_LINKS,
            ("kappa",),
            _beta_binomial_draw,
            log_density=_beta_binomial_lpmf,
            affine=_trials_scale,
            needs_trials=True,
            support="count",
        ),
        _family(
            "exponential",
            "log",
            _POSITIVE_LINKS,
            (),
            _exponential_draw,
            support="positive",
            log_density=_exponential_lpdf,
        ),
        _family(
            "weibull", "log", _POSITIVE_LINKS, ("alpha",), _weibull_draw, support="positive", log_density=_weibull_lpdf
        ),
        _family(
            "wald",
            "inverse_squared",
            ("inverse_squared", "inverse", "identity", "log"),
            ("lam",),
            _wald_draw,
            log_density=_wald_lpdf,
            support="positive",
        ),
        _family(
            "laplace", "identity", ("identity", "log", "inverse"), ("b",), _laplace_draw, log_density=_laplace_lpdf
        ),
        _family(
            "asymmetriclaplace",
            "identity",
            ("identity", "log", "inverse"),
            ("b", "kappa"),
            _asymmetric_laplace_draw,
            log_density=_asymmetric_laplace_lpdf,
            affine=_asymmetric_laplace_shift,
            mean_aux=("b", "kappa"),
        ),
        _family(
            "exgaussian",
            "identity",
            ("identity", "log", "inverse"),
            ("sigma", "nu"),
            _exgaussian_draw,
            log_density=_exgaussian_lpdf,
            affine=_exgaussian_shift,
            mean_aux=("nu",),
        ),
        _family(
            "zero_inflated_poisson",
            "log",
            _COUNT_LINKS,
            ("psi",),
            _with_zeros(_poisson_draw),
            log_density=_zero_inflated(_poisson_lpmf),
            affine=_psi_scale,
            mean_aux=("psi",),
            support="count",
        ),
        _family(
            "zero_inflated_negativebinomial",
            "log",
            _COUNT_LINKS,
            ("alpha", "psi"),
            _with_zeros(_negbinomial_draw),
            log_density=_zero_inflated(_negbinomial_lpmf),
            affine=_psi_scale,
            mean_aux=("psi",),
            support="count",
        ),
        _family(
            "zero_inflated_binomial",
            "logit",
            _PROBABILITY_LINKS,
            ("psi",),
            _with_zeros(_binomial_draw),
            log_density=_zero_inflated(_binomial_lpmf),
            affine=_psi_trials_scale,
            mean_aux=("psi",),
            needs_trials=True,
            support="count",
            parent="p",
        ),
        _family(
            "hurdle_poisson",
            "log",
            _COUNT_LINKS,
            ("psi",),
            _with_zeros(_truncated_poisson_draw),
            log_density=_hurdle(_poisson_lpmf, _poisson_log_p0),
            mean=_hurdle_poisson_mean,
            mean_aux=("psi",),
            support="count",
        ),
        _family(
            "hurdle_negativebinomial",
            "log",
            _COUNT_LINKS,
            ("alpha", "psi"),
            _with_zeros(_truncated_negbinomial_draw),
            log_density=_hurdle(_negbinomial_lpmf, _hurdle_negbinomial_log_p0),
            mean=_hurdle_negbinomial_mean,
            mean_aux=("alpha", "psi"),
            support="count",
        ),
        _family(
            "hurdle_gamma",
            "log",
            _POSITIVE_LINKS,
            ("alpha", "psi"),
            _with_zeros(_gamma_draw),
            log_density=_hurdle(_gamma_lpdf),
            affine=_psi_scale,
            mean_aux=("psi",),
            support="nonnegative",
        ),
        _family(
            "hurdle_lognormal",
            "identity",
            ("identity",),
            ("sigma", "psi"),
            _with_zeros(_lognormal_draw),
            log_density=_hurdle(_lognormal_lpdf),
            mean=_hurdle_lognormal_mean,
            mean_aux=("sigma", "psi"),
            support="nonnegative",
        ),
        Family(
            "cumulative",
            "logit",
            _PROBABILITY_LINKS,
            ("threshold",),
            None,
            None,
            support="category",
            parent="p",
            category_rule="cumulative",
            ordinal=True,
        ),
        Family(
            "sratio",
            "logit",
            _PROBABILITY_LINKS,
            ("threshold",),
            None,
            None,
            support="category",
            parent="p",
            category_rule="sratio",
            ordinal=True,
        ),
        Family(
            "categorical",
            "softmax",
            ("softmax",),
            (),
            None,
            None,
            support="category",
            parent="p",
            category_rule="softmax",
        ),
    ]
}

REFUSED_FAMILIES = {
    "vonmises": "its mean is an angle: averages and differences of angles need circular statistics",
    "multinomial": "its response is a vector of counts",
    "dirichlet_multinomial": "its response is a vector of counts",
}
"""Bambi families mixeff does not take, and why (named in the error)."""

# Other spellings users bring from brms and bambi.
FAMILY_ALIASES = {
    "normal": "gaussian",
    "student": "t",
    "studentt": "t",
    "student_t": "t",
    "negbinomial": "negativebinomial",
    "negative_binomial": "negativebinomial",
    "zero_inflated_negbinomial": "zero_inflated_negativebinomial",
    "hurdle_negbinomial": "hurdle_negativebinomial",
    "inverse.gaussian": "wald",
    "asym_laplace": "asymmetriclaplace",
    "betabinomial": "beta_binomial",
}

# brms names of auxiliary parameters -> the names used here (bambi's); the one place this map lives
BRMS_AUX = {"shape": "alpha", "phi": "kappa"}


def aux_name(name: str) -> str:
    """The name mixeff (and Bambi) use for an auxiliary parameter given either spelling.

    Examples
    --------
    >>> aux_name("shape"), aux_name("phi"), aux_name("sigma")
    ('alpha', 'kappa', 'sigma')
    """
    return BRMS_AUX.get(name, name)


def brms_aux_name(name: str) -> str:
    """Brms's name for one of mixeff's auxiliary parameters (``alpha`` -> ``shape``)."""
    return next((k for k, v in BRMS_AUX.items() if v == name), name)


def get_family(name: str) -> Family:
    """The family called ``name`` (Bambi's or brms's spelling), or an error listing the supported ones.

    Examples
    --------
    >>> get_family("zero_inflated_poisson").mean_aux, get_family("student").name
    (('psi',), 't')
    """
    key = FAMILY_ALIASES.get(str(name).lower(), str(name).lower())
    if key in REFUSED_FAMILIES:
        raise ValueError(
            f"family={name!r} is not supported: {REFUSED_FAMILIES[key]}; mixeff supports {sorted(FAMILIES)}"
        )
    if key not in FAMILIES:
        raise ValueError(f"family={name!r} is not supported; choose one of {sorted(FAMILIES)}")
    return FAMILIES[key]


def get_link(family: Family, name: str | None) -> Link:
    name = family.default_link if name is None else str(name).lower()
    if name not in LINKS:
        raise ValueError(f"link={name!r} is not supported; choose one of {sorted(LINKS)}")
    if name not in family.links:
        raise ValueError(f"link={name!r} is not available for family {family.name!r}; use one of {list(family.links)}")
    return LINKS[name]
