"""What every verb does last: convergence check, ``hypothesis``/``equivalence``, then ``transform``.

The order is marginaleffects': the hypothesis (and its probabilities, evidence
ratios and ROPE shares) is computed on the verb's own scale, and ``transform`` is
applied to the draws last (``comparison="lnor", transform="exp", hypothesis="b1 = b2"``
is the ratio of two odds ratios).
"""

from __future__ import annotations

import re

from ..estimands.comparisons import apply_transform, resolve_transform
from ..results import Result, require_finite
from .call import Call
from .distributed import LazyDraws
from .hypotheses import hypotheses


def finish_result(call: Call, result: Result | LazyDraws) -> Result | LazyDraws:
    """The verb's final result: ``call``'s hypothesis and equivalence, then its transform."""
    if isinstance(result, LazyDraws):
        return result
    if call.hypothesis is not None or call.equivalence is not None:
        result = hypotheses(result, call.hypothesis, equivalence=call.equivalence, bayes_factor=call.bayes_factor)
    fn = resolve_transform(call.transform)
    if fn is None:
        return result
    return transformed(result, fn, transform_name(call.transform))


def transformed(result: Result, fn, name: str) -> Result:
    """``result`` with ``fn`` applied to every draw; a ``contrast`` label says so (``exp(ln(a / b))`` -> ``a / b``).

    Evidence columns of a hypotheses result stay on the scale before the transform.
    """
    values = require_finite(
        apply_transform(fn, result.draws), f"transform={name!r}", "the transform must map every draw to a finite number"
    )
    grid = result.grid.copy()
    if "contrast" in grid.columns:
        grid["contrast"] = [transform_label(str(c), name) for c in grid["contrast"]]
    changes: dict = {"draws": values, "grid": grid, "call": None}
    if hasattr(result, "basis"):
        changes["basis"] = result.basis if result.basis is not None else result.draws
    return result.replace(**changes)


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
