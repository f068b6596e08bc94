"""``predictions`` and ``avg_predictions``: expected values, linear predictors or predictive draws."""

from __future__ import annotations

from typing import Any

from ..results import Result
from .call import (
    By,
    Call,
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


def predictions(
    fit: Fit,
    newdata: NewData = None,
    *,
    variables: Variables = None,
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
    """Posterior draws of predictions for each row of ``newdata`` (or each ``by`` group).

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    newdata : DataFrame or str, optional
        Rows to predict; the model's data by default.  See :func:`mixeff.datagrid`.
        Or marginaleffects' shortcuts: ``"mean"`` (one row: numbers at their mean,
        the rest at their mode), ``"median"``, ``"tukey"``, ``"grid"``, ``"balanced"``
        (see ``mixeff.verbs.grid.newdata_shortcut``); ``by`` columns then take every value.
    variables : str, list of str or dict, optional
        Counterfactual predictions (marginaleffects' ``variables``): ``newdata`` is
        replicated once per combination of these variables' values, in blocks (the
        first variable varying slowest).  Names alone take every level of a factor
        or 0/1 variable and a numeric variable's unique values (fewer than six) or
        Tukey's five numbers; a dict gives the values, or for a numeric variable
        ``"iqr"``, ``"minmax"``, ``"sd"``, ``"2sd"``, ``"threenum"``, ``"fivenum"`` or a
        function of the model data's column.  With ``by=True`` (``avg_predictions``)
        the averages are by these variables.
    by : str, list of str, True or DataFrame, optional
        Average within each draw over rows sharing these columns (True: all rows).
        A DataFrame maps values of its columns to groups named in its ``by`` column
        (e.g. ``pd.DataFrame({"cyl": [4, 6, 8], "by": ["small", "large", "large"]})``).
    wts : str or array, optional
        Weights for the ``by`` averages (a newdata column or an array); normalised within group.
    type : {"response", "link", "prediction"}
        Expected value of the response (brms ``posterior_epred``), linear predictor η
        (``posterior_linpred``) or posterior-predictive draws (``posterior_predict``).
        Ordinal and categorical models give one row per response category, named in a
        ``group`` column (first), with its probability; ``by`` averages stay within
        each category.
    dpar : str, optional
        A distributional parameter instead of the response, as brms's ``dpar``:
        ``"mu"`` (the mean parameter g⁻¹(η), e.g. the count mean of a hurdle model),
        or an auxiliary parameter (``"sigma"``, ``"psi"``, ``"alpha"``...), row by
        row where the model gives it a formula (``bmb.Formula("y ~ x", "sigma ~ x")``).
        ``type="link"`` gives its linear predictor.
    transform : callable or str, optional
        Applied to every draw last (e.g. ``"exp"``); see :func:`mixeff.comparisons`.
    hypothesis, equivalence
        As :func:`mixeff.hypotheses` on the result (``"b2 - b1 = 0"``, ``"~ pairwise"``,
        ``equivalence=(lo, hi)``), before ``transform``, as marginaleffects.
    bayes_factor : bool, optional
        For a point hypothesis (``"b1 = 0"``) on a fit with prior draws: the Savage–Dickey Bayes factor,
        which reruns the call on the prior draws (None: when prior draws exist; False: never, saving
        that pass).  A Bayes factor that cannot be computed warns and is left empty.
    re_formula : None, "NA" or str
        None: all group-level terms, existing levels' own draws; ``"NA"``/``"~0"``:
        none (random effects 0, the typical cluster); ``"~(1|g)"``: only those terms.
    allow_new_levels, sample_new_levels, seed
        New levels raise unless allowed; then they are simulated as in brms:
        ``"uncertainty"`` (default), ``"gaussian"`` or ``"old_levels"``.  ``seed``
        makes the simulation reproducible; a new level has the same draws in every row.
    draws : {"posterior", "prior"}
        Which draws of the fit to use (prior draws need ``sample_prior``).
    ndraws, draw_ids
        Use ``ndraws`` draws chosen at random with ``seed`` (as brms; the same number
        from each chain when it divides evenly), or the draws at positions
        ``draw_ids`` (0-based, as ``get_draws``'s ``drawid``): faster answers on big fits.
    conf_level, estimator, interval
        Summary: 95% equal-tailed interval around the median by default.
    chunk_rows, progress, n_jobs
        Engine chunk size (rows), progress bar, and threads (None: the ``n_jobs`` option,
        all cores by default; 1: this thread only).  Results do not depend on ``n_jobs``.

    Returns
    -------
    Result
        ``.summary`` (grid columns + estimate, conf_low, conf_high) and ``.draws``.

    Examples
    --------
    >>> import mixeff
    >>> fit = mixeff.example_fit()
    >>> grid = mixeff.datagrid(fit, TX=[0, 1])
    >>> p = mixeff.predictions(fit, grid, re_formula="NA")
    >>> p.summary[["TX", "estimate"]].shape
    (2, 2)
    """
    call = Call.of("predictions", locals())
    return finish_result(call, execute(call))


def avg_predictions(fit: Fit, newdata: NewData = None, *, by: By = True, **kwargs: Any) -> Result:
    """:func:`predictions` averaged within each draw: over all rows, or per ``by`` group.

    Examples
    --------
    >>> import mixeff
    >>> fit = mixeff.example_fit()
    >>> a = mixeff.avg_predictions(fit, by="TX")
    >>> a.summary["TX"].tolist()
    [0, 1]
    """
    return predictions(fit, newdata, by=by, **kwargs)
