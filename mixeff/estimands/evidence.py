"""Evidence on draws, as brms's ``hypothesis()`` reports it: density ratios, evidence ratios, parameter names.

* :func:`density_at` / :func:`bw_nrd0`: the Gaussian kernel density estimate of
  draws at one point with R's ``bw.nrd0`` bandwidth -- the estimator of
  ``brms::density_ratio`` (``stats::density``, gaussian kernel, ``bw.nrd0``),
  evaluated exactly at the point instead of on a 4096-point FFT grid followed by
  a spline.
* :func:`savage_dickey`: the Savage--Dickey density ratio of a point hypothesis
  (brms's ``Evid.Ratio`` for ``"x = 0"``), with an approximate standard error.
* :func:`evidence_ratio` / :func:`posterior_probability`: brms's ``Evid.Ratio``
  and ``Post.Prob`` of one-sided hypotheses.
* :func:`resolve_parameter`: brms's rules for naming a fit's parameters (``b_TX``,
  ``sd_cluster__Intercept``, ``r_cluster[1,Intercept]``, ``sigma``) in hypothesis strings;
  the draws under those names come from :func:`mixeff.verbs.fits.parameter_draws`.

Quantities computed on draws, not verbs: :func:`mixeff.hypotheses` calls them.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

#: draws per chunk when summing kernel values (bounds the temporaries for 10^6+ draws)
_CHUNK = 1 << 18
#: fewest draws :func:`savage_dickey` accepts from each distribution
MIN_DRAWS = 100
#: a prior density at the point at or below this is treated as zero
TINY_DENSITY = 1e-300
_METHOD = "Gaussian KDE, bw.nrd0 (as brms::density_ratio)"
_ONE_SIDED = (">", ">=", "<", "<=")
_SQRT_2PI = math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------- kernel density


def _checked_draws(draws: ArrayLike, what: str, minimum: int = 2) -> np.ndarray:
    x = np.asarray(draws, dtype=float).ravel()
    if x.size < minimum:
        raise ValueError(
            f"{what}: {x.size} draws given, at least {minimum} needed; draw more"
            + (" (10,000 or more give a stable density estimate)" if minimum > 2 else "")
        )
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(
            f"{what}: {int(bad.sum())} of {x.size} draws are not finite (nan or inf); "
            f"drop or fix those draws (e.g. draws[np.isfinite(draws)]) first"
        )
    return x


def bw_nrd0(draws: np.ndarray) -> float:
    """R's ``bw.nrd0``: Silverman's rule of thumb, ``0.9 * min(sd, IQR / 1.34) * n^(-1/5)``.

    ``sd`` has denominator ``n - 1`` and the IQR uses R's default quantile (type 7,
    numpy's default).  As in R, when ``min(sd, IQR / 1.34)`` is 0 it falls back to
    ``sd``, then to ``|x[0]|``, then to 1.  ``draws`` of any shape are flattened.

    Examples
    --------
    >>> round(bw_nrd0(np.arange(1.0, 11.0)), 6)       # R: bw.nrd0(1:10)
    1.719286
    >>> round(bw_nrd0(np.zeros(3)), 6), round(bw_nrd0(np.full(3, 2.0)), 6)   # fallbacks 1 and |x[0]|
    (0.722467, 1.444935)
    """
    x = _checked_draws(draws, "bw_nrd0")
    hi = float(np.std(x, ddof=1))
    q75, q25 = np.percentile(x, [75.0, 25.0])
    lo = min(hi, float(q75 - q25) / 1.34)
    if not lo:
        lo = hi or abs(float(x[0])) or 1.0
    return 0.9 * lo * x.size**-0.2


def _kde_at(x: np.ndarray, point: float, h: float) -> tuple[float, float]:
    """Gaussian KDE at ``point`` and the standard error ``sd(K_h(point - X)) / sqrt(n)``, chunked."""
    n = x.size
    total = total_sq = 0.0
    for start in range(0, n, _CHUNK):
        z = (x[start : start + _CHUNK] - point) / h
        k = np.exp(-0.5 * z * z)
        total += float(k.sum())
        total_sq += float(np.dot(k, k))
    norm = 1.0 / (h * _SQRT_2PI)
    mean_k = total / n
    var_k = max(total_sq / n - mean_k * mean_k, 0.0) * n / (n - 1)  # sample variance of the kernel values
    return mean_k * norm, math.sqrt(var_k / n) * norm


def density_at(draws: np.ndarray, point: float) -> float:
    """The Gaussian kernel density estimate of ``draws`` at ``point``, bandwidth :func:`bw_nrd0`.

    ``f(point) = mean(phi((point - X_i) / h)) / h`` with ``h = bw.nrd0(X)``: what
    ``stats::density(x)`` estimates (and ``brms::density_ratio`` reads off with
    a spline), computed exactly at the point.  Vectorised over the draws in
    chunks, so memory stays bounded for millions of draws.  ``draws`` of any
    shape are flattened; they must be finite and at least 2.

    Examples
    --------
    >>> round(density_at(np.array([-1.0, 0.0, 1.0]), 0.0), 6)
    0.334974
    >>> x = np.random.default_rng(1).standard_normal(20_000)
    >>> bool(abs(density_at(x, 0.0) - 1 / np.sqrt(2 * np.pi)) < 0.01)
    True
    """
    x = _checked_draws(draws, "density_at")
    return _kde_at(x, float(point), bw_nrd0(x))[0]


# --------------------------------------------------------------------------- Savage-Dickey


def savage_dickey(posterior: np.ndarray, prior: np.ndarray, point: float = 0.0) -> dict:
    """Savage--Dickey density ratio of the point hypothesis ``theta = point``.

    ``bf01 = f_post(point) / f_prior(point)``, each density a Gaussian KDE with
    R's ``bw.nrd0`` bandwidth (:func:`density_at`): brms's ``Evid.Ratio`` of a
    point hypothesis (evidence *for* ``theta = point``), and ``bf10 = 1 / bf01``.

    Standard error.  A KDE at a point is a mean of i.i.d. kernel values
    ``K_h(point - X_i)``, so ``Var(f_hat) ~= Var(K_h(point - X)) / n``, estimated
    with the sample variance of the kernel values.  By the delta method, with
    independent posterior and prior draws,
    ``se(log bf01) = sqrt((se_post / f_post)^2 + (se_prior / f_prior)^2)``.
    It is the Monte Carlo error only: it takes the draws as independent (for
    autocorrelated MCMC draws it is too small by about ``sqrt(n / ESS)``) and
    leaves out the smoothing bias, about ``h^2 f''(point) / 2`` (for normal
    draws and ``n = 40,000`` roughly -0.6% at the mode, a few % in the tails).

    Parameters
    ----------
    posterior, prior : array
        Draws of the same quantity under the posterior and the prior (any
        shape, flattened); finite, at least 100 of each (10,000+ advised).
    point : float
        The value the hypothesis sets the quantity to.

    Returns
    -------
    dict
        ``bf01``, ``bf10``, ``posterior_density``, ``prior_density``,
        ``posterior_density_se``, ``prior_density_se``, ``se_log_bf01``,
        ``bandwidth_posterior``, ``bandwidth_prior``, ``point``, ``method``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> out = savage_dickey(rng.normal(0.0, 0.5, 40_000), rng.normal(0.0, 2.0, 40_000))
    >>> round(out["bf01"], 2), round(out["se_log_bf01"], 3)   # exact: (1 / 0.5) / (1 / 2) = 4
    (3.94, 0.017)
    >>> out["method"]
    'Gaussian KDE, bw.nrd0 (as brms::density_ratio)'
    >>> round(out["bf10"] * out["bf01"], 12)
    1.0
    """
    point = float(point)
    if not math.isfinite(point):
        raise ValueError(f"point={point!r} must be a finite number")
    post = _checked_draws(posterior, "savage_dickey posterior", MIN_DRAWS)
    pri = _checked_draws(prior, "savage_dickey prior", MIN_DRAWS)
    h_post, h_pri = bw_nrd0(post), bw_nrd0(pri)
    f_post, se_post = _kde_at(post, point, h_post)
    f_pri, se_pri = _kde_at(pri, point, h_pri)
    if not f_pri > TINY_DENSITY:
        raise ValueError(
            f"the prior puts no mass near {point:g}: the density of its {pri.size} draws there is {f_pri:.3g} "
            f"(draws span [{pri.min():.4g}, {pri.max():.4g}]), so the Savage-Dickey ratio is undefined; use a "
            f"prior whose support covers {point:g} (e.g. normal rather than a prior bounded away from it), or "
            f"test a value the prior covers"
        )
    bf01 = f_post / f_pri
    rel_post = se_post / f_post if f_post > 0 else math.inf
    se_log = math.sqrt(rel_post**2 + (se_pri / f_pri) ** 2)
    return {
        "bf01": bf01,
        "bf10": 1.0 / bf01 if bf01 > 0 else math.inf,
        "posterior_density": f_post,
        "prior_density": f_pri,
        "posterior_density_se": se_post,
        "prior_density_se": se_pri,
        "se_log_bf01": se_log,
        "bandwidth_posterior": h_post,
        "bandwidth_prior": h_pri,
        "point": point,
        "method": _METHOD,
    }


# --------------------------------------------------------------------------- one-sided hypotheses


def _satisfied(draws: ArrayLike, op: str) -> np.ndarray:
    if op not in _ONE_SIDED:
        raise ValueError(
            f"op={op!r} must be one of {list(_ONE_SIDED)} (a one-sided hypothesis); a point "
            f"hypothesis '=' needs prior draws: use savage_dickey"
        )
    x = np.asarray(draws, dtype=float)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError("draws must hold at least one draw along the last axis ((rows, S) or (S,))")
    if np.isnan(x).any():
        raise ValueError("draws hold nan values; an inequality cannot be decided there; drop or fix them first")
    return {">": x > 0, ">=": x >= 0, "<": x < 0, "<=": x <= 0}[op]


def evidence_ratio(draws: np.ndarray, op: str) -> np.ndarray:
    """Brms's ``Evid.Ratio`` of a one-sided hypothesis ``lhs op rhs`` from draws of ``lhs - rhs``.

    ``(#draws satisfying) / (#draws not satisfying)`` along the last axis (draws
    ``(rows, S)`` give one ratio per row; ``(S,)`` gives a 0-d array): the
    posterior odds ``p / (1 - p)``.  ``np.inf`` where every draw satisfies it,
    0 where none does, as in brms.

    Examples
    --------
    >>> evidence_ratio(np.array([[-1.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]]), ">")
    array([ 3., inf])
    >>> float(evidence_ratio(np.array([-1.0, 0.0, 1.0]), "<="))
    2.0
    """
    hit = _satisfied(draws, op)
    yes = hit.sum(axis=-1)
    no = hit.shape[-1] - yes
    with np.errstate(divide="ignore"):
        return np.true_divide(yes, no)


def posterior_probability(draws: np.ndarray, op: str) -> np.ndarray:
    """Brms's ``Post.Prob`` of a one-sided hypothesis: the share of draws of ``lhs - rhs`` satisfying ``op``.

    Equals ``ER / (1 + ER)`` of :func:`evidence_ratio` (1 where ER is infinite).

    Examples
    --------
    >>> posterior_probability(np.array([[-1.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]]), ">")
    array([0.75, 1.  ])
    """
    return _satisfied(draws, op).mean(axis=-1)


# --------------------------------------------------------------------------- parameters by brms name


def _brms_renamed(name: str) -> str:
    """Brms's renaming of names in hypothesis strings (``eval_hypothesis``)."""
    for old, new in ((":", "___"), ("[", "."), ("]", "."), (",", "..")):
        name = name.replace(old, new)
    return name


def _single_dot(name: str) -> str:
    """Like :func:`_brms_renamed` but ``,`` -> ``.`` (``r_cluster.1.Intercept.``): a mixeff leniency."""
    return _brms_renamed(name.replace(",", "."))


def resolve_parameter(name: str, names: list[str]) -> int:
    """The index in ``names`` (as from :func:`~mixeff.verbs.fits.parameter_draws`) of the parameter ``name``.

    Tried in order; the first rule that matches wins:

    1. ``b_<name>``: brms's ``hypothesis(class = "b")`` default, so ``"TX"`` is
       ``b_TX`` and ``"Intercept"`` is ``b_Intercept``.
    2. ``name`` itself, a full name: ``"b_TX"``, ``"sigma"``,
       ``"sd_cluster__Intercept"``, ``"r_cluster[1,Intercept]"``.
    3. brms's renaming in hypothesis strings (``rename(h, c(":", "[", "]", ","),
       c("___", ".", ".", ".."))``), with or without the ``b_``: ``"TX___age"`` is
       ``b_TX:age`` (a valid Python identifier) and ``"r_cluster.1..Intercept."``
       is ``r_cluster[1,Intercept]`` (not an identifier: an ``ast``-based parser
       must substitute such names before parsing, as brms's ``find_vars`` does).
    4. The same with ``,`` written as a single ``.`` (``"r_cluster.1.Intercept."``),
       when that names exactly one parameter.

    Unknown or ambiguous names raise ``ValueError``.

    Examples
    --------
    >>> names = ["b_Intercept", "b_TX", "b_TX:age", "sd_cluster__Intercept", "sigma", "r_cluster[1,Intercept]"]
    >>> [resolve_parameter(n, names) for n in ["TX", "b_TX", "Intercept", "sigma", "TX___age"]]
    [1, 1, 0, 4, 2]
    >>> resolve_parameter("r_cluster.1..Intercept.", names), resolve_parameter("r_cluster.1.Intercept.", names)
    (5, 5)
    """
    if not isinstance(name, str):
        raise TypeError(f"a parameter name must be a string, got {type(name).__name__}")
    key = "".join(name.split())
    names = list(names)
    for candidate in (f"b_{key}", key):
        if candidate in names:
            return names.index(candidate)
    for rename in (_brms_renamed, _single_dot):
        found = sorted({i for i, n in enumerate(names) if rename(n) in (key, f"b_{key}")})
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ValueError(
                f"parameter {name!r} is ambiguous: it names {[names[i] for i in found]}; write the full name"
            )
    shown = ", ".join(repr(n) for n in names[:6]) + (f", ... ({len(names)} in all)" if len(names) > 6 else "")
    raise ValueError(
        f"unknown parameter {name!r}. A bare name means b_<name> (brms's class 'b': 'TX' is 'b_TX'); other "
        f"parameters take their full brms name, with ':' '[' ']' ',' optionally written '___' '.' '.' '..' "
        f"as in brms. Available: {shown}"
    )
