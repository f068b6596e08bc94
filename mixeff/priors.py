"""Priors in brms's short form, translated to Bambi, and brms's refusal of improper priors.

brms classes map to Bambi terms as follows:

========== ==============================================================
class      Bambi terms it sets
========== ==============================================================
``b``      every common (population-level) term except the intercept
``Intercept`` the intercept
``sd``     the standard deviation of every group-level term
``sigma``, ``nu``, ``shape``, ``phi``  the family's auxiliary parameter
any term   that term by its Bambi name (``"TX"``, ``"1|cluster"``)
========== ==============================================================

A prior is a Bambi ``Prior`` or a brms-style string such as
``"normal(0, 0.2)"``.  As in brms, priors on standard deviations (``sd`` and
the auxiliary scale parameters) are half-distributions: ``normal(0, 1)`` on
``sd`` is a half-normal with scale 1.
"""

from __future__ import annotations

import re

from .adapters.bambi import model_parameters

__all__ = ["parse_prior", "resolve_priors", "check_proper", "CLASSES"]

CLASSES = ("b", "Intercept", "sd", "sigma", "nu", "shape", "phi", "alpha", "kappa")
_AUX_CLASS = {"sigma": "sigma", "nu": "nu", "shape": "alpha", "phi": "kappa", "alpha": "alpha", "kappa": "kappa"}

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
_HALF = {"Normal": ("HalfNormal", ("sigma",)), "StudentT": ("HalfStudentT", ("nu", "sigma")),
         "Cauchy": ("HalfCauchy", ("beta",)), "Flat": ("HalfFlat", ())}
IMPROPER = ("Flat", "HalfFlat")


def parse_prior(text: str, *, half: bool = False):
    """A Bambi ``Prior`` from brms syntax: ``"normal(0, 1e6)"`` -> ``Prior("Normal", mu=0, sigma=1e6)``.

    Examples
    --------
    >>> parse_prior("normal(0, 0.2)")
    Normal(mu: 0.0, sigma: 0.2)
    >>> parse_prior("normal(0, 1)", half=True)
    HalfNormal(sigma: 1.0)
    """
    import bambi as bmb

    m = re.fullmatch(r"\s*([A-Za-z_]+)\s*\((.*)\)\s*", str(text))
    if m is None or m.group(1).lower() not in _DISTRIBUTIONS:
        raise ValueError(
            f"prior {text!r} is not understood; write e.g. 'normal(0, 1)', 'student_t(3, 0, 2.5)', "
            f"'exponential(1)' (known: {sorted(_DISTRIBUTIONS)}) or pass a bambi.Prior"
        )
    dist, names = _DISTRIBUTIONS[m.group(1).lower()]
    args = [a.strip() for a in m.group(2).split(",") if a.strip()]
    try:
        values = [float(a) for a in args]
    except ValueError:
        raise ValueError(f"prior {text!r}: arguments must be numbers") from None
    if len(values) != len(names):
        raise ValueError(f"prior {text!r}: {m.group(1)} takes {len(names)} argument(s) {names}")
    params = dict(zip(names, values))
    if half and dist in _HALF:
        dist, keep = _HALF[dist]
        params = {k: v for k, v in params.items() if k in keep}
    return bmb.Prior(dist, **params)


def _as_prior(value, *, half=False):
    return parse_prior(value, half=half) if isinstance(value, str) else value


def resolve_priors(model, priors: dict) -> dict:
    """``{"priors": {bambi term name: Prior}}`` for ``model.set_priors`` from brms-style classes."""
    import bambi as bmb

    comp = model_parameters(model)[model.family.likelihood.parent]
    common = [n for n in comp.common_terms if n not in comp.offset_terms]
    group = list(comp.group_specific_terms)
    aux = [n for n in model_parameters(model) if n != model.family.likelihood.parent]
    out = {}
    for key, value in priors.items():
        if key == "b":
            out.update({n: _as_prior(value) for n in common})
        elif key == "Intercept":
            if comp.intercept_term is None:
                raise ValueError("priors: class 'Intercept' given but the model has no intercept")
            out["Intercept"] = _as_prior(value)
        elif key == "sd":
            if not group:
                raise ValueError("priors: class 'sd' given but the model has no group-level terms")
            out.update({n: bmb.Prior("Normal", mu=0, sigma=_as_prior(value, half=True)) for n in group})
        elif key in _AUX_CLASS:
            name = _AUX_CLASS[key]
            if name not in aux:
                raise ValueError(
                    f"priors: class {key!r} is not a parameter of the {model.family.name} family "
                    f"(its auxiliary parameters are {aux})"
                )
            out[name] = _as_prior(value, half=True)
        elif key in comp.terms or key in aux:
            out[key] = _as_prior(value, half=key in aux)
        else:
            raise ValueError(
                f"priors: {key!r} is neither a parameter class ({', '.join(CLASSES)}) nor a term of "
                f"the model ({list(comp.terms) + aux})"
            )
    return {"priors": out}


def _named_priors(model):
    comp = model_parameters(model)[model.family.likelihood.parent]
    for name, term in comp.terms.items():
        prior = getattr(term, "prior", None)
        if prior is None or not hasattr(prior, "name"):
            continue
        yield name, prior
        for arg, sub in getattr(prior, "args", {}).items():
            if hasattr(sub, "name"):
                yield f"{name}_{arg}", sub
    for name, component in model_parameters(model).items():
        prior = getattr(component, "prior", None)
        if name != model.family.likelihood.parent and hasattr(prior, "name"):
            yield name, prior


def check_proper(model):
    """Refuse prior sampling when a prior is improper, naming the parameter (as brms does)."""
    for name, prior in _named_priors(model):
        if prior.name in IMPROPER:
            raise ValueError(
                f"the prior of {name!r} is {prior.name} (improper), so there is nothing to sample with "
                "sample_prior='only'/'yes'; give it a proper prior, e.g. priors={'b': 'normal(0, 1)'} "
                "or priors={" + repr(name) + ": 'normal(0, 1)'}"
            )
