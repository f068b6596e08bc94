"""brms adapter: a ``posterior::as_draws_df()`` table with brms's column names.

:func:`from_brms_draws` reads ``b_Intercept``, ``sd_g__Intercept``, ``cor_g__Intercept__x``,
``r_g[level,x]`` and the family's auxiliary parameters (``sigma``, ``shape``, ``phi``, ``nu``,
``zi``, ``hu``), after :mod:`.brms_checks` has checked the table against the formulas and family.

brms's models beyond one formula come in brms's layout too:

* distributional formulas (``bf(y ~ x, sigma ~ x + (1 | g))``): ``b_sigma_x``,
  ``sd_g__sigma_Intercept``, ``r_g__sigma[level,Intercept]``, one
  :class:`~mixeff.model.spec.Predictor` each, with brms's default links;
* zero-inflated and hurdle families: brms's ``zi`` and ``hu`` are ``1 - psi`` (mixeff's,
  PyMC's parameterisation), so a constant column becomes ``psi = 1 - zi`` and a formula
  ``zi ~ x`` a predictor of ``psi`` with its coefficients' signs flipped;
* ordinal families (``cumulative``, ``sratio``): the thresholds ``b_Intercept[k]``;
* ``categorical``: each non-reference category's formula, ``b_muB_x``, ``r_g__muB[...]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

from ..families import Family, get_family, get_link
from ..formula import brms_name, formula_bars, parse_formula
from ..spec import GroupFactor, ModelSpec, Predictor
from .arrays import _ByName, _check_design, refuse_bad_values
from .brms_checks import (
    PROBABILITIES,
    BrmsGroup,
    brms_parameters,
    check_aux,
    check_chains,
    check_fixed,
    check_groups,
    check_increasing,
    check_numeric,
    check_probabilities,
    check_thresholds,
    check_unused,
    dpar_hint,
    r_columns,
)

_NOT_FROM_BRMS = {
    "laplace": "brms has no laplace family; its asym_laplace with quantile 0.5 is the Laplace distribution: pass "
    "family='asym_laplace' (with a column quantile = 0.5 if bf() fixed it)",
    "exgaussian": "brms's mu is the mean of the response, mixeff's (PyMC's) the mean of the normal part (brms's mu "
    "minus beta), so brms's draws do not give mixeff's linear predictor",
}
"""Families mixeff has whose brms draws it cannot read, and why (named in the error)."""

_LINK_ALIASES = {"1/mu^2": "inverse_squared", "1/mu": "inverse"}
"""brms's spellings of links mixeff names otherwise."""

_DPAR_LINKS = {"positive": ("log", ("log", "identity")), "probability": ("logit", ("logit", "probit", "identity"))}
"""brms's default link of a distributional parameter's formula, and those mixeff takes."""

_NO_FORMULA = {"nu": "brms's link for nu is logm1, log(nu - 1), which mixeff does not have"}
"""Distributional parameters whose brms formula mixeff cannot read, and why."""
_MIXED = "mixeff's asymmetric Laplace parameters b and kappa each mix brms's sigma and quantile"


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
                    raise ValueError(
                        f"newdata column {c!r} has level(s) {unknown} the model does not have; "
                        f"its levels are {list(cats)}"
                    )
                cols[c] = pd.Categorical(frame[c], categories=cats, ordered=True)
        return frame.assign(**cols) if cols else frame

    return with_levels


def _design(expr: str, data: pd.DataFrame, with_levels, what: str, na_action: str = "error"):
    """Formulae's design of ``expr`` on ``data``: ``(evaluate, names, variables)``.

    ``evaluate(newdata)`` is a DataFrame whose columns carry brms's ``names``; ``variables``
    are the columns of ``data`` it reads.
    """
    import formulae

    try:
        design = formulae.design_matrices(expr, with_levels(data), na_action=na_action).common
    except Exception as err:  # formulae raises KeyError, its own errors...
        raise ValueError(
            f"formula: {what} cannot be evaluated on data ({type(err).__name__}: {err}); "
            "pass the data the model was fitted to"
        ) from None
    names = [brms_name(c) for t in design.terms.values() for c in t.labels]
    variables = set().union(*[t.var_names for t in design.terms.values()])
    columns = pd.Index(names)  # built once: a frame's column index from a list costs more than its data

    def evaluate(frame: pd.DataFrame) -> pd.DataFrame:
        try:
            X = design.evaluate_new_data(with_levels(frame)).design_matrix
        except ValueError as err:
            raise ValueError(f"newdata cannot be evaluated by {what}: {err}") from None
        return pd.DataFrame(np.asarray(X, dtype=float), columns=columns, index=frame.index)

    return evaluate, names, sorted(v for v in variables if v in data.columns)


@dataclass
class _Part:
    """One formula of the model: the mean's (``dpar=""``) or a distributional parameter's."""

    dpar: str
    """brms's name of the parameter: ``""`` (the mean), ``"sigma"``, ``"zi"``, ``"muB"``."""
    name: str
    """The spec's name of it: ``"sigma"``, ``"psi"`` (brms's ``zi`` and ``hu``), ``"muB"``."""
    fixed_design: Callable[[pd.DataFrame], pd.DataFrame | np.ndarray]
    names: list[str] | None
    """brms names of the fixed part's columns (None: those of the ``b_`` columns, for a formula function)."""
    groups: dict[str, BrmsGroup] = field(default_factory=dict)
    link: str = ""
    sign: float = 1.0
    """-1 for brms's ``zi``/``hu``, whose formula predicts ``1 - psi``: flipped, it predicts ``psi``."""
    offset: Callable[[pd.DataFrame], np.ndarray] | None = None


def from_brms_draws(
    draws: pd.DataFrame,
    *,
    formula: str | list[str] | Callable[[pd.DataFrame], pd.DataFrame],
    data: pd.DataFrame,
    family: str = "gaussian",
    link: str | dict[str, str] | None = None,
    trials: str | float | None = None,
    categories: list | None = None,
    source: Literal["posterior", "prior"] = "posterior",
) -> ModelSpec:
    """Read brms-named draws (``as_draws_df(fit)`` written to CSV, say) into a spec.

    ``formula`` is the brms formula, or a function of newdata returning a DataFrame
    whose columns carry the ``b_`` names without the prefix and the group-level terms'
    names (the terms are then read from the ``r_`` columns; ``Intercept`` may be left
    out, and a term named like a newdata column is read from that column).  Chains come from a
    ``.chain`` column when present.

    A distributional model, brms's ``bf(y ~ x + (1 | g), sigma ~ x + (1 | g))``, takes every
    formula as a list of strings, the response's first: ``formula=["y ~ x + (1 | g)",
    "sigma ~ x + (1 | g)"]``.  brms names their draws ``b_sigma_x``, ``sd_g__sigma_Intercept``,
    ``r_g__sigma[level,Intercept]``; each becomes a predictor of the spec
    (``predictions(spec, dpar="sigma")``), with brms's default link: ``log`` for
    ``sigma``, ``shape`` and ``phi``, ``logit`` for ``zi`` and ``hu``.  ``link`` is the
    mean's link, or a dict of links by parameter, ``{"mu": "log", "sigma": "identity"}``.

    Zero-inflated and hurdle families (``zero_inflated_poisson``, ``zero_inflated_negbinomial``,
    ``zero_inflated_binomial``, ``hurdle_poisson``, ``hurdle_negbinomial``, ``hurdle_gamma``,
    ``hurdle_lognormal``): mixeff's ``psi`` (PyMC's) is brms's ``1 - zi`` and ``1 - hu``, so
    ``dpar="psi"`` gives the probability of the count part (zero-inflated) or of a non-zero
    response (hurdle); a formula ``zi ~ x`` is read as the formula of ``psi`` with every
    coefficient's sign flipped (its ``type="link"`` values are ``-η`` of brms's ``zi``).

    Ordinal (``cumulative``, ``sratio``) and ``categorical`` families need the response's
    ``categories`` in brms's order: pass them, or data whose response column is a pandas
    Categorical (its categories) or numbers (sorted).  An ordinal model's thresholds are
    ``b_Intercept[1]`` ... ``b_Intercept[K-1]``.  A categorical model's first category is
    the reference (brms's default refcat; one fitted with another ``refcat`` takes it first):
    every other category ``c`` has the formula's coefficients ``b_mu<c>_x``, group terms
    ``r_g__mu<c>[...]``, or a formula of its own, ``"mu<c> ~ ..."``.

    The table must hold what brms writes for those formulas and family, and nothing else
    but brms's bookkeeping (``lp__``, ``lprior``, ``.chain``, ``.iteration``, ``.draw``,
    ``Intercept``, ``prior_*``, ``z_*``, ``L_*``): a ``b_`` column per fixed-effect
    column; per group term ``sd_`` columns, ``r_`` columns for every level in ``data``
    and, for ``|`` (not ``||``), ``cor_`` columns; the family's auxiliary parameters
    that have no formula.  Every draw must be finite and chains equal in length.

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

    ``sigma ~ TX``: brms's ``b_sigma_`` columns instead of ``sigma``.

    >>> modelled = draws.drop(columns="sigma").assign(b_sigma_Intercept=[-0.7], b_sigma_TX=[0.2])
    >>> spec = from_brms_draws(modelled, formula=["y ~ 1 + TX + (1 | cluster)", "sigma ~ TX"], data=d,
    ...                        family="lognormal")
    >>> spec.dpars["sigma"].beta_names, spec.dpars["sigma"].link_name
    (['Intercept', 'TX'], 'log')

    ``source="prior"`` marks the draws as prior draws (from a brms fit with ``sample_prior = "only"``):
    results computed from the spec then say so, and are not checked for convergence.

    The spec keeps the arguments it was built from (the draws as a private copy), and
    pickling saves those: loading builds it again, identical.  A ``formula`` function
    pickles as pickle saves functions.
    """
    if not isinstance(draws, pd.DataFrame):
        raise TypeError(
            f"draws must be a pandas DataFrame with brms's column names (e.g. posterior::as_draws_df(fit) "
            f"written to CSV and read with pd.read_csv), got {type(draws).__name__}"
        )
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be the pandas DataFrame the model was fitted to, got {type(data).__name__}")
    if len(draws) == 0:
        raise ValueError("draws has no rows; pass the draws table from as_draws_df(fit), one row per draw")
    if source not in ("posterior", "prior"):
        raise ValueError(f"source={source!r} must be 'posterior' or 'prior' (draws of a prior-only fit)")
    draws = draws.reset_index(drop=True)  # a new frame: later edits of the caller's do not reach the spec
    arguments = dict(
        draws=draws,
        formula=formula,
        data=data,
        family=family,
        link=link,
        trials=trials,
        categories=categories,
        source=source,
    )
    fam = _brms_family(family)
    main, texts = _split_formulas(formula)
    cats = _categories(categories, fam, main, data)
    mu_names = _mu_names(cats) if fam.categorical and not fam.ordinal else {}
    _check_dpar_formulas(texts, fam, mu_names)
    main_link, dpar_links = _links(link, fam, texts)
    mean_link = get_link(fam, main_link)

    predictors: list[str] = []
    if callable(main):
        _check_formula_function(draws, fam)
        groups = _groups_from_columns(draws, main)
        predictors = sorted({t for g in groups.values() for t in g.terms if t in data.columns})
        parts = [_Part("", "", main, None, groups)]
    else:
        with_levels = _with_levels(data)
        parts = _formula_parts(main, texts, fam, mu_names, dpar_links, data, with_levels, predictors)

    draws, n_chains, thresholds, b_cols, aux_cols = _checked_draws(draws, fam, cats, parts, data)
    r = r_columns(draws.columns)
    built = {p.dpar: _build_part(p, b_cols[p.dpar], r, draws, data) for p in parts}
    if callable(main):
        _check_design(main, data, built[""][1])
    aux = _aux(fam, draws, aux_cols)
    if thresholds:
        aux["threshold"] = draws[thresholds].to_numpy(dtype=float)
    if mu_names:  # categorical: the categories' predictors carry η, the mean's fixed part is empty
        fixed_design, beta, beta_names, groups = _no_columns, np.zeros((len(draws), 0)), [], {}
    else:
        fixed_design, (beta, beta_names, groups) = parts[0].fixed_design, built[""]
    dpars = {
        p.name: Predictor(_ByName(p.fixed_design, built[p.dpar][1]), *built[p.dpar], p.link, p.offset)
        for p in parts
        if p.dpar
    }
    used = set(predictors) | {c for p in parts for g in built[p.dpar][2].values() for c in g.columns}
    spec = ModelSpec(
        fixed_design=_ByName(fixed_design, beta_names),
        beta=beta,
        beta_names=beta_names,
        groups=groups,
        family=fam,
        link=mean_link,
        aux=aux,
        n_chains=n_chains,
        n_draws=len(draws) // n_chains,
        data=data,
        predictors=sorted(used | ({trials} if isinstance(trials, str) else set())),
        trials=trials,
        dpars=dpars,
        categories=cats,
        response=_response_name(main, data),
        source=source,
    )
    spec._rebuild = (_rebuild_brms, (arguments,))  # the design functions are closures: pickle these instead
    return spec


def _response_name(main, data: pd.DataFrame) -> str | None:
    """The response column of a formula string (``"y ~ x"``, ``"y | trials(n) ~ x"``) when data holds it."""
    lhs = main.split("~", 1)[0].split("|", 1)[0].strip() if isinstance(main, str) else ""
    return lhs if lhs in data.columns else None


def _rebuild_brms(arguments: dict) -> ModelSpec:
    """A pickled :func:`from_brms_draws` spec back, built again from its arguments."""
    return from_brms_draws(**arguments)


def _checked_draws(draws: pd.DataFrame, fam: Family, cats: tuple[str, ...], parts: list[_Part], data):
    """Every check of the table (:mod:`.brms_checks`).

    Returns ``(draws in chain order, n_chains, threshold columns, b_ columns by formula, auxiliary
    columns -> mixeff names)``.
    """
    thresholds = check_thresholds(draws, fam, cats) if fam.ordinal else []
    b_cols = check_fixed(draws, {p.dpar: p.names for p in parts}, reserved=thresholds)
    modelled = [p.dpar for p in parts if p.dpar]
    group_list = [(factor, g) for p in parts for factor, g in p.groups.items()]
    r_cols, sd_cols, cor_cols = check_groups(draws, group_list, data, modelled)
    aux_cols = check_aux(draws, fam, modelled)
    chain = [".chain"] if ".chain" in draws.columns else []
    used = [*thresholds, *(c for cols in b_cols.values() for c in cols), *r_cols, *sd_cols, *cor_cols, *aux_cols]
    check_unused(draws, used, modelled)
    check_numeric(draws, used + chain)
    probabilities = [c for c in aux_cols if c in PROBABILITIES]
    refuse_bad_values(
        "draws",
        used + chain,
        draws[used + chain].to_numpy(dtype=float),
        sd=sd_cols,
        cor=cor_cols,
        positive=[c for c in aux_cols if c not in probabilities],
    )
    check_probabilities(draws, probabilities)
    if fam.name == "cumulative" and len(thresholds) > 1:
        check_increasing(draws, thresholds)
    n_chains = check_chains(draws)
    if chain:
        draws = draws.sort_values([".chain"] + ([".iteration"] if ".iteration" in draws.columns else []), kind="stable")
    return draws, n_chains, thresholds, b_cols, aux_cols


def _no_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The empty fixed part of a categorical model's mean (its categories' predictors carry η)."""
    return pd.DataFrame(index=frame.index)


def _ones(frame: pd.DataFrame) -> np.ndarray:
    """The offset 1 of ``psi = 1 - η`` (brms's ``zi`` or ``hu`` with the identity link)."""
    return np.ones(len(frame))


# -- what the user passed ---------------------------------------------------------------------


def _brms_family(family) -> Family:
    fam = get_family(family)
    if fam.name in _NOT_FROM_BRMS:
        raise ValueError(f"family={family!r} cannot be read from brms draws: {_NOT_FROM_BRMS[fam.name]}")
    return fam


def _split_formulas(formula) -> tuple[str | Callable, list[str]]:
    """The mean's formula (text or function) and the distributional parameters' formula texts."""
    if isinstance(formula, str) or callable(formula):
        return formula, []
    if isinstance(formula, (list, tuple)) and formula and all(isinstance(f, str) for f in formula):
        return formula[0], list(formula[1:])
    raise TypeError(
        f"formula must be a brms formula string, a list of them (the response's first, then one per "
        "distributional parameter, as in brms's bf(y ~ x, sigma ~ x): ['y ~ x', 'sigma ~ x']) or a "
        f"function of newdata returning the fixed effects' columns; got {formula!r}"
    )


def _formula_dpar(text: str) -> str:
    """The parameter a distributional formula predicts: its left-hand side."""
    lhs = text.split("~", 1)[0].strip() if "~" in text else ""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", lhs):
        raise ValueError(
            f"formula: {text!r} names no parameter on its left-hand side; after the response's formula, "
            "write each distributional parameter's formula as brms does, e.g. 'sigma ~ x + (1 | g)'"
        )
    return lhs


def _check_dpar_formulas(texts: list[str], fam: Family, mu_names: dict[str, str]) -> None:
    """Each formula after the first predicts a parameter of the family that mixeff can read, once."""
    if mu_names:
        allowed, why = list(mu_names.values())[1:], {}  # the reference category has no η of its own
    else:
        allowed = [] if fam.ordinal else list(brms_parameters(fam))
        why = {**_NO_FORMULA, **({"sigma": _MIXED, "quantile": _MIXED} if fam.name == "asymmetriclaplace" else {})}
    seen = set()
    for text in texts:
        dpar = _formula_dpar(text)
        if dpar in seen:
            raise ValueError(f"formula: two formulas for {dpar!r}; give each parameter one formula")
        seen.add(dpar)
        if dpar in why and dpar in allowed:
            raise ValueError(
                f"formula: {text!r} cannot be read: {why[dpar]}; refit with {dpar} constant (one column of draws)"
            )
        if dpar not in allowed:
            spelled = {v: k for k, v in brms_parameters(fam).items()}.get(dpar)
            hint = f"; brms calls {dpar!r} {spelled!r}: write '{spelled} ~ ...'" if spelled else ""
            has = (
                f"its distributional parameters are {allowed} (brms names)"
                if allowed
                else "it has no distributional parameter mixeff reads a formula for"
                + (" (brms's disc is not supported)" if fam.ordinal else "")
            )
            raise ValueError(
                f"formula: {text!r} is a formula for {dpar!r}, which family {fam.name!r} does not have: {has}{hint}"
            )


def _links(link, fam: Family, texts: list[str]) -> tuple[str | None, dict[str, str]]:
    """``link``: the mean's link name, and every distributional formula's (brms's defaults unless given)."""
    if link is None or isinstance(link, str):
        main, given = link, {}
    elif isinstance(link, dict):
        given = {k: v for k, v in link.items() if k != "mu"}
        main = link.get("mu")
    else:
        raise TypeError(
            f"link must be a link name (the mean's) or a dict of link names by parameter, "
            f"{{'mu': 'log', 'sigma': 'identity'}}; got {link!r}"
        )
    dpars = [_formula_dpar(t) for t in texts]
    per_category = [k for k in given if fam.categorical and not fam.ordinal]
    if per_category:
        raise ValueError(
            f"link={link!r} names {per_category}: a categorical model's categories share the mean's link "
            "(brms's categorical(link = 'logit'), mixeff's softmax); pass link='logit' or leave it out"
        )
    stray = [k for k in given if k not in dpars]
    if stray:
        raise ValueError(
            f"link={link!r} names {stray}, which have no formula in this model: a parameter's link "
            f"applies to its formula (the model's are {dpars or 'none'}); links of the mean go under 'mu'"
        )
    if isinstance(main, str):
        main = _LINK_ALIASES.get(main, main)
        if fam.categorical and not fam.ordinal and main == "logit":
            main = "softmax"  # brms's categorical(link = "logit") is mixeff's softmax
    links = {}
    for dpar in dpars:
        if fam.categorical:
            continue  # a category's η: the family's softmax combines them (identity links, set by the parts)
        default, allowed = _DPAR_LINKS["probability" if dpar in PROBABILITIES else "positive"]
        links[dpar] = given.get(dpar, default)
        if links[dpar] not in allowed:
            raise ValueError(
                f"link={link!r}: link {links[dpar]!r} for {dpar} is not one mixeff reads; use one of "
                f"{list(allowed)} (brms's default is {default!r})"
            )
    return main, links


def _categories(categories, fam: Family, main, data: pd.DataFrame) -> tuple[str, ...]:
    """The response's categories, in brms's order (ordinal and categorical families), as labels."""
    if not fam.categorical:
        if categories is not None:
            raise ValueError(
                f"categories={categories!r} is for ordinal and categorical families (cumulative, sratio, "
                f"categorical); family {fam.name!r} has none: leave it out"
            )
        return ()
    lhs = _response_name(main, data)
    response = data[lhs] if lhs is not None else None
    if categories is None:
        if response is None:
            raise ValueError(
                f"family {fam.name!r} needs the response's categories: pass categories=[...] in brms's "
                "order (the levels of the response), or data with the response column as a pandas "
                "Categorical"
            )
        if isinstance(response.dtype, pd.CategoricalDtype):
            categories = list(response.cat.categories)
        elif pd.api.types.is_numeric_dtype(response) and not pd.api.types.is_bool_dtype(response):
            categories = sorted(pd.unique(response.dropna()))
        else:
            raise ValueError(
                f"data column {lhs!r} (the response) holds text, whose order brms takes from R's "
                "factor levels: pass categories=[...] in that order, or make the column a pandas "
                "Categorical with those categories"
            )
    elif isinstance(categories, str) or not hasattr(categories, "__iter__"):
        raise TypeError(f"categories={categories!r} must be a list of the response's categories, in order")
    labels = tuple(_label(c) for c in categories)
    if len(labels) < 2 or len(set(labels)) < len(labels):
        raise ValueError(f"categories={list(categories)!r} must name at least 2 distinct categories, in brms's order")
    if response is not None:
        unknown = sorted({_label(v) for v in pd.unique(response.dropna())} - set(labels))
        if unknown:
            raise ValueError(
                f"data column {lhs!r} (the response) has value(s) {unknown[:10]} that categories="
                f"{list(labels)} lacks; pass all the model's categories"
            )
    return labels


def _label(value) -> str:
    """A category's label: numbers without a whole number's decimals (``2.0`` -> ``"2"``)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _mu_names(categories: tuple[str, ...]) -> dict[str, str]:
    """Category -> brms's name of its linear predictor.

    ``mu`` + the category as Stan spells it (R's ``make.names`` without dots and underscores:
    ``"a b"`` -> ``"muab"``).

    Examples
    --------
    >>> _mu_names(("A", "b c", "2"))
    {'A': 'muA', 'b c': 'mubc', '2': 'mu2'}
    """
    out = {c: re.sub(r"[^\w.]", ".", f"mu{c}").replace(".", "").replace("_", "") for c in categories}
    if len(set(out.values())) < len(out):
        raise ValueError(
            f"categories {list(categories)} give brms the same parameter name twice "
            f"({list(out.values())}), which brms would have renamed: rename the categories apart"
        )
    return out


def _check_formula_function(draws: pd.DataFrame, fam: Family) -> None:
    """A formula function is the mean's formula only: refuse models that need more."""
    if fam.categorical and not fam.ordinal:
        raise ValueError(
            "formula: a categorical model needs its formula as text (brms writes each category's "
            "coefficients, b_mu<category>_x); pass the formula string"
        )
    hint = dpar_hint(
        [c for c in draws.columns if str(c).startswith(("b_", "r_", "sd_", "cor_"))], dpars=set(brms_parameters(fam))
    )
    if hint:
        raise ValueError(
            "formula: a formula function gives the mean's fixed part only, but draws has a "
            f"distributional parameter's columns{hint} (as strings)"
        )


# -- the formulas' parts ----------------------------------------------------------------------


def _formula_parts(
    main: str,
    texts: list[str],
    fam: Family,
    mu_names: dict[str, str],
    links: dict[str, str],
    data,
    with_levels,
    predictors: list[str],
) -> list[_Part]:
    """Every formula of the model as a :class:`_Part`: the mean's, then each distributional parameter's."""
    by_dpar = {_formula_dpar(t): t for t in texts}
    if mu_names:  # categorical: every category but the reference has the formula (or its own)
        return [
            _formula_part(by_dpar.get(mu, main), mu, mu, "identity", data, with_levels, predictors)
            for mu in list(mu_names.values())[1:]
        ]
    parts = [_formula_part(main, "", "", "", data, with_levels, predictors, intercept=not fam.ordinal)]
    targets = brms_parameters(fam)
    for dpar, text in by_dpar.items():
        part = _formula_part(text, dpar, targets[dpar], links[dpar], data, with_levels, predictors)
        if dpar in ("zi", "hu"):  # brms's formula predicts 1 - psi
            part.sign = -1.0
            part.offset = _ones if part.link == "identity" else None
        parts.append(part)
    return parts


def _formula_part(
    text: str, dpar: str, name: str, link: str, data, with_levels, predictors: list[str], intercept: bool = True
) -> _Part:
    """One formula's fixed design and group terms; adds the columns it reads to ``predictors``."""
    rhs = parse_formula(text).fixed_rhs
    where = f"the fixed part {rhs!r} of the formula" + (f" of {dpar}" if dpar else "")
    evaluate, names, variables = _design(rhs, data, with_levels, where)
    predictors += [v for v in variables if v not in predictors]
    if not intercept:  # an ordinal model's intercepts are its thresholds
        names = [n for n in names if n != "Intercept"]
    groups = _groups_from_formula(text, data, with_levels, predictors, dpar)
    return _Part(dpar, name, evaluate, names, groups, link)


def _groups_from_formula(
    formula: str, data: pd.DataFrame, with_levels, predictors: list[str], dpar: str = ""
) -> dict[str, BrmsGroup]:
    """The group terms of the formula's bars, each with its formulae design; adds their variables to ``predictors``."""
    groups: dict[str, BrmsGroup] = {}
    for lhs, bar, factor in formula_bars(formula):
        text = f"({lhs} {bar} {factor})"
        evaluate, terms, variables = _design(lhs, data, with_levels, f"the group term {text}", na_action="drop")
        predictors += [v for v in variables if v not in predictors]
        parts = factor.split("/")  # brms: (1 | g/h) is (1 | g) + (1 | g:h)
        for name in [":".join(parts[: i + 1]) for i in range(len(parts))]:
            g = groups.setdefault(name, BrmsGroup(dpar=dpar))
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


# -- draws into arrays ------------------------------------------------------------------------


def _build_part(part: _Part, b_cols: list[str], r, draws: pd.DataFrame, data) -> tuple:
    """``(beta, beta_names, groups)`` of one formula, signs flipped where brms's parameter is ``1 - psi``."""
    prefix = len(f"b_{part.dpar}_") if part.dpar else 2
    beta = part.sign * draws[b_cols].to_numpy(dtype=float)
    groups = {factor: _brms_group(factor, g, r, draws, data, part.sign) for factor, g in part.groups.items()}
    return beta + 0.0, [c[prefix:] for c in b_cols], groups  # + 0.0: no -0.0 from a flipped 0


def _aux(fam: Family, draws: pd.DataFrame, columns: dict[str, str]) -> dict[str, np.ndarray]:
    """The auxiliary parameters' draws under mixeff's names, in mixeff's parameterisation."""
    values = {col: draws[col].to_numpy(dtype=float) for col in columns}
    if fam.name == "asymmetriclaplace":
        # brms's density p(1-p)/sigma exp(-(y-mu)/sigma (p - [y < mu])) is PyMC's with
        # b = sqrt(p(1-p))/sigma and kappa = sqrt(p/(1-p))
        p, sigma = values["quantile"], values["sigma"]
        return {"b": np.sqrt(p * (1.0 - p)) / sigma, "kappa": np.sqrt(p / (1.0 - p))}
    return {name: 1.0 - values[col] if col in ("zi", "hu") else values[col] for col, name in columns.items()}


def _brms_group(factor: str, g: BrmsGroup, r, draws: pd.DataFrame, data, sign: float = 1.0) -> GroupFactor:
    term_names = g.terms
    key = g.r_factor(factor)
    levels = list(r[(key, term_names[0])])
    s, k = len(draws), len(term_names)
    b = np.stack([draws[[r[(key, t)][lev] for lev in levels]].to_numpy(dtype=float) for t in term_names], axis=2)
    sd = draws[[g.sd_column(factor, t) for t in term_names]].to_numpy(dtype=float)
    cor = None
    if g.pairs:  # cor(-a, -b) = cor(a, b): a flipped formula keeps its correlations
        cor = np.broadcast_to(np.eye(k), (s, k, k)).copy()
        for t1, t2 in g.pairs:
            i, j = term_names.index(t1), term_names.index(t2)
            cor[:, i, j] = cor[:, j, i] = draws[g.cor_column(factor, t1, t2)].to_numpy(dtype=float)

    def design(frame, term_names=term_names, designs=g.designs):
        cols = {"Intercept": np.ones(len(frame))}
        for evaluate in designs:
            cols.update(evaluate(frame).items())
        cols.update({t: frame[t] for t in term_names if t not in cols and t in frame.columns})  # a raw column
        missing = [t for t in term_names if t not in cols]
        if missing:
            raise ValueError(
                f"the formula function returned no column for group-level term(s) {missing} of "
                f"{factor!r}; return them as the fixed effects' columns are returned"
            )
        return np.column_stack([np.asarray(cols[t], dtype=float) for t in term_names])

    blocks: dict[str, list[int]] = {}
    for j, t in enumerate(term_names):
        blocks.setdefault(_variable_of(t, data), []).append(j)
    return GroupFactor(
        name=factor,
        columns=tuple(factor.split(":")),
        levels=np.asarray(levels),
        terms=term_names,
        b=sign * b + 0.0,
        sd=sd,
        cor=cor,
        design=design,
        term_blocks=blocks,
        sep="_",  # brms: paste(g, h, sep = "_")
    )


def _variable_of(term: str, data: pd.DataFrame) -> str:
    """The formula variable behind a brms coefficient name: ``genderWoman`` -> ``gender``."""
    if term == "Intercept":
        return "1"
    if term in data.columns:
        return term
    for col in data.columns:
        if term.startswith(col) and term[len(col) :] in {brms_name(str(v)) for v in pd.unique(data[col])}:
            return col
    return term
