"""A fit's draws as brms writes them: the inverse of :func:`~mixeff.model.adapters.from_brms_draws`.

``posterior::as_draws_df(fit)`` in R gives one row per draw and one column per
parameter, named ``b_<coef>``, ``sd_<group>__<term>``, ``cor_<group>__<t1>__<t2>``,
the family's auxiliary parameters (``sigma``, ``shape``, ``phi``, ``nu``) and
``r_<group>[<level>,<term>]``, then ``.chain``, ``.iteration`` and ``.draw``.
:func:`as_draws_df` writes any mixeff spec that way, so draws move between R and
Python in both directions and ``from_brms_draws(as_draws_df(fit), ...)`` predicts
exactly what ``fit`` does.
"""

from __future__ import annotations

from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

from .families import brms_aux_name
from .formula import brms_name
from .spec import FitLike, GroupFactor, ModelSpec


def as_draws_df(fit: FitLike | ModelSpec, draws: Literal["posterior", "prior"] | None = None) -> pd.DataFrame:
    """The draws of a fit (or spec) as a brms ``as_draws_df`` table.

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    draws : {"posterior", "prior"}, optional
        Which draws of a fit (default: the posterior); a spec holds one kind, its own by default.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> table = as_draws_df(toy_spec())
    >>> table.columns[:4].tolist(), table.shape
    (['b_Intercept', 'b_TX', 'sd_cluster__Intercept', 'sigma'], (200, 27))
    >>> table[[".chain", ".iteration", ".draw"]].iloc[[0, -1]].to_numpy().tolist()
    [[1, 1, 1], [2, 100, 200]]
    """
    if draws is None:  # a spec's own draws; a fit's posterior
        draws = fit.source if isinstance(fit, ModelSpec) else "posterior"
    if draws not in ("posterior", "prior"):
        raise ValueError(f"draws={draws!r} must be 'posterior' or 'prior'")
    spec = fit if isinstance(fit, ModelSpec) else _spec_of(fit, draws)
    if spec.source != draws and (isinstance(fit, ModelSpec) or draws == "prior"):
        raise ValueError(
            f"draws={draws!r}, but this {'spec' if isinstance(fit, ModelSpec) else 'fit'} gives {spec.source} "
            f"draws; pass draws={spec.source!r}, or a spec of {draws} draws (from_brms_draws(..., source={draws!r}))"
        )
    if spec.dpars or spec.family.categorical:
        what = f"the {spec.family.name} family" if spec.family.categorical else f"formulas for {list(spec.dpars)}"
        raise ValueError(
            f"as_draws_df writes models with one formula and per-draw auxiliary parameters; this "
            f"model has {what}: read its draws from the fit's DataTree (fit.idata) instead"
        )
    columns: dict[str, np.ndarray] = {f"b_{brms_name(n)}": spec.beta[:, j] for j, n in enumerate(spec.beta_names)}
    for g in spec.groups.values():
        columns.update(_hyper_columns(g))
    columns.update({_brms_aux(spec, a): _brms_aux_values(a, v, spec.n_samples) for a, v in spec.aux.items()})
    for g in spec.groups.values():
        columns.update(_level_columns(g))
    table = pd.DataFrame({name: np.asarray(v, dtype=float) for name, v in columns.items()})
    table[".chain"] = np.repeat(np.arange(1, spec.n_chains + 1), spec.n_draws)
    table[".iteration"] = np.tile(np.arange(1, spec.n_draws + 1), spec.n_chains)
    table[".draw"] = np.arange(1, spec.n_samples + 1)
    return table


def _brms_aux(spec: ModelSpec, name: str) -> str:
    """Brms's column of an auxiliary parameter: ``shape`` for alpha, ``zi``/``hu`` for psi."""
    if name == "psi":
        return "hu" if spec.family.name.startswith("hurdle") else "zi"
    return brms_aux_name(name)


def _brms_aux_values(name: str, values: np.ndarray, n: int) -> np.ndarray:
    values = np.broadcast_to(values, (n,))
    return 1.0 - values if name == "psi" else values  # brms's zi and hu are the probabilities of a zero


def _spec_of(fit, draws: str) -> ModelSpec:
    spec_of = getattr(fit, "spec", None)
    if spec_of is None:
        raise TypeError(f"as_draws_df needs a mixeff fit or ModelSpec, got {type(fit).__name__}")
    return spec_of(draws)


def _factor(g: GroupFactor) -> str:
    return ":".join(g.columns)


def _terms(g: GroupFactor) -> list[str]:
    return [brms_name(t) for t in g.terms]


def _hyper_columns(g: GroupFactor) -> dict[str, np.ndarray]:
    """``sd_`` columns of every term, then ``cor_`` columns of every correlated pair (brms's order).

    Terms of different bars (``(1 | g) + (0 + x | g)``) have correlation 0 in every draw: no parameter,
    so no column, as in brms.
    """
    factor, terms = _factor(g), _terms(g)
    out = {f"sd_{factor}__{t}": g.sd[:, k] for k, t in enumerate(terms)}
    if g.cor is not None:
        for i, j in combinations(range(len(terms)), 2):
            if np.any(g.cor[:, i, j] != 0):
                out[f"cor_{factor}__{terms[i]}__{terms[j]}"] = g.cor[:, i, j]
    return out


def _level_columns(g: GroupFactor) -> dict[str, np.ndarray]:
    """``r_`` columns, level by level; an interaction factor's levels joined with ``_`` as brms does."""
    factor, terms = _factor(g), _terms(g)
    levels = [str(lev).replace(g.sep, "_") if len(g.columns) > 1 else str(lev) for lev in g.levels]
    return {f"r_{factor}[{lev},{t}]": g.b[:, i, k] for i, lev in enumerate(levels) for k, t in enumerate(terms)}
