"""Checking what users pass, once, before any draw is touched.

Every error names the argument, the bad value and the fix.
"""

from __future__ import annotations

import pandas as pd

from .spec import ModelSpec

__all__ = ["resolve_spec", "check_newdata", "as_by", "check_columns"]


def resolve_spec(fit, draws: str = "posterior") -> ModelSpec:
    """The spec of a fit (MixedFit, or a ModelSpec passed directly) for the chosen draws."""
    if isinstance(fit, ModelSpec):
        if draws != fit.source:
            raise ValueError(f"draws={draws!r} but this spec holds {fit.source} draws")
        return fit
    spec_of = getattr(fit, "spec", None)
    if spec_of is None:
        raise ValueError(
            f"expected a mixeff fit (mixeff.fit, mixeff.from_bambi) or ModelSpec, got {type(fit).__name__}"
        )
    return spec_of(draws)


def check_columns(frame: pd.DataFrame, columns, argument: str, what: str = "newdata") -> list[str]:
    cols = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{argument}: {missing} not a column of {what}; available columns: {list(frame.columns)}"
        )
    return cols


def check_newdata(spec: ModelSpec, newdata, excluded_factors=()) -> pd.DataFrame:
    """The frame to predict on: the model's data by default; needed columns present and complete."""
    if newdata is None:
        frame = spec.data
    elif isinstance(newdata, pd.DataFrame):
        frame = newdata
    else:
        raise ValueError(f"newdata must be a pandas DataFrame (e.g. from mixeff.datagrid), got {type(newdata).__name__}")
    if len(frame) == 0:
        raise ValueError("newdata has no rows")
    skip = {c for g in excluded_factors for c in spec.groups[g].columns}
    needed = [c for c in spec.predictors if c not in skip]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"newdata lacks column(s) {missing} that the model needs; add them (mixeff.datagrid "
            "fills unspecified predictors with their mean or mode)"
        )
    for c in needed:
        n_missing = int(frame[c].isna().sum())
        if n_missing:
            raise ValueError(
                f"newdata column {c!r} has {n_missing} missing value(s) (NaN); drop or fill those rows"
            )
    return frame.reset_index(drop=True)


def as_by(by, frame: pd.DataFrame) -> list[str] | None:
    """``None``/``False`` -> per row; ``True`` -> one overall group; names -> those columns."""
    if by is None or by is False:
        return None
    if by is True:
        return []
    return check_columns(frame, by, f"by={by!r}")

