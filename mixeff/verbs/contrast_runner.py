"""What ``comparisons`` and ``slopes`` share: validate → build arms and rules → one engine pass → Result."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine.passes import ArmPass, PairQuantity, require_memory, run
from ..engine.reduce import grouping
from ..estimands.comparisons import Rule, comparison_rule, label_contrast, resolve_transform
from ..estimands.contrasts import ArmSet, Contrast
from ..results import Result, require_finite
from .credentials import new_level_credentials
from .finish import finish
from .inputs import by_frame, category_grouping, contrast_by, model_weights, open_call


@dataclass
class Term:
    """One output block: a contrast, the rule that compares its arms, its label."""

    contrast: Contrast
    rule: Rule
    label: str
    x: np.ndarray | None = None
    """The focal variable's original values, for rules that read ``p.x`` or ``p.orig``."""
    parts: dict[str, str] | None = None
    """With ``cross=True``: each variable's own contrast label (``contrast_<name>`` columns)."""


def cross_terms(arms: ArmSet, per_variable: list[list[Contrast]], rule: Rule, averaged: bool) -> list[Term]:
    """``cross=True``: every combination of the variables' contrasts, all variables changed at once."""
    if len(per_variable) < 2:
        raise ValueError("cross=True needs at least two variables (it changes them together); name them in variables=")
    terms = []
    for combo in itertools.product(*per_variable):
        lo = arms.combined([c.lo for c in combo])
        hi = arms.combined([c.hi for c in combo])
        labels = {c.term: label_contrast(c, rule, averaged) for c in combo}
        contrast = Contrast(term="cross", lo=lo, hi=hi, hi_label="", lo_label="")
        terms.append(Term(contrast, rule, ", ".join(labels.values()), parts=labels))
    return terms


def contrast_result(
    kind: str,
    fit,
    build: Callable[[object, ArmSet, bool], list[Term]],
    *,
    newdata,
    by,
    wts,
    type,
    dpar,
    transform,
    hypothesis,
    equivalence,
    re_formula,
    allow_new_levels,
    sample_new_levels,
    seed,
    draws,
    ndraws,
    draw_ids,
    conf_level,
    estimator,
    interval,
    chunk_rows,
    progress,
    n_jobs,
    undefined: Callable[[object], tuple[str, str]],
    rerun: Callable[[str], Result],
) -> Result:
    """Run ``build(spec, arms, averaged)``'s terms through one engine pass and wrap the draws.

    ``undefined(spec)`` gives ``(what, fix)`` for the error raised when a rule yields NaN or ±inf;
    ``rerun(draws)`` repeats the call on other draws (for Bayes factors, see :func:`~.finish.finish`).
    """
    spec, options, frame = open_call(
        fit,
        draws,
        newdata,
        conf_level=conf_level,
        estimator=estimator,
        interval=interval,
        ndraws=ndraws,
        draw_ids=draw_ids,
        by=by,
        type=type,
        dpar=dpar,
        re_formula=re_formula,
        allow_new_levels=allow_new_levels,
        sample_new_levels=sample_new_levels,
        seed=seed,
        chunk_rows=chunk_rows,
        progress=progress,
        n_jobs=n_jobs,
    )
    frame, by = by_frame(frame, by)
    by_cols, wts = category_grouping(spec, frame, contrast_by(by, frame), model_weights(wts))
    fn = resolve_transform(transform)
    arms = ArmSet(frame, spec)
    terms = build(spec, arms, by_cols is not None)
    groups = grouping(frame, by_cols, wts)
    if any(t.rule.aggregate for t in terms):
        values, grid_rows, credentials = _aggregated(spec, arms, terms, groups, options, wts)
    else:
        original = arms.original() if any(t.x is not None for t in terms) else None
        quantities = [PairQuantity(t.rule, t.contrast.lo, t.contrast.hi, original, t.x) for t in terms]
        require_memory(len(terms), len(frame), groups, spec.n_samples)
        arm_pass = ArmPass(spec, arms.frames, options)
        values = run(arm_pass, quantities, groups).reshape(-1, spec.n_samples)
        grid_rows = frame if groups is None else groups.keys
        credentials = new_level_credentials(arm_pass, values, fn)
    require_finite(values, *undefined(spec))
    result = Result(
        contrast_grid(terms, grid_rows),
        values,
        spec.n_chains,
        spec.n_draws,
        kind=kind,
        type=type,
        source=spec.source,
        conf_level=conf_level,
        estimator=estimator,
        interval=interval,
        new_levels=credentials,
        selection=spec.selection,
    )
    return finish(
        fit,
        result,
        transform=transform,
        hypothesis=hypothesis,
        equivalence=equivalence,
        rerun=rerun,
        response=spec.response,
    )


_ARM = {"hi": comparison_rule(lambda hi, lo: hi), "lo": comparison_rule(lambda hi, lo: lo)}


def _aggregated(spec, arms: ArmSet, terms: list[Term], groups, options, wts):
    """A comparison function that returns one value per draw (marginaleffects' ``function(hi, lo)
    mean(hi - lo)``): every row's hi and lo draws are computed, then the function is applied per term
    (and per ``by`` group) to the ``(rows, S)`` arrays.
    """
    if wts is not None:
        raise ValueError(
            "wts: a comparison function that returns one value per draw does its own averaging; "
            "weigh inside the function, or return one value per row and draw to use wts"
        )
    quantities = [PairQuantity(_ARM[side], t.contrast.lo, t.contrast.hi) for t in terms for side in ("hi", "lo")]
    n = arms.frames[0].shape[0]
    require_memory(len(quantities), n, None, spec.n_samples)
    arm_pass = ArmPass(spec, arms.frames, options)
    draws = run(arm_pass, quantities, None).reshape(len(terms), 2, n, spec.n_samples)
    blocks = [np.arange(n)] if groups is None else [np.flatnonzero(groups.codes == g) for g in range(len(groups.keys))]
    values = np.vstack(
        [t.rule.apply_draws(draws[i, 0][rows], draws[i, 1][rows]) for i, t in enumerate(terms) for rows in blocks]
    )
    keys = pd.DataFrame(index=[0]) if groups is None else groups.keys
    return values, keys, arm_pass.new_level_record()


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
        for name, label in (t.parts or {}).items():
            head[f"contrast_{name}"] = label
        blocks.append(pd.concat([head, rest], axis=1))
    return pd.concat(blocks, ignore_index=True)
