"""``comparisons`` and ``avg_comparisons``: contrasts between counterfactual predictions, draw by draw."""

from __future__ import annotations

from ..estimands.comparisons import comparison_rule, label_contrast
from ..estimands.contrasts import categorical_contrasts, custom_contrasts, numeric_contrasts
from ..estimands.variables import model_contrast_kind as variable_kind
from ..estimands.variables import parse_variables
from ..results import OVERFLOW_FIX, Result
from .contrast_runner import Term, contrast_result, cross_terms
from .distributed import is_distributed, split_call


def comparisons(
    fit,
    variables=None,
    *,
    comparison="difference",
    cross: bool = False,
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
        * any variable: a DataFrame with columns ``lo`` and ``hi`` (one row per
          newdata row), or a function of the newdata column returning one, e.g.
          ``{"x": lambda x: pd.DataFrame({"lo": x - 1, "hi": x + 1})}`` (contrast ``"custom"``).
    cross : bool
        False (default): one contrast per variable, the others at their observed
        values.  True: the joint change of all variables at once, every
        combination of their contrasts (term ``"cross"``, a ``contrast_<name>``
        column per variable), as marginaleffects' ``cross = TRUE``.
    comparison : str or callable
        ``"difference"`` (hi − lo), ``"ratio"`` (hi / lo), ``"lnratio"`` (log(hi / lo)),
        ``"lnor"`` (log odds ratio), ``"lift"`` ((hi − lo) / lo), or a function
        ``f(hi, lo)`` applied element by element to ``(rows, draws)`` arrays.
        With ``by``, marginaleffects' "avg" forms are used within each draw:
        difference → mean(hi − lo) (the mean of per-row differences);
        ratio → mean(hi) / mean(lo); lnratio → log(mean(hi) / mean(lo));
        lnor → log odds ratio of mean(hi) and mean(lo);
        lift → mean(hi − lo) / mean(lo); a function is applied row-wise, then
        averaged.  Means are weighted by ``wts``.  A function that returns one
        value per draw instead (e.g. ``lambda hi, lo: (hi - lo).mean(axis=0)``)
        gets every row's draws at once (per ``by`` group) and gives one row per term.
    newdata : DataFrame or str, optional
        Rows at which to compare; the model's data by default (as marginaleffects);
        ``"mean"``, ``"median"``, ``"tukey"``, ``"grid"``, ``"balanced"`` as in :func:`mixeff.predictions`.
    by : str, list of str, True or DataFrame, optional
        Average within each draw over rows sharing these newdata columns (True:
        all rows; a DataFrame collapses categories, see :func:`mixeff.predictions`).
        ``term`` and ``contrast`` always separate rows.
    wts : str or array, optional
        Weights for the ``by`` averages (a newdata column or an array).
    type : {"response", "link", "prediction"}
        Compare expected values, linear predictors or posterior-predictive draws.
        Ordinal and categorical models compare each category's probability (a
        ``group`` column).
    dpar : str, optional
        Compare a distributional parameter instead (``"mu"``, ``"sigma"``, ``"psi"``...),
        as in :func:`mixeff.predictions`.
    transform : callable or str, optional
        Applied to every draw after the comparison (and after averaging), e.g.
        ``"exp"`` or ``numpy.exp`` to turn a link-scale difference into an odds
        ratio or multiplicative effect.  Names: see ``mixeff.estimands.comparisons.TRANSFORMS``.
        The contrast label says so (``exp`` of ``ln(odds(1) / odds(0))`` reads ``odds(1) / odds(0)``).
    hypothesis, equivalence
        As :func:`mixeff.hypotheses` on the result, before ``transform`` (as marginaleffects).
    re_formula, allow_new_levels, sample_new_levels, seed
        brms random-effects arguments, as in :func:`mixeff.predictions`.
    draws : {"posterior", "prior"}
    ndraws, draw_ids
        A subset of the draws, as in :func:`mixeff.predictions`.
    conf_level, estimator, interval
        Summary: median and 95% equal-tailed interval by default.
    chunk_rows, progress, n_jobs
        Engine chunk size (rows), progress bar, and threads (None: the ``n_jobs`` option,
        all cores by default; 1: this thread only).  Results do not depend on ``n_jobs``.

    Returns
    -------
    Result
        ``kind="comparisons"``; grid columns ``term``, ``contrast`` then the newdata
        columns (per row) or the ``by`` columns; ``.draws`` is ``(rows, S)``.

    Examples
    --------
    Conditional ATE of the treatment in a typical cluster (random effects 0):

    >>> import mixeff
    >>> fit = mixeff.example_fit()
    >>> grid = mixeff.datagrid(fit, TX=0)
    >>> ate = mixeff.comparisons(fit, "TX", newdata=grid, re_formula="NA")
    >>> ate.summary[["term", "contrast"]].values.tolist()
    [['TX', '1 - 0']]
    >>> bool(ate.summary["estimate"].iloc[0] < 0)
    True

    The multiplicative effect exp(β_TX) from a link-scale comparison:

    >>> mult = mixeff.comparisons(fit, "TX", newdata=grid, type="link", transform="exp", re_formula="NA")
    >>> bool(0 < mult.summary["estimate"].iloc[0] < 1)
    True
    """
    if is_distributed(newdata):
        return split_call(comparisons, dict(locals()))
    rule = comparison_rule(comparison)
    if not isinstance(cross, bool):
        raise TypeError(f"cross={cross!r} must be True or False")

    def build(spec, arms, averaged):
        per_variable = []
        for name, value in parse_variables(spec, variables).items():
            made = custom_contrasts(arms, name, value, "variables")
            if made is None and variable_kind(spec, name) == "numeric":
                made = numeric_contrasts(spec, arms, name, value, "variables")
            elif made is None:
                made = categorical_contrasts(spec, arms, name, variable_kind(spec, name), value, "variables")
            per_variable.append(made)
        if cross:
            return cross_terms(arms, per_variable, rule, averaged)
        return [Term(c, rule, label_contrast(c, rule, averaged)) for made in per_variable for c in made]

    def undefined(spec):
        what = f"comparison={comparison!r}"
        if comparison == "difference":
            return what, OVERFLOW_FIX
        return what, (
            f"ratios need non-zero predictions, lnratio positive ones and lnor values in (0, 1) (family "
            f"{spec.family.name!r}, type={type!r}); use comparison='difference', or check newdata for extreme values"
        )

    def rerun(other):
        return comparisons(
            fit,
            variables,
            comparison=comparison,
            cross=cross,
            newdata=newdata,
            by=by,
            wts=wts,
            type=type,
            dpar=dpar,
            re_formula=re_formula,
            allow_new_levels=allow_new_levels,
            sample_new_levels=sample_new_levels,
            seed=seed,
            draws=other,
            conf_level=conf_level,
            estimator=estimator,
            interval=interval,
            chunk_rows=chunk_rows,
            progress=progress,
            n_jobs=n_jobs,
        )

    return contrast_result(
        "comparisons",
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
        undefined=undefined,
        rerun=rerun,
    )


def avg_comparisons(fit, variables=None, *, by=True, **kwargs) -> Result:
    """:func:`comparisons` averaged within each draw: over all rows, or per ``by`` group.

    With ``by``, ``comparison="ratio"`` is mean(hi) / mean(lo) within each draw
    (marginaleffects' ``ratioavg``), not the mean of per-row ratios; see
    :func:`comparisons`.

    Examples
    --------
    >>> import mixeff
    >>> fit = mixeff.example_fit()
    >>> r = mixeff.avg_comparisons(fit, "TX", comparison="ratio", re_formula="NA")
    >>> r.summary["contrast"].tolist()
    ['mean(1) / mean(0)']
    """
    return comparisons(fit, variables, by=by, **kwargs)
