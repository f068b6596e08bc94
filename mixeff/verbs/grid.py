"""``datagrid``: rows to predict on, as in marginaleffects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model.checks import check_whole
from .inputs import resolve_spec

GRID_TYPES = ("mean_or_mode", "counterfactual", "balanced")


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
        existing = {str(v) for v in existing}
        prefix = self.prefix
        while any(f"{prefix}_{i}" in existing for i in range(1, self.k + 1)):
            prefix += "_"
        return [f"{prefix}_{i}" for i in range(1, self.k + 1)]


def new_levels(k: int, prefix: str = "new") -> NewLevels:
    """Ask :func:`datagrid` for ``k`` new levels of a grouping factor.

    Used to integrate random effects out, as the seed does with 100 new clusters:
    ``datagrid(fit, TX=[0, 1], cluster=new_levels(100))`` then predictions with
    ``allow_new_levels=True, sample_new_levels="gaussian"``.

    Examples
    --------
    >>> new_levels(3).labels(["1", "2"])
    ['new_1', 'new_2', 'new_3']
    """
    check_whole("k", k, 1, example=100)
    return NewLevels(int(k), prefix)


def _is_binary(col: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(col) or (
        pd.api.types.is_numeric_dtype(col) and set(pd.unique(col.dropna())) <= {0, 1}
    )


def _typical(col: pd.Series):
    if pd.api.types.is_numeric_dtype(col) and not _is_binary(col):
        return col.mean()
    return col.mode(dropna=True).iloc[0]


def _values_for(name, spec_value, col: pd.Series | None):
    if isinstance(spec_value, NewLevels):
        return spec_value.labels([] if col is None else pd.unique(col.astype(str)))
    if col is None:
        raise ValueError(f"datagrid: {name!r} is not a column of the data")
    if isinstance(spec_value, str) and spec_value == "unique":
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
    if callable(spec_value):
        out = spec_value(col)
        return list(np.atleast_1d(out))
    if isinstance(spec_value, (list, tuple, np.ndarray, pd.Series, pd.Index, range)):
        return list(spec_value)
    return [spec_value]


def datagrid(fit=None, *, newdata: pd.DataFrame | None = None, grid_type: str = "mean_or_mode",
             **values) -> pd.DataFrame:
    """A grid of predictor values: the given variables at the given values, the rest typical.

    Each keyword names a column and gives a list, a scalar, ``"unique"`` (every
    value in the data: a Categorical's levels in order, numbers and numeric ids
    such as ``"1"``…``"20"`` ascending, other strings sorted), a function of the column (e.g. ``np.quantile``-based), or
    :func:`new_levels` for brand-new levels of a grouping factor.  All
    combinations are crossed.  Other model variables take their mean (numeric)
    or mode (factors and 0/1 variables) for ``grid_type="mean_or_mode"``; every
    level of each factor for ``"balanced"``; and for ``"counterfactual"`` the whole
    data is repeated for each combination.  As in marginaleffects, a grouping
    factor left out takes its mode, i.e. one particular cluster.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"TX": [0, 0, 1], "cluster": ["1", "2", "2"], "y": [1.0, 2.0, 3.0]})
    >>> datagrid(newdata=d, TX=[0, 1], cluster="unique").shape
    (4, 3)
    >>> datagrid(newdata=d, TX=[0, 1], cluster=new_levels(2))["cluster"].tolist()
    ['new_1', 'new_2', 'new_1', 'new_2']
    """
    if grid_type not in GRID_TYPES:
        raise ValueError(f"grid_type={grid_type!r} is not one of {list(GRID_TYPES)}")
    if newdata is None:
        if fit is None:
            raise ValueError("datagrid needs a fit or newdata= to know the variables")
        spec = resolve_spec(fit, _source_of(fit))
        data, variables = spec.data, list(spec.predictors)
    else:
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError(f"datagrid: newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        data = newdata
        response = None
        if fit is not None:
            spec = resolve_spec(fit, _source_of(fit))
            variables = [v for v in spec.predictors if v in data.columns]
            response = spec.response
        else:
            variables = list(data.columns)
        variables = [v for v in variables if v != response]
    given = {name: _values_for(name, v, data[name] if name in data.columns else None) for name, v in values.items()}
    for name, vals in given.items():
        if len(vals) == 0:
            raise ValueError(f"datagrid: {name}= gives no values")

    combos = pd.DataFrame({"__one": [0]})
    for name, vals in given.items():
        combos = combos.merge(pd.DataFrame({name: vals, "__one": 0}), on="__one")
    combos = combos.drop(columns="__one")

    if grid_type == "counterfactual":
        rest = data.drop(columns=[c for c in given if c in data.columns])
        out = rest.assign(__one=0).merge(combos.assign(__one=0), on="__one").drop(columns="__one")
        return _restore_dtypes(out, data)

    others = [v for v in variables if v not in given]
    fixed = {}
    for v in others:
        col = data[v]
        if grid_type == "balanced" and not (pd.api.types.is_numeric_dtype(col) and not _is_binary(col)):
            fixed[v] = _values_for(v, "unique", col)
        else:
            fixed[v] = [_typical(col)]
    out = combos
    for v, vals in fixed.items():
        out = out.merge(pd.DataFrame({v: vals}), how="cross")
    order = [c for c in list(given) + others]
    return _restore_dtypes(out[order], data)


def _restore_dtypes(out: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    for c in out.columns:
        if c in data.columns and isinstance(data[c].dtype, pd.CategoricalDtype):
            cats = data[c].cat.categories
            extra = [v for v in pd.unique(out[c]) if v not in cats]
            out[c] = pd.Categorical(out[c], categories=list(cats) + extra, ordered=data[c].cat.ordered)
    return out.reset_index(drop=True)


def _source_of(fit) -> str:
    return getattr(fit, "default_draws", "posterior")
