"""One pass of the engine over aligned frames ("arms"), reduced per row or per ``by`` group.

This is the single path every verb takes from user arguments to draws:
random-effects plan for all arms at once (so new levels are shared), designs
built once per arm, then a streamed reduction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engine import Call, prepare, stream
from .random_effects import parse_re_formula
from .reduce import GroupMeans, RowDraws, group_codes, normalised_weights
from .spec import ModelSpec

__all__ = ["Evaluation", "evaluate_arms", "excluded_factors"]


@dataclass
class Evaluation:
    values: np.ndarray
    """Per row: ``(rows, S)``; with ``by``: ``(arms or 1, groups, S)``."""
    keys: pd.DataFrame | None
    """The ``by`` groups (one row each), or None for per-row results."""
    new_levels: dict[str, list[str]]


def excluded_factors(spec: ModelSpec, re_formula) -> list[str]:
    included = parse_re_formula(spec, re_formula)
    return [g for g in spec.groups if g not in included]


def evaluate_arms(
    spec: ModelSpec,
    frames: list[pd.DataFrame],
    *,
    by: list[str] | None,
    wts=None,
    type: str = "response",
    re_formula=None,
    allow_new_levels: bool = False,
    sample_new_levels: str = "uncertainty",
    seed=None,
    combine=None,
    chunk_rows=None,
    progress=None,
) -> Evaluation:
    """Run the engine on aligned ``frames``.

    ``combine(blocks)`` merges the arms' ``(chunk, S)`` blocks row by row (e.g. a
    difference); without it, per-row mode returns the first arm and ``by`` mode
    keeps one weighted mean per arm, so the caller can compare averages.
    """
    call = Call.make(
        spec, frames, type=type, re_formula=re_formula, allow_new_levels=allow_new_levels,
        sample_new_levels=sample_new_levels, seed=seed,
    )
    designs = [prepare(call, f) for f in frames]
    new_levels = {p.group.name: p.new_levels for p in call.plans if p.new_levels}
    base = frames[0]
    if by is None:
        if wts is not None:
            raise ValueError("wts needs by= (or an avg_* verb): weights are used to average rows")
        reducer = RowDraws(len(base), spec.n_samples, combine)
        return Evaluation(stream(call, designs, reducer, chunk_rows=chunk_rows, progress=progress), None, new_levels)
    codes, keys = group_codes(base, by)
    weights = normalised_weights(base, wts, codes, keys)
    reducer = GroupMeans(codes, len(keys), weights, spec.n_samples, n_arms=len(frames), combine=combine)
    values = stream(call, designs, reducer, chunk_rows=chunk_rows, progress=progress)
    return Evaluation(values, keys if by else pd.DataFrame(index=[0]), new_levels)
