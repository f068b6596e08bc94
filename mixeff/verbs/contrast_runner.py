"""What ``comparisons`` and ``slopes`` share: validate → build arms and rules → one engine pass → Result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..engine.passes import ArmPass, PairQuantity, require_memory, run
from ..engine.reduce import grouping
from ..estimands.comparisons import Rule, apply_transform, resolve_transform
from ..estimands.contrasts import ArmSet, Contrast
from ..results import Result, require_finite
from .credentials import check_convergence, new_level_credentials
from .inputs import category_grouping, contrast_by, open_call


@dataclass
class Term:
    """One output block: a contrast, the rule that compares its arms, its label."""

    contrast: Contrast
    rule: Rule
    label: str
    x: np.ndarray | None = None
    """The focal variable's original values, for rules that read ``p.x`` or ``p.orig``."""


def contrast_result(
    kind: str, fit, build: Callable[[object, ArmSet, bool], list[Term]], *, newdata, by, wts, type, dpar,
    transform, re_formula, allow_new_levels, sample_new_levels, seed, draws, conf_level, estimator,
    interval, chunk_rows, progress, undefined: Callable[[object], tuple[str, str]],
) -> Result:
    """Run ``build(spec, arms, averaged)``'s terms through one engine pass and wrap the draws.

    ``undefined(spec)`` gives ``(what, fix)`` for the error raised when a rule yields NaN or ±inf.
    """
    spec, options, frame = open_call(
        fit, draws, newdata, conf_level=conf_level, estimator=estimator, interval=interval, type=type, dpar=dpar,
        re_formula=re_formula, allow_new_levels=allow_new_levels, sample_new_levels=sample_new_levels, seed=seed,
        chunk_rows=chunk_rows, progress=progress)
    by_cols, wts = category_grouping(spec, frame, contrast_by(by, frame), wts)
    fn = resolve_transform(transform)
    arms = ArmSet(frame, spec)
    terms = build(spec, arms, by_cols is not None)
    original = arms.original() if any(t.x is not None for t in terms) else None
    quantities = [PairQuantity(t.rule, t.contrast.lo, t.contrast.hi, original, t.x) for t in terms]
    groups = grouping(frame, by_cols, wts)
    require_memory(len(terms), len(frame), groups, spec.n_samples)
    arm_pass = ArmPass(spec, arms.frames, options)
    values = run(arm_pass, quantities, groups).reshape(-1, spec.n_samples)
    credentials = new_level_credentials(arm_pass, values, fn)
    require_finite(values, *undefined(spec))
    if fn is not None:
        values = require_finite(apply_transform(fn, values), f"transform={getattr(transform, '__name__', transform)!r}",
                                "the transform must map every draw to a finite number")
    result = Result(
        contrast_grid(terms, frame if groups is None else groups.keys), values, spec.n_chains, spec.n_draws,
        kind=kind, type=type, source=spec.source, conf_level=conf_level, estimator=estimator, interval=interval,
        new_levels=credentials,
    )
    check_convergence(fit, result)
    return result


def contrast_grid(terms: list[Term], rows: pd.DataFrame) -> pd.DataFrame:
    """``term``, ``contrast``, then the newdata columns (per row) or the ``by`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from mixeff.estimands.comparisons import comparison_rule
    >>> c = Contrast(term="TX", lo=0, hi=1, hi_label="1", lo_label="0")
    >>> contrast_grid([Term(c, comparison_rule("difference"), "1 - 0")], pd.DataFrame({"g": ["a", "b"]})).columns.tolist()
    ['term', 'contrast', 'g']
    """
    rest = rows.drop(columns=[c for c in ("term", "contrast") if c in rows.columns]).reset_index(drop=True)
    blocks = []
    for t in terms:
        head = pd.DataFrame({"term": [t.contrast.term] * len(rest), "contrast": [t.label] * len(rest)})
        blocks.append(pd.concat([head, rest], axis=1))
    return pd.concat(blocks, ignore_index=True)
