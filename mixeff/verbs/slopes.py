"""``slopes`` and ``avg_slopes``: partial derivatives (and elasticities) by finite differences, draw by draw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..estimands.comparisons import comparison_rule, label_contrast
from ..estimands.contrasts import Contrast, categorical_contrasts
from ..estimands.slopes import check_slope, default_eps, slope_rule
from ..estimands.variables import model_contrast_kind as variable_kind
from ..estimands.variables import parse_variables
from ..results import OVERFLOW_FIX, Result
from .contrast_runner import Term, contrast_result
from .distributed import is_distributed, split_call


def slopes(
    fit,
    variables=None,
    *,
    slope: str = "dydx",
    newdata=None,
    by=None,
    wts=None,
    type: str = "response",
    dpar: str | None = None,
    transform=None,
    hypothesis=None,
    equivalence=None,
    re_formula=None,
    allow_new_levels: bool = False,
    sample_new_levels: str = "uncertainty",
    seed=None,
    eps: float | None = None,
    draws: str = "posterior",
    ndraws: int | None = None,
    draw_ids=None,
    conf_level: float = 0.95,
    estimator: str = "median",
    interval: str = "eti",
    chunk_rows: int | None = None,
    progress: bool | None = None,
    n_jobs: int | None = None,
) -> Result:
    """Posterior draws of slopes (partial derivatives) or elasticities of the prediction.

    For a numeric variable, two arms ``x − h/2`` and ``x + h/2`` are predicted in one
    engine call and compared per row and per draw (a central finite difference, as
    marginaleffects), with ``h = 1e-4 × (max − min)`` of the variable in the model
    data (``1e-4`` if that range is 0) unless ``eps`` is given; the difference is
    divided by the realised step ``(x + h/2) − (x − h/2)`` of each row.  The link-scale
    difference is computed exactly as ``(X_hi − X_lo)β + Σ (Z_hi − Z_lo)b`` and the
    response-scale one as an exact increment where the link allows, so no digits
    are lost to cancellation (see :mod:`mixeff.engine.passes`).

    Factor, logical and 0/1 variables fall back to contrasts, as marginaleffects
    does: each level minus the reference level (``contrast`` shows e.g. ``"b - a"``).

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    variables : str or list of str, optional
        Focal variables; every population-level predictor by default.
    slope : {"dydx", "eyex", "eydx", "dyex"}
        ``dydx`` = dY/dX; ``eyex`` = dY/dX · x / y; ``eydx`` = dY/dX / y;
        ``dyex`` = dY/dX · x, with ``y`` the prediction at the row's own x and
        ``x`` the row's value.  Computed per row; with ``by`` averaged within draw.
    newdata, by, wts, type, dpar, re_formula, allow_new_levels, sample_new_levels, seed
        As in :func:`mixeff.comparisons`; ``type="link"`` gives slopes of η.
    transform, hypothesis, equivalence
        As in :func:`mixeff.comparisons`: the hypothesis on the slopes, then the transform of every draw.
    eps : float, optional
        Finite-difference step (default ``1e-4 × range``).
    draws, ndraws, draw_ids, conf_level, estimator, interval, chunk_rows, progress, n_jobs
        As in :func:`mixeff.comparisons`.

    Returns
    -------
    Result
        ``kind="slopes"``; grid columns ``term``, ``contrast`` (``"dY/dX"``, or
        ``"mean(dY/dX)"`` with ``by``) then the newdata or ``by`` columns.

    Examples
    --------
    In the seed's model TX is 0/1, so its "slope" is the 1 − 0 contrast; on the
    link scale it is β_TX in every row:

    >>> import mixeff
    >>> fit = mixeff.example_fit()
    >>> s = mixeff.avg_slopes(fit, "TX", type="link")
    >>> s.summary[["term", "contrast"]].values.tolist()
    [['TX', '1 - 0']]
    """
    if is_distributed(newdata):
        return split_call(slopes, dict(locals()))
    check_slope(slope)
    if eps is not None and (isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating))):
        raise TypeError(f"eps={eps!r} must be a positive number (the finite-difference step)")
    if eps is not None and not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps={eps!r} must be a positive number (the finite-difference step)")
    needs_x = slope != "dydx"

    def build(spec, arms, averaged):
        if isinstance(variables, dict):
            bad = [k for k, v in variables.items() if v is not None and variable_kind(spec, k) == "numeric"]
            if bad:
                raise ValueError(
                    f"variables={variables!r}: slopes take no contrast for numeric variables {bad}; "
                    "pass their names only (use comparisons() for finite steps)"
                )
        difference = comparison_rule("difference")
        terms = []
        for name, value in parse_variables(spec, variables).items():
            kind = variable_kind(spec, name)
            if kind != "numeric":
                terms += [
                    Term(c, difference, label_contrast(c, difference, averaged))
                    for c in categorical_contrasts(spec, arms, name, kind, value, "variables")
                ]
                continue
            h = eps if eps is not None else default_eps(spec, name)
            lo, hi = arms.shift(name, -h / 2), arms.shift(name, h / 2)
            step = arms.frames[hi][name].to_numpy(dtype=float) - arms.frames[lo][name].to_numpy(dtype=float)
            rule = slope_rule(slope, step)
            x = pd.to_numeric(arms.base[name], errors="coerce").to_numpy(dtype=float) if needs_x else None
            terms.append(
                Term(
                    Contrast(term=name, lo=lo, hi=hi, hi_label="", lo_label=""),
                    rule,
                    rule.avg_template if averaged else rule.template,
                    x,
                )
            )
        return terms

    def rerun(other):
        return slopes(
            fit,
            variables,
            slope=slope,
            newdata=newdata,
            by=by,
            wts=wts,
            type=type,
            dpar=dpar,
            re_formula=re_formula,
            allow_new_levels=allow_new_levels,
            sample_new_levels=sample_new_levels,
            seed=seed,
            eps=eps,
            draws=other,
            conf_level=conf_level,
            estimator=estimator,
            interval=interval,
            chunk_rows=chunk_rows,
            progress=progress,
            n_jobs=n_jobs,
        )

    return contrast_result(
        "slopes",
        fit,
        build,
        newdata=newdata,
        by=by,
        wts=wts,
        type=type,
        dpar=dpar,
        transform=transform,
        hypothesis=hypothesis,
        equivalence=equivalence,
        re_formula=re_formula,
        allow_new_levels=allow_new_levels,
        sample_new_levels=sample_new_levels,
        seed=seed,
        draws=draws,
        ndraws=ndraws,
        draw_ids=draw_ids,
        conf_level=conf_level,
        estimator=estimator,
        interval=interval,
        chunk_rows=chunk_rows,
        progress=progress,
        n_jobs=n_jobs,
        rerun=rerun,
        undefined=lambda spec: (
            f"slope={slope!r}",
            OVERFLOW_FIX
            if slope == "dydx"
            else "elasticities divide by the prediction and by x: use slope='dydx' where they are zero",
        ),
    )


def avg_slopes(fit, variables=None, *, by=True, **kwargs) -> Result:
    """:func:`slopes` averaged within each draw: over all rows, or per ``by`` group.

    Examples
    --------
    >>> import mixeff
    >>> fit = mixeff.example_fit()
    >>> mixeff.avg_slopes(fit, "TX", re_formula="NA").summary["contrast"].tolist()
    ['1 - 0']
    """
    return slopes(fit, variables, by=by, **kwargs)
