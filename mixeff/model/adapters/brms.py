"""brms adapter: a ``posterior::as_draws_df()`` table with brms's column names.

:func:`from_brms_draws` reads ``b_Intercept``, ``sd_g__Intercept``, ``cor_g__Intercept__x``,
``r_g[level,x]`` and the family's auxiliary parameters (``sigma``, ``shape``, ``phi``, ``nu``),
after :mod:`.brms_checks` has checked the table against the formula and family.
"""

from __future__ import annotations

from itertools import combinations
from typing import Callable

import numpy as np
import pandas as pd

from ..families import aux_name, get_family
from ..formula import brms_name, formula_bars, parse_formula
from ..spec import GroupFactor, ModelSpec
from .arrays import _build_spec, _check_design, refuse_bad_values
from .brms_checks import (
    BrmsGroup, check_aux, check_chains, check_fixed, check_groups, check_numeric, check_unused, r_columns,
)


def _with_levels(data: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A frame with ``data``'s Categoricals' categories, as ordered Categoricals.

    brms takes a factor's first *level* as reference; formulae would sort an unordered
    Categorical's levels alphabetically, so every Categorical is passed as ordered.
    """
    levels = {c: data[c].cat.categories for c in data.columns if isinstance(data[c].dtype, pd.CategoricalDtype)}

    def with_levels(frame):
        cols = {}
        for c, cats in levels.items():
            if c in frame.columns:
                unknown = sorted(set(pd.unique(frame[c].dropna())) - set(cats), key=str)
                if unknown:
                    raise ValueError(f"newdata column {c!r} has level(s) {unknown} the model does not have; "
                                     f"its levels are {list(cats)}")
                cols[c] = pd.Categorical(frame[c], categories=cats, ordered=True)
        return frame.assign(**cols) if cols else frame

    return with_levels


def _design(expr: str, data: pd.DataFrame, with_levels, what: str, na_action: str = "error"):
    """formulae's design of ``expr`` on ``data``: ``(evaluate, names, variables)``.

    ``evaluate(newdata)`` is a DataFrame whose columns carry brms's ``names``; ``variables``
    are the columns of ``data`` it reads.
    """
    import formulae

    try:
        design = formulae.design_matrices(expr, with_levels(data), na_action=na_action).common
    except Exception as err:  # formulae raises KeyError, its own errors...
        raise ValueError(f"formula: {what} cannot be evaluated on data ({type(err).__name__}: {err}); "
                         "pass the data the model was fitted to") from None
    names = [brms_name(c) for t in design.terms.values() for c in t.labels]
    variables = set().union(*[t.var_names for t in design.terms.values()])

    def evaluate(frame: pd.DataFrame) -> pd.DataFrame:
        try:
            X = design.evaluate_new_data(with_levels(frame)).design_matrix
        except ValueError as err:
            raise ValueError(f"newdata cannot be evaluated by {what}: {err}") from None
        return pd.DataFrame(np.asarray(X, dtype=float), columns=names, index=frame.index)

    return evaluate, names, sorted(v for v in variables if v in data.columns)


def from_brms_draws(
    draws: pd.DataFrame,
    *,
    formula: str | Callable[[pd.DataFrame], pd.DataFrame],
    data: pd.DataFrame,
    family: str = "gaussian",
    link: str | None = None,
    trials: str | float | None = None,
) -> ModelSpec:
    """Read brms-named draws (``as_draws_df(fit)`` written to CSV, say) into a spec.

    ``formula`` is the brms formula, or a function of newdata returning a DataFrame
    whose columns carry the ``b_`` names without the prefix and the group-level terms'
    names (the terms are then read from the ``r_`` columns; ``Intercept`` may be left
    out, and a term named like a newdata column is read from that column).  Chains come from a ``.chain`` column when present.

    The table must hold what brms writes for that formula and family, and nothing else
    but brms's bookkeeping (``lp__``, ``lprior``, ``.chain``, ``.iteration``, ``.draw``,
    ``Intercept``, ``prior_*``, ``z_*``, ``L_*``): a ``b_`` column per fixed-effect
    column; per group term ``sd_`` columns, ``r_`` columns for every level in ``data``
    and, for ``|`` (not ``||``), ``cor_`` columns; the family's auxiliary parameters.
    Every draw must be finite and chains equal in length.

    Examples
    --------
    >>> import pandas as pd
    >>> from mixeff import from_brms_draws
    >>> d = pd.DataFrame({"TX": [0, 1], "cluster": ["1", "2"]})
    >>> draws = pd.DataFrame({"b_Intercept": [6.2], "b_TX": [-0.7], "sd_cluster__Intercept": [0.6],
    ...                       "r_cluster[1,Intercept]": [0.1], "r_cluster[2,Intercept]": [-0.1],
    ...                       "sigma": [0.5]})
    >>> spec = from_brms_draws(draws, formula="y ~ 1 + TX + (1 | cluster)", data=d, family="lognormal")
    >>> spec.groups["cluster"].b.shape
    (1, 2, 1)
    >>> from_brms_draws(draws.drop(columns="r_cluster[2,Intercept]"),  # doctest: +ELLIPSIS
    ...                 formula="y ~ 1 + TX + (1 | cluster)", data=d, family="lognormal")
    Traceback (most recent call last):
    ...
    ValueError: draws: no column(s) ['r_cluster[2,Intercept]'] for level(s) ['2'] of cluster in data ...

    The spec keeps the arguments it was built from (the draws as a private copy), and
    pickling saves those: loading builds it again, identical.  A ``formula`` function
    pickles as pickle saves functions.
    """
    if not isinstance(draws, pd.DataFrame):
        raise TypeError(f"draws must be a pandas DataFrame with brms's column names (e.g. posterior::as_draws_df(fit) "
                        f"written to CSV and read with pd.read_csv), got {type(draws).__name__}")
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be the pandas DataFrame the model was fitted to, got {type(data).__name__}")
    if len(draws) == 0:
        raise ValueError("draws has no rows; pass the draws table from as_draws_df(fit), one row per draw")
    draws = draws.reset_index(drop=True)  # a new frame: later edits of the caller's do not reach the spec
    arguments = dict(draws=draws, formula=formula, data=data, family=family, link=link, trials=trials)
    fam = get_family(family)
    if callable(formula):
        fixed_design, names = formula, None
        structure = _groups_from_columns(draws, formula)
        predictors = sorted({t for g in structure.values() for t in g.terms if t in data.columns})
    else:
        with_levels = _with_levels(data)
        rhs = parse_formula(formula).fixed_rhs
        fixed_design, names, predictors = _design(rhs, data, with_levels, f"the fixed part {rhs!r} of the formula")
        structure = _groups_from_formula(formula, data, with_levels, predictors)

    b_cols = check_fixed(draws, names)
    r_cols, sd_cols, cor_cols = check_groups(draws, structure, data)
    aux_cols = check_aux(draws, fam)
    chain = [".chain"] if ".chain" in draws.columns else []
    used = [*b_cols, *r_cols, *sd_cols, *cor_cols, *aux_cols]
    check_unused(draws, used)
    check_numeric(draws, used + chain)
    refuse_bad_values("draws", used + chain, draws[used + chain].to_numpy(dtype=float),
                       sd=sd_cols, cor=cor_cols, positive=aux_cols)
    n_chains = check_chains(draws)
    if chain:
        draws = draws.sort_values([".chain"] + ([".iteration"] if ".iteration" in draws.columns else []), kind="stable")

    beta_names = [c[2:] for c in b_cols]
    if callable(formula):
        _check_design(fixed_design, data, beta_names)
    r = r_columns(draws.columns)
    groups = [_brms_group(factor, g, r, draws, data) for factor, g in structure.items()]
    # the checks above are brms's form of from_arrays's: build the spec without repeating them
    spec = _build_spec(
        fixed_design=fixed_design, beta=draws[b_cols].to_numpy(dtype=float), beta_names=beta_names,
        family=fam, data=data, groups=groups, link=link, n_chains=n_chains, predictors=predictors, trials=trials,
        aux={aux_name(a): draws[a].to_numpy(dtype=float) for a in aux_cols},
    )
    spec._rebuild = (_rebuild_brms, (arguments,))  # the design functions are closures: pickle these instead
    return spec


def _rebuild_brms(arguments: dict) -> ModelSpec:
    """A pickled :func:`from_brms_draws` spec back, built again from its arguments."""
    return from_brms_draws(**arguments)


def _groups_from_formula(formula: str, data: pd.DataFrame, with_levels, predictors: list[str]) -> dict[str, BrmsGroup]:
    """The group terms of the formula's bars, each with its formulae design; adds their variables to ``predictors``."""
    groups: dict[str, BrmsGroup] = {}
    for lhs, bar, factor in formula_bars(formula):
        text = f"({lhs} {bar} {factor})"
        evaluate, terms, variables = _design(lhs, data, with_levels, f"the group term {text}", na_action="drop")
        predictors += [v for v in variables if v not in predictors]
        parts = factor.split("/")  # brms: (1 | g/h) is (1 | g) + (1 | g:h)
        for name in [":".join(parts[:i + 1]) for i in range(len(parts))]:
            g = groups.setdefault(name, BrmsGroup())
            g.terms += [t for t in terms if t not in g.terms]
            g.pairs += list(combinations(terms, 2)) if bar == "|" else []
            g.bars.append(text)
            g.designs += [evaluate] if terms != ["Intercept"] else []
    return groups


def _groups_from_columns(draws: pd.DataFrame, formula: Callable) -> dict[str, BrmsGroup]:
    """The group terms the ``r_`` columns name, correlated where a ``cor_`` column says so.

    Their columns come from ``formula``'s DataFrame, as the fixed effects' do.
    """
    groups: dict[str, BrmsGroup] = {}
    for factor, term in r_columns(draws.columns):
        groups.setdefault(factor, BrmsGroup()).terms.append(term)
    for factor, g in groups.items():
        g.pairs = [p for p in combinations(g.terms, 2) if f"cor_{factor}__{p[0]}__{p[1]}" in draws.columns]
        g.bars = [f"({' + '.join(g.terms)} | {factor}) read from the r_ columns"]
        g.designs = [formula] if g.terms != ["Intercept"] else []
    return groups


def _brms_group(factor: str, g: BrmsGroup, r, draws: pd.DataFrame, data) -> GroupFactor:
    term_names = g.terms
    levels = list(r[(factor, term_names[0])])
    s, k = len(draws), len(term_names)
    b = np.stack([draws[[r[(factor, t)][lev] for lev in levels]].to_numpy(dtype=float) for t in term_names], axis=2)
    sd = draws[[f"sd_{factor}__{t}" for t in term_names]].to_numpy(dtype=float)
    cor = None
    if g.pairs:
        cor = np.broadcast_to(np.eye(k), (s, k, k)).copy()
        for t1, t2 in g.pairs:
            i, j = term_names.index(t1), term_names.index(t2)
            cor[:, i, j] = cor[:, j, i] = draws[f"cor_{factor}__{t1}__{t2}"].to_numpy(dtype=float)

    def design(frame, term_names=term_names, designs=g.designs):
        cols = {"Intercept": np.ones(len(frame))}
        for evaluate in designs:
            cols.update(evaluate(frame).items())
        cols.update({t: frame[t] for t in term_names if t not in cols and t in frame.columns})  # a raw column
        missing = [t for t in term_names if t not in cols]
        if missing:
            raise ValueError(f"the formula function returned no column for group-level term(s) {missing} of "
                             f"{factor!r}; return them as the fixed effects' columns are returned")
        return np.column_stack([np.asarray(cols[t], dtype=float) for t in term_names])

    blocks: dict[str, list[int]] = {}
    for j, t in enumerate(term_names):
        blocks.setdefault(_variable_of(t, data), []).append(j)
    return GroupFactor(
        name=factor, columns=tuple(factor.split(":")), levels=np.asarray(levels), terms=term_names,
        b=b, sd=sd, cor=cor, design=design, term_blocks=blocks, sep="_",  # brms: paste(g, h, sep = "_")
    )


def _variable_of(term: str, data: pd.DataFrame) -> str:
    """The formula variable behind a brms coefficient name: ``genderWoman`` -> ``gender``."""
    if term == "Intercept":
        return "1"
    if term in data.columns:
        return term
    for col in data.columns:
        if term.startswith(col) and term[len(col):] in {brms_name(str(v)) for v in pd.unique(data[col])}:
            return col
    return term
