"""``comparisons`` and ``avg_comparisons``: contrasts between counterfactual predictions, draw by draw."""

from __future__ import annotations

from typing import Any

from ..results import Result
from .call import (
    By,
    Call,
    Comparison,
    DrawIds,
    Draws,
    Equivalence,
    Fit,
    Hypothesis,
    NewData,
    NewLevelsHow,
    Seed,
    Transform,
    ValueType,
    Variables,
    Weights,
)
from .distributed import LazyDraws
from .finish import finish_result
from .run import execute


def comparisons(
    fit: Fit,
    variables: Variables = None,
    *,
    comparison: Comparison = "difference",
    cross: bool = False,
    newdata: NewData = None,
    by: By = None,
    wts: Weights = None,
    type: ValueType = "response",
    dpar: str | None = None,
    transform: Transform = None,
    hypothesis: Hypothesis = None,
    equivalence: Equivalence = None,
    bayes_factor: bool | None = None,
    re_formula: str | None = None,
    allow_new_levels: bool = False,
    sample_new_levels: NewLevelsHow = "uncertainty",
    seed: Seed = None,
    draws: Draws = "posterior",
    ndraws: int | None = None,
    draw_ids: DrawIds = None,
    conf_level: float = 0.95,
    estimator: str = "median",
    interval: str = "eti",
    chunk_rows: int | None = None,
    progress: bool | None = None,
    n_jobs: int | None = None,
) -> Result | LazyDraws:
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
    bayes_factor : bool, optional
        For a point hypothesis (``"b1 = 0"``) on a fit with prior draws: the Savage–Dickey Bayes factor,
        which reruns the call on the prior draws (None: when prior draws exist; False: never, saving
        that pass).  A Bayes factor that cannot be computed warns and is left empty.
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
    call = Call.of("comparisons", locals())
    return finish_result(call, execute(call))


def avg_comparisons(fit: Fit, variables: Variables = None, *, by: By = True, **kwargs: Any) -> Result:
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
