"""``bayes_R2``: brms's Bayesian R², draw by draw, on the model's data.

Gelman, Goodrich, Gabry and Vehtari (2019), as brms computes it: for each draw,
R² = var(ŷ) / (var(ŷ) + var(y − ŷ)), ŷ the expected value of the response in every row
of the model's data (``posterior_epred``) and var the sample variance over rows
(n − 1 in the denominator, as ``matrixStats::rowVars``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.spec import ModelSpec
from ..results import Result, require_finite
from .call import Call, DrawIds, Draws, Fit, Seed
from .credentials import check_convergence
from .fits import resolve_spec
from .pipeline import conclude, open_job

R2_CHUNK = 1024
"""Draws per block of residuals: besides ŷ, ``bayes_R2`` holds one ``(rows, R2_CHUNK)`` block at a time."""


def bayes_R2(
    fit: Fit,
    *,
    re_formula: str | None = None,
    draws: Draws = "posterior",
    ndraws: int | None = None,
    draw_ids: DrawIds = None,
    seed: Seed = None,
    conf_level: float = 0.95,
    estimator: str = "median",
    interval: str = "eti",
) -> Result:
    """Bayesian R² per draw, as brms's ``bayes_R2``: var(ŷ) / (var(ŷ) + var(y − ŷ)).

    ŷ is the expected value of the response (``predictions(fit, type="response")``, brms's
    ``posterior_epred``) in every row of the model's data, y the observed response, and var the
    sample variance over rows (n − 1).  A binomial model's y are counts and ŷ expected counts,
    as in brms.

    Parameters
    ----------
    fit : MixedFit or ModelSpec
        A fit whose data hold the observed response (``spec.response``).
    re_formula : None, "NA" or str
        None: ŷ with every group-level term (the conditional R²); ``"NA"``: the population-level
        part only, random effects 0 (the marginal R² that mixed-model papers report next to the
        conditional one); ``"~(1|g)"``: those terms only.
    draws : {"posterior", "prior"}
        Which draws of the fit.
    ndraws, draw_ids, seed
        Use ``ndraws`` draws chosen at random with ``seed``, or the draws at positions ``draw_ids``,
        as in :func:`mixeff.predictions`.
    conf_level, estimator, interval
        Summary: 95% equal-tailed interval around the median by default.

    Returns
    -------
    Result
        One row (``term`` ``"R2"``, brms's row name), kind ``"bayes_R2"``: ``.summary``, ``.draws``
        (``(1, S)``) and ``.summarise(diagnostics=True)``.

    Notes
    -----
    Memory: the ``(rows, draws)`` expected values of the model's data, plus one block of
    residuals of ``R2_CHUNK`` draws at a time.  Ordinal and categorical models are refused (their
    response is a category; brms refuses categorical models and warns for ordinal ones).

    Examples
    --------
    >>> from dataclasses import replace
    >>> import mixeff
    >>> from mixeff.model.examples import toy_spec
    >>> spec = replace(toy_spec(), response="y")
    >>> r2 = mixeff.bayes_R2(spec)
    >>> r2.grid["term"].tolist(), r2.draws.shape, r2.kind
    (['R2'], (1, 200), 'bayes_R2')
    >>> bool(0 < r2.summary["estimate"].iloc[0] < 1)
    True
    >>> marginal = mixeff.bayes_R2(spec, re_formula="NA")
    >>> bool(marginal.summary["estimate"].iloc[0] < r2.summary["estimate"].iloc[0])
    True
    """
    observed_response(resolve_spec(fit, draws), "bayes_R2")
    call = Call.of(
        "predictions",
        {
            "fit": fit,
            "type": "response",
            "re_formula": re_formula,
            "draws": draws,
            "ndraws": ndraws,
            "draw_ids": draw_ids,
            "seed": seed,
            "conf_level": conf_level,
            "estimator": estimator,
            "interval": interval,
        },
    )
    job = open_job(call)
    fitted = conclude(job, job.values(), check=False)  # ŷ: (rows, S)
    y = observed_response(job.spec, "bayes_R2")
    r2 = require_finite(
        r2_draws(y, fitted.draws)[None, :],
        "bayes_R2",
        "the expected values do not vary over the rows in some draws (var(ŷ) + var(y − ŷ) is 0)",
    )
    result = Result(
        pd.DataFrame({"term": ["R2"]}),
        r2,
        fitted.n_chains,
        fitted.n_draws,
        kind="bayes_R2",
        type="response",
        source=fitted.source,
        conf_level=conf_level,
        estimator=estimator,
        interval=interval,
        selection=fitted.selection,
        response=fitted.response,
    )
    check_convergence(fit, result)
    return result


def r2_draws(y: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """The R² of brms's ``.bayes_R2(y, ypred)`` on ``(rows, S)`` expected values: one R² per draw.

    Examples
    --------
    >>> y = np.array([1.0, 2.0, 4.0])
    >>> r2_draws(y, np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])).round(4).tolist()
    [0.75, 0.0]
    """
    rows, s = fitted.shape
    if rows < 2:
        raise ValueError("bayes_R2 needs at least 2 rows of data (a variance over rows)")
    var_fitted = fitted.var(axis=0, ddof=1)
    var_error = np.empty(s)
    for start in range(0, s, R2_CHUNK):  # y − ŷ one block of draws at a time
        block = slice(start, start + R2_CHUNK)
        var_error[block] = (y[:, None] - fitted[:, block]).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return var_fitted / (var_fitted + var_error)


def observed_response(spec: ModelSpec, what: str) -> np.ndarray:
    """The model data's response column as numbers; refused for category families, or when missing."""
    if spec.family.categorical:
        raise ValueError(
            f"{what} is not defined for the {spec.family.name} family: its response is a category, not a "
            "number (brms refuses categorical models too); use predictions(type='response') per category instead"
        )
    name = spec.response
    if name is None or name not in spec.data.columns:
        raise ValueError(
            f"{what} needs the observed response, but "
            + ("this fit names no response column" if name is None else f"the model's data have no column {name!r}")
            + ": use a fit whose data hold the response (a spec from mixeff.from_arrays names none: "
            "dataclasses.replace(spec, response='y'))"
        )
    column = spec.data[name]
    if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
        raise ValueError(f"{what}: the response column {name!r} holds {column.dtype} values, not numbers")
    y = column.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(
            f"{what}: the response column {name!r} has {int((~np.isfinite(y)).sum())} missing or infinite "
            "value(s); the model's data must be the rows it was fitted to"
        )
    return y
