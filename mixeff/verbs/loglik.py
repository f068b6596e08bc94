"""``log_lik``: the log-likelihood of each observation at each draw, as brms's ``log_lik``.

The engine computes it (``type="log_lik"``): the rows' observed responses travel with their design
(:class:`~mixeff.engine.design.Design`'s ``y``, or ``category`` for ordinal and categorical families),
and each row chunk evaluates the family's :attr:`~mixeff.model.families.Family.log_density` (for
category families :func:`~mixeff.engine.response.category_log_probability`) at the chunk's η, mean
parameter and auxiliary parameters.  So it is streamed by row chunk, threaded, and the same bit for bit
for any ``n_jobs`` and ``chunk_rows``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine.design import category_codes
from ..engine.integrated_likelihood import integrated_log_lik
from ..model.families import SUPPORTS, outside_support
from ..model.spec import ModelSpec
from ..records import IntegratedLikelihood
from ..results import Result, require_finite
from .call import Call, DrawIds, Draws, Fit, NewLevelsHow, Seed
from .credentials import check_convergence
from .fits import resolve_spec
from .inputs import choose_draws
from .run import execute


def log_lik(
    fit: Fit,
    newdata: pd.DataFrame | None = None,
    *,
    group: str | None = None,
    re_formula: str | None = None,
    allow_new_levels: bool = False,
    sample_new_levels: NewLevelsHow = "uncertainty",
    draws: Draws = "posterior",
    ndraws: int | None = None,
    draw_ids: DrawIds = None,
    seed: Seed = None,
    chunk_rows: int | None = None,
    progress: bool | None = None,
    n_jobs: int | None = None,
) -> Result:
    """The log-likelihood of each row's observed response at each draw: brms's ``log_lik``.

    For row i and draw s, log p(y_i | θ_s): the family's log-density (log-mass for counts) at the
    observed y_i, given the draw's mean parameter and auxiliary parameters in that row; for ordinal and
    categorical families the log-probability of the row's own category.  The input of PSIS-LOO and WAIC
    (e.g. ``arviz.loo`` on ``result.draws.T`` reshaped to chains × draws × rows).

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    newdata : DataFrame, optional
        Rows with their observed response (the column ``spec.response``) and predictors; the model's
        data by default.  Binomial families also need the trials.
    group : str, optional
        A grouping factor of the model: one row per level of it (a grid with that column) instead of per
        row, the log of the level's joint likelihood with the level's effects integrated out over
        N(0, Σ) of each draw, the other factors at their fitted levels (the input of
        leave-one-cluster-out LOO).  In closed form for gaussian and lognormal (identity link); by
        adaptive Gauss–Hermite quadrature (30, 18², 12³ nodes for 1, 2, 3 terms) for bernoulli and
        binomial (logit) and poisson (log).  ``result.integrated_likelihood`` records the method, nodes
        and error estimate.  ``re_formula``, new levels and the engine options do not apply.
    re_formula : None, "NA" or str
        None: every group-level term (brms's default); ``"NA"``: none (random effects 0);
        ``"~(1|g)"``: those terms only.
    allow_new_levels, sample_new_levels, seed
        New levels raise unless allowed; then their effects are simulated as in brms
        (``"uncertainty"``, ``"gaussian"`` or ``"old_levels"``; ``seed`` makes that reproducible).
    draws : {"posterior", "prior"}
        Which draws of the fit to use.
    ndraws, draw_ids
        ``ndraws`` draws chosen at random with ``seed``, or the draws at positions ``draw_ids`` (0-based).
    chunk_rows, progress, n_jobs
        Engine chunk size (rows), progress bar, and threads (see :func:`mixeff.predictions`); the values
        do not depend on them.

    Returns
    -------
    Result
        ``kind="log_lik"``, ``type="log_lik"``: ``.draws`` is ``(rows, draws)`` (brms's ``log_lik`` is
        its transpose), one row per newdata row, labelled by the newdata rows.

    Examples
    --------
    >>> from dataclasses import replace
    >>> import mixeff
    >>> from mixeff.model.examples import toy_spec
    >>> import warnings
    >>> spec = replace(toy_spec(), response="y")
    >>> with warnings.catch_warnings():  # the toy's made-up draws are too few for a trustworthy R-hat
    ...     warnings.simplefilter("ignore", mixeff.ConvergenceWarning)
    ...     ll = mixeff.log_lik(spec)
    >>> ll.draws.shape == (len(spec.data), spec.n_samples), ll.kind
    (True, 'log_lik')
    """
    if newdata is not None and not isinstance(newdata, pd.DataFrame):
        raise TypeError(
            f"newdata must be a pandas DataFrame holding the observed response, or None (the model's data); got "
            f"{type(newdata).__name__}"
        )
    spec = resolve_spec(fit, draws)
    check_response(spec, spec.data if newdata is None else newdata, "the model's data" if newdata is None else None)
    if group is not None:
        if re_formula is not None:
            raise ValueError("log_lik(group=...) integrates that factor's effects; re_formula does not apply")
        frame = spec.data if newdata is None else newdata
        return _level_log_lik(fit, spec, frame, group, ndraws, draw_ids, seed, n_jobs)
    call = Call.of(
        "log_lik",
        {
            "fit": fit,
            "newdata": newdata,
            "type": "log_lik",
            "re_formula": re_formula,
            "allow_new_levels": allow_new_levels,
            "sample_new_levels": sample_new_levels,
            "seed": seed,
            "draws": draws,
            "ndraws": ndraws,
            "draw_ids": draw_ids,
            "chunk_rows": chunk_rows,
            "progress": progress,
            "n_jobs": n_jobs,
        },
    )
    result = execute(call)
    assert isinstance(result, Result)  # newdata is a pandas DataFrame: never the dask path
    return result


def _level_log_lik(
    fit: Fit,
    spec: ModelSpec,
    frame: pd.DataFrame,
    group: str,
    ndraws: int | None,
    draw_ids: DrawIds,
    seed: Seed,
    n_jobs: int | None = None,
) -> Result:
    """``log_lik(group=...)``: one row per level of ``group``, its effects integrated out."""
    if not isinstance(group, str) or group not in spec.groups:
        raise ValueError(
            f"log_lik: group={group!r} is not a grouping factor of the model; its factors are {list(spec.groups)}"
        )
    spec = choose_draws(spec, ndraws, draw_ids, seed)
    levels = integrated_log_lik(spec, frame, group, n_jobs)
    values = require_finite(
        levels.values, "log_lik(group=...)", "a level's likelihood underflowed or the integration failed"
    )
    result = log_lik_result(pd.DataFrame({group: levels.labels}), values, spec).replace(
        integrated_likelihood=IntegratedLikelihood(
            group, levels.method, levels.nodes, levels.error_bound, levels.other_factors
        )
    )
    check_convergence(fit, result)
    return result


def log_lik_result(grid: pd.DataFrame, values: np.ndarray, spec: ModelSpec, call: Call | None = None) -> Result:
    """A ``log_lik`` :class:`~mixeff.results.Result`: ``(rows, S)`` values on ``grid``, from ``spec``'s draws."""
    return Result(
        grid,
        values,
        spec.n_chains,
        spec.n_draws,
        kind="log_lik",
        type="log_lik",
        source=spec.source,
        selection=spec.selection,
        response=spec.response,
        call=call,
    )


def check_response(spec: ModelSpec, frame: pd.DataFrame, where: str | None = None) -> None:
    """Refuse a frame whose observed response is missing, not finite, or one the family cannot produce."""
    where = where or "newdata"
    name, family = spec.response, spec.family
    if name is None or name not in frame.columns:
        raise ValueError(
            "log_lik needs the observed response, but "
            + ("this fit names no response column" if name is None else f"{where} has no column {name!r}")
            + ": pass newdata with the response column"
            + ("" if name is not None else " and a fit that names it (dataclasses.replace(spec, response='y'))")
        )
    column = frame[name]
    if family.categorical:
        codes = category_codes(spec, column)
        bad = codes < 0
        if bad.any():
            values = pd.unique(column[bad].astype(object))[:5].tolist()
            raise ValueError(
                f"log_lik: the response column {name!r} of {where} has value(s) {values} that are not among the "
                f"model's categories {list(spec.categories)}"
            )
        return
    if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
        raise ValueError(f"log_lik: the response column {name!r} of {where} holds {column.dtype} values, not numbers")
    y = column.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(
            f"log_lik: the response column {name!r} of {where} has {int((~np.isfinite(y)).sum())} missing or "
            "infinite value(s); drop those rows"
        )
    outside = outside_support(family, y)
    if outside.any():
        raise ValueError(
            f"log_lik: the {family.name} family's response is {SUPPORTS[family.support][0]}; the response column "
            f"{name!r} of {where} has {y[outside][:5].tolist()}"
        )
    if family.needs_trials and isinstance(spec.trials, str) and spec.trials in frame.columns:
        trials = frame[spec.trials].to_numpy(dtype=float)
        if np.any(y > trials) or np.any(trials != np.round(trials)):
            raise ValueError(
                f"log_lik: the response column {name!r} of {where} must be whole counts out of the trials "
                f"{spec.trials!r} (0 <= y <= trials)"
            )
