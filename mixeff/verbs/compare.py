"""``loo``, ``waic`` and ``loo_compare``: brms's predictive model comparison, by arviz-stats.

The pointwise log-likelihoods are :func:`mixeff.log_lik`'s, streamed by row chunk
(:mod:`mixeff.verbs.pointwise`); PSIS-LOO and the comparison table are arviz-stats' own (its PSIS per
chunk, :func:`arviz_stats.compare`).  arviz-stats has no WAIC,
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
from arviz_stats.utils import ELPDData, ELPDDataLOO

from ..model.spec import ModelSpec
from ..results import MixeffWarning
from .call import Fit
from .datatree import OBS, to_datatree
from .fits import resolve_spec
from .loglik import log_lik
from .pointwise import loo_pointwise, psis_loo_rows, waic_pointwise_stream


class WAICWarning(MixeffWarning):
    """Some observation's p_waic exceeds 0.4: WAIC is unreliable there (R's ``loo::waic`` warns alike)."""


class ParetoKWarning(MixeffWarning):
    """A Pareto k above arviz-stats' threshold: that observation's (left-out level's) PSIS-LOO is unreliable.

    :func:`mixeff.kfold` refits without it, exactly.
    """


def loo(
    fit: Fit,
    *,
    re_formula: str | None = None,
    group: str | None = None,
    pointwise: bool = True,
    chunk_rows: int | None = None,
    progress: bool | None = None,
    n_jobs: int | None = None,
) -> ELPDData:
    """PSIS-LOO-CV of a fit: brms's ``loo``, computed by arviz-stats' PSIS.

    Without ``group`` it answers: how well does the model predict a *new observation in the same
    clusters*?  The likelihood is the conditional one, given each draw's group-level effects
    (:func:`mixeff.log_lik` with ``re_formula``), so leaving out row i keeps its cluster's effect
    informed by the cluster's other rows.

    With ``group="g"`` it answers: how well does the model predict a *new cluster*?  Each level of
    ``g`` is left out whole, scored by its joint likelihood with its effects integrated out over the
    fitted population (:func:`mixeff.log_lik` with ``group=``), which is what leave-one-cluster-out
    needs (Merkle, Furr & Rabe-Hesketh 2019); PSIS with the conditional likelihood fails there.

    Streamed: the log-likelihood is computed by row chunk (on ``n_jobs`` threads), each chunk goes
    through arviz-stats' PSIS (the call :func:`arviz_stats.loo` makes, with the same relative
    efficiency ``r_eff`` from the posterior's ESS), and only the pointwise values are kept, so memory
    does not grow with rows × draws.  PSIS is per observation, so the result equals
    :func:`arviz_stats.loo` on the whole log-likelihood matrix, bit for bit, for any ``chunk_rows`` and
    ``n_jobs``.  arviz-stats' PSIS is a Python loop over observations (about half a millisecond per
    observation of 1000 draws) that holds the GIL: from 5·10⁷ cells it runs in ``n_jobs`` worker
    processes (joblib's loky), the same bits.

    Warns (:class:`ParetoKWarning`) when a Pareto k exceeds arviz-stats' threshold
    min(1 − 1/log10(S), 0.7) for S draws (``res.good_k``): those observations' (levels') estimates
    are unreliable; use :func:`mixeff.kfold` (exact refits) for them.

    Parameters
    ----------
    fit : MixedFit or ModelSpec
        A fit with an observed response (the model's data).
    re_formula : None, "NA" or str
        The group-level terms of the likelihood, as :func:`mixeff.log_lik`; None: all of them.
    group : str, optional
        A grouping factor: leave-one-cluster-out, one pointwise value per level of it.
    pointwise : bool
        Keep the pointwise ``elpd_i``, ``pareto_k`` and ``p_loo_i`` (needed by :func:`loo_compare`).
    chunk_rows, progress, n_jobs
        Engine chunk size (rows), progress bar and threads (see :func:`mixeff.predictions`); the values
        do not depend on them.  With ``group`` the levels' likelihoods are integrated at once and these
        do not apply.

    Returns
    -------
    arviz_stats.ELPDDataLOO
        As :func:`arviz_stats.loo` returns it: ``elpd``, ``se``, ``p`` (p_loo), ``n_samples``,
        ``n_data_points``, ``scale`` ("log"), ``warning``, ``good_k``, ``elpd_i``, ``pareto_k``,
        ``approx_posterior`` (False); also ``p_loo_i`` (arviz-stats' ``loo`` leaves it None).
        ``log_weights`` is None: the smoothed weights are rows × draws, which streaming does not keep.

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
    posterior = _posterior(fit)
    if group is not None:
        if re_formula is not None:
            raise ValueError("loo(group=...) integrates that factor's effects; re_formula does not apply")
        clusters = log_lik(fit, group=group)
        levels = clusters.grid[group].astype(str).to_numpy()
        n_samples = clusters.n_chains * clusters.n_draws
        r_eff = relative_efficiency(posterior, n_samples)
        values = clusters.draws.reshape(len(levels), clusters.n_chains, clusters.n_draws)
        elpd_i, pareto_k, p_loo_i = psis_loo_rows(values, r_eff)
        return _elpd_loo(elpd_i, pareto_k, p_loo_i, group, levels, n_samples, pointwise, f"levels of {group!r}", group)
    spec = resolve_spec(fit, fit.source if isinstance(fit, ModelSpec) else "posterior")
    r_eff = relative_efficiency(posterior, spec.n_samples)
    rows = loo_pointwise(
        fit, re_formula=re_formula, r_eff=r_eff, chunk_rows=chunk_rows, progress=progress, n_jobs=n_jobs
    )
    v = rows.values
    n = len(v["elpd_i"])
    return _elpd_loo(
        v["elpd_i"], v["pareto_k"], v["p_loo_i"], OBS, np.arange(n), spec.n_samples, pointwise, "observations", None
    )


def relative_efficiency(posterior: xr.Dataset, n_samples: int) -> float:
    """arviz-stats' default ``r_eff`` of :func:`arviz_stats.loo`.

    The posterior's mean-ESS, averaged over all its variables, divided by the draws; 1 with one chain.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> post = xr.Dataset({"a": (("chain", "draw"), np.random.default_rng(1).normal(size=(2, 400)))})
    >>> 0.8 < relative_efficiency(post, 800) < 1.2
    True
    """
    if posterior.sizes["chain"] == 1:
        return 1.0
    ess = posterior.azstats.ess(method="mean")
    return float(np.hstack([ess[v].values.flatten() for v in ess.data_vars]).mean() / n_samples)


def _posterior(fit: Fit) -> xr.Dataset:
    """The fit's parameter draws (the tree's posterior, or prior for a spec of prior draws)."""
    tree = to_datatree(fit)
    name = "posterior" if "posterior" in tree.children else "prior"
    return tree[name].to_dataset()


def _elpd_loo(
    elpd_i: np.ndarray,
    pareto_k: np.ndarray,
    p_loo_i: np.ndarray,
    dim: str,
    coords: np.ndarray,
    n_samples: int,
    pointwise: bool,
    what: str,
    group: str | None,
) -> ELPDDataLOO:
    """arviz-stats' ``ELPDDataLOO`` from the pointwise values, its totals by arviz-stats' ``loo_summary``."""
    pointwise_da = {
        name: xr.DataArray(values, dims=(dim,), coords={dim: coords}, name=name)
        for name, values in (("elpd_i", elpd_i), ("pareto_k", pareto_k), ("p_loo_i", p_loo_i))
    }
    elpd, se, p, _ = pointwise_da["elpd_i"].azstats.loo_summary(pointwise_da["p_loo_i"])
    good_k = min(1 - 1 / np.log10(n_samples), 0.7) if n_samples > 1 else 0.7
    high = pareto_k > good_k
    warn = bool(np.any(high))
    if warn:
        refit = f"mixeff.kfold(fit, group={group!r})" if group is not None else "mixeff.kfold"
        warnings.warn(
            f"Pareto k above {good_k:.2f} (arviz-stats' threshold for {n_samples} draws) for {int(high.sum())} of "
            f"{high.size} {what} (largest {float(np.max(pareto_k)):.2f}): their PSIS-LOO estimates are unreliable, "
            f"the posterior without them is too far from the full one; use {refit} (exact refits) "
            "(res.pareto_k names them)",
            ParetoKWarning,
            stacklevel=3,
        )
    return ELPDDataLOO(
        elpd=elpd,
        se=se,
        p=p,
        n_samples=n_samples,
        n_data_points=int(elpd_i.size),
        scale="log",
        warning=warn,
        good_k=good_k,
        elpd_i=pointwise_da["elpd_i"] if pointwise else None,
        pareto_k=pointwise_da["pareto_k"] if pointwise else None,
        approx_posterior=False,
        log_weights=None,
        p_loo_i=pointwise_da["p_loo_i"] if pointwise else None,
    )


def waic(
    fit: Fit,
    *,
    re_formula: str | None = None,
    chunk_rows: int | None = None,
    progress: bool | None = None,
    n_jobs: int | None = None,
) -> ELPDData:
    """WAIC of a fit: brms's ``waic``, computed in numpy (arviz-stats has none) as R's ``loo::waic``.

    With ll[i, s] = :func:`mixeff.log_lik` (same conditional likelihood as :func:`loo`):
    elpd_waic_i = log mean_s exp(ll[i, s]) − var_s(ll[i, s]) (the variance with n − 1),
    p_waic = Σ_i var_s(ll[i, s]), elpd_waic = Σ_i elpd_waic_i, se = sqrt(n · var_i(elpd_waic_i)).
    Warns (:class:`WAICWarning`) when some p_waic_i exceeds 0.4, as R does; prefer :func:`loo`.
    Streamed by row chunk as :func:`loo` (the pointwise values do not depend on ``chunk_rows`` or
    ``n_jobs``).

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    re_formula : None, "NA" or str
        The group-level terms of the likelihood, as :func:`mixeff.log_lik`.
    chunk_rows, progress, n_jobs
        Engine chunk size (rows), progress bar and threads (see :func:`mixeff.predictions`).

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
    rows = waic_pointwise_stream(
        fit, re_formula=re_formula, chunk_rows=chunk_rows, progress=progress, n_jobs=n_jobs, reduce=waic_pointwise
    )
    elpd_i, p_i = rows.values["elpd_i"], rows.values["p_i"]
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
        n_samples=rows.spec.n_samples,
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
