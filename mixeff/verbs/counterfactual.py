"""``predictions(variables=...)``: the data replicated once per combination of counterfactual values.

As marginaleffects: names alone take every level of a factor / logical / 0-1
variable, and a numeric variable's unique values when it has fewer than six, else
Tukey's five numbers; a dict gives the values, or for a numeric variable one of
the shortcuts ``"iqr"``, ``"minmax"``, ``"sd"``, ``"2sd"``, ``"threenum"``,
``"fivenum"``, or a function of the model data's column.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..estimands.variables import contrast_kind, levels_of
from .grid import fivenum

NUMERIC_SHORTCUTS = ("iqr", "minmax", "sd", "2sd", "threenum", "fivenum")


def _numeric_values(name: str, value, x: np.ndarray) -> list:
    if isinstance(value, str):
        m, s = x.mean(), x.std(ddof=1)
        table = {
            "iqr": lambda: np.quantile(x, [0.25, 0.75]),
            "minmax": lambda: [x.min(), x.max()],
            "sd": lambda: [m - s / 2, m + s / 2],
            "2sd": lambda: [m - s, m + s],
            "threenum": lambda: [m - s, m, m + s],
            "fivenum": lambda: fivenum(x),
        }
        if value not in table:
            raise ValueError(
                f"variables={{{name!r}: {value!r}}}: {name!r} is numeric; use values, a function, or one "
                f"of {list(NUMERIC_SHORTCUTS)}"
            )
        return [float(v) for v in table[value]()]
    if callable(value):
        return list(np.atleast_1d(value(x)))
    return list(np.atleast_1d(value))


def counterfactual_values(spec, variables) -> dict[str, list]:
    """The values each counterfactual variable takes, in order.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> counterfactual_values(toy_spec(), "TX")
    {'TX': [0, 1]}
    """
    if isinstance(variables, str):
        variables = {variables: None}
    elif isinstance(variables, (list, tuple)) and all(isinstance(v, str) for v in variables):
        variables = {v: None for v in variables}
    elif not isinstance(variables, dict):
        raise TypeError(
            f"variables={variables!r} must be a name, a list of names or a dict name -> values, e.g. {{'TX': [0, 1]}}"
        )
    out = {}
    for name, value in variables.items():
        if name not in spec.data.columns or name not in spec.predictors:
            raise ValueError(
                f"variables: {name!r} is not a predictor of the model; choose from {list(spec.predictors)}"
            )
        kind = contrast_kind(spec.data[name])
        col = spec.data[name]
        if kind == "numeric":
            x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            if value is None:
                uniq = np.unique(x)
                values = [float(v) for v in uniq] if len(uniq) < 6 else [float(v) for v in fivenum(x)]
            else:
                values = _numeric_values(name, value, x)
        elif value is None or (isinstance(value, str) and value == "all"):
            values = levels_of(spec, name, kind)
        elif isinstance(value, str) and value in NUMERIC_SHORTCUTS:
            raise ValueError(
                f"variables={{{name!r}: {value!r}}}: {value!r} applies to numeric variables only, and {name!r} is "
                f"{kind}; give its values as a list (e.g. {levels_of(spec, name, kind)[:2]}) or leave the value out "
                "for every level"
            )
        else:
            values = list(np.atleast_1d(value)) if not isinstance(value, str) else [value]
        if not values:
            raise ValueError(f"variables: {name!r} gives no values")
        numbers = np.asarray(
            [v for v in values if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)], dtype=float
        )
        if not np.isfinite(numbers).all():
            raise ValueError(
                f"variables={{{name!r}: ...}} gives {[v.item() if isinstance(v, np.generic) else v for v in values]}, "
                "with missing (NaN) or infinite values; "
                "counterfactual predictions need finite values"
            )
        out[name] = values
    return out


def counterfactual_frame(frame: pd.DataFrame, values: dict[str, list]) -> pd.DataFrame:
    """``frame`` once per combination of ``values`` (the first variable varying slowest), in blocks.

    Examples
    --------
    >>> f = pd.DataFrame({"x": [1.0, 2.0], "g": ["a", "b"]})
    >>> counterfactual_frame(f, {"g": ["a", "b"]})["g"].tolist()
    ['a', 'a', 'b', 'b']
    """
    blocks = []
    names = list(values)
    for combo in itertools.product(*(values[n] for n in names)):
        block = frame.copy()
        for name, value in zip(names, combo):
            col = frame[name] if name in frame.columns else None
            if col is not None and isinstance(col.dtype, pd.CategoricalDtype):
                cats = list(col.cat.categories) + ([value] if value not in col.cat.categories else [])
                block[name] = pd.Categorical([value] * len(frame), categories=cats, ordered=col.cat.ordered)
            else:
                block[name] = value
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)
