"""Checks of a brms draws table against its formula and family, one function per concern.

Every failure names the columns (or levels) at fault and what brms would have written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..families import Family, aux_name, brms_aux_name
from ..spec import _canonical, factor_labels, is_numeric_column

_R_COLUMN = re.compile(r"^r_(?P<factor>[^\[]+)\[(?P<level>.*),(?P<term>[^,\]]+)\]$")
_BOOKKEEPING = re.compile(r"^(\.chain|\.iteration|\.draw|lprior|Intercept|.*__|(prior|z|L|Intercept)_.*)$")
"""Columns brms writes besides the parameters (log density, centred intercept, raw Stan variables)."""
_AUX = {"sigma", "nu", "shape", "phi", "alpha", "kappa", "zi", "hu", "zoi", "coi", "disc", "ndt", "bs", "bias",
        "beta", "xi", "quantile"}
"""brms's distributional parameters, and Bambi's names for some of them."""
_FIX = "Pass the draws table from as_draws_df(fit) with all its columns."


@dataclass
class BrmsGroup:
    """One grouping factor as brms writes its draws: terms (brms names), correlated pairs, formula text,
    and the functions of newdata giving its terms' columns (a DataFrame each, by brms name; the
    intercept's column of ones needs none)."""

    terms: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    bars: list[str] = field(default_factory=list)
    designs: list[Callable[[pd.DataFrame], pd.DataFrame]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " + ".join(self.bars)


def check_fixed(draws: pd.DataFrame, names: list[str] | None) -> list[str]:
    """The ``b_`` columns: one per design column of the formula's fixed part, no other."""
    present = [c for c in draws.columns if c.startswith("b_")]
    if names is None:
        if not present:
            raise ValueError("draws has no 'b_' columns (fixed effects such as 'b_Intercept'). " + _FIX)
        return present
    missing = [f"b_{n}" for n in names if f"b_{n}" not in present]
    if missing:
        raise ValueError(f"draws: no column(s) {missing} for the formula's fixed part, whose columns are {names} "
                         f"(brms names); the b_ columns present are {present}. {_FIX} If the model has no such term, "
                         "use the formula it was fitted with")
    stray = [c for c in present if c[2:] not in names]
    if stray:
        raise ValueError(f"draws: column(s) {stray} are not coefficients of the formula's fixed part, whose "
                         f"columns are {names} (brms names); use the formula the model was fitted with")
    return present


def check_groups(draws: pd.DataFrame, groups: dict[str, BrmsGroup], data: pd.DataFrame):
    """The ``r_``, ``sd_`` and ``cor_`` columns of every group term, and no other."""
    r = r_columns(draws.columns)
    r_cols, sd_cols, cor_cols = [], [], []
    for factor, g in groups.items():
        found = {t: r.get((factor, t), {}) for t in g.terms}
        if not any(found.values()):
            example = f"r_{factor}[{next(iter(data_levels(data, factor, g)), 'level')},{g.terms[0]}]"
            raise ValueError(f"draws: no r_{factor}[...] columns for the group term {g.text}; brms writes one "
                             f"per level and term (e.g. {example}). {_FIX}")
        check_levels(factor, g, found, data)
        r_cols += [c for t in g.terms for c in found[t].values()]
        sd = [f"sd_{factor}__{t}" for t in g.terms]
        missing = [c for c in sd if c not in draws.columns]
        if missing:
            raise ValueError(f"draws: no {missing[0]!r} column for the group term {g.text}"
                             f"{f' (nor {missing[1:]})' if len(missing) > 1 else ''}; brms writes one sd_ column "
                             f"per term. {_FIX}")
        cor = [f"cor_{factor}__{a}__{b}" for a, b in g.pairs]
        missing = [c for c in cor if c not in draws.columns]
        if missing:
            raise ValueError(f"draws: no column(s) {missing} for the group term {g.text}, whose '|' correlates "
                             f"its terms; brms writes a cor_ column per pair of terms. {_FIX} If the model was "
                             "fitted with uncorrelated terms, write '||' in the formula")
        sd_cols += sd
        cor_cols += cor
    used = {*r_cols, *sd_cols, *cor_cols}
    stray = [c for c in draws.columns if c.startswith(("r_", "sd_", "cor_")) and c not in used]
    if stray:
        terms = " + ".join(g.text for g in groups.values()) or "none"
        raise ValueError(f"draws: column(s) {stray[:10]}{' ...' if len(stray) > 10 else ''} are not parameters of "
                         f"the formula's group terms ({terms}): brms writes r_<group>[level,term], "
                         "sd_<group>__<term> and, for '|' (not '||'), cor_<group>__<term1>__<term2>. "
                         "Use the formula the model was fitted with")
    return r_cols, sd_cols, cor_cols


def data_levels(data: pd.DataFrame, factor: str, g: BrmsGroup) -> list[str]:
    """The levels of a (brms, ``_``-joined) grouping factor that ``data`` has, in order of appearance."""
    columns = factor.split(":")
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise ValueError(f"data: no column(s) {absent} for the grouping factor of {g.text}; "
                         "pass the data the model was fitted to")
    rows = data[columns].notna().all(axis=1)
    return [str(lev) for lev in pd.unique(factor_labels(data.loc[rows], tuple(columns), sep="_"))]


def check_levels(factor: str, g: BrmsGroup, found: dict[str, dict[str, str]], data: pd.DataFrame) -> None:
    """An ``r_`` column for every level in ``data`` and every term; every term for the same levels."""
    numeric = is_numeric_column(data, tuple(factor.split(":")))  # then r_g[1.0,...] names level 1
    have = {t: dict(zip(_canonical(np.array(list(cols), dtype=str)) if numeric else cols, cols))
            for t, cols in found.items()}
    levels = data_levels(data, factor, g)
    missing = [(lev, t) for lev in levels for t in g.terms if lev not in have[t]]
    if missing:
        names = [f"r_{factor}[{lev},{t}]" for lev, t in missing]
        lacking = list(dict.fromkeys(lev for lev, _ in missing))
        raise ValueError(f"draws: no column(s) {names[:8]}{' ...' if len(names) > 8 else ''} for level(s) "
                         f"{lacking[:10]}{' ...' if len(lacking) > 10 else ''} of {factor} in data "
                         f"({len(lacking)} of its {len(levels)} levels), for the group term {g.text}; brms writes "
                         f"one r_ column per level and term. {_FIX} If data has rows the model was not fitted "
                         "to, drop them")
    first = set(have[g.terms[0]])
    uneven = {t: sorted(set(h) ^ first) for t, h in have.items() if set(h) != first}
    if uneven:
        raise ValueError(f"draws: the r_{factor}[...] columns do not give every term for the same levels: "
                         f"{uneven} differ from {g.terms[0]!r}'s levels. {_FIX}")


def check_aux(draws: pd.DataFrame, family: Family) -> list[str]:
    """Columns of the family's auxiliary parameters: all of them, once each, and no other."""
    given = [c for c in draws.columns if c in _AUX]
    expected = [brms_aux_name(a) for a in family.aux]
    stray = [c for c in given if aux_name(c) not in family.aux]
    if stray:
        raise ValueError(f"draws: column(s) {stray} are parameters family {family.name!r} does not have; its "
                         f"auxiliary parameters are {expected or 'none'} (brms names). Pass the family the model "
                         "was fitted with, or drop the columns")
    twice = [a for a in family.aux if sum(aux_name(c) == a for c in given) > 1]
    if twice:
        raise ValueError(f"draws: {twice} appear twice (under brms's and Bambi's names); keep one column each")
    missing = [brms_aux_name(a) for a in family.aux if not any(aux_name(c) == a for c in given)]
    if missing:
        raise ValueError(f"draws: no column(s) {missing} for family {family.name!r}, whose auxiliary parameters "
                         f"are {expected} (brms names). {_FIX}")
    return given


def check_unused(draws: pd.DataFrame, used: list[str]) -> None:
    """No column but the model's parameters and brms's bookkeeping."""
    used = set(used)
    extra = [c for c in draws.columns if c not in used and not _BOOKKEEPING.match(str(c))]
    if extra:
        raise ValueError(f"draws: column(s) {extra[:10]}{' ...' if len(extra) > 10 else ''} are not parameters of "
                         "this model; mixeff reads b_, r_, sd_, cor_ and the family's auxiliary-parameter columns, "
                         "and ignores brms's bookkeeping (lp__, lprior, .chain, .iteration, .draw, Intercept, "
                         "prior_*, z_*, L_*). Drop them, or pass the formula and family the model was fitted with")


def check_numeric(draws: pd.DataFrame, used: list[str]) -> None:
    text = [c for c in used if not pd.api.types.is_numeric_dtype(draws[c])]
    if text:
        raise ValueError(f"draws: column(s) {text[:10]} are not numeric ({draws[text[0]].dtype}); read the CSV so "
                         "that every parameter column is a number (pd.read_csv does, unless a cell is text)")


def check_chains(draws: pd.DataFrame) -> int:
    """The number of chains in ``.chain`` (one without it); every chain must have as many draws."""
    if ".chain" not in draws.columns:
        return 1
    counts = draws[".chain"].value_counts().sort_index()
    if counts.nunique() > 1:
        per_chain = {int(k) if float(k).is_integer() else k: int(v) for k, v in counts.items()}
        raise ValueError(f"draws: chains have unequal numbers of draws {per_chain} (draws per .chain); "
                         "diagnostics (R-hat, ESS) need equal chains. Keep as many from each, e.g. "
                         f"draws.groupby('.chain').head({counts.min()})")
    return len(counts)


def r_columns(columns) -> dict[tuple[str, str], dict[str, str]]:
    """``(factor, term)`` -> ``{level: column}`` of the ``r_<factor>[level,term]`` columns."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for col in columns:
        m = _R_COLUMN.match(col)
        if m:
            out.setdefault((m["factor"], m["term"]), {})[m["level"]] = col
    return out
