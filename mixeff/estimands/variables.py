"""Which variables a user names and what kind each is (marginaleffects' ``variables``).

Reads the model data through ``spec.data``, ``spec.predictors`` and friends
(any object with those attributes); imports nothing else of mixeff.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def variable_kind(spec: Any, name: str) -> str:
    """``"logical"``, ``"binary"`` (numeric 0/1), ``"numeric"`` or ``"categorical"``, from the model data.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> spec = toy_spec()
    >>> variable_kind(spec, "TX"), variable_kind(spec, "cluster")
    ('binary', 'categorical')
    """
    col = spec.data[name]
    if pd.api.types.is_bool_dtype(col):
        return "logical"
    if pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype):
        values = pd.unique(col.dropna())
        if len(values) and set(values) <= {0, 1}:
            return "binary"
        return "numeric"
    return "categorical"


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


def parse_variables(spec: Any, variables: object, argument: str = "variables") -> dict[str, object]:
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
    items: dict[str, object]
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
