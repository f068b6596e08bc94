"""``datagrid``: rows to predict on, as in marginaleffects.

Also :func:`newdata_shortcut`, which turns marginaleffects' string ``newdata`` values
(``"mean"``, ``"median"``, ``"tukey"``, ``"grid"``, ``"balanced"``) into grids, and
:func:`fivenum`, R's Tukey five-number summary that two of them use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..estimands.variables import variable_kind
from ..model.checks import check_whole
from ..model.spec import ModelSpec
from .call import by_names
from .fits import resolve_spec

if TYPE_CHECKING:
    from ..model.spec import FitLike

SummaryFunction = Callable[[pd.Series], Any]
"""What datagrid's ``FUN_*`` arguments take: a column (without missing values) to one value or a list."""

GRID_TYPES = ("mean_or_mode", "counterfactual", "balanced", "dataframe")
NEWDATA_SHORTCUTS = ("mean", "median", "tukey", "grid", "balanced")


@dataclass(frozen=True)
class NewLevels:
    """K brand-new levels of a grouping factor (labels the model has never seen).

    Examples
    --------
    >>> NewLevels(2, "sim").labels(["sim_1"])
    ['sim__1', 'sim__2']
    """

    k: int
    prefix: str = "new"

    def labels(self, existing) -> list[str]:
        """``k`` labels ``<prefix>_1`` ... none of which is in ``existing`` (the prefix grows ``_`` until so)."""
        existing = {str(v) for v in existing}
        prefix = self.prefix
        while any(f"{prefix}_{i}" in existing for i in range(1, self.k + 1)):
            prefix += "_"
        return [f"{prefix}_{i}" for i in range(1, self.k + 1)]


def new_levels(k: int, prefix: str = "new") -> NewLevels:
    """Ask :func:`datagrid` for ``k`` new levels of a grouping factor.

    Used to integrate random effects out, as Magnusson's example does with 100 new clusters:
    ``datagrid(fit, TX=[0, 1], cluster=new_levels(100))`` then predictions with
    ``allow_new_levels=True, sample_new_levels="gaussian"``.

    Examples
    --------
    >>> new_levels(3).labels(["1", "2"])
    ['new_1', 'new_2', 'new_3']
    """
    check_whole("k", k, 1, example=100)
    return NewLevels(int(k), prefix)


def fivenum(x) -> np.ndarray:
    """Tukey's five numbers, exactly as R's ``fivenum(x, na.rm = TRUE)``.

    Minimum, lower hinge, median, upper hinge, maximum.  The hinges are medians of
    the lower and upper halves (each including the median when ``n`` is odd), not
    quantiles.  Missing values are dropped; no values at all give five NaNs, as in R.

    Examples
    --------
    >>> fivenum([1, 2, 3, 4, 5, 6]).tolist()
    [1.0, 2.0, 3.5, 5.0, 6.0]
    >>> fivenum(range(1, 11)).tolist()
    [1.0, 3.0, 5.5, 8.0, 10.0]
    """
    values = np.sort(pd.Series(x).dropna().to_numpy(dtype=float))
    n = len(values)
    if n == 0:
        return np.full(5, np.nan)
    n4 = np.floor((n + 3) / 2) / 2
    depth = np.array([1, n4, (n + 1) / 2, n + 1 - n4, n]) - 1  # R's 1-based depths, made 0-based
    return 0.5 * (values[np.floor(depth).astype(int)] + values[np.ceil(depth).astype(int)])


def _median(col: pd.Series):
    """R's ``median(x, na.rm = TRUE)``; a boolean column's median stays a boolean unless exactly half is True."""
    values = col.dropna()
    if len(values) == 0:
        return np.nan
    middle = float(np.median(values.to_numpy(dtype=float)))
    if pd.api.types.is_bool_dtype(values) and middle in (0.0, 1.0):
        return bool(middle)
    return middle


def _unique_values(col: pd.Series) -> list:
    """Every value of a column, in the order ``"unique"`` documents (see :func:`datagrid`)."""
    if isinstance(col.dtype, pd.CategoricalDtype):  # level order, as R's factors
        present = set(col.dropna())
        return [c for c in col.cat.categories if c in present]
    vals = list(pd.unique(col.dropna()))
    if pd.api.types.is_numeric_dtype(col):
        return sorted(vals)
    as_numbers = pd.to_numeric(pd.Series(vals, dtype=object), errors="coerce")
    if as_numbers.notna().all():  # ids such as "1", "2", "10": numeric order
        return [vals[i] for i in np.argsort(as_numbers.to_numpy(), kind="stable")]
    try:
        return sorted(vals)  # the level order brms gives a character column
    except TypeError:
        return vals


def _mean(col: pd.Series):
    return col.mean()


def _mode(col: pd.Series):
    return col.mode(dropna=True).iloc[0]


# what a variable left out of datagrid takes, by grid_type and by variable_kind
_DEFAULT_FUNS = {
    "mean_or_mode": {
        "numeric": _mean,
        "integer": _mean,
        "binary": _mode,
        "factor": _mode,
        "character": _mode,
        "logical": _mode,
        "other": _mode,
    },
    "balanced": {
        "numeric": _mean,
        "integer": _mean,
        "binary": _unique_values,
        "factor": _unique_values,
        "character": _unique_values,
        "logical": _unique_values,
        "other": _unique_values,
    },
}
_DEFAULT_FUNS["dataframe"] = _DEFAULT_FUNS["mean_or_mode"]


def _as_values(out) -> list:
    """A function's result as a list of grid values: a scalar is one value."""
    if isinstance(out, np.ndarray):
        return list(np.atleast_1d(out))
    return [out] if np.ndim(out) == 0 else list(out)


def _values_for(name, spec_value, col: pd.Series | None):
    if isinstance(spec_value, NewLevels):
        return spec_value.labels([] if col is None else pd.unique(col.astype(str)))
    if col is None:
        raise ValueError(f"datagrid: {name!r} is not a column of the data")
    if isinstance(spec_value, str) and spec_value == "unique":
        return _unique_values(col)
    if callable(spec_value):
        return _as_values(spec_value(col))
    if isinstance(spec_value, (list, tuple, np.ndarray, pd.Series, pd.Index, range)):
        return list(spec_value)
    return [spec_value]


def _check_funs(funs: dict) -> None:
    for arg, f in funs.items():
        if f is not None and not callable(f):
            raise TypeError(
                f"datagrid: {arg} must be a function of a column (e.g. np.median) or None, got {type(f).__name__}"
            )


def _summary_function(kind: str, funs: dict, grid_type: str):
    """The argument name and function that summarise a left-out variable of this kind.

    The type's own ``FUN_*`` first (integers fall back to ``FUN_numeric``), then ``FUN``,
    then the grid type's default.
    """
    for arg in [f"FUN_{kind}", *(["FUN_numeric"] if kind == "integer" else []), "FUN"]:
        if funs[arg] is not None:
            return arg, funs[arg]
    return f"the {grid_type} default", _DEFAULT_FUNS[grid_type][kind]


def _summarise(name: str, col: pd.Series, funs: dict, grid_type: str) -> list:
    arg, f = _summary_function(variable_kind(col), funs, grid_type)
    try:
        out = f(col.dropna())
    except Exception as e:
        e.add_note(f"datagrid: raised by {arg} on column {name!r}")
        raise
    values = _as_values(out)
    if len(values) == 0:
        raise ValueError(f"datagrid: {arg} returned no values for column {name!r}; it must return at least one")
    return values


def datagrid(
    fit: FitLike | ModelSpec | None = None,
    *,
    newdata: pd.DataFrame | None = None,
    grid_type: Literal["mean_or_mode", "counterfactual", "balanced", "dataframe"] = "mean_or_mode",
    FUN_numeric: SummaryFunction | None = None,
    FUN_integer: SummaryFunction | None = None,
    FUN_binary: SummaryFunction | None = None,
    FUN_factor: SummaryFunction | None = None,
    FUN_character: SummaryFunction | None = None,
    FUN_logical: SummaryFunction | None = None,
    FUN_other: SummaryFunction | None = None,
    FUN: SummaryFunction | None = None,
    **values: Any,
) -> pd.DataFrame:
    """A grid of predictor values: the given variables at the given values, the rest typical.

    Each other keyword names a column and gives a list, a scalar, ``"unique"`` (every
    value in the data: a Categorical's levels in order, numbers and numeric ids
    such as ``"1"``…``"20"`` ascending, other strings sorted), a function of the
    column (e.g. ``np.quantile``-based), or :func:`new_levels` for brand-new levels
    of a grouping factor.  All combinations are crossed.

    Variables not given (the model's predictors, or every column of ``newdata``
    without a fit; never the model's response) are summarised by a function chosen
    by their type (``variable_kind``), as in marginaleffects:

    * ``FUN_numeric``: real numbers; ``FUN_integer``: whole numbers (falls back to
      ``FUN_numeric`` when not given); ``FUN_binary``: numbers all 0 or 1;
      ``FUN_factor``: pandas Categoricals; ``FUN_character``: strings and object
      columns; ``FUN_logical``: booleans; ``FUN_other``: anything else.
    * ``FUN`` applies to every type whose own ``FUN_*`` is not given.
    * Each function gets the column without its missing values and returns one value
      or several (e.g. ``fivenum``); several values are crossed like given ones.

    Without them, ``grid_type`` decides: ``"mean_or_mode"`` (the default) takes the
    mean of numbers and the mode of binary, logical, factor, character and other
    columns; ``"balanced"`` keeps every level of binary, logical, factor, character
    and other columns (as ``"unique"``) and the mean of numbers; ``"dataframe"`` is
    ``"mean_or_mode"`` but binds the variables column-wise, element by element,
    instead of crossing them (each must have one value or the same number of
    values); ``"counterfactual"`` repeats the whole data for each combination of the
    given values (the ``FUN_*`` do not apply: other columns keep their observed
    values).  As in marginaleffects, a grouping factor left out takes its mode,
    i.e. one particular cluster.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> d = pd.DataFrame({"TX": [0, 0, 1], "cluster": ["1", "2", "2"], "y": [1.0, 2.0, 6.0]})
    >>> datagrid(newdata=d, TX=[0, 1], cluster="unique").shape
    (4, 3)
    >>> datagrid(newdata=d, TX=[0, 1], cluster=new_levels(2))["cluster"].tolist()
    ['new_1', 'new_2', 'new_1', 'new_2']
    >>> datagrid(newdata=d, TX=1, FUN_numeric=np.median)["y"].tolist()
    [2.0]
    >>> datagrid(newdata=d, TX=[0, 1], FUN_numeric=lambda c: [c.min(), c.max()])["y"].tolist()
    [1.0, 6.0, 1.0, 6.0]
    >>> datagrid(newdata=d, grid_type="dataframe", TX=[0, 1], y=[5.0, 7.0]).values.tolist()
    [[0, 5.0, '2'], [1, 7.0, '2']]
    """
    if grid_type not in GRID_TYPES:
        raise ValueError(f"grid_type={grid_type!r} is not one of {list(GRID_TYPES)}")
    funs = {
        "FUN_numeric": FUN_numeric,
        "FUN_integer": FUN_integer,
        "FUN_binary": FUN_binary,
        "FUN_factor": FUN_factor,
        "FUN_character": FUN_character,
        "FUN_logical": FUN_logical,
        "FUN_other": FUN_other,
        "FUN": FUN,
    }
    _check_funs(funs)
    if grid_type == "counterfactual" and any(f is not None for f in funs.values()):
        given_funs = [arg for arg, f in funs.items() if f is not None]
        raise ValueError(
            f"datagrid: {', '.join(given_funs)} do not apply to grid_type='counterfactual', "
            "where the other columns keep their observed values; drop them or use another grid_type"
        )
    if newdata is None:
        if fit is None:
            raise ValueError("datagrid needs a fit or newdata= to know the variables")
        spec = _spec_of(fit)
        data, variables = spec.data, list(spec.predictors)
    else:
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError(f"datagrid: newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        data = newdata
        response = None
        if fit is not None:
            spec = _spec_of(fit)
            variables = [v for v in spec.predictors if v in data.columns]
            response = spec.response
        else:
            variables = list(data.columns)
        variables = [v for v in variables if v != response]
    given = {name: _values_for(name, v, data[name] if name in data.columns else None) for name, v in values.items()}
    for name, vals in given.items():
        if len(vals) == 0:
            raise ValueError(f"datagrid: {name}= gives no values")

    if grid_type == "counterfactual":
        rest = data.drop(columns=[c for c in given if c in data.columns])
        out = rest.merge(_crossed(given), how="cross")
        return _restore_dtypes(out, data)

    others = {v: _summarise(v, data[v], funs, grid_type) for v in variables if v not in given}
    columns = {**given, **others}
    out = _bound(columns) if grid_type == "dataframe" else _crossed(columns)
    return _restore_dtypes(out, data)


def _crossed(columns: dict) -> pd.DataFrame:
    """Every combination of the columns' values, the first column varying slowest."""
    out = pd.DataFrame(index=range(1))
    for name, vals in columns.items():
        out = out.merge(pd.DataFrame({name: vals}), how="cross")
    return out


def _bound(columns: dict) -> pd.DataFrame:
    """The columns side by side, element by element; one value is repeated down the rows."""
    lengths = {name: len(vals) for name, vals in columns.items()}
    n = max(lengths.values(), default=1)
    if any(k not in (1, n) for k in lengths.values()):
        listed = ", ".join(f"{name}: {k}" for name, k in lengths.items())
        raise ValueError(
            "datagrid: grid_type='dataframe' binds the variables element by element, so each needs 1 value or "
            f"the same number of values; got {listed}. Give equal-length values, or use grid_type='mean_or_mode' "
            "to cross them"
        )
    out = pd.DataFrame(index=range(n))
    for name, vals in columns.items():
        out[name] = vals * n if len(vals) == 1 else vals
    return out


def _restore_dtypes(out: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    for c in out.columns:
        if c in data.columns and isinstance(data[c].dtype, pd.CategoricalDtype):
            cats = data[c].cat.categories
            extra = [v for v in pd.unique(out[c]) if v not in cats]
            out[c] = pd.Categorical(out[c], categories=list(cats) + extra, ordered=data[c].cat.ordered)
    return out.reset_index(drop=True)


def _spec_of(fit) -> ModelSpec:
    """A ModelSpec as given; a fit's spec of its default draws."""
    if isinstance(fit, ModelSpec):
        return fit
    return resolve_spec(fit, getattr(fit, "default_draws", "posterior"))


def newdata_shortcut(fit, name: str, by=None) -> pd.DataFrame:
    """The grid that marginaleffects' string ``newdata`` values stand for.

    ``fit`` is a fit (its spec of its default draws), a ModelSpec, or a plain
    DataFrame (every column is a variable).  The model's response never appears.

    * ``"mean"``: :func:`datagrid` as is: numbers at their mean, the rest at their mode.
    * ``"median"``: numeric, integer and logical variables at their median
      (``FUN_numeric = FUN_integer = FUN_logical = median``), the rest at their mode.
    * ``"tukey"``: numeric (and integer) variables at Tukey's five numbers
      (:func:`fivenum`), the rest at their mean or mode.
    * ``"grid"``: numeric (and integer) variables at :func:`fivenum`; factor,
      character and logical variables at every level (as ``"unique"``); binary
      variables at their mode.
    * ``"balanced"``: ``grid_type="balanced"``: every level of factor, character,
      logical and binary variables, numbers at their mean.

    ``by`` (None, True, a column name or a list of them) names columns that take every
    one of their values (``"unique"``), crossed with the rest, as marginaleffects does.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.5], "g": ["a", "b", "b", "a", "b", "b"]})
    >>> newdata_shortcut(d, "tukey")["x"].tolist()
    [1.0, 2.0, 3.5, 5.0, 6.5]
    >>> newdata_shortcut(d, "median", by="g").values.tolist()
    [['a', 3.5], ['b', 3.5]]
    >>> import mixeff
    >>> newdata_shortcut(mixeff.example_fit(), "grid")["cluster"].nunique()
    20
    """
    if not isinstance(name, str):
        raise TypeError(f"newdata_shortcut: name must be one of {list(NEWDATA_SHORTCUTS)}, got {type(name).__name__}")
    if name not in NEWDATA_SHORTCUTS:
        raise ValueError(
            f"newdata={name!r} is not one of the shortcuts {list(NEWDATA_SHORTCUTS)}, nor a path; newdata must be a "
            "pandas DataFrame, one of those shortcuts, or a parquet file, directory or glob (with a '/' or a suffix)"
        )
    args = {b: "unique" for b in (by_names(by) or [])}
    if name == "median":
        args.update(FUN_numeric=_median, FUN_integer=_median, FUN_logical=_median)
    elif name == "tukey":
        args.update(FUN_numeric=fivenum)
    elif name == "grid":
        args.update(
            FUN_numeric=fivenum, FUN_factor=_unique_values, FUN_character=_unique_values, FUN_logical=_unique_values
        )
    elif name == "balanced":
        args.update(grid_type="balanced")
    if isinstance(fit, pd.DataFrame):
        return datagrid(newdata=fit, **args)
    return datagrid(_spec_of(fit), **args)
