"""``slopes`` and ``avg_slopes``: partial derivatives (and elasticities) by finite differences, draw by draw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contrast_pass import by_columns, contrast_grid, run_contrasts
from .contrasts import ArmSet, Contrast, categorical_contrasts, parse_variables, variable_kind
from .rules import Rule, comparison_rule, label_contrast
from .evaluate import excluded_factors
from .inputs import check_newdata, resolve_spec
from .results import Result, require_defined

__all__ = ["slopes", "avg_slopes", "SLOPES"]

SLOPES = {
    "dydx": "dY/dX",
    "eyex": "eY/eX",
    "eydx": "eY/dX",
    "dyex": "dY/eX",
}


def _slope_rule(slope: str, step: np.ndarray) -> Rule:
    """Per-row slope from the exact η difference of the x ± eps/2 arms (see mixeff.contrasts).

    ``step`` is the realised per-row step ``(x + eps/2) − (x − eps/2)`` in floating
    point (an exact subtraction), not the nominal ``eps``: the two differ by the
    rounding of x ± eps/2, ~1e-12 relative, which would otherwise bias every slope.
    """
    def dydx(p):
        return p.diff / step[p.chunk.rows, None]

    if slope == "dydx":
        row = dydx
    elif slope == "eyex":
        def row(p):
            return dydx(p) * (p.x / p.orig)
    elif slope == "eydx":
        def row(p):
            return dydx(p) / p.orig
    else:  # dyex
        def row(p):
            return dydx(p) * p.x
    label = SLOPES[slope]
    return Rule(slope, row, lambda p: [row(p)], lambda m: m[0], label, f"mean({label})")


def slopes(
    fit,
    variables=None,
    *,
    slope: str = "dydx",
    newdata=None,
    by=None,
    wts=None,
    type: str = "response",
    re_formula=None,
    allow_new_levels: bool = False,
    sample_new_levels: str = "uncertainty",
    seed=None,
    eps: float | None = None,
    draws: str = "posterior",
    conf_level: float = 0.95,
    estimator: str = "median",
    interval: str = "eti",
    chunk_rows: int | None = None,
    progress: bool | None = None,
) -> Result:
    """Posterior draws of slopes (partial derivatives) or elasticities of the prediction.

    For a numeric variable, two arms ``x − h/2`` and ``x + h/2`` are predicted in one
    engine call and compared per row and per draw (a central finite difference, as
    marginaleffects), with ``h = 1e-4 × (max − min)`` of the variable in the model
    data (``1e-4`` if that range is 0) unless ``eps`` is given; the difference is
    divided by the realised step ``(x + h/2) − (x − h/2)`` of each row.  The link-scale
    difference is computed exactly as ``(X_hi − X_lo)β + Σ (Z_hi − Z_lo)b`` and the
    response-scale one as an exact increment where the link allows, so no digits
    are lost to cancellation (see :mod:`mixeff.contrasts`).

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
    newdata, by, wts, type, re_formula, allow_new_levels, sample_new_levels, seed
        As in :func:`mixeff.comparisons.comparisons`; ``type="link"`` gives slopes of η.
    eps : float, optional
        Finite-difference step (default ``1e-4 × range``).
    draws, conf_level, estimator, interval, chunk_rows, progress
        As in :func:`mixeff.predictions`.

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
    >>> from mixeff.slopes import slopes, avg_slopes
    >>> fit = mixeff.example_fit()
    >>> s = avg_slopes(fit, "TX", type="link")
    >>> s.summary[["term", "contrast"]].values.tolist()
    [['TX', '1 - 0']]
    """
    spec = resolve_spec(fit, draws)
    if not isinstance(slope, str) or slope not in SLOPES:
        raise ValueError(f"slope={slope!r} is not one of {list(SLOPES)}; e.g. slope='dydx' for dY/dX")
    if eps is not None and not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps={eps!r} must be a positive number (the finite-difference step)")
    frame = check_newdata(spec, newdata, excluded_factors(spec, re_formula))
    by_cols = by_columns(by, frame)
    if isinstance(variables, dict):
        bad = {k: v for k, v in variables.items() if v is not None and variable_kind(spec, k) == "numeric"}
        if bad:
            raise ValueError(
                f"variables={variables!r}: slopes take no contrast for numeric variables {list(bad)}; "
                "pass their names only (use comparisons() for finite steps)"
            )
    items = parse_variables(spec, variables)
    arms = ArmSet(frame, spec)
    contrasts: list[Contrast] = []
    x_columns: dict[str, np.ndarray] = {}
    averaged = by_cols is not None
    for name, value in items.items():
        kind = variable_kind(spec, name)
        if kind == "numeric":
            x = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
            h = eps if eps is not None else _default_eps(spec, name)
            lo, hi = arms.shift(name, -h / 2), arms.shift(name, h / 2)
            step = arms.frames[hi][name].to_numpy(dtype=float) - arms.frames[lo][name].to_numpy(dtype=float)
            rule = _slope_rule(slope, step)
            c = Contrast(term=name, lo=lo, hi=hi, hi_label="", lo_label="", rule=rule)
            c.label = rule.avg_template if averaged else rule.template
            contrasts.append(c)
            x_columns[name] = x
        else:
            rule = comparison_rule("difference")
            for c in categorical_contrasts(spec, arms, name, kind, value, "variables"):
                c.rule = rule
                c.label = label_contrast(c, rule, averaged)
                contrasts.append(c)
    needs_y = slope in ("eyex", "eydx")
    values, keys = run_contrasts(
        spec, arms, contrasts, by=by_cols, wts=wts, type=type, re_formula=re_formula,
        allow_new_levels=allow_new_levels, sample_new_levels=sample_new_levels, seed=seed,
        chunk_rows=chunk_rows, progress=progress,
        x_columns=x_columns if (x_columns and (needs_y or slope == "dyex")) else None,
    )
    require_defined(
        values.reshape(-1, spec.n_samples), f"slope={slope!r}",
        "elasticities divide by the prediction and by x: use slope='dydx' where they are zero",
    )
    grid = contrast_grid(contrasts, frame, keys)
    return Result(
        grid, values.reshape(-1, spec.n_samples), spec.n_chains, spec.n_draws, kind="slopes", type=type,
        source=spec.source, conf_level=conf_level, estimator=estimator, interval=interval,
    )


def _default_eps(spec, name: str) -> float:
    x = pd.to_numeric(spec.data[name], errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    rng = float(x.max() - x.min()) if len(x) else 0.0
    return 1e-4 * rng if rng > 0 else 1e-4


def avg_slopes(fit, variables=None, *, by=True, **kwargs) -> Result:
    """:func:`slopes` averaged within each draw: over all rows, or per ``by`` group.

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.slopes import avg_slopes
    >>> fit = mixeff.example_fit()
    >>> avg_slopes(fit, "TX", re_formula="NA").summary["contrast"].tolist()
    ['1 - 0']
    """
    return slopes(fit, variables, by=by, **kwargs)
