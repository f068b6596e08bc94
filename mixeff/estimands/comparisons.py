"""Comparison rules (difference, ratio, lnratio, lnor, lift, or a function) and transforms.

Each rule says how a contrast's two arms become its quantity per row, and with
``by`` which within-draw means to accumulate and how to combine them
(marginaleffects' "avg" forms, e.g. ratio -> mean(hi) / mean(lo)).

Rules read a *pair* ``p`` (built by the engine): ``p.lo``, ``p.hi`` (``(chunk, S)``
values of the two arms), ``p.diff`` (``hi − lo``, exact where the model allows),
``p.orig`` (values at the original frame), ``p.x`` (the focal variable) and
``p.rows`` (the chunk's row slice).  Every comparison is defined once, in
:data:`COMPARISONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from .contrasts import Contrast

TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "ln": np.log,
    "log": np.log,
    "expm1": np.expm1,
    "log1p": np.log1p,
    "invlogit": special.expit,
    "expit": special.expit,
    "logit": special.logit,
    "identity": lambda x: x,
}
"""``transform=`` names: applied to every draw after the comparison (and after averaging)."""


# --------------------------------------------------------------------------- comparison rules


@dataclass
class Rule:
    """How one contrast turns arm draws into its quantity.

    ``per_row(p)`` returns the per-row ``(chunk, S)`` value.  With ``by``,
    ``parts(p)`` lists the per-row quantities whose within-draw (weighted) means
    are accumulated, and ``finish(means)`` maps those ``(k, G, S)`` means to the
    ``(G, S)`` result — marginaleffects' "avg" forms, e.g. ratio → mean(hi)/mean(lo).
    """

    name: str
    per_row: Callable | None
    """None for an aggregating function (``aggregate``)."""
    parts: Callable | None
    finish: Callable | None
    template: str
    avg_template: str
    aggregate: Callable | None = None
    """A user function ``f(hi, lo)`` that returns one value per draw from ``(rows, S)`` arrays (it averages
    itself): applied to all rows at once (per ``by`` group) instead of row by row."""

    def apply_draws(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """``(1, S)``: the aggregating function on every row's draws."""
        assert self.aggregate is not None  # only an aggregating rule's draws go here
        with np.errstate(all="ignore"):
            out = np.asarray(self.aggregate(hi, lo), dtype=np.float64)
        if out.size != hi.shape[1]:
            raise ValueError(
                f"comparison function returned shape {out.shape} for (rows, draws) = {hi.shape}; it must "
                "return one value per row and draw, or one value per draw"
            )
        return out.reshape(1, -1)


def _logit_diff(hi, lo):
    return special.logit(hi) - special.logit(lo)


COMPARISONS: dict[str, Rule] = {
    "difference": Rule(
        "difference", lambda p: p.diff, lambda p: [p.diff], lambda m: m[0], "{hi} - {lo}", "{hi} - {lo}"
    ),
    "ratio": Rule(
        "ratio",
        lambda p: p.hi / p.lo,
        lambda p: [p.hi, p.lo],
        lambda m: m[0] / m[1],
        "{hi} / {lo}",
        "mean({hi}) / mean({lo})",
    ),
    "lnratio": Rule(
        "lnratio",
        lambda p: np.log1p(p.diff / p.lo),
        lambda p: [p.hi, p.lo],
        lambda m: np.log(m[0] / m[1]),
        "ln({hi} / {lo})",
        "ln(mean({hi}) / mean({lo}))",
    ),
    "lnor": Rule(
        "lnor",
        lambda p: _logit_diff(p.hi, p.lo),
        lambda p: [p.hi, p.lo],
        lambda m: _logit_diff(m[0], m[1]),
        "ln(odds({hi}) / odds({lo}))",
        "ln(odds({hi}) / odds({lo}))",
    ),
    "lift": Rule(
        "lift",
        lambda p: p.diff / p.lo,
        lambda p: [p.diff, p.lo],
        lambda m: m[0] / m[1],
        "({hi} - {lo}) / {lo}",
        "mean({hi} - {lo}) / mean({lo})",
    ),
}
"""marginaleffects' comparisons by name: the one place each is defined."""


def comparison_rule(comparison: str | Callable) -> Rule:
    """The rule for a comparison name or a function ``f(hi, lo)`` of ``(rows, S)`` draws.

    Examples
    --------
    >>> rule = comparison_rule("ratio")
    >>> rule.template.format(hi="1", lo="0"), rule.avg_template.format(hi="1", lo="0")
    ('1 / 0', 'mean(1) / mean(0)')
    """
    if callable(comparison) and _returns_one_per_draw(comparison):
        return Rule("custom", None, None, None, "custom({hi}, {lo})", "custom({hi}, {lo})", aggregate=comparison)
    if callable(comparison):

        def row(p):
            out = np.asarray(comparison(p.hi, p.lo), dtype=float)
            if out.shape != p.lo.shape:
                raise ValueError(
                    f"comparison function returned shape {out.shape} for inputs of shape {p.lo.shape}; it "
                    "must work element by element on (rows, draws) arrays of hi and lo predictions "
                    "(with by=, mixeff averages its values within each draw)"
                )
            return out

        return Rule(
            "custom",
            lambda p: row(p),
            lambda p: [row(p)],
            lambda m: m[0],
            "custom({hi}, {lo})",
            "mean(custom({hi}, {lo}))",
        )
    if not isinstance(comparison, str):
        raise TypeError(
            f"comparison={comparison!r} must be one of {list(COMPARISONS)} or a function f(hi, lo) of the "
            "(rows, draws) predictions"
        )
    if comparison not in COMPARISONS:
        raise ValueError(
            f"comparison={comparison!r} is not one of {list(COMPARISONS)}; pass one of those names or a "
            "function f(hi, lo) of the (rows, draws) predictions"
        )
    return COMPARISONS[comparison]


_PROBE = np.array([[0.31, 0.62], [0.47, 0.28], [0.55, 0.74]])


def _returns_one_per_draw(function: Callable) -> bool:
    """Whether ``function(hi, lo)`` reduces over rows.

    Tried once on a small (3 rows, 2 draws) probe of probabilities; a function that fails there is
    treated as element by element (its real error shows later).
    """
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(function(_PROBE, _PROBE[::-1]), dtype=float)
    except Exception:
        return False
    return out.shape in ((2,), (1, 2))


def label_contrast(c: Contrast, rule: Rule, averaged: bool) -> str:
    """Marginaleffects' contrast label, e.g. ``"1 - 0"``, ``"+1"``, ``"mean(70+) / mean(18-29)"``.

    Examples
    --------
    >>> c = Contrast(term="age", lo=0, hi=1, hi_label="70+", lo_label="18-29")
    >>> label_contrast(c, comparison_rule("ratio"), averaged=True)
    'mean(70+) / mean(18-29)'
    """
    template = rule.avg_template if averaged else rule.template
    if c.hi_label == c.lo_label == "custom":  # per-row lo/hi given by the user, labelled as marginaleffects
        return "custom"
    if c.step_label is not None:
        return f"mean({c.step_label})" if "mean(" in template else c.step_label
    hi, lo = c.hi_label, c.lo_label
    if "mean(" in template and hi.startswith("(") and lo.startswith("("):
        hi, lo = hi[1:-1], lo[1:-1]
    return template.format(hi=hi, lo=lo)


def resolve_transform(transform: str | Callable | None) -> Callable | None:
    """``None``, a callable, or a name in :data:`TRANSFORMS`.

    Examples
    --------
    >>> import numpy as np
    >>> float(resolve_transform("exp")(np.array(0.0)))
    1.0
    """
    if transform is None:
        return None
    if callable(transform):
        return transform
    if isinstance(transform, str) and transform in TRANSFORMS:
        return TRANSFORMS[transform]
    raise ValueError(
        f"transform={transform!r} is not understood; pass a function such as numpy.exp or one of {sorted(TRANSFORMS)}"
    )


def apply_transform(fn: Callable | None, values: np.ndarray) -> np.ndarray:
    if fn is None:
        return values
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = np.asarray(fn(values), dtype=float)
    if out.shape != values.shape:
        raise ValueError(
            f"transform returned shape {out.shape} for draws of shape {values.shape}; it must apply "
            "element by element (e.g. numpy.exp)"
        )
    return out
