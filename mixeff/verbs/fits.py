"""The one way verbs reach a fit's draws: :func:`resolve_spec`; its parameters by brms name: :func:`parameter_draws`."""

from __future__ import annotations

import numpy as np

from ..model.as_draws import as_draws_df
from ..model.spec import FitLike as FitLike
from ..model.spec import ModelSpec


def resolve_spec(fit, draws: str = "posterior") -> ModelSpec:
    """The spec of a fit (MixedFit, or a ModelSpec passed directly) for the chosen draws.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> resolve_spec(toy_spec()).n_samples
    200
    """
    if isinstance(fit, ModelSpec):
        if draws != fit.source:
            raise ValueError(f"draws={draws!r} but this spec holds {fit.source} draws")
        return fit
    spec_of = getattr(fit, "spec", None)
    if spec_of is None:
        raise TypeError(f"expected a mixeff fit (mixeff.fit, mixeff.from_bambi) or ModelSpec, got {type(fit).__name__}")
    return spec_of(draws)


def parameter_draws(fit, draws: str = "posterior") -> tuple[list[str], np.ndarray, int, int]:
    """A fit's parameters under brms's names, with their draws.

    The columns of :func:`mixeff.as_draws_df` without ``.chain``, ``.iteration``
    and ``.draw``: ``b_<coef>``, ``sd_<group>__<term>``, ``cor_<group>__<t1>__<t2>``,
    the family's auxiliary parameters (``sigma``, ``shape``, ...) and
    ``r_<group>[<level>,<term>]``.

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    draws : {"posterior", "prior"}
        Which draws.  A fit without prior draws refuses ``"prior"`` (refit with
        ``sample_prior="yes"``); a prior-only fit answers ``"posterior"`` with its
        prior draws, as every verb does.  A spec holds one kind of draws
        (``spec.source``): ``"prior"`` needs a prior spec, ``"posterior"``
        returns the spec's draws.

    Returns
    -------
    names : list of str
    values : ndarray, ``(P, S)``
        One row per parameter, draws chain-major.
    n_chains, n_draws : int

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> names, values, n_chains, n_draws = parameter_draws(toy_spec())
    >>> names[:4], values.shape, n_chains, n_draws
    (['b_Intercept', 'b_TX', 'sd_cluster__Intercept', 'sigma'], (24, 200), 2, 100)
    """
    if draws not in ("posterior", "prior"):
        raise ValueError(f"draws={draws!r} must be 'posterior' or 'prior'")
    if isinstance(fit, ModelSpec):
        spec = fit
        if draws == "prior" and spec.source != "prior":
            raise ValueError(
                f"this spec holds {spec.source} draws, not prior draws; pass a spec built from "
                f"prior draws (source='prior') or a fit with sample_prior='yes'"
            )
    else:
        spec_of = getattr(fit, "spec", None)
        if spec_of is None:
            raise TypeError(f"parameter_draws needs a mixeff fit or ModelSpec, got {type(fit).__name__}")
        spec = spec_of(draws)
    table = as_draws_df(spec)
    names = [c for c in table.columns if not str(c).startswith(".")]
    values = np.ascontiguousarray(table[names].to_numpy(dtype=float).T)
    return names, values, int(spec.n_chains), int(spec.n_draws)
