"""``comparisons`` and ``avg_comparisons``: contrasts between counterfactual predictions, draw by draw."""

from __future__ import annotations

from .contrast_pass import by_columns, contrast_grid, run_contrasts
from .contrasts import ArmSet, categorical_contrasts, numeric_contrasts, parse_variables, variable_kind
from .rules import apply_transform, comparison_rule, label_contrast, resolve_transform
from .evaluate import excluded_factors
from .inputs import check_newdata, resolve_spec
from .results import Result, require_defined

__all__ = ["comparisons", "avg_comparisons"]


def comparisons(
    fit,
    variables=None,
    *,
    comparison="difference",
    newdata=None,
    by=None,
    wts=None,
    type: str = "response",
    transform=None,
    re_formula=None,
    allow_new_levels: bool = False,
    sample_new_levels: str = "uncertainty",
    seed=None,
    draws: str = "posterior",
    conf_level: float = 0.95,
    estimator: str = "median",
    interval: str = "eti",
    chunk_rows: int | None = None,
    progress: bool | None = None,
) -> Result:
    """Posterior draws of contrasts between predictions at two values of a variable.

    For each focal variable two counterfactual copies of ``newdata`` are made,
    ``lo`` and ``hi``, and their predictions are compared draw by draw.  All arms of
    all variables go through the engine in one call, so simulated new levels of a
    grouping factor are shared between arms (common random numbers): the ATE over
    K new clusters carries the Monte Carlo noise of one set of clusters.

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    variables : str, list of str or dict, optional
        Focal variables (default: every population-level predictor, sorted).  A dict
        gives the contrast per variable:

        * factor / logical / 0-1 variable: ``"reference"`` (default: each level vs
          the first), ``"pairwise"``, ``"sequential"``, ``"all"`` (every ordered pair
          of distinct levels), ``"minmax"``, the ``"rev*"`` variants, or an explicit
          ``[lo, hi]`` pair such as ``{"age": ["18-29", "70+"]}``.  Each arm sets the
          whole column to one level.
        * numeric: a step ``k`` (default 1: lo = x, hi = x + k per row), ``"sd"``
          (mean ∓ sd/2), ``"2sd"`` (mean ∓ sd), ``"iqr"`` (25% and 75% quantiles),
          ``"minmax"``, or an explicit pair of values.  As in marginaleffects the
          mean, sd (ddof=1) and quantiles are those of the model data.
    comparison : str or callable
        ``"difference"`` (hi − lo), ``"ratio"`` (hi / lo), ``"lnratio"`` (log(hi / lo)),
        ``"lnor"`` (log odds ratio), ``"lift"`` ((hi − lo) / lo), or a function
        ``f(hi, lo)`` applied element by element to ``(rows, draws)`` arrays.
        With ``by``, marginaleffects' "avg" forms are used within each draw:
        difference → mean(hi − lo) (the mean of per-row differences);
        ratio → mean(hi) / mean(lo); lnratio → log(mean(hi) / mean(lo));
        lnor → log odds ratio of mean(hi) and mean(lo);
        lift → mean(hi − lo) / mean(lo); a function is applied row-wise, then
        averaged.  Means are weighted by ``wts``.
    newdata : DataFrame, optional
        Rows at which to compare; the model's data by default (as marginaleffects).
    by : str, list of str or True, optional
        Average within each draw over rows sharing these newdata columns (True:
        all rows).  ``term`` and ``contrast`` always separate rows.
    wts : str or array, optional
        Weights for the ``by`` averages (a newdata column or an array).
    type : {"response", "link", "prediction"}
        Compare expected values, linear predictors or posterior-predictive draws.
    transform : callable or str, optional
        Applied to every draw after the comparison (and after averaging), e.g.
        ``"exp"`` or ``numpy.exp`` to turn a link-scale difference into an odds
        ratio or multiplicative effect.  Names: see ``mixeff.contrasts.TRANSFORMS``.
    re_formula, allow_new_levels, sample_new_levels, seed
        brms random-effects arguments, as in :func:`mixeff.predictions`.
    draws : {"posterior", "prior"}
    conf_level, estimator, interval
        Summary: median and 95% equal-tailed interval by default.
    chunk_rows, progress
        Engine chunk size (rows) and progress bar.

    Returns
    -------
    Result
        ``kind="comparisons"``; grid columns ``term``, ``contrast`` then the newdata
        columns (per row) or the ``by`` columns; ``.draws`` is ``(rows, S)``.

    Examples
    --------
    Conditional ATE of the treatment in a typical cluster (random effects 0):

    >>> import mixeff
    >>> from mixeff.comparisons import comparisons
    >>> fit = mixeff.example_fit()
    >>> grid = mixeff.datagrid(fit, TX=0)
    >>> ate = comparisons(fit, "TX", newdata=grid, re_formula="NA")
    >>> ate.summary[["term", "contrast"]].values.tolist()
    [['TX', '1 - 0']]
    >>> bool(ate.summary["estimate"].iloc[0] < 0)
    True

    The multiplicative effect exp(β_TX) from a link-scale comparison:

    >>> mult = comparisons(fit, "TX", newdata=grid, type="link", transform="exp", re_formula="NA")
    >>> bool(0 < mult.summary["estimate"].iloc[0] < 1)
    True
    """
    spec = resolve_spec(fit, draws)
    frame = check_newdata(spec, newdata, excluded_factors(spec, re_formula))
    by_cols = by_columns(by, frame)
    rule = comparison_rule(comparison)
    fn = resolve_transform(transform)
    items = parse_variables(spec, variables)
    arms = ArmSet(frame, spec)
    contrasts = []
    for name, value in items.items():
        kind = variable_kind(spec, name)
        if kind == "numeric":
            made = numeric_contrasts(spec, arms, name, value, "variables")
        else:
            made = categorical_contrasts(spec, arms, name, kind, value, "variables")
        for c in made:
            c.rule = rule
            c.label = label_contrast(c, rule, averaged=by_cols is not None)
        contrasts.extend(made)
    values, keys = run_contrasts(
        spec, arms, contrasts, by=by_cols, wts=wts, type=type, re_formula=re_formula,
        allow_new_levels=allow_new_levels, sample_new_levels=sample_new_levels, seed=seed,
        chunk_rows=chunk_rows, progress=progress,
    )
    values = apply_transform(fn, values.reshape(-1, spec.n_samples))
    require_defined(
        values, f"comparison={comparison!r}" + (f" with transform={transform!r}" if fn else ""),
        f"lnratio needs positive expected values and lnor values in (0, 1) (family {spec.family.name!r}, "
        f"type={type!r}); use comparison='difference' or 'ratio', or a transform defined for these values",
    )
    grid = contrast_grid(contrasts, frame, keys)
    return Result(
        grid, values, spec.n_chains, spec.n_draws, kind="comparisons", type=type, source=spec.source,
        conf_level=conf_level, estimator=estimator, interval=interval,
    )


def avg_comparisons(fit, variables=None, *, by=True, **kwargs) -> Result:
    """:func:`comparisons` averaged within each draw: over all rows, or per ``by`` group.

    With ``by``, ``comparison="ratio"`` is mean(hi) / mean(lo) within each draw
    (marginaleffects' ``ratioavg``), not the mean of per-row ratios; see
    :func:`comparisons`.

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.comparisons import avg_comparisons
    >>> fit = mixeff.example_fit()
    >>> r = avg_comparisons(fit, "TX", comparison="ratio", re_formula="NA")
    >>> r.summary["contrast"].tolist()
    ['mean(1) / mean(0)']
    """
    return comparisons(fit, variables, by=by, **kwargs)
