"""One pass of the engine over one frame, reduced per row or per ``by`` group.

The path :func:`mixeff.predictions` takes from user arguments to draws; the
contrast verbs take the same engine through :mod:`mixeff.contrast_pass`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .engine import Call, prepare, stream
from .random_effects import parse_re_formula
from .reduce import GroupMeans, RowDraws, grouping
from .spec import ModelSpec

__all__ = ["evaluate_frame", "excluded_factors"]


def excluded_factors(spec: ModelSpec, re_formula) -> list[str]:
    included = parse_re_formula(spec, re_formula)
    return [g for g in spec.groups if g not in included]


def evaluate_frame(
    spec: ModelSpec,
    frame: pd.DataFrame,
    *,
    by: list[str] | None,
    wts=None,
    type: str = "response",
    re_formula=None,
    allow_new_levels: bool = False,
    sample_new_levels: str = "uncertainty",
    seed=None,
    chunk_rows=None,
    progress=None,
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """``(rows, S)`` draws and None, or ``(groups, S)`` within-draw means and the ``by`` keys."""
    groups = grouping(frame, by, wts)
    call = Call.make(
        spec, [frame], type=type, re_formula=re_formula, allow_new_levels=allow_new_levels,
        sample_new_levels=sample_new_levels, seed=seed,
    )
    reducer = RowDraws(len(frame), spec.n_samples) if groups is None else GroupMeans(groups, spec.n_samples)
    values = stream(call, [prepare(call, frame)], reducer, chunk_rows=chunk_rows, progress=progress)
    return (values, None) if groups is None else (values[0], groups.keys)
