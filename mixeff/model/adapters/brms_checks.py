"""Checks of a brms draws table against its formulas and family, one function per concern.

Every failure names the columns (or levels) at fault and what brms would have written.

brms names a distributional parameter's columns after it: ``b_sigma_x``,
``sd_g__sigma_Intercept``, ``cor_g__sigma_Intercept__sigma_x`` and
``r_g__sigma[level,Intercept]`` for the formula ``sigma ~ x + (1 + x | g)``
(a categorical model's ``muB``, ``muC`` likewise); the mean's formula has no such
prefix.  :class:`BrmsGroup` knows both spellings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..families import Family, brms_aux_name
from ..spec import _canonical, factor_labels, is_numeric_column
from .arrays import _refuse

_R_COLUMN = re.compile(r"^r_(?P<factor>[^\[]+)\[(?P<level>.*),(?P<term>[^,\]]+)\]$")
_BOOKKEEPING = re.compile(
    r"^(\.chain|\.iteration|\.draw|lprior|Intercept|Intercept\[\d+\]|.*__|(prior|z|L|Intercept)_.*)$"
)
"""Columns brms writes besides the parameters (log density, centred intercepts and thresholds, raw Stan variables)."""
_AUX = {
    "sigma",
    "nu",
    "shape",
    "phi",
    "alpha",
    "kappa",
    "zi",
    "hu",
    "zoi",
    "coi",
    "disc",
    "ndt",
    "bs",
    "bias",
    "beta",
    "xi",
    "quantile",
}
"""brms's distributional parameters, and Bambi's names for some of them."""
PROBABILITIES = {"zi", "hu", "quantile"}
"""brms parameters that are probabilities (checked to lie in [0, 1]); the others are positive."""
_DPAR_COLUMN = re.compile(r"^(?:b_|sd_.+?__|cor_.+?__|r_[^\[]+?__)(?P<dpar>[A-Za-z][A-Za-z0-9]*)[_\[]")
_FIX = "Pass the draws table from as_draws_df(fit) with all its columns."


@dataclass
class BrmsGroup:
    """One grouping factor of one formula as brms writes its draws.

    Terms (brms names), correlated pairs, formula text, and the functions of newdata giving its terms'
    columns (a DataFrame each, by brms name; the intercept's column of ones needs none).

    ``dpar`` is brms's name of the distributional parameter whose formula has these terms
    (``""`` for the mean's formula); it prefixes the terms in the column names.

    Examples
    --------
    >>> g = BrmsGroup(terms=["Intercept", "x"], dpar="sigma")
    >>> g.r_factor("g"), g.sd_column("g", "x"), g.cor_column("g", "Intercept", "x")
    ('g__sigma', 'sd_g__sigma_x', 'cor_g__sigma_Intercept__sigma_x')
    """

    terms: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    bars: list[str] = field(default_factory=list)
    designs: list[Callable[[pd.DataFrame], pd.DataFrame]] = field(default_factory=list)
    dpar: str = ""

    @property
    def text(self) -> str:
        return " + ".join(self.bars) + (f" in the formula of {self.dpar}" if self.dpar else "")

    def r_factor(self, factor: str) -> str:
        """The name between ``r_`` and ``[`` of this formula's columns: ``g`` or ``g__sigma``."""
        return f"{factor}__{self.dpar}" if self.dpar else factor

    def _term(self, term: str) -> str:
        return f"{self.dpar}_{term}" if self.dpar else term

    def sd_column(self, factor: str, term: str) -> str:
        return f"sd_{factor}__{self._term(term)}"

    def cor_column(self, factor: str, term1: str, term2: str) -> str:
        return f"cor_{factor}__{self._term(term1)}__{self._term(term2)}"


def brms_parameters(family: Family) -> dict[str, str]:
    """Brms's name of each auxiliary parameter of ``family`` -> mixeff's (Bambi's) name.

    A zero-inflated family's ``psi`` is brms's ``zi`` (as ``1 - zi``), a hurdle family's brms's
    ``hu`` (``1 - hu``), the Wald (inverse Gaussian) ``lam`` brms's ``shape``; the asymmetric
    Laplace's ``b`` and ``kappa`` come from brms's ``sigma`` and ``quantile`` together.  An ordinal
    family's thresholds are ``b_Intercept[k]`` columns, not listed here.

    Examples
    --------
    >>> from mixeff.model.families import get_family
    >>> brms_parameters(get_family("hurdle_negbinomial")), brms_parameters(get_family("inverse.gaussian"))
    ({'shape': 'alpha', 'hu': 'psi'}, {'shape': 'lam'})
    """
    special = {"psi": "hu" if family.name.startswith("hurdle") else "zi", "lam": "shape"}
    if family.name == "asymmetriclaplace":
        return {"sigma": "b", "quantile": "kappa"}
    return {special.get(a, brms_aux_name(a)): a for a in family.aux if a != "threshold"}


def dpar_hint(columns, with_formula=(), dpars=None) -> str:
    """A hint when ``columns`` look like the formula of a distributional parameter not given one.

    The parameter is one of ``dpars``; by default any of brms's, or a categorical model's
    ``mu<category>``.

    Examples
    --------
    >>> print(dpar_hint(["b_sigma_x", "b_x", "r_g__zi[a,Intercept]"], with_formula=["zi"]))
    ... # doctest: +NORMALIZE_WHITESPACE
    . They are brms's columns of a formula for ['sigma']: pass every formula of the model,
    formula=['y ~ ...', 'sigma ~ ...']
    """
    found = []
    for col in columns:
        m = _DPAR_COLUMN.match(str(col))
        known = m is not None and (
            m["dpar"] in dpars if dpars is not None else m["dpar"] in _AUX or re.fullmatch(r"mu[A-Za-z0-9]+", m["dpar"])
        )
        if known and m["dpar"] not in with_formula and m["dpar"] not in found:
            found.append(m["dpar"])
    if not found:
        return ""
    extra = ", ".join(f"'{d} ~ ...'" for d in found)
    return (
        f". They are brms's columns of a formula for {found}: pass every formula of the model, "
        f"formula=['y ~ ...', {extra}]"
    )


def _part(dpar: str) -> str:
    return f"the fixed part of the formula of {dpar}" if dpar else "the formula's fixed part"


def check_fixed(draws: pd.DataFrame, names: dict[str, list[str] | None], reserved=()) -> dict[str, list[str]]:
    """The ``b_`` columns of every formula, by brms's dpar name (``""`` for the mean's).

    One per design column of its fixed part, and no other column but ``reserved`` (an ordinal model's
    thresholds).  A formula whose names are None (a formula function) takes the remaining ``b_`` columns.
    """
    present = [c for c in draws.columns if c.startswith("b_") and c not in reserved]
    out: dict[str, list[str]] = {}
    for dpar, part_names in names.items():
        prefix = f"b_{dpar}_" if dpar else "b_"
        if part_names is None:
            if not present:
                raise ValueError("draws has no 'b_' columns (fixed effects such as 'b_Intercept'). " + _FIX)
            out[dpar] = present
            continue
        columns = [prefix + n for n in part_names]
        missing = [c for c in columns if c not in present]
        if missing:
            listed = [c for c in present if c.startswith(prefix)]
            raise ValueError(
                f"draws: no column(s) {missing} for {_part(dpar)}, whose columns are {part_names} "
                f"(brms names); the {prefix} columns present are {listed}. {_FIX} If the model has no "
                "such term, use the formula it was fitted with"
            )
        out[dpar] = columns
    used = {c for cols in out.values() for c in cols}
    stray = [c for c in present if c not in used]
    if stray:
        hint = dpar_hint(stray, names)
        if list(names) == [""]:
            raise ValueError(
                f"draws: column(s) {stray} are not coefficients of the formula's fixed part, whose "
                f"columns are {names['']} (brms names); use the formula the model was fitted with{hint}"
            )
        parts = "; ".join(f"{_part(d)}: {n}" for d, n in names.items())
        raise ValueError(
            f"draws: column(s) {stray} are not coefficients of the model's formulas ({parts}, "
            f"brms names); use the formulas the model was fitted with{hint}"
        )
    return out


def check_thresholds(draws: pd.DataFrame, family: Family, categories: tuple[str, ...]) -> list[str]:
    """An ordinal model's thresholds ``b_Intercept[1]`` ... ``b_Intercept[K-1]`` for its K categories.

    A cumulative model's must increase in every draw.
    """
    k = len(categories)
    expected = [f"b_Intercept[{j}]" for j in range(1, k)]
    present = [c for c in draws.columns if c == "b_Intercept" or c.startswith("b_Intercept[")]
    if "b_Intercept" in present:
        raise ValueError(
            f"draws: column 'b_Intercept' is one intercept, but a {family.name} model has a threshold "
            f"between each pair of adjacent categories, written b_Intercept[1] ... b_Intercept[{k - 1}]; "
            "pass the family the model was fitted with"
        )
    grouped = [c for c in present if "," in c]
    if grouped:
        raise ValueError(
            f"draws: threshold column(s) {grouped[:4]} belong to grouped thresholds "
            "(brms's thres(gr = ...)), which mixeff does not support; refit with one set of thresholds"
        )
    missing = [c for c in expected if c not in present]
    if missing:
        raise ValueError(
            f"draws: no threshold column(s) {missing} for the {k} categories {list(categories)}: "
            f"brms writes b_Intercept[1] ... b_Intercept[{k - 1}]. {_FIX} If the model has fewer "
            "categories, pass categories= with the model's own"
        )
    extra = [c for c in present if c not in expected]
    if extra:
        raise ValueError(
            f"draws: threshold column(s) {extra} beyond the {k - 1} that the {k} categories "
            f"{list(categories)} need; pass categories= with all the model's categories, in order"
        )
    return expected


def check_increasing(draws: pd.DataFrame, thresholds: list[str]) -> None:
    """A cumulative model's thresholds increase with the category in every draw."""
    tau = draws[thresholds].to_numpy(dtype=float)
    _refuse(
        "draws",
        [f"{a} < {b}" for a, b in zip(thresholds, thresholds[1:])],
        np.diff(tau, axis=1) <= 0,
        "thresholds not increasing",
        "a cumulative model's thresholds increase with the category: check which column is which",
    )


def check_groups(draws: pd.DataFrame, groups: list[tuple[str, BrmsGroup]], data: pd.DataFrame, with_formula=()):
    """The ``r_``, ``sd_`` and ``cor_`` columns of every ``(factor, group)`` of every formula, and no other.

    ``with_formula``: the distributional parameters given a formula (to hint at a forgotten one).
    """
    r = r_columns(draws.columns)
    r_cols, sd_cols, cor_cols = [], [], []
    for factor, g in groups:
        key = g.r_factor(factor)
        found = {t: r.get((key, t), {}) for t in g.terms}
        if not any(found.values()):
            example = f"r_{key}[{next(iter(data_levels(data, factor, g)), 'level')},{g.terms[0]}]"
            raise ValueError(
                f"draws: no r_{key}[...] columns for the group term {g.text}; brms writes one "
                f"per level and term (e.g. {example}). {_FIX}"
            )
        check_levels(factor, g, found, data)
        r_cols += [c for t in g.terms for c in found[t].values()]
        sd = [g.sd_column(factor, t) for t in g.terms]
        missing = [c for c in sd if c not in draws.columns]
        if missing:
            raise ValueError(
                f"draws: no {missing[0]!r} column for the group term {g.text}"
                f"{f' (nor {missing[1:]})' if len(missing) > 1 else ''}; brms writes one sd_ column "
                f"per term. {_FIX}"
            )
        cor = [g.cor_column(factor, a, b) for a, b in g.pairs]
        missing = [c for c in cor if c not in draws.columns]
        if missing:
            raise ValueError(
                f"draws: no column(s) {missing} for the group term {g.text}, whose '|' correlates "
                f"its terms; brms writes a cor_ column per pair of terms. {_FIX} If the model was "
                "fitted with uncorrelated terms, write '||' in the formula"
            )
        sd_cols += sd
        cor_cols += cor
    used = {*r_cols, *sd_cols, *cor_cols}
    stray = [c for c in draws.columns if c.startswith(("r_", "sd_", "cor_")) and c not in used]
    if stray:
        terms = " + ".join(g.text for _, g in groups) or "none"
        several = any(g.dpar for _, g in groups)
        across = (
            "; correlations between the terms of different formulas (brms's ID syntax, (1 | p | g) in two "
            "formulas) are not supported"
            if several
            else ""
        )
        raise ValueError(
            f"draws: column(s) {stray[:10]}{' ...' if len(stray) > 10 else ''} are not parameters of "
            f"the formula{'s' if several else ''}'{'' if several else 's'} group terms ({terms}): brms "
            "writes r_<group>[level,term], sd_<group>__<term> and, for '|' (not '||'), "
            "cor_<group>__<term1>__<term2>"
            + (" (r_<group>__<dpar>[...] and <dpar>_<term> in a distributional parameter's formula)" if several else "")
            + f". Use the formula{'s' if several else ''} the model was fitted with{across}"
            f"{dpar_hint(stray, with_formula)}"
        )
    return r_cols, sd_cols, cor_cols


def data_levels(data: pd.DataFrame, factor: str, g: BrmsGroup) -> list[str]:
    """The levels of a (brms, ``_``-joined) grouping factor that ``data`` has, in order of appearance."""
    columns = factor.split(":")
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise ValueError(
            f"data: no column(s) {absent} for the grouping factor of {g.text}; pass the data the model was fitted to"
        )
    rows = data[columns].notna().all(axis=1)
    return [str(lev) for lev in pd.unique(factor_labels(data.loc[rows], tuple(columns), sep="_"))]


def check_levels(factor: str, g: BrmsGroup, found: dict[str, dict[str, str]], data: pd.DataFrame) -> None:
    """An ``r_`` column for every level in ``data`` and every term; every term for the same levels."""
    numeric = is_numeric_column(data, tuple(factor.split(":")))  # then r_g[1.0,...] names level 1
    have = {
        t: dict(zip(_canonical(np.array(list(cols), dtype=str)) if numeric else cols, cols))
        for t, cols in found.items()
    }
    levels = data_levels(data, factor, g)
    missing = [(lev, t) for lev in levels for t in g.terms if lev not in have[t]]
    key = g.r_factor(factor)
    if missing:
        names = [f"r_{key}[{lev},{t}]" for lev, t in missing]
        lacking = list(dict.fromkeys(lev for lev, _ in missing))
        raise ValueError(
            f"draws: no column(s) {names[:8]}{' ...' if len(names) > 8 else ''} for level(s) "
            f"{lacking[:10]}{' ...' if len(lacking) > 10 else ''} of {factor} in data "
            f"({len(lacking)} of its {len(levels)} levels), for the group term {g.text}; brms writes "
            f"one r_ column per level and term. {_FIX} If data has rows the model was not fitted "
            "to, drop them"
        )
    first = set(have[g.terms[0]])
    uneven = {t: sorted(set(h) ^ first) for t, h in have.items() if set(h) != first}
    if uneven:
        raise ValueError(
            f"draws: the r_{key}[...] columns do not give every term for the same levels: "
            f"{uneven} differ from {g.terms[0]!r}'s levels. {_FIX}"
        )


def check_aux(draws: pd.DataFrame, family: Family, modelled=()) -> dict[str, str]:
    """Columns of the family's auxiliary parameters -> mixeff's names.

    All of them, once each, and no other.  ``modelled``: brms names of the parameters given a formula,
    which have no such column.
    """
    names = brms_parameters(family)
    accepted = dict(names)
    for n, a in names.items():
        if a != n and brms_aux_name(a) == n:
            accepted[a] = a  # Bambi's spelling of brms's shape and phi
    expected = [n for n in names if n not in modelled]
    given = [c for c in draws.columns if c in _AUX or c in accepted]
    stray = [c for c in given if c not in accepted]
    if stray:
        raise ValueError(
            f"draws: column(s) {stray} are parameters family {family.name!r} does not have; its "
            f"auxiliary parameters are {list(names) or 'none'} (brms names). Pass the family the model "
            "was fitted with, or drop the columns"
        )
    both = [c for c in given if c in modelled or brms_aux_name(c) in modelled]
    if both:
        raise ValueError(
            f"draws: column(s) {both} hold one value per draw, but formula= gives "
            f"{'them formulas' if len(both) > 1 else 'it a formula'}, whose draws brms writes as "
            f"b_{brms_aux_name(both[0])}_... columns instead. Pass the formulas the model was fitted "
            "with, or drop the columns"
        )
    twice = [a for a in family.aux if sum(accepted[c] == a for c in given) > 1]
    if twice:
        raise ValueError(f"draws: {twice} appear twice (under brms's and Bambi's names); keep one column each")
    missing = [n for n in expected if not any(accepted[c] == names[n] for c in given)]
    if missing:
        raise ValueError(
            f"draws: no column(s) {missing} for family {family.name!r}, whose auxiliary parameters "
            f"are {list(names)} (brms names). {_FIX} A parameter fixed to a constant in brms's bf() "
            f"has no column: add it, e.g. draws[{missing[0]!r}] = value; one with a formula needs "
            f"that formula, formula=['y ~ ...', '{missing[0]} ~ ...']"
        )
    return {c: accepted[c] for c in given}


def check_probabilities(draws: pd.DataFrame, columns: list[str]) -> None:
    """Brms's ``zi``, ``hu`` (in [0, 1]) and ``quantile`` (in (0, 1)) columns are probabilities."""
    for open_interval in (False, True):
        cols = [c for c in columns if (c == "quantile") == open_interval]
        if cols:
            x = draws[cols].to_numpy(dtype=float)
            bad = (x <= 0) | (x >= 1) if open_interval else (x < 0) | (x > 1)
            _refuse(
                "draws",
                cols,
                bad,
                f"values outside {'(0, 1)' if open_interval else '[0, 1]'}",
                "these are probabilities in brms: check which column is which",
            )


def check_unused(draws: pd.DataFrame, used: list[str], with_formula=()) -> None:
    """No column but the model's parameters and brms's bookkeeping."""
    used = set(used)
    extra = [c for c in draws.columns if c not in used and not _BOOKKEEPING.match(str(c))]
    if extra:
        raise ValueError(
            f"draws: column(s) {extra[:10]}{' ...' if len(extra) > 10 else ''} are not parameters of "
            "this model; mixeff reads b_, r_, sd_, cor_ and the family's auxiliary-parameter columns, "
            "and ignores brms's bookkeeping (lp__, lprior, .chain, .iteration, .draw, Intercept, "
            "prior_*, z_*, L_*). Drop them, or pass the formula and family the model was fitted with"
            f"{dpar_hint(extra, with_formula)}"
        )


def check_numeric(draws: pd.DataFrame, used: list[str]) -> None:
    text = [c for c in used if not pd.api.types.is_numeric_dtype(draws[c])]
    if text:
        raise ValueError(
            f"draws: column(s) {text[:10]} are not numeric ({draws[text[0]].dtype}); read the CSV so "
            "that every parameter column is a number (pd.read_csv does, unless a cell is text)"
        )


def check_chains(draws: pd.DataFrame) -> int:
    """The number of chains in ``.chain`` (one without it); every chain must have as many draws."""
    if ".chain" not in draws.columns:
        return 1
    counts = draws[".chain"].value_counts().sort_index()
    if counts.nunique() > 1:
        per_chain = {int(k) if float(k).is_integer() else k: int(v) for k, v in counts.items()}
        raise ValueError(
            f"draws: chains have unequal numbers of draws {per_chain} (draws per .chain); "
            "diagnostics (R-hat, ESS) need equal chains. Keep as many from each, e.g. "
            f"draws.groupby('.chain').head({counts.min()})"
        )
    return len(counts)


def r_columns(columns) -> dict[tuple[str, str], dict[str, str]]:
    """``(factor, term)`` -> ``{level: column}`` of the ``r_<factor>[level,term]`` columns.

    ``factor`` is ``g__sigma`` for a distributional parameter's formula.
    """
    out: dict[tuple[str, str], dict[str, str]] = {}
    for col in columns:
        m = _R_COLUMN.match(col)
        if m:
            out.setdefault((m["factor"], m["term"]), {})[m["level"]] = col
    return out
