"""What every verb does last: convergence check, ``hypothesis``/``equivalence``, then ``transform``.

The order is marginaleffects': the hypothesis (and its probabilities, evidence
ratios and ROPE shares) is computed on the verb's own scale, and ``transform`` is
applied to the draws last (``comparison="lnor", transform="exp", hypothesis="b1 = b2"``
is the ratio of two odds ratios).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

from ..estimands.comparisons import apply_transform, resolve_transform
from ..results import Result, require_finite
from .credentials import check_convergence


def finish(
    fit,
    result: Result,
    *,
    transform=None,
    hypothesis=None,
    equivalence=None,
    rerun: Callable[[str], Result] | None = None,
    response: str | None = None,
) -> Result:
    """The verb's final result.  ``rerun(draws)`` recomputes the untransformed result on other draws
    (used for Savage–Dickey Bayes factors of point hypotheses when the fit has prior draws);
    ``response`` names the fit's response column for plots.
    """
    check_convergence(fit, result)
    result.response = response
    if rerun is not None and result.source == "posterior" and "prior" in getattr(fit, "available_draws", ()):
        result.rerun = rerun
    if hypothesis is not None or equivalence is not None:
        from .hypotheses import hypotheses

        result = hypotheses(result, hypothesis, equivalence=equivalence)
    fn = resolve_transform(transform)
    if fn is None:
        return result
    return transformed(result, fn, transform_name(transform))


def transformed(result: Result, fn, name: str) -> Result:
    """``result`` with ``fn`` applied to every draw; a ``contrast`` label says so (``exp(ln(a / b))`` -> ``a / b``).
    Evidence columns of a hypotheses result stay on the scale before the transform.
    """
    values = require_finite(
        apply_transform(fn, result.draws), f"transform={name!r}", "the transform must map every draw to a finite number"
    )
    out = copy.copy(result)
    if hasattr(result, "basis"):
        out.basis = result.basis if result.basis is not None else result.draws
    out.draws = values
    out.grid = result.grid.copy()
    if "contrast" in out.grid.columns:
        out.grid["contrast"] = [transform_label(str(c), name) for c in out.grid["contrast"]]
    out._summary = None
    out._diagnostics = {}
    out.rerun = None
    return out


def transform_name(transform) -> str:
    """``"exp"`` for ``"exp"`` or ``numpy.exp``; ``"transform"`` for an anonymous function.

    Examples
    --------
    >>> import numpy as np
    >>> transform_name(np.exp), transform_name(lambda x: x), transform_name("invlogit")
    ('exp', 'transform', 'invlogit')
    """
    if isinstance(transform, str):
        return transform
    name = getattr(transform, "__name__", "")
    return name if name.isidentifier() else "transform"


def transform_label(label: str, name: str) -> str:
    """A contrast label after a transform: ``exp`` undoes an outer ``ln(...)``, others wrap it.

    Examples
    --------
    >>> transform_label("ln(odds(1) / odds(0))", "exp"), transform_label("1 - 0", "exp")
    ('odds(1) / odds(0)', 'exp(1 - 0)')
    """
    if name == "exp" and label.startswith("ln(") and label.endswith(")") and _balanced(label[3:-1]):
        return label[3:-1]
    return f"{name}({label})"


def _balanced(text: str) -> bool:
    depth = 0
    for ch in re.sub(r"[^()]", "", text):
        depth += 1 if ch == "(" else -1
        if depth < 0:
            return False
    return depth == 0
