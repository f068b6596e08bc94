"""Which variables a user names and what kind each is (marginaleffects' ``variables``).

Reads the model data through ``spec.data``, ``spec.predictors`` and friends
(any object with those attributes); imports nothing else of mixeff.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def variable_kind(col: pd.Series) -> str:
    """A column's kind, as marginaleffects classes it: the one classification of variables.

    It picks the ``FUN_*`` of :func:`mixeff.datagrid` that summarises a left-out column, the
    values a plot's condition takes, and (grouped by :func:`contrast_kind`) how a contrast
    treats a variable.

    ``"logical"`` (booleans), ``"factor"`` (pandas Categorical), ``"character"`` (strings
    and other object columns), ``"binary"`` (numbers all 0 or 1), ``"integer"``
    (whole numbers, of an integer or a float dtype), ``"numeric"`` (other real numbers)
    or ``"other"`` (dates, durations, complex numbers...).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"x": [0.5, 2.0], "k": [1.0, 3.0], "b": [0, 1], "s": ["a", "b"], "t": [True, False]})
    >>> [variable_kind(d[c]) for c in d.columns]
    ['numeric', 'integer', 'binary', 'character', 'logical']
    >>> variable_kind(pd.Series(pd.Categorical(["a", "b"])))
    'factor'
    """
    if pd.api.types.is_bool_dtype(col):
        return "logical"
    if isinstance(col.dtype, pd.CategoricalDtype):
        return "factor"
    if pd.api.types.is_string_dtype(col) or pd.api.types.is_object_dtype(col):
        return "character"
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_complex_dtype(col):
        present = col.dropna()
        if len(present) and set(pd.unique(present)) <= {0, 1}:
            return "binary"
        if pd.api.types.is_integer_dtype(col):
            return "integer"
        values = present.to_numpy(dtype=float)
        if np.isfinite(values).all() and (values == np.round(values)).all():
            return "integer"
        return "numeric"
    return "other"


NUMERIC_KINDS = frozenset({"integer", "numeric"})
"""Kinds of :func:`variable_kind` that contrasts step (+1, a slope's h) and plots draw on a continuous axis."""


def contrast_kind(col: pd.Series) -> str:
    """How contrasts and plots treat a column: its :func:`variable_kind`, grouped.

    ``"numeric"`` (integer or numeric), ``"binary"``, ``"logical"`` or ``"categorical"`` (any other).

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> spec = toy_spec()
    >>> contrast_kind(spec.data["TX"]), contrast_kind(spec.data["cluster"])
    ('binary', 'categorical')
    """
    kind = variable_kind(col)
    if kind in NUMERIC_KINDS:
        return "numeric"
    return kind if kind in ("binary", "logical") else "categorical"


def levels_of(spec: Any, name: str, kind: str) -> list:
    """The levels a factor / logical / 0-1 variable is contrasted over, in the model's order."""
    if kind == "binary":
        return [0, 1]
    if kind == "logical":
        return [False, True]
    col = spec.data[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return list(col.cat.categories)
    values = pd.unique(col.dropna())
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def _grouping_columns(spec: Any) -> set[str]:
    return {c for g in spec.groups.values() for c in g.columns}


def default_variables(spec: Any) -> list[str]:
    """The population-level predictors: not the response, trials or grouping-factor columns."""
    skip = _grouping_columns(spec) | {spec.response, spec.trials} | set(spec.offset_variables)
    return sorted(v for v in spec.predictors if v not in skip)


def parse_variables(spec: Any, variables: Any, argument: str = "variables") -> dict[str, object]:
    """``variables`` as ``{name: value or None}``, names checked and sorted as marginaleffects does.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> spec = toy_spec()
    >>> parse_variables(spec, None), parse_variables(spec, {"TX": [0, 1]})
    ({'TX': None}, {'TX': [0, 1]})
    """
    if variables is None:
        out: dict[str, object] = {v: None for v in default_variables(spec)}
        if not out:
            raise ValueError(f"{argument}: the model has no population-level predictor; name one with {argument}=")
        return out
    if isinstance(variables, str):
        items = {variables: None}
    elif isinstance(variables, dict):
        items = dict(variables)
    elif isinstance(variables, (list, tuple)):
        items = {}
        for v in variables:
            if not isinstance(v, str):
                raise TypeError(f"{argument}={variables!r}: list entries must be variable names (str), got {v!r}")
            items[v] = None
    else:
        raise TypeError(
            f"{argument}={variables!r} is not understood; pass a name, a list of names, or a dict "
            "such as {'age': ['18-29', '70+']}"
        )
    if not items:
        raise ValueError(f"{argument} is empty; name at least one predictor")
    allowed = [v for v in spec.predictors if v not in {spec.response, spec.trials}]
    for name in items:
        if name not in allowed:
            raise ValueError(f"{argument}: {name!r} is not a predictor of the model; choose from {sorted(allowed)}")
    return {k: items[k] for k in sorted(items)}
