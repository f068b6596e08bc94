"""Bambi adapter: a fitted ``bambi.Model`` and its DataTree -> :class:`ModelSpec`.

Fixed-effect columns come from Bambi's own design (formulae's
``evaluate_new_data``), so factor codings, transformations and centring are the
model's.  Group-level terms sharing a grouping factor are gathered into one
:class:`GroupFactor`.  Bambi fits no correlations between them (``cor`` is
``None``), unless the model was built by :func:`mixeff.fit` with brms's correlated
``(1 + x | g)`` (:mod:`mixeff.bambi.correlated`): then each block's ``<block>_cor``
draws fill ``cor``.
"""

from __future__ import annotations

import builtins
import importlib
import re
import types

import numpy as np
import xarray as xr

from ..model.families import brms_aux_name, get_family, get_link
from ..model.spec import GroupFactor, ModelSpec, Predictor
from . import require
from .correlated import build_correlated, model_blocks, read_correlations, term_labels


def model_parameters(model) -> dict:
    """Bambi's components by parameter name (``Model.parameters``; ``components`` before 0.21)."""
    params = getattr(type(model), "parameters", None)
    return model.parameters if params is not None else model.components


def _response_name(model) -> str:
    term = getattr(model, "response_term", None)
    return term.name if term is not None else model.response_component.term.name


def group_names(idata) -> list[str]:
    """The group names of a DataTree (or an InferenceData), without slashes; [] for anything else."""
    children = getattr(idata, "children", None)
    names = list(children) if children is not None else list(getattr(idata, "groups", lambda: [])())
    return [n.strip("/") for n in names]


def draws_group(idata, group: str = "posterior") -> xr.Dataset:
    """The ``posterior`` (or ``prior``) group of a DataTree/InferenceData as a Dataset."""
    names = group_names(idata)
    if group not in names:
        hint = (
            "fit with sample_prior='only' or 'yes' to get prior draws"
            if group == "prior"
            else "pass the result of model.fit() (it has a 'posterior' group)"
        )
        raise ValueError(f"idata has no {group!r} group (it has {names}); {hint}")
    node = idata[group]
    return node.to_dataset() if hasattr(node, "to_dataset") else node


def _flatten(da: xr.DataArray, *rest: str) -> np.ndarray:
    """(chain, draw, *rest) -> (S, *rest) as float64."""
    da = da.transpose("chain", "draw", *rest)
    return np.asarray(da.values, dtype=float).reshape(-1, *da.shape[2:])


def spec_from_bambi(model, idata, group: str = "posterior", data=None) -> ModelSpec:
    """The engine's view of a Bambi fit's ``posterior`` (or ``prior``) draws.

    ``data`` (default: Bambi's copy) is the frame used for default newdata and datagrid.

    Examples
    --------
    Prior draws (no MCMC) show the layout as well as a fit would:

    >>> import bambi as bmb, mixeff
    >>> m = bmb.Model("y ~ 1 + TX + (1 | cluster)", mixeff.datasets.load_magnusson(), family="lognormal")
    >>> m.build()
    >>> spec = spec_from_bambi(m, m.prior_predictive(draws=50, random_seed=1), group="prior")
    >>> spec.beta_names, spec.groups["cluster"].b.shape, spec.family.name
    (['Intercept', 'TX'], (50, 20, 1), 'lognormal')
    """
    if not getattr(model, "built", True):
        model.build()
    draws = draws_group(idata, group)
    if not {"chain", "draw"} <= set(draws.dims):
        raise ValueError(f"the {group!r} group must have 'chain' and 'draw' dimensions, it has {list(draws.dims)}")
    n_chains, n_draws = draws.sizes["chain"], draws.sizes["draw"]
    family = get_family(model.family.name)
    parent = model.family.likelihood.parent
    params = model_parameters(model)
    comp = params[parent]
    link = get_link(family, model.family.link[parent].name)
    if any(getattr(c, "hsgp_terms", None) for c in params.values()):
        raise ValueError("HSGP terms are not supported by mixeff; refit without hsgp()")

    categories = ()
    if family.categorical:
        categories, dpars, mean = _category_parts(model, comp, draws, family)
    else:
        mean = (*_fixed_part(comp, draws), _group_part(comp, draws))
        dpars = {
            name: _predictor(component, draws, model.family.link[name].name)
            for name, component in params.items()
            if name != parent and getattr(component, "design", None) is not None
        }
    fixed_design, beta, beta_names, offset, groups = mean
    aux = {}
    for a in family.aux:
        if a in dpars:
            continue
        alias = getattr(params.get(a), "alias", None)
        var = next((v for v in (alias, a, brms_aux_name(a)) if v and v in draws), None)
        if var is None:
            raise ValueError(f"the {group!r} group lacks draws of auxiliary parameter {a!r}")
        rest = [d for d in draws[var].dims if d not in ("chain", "draw")]
        aux[a] = _flatten(draws[var], *rest)

    data = model.data if data is None else data
    predictors = set()
    for component in params.values():
        component_design = getattr(component, "design", None)
        for design in (component_design.common, component_design.group) if component_design is not None else ():
            for t in design.terms.values() if design else []:
                predictors |= set(t.var_names)
    trials = _trials_variable(model) if family.needs_trials else None
    if isinstance(trials, str):
        predictors.add(trials)
    # var_names also holds "" for a literal (the 1 of np.log(x + 1)) and attributes such as np.pi
    predictors &= set(map(str, data.columns))
    return ModelSpec(
        fixed_design=fixed_design,
        beta=beta,
        beta_names=beta_names,
        groups=groups,
        family=family,
        link=link,
        aux=aux,
        n_chains=n_chains,
        n_draws=n_draws,
        data=data,
        predictors=sorted(predictors),
        response=_response_name(model),
        trials=trials,
        source=group,
        offset=offset,
        offset_variables=tuple(sorted({v for n in comp.offset_terms for v in comp.design.common.terms[n].var_names})),
        dpars=dpars,
        categories=categories,
    )


def _predictor(component, draws, link_name: str) -> Predictor:
    """A distributional parameter's formula (``sigma ~ x + (1|g)``): Bambi names its draws ``sigma_x``..."""
    fixed_design, beta, beta_names, offset = _fixed_part(component, draws)
    return Predictor(fixed_design, beta, beta_names, _group_part(component, draws), link_name, offset)


def _category_parts(model, comp, draws, family):
    """``(categories, dpars, mean part)`` of an ordinal or categorical Bambi model.

    Ordinal: the mean's η (Bambi drops its intercept; the thresholds are auxiliary draws).
    Categorical: every term has one draw per non-reference category (Bambi's
    ``<response>_reduced_dim``); each category becomes a predictor ``mu<category>`` of its
    η (brms's naming), and the mean's own η is empty.
    """
    from bambi.families.univariate import get_reference_level

    levels = [str(lev) for lev in model.response_term.levels]
    if family.ordinal:
        return tuple(levels), {}, (*_fixed_part(comp, draws), _group_part(comp, draws))
    dim = f"{_response_name(model)}_reduced_dim"
    alias = getattr(model.response_term, "alias", None)
    if alias and f"{alias}_reduced_dim" in draws.dims:
        dim = f"{alias}_reduced_dim"
    others = [str(lev) for lev in draws[dim].values]
    reference = str(get_reference_level(model.response_component.term.term))
    dpars = {f"mu{lev}": _predictor(comp, draws.isel({dim: j}), "identity") for j, lev in enumerate(others)}
    shared = next(iter(dpars.values()))
    for part in dpars.values():  # one formula for every category: its designs are evaluated once per frame
        part.fixed_design = shared.fixed_design
        for name, g in part.groups.items():
            g.design = shared.groups[name].design
    s = draws.sizes["chain"] * draws.sizes["draw"]
    empty = ((lambda frame: np.zeros((len(frame), 0))), np.zeros((s, 0)), [], None, {})
    return (reference, *others), dpars, empty


def _fixed_part(comp, draws):
    common = comp.design.common
    if not common:
        return (
            (lambda frame: np.zeros((len(frame), 0))),
            np.zeros((draws.sizes["chain"] * draws.sizes["draw"], 0)),
            [],
            None,
        )
    # Bambi drops the intercept of ordinal models from the design but not from the slices: count from 0
    first = min(sl.start for sl in common.slices.values())
    slices = {name: slice(sl.start - first, sl.stop - first) for name, sl in common.slices.items()}
    offset_names = list(comp.offset_terms)
    keep = [name for name in common.terms if name not in offset_names]
    cols = np.concatenate([np.arange(slices[n].start, slices[n].stop) for n in keep]) if keep else np.array([], int)
    offset_cols = (
        np.concatenate([np.arange(slices[n].start, slices[n].stop) for n in offset_names]) if offset_names else None
    )
    blocks, names = [], []
    terms = {**({"Intercept": comp.intercept_term} if comp.intercept_term else {}), **comp.common_terms}
    for name in keep:
        term = terms[name]
        var = term.alias or term.name
        da = draws[var]
        rest = [d for d in da.dims if d not in ("chain", "draw")]
        block = _flatten(da, *rest).reshape(da.sizes["chain"] * da.sizes["draw"], -1)
        blocks.append(block)
        names += [name] if not rest else [f"{name}[{lev}]" for lev in da[rest[0]].values]
    beta = np.concatenate(blocks, axis=1)

    last: dict = {}

    def full_design(frame):
        # X and the offset come from one formulae evaluation of the same frame
        if last.get("frame") is not frame:
            last.update(frame=frame, X=_evaluate(common, frame))
        return last["X"]

    def evaluate(frame):
        return full_design(frame)[:, cols]

    def offset(frame):
        return full_design(frame)[:, offset_cols].sum(axis=1)

    return evaluate, beta, names, (offset if offset_cols is not None else None)


def _evaluate(design, frame):
    try:
        return np.asarray(design.evaluate_new_data(frame).design_matrix, dtype=float)
    except ValueError as err:
        raise ValueError(f"newdata cannot be evaluated by the model's formula: {err}") from None


def _group_part(comp, draws) -> dict[str, GroupFactor]:
    design = comp.design.group
    if not design:
        return {}
    parts: dict[str, list] = {}
    for name, fterm in design.terms.items():
        bterm = comp.group_specific_terms[name]
        var = bterm.alias or bterm.name
        factor = fterm.factor.name if hasattr(fterm.factor, "name") else name.split("|")[1]
        da = draws[var]
        # Bambi names the dims after the alias when the term has one
        factor_dim = next(d for d in da.dims if d.endswith("__factor_dim"))
        expr_dims = [d for d in da.dims if d not in ("chain", "draw", factor_dim)]
        b = _flatten(da, factor_dim, *expr_dims)
        b = b.reshape(b.shape[0], b.shape[1], -1)
        sigma = f"{var}_{(bterm.hyperprior_alias or {}).get('sigma', 'sigma')}"
        sd = _flatten(draws[sigma], *expr_dims).reshape(b.shape[0], -1)
        expr = name.split("|")[0]
        labels = term_labels(expr, da[expr_dims[0]].values if expr_dims else None)
        columns = tuple(c.name for c in fterm.factor.components)
        parts.setdefault(factor, []).append(
            dict(
                fterm=fterm,
                b=b,
                sd=sd,
                labels=labels,
                expr=expr,
                columns=columns,
                levels=np.asarray(da[factor_dim].values).astype(str),
            )
        )
    groups = {}
    for factor, items in parts.items():
        levels = items[0]["levels"]
        for it in items[1:]:
            if not np.array_equal(it["levels"], levels):
                raise ValueError(f"group-level terms of {factor!r} disagree on its levels")
        blocks, start = {}, 0
        for it in items:
            k = it["b"].shape[2]
            blocks.setdefault(it["expr"], []).extend(range(start, start + k))
            start += k
        fterms = [it["fterm"] for it in items]

        cache: dict = {}

        def design_fn(frame, fterms=fterms, last=cache):
            if last.get("frame") is frame:  # a categorical model's categories share this design
                return last["Z"]
            cols = []
            for ft in fterms:
                try:
                    z = np.asarray(ft.expr.eval_new_data(frame), dtype=float)
                except ValueError as err:
                    raise ValueError(f"newdata cannot be evaluated for term {ft.name!r}: {err}") from None
                cols.append(z.reshape(len(frame), -1))
            last.update(frame=frame, Z=np.concatenate(cols, axis=1))
            return last["Z"]

        groups[factor] = GroupFactor(
            name=factor,
            columns=items[0]["columns"],
            levels=levels,
            terms=[lab for it in items for lab in it["labels"]],
            b=np.concatenate([it["b"] for it in items], axis=2),
            sd=np.concatenate([it["sd"] for it in items], axis=1),
            cor=None,
            design=design_fn,
            term_blocks=blocks,
        )
    read_correlations(draws, groups, _flatten)
    return groups


def _trials_variable(model) -> str | float:
    """The trials of ``p(y, n)``: a column name, or a number for ``p(y, 10)``."""
    m = re.match(r"\s*p\(\s*[^,]+,\s*([A-Za-z_][A-Za-z0-9_.]*|[0-9.]+)\s*\)", str(model.formula.main))
    if m is not None and re.fullmatch(r"[0-9.]+", m.group(1)):
        return float(m.group(1))
    if m is None:
        raise ValueError("binomial models need the number of trials as a column: write the response as p(y, n)")
    return m.group(1)


# -- persistence ---------------------------------------------------------------------------
# A bambi.Model does not pickle: formulae keeps the namespace of the frame that built it
# (modules included) to evaluate the formula's calls.  It is rebuilt instead, from parts
# that do pickle.

FORMULA_NAME = re.compile(r"(?<![\w.])([A-Za-z_]\w*)")


def model_recipe(model) -> dict:
    """Picklable parts that rebuild ``model`` with :func:`rebuild_model`.

    The formula strings; Bambi's copy of the data (the frame its designs were built from, so
    factor levels and stateful transforms such as ``scale(x)`` come out the same); the family
    and its links; the constructor's settings; every parameter's and term's prior and alias
    as the model holds them now (priors already scaled, so nothing is rescaled); and the
    objects the formula names from the namespace it was built in (modules by name).  A prior,
    potential or family that holds a lambda makes pickling fail, naming it.
    """
    from bambi.defaults import get_builtin_family

    family = model.family
    try:
        builtin = get_builtin_family(family.name)
    except ValueError:  # a family of the user's own: pickled as it is
        builtin = None
    if builtin is not None and type(builtin) is type(family) and builtin.likelihood.name == family.likelihood.name:
        family = family.name  # a builtin family travels by name, its links by their names
    links = {p: getattr(lk, "name", lk) for p, lk in model.family.link.items()}
    parameters = {}
    for name, comp in model_parameters(model).items():
        state = {"alias": getattr(comp, "alias", None)}
        if hasattr(comp, "terms"):
            state["terms"] = {
                t: {a: getattr(term, a) for a in ("prior", "alias", "hyperprior_alias") if hasattr(term, a)}
                for t, term in comp.terms.items()
            }
        else:
            state["prior"] = comp.prior
        parameters[name] = state
    formula = model.formula
    return {
        "formula": (formula.main, *formula.additionals),
        "data": model.data,
        "family": family,
        "link": links,
        "settings": {
            a: getattr(model, a)
            for a in ("dropna", "auto_scale", "noncentered", "center_predictors", "potentials")
            if hasattr(model, a)
        },
        "namespace": _formula_namespace(model, [formula.main, *formula.additionals]),
        "parameters": parameters,
        "response_alias": getattr(model.response_term, "alias", None) if hasattr(model, "response_term") else None,
        "added_priors": dict(getattr(model, "_added_priors", {})),
        "built": bool(getattr(model, "built", False)),
        "correlated": model_blocks(model),
        "fitted": bool(getattr(getattr(model, "backend", None), "fit", False)),
    }


def _formula_namespace(model, formulas: list[str]) -> dict:
    """``{name: object}`` for the names the formulas take from the namespace they were built in.

    For instance ``np`` of ``np.log(x)``, or a function of the user's; modules as ``("module", name)``.
    """
    env = None
    for comp in model_parameters(model).values():
        env = getattr(getattr(comp, "design", None), "env", None)
        if env is not None:
            break
    if env is None:
        return {}
    lookup = env.namespace
    columns = set(map(str, model.data.columns))
    found = {}
    for text in formulas:
        for name in FORMULA_NAME.findall(text):
            if name in columns or name in found or name not in lookup:
                continue
            value = lookup[name]
            found[name] = ("module", value.__name__) if isinstance(value, types.ModuleType) else ("object", value)
    return found


def rebuild_model(recipe: dict):
    """The bambi.Model described by :func:`model_recipe` (built if the original was)."""
    bmb = require("loading a saved mixeff fit")

    namespace = {
        name: importlib.import_module(value) if kind == "module" else value
        for name, (kind, value) in recipe["namespace"].items()
    }
    model = _call_in_namespace(
        namespace,
        bmb.Model,
        bmb.Formula(*recipe["formula"]),
        recipe["data"],
        family=recipe["family"],
        link=recipe["link"],
        **recipe["settings"],
    )
    params = model_parameters(model)
    for name, state in recipe["parameters"].items():
        comp = params[name]
        comp.alias = state["alias"]
        if "prior" in state:
            comp.prior = state["prior"]
        for t, attrs in state.get("terms", {}).items():
            for attr, value in attrs.items():
                if value is not None and not (attr == "hyperprior_alias" and not value):  # set only what was set
                    setattr(comp.terms[t], attr, value)
    if recipe["response_alias"] is not None:
        model.response_term.alias = recipe["response_alias"]
    if hasattr(model, "_added_priors"):
        model._added_priors = dict(recipe["added_priors"])
    if recipe["built"]:
        if recipe.get("correlated"):
            build_correlated(model, recipe["correlated"])
        else:
            model.build()
        if recipe["fitted"]:
            model.backend.fit = True  # only what the model's repr says: its draws travel with the fit
    return model


def _call_in_namespace(namespace: dict, fn, /, *args, **kwargs):
    """``fn(*args, **kwargs)`` called from a frame whose variables are exactly ``namespace``.

    Formulae looks a formula's names up in the frame that called ``bambi.Model``.
    """
    scope = {"__builtins__": builtins, **namespace, "__mixeff_call": (fn, args, kwargs)}
    return eval("__mixeff_call[0](*__mixeff_call[1], **__mixeff_call[2])", scope)
