"""Formula text, read with formulae's parser: group-level terms, the fixed part, ``re_formula``.

brms and lme4 write ``(1 + x || g)`` for uncorrelated terms; formulae knows only
``|``, and which of the two was written does not change which terms exist, so
``||`` is read as ``|`` here.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

_NO_RE = {"na", "~0", "0", "~-1", "-1", "none"}


def brms_name(column: str) -> str:
    """Brms's name for a design column: ``age[30-39]`` -> ``age30M39``, ``gender[Woman]`` -> ``genderWoman``.

    Examples
    --------
    >>> brms_name("age[70+]"), brms_name("education[Post grad]"), brms_name("scale(Days)")
    ('age70P', 'educationPostgrad', 'scaleDays')

    brms keeps dots, as in ``Sepal.Length``:

    >>> brms_name("np.log(Days + 1)")
    'np.logDaysP1'
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
    variables: dict[str, str] = field(default_factory=dict, compare=False)
    """Every name the formula reads (a data column, or an attribute such as ``np.pi``) -> its role:
    ``"response"``, ``"predictor"``, ``"offset"``, ``"group-level predictor"`` or ``"grouping factor"``."""

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
    >>> parse_formula("y ~ np.log(Days + 1) + (1 | g)").variables
    {'y': 'response', 'Days': 'predictor', 'g': 'grouping factor'}
    """
    import formulae
    from formulae.terms import GroupSpecificTerm, Intercept

    if not isinstance(text, str):
        raise TypeError(f"{argument} must be a formula string, got {type(text).__name__}")
    source = text.replace("||", "|")
    if "~" not in source:
        raise ValueError(f"{argument}={text!r} has no '~'; write e.g. 'y ~ 1 + x + (1 | g)'")
    _check_parentheses(text, argument)
    lhs, rhs = source.split("~", 1)
    try:
        description = formulae.model_description(f"{lhs.strip() or 'y'} ~ {rhs}")
    except Exception as err:  # formulae raises its own ParseError / ScanError types
        raise ValueError(f"{argument}={text!r} cannot be parsed: {err}") from None
    fixed, groups, intercept = [], [], False
    variables: dict[str, str] = {}

    def read(names, role):
        for name in sorted(names - {""}):  # formulae names a literal (the 1 of x + 1) ""
            variables.setdefault(name, role)

    if lhs.strip():
        read(description.response.var_names, "response")
    for term in description.terms:
        if isinstance(term, GroupSpecificTerm):
            expr = "1" if isinstance(term.expr, Intercept) else term.expr.name
            groups.append(GroupTerm(expr, term.factor.name))
            read(term.factor.var_names, "grouping factor")
            read(term.expr.var_names, "group-level predictor")
        elif isinstance(term, Intercept):
            intercept = True
        else:
            fixed.append(term.name)
            read(term.var_names, "offset" if term.name.startswith("offset(") else "predictor")
    return ParsedFormula(tuple(fixed), intercept, tuple(groups), variables)


def formula_bars(formula: str) -> list[tuple[str, str, str]]:
    """``(terms, bar, factor)`` of each ``( ... | g)`` of a formula: ``("1 + Days", "|", "Subject")``.

    ``|`` correlates the bar's terms (brms, lme4), ``||`` keeps them independent.

    Examples
    --------
    >>> formula_bars("y ~ x + (1 + x | g) + (1 || g:h)")
    [('1 + x', '|', 'g'), ('1', '||', 'g:h')]
    """
    out = []
    for inner in _bar_texts(formula):
        bar = "||" if "||" in inner else "|"
        parts = inner.split(bar)  # brms's ID syntax (1 | p | g): terms first, factor last
        out.append((parts[0].strip(), bar, "".join(parts[-1].split())))
    return out


def id_syntax_bars(formula: str) -> list[str]:
    """The bars written with brms's ID syntax, ``(1 + x | p | g)`` (terms correlated across bars).

    Examples
    --------
    >>> id_syntax_bars("y ~ (1 + log(x) | p | g) + (1 || h)")
    ['(1 + log(x) | p | g)']
    """
    return [f"({inner})" for inner in _bar_texts(formula) if inner.replace("||", "|").count("|") > 1]


def _bar_texts(formula: str):
    """The text inside each top-level ``( ... | g)`` of a formula's right-hand side."""
    rhs, depth, start = formula.split("~", 1)[-1], 0, 0
    for i, ch in enumerate(rhs):
        if ch == "(":
            start, depth = (i if depth == 0 else start), depth + 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and "|" in rhs[start + 1 : i]:
                yield rhs[start + 1 : i]


def _check_parentheses(text: str, argument: str) -> None:
    depth = 0
    for char in re.sub(r"'[^']*'|\"[^\"]*\"", "", text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth:
        problem = "a ')' closes no '('" if depth < 0 else f"{depth} '(' never closed"
        raise ValueError(
            f"{argument}={text!r} has unbalanced parentheses ({problem}); every '(' needs its ')', "
            "e.g. 'y ~ 1 + x + (1 | g)'"
        )


def check_columns(parsed: ParsedFormula, data: pd.DataFrame, formula: str) -> None:
    """Refuse a formula naming a column the data lack, listing close matches and the data's columns.

    A dotted name that is not a column (``np.pi``) is an attribute, left to formulae.
    """
    columns = [str(c) for c in data.columns]
    for name, role in parsed.variables.items():
        if name in columns or "." in name:
            continue
        close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise ValueError(
            f"formula={formula!r}: {role} {name!r} is not a column of data; {hint}the data's columns are {columns}"
        )


def check_complete(parsed: ParsedFormula, data: pd.DataFrame) -> None:
    """Refuse missing or infinite values in the columns the formula reads (naming them); others may have them."""
    used = [c for c in data.columns if str(c) in parsed.variables]
    bad = pd.DataFrame({c: np.logical_or(*missing_and_infinite(data[c])) for c in used}, index=data.index)
    counts = bad.sum()
    counts = counts[counts > 0]
    if counts.empty:
        return
    listed = ", ".join(f"{c!r} ({n} row{'s' * (n > 1)})" for c, n in counts.items())
    raise ValueError(
        f"data has missing (NaN/None) or infinite values in column(s) the formula uses: {listed}; "
        f"{int(bad.any(axis=1).sum())} of {len(data)} rows in all. Drop or impute them first, e.g. "
        f"data = data.dropna(subset={list(counts.index)})"
    )


def missing_and_infinite(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Masks of a column's missing (NaN/None) and, for numbers, infinite values."""
    if column.dtype == np.float64:  # numpy's float64: missing is NaN (pandas' own check costs more)
        values = column.to_numpy()
        return np.isnan(values), np.isinf(values)
    missing = column.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return missing, np.zeros(len(column), dtype=bool)
    return missing, np.isinf(column.to_numpy(dtype=float, na_value=np.nan))


def check_varying(parsed: ParsedFormula, data: pd.DataFrame) -> None:
    """Refuse a predictor of the fixed part with a single value (or a factor with one level)."""
    for name, role in parsed.variables.items():
        if role != "predictor" or name not in data.columns:
            continue
        values = pd.Series(pd.unique(data[name])).tolist()
        if len(values) == 1:
            raise ValueError(
                f"data column {name!r} has the single value {values[0]!r} in all {len(data)} rows, so "
                f"the coefficient of {name!r} is not identified (it is confounded with the intercept); "
                f"drop {name!r} from the formula or use data in which it varies"
            )


def is_no_re(re_formula) -> bool:
    """``"NA"``, ``"~0"``, ``NaN``...: no group-level term at all."""
    if re_formula is None:
        return False
    if isinstance(re_formula, float) and np.isnan(re_formula):
        return True
    return isinstance(re_formula, str) and re_formula.replace(" ", "").lower() in _NO_RE


def parse_re_formula(groups: dict, re_formula, elsewhere: tuple = ()) -> dict[str, list[int]]:
    """Which terms of which grouping factor to include: ``{factor: [term indices]}``.

    ``groups`` maps factor names to :class:`~mixeff.model.spec.GroupFactor`.
    ``None`` keeps everything; ``"NA"``/``"~0"`` keeps nothing; ``"~(1|g)"`` keeps
    only the listed terms (an intercept is implied unless removed, as in brms),
    each of which must exist in the model.  ``elsewhere``: the groups of the model's
    other formulas (a distributional model's ``sigma ~ ...``); a listed term found only
    there is skipped here.
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
        if group is None or group.term_indices(term.expr) is None:
            if any(
                term.factor in other and other[term.factor].term_indices(term.expr) is not None for other in elsewhere
            ):
                continue
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
