"""Counterfactual contrasts: which (lo, hi) pairs of arms a user's ``variables`` asks for.

A *contrast* compares two counterfactual copies of ``newdata`` ("arms"): ``lo``
and ``hi``, which differ only in the focal variable (a factor set to one level
in the whole column, a numeric variable shifted or set to a value).  Labels
follow marginaleffects.  How two arms become a quantity is a rule
(:mod:`mixeff.estimands.comparisons`, :mod:`mixeff.estimands.slopes`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .pairs import index_pairs
from .variables import levels_of

CATEGORICAL_SHORTCUTS = (
    "reference",
    "revreference",
    "pairwise",
    "revpairwise",
    "sequential",
    "revsequential",
    "all",
    "minmax",
)
NUMERIC_SHORTCUTS = ("sd", "2sd", "iqr", "minmax")


@dataclass
class Contrast:
    """One (lo, hi) pair of arms for one term."""

    term: str
    lo: int
    hi: int
    hi_label: str
    lo_label: str
    step_label: str | None = None
    """``"+1"``-style label of a numeric shift (marginaleffects labels these by the step)."""


class ArmSet:
    """Counterfactual copies of ``base``, deduplicated: arms shared by several contrasts are built once.

    Each arm remembers the columns it changed, so arms of different variables can be combined
    (``cross=True``: every focal variable at its lo, or at its hi, at once).
    """

    def __init__(self, base: pd.DataFrame, spec: Any):
        self.base = base
        self.spec = spec
        self.frames: list[pd.DataFrame] = []
        self.changes: list[dict] = []
        self._keys: dict = {}

    def set_value(self, name: str, value: Any) -> int:
        """The arm where the whole column ``name`` is ``value``."""
        key = (name, "set", _hashable(value))
        return self._arm(key, lambda: {name: _constant_column(self.base, self.spec, name, value)})

    def shift(self, name: str, delta: float) -> int:
        """The arm where numeric ``name`` is ``x + delta`` (``delta = 0`` is the base frame itself)."""
        if delta == 0:
            return self.original()
        key = (name, "shift", float(delta))
        return self._arm(key, lambda: {name: self.base[name].to_numpy(dtype=float) + delta})

    def set_column(self, name: str, values: ArrayLike) -> int:
        """A new arm where ``name`` takes one given value per row (such arms are never shared)."""
        return self._arm((name, "column", len(self.frames)), lambda: {name: _column_like(self.base, name, values)})

    def original(self) -> int:
        return self._arm(("__original__",), dict)

    def combined(self, arms: list[int]) -> int:
        """The arm with every change of ``arms`` at once (they change different columns)."""
        key = ("__combined__", tuple(arms))
        return self._arm(key, lambda: {k: v for a in arms for k, v in self.changes[a].items()})

    def _arm(self, key: tuple, changes: Callable[[], dict]) -> int:
        if key not in self._keys:
            made = changes()
            for name, column in made.items():
                _require_finite_values(name, column)
            self.frames.append(self.base.assign(**made) if made else self.base)
            self.changes.append(made)
            self._keys[key] = len(self.frames) - 1
        return self._keys[key]


def _require_finite_values(name: str, column: ArrayLike) -> None:
    """Refuse an arm whose changed numeric column has a missing or infinite value, at the door."""
    values = np.asarray(column)
    if values.dtype.kind not in "fc":
        return
    missing, infinite = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    if missing or infinite:
        found = ", ".join(
            p for p in (f"{missing} missing (NaN)" if missing else "", f"{infinite} infinite" if infinite else "") if p
        )
        raise ValueError(
            f"variables: the contrast of {name!r} sets it to {found} value(s); contrasts are computed at finite "
            "values: give finite lo/hi values, a finite step, or a function that returns finite values"
        )


def _hashable(value: Any) -> Hashable:
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def _constant_column(base: pd.DataFrame, spec: Any, name: str, value: Any) -> np.ndarray | pd.Categorical | pd.Series:
    n = len(base)
    col = base[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = list(col.cat.categories)
        model_col = spec.data[name] if name in spec.data.columns else None
        if value not in cats and model_col is not None and isinstance(model_col.dtype, pd.CategoricalDtype):
            cats = cats + [c for c in model_col.cat.categories if c not in cats]
        if value not in cats:
            cats = cats + [value]
        return pd.Categorical([value] * n, categories=cats, ordered=col.cat.ordered)
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return np.full(n, value)
    return pd.Series([value] * n, index=base.index, dtype=col.dtype if col.dtype != object else object)


def _column_like(base: pd.DataFrame, name: str, values: Any) -> np.ndarray | pd.Categorical:
    col = base[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        extra = [v for v in pd.unique(np.asarray(values, dtype=object)) if v not in col.cat.categories]
        return pd.Categorical(values, categories=list(col.cat.categories) + extra, ordered=col.cat.ordered)
    return np.asarray(values)


def custom_contrasts(arms: ArmSet, name: str, value: Any, argument: str) -> list[Contrast] | None:
    """Marginaleffects' per-row contrasts, or None for any other ``value``.

    A DataFrame with ``lo`` and ``hi`` columns (one row per newdata row), or a function of the newdata
    column returning one.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> spec = toy_spec()
    >>> arms = ArmSet(spec.data.head(3), spec)
    >>> c = custom_contrasts(arms, "TX", lambda x: pd.DataFrame({"lo": x * 0, "hi": x * 0 + 1}), "variables")[0]
    >>> arms.frames[c.hi]["TX"].tolist(), c.hi_label
    ([1, 1, 1], 'custom')
    """
    if callable(value):
        table = value(arms.base[name])
        what = f"{argument}={{{name!r}: <function>}}"
    elif isinstance(value, pd.DataFrame):
        table, what = value, f"{argument}={{{name!r}: <DataFrame>}}"
    else:
        return None
    if isinstance(table, np.ndarray) and table.ndim == 2 and table.shape[1] == 2:
        table = pd.DataFrame({"lo": table[:, 0], "hi": table[:, 1]})
    if not isinstance(table, pd.DataFrame) or not {"lo", "hi"} <= set(table.columns):
        raise ValueError(
            f"{what} must give a DataFrame with columns 'lo' and 'hi' (or a (rows, 2) array), one row "
            f"per newdata row; got {type(table).__name__}"
        )
    if len(table) != len(arms.base):
        raise ValueError(f"{what} gives {len(table)} rows but newdata has {len(arms.base)}; give one (lo, hi) per row")
    lo = arms.set_column(name, table["lo"].to_numpy())
    hi = arms.set_column(name, table["hi"].to_numpy())
    return [Contrast(term=name, lo=lo, hi=hi, hi_label="custom", lo_label="custom")]


def _fmt(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def _match_level(value: Any, levels: list, name: str, argument: str) -> Any:
    for lev in levels:
        if lev is value or (type(lev) is type(value) and lev == value):
            return lev
    for lev in levels:
        try:
            if lev == value:
                return lev
        except (TypeError, ValueError):
            pass
    for lev in levels:
        if str(lev) == str(value):
            return lev
    raise ValueError(f"{argument}: level {value!r} of {name!r} does not exist; choose two of its levels {levels}")


def categorical_contrasts(spec: Any, arms: ArmSet, name: str, kind: str, value: Any, argument: str) -> list[Contrast]:
    """Contrasts of a factor / logical / binary variable; each arm sets the whole column to one level.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> spec = toy_spec()
    >>> arms = ArmSet(spec.data, spec)
    >>> [(c.lo_label, c.hi_label) for c in categorical_contrasts(spec, arms, "TX", "binary", None, "variables")]
    [('0', '1')]
    """
    levels = levels_of(spec, name, kind)
    if value is None:
        value = "reference"
    if isinstance(value, str):
        if value not in CATEGORICAL_SHORTCUTS:
            hint = (
                f"{name!r} is {kind} (levels {levels}); a numeric shortcut such as {value!r} applies to "
                "numeric variables only. "
                if value in NUMERIC_SHORTCUTS
                else f"{name!r} is {kind}. "
            )
            raise ValueError(
                f"{argument}={{{name!r}: {value!r}}}: {hint}Use one of {list(CATEGORICAL_SHORTCUTS)} or a "
                f"pair of levels such as {[_fmt(levels[0]), _fmt(levels[-1])]}"
            )
        pairs = _level_pairs(levels, value)
    elif isinstance(value, (list, tuple, np.ndarray, pd.Index)) and len(value) == 2:
        where = f"{argument}={{{name!r}: {list(value)!r}}}"
        pairs = [(_match_level(value[0], levels, name, where), _match_level(value[1], levels, name, where))]
    else:
        raise ValueError(
            f"{argument}={{{name!r}: {value!r}}}: {name!r} is {kind} (levels {levels}); a numeric step "
            f"applies to numeric variables only. Use one of {list(CATEGORICAL_SHORTCUTS)} or a pair of "
            f"levels such as {[_fmt(levels[0]), _fmt(levels[-1])]}"
        )
    return [
        Contrast(
            term=name, lo=arms.set_value(name, lo), hi=arms.set_value(name, hi), hi_label=_fmt(hi), lo_label=_fmt(lo)
        )
        for lo, hi in pairs
    ]


def _level_pairs(levels: list, how: str) -> list[tuple]:
    """``(lo, hi)`` level pairs: each contrast's ``hi`` compared with its ``lo``."""
    if len(levels) < 2:
        raise ValueError(f"a contrast needs at least two levels, found {levels}")
    return [(levels[lo], levels[hi]) for hi, lo in index_pairs(len(levels), how)]


def numeric_contrasts(spec: Any, arms: ArmSet, name: str, value: Any, argument: str) -> list[Contrast]:
    """Contrasts of a numeric variable, as marginaleffects builds them.

    ``None``/a number ``k``: lo = x, hi = x + k (per row; label ``"+k"``).  ``"sd"``:
    mean ± sd/2; ``"2sd"``: mean ± sd (sd with ddof=1, mean and sd of the model data,
    as marginaleffects); ``"iqr"``: 25% and 75% quantiles; ``"minmax"``: min and max;
    a pair: its sorted values.  Every non-step contrast sets the whole column.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> spec = toy_spec()
    >>> arms = ArmSet(spec.data, spec)
    >>> c = numeric_contrasts(spec, arms, "TX", "minmax", "variables")[0]
    >>> (c.lo_label, c.hi_label), float(arms.frames[c.hi]["TX"].iloc[0])
    (('Min', 'Max'), 1.0)
    """
    x = pd.to_numeric(spec.data[name], errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    if value is None:
        value = 1
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{argument}={{{name!r}: {value!r}}}: give a numeric step such as 1, not a boolean")
    if isinstance(value, (int, float, np.integer, np.floating)):
        step = float(value)
        if not np.isfinite(step):
            raise ValueError(f"{argument}={{{name!r}: {value!r}}}: the step must be a finite number such as 1")
        return [
            Contrast(
                term=name,
                lo=arms.shift(name, 0.0),
                hi=arms.shift(name, step),
                hi_label="",
                lo_label="",
                step_label=f"+{_fmt(value)}",
            )
        ]
    if isinstance(value, str):
        if value not in NUMERIC_SHORTCUTS:
            raise ValueError(
                f"{argument}={{{name!r}: {value!r}}}: {name!r} is numeric; use a step such as 1, one of "
                f"{list(NUMERIC_SHORTCUTS)}, or a pair of values such as [{_fmt(x.min())}, {_fmt(x.max())}]"
            )
        m, s = x.mean(), x.std(ddof=1)
        lo, hi, lo_lab, hi_lab = {
            "sd": (m - s / 2, m + s / 2, "x - sd/2", "x + sd/2"),
            "2sd": (m - s, m + s, "x - sd", "x + sd"),
            "iqr": (*np.quantile(x, [0.25, 0.75]), "Q1", "Q3"),
            "minmax": (x.min(), x.max(), "Min", "Max"),
        }[value]
        c = Contrast(
            term=name,
            lo=arms.set_value(name, float(lo)),
            hi=arms.set_value(name, float(hi)),
            hi_label=hi_lab,
            lo_label=lo_lab,
        )
        if value in ("sd", "2sd"):
            c.hi_label, c.lo_label = f"({hi_lab})", f"({lo_lab})"
        return [c]
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 2:
        try:
            lo, hi = sorted(float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{argument}={{{name!r}: {value!r}}}: {name!r} is numeric; a pair must hold two numbers"
            ) from None
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(
                f"{argument}={{{name!r}: {value!r}}}: both values must be finite numbers (no NaN or inf), "
                f"e.g. [{_fmt(x.min())}, {_fmt(x.max())}]"
            )
        return [
            Contrast(
                term=name,
                lo=arms.set_value(name, lo),
                hi=arms.set_value(name, hi),
                hi_label=_fmt(hi),
                lo_label=_fmt(lo),
            )
        ]
    raise ValueError(
        f"{argument}={{{name!r}: {value!r}}} is not understood; {name!r} is numeric: use a step such as 1, "
        f"one of {list(NUMERIC_SHORTCUTS)}, or a pair of values"
    )
