"""Formula text, read with formulae's parser: group-level terms, the fixed part, ``re_formula``.

brms and lme4 write ``(1 + x || g)`` for uncorrelated terms; formulae knows only
``|``, and which of the two was written does not change which terms exist, so
``||`` is read as ``|`` here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_NO_RE = {"na", "~0", "0", "~-1", "-1", "none"}


def brms_name(column: str) -> str:
    """brms's name for a design column: ``age[30-39]`` -> ``age30M39``, ``gender[Woman]`` -> ``genderWoman``.

    Examples
    --------
    >>> brms_name("age[70+]"), brms_name("education[Post grad]"), brms_name("scale(Days)")
    ('age70P', 'educationPostgrad', 'scaleDays')
    """
    name = re.sub(r"\[([^\]]*)\]", r"\1", column)
    for old, new in [("+", "P"), ("-", "M"), ("*", "MU"), ("/", "D"), ("^", "E"), ("=", "EQ")]:
        name = name.replace(old, new)
    return re.sub(r"[ ()\[\],\"'?]", "", name)


@dataclass(frozen=True)
class GroupTerm:
    """One group-level term: ``expr`` (``"1"``, ``"Days"``, ``"scale(Days)"``) varying by ``factor``."""

    expr: str
    factor: str


@dataclass(frozen=True)
class ParsedFormula:
    fixed_terms: tuple[str, ...]
    """Population-level terms as formulae names them (``"TX"``, ``"scale(x):w"``), intercept excluded."""
    intercept: bool
    group_terms: tuple[GroupTerm, ...]

    @property
    def fixed_rhs(self) -> str:
        """The fixed part as formula text, e.g. ``"1 + TX"`` (``"0 + x"`` without intercept)."""
        return " + ".join(["1" if self.intercept else "0", *self.fixed_terms])


def parse_formula(text: str, argument: str = "formula") -> ParsedFormula:
    """Terms of a formula (``"y ~ x + (1 + x | g)"``, or a one-sided ``"~ (1 | g)"``).

    Examples
    --------
    >>> f = parse_formula("y ~ 1 + TX + (1 + scale(Days) || Subject)")
    >>> f.fixed_rhs, [(t.expr, t.factor) for t in f.group_terms]
    ('1 + TX', [('1', 'Subject'), ('scale(Days)', 'Subject')])
    """
    import formulae
    from formulae.terms import GroupSpecificTerm, Intercept

    if not isinstance(text, str):
        raise TypeError(f"{argument} must be a formula string, got {type(text).__name__}")
    source = text.replace("||", "|")
    if "~" not in source:
        raise ValueError(f"{argument}={text!r} has no '~'; write e.g. 'y ~ 1 + x + (1 | g)'")
    lhs, rhs = source.split("~", 1)
    try:
        description = formulae.model_description(f"{lhs.strip() or 'y'} ~ {rhs}")
    except Exception as err:  # formulae raises its own ParseError / ScanError types
        raise ValueError(f"{argument}={text!r} cannot be parsed: {err}") from None
    fixed, groups, intercept = [], [], False
    for term in description.terms:
        if isinstance(term, GroupSpecificTerm):
            expr = "1" if isinstance(term.expr, Intercept) else term.expr.name
            groups.append(GroupTerm(expr, term.factor.name))
        elif isinstance(term, Intercept):
            intercept = True
        else:
            fixed.append(term.name)
    return ParsedFormula(tuple(fixed), intercept, tuple(groups))


def is_no_re(re_formula) -> bool:
    """``"NA"``, ``"~0"``, ``NaN``...: no group-level term at all."""
    if re_formula is None:
        return False
    if isinstance(re_formula, float) and np.isnan(re_formula):
        return True
    return isinstance(re_formula, str) and re_formula.replace(" ", "").lower() in _NO_RE


def parse_re_formula(groups: dict, re_formula) -> dict[str, list[int]]:
    """Which terms of which grouping factor to include: ``{factor: [term indices]}``.

    ``groups`` maps factor names to :class:`~mixeff.model.spec.GroupFactor`.
    ``None`` keeps everything; ``"NA"``/``"~0"`` keeps nothing; ``"~(1|g)"`` keeps
    only the listed terms (an intercept is implied unless removed, as in brms),
    each of which must exist in the model.
    """
    if re_formula is None:
        return {name: list(range(len(g.terms))) for name, g in groups.items()}
    if is_no_re(re_formula):
        return {}
    if not isinstance(re_formula, str):
        raise TypeError(
            f"re_formula={re_formula!r} is not understood; use None (all group-level terms), "
            "'NA' (none) or a formula such as '~(1|cluster)'"
        )
    parsed = parse_formula(re_formula, "re_formula")
    if not parsed.group_terms:
        raise ValueError(
            f"re_formula={re_formula!r} lists no group-level term; write terms as '~(1|cluster)' "
            "or '~(1 + Days|Subject)', or use 'NA' for none"
        )
    keep: dict[str, set[int]] = {}
    for term in parsed.group_terms:
        group = groups.get(term.factor)
        if group is None:
            raise ValueError(
                f"re_formula={re_formula!r} names grouping factor {term.factor!r}, which the model "
                f"lacks; its grouping factors are {list(groups)}"
            )
        indices = group.term_indices(term.expr)
        if indices is None:
            available = " + ".join(group.term_blocks)
            raise ValueError(
                f"re_formula={re_formula!r} names term {term.expr!r} for {term.factor!r}, which the "
                f"model lacks; the model has ({available} | {term.factor})"
            )
        keep.setdefault(term.factor, set()).update(indices)
    return {name: sorted(idx) for name, idx in keep.items()}
