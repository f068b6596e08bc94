"""``to_datatree``: a fit as an arviz 1.x :class:`xarray.DataTree` (posterior, data, predictive draws).

arviz-plots (``plot_ppc_dist``, ``plot_ppc_pit``) and arviz-stats read the tree directly.  The
observations' dimension is ``"__obs__"``, Bambi's name for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..model.spec import ModelSpec
from .call import Call, Fit, Seed
from .fit_checks import observed_response
from .fits import parameter_draws, resolve_spec
from .inputs import draw_selection
from .loglik import log_lik
from .pipeline import conclude, open_job

OBS = "__obs__"
"""The observations' dimension in ``observed_data``, ``constant_data`` and the predictive group."""


def to_datatree(
    fit: Fit,
    *,
    posterior_predictive: bool = False,
    log_likelihood: bool = False,
    re_formula: str | None = None,
    seed: Seed = None,
    ndraws: int | None = None,
) -> xr.DataTree:
    """The fit as an arviz :class:`xarray.DataTree`: parameter draws, data and predictive draws.

    Groups:

    - ``posterior``: the parameter draws, dims ``(chain, draw, ...)``; a fit from
      :func:`mixeff.fit` gives its own (``fit.idata["posterior"]``), a spec its parameters
      under brms's names (the columns of :func:`mixeff.as_draws_df`), one variable each.
      A prior-only fit or a spec of prior draws gives ``prior`` instead.
    - ``observed_data``: the response, a variable named after it, dim ``"__obs__"`` (left out
      when the fit names no response column).
    - ``constant_data``: the model data's numeric predictor columns, dim ``"__obs__"`` (left out
      when there are none).
    - ``posterior_predictive`` (``prior_predictive`` for prior draws), with
      ``posterior_predictive=True``: replicated responses, dims ``(chain, draw, "__obs__")``,
      the draws of ``predictions(fit, type="prediction", seed=seed)``.
    - ``log_likelihood``, with ``log_likelihood=True``: the pointwise log-likelihoods, a variable
      named after the response, dims ``(chain, draw, "__obs__")``, the draws of
      ``log_lik(fit, re_formula=re_formula)`` (the input of ``arviz_stats.loo``).

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    posterior_predictive : bool
        Add the replicated responses (not for ordinal or categorical models yet).
    log_likelihood : bool
        Add the ``log_likelihood`` group.
    re_formula : None, "NA" or str
        The group-level terms of the log-likelihood (as :func:`mixeff.log_lik`); None: all of them.
    seed : int or numpy.random.Generator, optional
        Makes the replicated responses (and the choice of ``ndraws``) reproducible.
    ndraws : int, optional
        Keep that many draws chosen at random with ``seed``, in every group, as the verbs'
        ``ndraws`` (the same number from each chain when it divides evenly).

    Returns
    -------
    xarray.DataTree

    Examples
    --------
    >>> from dataclasses import replace
    >>> import mixeff
    >>> from mixeff.model.examples import toy_spec
    >>> dt = mixeff.to_datatree(replace(toy_spec(), response="y"), posterior_predictive=True, seed=1)
    >>> sorted(dt.children)
    ['constant_data', 'observed_data', 'posterior', 'posterior_predictive']
    >>> dict(dt["posterior_predictive"]["y"].sizes)
    {'chain': 2, 'draw': 100, '__obs__': 600}
    >>> dt["posterior"]["b_TX"].dims
    ('chain', 'draw')
    """
    spec = resolve_spec(fit, fit.source if isinstance(fit, ModelSpec) else "posterior")
    group = "prior" if spec.source == "prior" else "posterior"
    if posterior_predictive:
        if spec.family.categorical:
            raise ValueError(
                f"to_datatree(posterior_predictive=True) does not yet replicate the responses of the "
                f"{spec.family.name} family (a category); leave posterior_predictive=False"
            )
        observed_response(spec, "to_datatree(posterior_predictive=True)")
    chosen = draw_selection(spec, ndraws, None, seed)
    sub = spec if chosen is None else spec.select_draws(*chosen)
    groups: dict[str, xr.Dataset] = {group: _parameters(fit, sub, group, chosen)}
    observed = _observed(spec)
    if observed is not None:
        groups["observed_data"] = observed
    constant = _constant(spec)
    if constant is not None:
        groups["constant_data"] = constant
    if posterior_predictive:
        # mixeff.posterior_predict will take this over; the draws of predictions(type="prediction"), whose
        # convergence check is left out (one row's predictive draws are mostly noise; the posterior is checked)
        target = fit if chosen is None else sub
        call = Call.of(
            "predictions",
            {
                "fit": target,
                "type": "prediction",
                "seed": seed,
                "draws": target.source if isinstance(target, ModelSpec) else "posterior",
            },
        )
        job = open_job(call)
        replicated = conclude(job, job.values(), check=False)
        values = replicated.draws.reshape(-1, sub.n_chains, sub.n_draws).transpose(1, 2, 0)
        groups[f"{group}_predictive"] = xr.Dataset(
            {spec.response: (("chain", "draw", OBS), values)},
            coords=_sample_coords(sub) | {OBS: np.arange(values.shape[-1])},
        )
    if log_likelihood:
        target = fit if chosen is None else sub
        draws = target.source if isinstance(target, ModelSpec) else group
        ll = log_lik(target, re_formula=re_formula, draws=draws)
        values = ll.draws.reshape(-1, sub.n_chains, sub.n_draws).transpose(1, 2, 0)
        groups["log_likelihood"] = xr.Dataset(
            {str(spec.response): (("chain", "draw", OBS), values)},
            coords=_sample_coords(sub) | {OBS: np.arange(values.shape[-1])},
        )
    return xr.DataTree.from_dict(groups)


def _sample_coords(spec: ModelSpec) -> dict[str, np.ndarray]:
    return {"chain": np.arange(spec.n_chains), "draw": np.arange(spec.n_draws)}


def _parameters(fit, sub: ModelSpec, group: str, chosen) -> xr.Dataset:
    """The parameter draws: the fit's own DataTree group when it has one, else brms-named columns."""
    idata = getattr(fit, "idata", None)
    if idata is not None and group in [str(n).strip("/") for n in getattr(idata, "children", {})]:
        ds = idata[group].to_dataset()
        return ds if chosen is None else _select(ds, chosen[0], sub)
    if sub.dpars or sub.family.categorical:
        what = f"the {sub.family.name} family" if sub.family.categorical else f"formulas for {list(sub.dpars)}"
        raise ValueError(
            f"to_datatree names a spec's parameters as brms does (mixeff.as_draws_df), which covers models with "
            f"one formula and per-draw auxiliary parameters; this model has {what}: pass the fit (mixeff.fit or "
            "mixeff.from_bambi), whose own posterior the tree then holds"
        )
    names, values, n_chains, n_draws = parameter_draws(sub, sub.source)
    return xr.Dataset(
        {name: (("chain", "draw"), row.reshape(n_chains, n_draws)) for name, row in zip(names, values)},
        coords=_sample_coords(sub),
    )


def _select(ds: xr.Dataset, ids: np.ndarray, sub: ModelSpec) -> xr.Dataset:
    """The draws ``ids`` (flat, chain-major) of a ``(chain, draw, ...)`` Dataset, as ``sub``'s chains."""
    total = ds.sizes["chain"] * ds.sizes["draw"]
    if int(np.max(ids)) >= total:
        raise ValueError(f"the fit's DataTree has {total} draws, fewer than its spec's")
    out = {}
    for name, var in ds.data_vars.items():
        rest = [d for d in var.dims if d not in ("chain", "draw")]
        v = var.transpose("chain", "draw", *rest)
        flat = np.asarray(v.values).reshape(total, *v.shape[2:])[ids]
        out[name] = xr.Variable(("chain", "draw", *rest), flat.reshape(sub.n_chains, sub.n_draws, *v.shape[2:]))
    coords = {k: c for k, c in ds.coords.items() if "chain" not in c.dims and "draw" not in c.dims}
    return xr.Dataset(out, coords=coords | _sample_coords(sub), attrs=ds.attrs)


def _observed(spec: ModelSpec) -> xr.Dataset | None:
    name = spec.response
    if name is None or name not in spec.data.columns:
        return None
    column = spec.data[name]
    if spec.family.categorical:  # a category: its label, or its number
        numeric = pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype)
        values = column.to_numpy() if numeric else column.astype(str).to_numpy()
    else:
        values = observed_response(spec, "to_datatree")
    return xr.Dataset({name: ((OBS,), values)}, coords={OBS: np.arange(len(values))})


def _constant(spec: ModelSpec) -> xr.Dataset | None:
    data = spec.data
    columns = [
        c
        for c in dict.fromkeys([*spec.predictors, *spec.offset_variables])
        if c in data.columns and c != spec.response and pd.api.types.is_numeric_dtype(data[c])
    ]
    if not columns:
        return None
    return xr.Dataset(
        {c: ((OBS,), data[c].to_numpy()) for c in columns},
        coords={OBS: np.arange(len(data))},
    )
