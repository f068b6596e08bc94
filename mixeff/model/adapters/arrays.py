"""Arrays adapter: draws from any sampler (brms/Stan, NumPyro, hand-written PyMC).

:func:`from_arrays` takes the pieces directly; :func:`from_brms_draws` reads a
``posterior::as_draws_df()``-style table with brms's column names
(``b_Intercept``, ``sd_g__Intercept``, ``cor_g__Intercept__x``, ``r_g[level,x]``,
``sigma``, ``shape``, ``phi``, ``nu``).
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pandas as pd

from ..families import BRMS_AUX, aux_name, get_family, get_link
from ..formula import brms_name, parse_formula
from ..spec import GroupFactor, ModelSpec

_R_COLUMN = re.compile(r"^r_(?P<factor>[^\[]+)\[(?P<level>.*),(?P<term>[^,\]]+)\]$")


def _formula_design(formula: str, data: pd.DataFrame):
    """A design function from a formula's fixed part, its columns named as brms names them."""
    import formulae

    rhs = parse_formula(formula).fixed_rhs
    # brms takes a factor's first *level* as reference; formulae would sort an unordered
    # Categorical's levels alphabetically, so pass every Categorical as ordered.
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

    design = formulae.design_matrices(rhs, with_levels(data), na_action="error").common
    names = [brms_name(c) for t in design.terms.values() for c in t.labels]
    var_names = set().union(*[t.var_names for t in design.terms.values()])

    def evaluate(frame: pd.DataFrame) -> pd.DataFrame:
        try:
            X = np.asarray(design.evaluate_new_data(with_levels(frame)).design_matrix, dtype=float)
        except ValueError as err:
            raise ValueError(f"newdata cannot be evaluated by the formula {formula!r}: {err}") from None
        return pd.DataFrame(X, columns=names, index=frame.index)

    return evaluate, sorted(var_names)


class _ByName:
    """``fixed_design`` with a returned DataFrame's columns put in ``names`` order.

    A class, not a closure, so that a spec pickles whenever the user's functions do.
    """

    def __init__(self, fixed_design: Callable, names: list[str]):
        self.fixed_design, self.names = fixed_design, names

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        X = self.fixed_design(frame)
        if isinstance(X, pd.DataFrame):
            missing = [n for n in self.names if n not in X.columns]
            if missing:
                raise ValueError(
                    f"fixed_design returned no column for coefficient(s) {missing}; it returned "
                    f"{list(X.columns)}. A factor's reference level may differ from the model's: "
                    "make it a pandas Categorical whose first category is brms's reference level"
                )
            X = X[self.names].to_numpy(dtype=float)
        return np.asarray(X, dtype=float)


def from_arrays(
    *,
    fixed_design: Callable[[pd.DataFrame], pd.DataFrame | np.ndarray],
    beta: np.ndarray,
    beta_names: list[str],
    family: str,
    data: pd.DataFrame,
    groups: list[GroupFactor] | None = None,
    link: str | None = None,
    aux: dict[str, np.ndarray] | None = None,
    n_chains: int = 1,
    predictors: list[str] | None = None,
    trials: str | float | None = None,
    source: str = "posterior",
) -> ModelSpec:
    """Build a spec from arrays: ``beta`` is ``(S, p)``, draws ordered chain-major.

    ``fixed_design(newdata)`` returns the ``(n, p)`` fixed-effect design; when it
    returns a DataFrame its columns are matched to ``beta_names`` by name.

    The spec pickles when ``fixed_design`` and every group's ``design`` do: module-level
    functions do with ``pickle``; lambdas and closures need ``cloudpickle``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mixeff import from_arrays
    >>> d = pd.DataFrame({"x": [0.0, 1.0]})
    >>> spec = from_arrays(fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"]]),
    ...                    beta=np.array([[1.0, 2.0]]), beta_names=["Intercept", "x"],
    ...                    family="gaussian", aux={"sigma": np.array([1.0])}, data=d)
    >>> spec.n_samples
    1
    """
    beta = np.asarray(beta, dtype=float)
    s = beta.shape[0]
    if s % n_chains:
        raise ValueError(f"n_chains={n_chains} does not divide the {s} draws")
    fam = get_family(family)
    names = list(beta_names)
    design = _ByName(fixed_design, names)

    aux = {aux_name(k): np.asarray(v, dtype=float).ravel() for k, v in (aux or {}).items()}
    used = set(predictors or [])
    for g in groups or []:
        used |= set(g.columns)
    return ModelSpec(
        fixed_design=design,
        beta=beta,
        beta_names=names,
        groups={g.name: g for g in groups or []},
        family=fam,
        link=get_link(fam, link),
        aux=aux,
        n_chains=n_chains,
        n_draws=s // n_chains,
        data=data,
        predictors=sorted(used | ({trials} if isinstance(trials, str) else set())),
        trials=trials,
        source=source,
    )


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

    ``formula`` is the brms formula (group-level terms are read from the ``r_``
    columns; only its fixed part is used to build the design) or a function of
    newdata returning a DataFrame whose columns carry the ``b_`` names without
    the prefix.  Chains come from a ``.chain`` column when present.

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

    The spec keeps the arguments it was built from (the draws as a private copy), and
    pickling saves those: loading builds it again, identical.  A ``formula`` function
    pickles as pickle saves functions.
    """
    draws = draws.reset_index(drop=True)  # a new frame: later edits of the caller's do not reach the spec
    arguments = dict(draws=draws, formula=formula, data=data, family=family, link=link, trials=trials)
    if ".chain" in draws.columns:
        draws = draws.sort_values([".chain"] + ([".iteration"] if ".iteration" in draws.columns else []), kind="stable")
        n_chains = draws[".chain"].nunique()
    else:
        n_chains = 1
    beta_names = [c[2:] for c in draws.columns if c.startswith("b_")]
    if not beta_names:
        raise ValueError("draws has no 'b_' columns (fixed effects such as 'b_Intercept')")
    beta = draws[[f"b_{n}" for n in beta_names]].to_numpy(dtype=float)

    if callable(formula):
        fixed_design, predictors = formula, []
    else:
        fixed_design, predictors = _formula_design(formula, data)

    r_cols: dict[str, dict[str, dict[str, str]]] = {}
    for col in draws.columns:
        m = _R_COLUMN.match(col)
        if m:
            r_cols.setdefault(m["factor"], {}).setdefault(m["term"], {})[m["level"]] = col
    groups = [
        _brms_group(factor, terms, draws, data, fixed_design) for factor, terms in r_cols.items()
    ]
    for g in groups:
        predictors += [t for t in g.terms if t in data.columns]
    aux_names = {"sigma", "nu", *BRMS_AUX, *BRMS_AUX.values()}
    aux = {a: draws[a].to_numpy(dtype=float) for a in draws.columns if a in aux_names}
    spec = from_arrays(
        fixed_design=fixed_design, beta=beta, beta_names=beta_names, family=family, data=data,
        groups=groups, link=link, aux=aux, n_chains=n_chains, predictors=predictors, trials=trials,
    )
    spec._rebuild = (_rebuild_brms, (arguments,))  # the design functions are closures: pickle these instead
    return spec


def _rebuild_brms(arguments: dict) -> ModelSpec:
    """A pickled :func:`from_brms_draws` spec back, built again from its arguments."""
    return from_brms_draws(**arguments)


def _brms_group(factor, terms: dict[str, dict[str, str]], draws, data, fixed_design) -> GroupFactor:
    term_names = list(terms)
    levels = list(terms[term_names[0]])
    for t in term_names[1:]:
        if list(terms[t]) != levels:
            raise ValueError(f"r_{factor}[...] columns do not give every term for the same levels")
    s = len(draws)
    b = np.stack(
        [draws[[terms[t][lev] for lev in levels]].to_numpy(dtype=float) for t in term_names], axis=2
    )
    sd = np.empty((s, len(term_names)))
    for j, t in enumerate(term_names):
        col = f"sd_{factor}__{t}"
        if col not in draws.columns:
            raise ValueError(f"draws has r_{factor}[...,{t}] but no {col!r} column")
        sd[:, j] = draws[col].to_numpy(dtype=float)
    cor = None
    pairs = [(i, j) for i in range(len(term_names)) for j in range(i + 1, len(term_names))]
    found = {p: f"cor_{factor}__{term_names[p[0]]}__{term_names[p[1]]}" for p in pairs}
    found = {p: c for p, c in found.items() if c in draws.columns}
    if found:
        cor = np.broadcast_to(np.eye(len(term_names)), (s, len(term_names), len(term_names))).copy()
        for (i, j), col in found.items():
            cor[:, i, j] = cor[:, j, i] = draws[col].to_numpy(dtype=float)

    def design(frame, term_names=term_names):
        X = None
        cols = []
        for t in term_names:
            if t == "Intercept":
                cols.append(np.ones(len(frame)))
                continue
            if X is None:
                X = fixed_design(frame)
            if isinstance(X, pd.DataFrame) and t in X.columns:
                cols.append(X[t].to_numpy(dtype=float))
            elif t in frame.columns:
                cols.append(pd.to_numeric(frame[t]).to_numpy(dtype=float))
            else:
                raise ValueError(f"cannot build the column of group-level term {t!r} of {factor!r} from newdata")
        return np.column_stack(cols)

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
