"""``loo``, ``waic`` and ``loo_compare``: brms's predictive model comparison, by arviz-stats.

The pointwise log-likelihoods come from :func:`mixeff.log_lik` (through
:func:`mixeff.to_datatree`'s ``log_likelihood`` group); PSIS-LOO and the comparison table are
arviz-stats' own (:func:`arviz_stats.loo`, :func:`arviz_stats.compare`).  arviz-stats has no WAIC,
so :func:`waic` computes it here, with R's ``loo::waic`` formulas.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping

import arviz_stats
import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.utils import ELPDData

from ..results import MixeffWarning
from .call import Fit
from .datatree import OBS, to_datatree
from .loglik import log_lik


class WAICWarning(MixeffWarning):
    """Some observation's p_waic exceeds 0.4: WAIC is unreliable there (R's ``loo::waic`` warns alike)."""


def loo(fit: Fit, *, re_formula: str | None = None, group: str | None = None, pointwise: bool = True) -> ELPDData:
    """PSIS-LOO-CV of a fit: brms's ``loo``, computed by :func:`arviz_stats.loo`.

    Without ``group`` it answers: how well does the model predict a *new observation in the same
    clusters*?  The likelihood is the conditional one, given each draw's group-level effects
    (:func:`mixeff.log_lik` with ``re_formula``), so leaving out row i keeps its cluster's effect
    informed by the cluster's other rows.

    With ``group="g"`` it answers: how well does the model predict a *new cluster*?  Each level of
    ``g`` is left out whole, scored by its joint likelihood with its effects integrated out over the
    fitted population (:func:`mixeff.log_lik` with ``group=``), which is what leave-one-cluster-out
    needs (Merkle, Furr & Rabe-Hesketh 2019); PSIS with the conditional likelihood fails there.

    arviz-stats warns (``UserWarning``, passed through) when a Pareto k exceeds its threshold,
    min(1 − 1/log10(S), 0.7) for S draws (``res.good_k``); those observations' estimates are
    unreliable: refit leaving out the observations with high k, or use K-fold cross-validation.

    Parameters
    ----------
    fit : MixedFit or ModelSpec
        A fit with an observed response (the model's data).
    re_formula : None, "NA" or str
        The group-level terms of the likelihood, as :func:`mixeff.log_lik`; None: all of them.
    group : str, optional
        A grouping factor: leave-one-cluster-out, one pointwise value per level of it.
    pointwise : bool
        Keep the pointwise ``elpd_i`` and ``pareto_k`` (needed by :func:`loo_compare`).

    Returns
    -------
    arviz_stats.ELPDDataLOO
        ``elpd``, ``se``, ``p`` (p_loo), ``pareto_k``, ``elpd_i``, ...

    Examples
    --------
    >>> import mixeff, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"x": rng.normal(size=60), "g": np.repeat(["a", "b", "c"], 20)})
    >>> d["y"] = 1 + 0.5 * d.x + rng.normal(size=60)
    >>> draws = pd.DataFrame({"b_Intercept": rng.normal(1, 0.1, 1000), "b_x": rng.normal(0.5, 0.1, 1000),
    ...                       "sigma": rng.gamma(400, 1 / 400, 1000), "sd_g__Intercept": np.full(1000, 0.1)})
    >>> for lev in "abc":
    ...     draws[f"r_g[{lev},Intercept]"] = rng.normal(0, 0.05, 1000)
    >>> spec = mixeff.from_brms_draws(draws, formula="y ~ x + (1 | g)", data=d, family="gaussian")
    >>> res = mixeff.loo(spec)
    >>> int(res.n_data_points), bool(res.elpd < 0)
    (60, True)
    """
    if group is not None:
        clusters = log_lik(fit, group=group)
        values = clusters.draws.reshape(len(clusters.grid), clusters.n_chains, clusters.n_draws).transpose(1, 2, 0)
        levels = clusters.grid[group].astype(str).to_numpy()
        data = xr.DataArray(values, dims=("chain", "draw", group), coords={group: levels})
        posterior = to_datatree(fit)["posterior"].to_dataset()  # arviz-stats reads chains and draws there
        # the variable is not named after the factor: that name is its dimension's coordinate
        tree = xr.DataTree.from_dict({"posterior": posterior, "log_likelihood": xr.Dataset({"log_lik": data})})
        return arviz_stats.loo(tree, pointwise=pointwise, var_name="log_lik")
    tree = to_datatree(fit, log_likelihood=True, re_formula=re_formula)
    var_name = str(next(iter(tree["log_likelihood"].data_vars)))
    return arviz_stats.loo(tree, pointwise=pointwise, var_name=var_name)


def waic(fit: Fit, *, re_formula: str | None = None) -> ELPDData:
    """WAIC of a fit: brms's ``waic``, computed in numpy (arviz-stats has none) as R's ``loo::waic``.

    With ll[i, s] = :func:`mixeff.log_lik` (same conditional likelihood as :func:`loo`):
    elpd_waic_i = log mean_s exp(ll[i, s]) − var_s(ll[i, s]) (the variance with n − 1),
    p_waic = Σ_i var_s(ll[i, s]), elpd_waic = Σ_i elpd_waic_i, se = sqrt(n · var_i(elpd_waic_i)).
    Warns (:class:`WAICWarning`) when some p_waic_i exceeds 0.4, as R does; prefer :func:`loo`.

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    re_formula : None, "NA" or str
        The group-level terms of the likelihood, as :func:`mixeff.log_lik`.

    Returns
    -------
    arviz_stats.utils.ELPDData
        A bare ``ELPDData`` (``kind`` None): ``elpd`` (elpd_waic), ``se``, ``p`` (p_waic),
        ``elpd_i`` (dim ``"__obs__"``); ``pareto_k`` is None.  :func:`loo_compare` accepts it.

    Examples
    --------
    >>> import mixeff, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"x": rng.normal(size=60)})
    >>> d["y"] = 1 + 0.5 * d.x + rng.normal(size=60)
    >>> draws = pd.DataFrame({"b_Intercept": rng.normal(1, 0.1, 500), "b_x": rng.normal(0.5, 0.1, 500),
    ...                       "sigma": rng.gamma(400, 1 / 400, 500)})
    >>> w = mixeff.waic(mixeff.from_brms_draws(draws, formula="y ~ x", data=d, family="gaussian"))
    >>> int(w.n_data_points), bool(0 < w.p < 10)
    (60, True)
    """
    ll = np.asarray(log_lik(fit, re_formula=re_formula).draws, dtype=float)
    elpd_i, p_i = waic_pointwise(ll)
    n = elpd_i.size
    warn = bool(np.any(p_i > 0.4))
    if warn:
        warnings.warn(
            f"{int(np.sum(p_i > 0.4))} of {n} observations have p_waic above 0.4: WAIC is unreliable; use mixeff.loo",
            WAICWarning,
            stacklevel=2,
        )
    return ELPDData(
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(n * np.var(elpd_i, ddof=1))) if n > 1 else float("nan"),
        p=float(p_i.sum()),
        n_samples=ll.shape[1],
        n_data_points=n,
        scale="log",
        warning=warn,
        good_k=0.7,
        elpd_i=xr.DataArray(elpd_i, dims=(OBS,), coords={OBS: np.arange(n)}),
    )


def waic_pointwise(ll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(elpd_waic_i, p_waic_i)`` of a ``(rows, draws)`` log-likelihood matrix (R's ``loo::waic``).

    Examples
    --------
    >>> import numpy as np
    >>> e, p = waic_pointwise(np.log([[0.5, 0.5], [0.2, 0.4]]))
    >>> np.round(e, 4).tolist(), np.round(p, 4).tolist()
    ([-0.6931, -1.4442], [0.0, 0.2402])
    """
    ll = np.asarray(ll, dtype=float)
    top = ll.max(axis=1, keepdims=True)
    lppd = top[:, 0] + np.log(np.mean(np.exp(ll - top), axis=1))
    p_i = np.var(ll, axis=1, ddof=1)
    return lppd - p_i, p_i


def loo_compare(
    *fits: Fit | ELPDData | Mapping[str, Fit | ELPDData],
    re_formula: str | None = None,
) -> pd.DataFrame:
    """Compare fits by their ELPD, best first: brms's ``loo_compare``, by :func:`arviz_stats.compare`.

    Each fit is scored with :func:`loo` (an :class:`ELPDData` from :func:`loo`, :func:`waic` or
    :func:`mixeff.kfold` is used as given; arviz-stats warns when LOO and k-fold results are mixed).
    As in brms, the rows run best first, ``elpd_diff`` is each model's ELPD minus
    the best's (0 for the best, negative for the others) and ``se_diff`` its standard error as R's
    ``loo`` computes it, sqrt(n · var_i(elpd_i − elpd_best,i)) with the n − 1 variance (arviz-stats'
    ``dse``, dropped here, uses n: smaller by sqrt((n − 1)/n)); the other columns are arviz-stats'
    (``elpd``, ``se``, ``p``, ``p_worse``, ``weight`` by stacking, ...), unrounded.

    Parameters
    ----------
    *fits : MixedFit, ModelSpec, ELPDData, or one dict of name → any of those
        Positional fits are named ``"model1"``, ``"model2"``, ... (brms names them by the arguments).
    re_formula : None, "NA" or str
        The group-level terms of the likelihood, for the fits scored here.

    Returns
    -------
    pandas.DataFrame
        One row per model, indexed by name, columns ``elpd_diff``, ``se_diff`` first.

    Examples
    --------
    >>> import mixeff, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"x": rng.normal(size=80)})
    >>> d["y"] = 1 + 0.8 * d.x + rng.normal(size=80)
    >>> good = pd.DataFrame({"b_Intercept": rng.normal(1, 0.1, 500), "b_x": rng.normal(0.8, 0.1, 500),
    ...                      "sigma": rng.gamma(400, 1 / 400, 500)})
    >>> bad = good.assign(b_x=0.0)
    >>> specs = {n: mixeff.from_brms_draws(v, formula="y ~ x", data=d, family="gaussian")
    ...          for n, v in {"bad": bad, "good": good}.items()}
    >>> table = mixeff.loo_compare(specs)
    >>> list(table.index), float(table["elpd_diff"].iloc[0]), bool(table["elpd_diff"].iloc[1] < 0)
    (['good', 'bad'], 0.0, True)
    """
    if len(fits) == 1 and isinstance(fits[0], Mapping):
        named = dict(fits[0])
    elif any(isinstance(f, Mapping) for f in fits):
        raise TypeError("loo_compare takes fits as arguments or one dict of name → fit, not both")
    else:
        named = {f"model{i + 1}": f for i, f in enumerate(fits)}
    if len(named) < 2:
        raise ValueError(f"loo_compare needs at least two models; got {len(named)}")
    scored: dict[str, ELPDData] = {}
    for name, f in named.items():
        if isinstance(f, ELPDData):
            if f.elpd_i is None:
                raise ValueError(f"{name!r}: its ELPDData has no pointwise values; compute it with pointwise=True")
            scored[str(name)] = f
        else:
            scored[str(name)] = loo(f, re_formula=re_formula)  # type: ignore[arg-type]
    # arviz-stats deep-copies its inputs: kfold's saved refits would be rebuilt for nothing
    scored = {
        name: dataclasses.replace(e, fold_fits=None) if getattr(e, "fold_fits", None) else e
        for name, e in scored.items()
    }
    table = arviz_stats.compare(scored, round_to="none")
    # brms (R's loo) takes the difference's sd with n − 1, arviz-stats' dse with n
    best = np.asarray(scored[str(table.index[0])].elpd_i).reshape(-1)
    se_diff = []
    for name in table.index:
        diff = np.asarray(scored[str(name)].elpd_i).reshape(-1) - best
        se_diff.append(float(np.sqrt(diff.size * np.var(diff, ddof=1))) if diff.size > 1 else 0.0)
    table = table.drop(columns="dse").assign(se_diff=se_diff)
    first = ["elpd_diff", "se_diff"]
    return table[first + [c for c in table.columns if c not in first]]
