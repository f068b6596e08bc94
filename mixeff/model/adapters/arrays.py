"""Arrays adapter: draws from any sampler (brms/Stan, NumPyro, hand-written PyMC).

:func:`from_arrays` takes the pieces directly; :func:`from_brms_draws` reads a
``posterior::as_draws_df()``-style table with brms's column names
(``b_Intercept``, ``sd_g__Intercept``, ``cor_g__Intercept__x``, ``r_g[level,x]``,
``sigma``, ``shape``, ``phi``, ``nu``).

Both check their input at construction: a table or arrays that do not describe the
model (a level without its effects, a term without its coefficient, NaN draws,
unequal chains, a parameter the family does not have) is an error naming what is
wrong, never a silently different model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import combinations
from typing import Callable

import numpy as np
import pandas as pd

from ..families import Family, aux_name, brms_aux_name, get_family, get_link
from ..formula import brms_name, parse_formula
from ..spec import GroupFactor, ModelSpec, _canonical, factor_labels

_R_COLUMN = re.compile(r"^r_(?P<factor>[^\[]+)\[(?P<level>.*),(?P<term>[^,\]]+)\]$")
_BOOKKEEPING = re.compile(r"^(\.chain|\.iteration|\.draw|lprior|Intercept|.*__|(prior|z|L|Intercept)_.*)$")
"""Columns brms writes besides the parameters (log density, centred intercept, raw Stan variables)."""
_AUX = {"sigma", "nu", "shape", "phi", "alpha", "kappa", "zi", "hu", "zoi", "coi", "disc", "ndt", "bs", "bias",
        "beta", "xi", "quantile"}
"""brms's distributional parameters, and Bambi's names for some of them."""
_FIX = "Pass the draws table from as_draws_df(fit) with all its columns."


def _formula_design(formula: str, data: pd.DataFrame):
    """A design function from a formula's fixed part, its variables, its column names (brms's)."""
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

    try:
        design = formulae.design_matrices(rhs, with_levels(data), na_action="error").common
    except Exception as err:  # formulae raises KeyError, its own errors...
        raise ValueError(f"formula: its fixed part {rhs!r} cannot be evaluated on data ({type(err).__name__}: "
                         f"{err}); pass the data the model was fitted to") from None
    names = [brms_name(c) for t in design.terms.values() for c in t.labels]
    var_names = set().union(*[t.var_names for t in design.terms.values()])

    def evaluate(frame: pd.DataFrame) -> pd.DataFrame:
        try:
            X = np.asarray(design.evaluate_new_data(with_levels(frame)).design_matrix, dtype=float)
        except ValueError as err:
            raise ValueError(f"newdata cannot be evaluated by the formula {formula!r}: {err}") from None
        return pd.DataFrame(X, columns=names, index=frame.index)

    return evaluate, sorted(v for v in var_names if v in data.columns), names, with_levels


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
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be the pandas DataFrame the model was fitted to, got {type(data).__name__}")
    beta = np.asarray(beta, dtype=float)
    names = list(beta_names)
    _check_beta(beta, names)
    s = beta.shape[0]
    _check_n_chains(n_chains, s)
    fam = get_family(family)
    aux = _check_aux_arrays(aux or {}, fam, s)
    _check_group_arrays(groups or [], s, data)
    design = _ByName(fixed_design, names)
    _check_design(design, data, names)

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


def _refuse(what: str, names: list[str], bad: np.ndarray, problem: str, fix: str) -> None:
    """Raise naming every column of ``bad`` (draws × columns) with a True cell, and how many draws."""
    counts = bad.sum(axis=0)
    if not counts.any():
        return
    listed = [f"{n} ({c} of {len(bad)} draws)" for n, c in zip(names, counts) if c]
    more = f" and {len(listed) - 6} more" if len(listed) > 6 else ""
    raise ValueError(f"{what}: {problem} in {', '.join(listed[:6])}{more}; {fix}")


def _refuse_bad_values(what: str, names: list[str], X: np.ndarray, sd=(), cor=(), positive=()) -> None:
    """``X`` (draws × ``names``): non-finite anywhere; negative ``sd``, ``cor`` outside [-1, 1], ``positive`` <= 0."""
    _refuse(what, names, ~np.isfinite(X), "non-finite values (NaN or ±inf)",
            "every draw must be finite: check the fit and how the draws were written and read "
            "(drop whole draws only if you keep the chains equal in length)")
    index = {n: j for j, n in enumerate(names)}
    for subset, bad, problem in [(sd, lambda x: x < 0, "negative standard deviations"),
                                 (cor, lambda x: np.abs(x) > 1, "correlations outside [-1, 1]"),
                                 (positive, lambda x: x <= 0, "non-positive values of a positive parameter")]:
        if len(subset):
            _refuse(what, list(subset), bad(X[:, [index[n] for n in subset]]), problem,
                    "these are not draws of that parameter: check which column is which")


def _check_beta(beta: np.ndarray, names: list[str]) -> None:
    if beta.ndim != 2 or beta.shape[0] == 0:
        raise ValueError(f"beta must be a (draws, coefficients) array with at least one draw, got shape {beta.shape}")
    if beta.shape[1] != len(names):
        raise ValueError(f"beta has {beta.shape[1]} columns but beta_names has {len(names)} names {names}; "
                         "give one name per column of beta")
    if len(set(names)) != len(names):
        raise ValueError(f"beta_names {names} repeats a name; give each coefficient its own")
    _refuse_bad_values("beta", [f"beta[:, {n!r}]" for n in names], beta)


def _check_n_chains(n_chains, s: int) -> None:
    if not isinstance(n_chains, (int, np.integer)) or isinstance(n_chains, bool) or n_chains < 1:
        raise TypeError(f"n_chains must be a positive integer, got {n_chains!r}")
    if s % n_chains:
        raise ValueError(f"n_chains={n_chains} does not divide the {s} draws of beta into equal chains; "
                         "diagnostics need equal chains: keep the same number of draws from every chain "
                         "(ordered chain-major)")


def _check_aux_arrays(aux: dict, family: Family, s: int) -> dict[str, np.ndarray]:
    out = {}
    for key, values in aux.items():
        name = aux_name(key)
        if name in out:
            raise ValueError(f"aux gives {name!r} twice (as {key!r} and as {brms_aux_name(name)!r} or "
                             f"{name!r}); pass it once")
        out[name] = np.asarray(values, dtype=float).ravel()
    stray = [k for k in aux if aux_name(k) not in family.aux]
    if stray:
        raise ValueError(f"aux: family {family.name!r} has no auxiliary parameter(s) {stray}; its parameters "
                         f"are {list(family.aux) or 'none'}. Drop them, or pass the family the model was fitted with")
    wrong = {k: len(v) for k, v in out.items() if len(v) != s}
    if wrong:
        raise ValueError(f"aux: {wrong} values where one per draw ({s}) is expected; "
                         "a constant is np.full(S, value)")
    if out:
        names = [f"aux[{k!r}]" for k in out]
        _refuse_bad_values("aux", names, np.column_stack(list(out.values())), positive=names)
    return out


def _check_group_arrays(groups: list[GroupFactor], s: int, data: pd.DataFrame) -> None:
    for g in groups:
        k, n_levels = len(g.terms), len(g.levels)
        shapes = {"b": (g.b.shape, (s, n_levels, k)), "sd": (g.sd.shape, (s, k))}
        if g.cor is not None:
            shapes["cor"] = (g.cor.shape, (s, k, k))
        for part, (got, want) in shapes.items():
            if got != want:
                raise ValueError(f"groups: {g.name!r}.{part} has shape {got}, expected {want} "
                                 f"(draws, {n_levels} levels, {k} terms {g.terms})")
        absent = [c for c in g.columns if c not in data.columns]
        if absent:
            raise ValueError(f"data: no column(s) {absent} for the grouping factor {g.name!r}; "
                             "pass the data the model was fitted to")
        rows = data[list(g.columns)].notna().all(axis=1)
        unseen = sorted(map(str, set(g.labels_of(data.loc[rows])) - set(g.levels)))
        if unseen:
            raise ValueError(f"groups: {g.name!r} has no effects for level(s) {unseen[:10]} that data has; "
                             f"its levels are {[str(v) for v in g.levels[:10]]}{' ...' if n_levels > 10 else ''}. "
                             "Give b a slice per level of the data the model was fitted to")
        _refuse_bad_values("groups", [f"{g.name!r}.b[{lev},{t}]" for lev in g.levels for t in g.terms],
                           g.b.reshape(s, -1))
        sds = [f"{g.name!r}.sd[{t}]" for t in g.terms]
        _refuse_bad_values("groups", sds, g.sd, sd=sds)
        if g.cor is not None:
            i, j = np.triu_indices(k, 1)
            cors = [f"{g.name!r}.cor[{g.terms[a]},{g.terms[b]}]" for a, b in zip(i, j)]
            _refuse_bad_values("groups", cors, g.cor[:, i, j], cor=cors)


def _check_design(design: "_ByName", data: pd.DataFrame, names: list[str]) -> None:
    X = design(data)
    if X.shape != (len(data), len(names)):
        raise ValueError(f"fixed_design(data) gave an array of shape {X.shape}, expected ({len(data)}, "
                         f"{len(names)}): one column per coefficient of beta_names {names}, in that order "
                         "(or a DataFrame whose columns carry those names)")


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
    whose columns carry the ``b_`` names without the prefix (the group-level terms are
    then read from the ``r_`` columns).  Chains come from a ``.chain`` column when present.

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
        fixed_design, predictors, names = formula, [], None
        structure = _groups_from_columns(draws)
    else:
        fixed_design, predictors, names, with_levels = _formula_design(formula, data)
        structure = _groups_from_formula(formula, data, with_levels)

    b_cols = _check_fixed(draws, names)
    r_cols, sd_cols, cor_cols = _check_groups(draws, structure, data)
    aux_cols = _check_aux(draws, fam)
    chain = [".chain"] if ".chain" in draws.columns else []
    used = [*b_cols, *r_cols, *sd_cols, *cor_cols, *aux_cols]
    _check_unused(draws, used)
    _check_numeric(draws, used + chain)
    _refuse_bad_values("draws", used + chain, draws[used + chain].to_numpy(dtype=float),
                       sd=sd_cols, cor=cor_cols, positive=aux_cols)
    n_chains = _check_chains(draws)
    if chain:
        draws = draws.sort_values([".chain"] + ([".iteration"] if ".iteration" in draws.columns else []), kind="stable")

    beta_names = [c[2:] for c in b_cols]
    r = _r_columns(draws.columns)
    groups = [_brms_group(factor, g, r, draws, data, fixed_design) for factor, g in structure.items()]
    for g in groups:
        predictors += [t for t in g.terms if t in data.columns]
    spec = from_arrays(
        fixed_design=fixed_design, beta=draws[b_cols].to_numpy(dtype=float), beta_names=beta_names,
        family=family, data=data, groups=groups, link=link, aux={a: draws[a].to_numpy(dtype=float) for a in aux_cols},
        n_chains=n_chains, predictors=predictors, trials=trials,
    )
    spec._rebuild = (_rebuild_brms, (arguments,))  # the design functions are closures: pickle these instead
    return spec


def _rebuild_brms(arguments: dict) -> ModelSpec:
    """A pickled :func:`from_brms_draws` spec back, built again from its arguments."""
    return from_brms_draws(**arguments)


@dataclass
class _Group:
    """One grouping factor as brms writes its draws: terms (brms names), correlated pairs, formula text."""

    terms: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    bars: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " + ".join(self.bars)


def _bars(formula: str) -> list[tuple[str, str, str]]:
    """``(terms, bar, factor)`` of each ``( ... | g)`` of a formula: ``("1 + Days", "|", "Subject")``."""
    rhs, out, depth, start = formula.split("~", 1)[-1], [], 0, 0
    for i, ch in enumerate(rhs):
        if ch == "(":
            start, depth = (i if depth == 0 else start), depth + 1
        elif ch == ")":
            depth -= 1
            inner = rhs[start + 1:i]
            if depth == 0 and "|" in inner:
                bar = "||" if "||" in inner else "|"
                parts = inner.split(bar)  # brms's ID syntax (1 | p | g): terms first, factor last
                out.append((parts[0].strip(), bar, "".join(parts[-1].split())))
    return out


def _groups_from_formula(formula: str, data: pd.DataFrame, with_levels) -> dict[str, _Group]:
    import formulae

    groups: dict[str, _Group] = {}
    for lhs, bar, factor in _bars(formula):
        text = f"({lhs} {bar} {factor})"
        try:
            design = formulae.design_matrices(lhs, with_levels(data), na_action="drop").common
            terms = [brms_name(c) for t in design.terms.values() for c in t.labels]
        except Exception as err:  # formulae raises KeyError, its own errors...
            raise ValueError(f"formula: the group term {text} cannot be evaluated on data "
                             f"({type(err).__name__}: {err}); pass the data the model was fitted to") from None
        parts = factor.split("/")  # brms: (1 | g/h) is (1 | g) + (1 | g:h)
        for name in [":".join(parts[:i + 1]) for i in range(len(parts))]:
            g = groups.setdefault(name, _Group())
            g.terms += [t for t in terms if t not in g.terms]
            g.pairs += list(combinations(terms, 2)) if bar == "|" else []
            g.bars.append(text)
    return groups


def _groups_from_columns(draws: pd.DataFrame) -> dict[str, _Group]:
    """The group terms the ``r_`` columns name, correlated where a ``cor_`` column says so."""
    groups: dict[str, _Group] = {}
    for factor, term in _r_columns(draws.columns):
        groups.setdefault(factor, _Group()).terms.append(term)
    for factor, g in groups.items():
        g.pairs = [p for p in combinations(g.terms, 2) if f"cor_{factor}__{p[0]}__{p[1]}" in draws.columns]
        g.bars = [f"({' + '.join(g.terms)} | {factor}) read from the r_ columns"]
    return groups


def _r_columns(columns) -> dict[tuple[str, str], dict[str, str]]:
    """``(factor, term)`` -> ``{level: column}`` of the ``r_<factor>[level,term]`` columns."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for col in columns:
        m = _R_COLUMN.match(col)
        if m:
            out.setdefault((m["factor"], m["term"]), {})[m["level"]] = col
    return out


def _check_fixed(draws: pd.DataFrame, names: list[str] | None) -> list[str]:
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


def _check_groups(draws: pd.DataFrame, groups: dict[str, _Group], data: pd.DataFrame):
    """The ``r_``, ``sd_`` and ``cor_`` columns of every group term, and no other."""
    r = _r_columns(draws.columns)
    r_cols, sd_cols, cor_cols = [], [], []
    for factor, g in groups.items():
        found = {t: r.get((factor, t), {}) for t in g.terms}
        if not any(found.values()):
            example = f"r_{factor}[{next(iter(_data_levels(data, factor, g)), 'level')},{g.terms[0]}]"
            raise ValueError(f"draws: no r_{factor}[...] columns for the group term {g.text}; brms writes one "
                             f"per level and term (e.g. {example}). {_FIX}")
        _check_levels(factor, g, found, data)
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


def _data_levels(data: pd.DataFrame, factor: str, g: _Group) -> list[str]:
    """The levels of a (brms, ``_``-joined) grouping factor that ``data`` has, in order of appearance."""
    columns = factor.split(":")
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise ValueError(f"data: no column(s) {absent} for the grouping factor of {g.text}; "
                         "pass the data the model was fitted to")
    rows = data[columns].notna().all(axis=1)
    return [str(lev) for lev in pd.unique(factor_labels(data.loc[rows], tuple(columns), sep="_"))]


def _check_levels(factor: str, g: _Group, found: dict[str, dict[str, str]], data: pd.DataFrame) -> None:
    """An ``r_`` column for every level in ``data`` and every term; every term for the same levels."""
    numeric = ":" not in factor and factor in data and pd.api.types.is_numeric_dtype(data[factor]) \
        and not pd.api.types.is_bool_dtype(data[factor])
    canon = (lambda levels: [str(v) for v in _canonical(np.asarray(levels, dtype=str))]) if numeric else list
    have = {t: dict(zip(canon(list(cols)), cols)) for t, cols in found.items()}
    levels = _data_levels(data, factor, g)
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


def _check_aux(draws: pd.DataFrame, family: Family) -> list[str]:
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


def _check_unused(draws: pd.DataFrame, used: list[str]) -> None:
    """No column but the model's parameters and brms's bookkeeping."""
    used = set(used)
    extra = [c for c in draws.columns if c not in used and not _BOOKKEEPING.match(str(c))]
    if extra:
        raise ValueError(f"draws: column(s) {extra[:10]}{' ...' if len(extra) > 10 else ''} are not parameters of "
                         "this model; mixeff reads b_, r_, sd_, cor_ and the family's auxiliary-parameter columns, "
                         "and ignores brms's bookkeeping (lp__, lprior, .chain, .iteration, .draw, Intercept, "
                         "prior_*, z_*, L_*). Drop them, or pass the formula and family the model was fitted with")


def _check_numeric(draws: pd.DataFrame, used: list[str]) -> None:
    text = [c for c in used if not pd.api.types.is_numeric_dtype(draws[c])]
    if text:
        raise ValueError(f"draws: column(s) {text[:10]} are not numeric ({draws[text[0]].dtype}); read the CSV so "
                         "that every parameter column is a number (pd.read_csv does, unless a cell is text)")


def _check_chains(draws: pd.DataFrame) -> int:
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


def _brms_group(factor: str, g: _Group, r, draws: pd.DataFrame, data, fixed_design) -> GroupFactor:
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
