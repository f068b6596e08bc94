"""What each verb computes, as engine quantities: one entry per verb in :data:`VERBS`.

A :class:`VerbRules` checks the verb's own arguments, builds its output blocks
(:class:`Term`: a contrast, the rule comparing its arms, its label) and says what
to tell the user when a rule yields NaN or ±inf.  ``predictions`` has no terms:
its one quantity is the value of its single arm.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..estimands.comparisons import Rule, comparison_rule, label_contrast
from ..estimands.contrasts import ArmSet, Contrast, categorical_contrasts, custom_contrasts, numeric_contrasts
from ..estimands.slopes import check_slope, default_eps, slope_rule
from ..estimands.variables import contrast_kind, parse_variables
from ..model.spec import ModelSpec
from ..results import OVERFLOW_FIX
from .call import Call


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


@dataclass(frozen=True)
class VerbRules:
    """A verb's own checks, terms and message for undefined values."""

    check: Callable[[Call], None]
    terms: Callable[[Call, ModelSpec, ArmSet, bool], list[Term]] | None
    """``terms(call, spec, arms, averaged)``; None for ``predictions``."""
    undefined: Callable[[Call, ModelSpec], tuple[str, str]]
    """``(what, fix)`` for the error raised when the values are not finite."""


# --------------------------------------------------------------------------- predictions


def _check_predictions(call: Call) -> None:
    if call.type == "log_lik":
        raise ValueError("type='log_lik' is not a type of predictions: use mixeff.log_lik(fit, newdata)")


def _check_log_lik(call: Call) -> None:
    assert call.type == "log_lik" and call.dpar is None and call.by is None  # as mixeff.log_lik builds it


def _log_lik_undefined(call: Call, spec: ModelSpec) -> tuple[str, str]:
    return (
        f"log_lik (family {spec.family.name!r})",
        "the observed response is impossible under some draws' parameters (a density of 0, e.g. a mean "
        "parameter of exactly 0 or 1, or η beyond ±709 with a log link); check the response and the predictors",
    )


def _predictions_undefined(call: Call, spec: ModelSpec) -> tuple[str, str]:
    return f"predictions (type={call.type!r}, family {spec.family.name!r})", OVERFLOW_FIX


# --------------------------------------------------------------------------- comparisons


def _check_comparisons(call: Call) -> None:
    comparison_rule(call.comparison)
    if not isinstance(call.cross, bool):
        raise TypeError(f"cross={call.cross!r} must be True or False")


def _comparison_terms(call: Call, spec: ModelSpec, arms: ArmSet, averaged: bool) -> list[Term]:
    rule = comparison_rule(call.comparison)
    per_variable = []
    for name, value in parse_variables(spec, call.variables).items():
        made = custom_contrasts(arms, name, value, "variables")
        if made is None and contrast_kind(spec.data[name]) == "numeric":
            made = numeric_contrasts(spec, arms, name, value, "variables")
        elif made is None:
            made = categorical_contrasts(spec, arms, name, contrast_kind(spec.data[name]), value, "variables")
        per_variable.append(made)
    if call.cross:
        return cross_terms(arms, per_variable, rule, averaged)
    return [Term(c, rule, label_contrast(c, rule, averaged)) for made in per_variable for c in made]


def _comparisons_undefined(call: Call, spec: ModelSpec) -> tuple[str, str]:
    what = f"comparison={call.comparison!r}"
    if call.comparison == "difference":
        return what, OVERFLOW_FIX
    return what, (
        f"ratios need non-zero predictions, lnratio positive ones and lnor values in (0, 1) (family "
        f"{spec.family.name!r}, type={call.type!r}); use comparison='difference', or check newdata for "
        "extreme values"
    )


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


# --------------------------------------------------------------------------- slopes


def _check_slopes(call: Call) -> None:
    check_slope(call.slope)
    eps = call.eps
    if eps is not None and (isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating))):
        raise TypeError(f"eps={eps!r} must be a positive number (the finite-difference step)")
    if eps is not None and not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps={eps!r} must be a positive number (the finite-difference step)")


def _slope_terms(call: Call, spec: ModelSpec, arms: ArmSet, averaged: bool) -> list[Term]:
    variables = call.variables
    if isinstance(variables, dict):
        bad = [k for k, v in variables.items() if v is not None and contrast_kind(spec.data[k]) == "numeric"]
        if bad:
            raise ValueError(
                f"variables={variables!r}: slopes take no contrast for numeric variables {bad}; "
                "pass their names only (use comparisons() for finite steps)"
            )
    difference = comparison_rule("difference")
    terms = []
    for name, value in parse_variables(spec, variables).items():
        kind = contrast_kind(spec.data[name])
        if kind != "numeric":
            terms += [
                Term(c, difference, label_contrast(c, difference, averaged))
                for c in categorical_contrasts(spec, arms, name, kind, value, "variables")
            ]
            continue
        h = call.eps if call.eps is not None else default_eps(spec, name)
        lo, hi = arms.shift(name, -h / 2), arms.shift(name, h / 2)
        step = arms.frames[hi][name].to_numpy(dtype=float) - arms.frames[lo][name].to_numpy(dtype=float)
        rule = slope_rule(call.slope, step)
        x = pd.to_numeric(arms.base[name], errors="coerce").to_numpy(dtype=float) if call.slope != "dydx" else None
        contrast = Contrast(term=name, lo=lo, hi=hi, hi_label="", lo_label="")
        terms.append(Term(contrast, rule, rule.avg_template if averaged else rule.template, x))
    return terms


def _slopes_undefined(call: Call, spec: ModelSpec) -> tuple[str, str]:
    if call.slope == "dydx":
        return f"slope={call.slope!r}", OVERFLOW_FIX
    return (
        f"slope={call.slope!r}",
        "elasticities divide by the prediction and by x: use slope='dydx' where they are zero",
    )


VERBS: dict[str, VerbRules] = {
    "predictions": VerbRules(_check_predictions, None, _predictions_undefined),
    "log_lik": VerbRules(_check_log_lik, None, _log_lik_undefined),
    "comparisons": VerbRules(_check_comparisons, _comparison_terms, _comparisons_undefined),
    "slopes": VerbRules(_check_slopes, _slope_terms, _slopes_undefined),
}


def contrast_grid(terms: list[Term], rows: pd.DataFrame) -> pd.DataFrame:
    """``term``, ``contrast``, then the newdata columns (per row) or the ``by`` columns.

    Examples
    --------
    >>> c = Contrast(term="TX", lo=0, hi=1, hi_label="1", lo_label="0")
    >>> grid = contrast_grid([Term(c, comparison_rule("difference"), "1 - 0")], pd.DataFrame({"g": ["a", "b"]}))
    >>> grid.columns.tolist()
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
