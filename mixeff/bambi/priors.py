"""Priors in brms's short form, translated to Bambi, and brms's refusal of improper priors.

``priors=`` (of :func:`mixeff.fit`) is a dict whose keys are brms classes or
Bambi term names:

=================================  ==============================================
key                                what it sets
=================================  ==============================================
``"b"``                            every common (population-level) term except
                                   the intercept
``"Intercept"``                    the intercept, for *centred* predictors (Bambi's
                                   ``center_predictors``, as brms's ``Intercept``)
``"sd"``                           the standard deviation of every group-level term
``"sigma"``, ``"nu"``,             the family's auxiliary parameter
``"shape"``, ``"phi"``
a common term (``"military"``)     that term (brms ``class = "b", coef = ...``)
a group term (``"gender|state"``)  a string: that term's sd (brms ``class = "sd",
                                   coef = ...``); a Bambi ``Prior``: the whole term
``"cor"`` (or brms's ``"L"``)      ``"lkj(eta)"``: the LKJ prior of every correlated
                                   block's correlation matrix (default ``lkj(1)``)
=================================  ==============================================

``priors="brms"`` uses brms's default priors, computed from the data as brms does
(:func:`brms_defaults`; :func:`mixeff.default_priors` lists them, so that
``priors={**mixeff.default_priors(...), "b": "normal(0, 1)"}`` changes one class as
``set_prior`` does in brms).

A value is a Bambi ``Prior`` or a brms-style string such as ``"normal(0, 0.2)"``.
As in brms, priors on standard deviations (``sd`` and the auxiliary scale
parameters) are half-distributions: ``"normal(0, 1)"`` on ``sd`` is a half-normal
with scale 1.  A key that is not a parameter of the model (``"sigma"`` on a
bernoulli model, ``"sd"`` without group-level terms, ``"cor"`` without correlated
terms) is an error.

The prior predictive check of the marginaleffects book (section 11.3.1) is one
line per set-up::

    vague = {"b": "normal(0, 1e6)", "Intercept": "normal(0, 1e6)"}
    informative = {"b": "normal(0, 0.2)", "Intercept": "normal(0, 0.2)"}

Classes left out keep Bambi's defaults, which are proper (unlike brms's flat
``b``).  Bambi's default group-level sd prior is a half-normal auto-scaled from
the predictors (about 2.5 for an intercept, 2.5 / sd(x) for a slope, so about 5
for a 0/1 dummy) where brms uses ``student_t(3, 0, 2.5)``; for the model of that section
both give prior-predictive intervals of the same width (pass
``"sd": "student_t(3, 0, 2.5)"`` to use brms's).  For gaussian and t families
Bambi's defaults are scaled by the response's mean and sd, so even a prior-only
fit with default priors depends on the response, as in brms.

brms refuses ``sample_prior = "only"`` when a prior is improper (``flat``);
:func:`check_proper` does the same and names each parameter and the ``priors=``
entry that fixes it.
"""

from __future__ import annotations

import re

import numpy as np

from ..model.families import aux_name, brms_aux_name
from .adapter import model_parameters

CLASSES = ("b", "Intercept", "sd", "cor", "sigma", "nu", "shape", "phi", "alpha", "kappa")
_AUX_CLASS = {c: aux_name(c) for c in CLASSES[4:]}  # prior class -> Bambi parameter

# brms name -> (Bambi distribution, its parameter names in brms order)
_DISTRIBUTIONS = {
    "normal": ("Normal", ("mu", "sigma")),
    "student_t": ("StudentT", ("nu", "mu", "sigma")),
    "cauchy": ("Cauchy", ("alpha", "beta")),
    "logistic": ("Logistic", ("mu", "s")),
    "lognormal": ("LogNormal", ("mu", "sigma")),
    "exponential": ("Exponential", ("lam",)),
    "gamma": ("Gamma", ("alpha", "beta")),
    "uniform": ("Uniform", ("lower", "upper")),
    "halfnormal": ("HalfNormal", ("sigma",)),
    "halfcauchy": ("HalfCauchy", ("beta",)),
    "halfstudent_t": ("HalfStudentT", ("nu", "sigma")),
    "flat": ("Flat", ()),
    "halfflat": ("HalfFlat", ()),
}
_HALF = {
    "Normal": ("HalfNormal", ("sigma",)),
    "StudentT": ("HalfStudentT", ("nu", "sigma")),
    "Cauchy": ("HalfCauchy", ("beta",)),
    "Flat": ("HalfFlat", ()),
}
IMPROPER = ("Flat", "HalfFlat")
_CORRELATIONS = ("cor", "L")  # brms's classes of correlation matrices (L: their Cholesky factors)
_LKJ = re.compile(r"\s*lkj(?:_corr)?(?:_cholesky)?\s*\(\s*([^()]*?)\s*\)\s*")

# Bambi distribution -> {parameter: what it must exceed (a number, or another parameter's name)}
_LOWER_BOUNDS = {
    "Normal": {"sigma": 0},
    "StudentT": {"nu": 0, "sigma": 0},
    "Cauchy": {"beta": 0},
    "Logistic": {"s": 0},
    "LogNormal": {"sigma": 0},
    "Exponential": {"lam": 0},
    "Gamma": {"alpha": 0, "beta": 0},
    "Uniform": {"upper": "lower"},
    "HalfNormal": {"sigma": 0},
    "HalfCauchy": {"beta": 0},
    "HalfStudentT": {"nu": 0, "sigma": 0},
}


def parse_prior(text: str, *, half: bool = False):
    """A Bambi ``Prior`` from brms syntax: ``"normal(0, 1e6)"`` -> ``Prior("Normal", mu=0, sigma=1e6)``.

    Examples
    --------
    >>> parse_prior("normal(0, 0.2)")
    Normal(mu: 0.0, sigma: 0.2)
    >>> parse_prior("normal(0, 1)", half=True)
    HalfNormal(sigma: 1.0)
    >>> parse_prior("flat")
    Flat()
    >>> parse_prior("normal(0, 0)")
    Traceback (most recent call last):
    ...
    ValueError: prior 'normal(0, 0)': sigma must be > 0, got 0.0
    """
    import bambi as bmb

    m = re.fullmatch(r"\s*([A-Za-z_]+)\s*(?:\((.*)\))?\s*", str(text))
    if m is None or m.group(1).lower() not in _DISTRIBUTIONS:
        raise ValueError(
            f"prior {text!r} is not understood; write e.g. 'normal(0, 1)', 'student_t(3, 0, 2.5)', "
            f"'exponential(1)' (known: {sorted(_DISTRIBUTIONS)}) or pass a bambi.Prior"
        )
    dist, names = _DISTRIBUTIONS[m.group(1).lower()]
    args = [a.strip() for a in (m.group(2) or "").split(",") if a.strip()]
    try:
        values = [float(a) for a in args]
    except ValueError:
        raise ValueError(f"prior {text!r}: arguments must be numbers") from None
    if len(values) != len(names):
        raise ValueError(f"prior {text!r}: {m.group(1)} takes {len(names)} argument(s) {names}")
    params = dict(zip(names, values))
    check_parameters(dist, params, repr(text))
    if half and dist in _HALF:
        dist, keep = _HALF[dist]
        params = {k: v for k, v in params.items() if k in keep}
    return bmb.Prior(dist, **params)


def check_parameters(dist: str, params: dict, shown: str) -> None:
    """Refuse parameters outside a distribution's domain (``_LOWER_BOUNDS``); nested priors are checked too.

    Examples
    --------
    >>> check_parameters("Uniform", {"lower": 1.0, "upper": 0.0}, "'uniform(1, 0)'")
    Traceback (most recent call last):
    ...
    ValueError: prior 'uniform(1, 0)': upper must be > lower (1.0), got 0.0
    """
    from bambi import Prior

    bounds = _LOWER_BOUNDS.get(dist, {})
    for name, value in params.items():
        if isinstance(value, Prior):
            check_parameters(value.name, value.args, f"{shown} (its {name}: {value})")
            continue
        values = _numbers(value)
        if values is None:
            continue
        if not np.all(np.isfinite(values)):
            raise ValueError(f"prior {shown}: {name} must be a finite number, got {value}")
        bound = bounds.get(name)
        limit = _numbers(params.get(bound) if isinstance(bound, str) else bound)
        if limit is not None and not np.all(values > limit):
            what = f"{bound} ({params[bound]})" if isinstance(bound, str) else bound
            raise ValueError(f"prior {shown}: {name} must be > {what}, got {value}")


def _numbers(value):
    """``value`` as a float array, or None when it is not numeric (a nested prior, None)."""
    try:
        return None if value is None else np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _as_prior(key, value, *, half=False):
    """``value`` as a Bambi ``Prior``; an error names the ``priors=`` entry."""
    from bambi import Prior

    try:
        if isinstance(value, str):
            return parse_prior(value, half=half)
        if isinstance(value, Prior):
            check_parameters(value.name, value.args, str(value))
        return value
    except ValueError as err:
        raise ValueError(f"priors[{key!r}]: {err}") from None


def parse_lkj(key: str, text) -> float:
    """The ``eta`` of ``"lkj(eta)"`` (brms also writes ``lkj_corr_cholesky(eta)``), checked > 0.

    Examples
    --------
    >>> parse_lkj("cor", "lkj(2)"), parse_lkj("L", "lkj_corr_cholesky(1)")
    (2.0, 1.0)
    >>> parse_lkj("cor", "normal(0, 1)")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: priors['cor']: 'normal(0, 1)' is not an LKJ prior; correlation matrices take 'lkj(eta)',
    e.g. 'lkj(1)' (uniform) or 'lkj(2)' (shrinks towards 0)
    """
    m = _LKJ.fullmatch(str(text)) if isinstance(text, (str, int, float)) else None
    eta = _numbers(m.group(1)) if m and re.fullmatch(r"[-+0-9.eE]+", m.group(1)) else None
    if m is None or eta is None:
        raise ValueError(
            f"priors[{key!r}]: {text!r} is not an LKJ prior; correlation matrices take 'lkj(eta)', "
            "e.g. 'lkj(1)' (uniform) or 'lkj(2)' (shrinks towards 0)"
        )
    if not (np.isfinite(eta) and eta > 0):
        raise ValueError(f"priors[{key!r}]: {text!r}: eta must be a finite number > 0, got {float(eta)}")
    return float(eta)


def lkj_eta(priors) -> float:
    """The LKJ shape of the correlated blocks: ``priors["cor"]`` (or ``"L"``), else brms's 1."""
    given = [k for k in _CORRELATIONS if isinstance(priors, dict) and k in priors]
    if len(given) > 1:
        raise ValueError("priors: give the correlation prior once, as 'cor' or as 'L', not both")
    return parse_lkj(given[0], priors[given[0]]) if given else 1.0


def check_priors(priors) -> None:
    """Refuse a ``priors=`` that is not a dict, or a value that is no valid prior, naming its key.

    Examples
    --------
    >>> check_priors({"b": "normal(0, 1)", "sd": "exponential(0)"})
    Traceback (most recent call last):
    ...
    ValueError: priors['sd']: prior 'exponential(0)': lam must be > 0, got 0.0
    """
    if isinstance(priors, str) and priors == "brms":
        return
    if not isinstance(priors, dict):
        raise TypeError(f"priors must be 'brms' or a dict such as {{'b': 'normal(0, 1)'}}, got {priors!r}")
    lkj_eta(priors)
    for key, value in priors.items():
        if key not in _CORRELATIONS:
            _as_prior(key, value)


def resolve_priors(model, priors: dict, correlated: bool = False) -> dict:
    """``{"priors": {bambi term name: Prior}}`` for ``model.set_priors`` from brms-style classes.

    ``correlated``: whether the model has correlated blocks, whose ``"cor"`` prior
    :func:`lkj_eta` reads (it is no Bambi prior).

    Examples
    --------
    >>> import bambi as bmb, mixeff
    >>> m = bmb.Model("y ~ 1 + TX + (1 | cluster)", mixeff.datasets.load_magnusson(), family="lognormal")
    >>> sorted(resolve_priors(m, {"b": "normal(0, 1)", "sd": "exponential(1)"})["priors"])
    ['1|cluster', 'TX']
    """
    import bambi as bmb

    comp = model_parameters(model)[model.family.likelihood.parent]
    common = [n for n in comp.common_terms if n not in comp.offset_terms]
    group = list(comp.group_specific_terms)
    aux = [n for n in model_parameters(model) if n != model.family.likelihood.parent]
    out = {}
    for key, value in priors.items():
        if key == "b":
            out.update({n: _as_prior(key, value) for n in common})
        elif key == "Intercept":
            if comp.intercept_term is None:
                raise ValueError("priors: class 'Intercept' given but the model has no intercept")
            out["Intercept"] = _as_prior(key, value)
        elif key == "sd":
            if not group:
                raise ValueError("priors: class 'sd' given but the model has no group-level terms")
            out.update({n: bmb.Prior("Normal", mu=0, sigma=_as_prior(key, value, half=True)) for n in group})
        elif key in _AUX_CLASS:
            name = _AUX_CLASS[key]
            if name not in aux:
                raise ValueError(
                    f"priors: class {key!r} is not a parameter of the {model.family.name} family "
                    f"(its auxiliary parameters are {aux})"
                )
            out[name] = _as_prior(key, value, half=True)
        elif key in group:
            # as brms's class "sd" for one term: a string is the prior of that term's sd
            out[key] = (
                bmb.Prior("Normal", mu=0, sigma=_as_prior(key, value, half=True))
                if isinstance(value, str)
                else _as_prior(key, value)
            )
        elif key in aux and isinstance(value, str) and key not in _SCALE_AUX:
            raise ValueError(
                f"priors: {key!r}={value!r}: a prior string is read as a half-distribution of a scale, and {key!r} "
                f"is not a scale; pass a bambi Prior (ordinal thresholds: bmb.Prior('Normal', mu=[...], sigma=..., "
                "transform='ordered'); psi: bmb.Prior('Beta', alpha=..., beta=...))"
            )
        elif key in comp.terms or key in aux:
            out[key] = _as_prior(key, value, half=key in aux)
        elif key in _CORRELATIONS:
            if not correlated:
                raise ValueError(
                    f"priors: class {key!r} is not a parameter of this model: no group-level terms are "
                    "correlated (terms are correlated when written in one '|' bar, e.g. (1 + x | g); '||' "
                    "and single-term bars such as (1 | g) have no correlation). Drop this entry"
                )
        else:
            raise ValueError(
                f"priors: {key!r} is neither a parameter class ({', '.join(CLASSES)}) nor a term of "
                f"the model ({list(comp.terms) + aux})"
            )
    return {"priors": out}


def _named_priors(model):
    """``(parameter, prior, key that sets it)`` for every prior of the model, hyperpriors included."""
    params = model_parameters(model)
    comp = params[model.family.likelihood.parent]
    group = set(comp.group_specific_terms)
    for name, term in comp.terms.items():
        prior = getattr(term, "prior", None)
        if prior is None or not hasattr(prior, "name"):
            continue
        key = "Intercept" if name == "Intercept" else ("sd" if name in group else "b")
        yield name, prior, (key, name)
        for arg, sub in getattr(prior, "args", {}).items():
            if hasattr(sub, "name"):
                yield f"{name}_{arg}", sub, ("sd", name)
    for name, component in params.items():
        prior = getattr(component, "prior", None)
        if name != model.family.likelihood.parent and hasattr(prior, "name"):
            key = next((k for k, v in _AUX_CLASS.items() if v == name), name)
            yield name, prior, (key, name)


_FIX_EXAMPLE = {"b": "normal(0, 1)", "Intercept": "normal(0, 1)", "sd": "normal(0, 1)"}


def check_proper(model):
    """Refuse prior sampling when a prior is improper, naming the parameters (as brms does).

    Examples
    --------
    >>> import bambi as bmb, mixeff
    >>> m = bmb.Model("y ~ 1 + TX", mixeff.datasets.load_magnusson(), family="lognormal",
    ...               priors={"TX": bmb.Prior("Flat")})
    >>> check_proper(m)
    Traceback (most recent call last):
    ...
    ValueError: ...'TX'...

    brms: "Sampling from priors is not possible as some parameters have no proper
    priors".  The message lists every improper parameter and the ``priors=`` entry
    that gives it a proper prior.
    """
    bad = [(name, prior.name, keys) for name, prior, keys in _named_priors(model) if prior.name in IMPROPER]
    if not bad:
        return
    lines = [f"{name!r} has a {dist} prior" for name, dist, _ in bad]
    fixes = {}
    for _, _, (cls, _) in bad:
        fixes.setdefault(cls, f"{cls!r}: {_FIX_EXAMPLE.get(cls, 'exponential(1)')!r}")
    cls, term = bad[0][2]
    single = (
        f"; or one parameter by its term name, e.g. priors={{{term!r}: {_FIX_EXAMPLE.get(cls, 'exponential(1)')!r}}}"
        if term != cls
        else ""
    )
    sd_note = (
        " (on 'sd' or a group term the string is the prior of the group-level standard deviation, a half-distribution)"
        if any(c == "sd" for _, _, (c, _) in bad)
        else ""
    )
    raise ValueError(
        "sampling from the priors (sample_prior='only'/'yes') is not possible because some parameters "
        f"have improper (flat) priors: {'; '.join(lines)}. Give them proper priors, e.g. "
        f"priors={{{', '.join(fixes.values())}}}{single}{sd_note}"
    )


# brms's defaults of the auxiliary parameters under an identity link (brms:::def_dpar_prior);
# sigma's is the student_t of the response's scale (brms:::def_scale_prior)
_SCALE_AUX = {"sigma", "alpha", "kappa", "nu", "b", "lam"}
"""Auxiliary parameters that are positive scales: a prior string gives their half-distribution."""
_BRMS_AUX_DEFAULTS = {"shape": "gamma(0.01, 0.01)", "nu": "gamma(2, 0.1)", "phi": "gamma(0.01, 0.01)"}
_TRANSFORMED_LINKS = ("identity", "log", "inverse")
_LOG_SCALE_FAMILIES = ("lognormal",)


def brms_defaults(model, correlated: bool = False) -> dict[str, str]:
    """Brms's default priors for a Bambi model, as ``priors=`` classes (brms 2.x rules).

    ``y*`` is the response on the link scale (the log for lognormal; zeros moved to
    0.1 first under log and inverse links), ``s = max(2.5, round(mad(y*), 1))``:

    - ``Intercept`` (of the centred design): ``student_t(3, round(median(y*), 1), s)``,
      less the mean offset; ``student_t(3, 0, 2.5)`` under other links (logit, probit...);
    - ``sd`` and ``sigma``: ``student_t(3, 0, s)``, half (``2.5`` under other links);
    - ``b``: ``flat``; ``cor``: ``lkj(1)``; ``shape``, ``phi``: ``gamma(0.01, 0.01)``;
      ``nu``: ``gamma(2, 0.1)`` (brms also bounds nu below by 1; here it is > 0).

    Examples
    --------
    >>> import bambi as bmb, pandas as pd
    >>> d = pd.DataFrame({"y": [1.0, 2.0, 4.0, 8.0, 9.0], "x": [0, 1, 0, 1, 0], "g": list("aabbc")})
    >>> brms_defaults(bmb.Model("y ~ x + (1 | g)", d))
    {'b': 'flat', 'Intercept': 'student_t(3, 4, 4.4)', 'sd': 'student_t(3, 0, 4.4)', 'sigma': 'student_t(3, 0, 4.4)'}
    """
    params = model_parameters(model)
    parent = model.family.likelihood.parent
    comp = params[parent]
    link = model.family.link[parent].name
    link = "log" if model.family.name in _LOG_SCALE_FAMILIES else link
    location, scale = 0.0, 2.5
    if link in _TRANSFORMED_LINKS:
        y = np.asarray(model.response_term.data, dtype=float).ravel()
        if link != "identity":
            y = np.where(y == 0, 0.1, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            y_link = {"identity": y, "log": np.log(y), "inverse": 1 / y}[link]
        median = np.median(y_link)
        mad = 1.4826 * np.median(np.abs(y_link - median))
        if np.isfinite(mad):
            scale = max(scale, round(float(mad), 1))
        if np.isfinite(median):
            location = round(float(median), 1)
            offsets = [np.asarray(t.data, dtype=float) for t in comp.offset_terms.values()]
            if offsets:
                location -= float(np.mean(np.sum(offsets, axis=0)))
    student = f"student_t(3, {location:.10g}, {scale:.10g})"
    half = f"student_t(3, 0, {scale:.10g})"
    out = {}
    if [n for n in comp.common_terms if n not in comp.offset_terms]:
        out["b"] = "flat"
    if comp.intercept_term is not None:
        out["Intercept"] = student
    if comp.group_specific_terms:
        out["sd"] = half
    if correlated:
        out["cor"] = "lkj(1)"
    for name in params:
        if name == parent:
            continue
        brms_class = brms_aux_name(name)
        if brms_class != "sigma" and brms_class not in _BRMS_AUX_DEFAULTS:
            raise ValueError(
                f"priors='brms': mixeff has brms's defaults for sigma, {', '.join(_BRMS_AUX_DEFAULTS)} but not for "
                f"the {model.family.name} family's {name!r}; set the priors yourself, {name!r} as a bambi Prior "
                "(ordinal thresholds need transform='ordered')"
            )
        out[brms_class] = half if brms_class == "sigma" else _BRMS_AUX_DEFAULTS[brms_class]
    return out
