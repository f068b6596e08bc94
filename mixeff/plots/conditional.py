"""Plots of conditional and marginal effects.

marginaleffects' ``plot_predictions``, ``plot_comparisons`` and ``plot_slopes``.

Each function builds the rows, calls the verb, and draws its estimates against
one predictor:

* ``condition=`` (conditional effects): up to three predictors -- the first on the
  x axis, the second as colour, the third as facets (one panel per value).  A
  numeric x spans its observed range in ``n_points`` evenly spaced values; a
  numeric colour or facet variable takes Tukey's five numbers (min, lower hinge,
  median, upper hinge, max), marginaleffects' default; factors, 0/1 and logical
  variables take all their levels.  Every other predictor is held at its mean
  (numeric) or mode (:func:`mixeff.datagrid`), including grouping factors: pass
  ``re_formula="NA"`` for the typical cluster, or ``allow_new_levels=True,
  sample_new_levels="integrate"`` (with a new level in ``condition``) to average
  over clusters.
* ``by=`` (marginal effects): the ``avg_*`` verb averaged within each group of the
  model data (or ``newdata``), the groups placed the same way.

A numeric x is drawn as the point-estimate line with one band per interval level
(lighter for wider ones) and optional posterior draws (``spaghetti=``); a
categorical x as points with interval bars (thicker for narrower levels),
dodged by colour.  ``draw=False`` returns the data instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..estimands.comparisons import comparison_rule
from ..estimands.slopes import SLOPES
from ..estimands.variables import contrast_kind
from ..model.checks import check_whole
from ..model.spec import CATEGORY_COLUMN
from ..results import Result
from ..verbs.grid import fivenum
from .common import INTERVALS, WIDTH, facet_grid, level_name, palette

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..model.spec import FitLike, ModelSpec

N_POINTS = 50
"""Values of a numeric x variable spanned over its range (marginaleffects' ``length.out = 50``)."""

SHORTCUTS = ("fivenum", "threenum", "minmax", "quartile")
"""marginaleffects' named values of a numeric condition."""

MAX_CONDITIONS = 3
_ROLES = ("x axis", "colour", "facets")


# --------------------------------------------------------------------------- #
# public functions
# --------------------------------------------------------------------------- #


def plot_predictions(
    fit: FitLike | ModelSpec,
    condition: str | Sequence[str] | Mapping[str, Any] | None = None,
    by: str | Sequence[str] | None = None,
    *,
    newdata: pd.DataFrame | None = None,
    points: float = 0,
    levels: Sequence[float] | None = None,
    spaghetti: int = 0,
    draw: bool = True,
    ax: Axes | None = None,
    n_points: int = N_POINTS,
    seed: int | np.random.Generator | None = None,
    **verb_args: Any,
) -> Figure | pd.DataFrame:
    """Plot predictions against one to three predictors (marginaleffects' ``plot_predictions``).

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    condition : str, list of str or dict, optional
        Conditional predictions on a grid.  Up to three predictors of the model: the
        first on the x axis, the second as colour, the third as facets.  A dict gives
        their values, as marginaleffects' ``condition = list(x = 1:10, g = c("a", "b"))``:
        a list, a scalar, a function of the data column, ``"unique"``, one of
        ``"fivenum"``, ``"threenum"`` (mean ∓ sd), ``"minmax"``, ``"quartile"``, or
        None for the default.  Defaults: a numeric x spans its observed range in
        ``n_points`` evenly spaced values; a numeric colour or facet variable takes
        Tukey's five numbers (min, lower hinge, median, upper hinge, max); factors,
        0/1 and logical variables take all their levels.  Other predictors are held
        at their mean or mode (:func:`mixeff.datagrid`).  For an ordinal or
        categorical model ``"group"`` (the response category) may be named too.
    by : str or list of str, optional
        Marginal predictions instead: :func:`mixeff.avg_predictions` averaged within
        each group of the model data (or ``newdata``); up to three columns, placed
        as ``condition``'s.  Give ``condition`` or ``by``, not both.
    newdata : DataFrame, optional
        With ``condition``: the data the grid is built from (ranges, levels, means
        and modes); the model's data by default.  With ``by``: the rows averaged
        (e.g. a counterfactual ``datagrid``).
    points : float
        Opacity in [0, 1] of the raw data (x against the response) drawn behind the
        estimates; 0 (default) draws none.  These are data, not partial residuals.
    levels : tuple of float, optional
        Interval levels drawn, e.g. ``(0.66, 0.95)`` (ggdist's, the default), or only
        ``conf_level`` when that is passed on to the verb.  Intervals are the verb's
        own kind: equal-tailed by default, highest-density with ``interval="hdi"``;
        the point estimate is the verb's ``estimator`` (the median by default).
    spaghetti : int
        Also draw this many posterior draws as thin translucent lines (numeric x
        only); chosen at random, reproducibly with ``seed``.
    draw : bool
        False returns the data instead of a figure: the verb's ``summary`` (grid
        columns, ``estimate``, ``conf_low``, ``conf_high`` at the verb's
        ``conf_level``) plus ``conf_low_<L>`` and ``conf_high_<L>`` for each interval
        level (``conf_low_66``, ``conf_high_66``, ``conf_low_95``, ``conf_high_95``
        by default; ``<L>`` is the level in percent, e.g. ``97.5``).  Its ``attrs``
        name the ``x``, ``colour`` and ``facet`` columns.
    ax : matplotlib Axes, optional
        Draw into this axes (one panel only: no facets).
    n_points : int
        Number of values spanning a numeric x variable (50, as marginaleffects).
    seed : int or numpy Generator, optional
        Passed to the verb (simulated new levels) and used to choose the
        ``spaghetti`` draws.
    **verb_args
        Passed to :func:`mixeff.predictions` unchanged: ``type``, ``dpar``,
        ``re_formula``, ``allow_new_levels``, ``sample_new_levels``, ``draws``,
        ``conf_level``, ``estimator``, ``interval``, ``wts`` (with ``by``), ...

    Returns
    -------
    matplotlib.figure.Figure, or pandas.DataFrame when ``draw=False``

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.plots.conditional import plot_predictions
    >>> fit = mixeff.example_fit()
    >>> fig = plot_predictions(fit, condition="TX", re_formula="NA")
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('TX', 'predicted y (expected value)')
    >>> fig.savefig("/tmp/mixeff_plot_predictions.png")
    >>> d = plot_predictions(fit, by="TX", draw=False)
    >>> d.columns.tolist()
    ['TX', 'estimate', 'conf_low', 'conf_high', 'conf_low_66', 'conf_high_66', 'conf_low_95', 'conf_high_95']
    """
    return _plot(
        "predictions",
        fit,
        None,
        condition,
        by,
        newdata=newdata,
        look=_Look(points=points, levels=levels, spaghetti=spaghetti, draw=draw, ax=ax, n_points=n_points),
        seed=seed,
        verb_args=verb_args,
    )


def plot_comparisons(
    fit: FitLike | ModelSpec,
    variables: str | Sequence[str] | Mapping[str, Any],
    condition: str | Sequence[str] | Mapping[str, Any] | None = None,
    by: str | Sequence[str] | None = None,
    *,
    newdata: pd.DataFrame | None = None,
    levels: Sequence[float] | None = None,
    spaghetti: int = 0,
    draw: bool = True,
    ax: Axes | None = None,
    n_points: int = N_POINTS,
    seed: int | np.random.Generator | None = None,
    **verb_args: Any,
) -> Figure | pd.DataFrame:
    """Plot comparisons (contrasts) against one to three predictors (marginaleffects' ``plot_comparisons``).

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    variables : str, list of str or dict
        The focal variables, as in :func:`mixeff.comparisons` (a dict gives each its
        contrast, e.g. ``{"x": "sd"}``).  Several terms or contrasts get a panel each.
    condition, by, newdata, levels, spaghetti, draw, ax, n_points, seed
        As in :func:`plot_predictions`: ``condition`` builds the grid at which the
        comparisons are made (the focal variable keeps its grid value, the typical
        one unless it is a condition); ``by`` averages them with
        :func:`mixeff.avg_comparisons`.
    **verb_args
        Passed to :func:`mixeff.comparisons` unchanged: ``comparison``, ``type``,
        ``transform``, ``re_formula``, ``allow_new_levels``, ``sample_new_levels``,
        ``draws``, ``conf_level``, ``estimator``, ``interval``, ...

    Returns
    -------
    matplotlib.figure.Figure, or pandas.DataFrame when ``draw=False`` (see :func:`plot_predictions`)

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.plots.conditional import plot_comparisons
    >>> fit = mixeff.example_fit()
    >>> fig = plot_comparisons(fit, "TX", condition="cluster")   # the effect of TX in each cluster
    >>> fig.axes[0].get_ylabel()
    'y: TX 1 - 0 (difference)'
    >>> fig.savefig("/tmp/mixeff_plot_comparisons.png")
    """
    return _plot(
        "comparisons",
        fit,
        variables,
        condition,
        by,
        newdata=newdata,
        look=_Look(points=0, levels=levels, spaghetti=spaghetti, draw=draw, ax=ax, n_points=n_points),
        seed=seed,
        verb_args=verb_args,
    )


def plot_slopes(
    fit: FitLike | ModelSpec,
    variables: str | Sequence[str] | Mapping[str, Any],
    condition: str | Sequence[str] | Mapping[str, Any] | None = None,
    by: str | Sequence[str] | None = None,
    *,
    newdata: pd.DataFrame | None = None,
    levels: Sequence[float] | None = None,
    spaghetti: int = 0,
    draw: bool = True,
    ax: Axes | None = None,
    n_points: int = N_POINTS,
    seed: int | np.random.Generator | None = None,
    **verb_args: Any,
) -> Figure | pd.DataFrame:
    """Plot slopes (partial derivatives) against one to three predictors (marginaleffects' ``plot_slopes``).

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    variables : str or list of str
        The variables whose slopes are plotted, as in :func:`mixeff.slopes` (factors
        and 0/1 variables give contrasts).  Several terms get a panel each.
    condition, by, newdata, levels, spaghetti, draw, ax, n_points, seed
        As in :func:`plot_predictions`; ``by`` uses :func:`mixeff.avg_slopes`.
    **verb_args
        Passed to :func:`mixeff.slopes` unchanged: ``slope``, ``type``, ``eps``,
        ``re_formula``, ``allow_new_levels``, ``sample_new_levels``, ``draws``, ...

    Returns
    -------
    matplotlib.figure.Figure, or pandas.DataFrame when ``draw=False`` (see :func:`plot_predictions`)

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.plots.conditional import plot_slopes
    >>> fit = mixeff.example_fit()
    >>> fig = plot_slopes(fit, "TX", condition="cluster", type="link")   # TX is 0/1: its 1 - 0 contrast
    >>> fig.axes[0].get_ylabel()
    'y: TX 1 - 0 (difference, link scale)'
    >>> fig.savefig("/tmp/mixeff_plot_slopes.png")
    """
    return _plot(
        "slopes",
        fit,
        variables,
        condition,
        by,
        newdata=newdata,
        look=_Look(points=0, levels=levels, spaghetti=spaghetti, draw=draw, ax=ax, n_points=n_points),
        seed=seed,
        verb_args=verb_args,
    )


# --------------------------------------------------------------------------- #
# the work shared by the three
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Look:
    """What a conditional plot draws besides the estimates, as its caller gave it (checked in :func:`_plot`)."""

    points: Any
    levels: Any
    spaghetti: Any
    draw: Any
    ax: Any
    n_points: Any


def _plot(kind, fit, variables, condition, by, *, newdata, look: _Look, seed, verb_args):
    from ..verbs.fits import resolve_spec

    points, levels, spaghetti, draw, ax, n_points = (
        look.points,
        look.levels,
        look.spaghetti,
        look.draw,
        look.ax,
        look.n_points,
    )

    fn = f"plot_{kind}"
    if not isinstance(draw, bool):
        raise TypeError(f"{fn}: draw={draw!r} must be True (a figure) or False (the data)")
    n_points = _check_n_points(n_points)
    spaghetti = _check_spaghetti(spaghetti)
    alpha_points = _check_points(points)
    levels = _check_levels(levels, verb_args.get("conf_level"))
    if condition is not None and by is not None:
        raise ValueError(
            f"{fn}: condition={condition!r} and by={by!r} were both given; give condition= (estimates on a "
            "grid, other predictors at their mean or mode) or by= (estimates averaged over the data within "
            "groups), not both (as marginaleffects)"
        )
    if condition is None and by is None:
        raise ValueError(
            f"{fn}: give condition= (e.g. condition='x') or by= (e.g. by='g') to say what goes on the x axis"
        )
    spec = resolve_spec(fit, verb_args.get("draws", "posterior"))
    if newdata is not None and not isinstance(newdata, pd.DataFrame):
        raise TypeError(
            f"{fn}: newdata must be a pandas DataFrame (e.g. from mixeff.datagrid), got {type(newdata).__name__}"
        )
    data = spec.data if newdata is None else newdata
    if condition is not None:
        roles_given = _parse_condition(condition)
        grid, roles = _condition_grid(
            fit,
            spec,
            data,
            newdata,
            roles_given,
            n_points,
            condition,
            allow_new=bool(verb_args.get("allow_new_levels", False)),
        )
        result = _call_verb(kind, fit, variables, newdata=grid, by=None, seed=seed, verb_args=verb_args)
    else:
        roles = _parse_by(by)
        result = _call_verb(kind, fit, variables, newdata=newdata, by=roles, seed=seed, verb_args=verb_args)

    frame = _plot_frame(result, levels)
    x, colour, facet = (roles + [None, None])[:3]
    frame.attrs.update(x=x, colour=colour, facet=facet)
    if not draw:
        return frame

    layout = _layout(spec, data, result, frame, x, colour, facet, roles)
    if spaghetti and layout.x_discrete:
        raise ValueError(
            f"{fn}: spaghetti={spaghetti} draws lines across a numeric x, but x={x!r} is categorical; use "
            "spaghetti=0 (the interval bars already show the draws' spread) or a numeric condition first"
        )
    if spaghetti > result.draws.shape[1]:
        raise ValueError(
            f"{fn}: spaghetti={spaghetti} but the result has only {result.draws.shape[1]} draws; ask for fewer"
        )
    picks = None
    if spaghetti:
        rng = np.random.default_rng(seed)
        picks = np.sort(rng.choice(result.draws.shape[1], size=spaghetti, replace=False))
    if alpha_points and spec.family.categorical:
        raise ValueError(
            f"{fn}: points={points!r}: the {spec.family.name} model's estimates are category "
            "probabilities, not values of the response; use points=0"
        )
    labels = _labels(kind, spec, result, frame, layout, variables, verb_args, spaghetti)
    return _draw(
        frame,
        result,
        layout,
        labels,
        levels=levels,
        picks=picks,
        ax=ax,
        fn=fn,
        raw=_raw_points(spec, data, layout, alpha_points, fn),
    )


def _call_verb(kind, fit, variables, *, newdata, by, seed, verb_args):
    from ..verbs.comparisons import comparisons
    from ..verbs.predictions import predictions
    from ..verbs.slopes import slopes

    args = dict(verb_args, seed=seed, newdata=newdata, by=by)
    comparison = verb_args.get("comparison")
    if kind == "comparisons" and comparison is not None and comparison_rule(comparison).aggregate is not None:
        raise ValueError(
            "plot_comparisons: comparison= is a function that returns one value per draw (it averages the rows "
            "itself), so there is no comparison per point of the plot; pass a function of one value per row and "
            "draw (e.g. lambda hi, lo: hi / lo), or use avg_comparisons(..., by=...) and plot_estimates"
        )
    if kind == "predictions":
        return predictions(fit, **args)
    if kind == "comparisons":
        return comparisons(fit, variables, **args)
    return slopes(fit, variables, **args)


# --------------------------------------------------------------------------- #
# arguments
# --------------------------------------------------------------------------- #


def _check_n_points(n_points) -> int:
    check_whole("n_points", n_points, 2, example=50, meaning="x values along the axis, the range's ends included")
    return int(n_points)


def _check_spaghetti(spaghetti) -> int:
    if spaghetti is None or spaghetti is False:
        return 0
    check_whole("spaghetti", spaghetti, 0, example=50, meaning="posterior draws drawn as lines; 0: none")
    return int(spaghetti)


def _check_points(points) -> float:
    if points is None or points is False:
        return 0.0
    if isinstance(points, bool) or not isinstance(points, numbers.Real):
        raise TypeError(
            f"points={points!r} must be the opacity of the raw data points, a number in [0, 1] "
            "(0: none), e.g. points=0.3"
        )
    if not 0 <= points <= 1:
        raise ValueError(f"points={points!r} must be in [0, 1] (the opacity of the raw data points), e.g. 0.3")
    return float(points)


def _check_levels(levels, conf_level) -> tuple[float, ...]:
    if levels is None:
        return (conf_level,) if isinstance(conf_level, numbers.Real) and 0 < conf_level < 1 else tuple(INTERVALS)
    if isinstance(levels, numbers.Real) and not isinstance(levels, bool):
        levels = (levels,)
    if not isinstance(levels, (list, tuple, np.ndarray)) or len(levels) == 0:
        raise TypeError(f"levels={levels!r} must be interval levels in (0, 1), e.g. (0.66, 0.95)")
    out = []
    for lev in levels:
        if isinstance(lev, bool) or not isinstance(lev, numbers.Real) or not 0 < lev < 1:
            raise ValueError(
                f"levels={levels!r}: {lev!r} is not an interval level; each must be a number strictly "
                "between 0 and 1, e.g. (0.66, 0.95)"
            )
        out.append(float(lev))
    if len(set(out)) < len(out):
        raise ValueError(f"levels={levels!r} repeats a level; give each once, e.g. (0.66, 0.95)")
    return tuple(sorted(out))


def _parse_condition(condition) -> dict:
    if isinstance(condition, str):
        items = {condition: None}
    elif isinstance(condition, dict):
        if not all(isinstance(k, str) for k in condition):
            raise TypeError(f"condition={condition!r}: the dict's keys must be predictor names")
        items = dict(condition)
    elif isinstance(condition, (list, tuple)):
        if not all(isinstance(c, str) for c in condition):
            raise TypeError(
                f"condition={condition!r} must be predictor names (a list of str), or a dict of "
                "names and values such as {'x': [1, 2, 3], 'g': ['a', 'b']}"
            )
        if len(set(condition)) < len(condition):
            raise ValueError(f"condition={condition!r} names a variable more than once; name each once")
        items = {c: None for c in condition}
    else:
        raise TypeError(
            f"condition={condition!r} must be a predictor name, a list of up to {MAX_CONDITIONS} names "
            "(x axis, colour, facets), or a dict of names and values"
        )
    if not items:
        raise ValueError("condition is empty; name the predictor for the x axis, e.g. condition='x'")
    if len(items) > MAX_CONDITIONS:
        raise ValueError(
            f"condition={condition!r} names {len(items)} variables; at most {MAX_CONDITIONS} fit a plot (x axis, "
            "colour, facets): drop some, or fix them with newdata=mixeff.datagrid(...) and by="
        )
    return items


def _parse_by(by) -> list[str]:
    cols = [by] if isinstance(by, str) else list(by) if isinstance(by, (list, tuple)) else None
    if cols is None or not cols or not all(isinstance(c, str) for c in cols):
        raise TypeError(
            f"by={by!r} must be a column name or a list of up to {MAX_CONDITIONS} names (x axis, colour, facets)"
        )
    if len(cols) > MAX_CONDITIONS:
        raise ValueError(
            f"by={by!r} names {len(cols)} columns; at most {MAX_CONDITIONS} fit a plot (x axis, colour, facets)"
        )
    if len(set(cols)) < len(cols):
        raise ValueError(f"by={by!r} names a column more than once; name each once")
    return cols


# --------------------------------------------------------------------------- #
# the grid of a condition
# --------------------------------------------------------------------------- #


def _shortcut(col: pd.Series, name: str, how: str) -> list:
    x = pd.to_numeric(col, errors="coerce").dropna().to_numpy(dtype=float)
    if how == "fivenum":
        out = fivenum(x)
    elif how == "threenum":
        m, s = x.mean(), x.std(ddof=1)
        out = np.array([m - s, m, m + s])
    elif how == "minmax":
        out = np.array([x.min(), x.max()])
    else:
        out = np.quantile(x, [0.25, 0.5, 0.75])
    return list(dict.fromkeys(out.tolist()))


def _condition_grid(fit, spec, data, newdata, given: dict, n_points: int, condition, *, allow_new: bool):
    """The datagrid of ``condition`` and the plot roles [x, colour, facet]."""
    from ..verbs.grid import NewLevels, datagrid

    categorical_family = spec.family.categorical
    allowed = [p for p in spec.predictors if p != spec.response]
    grouping = {c for g in spec.all_groups() for c in g.columns}
    values = {}
    for position, (name, value) in enumerate(given.items()):
        if name == CATEGORY_COLUMN and categorical_family:
            if value is not None:
                raise ValueError(
                    f"condition={condition!r}: 'group' (the response category) takes every category; give it no values"
                )
            continue
        if name not in allowed:
            extra = " or 'group' (the response category)" if categorical_family else ""
            what = "the response" if name == spec.response else "not a predictor of the model"
            raise ValueError(
                f"condition={condition!r}: {name!r} is {what}; condition names the predictors to "
                f"vary, one of {allowed}{extra}"
            )
        if name not in data.columns:
            raise ValueError(
                f"condition={condition!r}: {name!r} is not a column of newdata; add it or leave "
                "newdata out (the model data is used)"
            )
        col = data[name]
        kind = contrast_kind(data[name])
        if value is None:
            if kind == "binary":
                values[name] = [0, 1]
            elif kind == "logical":
                values[name] = [False, True]
            elif kind == "numeric":
                lo, hi = float(col.min()), float(col.max())
                values[name] = list(np.linspace(lo, hi, n_points)) if position == 0 else _shortcut(col, name, "fivenum")
            else:
                values[name] = "unique"
            continue
        if isinstance(value, str) and value in SHORTCUTS:
            if kind != "numeric":
                raise ValueError(
                    f"condition={condition!r}: {value!r} summarises a numeric variable, but {name!r} "
                    f"is {kind}; give its levels as a list, or None for all of them"
                )
            values[name] = _shortcut(col, name, value)
            continue
        if isinstance(value, (NewLevels, str)) or callable(value):
            values[name] = value  # "unique", one level, new levels or a function: datagrid resolves them
            if isinstance(value, str) and value != "unique":
                _check_known(condition, name, [value], col, kind, name in grouping, allow_new)
            continue
        listed = list(value) if isinstance(value, (list, tuple, np.ndarray, pd.Series, pd.Index, range)) else [value]
        if not listed:
            raise ValueError(f"condition={condition!r}: {name!r} is given no values")
        _check_known(condition, name, listed, col, kind, name in grouping, allow_new)
        values[name] = listed
    grid = datagrid(fit, newdata=newdata, **values) if newdata is not None else datagrid(fit, **values)
    return grid, list(given)


def _check_known(condition, name, listed, col: pd.Series, kind: str, is_grouping: bool, allow_new: bool):
    """Levels of a factor (not a grouping factor: new clusters are the verb's business) must exist."""
    if kind == "numeric" or (is_grouping and allow_new):
        return
    known = pd.unique(col.dropna())
    if kind == "binary":
        known = np.array([0, 1])
    elif kind == "logical":
        known = np.array([False, True])
    known_str = {str(v) for v in known}
    bad = [v for v in listed if str(v) not in known_str]
    if bad:
        fix = "; it is a grouping factor: pass allow_new_levels=True for new levels" if is_grouping else ""
        shown = sorted(map(str, known)) if len(known) <= 30 else sorted(map(str, known))[:30] + ["..."]
        raise ValueError(
            f"condition={condition!r}: {name!r} has no level(s) {bad} in the data; its levels are {shown}{fix}"
        )


# --------------------------------------------------------------------------- #
# the data drawn
# --------------------------------------------------------------------------- #


def _plot_frame(result: Result, levels) -> pd.DataFrame:
    out = result.summary.copy()
    for lev in levels:
        s = result.summarise(conf_level=lev)
        out[f"conf_low_{level_name(lev)}"] = s["conf_low"].to_numpy()
        out[f"conf_high_{level_name(lev)}"] = s["conf_high"].to_numpy()
    return out


def _ordered_values(col: pd.Series) -> list:
    """The distinct values of a column in plotting order.

    A Categorical's order, numbers ascending, otherwise as they first appear (datagrid's order).
    """
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna())
        return [c for c in col.cat.categories if c in present]
    vals = list(pd.unique(col))
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return sorted(vals)
    return vals


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)) and not float(v).is_integer():
        return f"{float(v):.3g}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


class _Layout(SimpleNamespace):
    """Where each row goes.

    ``x`` (column), ``x_discrete``, ``x_values`` (order, when discrete),
    ``colour`` (column or None) and ``colour_values``, ``panels`` (keys in order) and ``panel_of`` (per row),
    ``panel_parts`` (which columns make a panel: ``"term"``, ``"group"``, the facet), ``shared_y`` (False
    when panels hold different terms) and ``term`` ("term: contrast" per row, or None).
    """


def _layout(spec, data, result, frame, x, colour, facet, roles) -> _Layout:
    grid = result.grid
    cat = CATEGORY_COLUMN if CATEGORY_COLUMN in grid.columns and CATEGORY_COLUMN not in roles else None
    if cat is not None and colour is None:
        colour, cat = CATEGORY_COLUMN, None
    x_discrete = _is_discrete(spec, data, grid, x)
    parts = []
    term = None
    if "term" in grid.columns and "contrast" in grid.columns:
        term = (grid["term"].astype(str) + ": " + grid["contrast"].astype(str)).tolist()
        if len(set(term)) > 1:
            parts.append(("term", term))
    if cat is not None:
        parts.append((CATEGORY_COLUMN, [_panel_part(spec, CATEGORY_COLUMN, v) for v in grid[CATEGORY_COLUMN]]))
    if facet is not None:
        parts.append((facet, [_panel_part(spec, facet, v) for v in grid[facet]]))
    keys = [" | ".join(p[1][i] for p in parts) for i in range(len(grid))] if parts else [""] * len(grid)
    panels = list(dict.fromkeys(keys))
    if facet is not None and len(parts) == 1:  # panels in the facet variable's order
        order = [_panel_part(spec, facet, v) for v in _ordered_values(grid[facet])]
        panels = [p for p in order if p in panels]
    return _Layout(
        x=x,
        x_discrete=x_discrete,
        x_values=_ordered_values(grid[x]) if x_discrete else None,
        colour=colour,
        colour_values=_ordered_values(grid[colour]) if colour is not None else [None],
        panels=panels,
        panel_of=np.asarray(keys, dtype=object),
        panel_parts=[p[0] for p in parts],
        shared_y=not any(p[0] == "term" for p in parts),
        term=term,
    )


def _panel_part(spec, name, value) -> str:
    if name == CATEGORY_COLUMN:
        return f"{spec.response or 'response'} = {value}"
    return f"{name} = {_fmt(value)}"


def _is_discrete(spec, data, grid, name) -> bool:
    if name == CATEGORY_COLUMN:
        return True
    for frame in (data, spec.data):
        if name in frame.columns:
            return contrast_kind(frame[name]) != "numeric"
    col = grid[name]
    return not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col))


def _raw_points(spec, data, layout, alpha, fn):
    if not alpha:
        return None
    if spec.response is None or spec.response not in spec.data.columns:
        raise ValueError(
            f"{fn}: points={alpha!r} draws the raw response, but this model does not name its "
            "response column; use points=0"
        )
    if layout.x not in spec.data.columns:
        raise ValueError(f"{fn}: points={alpha!r}: {layout.x!r} is not a column of the model data")
    return SimpleNamespace(data=spec.data, y=spec.response, alpha=alpha)


# --------------------------------------------------------------------------- #
# labels
# --------------------------------------------------------------------------- #


def _labels(kind, spec, result, frame, layout, variables, verb_args, spaghetti=0) -> SimpleNamespace:
    y = spec.response or "response"
    type_ = verb_args.get("type", "response")
    dpar = verb_args.get("dpar")
    transform = verb_args.get("transform")
    scale = {"link": "link scale", "prediction": "posterior predictive"}.get(type_)
    if kind == "predictions":
        if dpar is not None:
            ylabel = f"{dpar} of {y}" + (f" ({scale})" if scale else "")
        elif spec.family.categorical and type_ != "link":
            ylabel = f"probability of each {y} category"
        else:
            ylabel = f"predicted {y} ({scale or 'expected value'})"
    else:
        comparison = verb_args.get("comparison", "difference")
        comparison = getattr(comparison, "__name__", comparison) if callable(comparison) else comparison
        what = "difference" if kind == "slopes" else str(comparison)
        details = ", ".join(d for d in (what, scale) if d)
        terms = list(dict.fromkeys(layout.term or []))
        slope = verb_args.get("slope", "dydx")
        if len(terms) == 1:
            term, contrast = terms[0].split(": ", 1)
            if kind == "slopes" and contrast in _SLOPE_LABELS:
                ylabel = _slope_label(slope, y, term, contrast.startswith("mean("), scale)
            else:
                ylabel = f"{y}: {term} {contrast} ({details})"
        else:
            slopes_only = kind == "slopes" and all(t.split(": ", 1)[1] in _SLOPE_LABELS for t in terms)
            noun = "slope" if slopes_only else "difference" if kind == "slopes" else str(comparison)
            ylabel = f"{y}: {noun}" + (f", {scale}" if scale else "") + " (panel titles name the term)"
        if dpar is not None:
            ylabel = f"{dpar}: {ylabel}"
    if transform is not None:
        name = transform if isinstance(transform, str) else getattr(transform, "__name__", "function")
        if f"{name}(" not in ylabel:  # comparisons' labels show it already, e.g. "exp(+1)"
            ylabel += f", transform={name}"
    ref = None
    if kind == "slopes" and transform is None:
        ref = 0.0
    elif kind == "comparisons" and transform is None and isinstance(verb_args.get("comparison", "difference"), str):
        ref = {"difference": 0.0, "lnratio": 0.0, "lnor": 0.0, "lift": 0.0, "ratio": 1.0}.get(
            verb_args.get("comparison", "difference")
        )
    return SimpleNamespace(
        y=ylabel,
        x=_axis_name(spec, layout.x),
        ref=ref,
        colour=_axis_name(spec, layout.colour) if layout.colour else None,
        caption=_caption(result, frame, layout, spaghetti),
    )


_SLOPE_LABELS = {*SLOPES.values(), *(f"mean({v})" for v in SLOPES.values())}


def _slope_label(slope, y, x, averaged, scale) -> str:
    forms = {
        "dydx": f"d{y}/d{x}",
        "eyex": f"elasticity e{y}/e{x}",
        "eydx": f"semi-elasticity e{y}/d{x}",
        "dyex": f"semi-elasticity d{y}/e{x}",
    }
    out = forms.get(slope, f"d{y}/d{x}")
    if averaged:
        out = f"average {out}"
    return out + (f" ({scale})" if scale else "")


def _axis_name(spec, name) -> str:
    if name == CATEGORY_COLUMN:
        return f"{spec.response or 'response'} category"
    return str(name)


def _caption(result: Result, frame, layout, spaghetti: int = 0) -> str:
    o = result.options
    point = o["estimator"]
    kind = "equal-tailed" if o["interval"] == "eti" else "highest-density"
    levels = [c[len("conf_low_") :] for c in frame.columns if c.startswith("conf_low_")]
    lev = " and ".join(f"{v}%" for v in levels)
    plural = "s" if len(levels) > 1 else ""
    if layout.x_discrete:
        thick = " (thicker: narrower)" if len(levels) > 1 else ""
        text = f"points: {point}; bars: {lev} {kind} interval{plural}{thick}"
    else:
        text = f"lines: {point}; bands: {lev} {kind} interval{plural}"
    text += f"; {result.n_chains * result.n_draws} {result.source} draws"
    if spaghetti:
        text += f" (thin lines: {spaghetti} of them)"
    if result.new_levels_note:
        text += f"\n{result.new_levels_note}"
    return text


# --------------------------------------------------------------------------- #
# drawing
# --------------------------------------------------------------------------- #


def _draw(frame, result, layout, labels, *, levels, picks, ax, fn, raw):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n_panels = len(layout.panels)
    if ax is not None and n_panels > 1:
        raise ValueError(
            f"{fn}: the plot has {n_panels} panels ({', '.join(layout.panel_parts)}), but ax= "
            "holds one; pass ax=None for a figure of its own, or drop the facet"
        )
    if ax is None:
        fig, axes, ncol = facet_grid(n_panels, sharex=True, sharey=layout.shared_y, single=(WIDTH, 4.0))
    else:
        fig, axes, ncol = ax.figure, [ax], 1
    colours = palette(len(layout.colour_values))
    colour_of = {_key(v): c for v, c in zip(layout.colour_values, colours)}
    n_col = len(layout.colour_values)
    # band opacity, narrowest level first: lighter when several colours overlap
    fade = 1.0 if n_col == 1 else 0.8 * min(1.0, 2.5 / n_col)
    top, bottom = 0.38 * fade, 0.14 * fade
    bands = np.linspace(top, bottom, len(levels)) if len(levels) > 1 else np.array([(top + bottom) / 2])
    widths = np.linspace(4.0, 1.4, len(levels)) if len(levels) > 1 else np.array([1.8])
    est = frame["estimate"].to_numpy()
    for p, (key, a) in enumerate(zip(layout.panels, axes)):
        in_panel = layout.panel_of == key
        if raw is not None:
            _draw_raw(a, raw, frame, layout, key, colour_of, n_col)
        for j, cv in enumerate(layout.colour_values):
            rows = in_panel & (_column_keys(frame, layout.colour) == _key(cv)) if layout.colour else in_panel
            rows = np.flatnonzero(rows)
            if not len(rows):
                continue
            colour = colour_of[_key(cv)]
            if layout.x_discrete:
                pos_of = {_key(v): i for i, v in enumerate(layout.x_values)}
                dodge = _dodge(j, n_col)
                xs = np.array([pos_of[_key(v)] for v in frame[layout.x].iloc[rows]], dtype=float) + dodge
                for lev, w in zip(levels[::-1], widths[::-1]):
                    lo = frame[f"conf_low_{level_name(lev)}"].to_numpy()[rows]
                    hi = frame[f"conf_high_{level_name(lev)}"].to_numpy()[rows]
                    a.vlines(xs, lo, hi, colors=[colour], linewidth=w, gid=f"interval {level_name(lev)}")
                a.plot(
                    xs,
                    est[rows],
                    "o",
                    color=colour,
                    markersize=5.5,
                    markeredgecolor="white",
                    markeredgewidth=0.7,
                    zorder=3,
                    gid="estimate",
                )
            else:
                xv = pd.to_numeric(frame[layout.x].iloc[rows]).to_numpy(dtype=float)
                order = np.argsort(xv, kind="stable")
                rows, xv = rows[order], xv[order]
                for lev, alpha in zip(levels[::-1], bands[::-1]):
                    lo = frame[f"conf_low_{level_name(lev)}"].to_numpy()[rows]
                    hi = frame[f"conf_high_{level_name(lev)}"].to_numpy()[rows]
                    a.fill_between(
                        xv, lo, hi, color=colour, alpha=alpha, linewidth=0, gid=f"interval {level_name(lev)}"
                    )
                if picks is not None:
                    a.plot(
                        xv,
                        result.draws[np.ix_(rows, picks)],
                        color=colour,
                        linewidth=0.5,
                        alpha=min(0.5, max(0.08, 6.0 / len(picks))),
                        gid="draw",
                        zorder=1.5,
                    )
                a.plot(xv, est[rows], color=colour, linewidth=1.8, gid="estimate", zorder=2.5)
        if key:
            a.set_title(key, fontsize="medium")
        a.grid(alpha=0.3)
        if layout.x_discrete:
            _discrete_ticks(a, layout.x_values)
        first_col, last_row = p % ncol == 0, p + ncol >= n_panels
        if last_row or n_panels == 1:
            a.set_xlabel(labels.x)
            a.tick_params(axis="x", labelbottom=True)
        if first_col or not layout.shared_y:
            a.set_ylabel(labels.y if first_col else "")
    for a in axes:
        low, high = a.get_ylim()
        if labels.ref is not None and low <= labels.ref <= high:  # no effect: 0 (or 1 for ratios)
            a.axhline(labels.ref, linestyle=":", color="0.35", linewidth=1.0, zorder=1, gid="reference")
    handles, names = [], []
    if layout.colour is not None:
        for v in layout.colour_values:
            c = colour_of[_key(v)]
            label = _fmt(v)
            if layout.x_discrete:
                handles.append(Line2D([], [], color=c, marker="o", linewidth=2.5))
            else:  # a band with its line, as drawn
                handles.append((Patch(facecolor=c, alpha=0.35, linewidth=0), Line2D([], [], color=c, linewidth=1.8)))
                names.append(label)
                continue
            names.append(label)
    if ax is None:
        if handles:
            fig.legend(handles, names, title=labels.colour, loc="outside right upper", frameon=False)
        fig.supxlabel(labels.caption, fontsize="small", color="0.3")
    else:
        # the interval key joins the colour legend, outside the axes so that it covers no data
        grey, drawn = "0.25", 0.0
        key = [
            Line2D(
                [],
                [],
                color=grey,
                linewidth=1.8,
                marker="o" if layout.x_discrete else None,
                linestyle="none" if layout.x_discrete else "-",
                label=result.options["estimator"],
            )
        ]
        for lev, alpha, w in zip(levels[::-1], bands[::-1], widths[::-1]):
            drawn = 1 - (1 - drawn) * (1 - alpha)  # bands stack: a narrow one shows on top of the wider
            name = f"{level_name(lev)}% interval"
            key.insert(
                1,
                Line2D([], [], color=grey, linewidth=w, label=name)
                if layout.x_discrete
                else Patch(facecolor=grey, alpha=drawn, linewidth=0, label=name),
            )
        ax.legend(
            handles + key,
            names + [k.get_label() for k in key],
            title=labels.colour,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            frameon=False,
            fontsize="small",
        )
    return fig


def _key(v) -> str:
    return _fmt(v) if isinstance(v, (float, np.floating)) else str(v)


def _column_keys(frame, column) -> np.ndarray:
    return np.asarray([_key(v) for v in frame[column]], dtype=object)


def _discrete_ticks(ax, values) -> None:
    """Category labels as x ticks, rotated when they would not fit side by side."""
    labels = [_fmt(v) for v in values]
    ax.set_xticks(np.arange(len(labels), dtype=float), labels)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    renderer = ax.figure.canvas.get_renderer()
    widest = max((t.get_window_extent(renderer).width for t in ax.get_xticklabels()), default=0.0)
    # the axes shrink a little once the layout makes room for the y label and a legend
    per_tick = 0.85 * ax.get_window_extent(renderer).width / max(len(labels), 1)
    if widest + 2 * ax.figure.dpi / 72 > per_tick:
        ax.tick_params(axis="x", labelrotation=40)
        for t in ax.get_xticklabels():
            t.set_horizontalalignment("right")
            t.set_rotation_mode("anchor")


def _dodge(j: int, n: int) -> float:
    """Horizontal offset of the j-th of n colours at a categorical x position."""
    return (j - (n - 1) / 2) * min(0.16, 0.6 / n) if n > 1 else 0.0


def _draw_raw(ax, raw, frame, layout, key, colour_of, n_col):
    data = raw.data
    rows = np.ones(len(data), dtype=bool)
    facet = frame.attrs.get("facet")
    if (
        facet is not None
        and facet in data.columns
        and facet in layout.panel_parts
        and not pd.api.types.is_float_dtype(data[facet])
    ):
        parts = dict(zip(layout.panel_parts, key.split(" | ")))
        rows &= np.asarray([_panel_part(None, facet, v) == parts[facet] for v in data[facet]])
    sub = data[rows]
    dodge = np.zeros(len(sub))
    if (
        layout.colour is not None
        and layout.colour in sub.columns
        and all(_key(v) in colour_of for v in pd.unique(sub[layout.colour]))
    ):
        keys = [_key(v) for v in sub[layout.colour]]
        colours = [colour_of[k] for k in keys]
        slot = {k: j for j, k in enumerate(colour_of)}
        dodge = np.array([_dodge(slot[k], n_col) for k in keys])
    else:
        colours = "0.3"
    y = pd.to_numeric(sub[raw.y], errors="coerce").to_numpy(dtype=float)
    if layout.x_discrete:
        pos_of = {_key(v): i for i, v in enumerate(layout.x_values)}
        inside = np.asarray([_key(v) in pos_of for v in sub[layout.x]])
        half = 0.12 if n_col == 1 else 0.35 * min(0.16, 0.6 / n_col)  # within the colour's slot
        jitter = np.random.default_rng(0).uniform(-half, half, len(sub))
        xs = np.asarray([pos_of.get(_key(v), np.nan) for v in sub[layout.x]], dtype=float) + dodge + jitter
        xs, y = xs[inside], y[inside]
        if not isinstance(colours, str):
            colours = [c for c, keep in zip(colours, inside) if keep]
    else:
        xs = pd.to_numeric(sub[layout.x]).to_numpy(dtype=float)
    ax.scatter(xs, y, s=9, c=colours, alpha=raw.alpha, linewidths=0, zorder=1, gid="data")
