"""``slopes`` and ``avg_slopes``: partial derivatives (and elasticities) by finite differences, draw by draw."""

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
    SlopeType,
    Transform,
    ValueType,
    Variables,
    Weights,
)
from .distributed import LazyDraws
from .finish import finish_result
from .run import execute


def slopes(
    fit: Fit,
    variables: Variables = None,
    *,
    slope: SlopeType = "dydx",
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
    eps: float | None = None,
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
    """Posterior draws of slopes (partial derivatives) or elasticities of the prediction.

    For a numeric variable, two arms ``x − h/2`` and ``x + h/2`` are predicted in one
    engine call and compared per row and per draw (a central finite difference, as
    marginaleffects), with ``h = 1e-4 × (max − min)`` of the variable in the model
    data (``1e-4`` if that range is 0) unless ``eps`` is given; the difference is
    divided by the realised step ``(x + h/2) − (x − h/2)`` of each row.  The link-scale
    difference is computed exactly as ``(X_hi − X_lo)β + Σ (Z_hi − Z_lo)b`` and the
    response-scale one as an exact increment where the link allows, so no digits
    are lost to cancellation (see ``mixeff.engine.passes``).

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
    bayes_factor : bool, optional
        For a point hypothesis (``"b1 = 0"``) on a fit with prior draws: the Savage–Dickey Bayes factor,
        which reruns the call on the prior draws (None: when prior draws exist; False: never, saving
        that pass).  A Bayes factor that cannot be computed warns and is left empty.
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
    call = Call.of("slopes", locals())
    return finish_result(call, execute(call))


def avg_slopes(fit: Fit, variables: Variables = None, *, by: By = True, **kwargs: Any) -> Result:
    """:func:`slopes` averaged within each draw: over all rows, or per ``by`` group.

    Examples
    --------
    >>> import mixeff
    >>> fit = mixeff.example_fit()
    >>> mixeff.avg_slopes(fit, "TX", re_formula="NA").summary["contrast"].tolist()
    ['1 - 0']
    """
    return slopes(fit, variables, by=by, **kwargs)
