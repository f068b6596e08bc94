"""Fitting with Bambi, and the fit object every verb accepts."""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import inspect
import logging
import os
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ..model.checks import check_whole
from ..model.families import SUPPORTS, get_family, get_link, outside_support
from ..model.formula import check_columns, check_complete, check_varying, id_syntax_bars, parse_formula
from ..model.spec import ModelSpec
from . import require
from .adapter import (
    FORMULA_NAME,
    _formula_namespace,
    draws_group,
    group_names,
    model_parameters,
    model_recipe,
    rebuild_model,
    spec_from_bambi,
)
from .correlated import build_correlated, correlated_blocks, model_blocks
from .priors import brms_defaults, check_priors, check_proper, lkj_eta, resolve_priors

if TYPE_CHECKING:
    import bambi as bmb

SamplePrior = Literal["no", "only", "yes"]

SAMPLE_PRIOR = ("no", "only", "yes")
CORRELATED_TARGET_ACCEPT = 0.9
"""PyMC's NUTS default for models with correlated terms (unless given): at PyMC's 0.8, sleepstudy's
(1 + Days | Subject) fit had 1-7 divergent transitions of 4000 in each of six seeds (Stan: none at
brms's 0.8); at 0.9, none in any."""

#: fit_kwargs that fit() sets itself, or that belong elsewhere -> what to do instead
_KWARG_FIXES = {
    "random_seed": "use seed=",
    "progressbar": "use progress=",
    "inference_method": "use sampler=",
    "nuts_sampler": "use sampler=",
    "var_names": "mixeff keeps every parameter's draws",
    "model": "fit() builds the model",
    "return_inferencedata": "mixeff needs the DataTree",
    "dropna": "it is an argument of bambi.Model; drop incomplete rows first, e.g. data = data.dropna(subset={})",
}


class MixedFit:
    """A Bambi model with its draws (a DataTree with ``chain`` and ``draw`` dims).

    ``spec("posterior")`` / ``spec("prior")`` give the engine's view of either set
    of draws; verbs take ``draws="posterior" | "prior"`` to choose.  A prior-only
    fit (``sample_prior="only"``) answers every request with its prior draws, so
    verbs work on it unchanged; asking a fit without prior draws for them is an
    error that says how to refit.

    Notes
    -----
    Saving a fit.  A fit pickles (``pickle``, ``cloudpickle``): it is saved as its draws, its
    data and what rebuilds the Bambi model (formula, family, links, priors, aliases -- see
    ``mixeff.bambi.adapter.model_recipe``), and loading rebuilds the model, so
    the loaded fit gives the same draws of every verb, bit for bit.  Names the formula
    takes from your namespace (``np`` in ``np.log(x)``, a function of yours) are saved
    with it: modules by name, functions as pickle saves them (by reference).

    Examples
    --------
    >>> import mixeff
    >>> f = mixeff.example_fit()
    >>> f.available_draws, f.spec().n_samples
    (['posterior'], 500)

    Saving a fit and loading it back:

    >>> import pickle
    >>> loaded = pickle.loads(pickle.dumps(f))
    >>> grid = mixeff.datagrid(f, TX=[0, 1])
    >>> bool((mixeff.predictions(loaded, grid).draws == mixeff.predictions(f, grid).draws).all())
    True
    """

    def __init__(
        self,
        model: bmb.Model,
        idata: xr.DataTree,
        sample_prior: SamplePrior = "no",
        data: pd.DataFrame | None = None,
        fit_args: dict | None = None,
    ):
        self.model = model
        self.idata = idata
        self.sample_prior = sample_prior
        # fit()'s copy of the caller's frame (dtypes and row order as given) when Bambi kept every
        # row; Bambi's copy turns strings into alphabetically ordered Categoricals
        self.data = data if data is not None and len(data) == len(model.data) else model.data
        self._specs: dict[str, ModelSpec] = {}
        #: the arguments of the :func:`fit` call that made this fit (formula, family, link, priors and
        #: the sampler settings), which :func:`mixeff.kfold` refits with; None for :func:`from_bambi` fits
        self.fit_args = fit_args

    @property
    def default_draws(self) -> str:
        return "prior" if self.sample_prior == "only" else "posterior"

    @property
    def available_draws(self) -> list[str]:
        names = group_names(self.idata)
        return [g for g in ("posterior", "prior") if g in names]

    def spec(self, draws: str | None = None) -> ModelSpec:
        draws = draws or self.default_draws
        if draws not in ("posterior", "prior"):
            raise ValueError(f"draws={draws!r} must be 'posterior' or 'prior'")
        if draws == "posterior" and self.sample_prior == "only":
            # verbs default to "posterior"; a prior-only fit answers with its prior draws
            draws = "prior"
        if draws not in self._specs:
            if draws not in self.available_draws:
                raise ValueError(
                    f"this fit has no {draws} draws (it has {self.available_draws}); "
                    + (
                        "refit with sample_prior='yes' or 'only' to get prior draws"
                        if draws == "prior"
                        else "refit with sample_prior='no' or 'yes'"
                    )
                )
            self._specs[draws] = spec_from_bambi(self.model, self.idata, draws, data=self.data)
        return self._specs[draws]

    def __reduce__(self):
        # the Bambi model does not pickle (formulae keeps the namespace it was built in); it is
        # rebuilt on loading from picklable parts, and the specs are recomputed when asked
        return _restore_fit, (model_recipe(self.model), self.idata, self.sample_prior, self.data, self.fit_args)

    def _refit_settings(
        self, *, draws: int | None, tune: int | None, chains: int | None, sampler: str | None, fit_kwargs: dict
    ) -> tuple[dict, tuple[str, ...]]:
        """The sampler settings of refits of this fit and notes on those not read from it (:func:`refit_settings`).

        :func:`mixeff.kfold` reaches the refitting machinery through the fit (verbs never import Bambi).
        """
        return refit_settings(self, draws=draws, tune=tune, chains=chains, sampler=sampler, fit_kwargs=fit_kwargs)

    def _refit(self, data: pd.DataFrame, *, settings: dict, seed: int | None, progress: bool = False) -> MixedFit:
        """The fit's model refitted on ``data``, posterior only (:func:`refit`)."""
        return refit(self, data, settings=settings, seed=seed, progress=progress)

    def __repr__(self):
        blocks = [f"({' + '.join(t.split('|')[0] for t in b.terms)} | {b.factor})" for b in model_blocks(self.model)]
        return (
            f"MixedFit({self.model.formula}, family={self.model.family.name!r}, draws={self.available_draws}, "
            f"correlated={blocks})\n{self.model}"
        )


def _restore_fit(recipe: dict, idata, sample_prior: str, data, fit_args: dict | None = None) -> MixedFit:
    """A pickled :class:`MixedFit` back: its Bambi model rebuilt, its draws and data as saved."""
    return MixedFit(rebuild_model(recipe), idata, sample_prior, data=data, fit_args=fit_args)


def check_response(family, parsed, data: pd.DataFrame) -> None:
    """Refuse numeric response values outside the family's support (PyMC would fail at its first evaluation)."""
    name = next((v for v, role in parsed.variables.items() if role == "response"), None)
    if (
        name not in data.columns
        or not pd.api.types.is_numeric_dtype(data[name])
        or pd.api.types.is_bool_dtype(data[name])
    ):
        return
    bad = outside_support(family, data[name].to_numpy(dtype=float))
    if bad.any():
        examples = pd.unique(data[name].to_numpy()[bad])[:5].tolist()
        raise ValueError(
            f"data column {name!r} (the response) has {int(bad.sum())} value(s) the {family.name} family cannot "
            f"produce, e.g. {examples}: each must be {SUPPORTS[family.support][0]}. Choose the family that "
            "fits the response (e.g. gaussian for any real number), or fix those rows"
        )


def fit(
    formula: str,
    data: pd.DataFrame,
    *,
    family: str = "gaussian",
    link: str | None = None,
    priors: dict | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "pymc",
    sample_prior: SamplePrior = "no",
    progress: bool = True,
    **fit_kwargs,
) -> MixedFit:
    """Fit a mixed model with Bambi and keep its draws for the verbs.

    Parameters
    ----------
    formula : str
        lme4/brms syntax, e.g. ``"y ~ 1 + TX + (1 | cluster)"``.  As in brms, the terms
        of one bar are correlated: ``(1 + x | g)`` estimates the correlation of g's
        intercepts and slopes (LKJ prior, see ``priors``), sampled non-centred as
        ``diag(sd) L z`` (``mixeff.bambi.correlated``); ``(1 + x || g)`` keeps them
        independent.  With the PyMC sampler such models default to
        ``target_accept=0.9`` (PyMC's 0.8 left a few divergent transitions where
        Stan leaves none).  Terms may transform columns -- ``bs(x, df=4)``,
        ``poly(x, 2)``, ``I(x**2)``, ``scale(x)``, ``center(x)``, ``C(x)``, ``np.log(x)``
        or a function defined where ``fit`` is called -- and the verbs still take the
        column (``variables="x"``); stateful transforms keep the training data's
        knots, means and sds.
    family, link : str
        Any family mixeff supports (``mixeff.model.families.FAMILIES``: gaussian, t,
        bernoulli, binomial, poisson, negativebinomial, lognormal, gamma, beta, the
        zero-inflated and hurdle families, cumulative, sratio, categorical, exponential,
        weibull, wald, laplace, asymmetriclaplace, exgaussian, beta_binomial) and one of
        its links.  Auxiliary parameters with formulas of their own (``sigma ~ x``): build
        ``bmb.Model(bmb.Formula("y ~ x", "sigma ~ x"), d)`` and wrap it with :func:`from_bambi`.
    priors : dict or "brms", optional
        Bambi ``Prior`` objects by term name, or brms-style classes (see
        ``mixeff.bambi.priors``): ``{"b": "normal(0, 0.2)", "Intercept": "normal(0, 0.2)",
        "sd": "normal(0, 1)", "cor": "lkj(2)"}`` (``sd`` priors are half-distributions).  A key
        that is not a parameter of the model is an error.  ``"brms"``: brms's default priors,
        computed from the data as brms does (:func:`default_priors` lists them), so the
        posterior is brms's.  Left out: Bambi's defaults (and ``lkj(1)``).
    draws, tune, chains, seed
        Sampler settings (``draws`` per chain after ``tune`` warm-up draws).  Prior
        draws come in the same ``chains × draws`` shape.
    sampler : {"pymc", "nutpie"}
    sample_prior : {"no", "only", "yes"}
        As brms.  ``"only"``: draws from the priors alone -- exact forward sampling
        with Bambi's ``prior_predictive``, no likelihood, no MCMC -- so the response
        values play no part (Bambi's default priors for gaussian/t families are
        scaled by the response, as brms's are; set them to make the fit fully
        data-free).  Every verb then answers with prior draws (``Result.source ==
        "prior"``).  ``"yes"``: posterior and prior draws in one fit; verbs use the
        posterior unless given ``draws="prior"``.  Both refuse improper (flat)
        priors, naming the parameter, as brms does.
    progress : bool
        Show the sampler's progress bar.
    **fit_kwargs
        Passed to ``bambi.Model.fit`` and on to ``pymc.sample`` (``target_accept=0.95``,
        ``cores=1``...); a name neither takes is an error.

    Everything is checked before sampling: the formula's parentheses and columns, missing
    or infinite values in the columns it reads, constant predictors of the fixed part,
    ``fit_kwargs``, the sampler settings and the priors' parameters.  The fit keeps its own
    copy of ``data``: editing the frame afterwards changes nothing.

    Examples
    --------
    >>> import mixeff
    >>> d = mixeff.datasets.load_magnusson()
    >>> f = mixeff.fit("y ~ 1 + TX + (1 | cluster)", d, family="lognormal",
    ...                draws=100, tune=100, chains=2, seed=1, progress=False)
    >>> f.spec().n_samples
    200

    A prior predictive check (the marginaleffects book, section 11.3.1): no MCMC, the verbs as usual.

    >>> survey = mixeff.datasets.make_ces_like()["survey"]
    >>> vague = mixeff.fit("defund ~ age + education + military + gender + (1 + gender | state)",
    ...                    survey, family="bernoulli", sample_prior="only", seed=1,
    ...                    priors={"b": "normal(0, 1e6)", "Intercept": "normal(0, 1e6)"},
    ...                    draws=100, chains=2, progress=False)
    >>> p = mixeff.avg_predictions(vague, by="gender")
    >>> p.source, bool(p.summary["conf_low"].max() < 0.05), bool(p.summary["conf_high"].min() > 0.95)
    ('prior', True, True)
    """
    return _fit(
        formula,
        data,
        family=family,
        link=link,
        priors=priors,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        sampler=sampler,
        sample_prior=sample_prior,
        progress=progress,
        namespace=_caller_names(formula, data),
        fit_kwargs=fit_kwargs,
    )


def _fit(
    formula: str,
    data: pd.DataFrame,
    *,
    family: str,
    link: str | None,
    priors: dict | None,
    draws: int,
    tune: int,
    chains: int,
    seed: int | None,
    sampler: str,
    sample_prior: SamplePrior,
    progress: bool,
    namespace: dict,
    fit_kwargs: dict,
) -> MixedFit:
    """:func:`fit`, with the names the formula reads from the caller's namespace given (``namespace``).

    :func:`mixeff.kfold` refits through here, with the namespace of the fit it refits.
    """
    require("mixeff.fit")
    fit_args = dict(
        formula=formula,
        family=family,
        link=link,
        priors=dict(priors) if isinstance(priors, dict) else priors,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        sampler=sampler,
        fit_kwargs=dict(fit_kwargs),
    )
    if sample_prior not in SAMPLE_PRIOR:
        raise ValueError(f"sample_prior={sample_prior!r} is not one of {list(SAMPLE_PRIOR)}")
    if sampler not in ("pymc", "nutpie"):
        raise ValueError(f"sampler={sampler!r} must be 'pymc' or 'nutpie'")
    fam = get_family(family)
    get_link(fam, link)
    _check_sampling(draws=draws, tune=tune, chains=chains, seed=seed)
    parsed = parse_formula(formula)
    _check_fit_kwargs(fit_kwargs, columns=list(parsed.variables))
    if priors is not None:
        check_priors(priors)
    model, blocks, data = _checked_model(
        formula, parsed, data, fam, link, lkj_eta(priors), fitting=True, namespace=namespace
    )
    if priors == "brms":
        priors = brms_defaults(model, correlated=bool(blocks))
    if priors:
        model.set_priors(**resolve_priors(model, priors, correlated=bool(blocks)))
    if blocks:
        build_correlated(model, blocks)
    else:
        model.build()
    if sample_prior != "no":
        check_proper(model)
    idata = None
    if sample_prior in ("no", "yes"):
        if blocks and sampler == "pymc":
            fit_kwargs = {"target_accept": CORRELATED_TARGET_ACCEPT, **fit_kwargs}
        kwargs = dict(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=progress, **fit_kwargs)
        if sampler == "nutpie":
            kwargs["inference_method"] = "nutpie"
        with warnings.catch_warnings():
            if blocks:  # PyMC's R-hat of the LKJ factor's fixed entries (L[0,0] = 1, zeros above) is 0/0
                warnings.filterwarnings(
                    "ignore", "invalid value encountered in scalar divide", RuntimeWarning, "arviz_stats"
                )
            idata = model.fit(**kwargs)
    if sample_prior in ("only", "yes"):
        idata = _add_prior(model, idata, draws=draws, chains=chains, seed=seed)
    return MixedFit(model, idata, sample_prior, data=data, fit_args=fit_args)


def _checked_model(
    formula: str,
    parsed,
    data,
    fam,
    link: str | None,
    eta: float = 1.0,
    fitting: bool = False,
    namespace: dict | None = None,
):
    """``(bambi.Model, correlated blocks, the model's copy of data)`` of a brms formula, after the checks of its data.

    ``||`` is read as ``|`` by Bambi: which terms correlate is decided apart (the blocks).
    ``fitting`` adds the checks only sampling needs (varying predictors, the response's support).
    The copy of ``data`` is the fit's own: later edits of the caller's frame change nothing.
    ``namespace``: the names the formula calls, from where the user called (:func:`_caller_names`).
    """
    import bambi as bmb

    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    check_columns(parsed, data, formula)
    check_complete(parsed, data)
    if fitting:
        check_varying(parsed, data)
        check_response(fam, parsed, data)
    id_syntax = id_syntax_bars(formula)
    if id_syntax:
        raise ValueError(
            f"formula={formula!r}: brms's ID syntax {id_syntax[0]} (terms correlated across bars) is "
            "not supported; correlate terms by writing them in one bar, e.g. (1 + x | g)"
        )
    data = data.copy()
    try:
        model = bmb.Model(
            formula.replace("||", "|"),
            data,
            family=fam.name,
            extra_namespace=namespace or None,
            **({} if link is None else {"link": link}),
        )
    except KeyError as err:  # formulae: a function the formula calls is in no namespace it searches
        name = str(err.args[0]) if err.args else ""
        if not re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", formula):
            raise
        raise ValueError(
            f"formula={formula!r} calls {name}(), which is neither a transform formulae provides (bs, poly, "
            "scale, center, standardize, C, I, log, exp, ...) nor a name defined where fit() was called; define "
            "or import it there (natural and cyclic cubic splines, cr() and cc(), are not in formulae: use "
            "bs(x, df=...))"
        ) from None
    group_terms = model_parameters(model)[model.family.likelihood.parent].group_specific_terms
    return model, correlated_blocks(formula, group_terms, eta), data


def _caller_names(formula: str, data) -> dict:
    """The names ``formula`` reads from the namespace of whoever called :func:`fit` (two frames up).

    ``mylog`` in ``y ~ mylog(x)``, ``np`` in ``np.log(x)``.  Bambi would look them up in mixeff's own.
    """
    frame = inspect.currentframe().f_back.f_back
    try:
        scope = {**frame.f_globals, **frame.f_locals}
    finally:
        del frame
    columns = set(map(str, getattr(data, "columns", ())))
    return {name: scope[name] for name in FORMULA_NAME.findall(formula) if name in scope and name not in columns}


def default_priors(formula: str, data: pd.DataFrame, family: str = "gaussian", link: str | None = None) -> dict:
    """Brms's default priors for a model, as the ``priors=`` classes of :func:`fit` (brms's ``default_prior``).

    ``fit(..., priors="brms")`` uses exactly these; edit the dict to change a class as
    ``set_prior`` does in brms.  See ``mixeff.bambi.priors.brms_defaults`` for the rules.

    Examples
    --------
    >>> import mixeff
    >>> sleep = mixeff.datasets.load_sleepstudy()
    >>> mixeff.default_priors("Reaction ~ 1 + Days + (1 + Days | Subject)", sleep)  # doctest: +NORMALIZE_WHITESPACE
    {'b': 'flat', 'Intercept': 'student_t(3, 288.7, 59.3)', 'sd': 'student_t(3, 0, 59.3)',
     'cor': 'lkj(1)', 'sigma': 'student_t(3, 0, 59.3)'}

    With an informative prior on the slopes instead of brms's flat one:

    >>> priors = {**mixeff.default_priors("Reaction ~ Days + (Days | Subject)", sleep), "b": "normal(10, 5)"}
    """
    require("mixeff.default_priors")
    fam = get_family(family)
    get_link(fam, link)
    model, blocks, _ = _checked_model(
        formula, parse_formula(formula), data, fam, link, namespace=_caller_names(formula, data)
    )
    return brms_defaults(model, correlated=bool(blocks))


def _check_sampling(**settings) -> None:
    """``draws`` and ``chains`` ints >= 1, ``tune`` an int >= 0, ``seed`` None or an int >= 0."""
    least = {"draws": 1, "tune": 0, "chains": 1, "seed": 0}
    example = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 1}
    for name, value in settings.items():
        check_whole(name, value, least[name], example=example[name], none_ok=name == "seed")


@functools.cache
def _sampler_options() -> frozenset:
    """What ``bambi.Model.fit`` passes on: its own, ``pymc.sample``'s and the NUTS step's arguments."""
    import bambi as bmb
    import pymc as pm
    from pymc.step_methods.hmc.base_hmc import BaseHMC

    names = set()
    for fn in (bmb.Model.fit, pm.sample, pm.NUTS.__init__, BaseHMC.__init__):
        names |= {
            p.name for p in inspect.signature(fn).parameters.values() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
    return frozenset(names - {"self", "vars", "draws", "tune", "chains"} - set(_KWARG_FIXES))


def _check_fit_kwargs(fit_kwargs: dict, columns: list[str]) -> None:
    """Refuse keyword arguments that reach neither Bambi's fit nor PyMC's sampler (``columns``: the formula's)."""
    options = _sampler_options()
    for name in fit_kwargs:
        if name in options:
            continue
        if name in _KWARG_FIXES:
            fix = _KWARG_FIXES[name].format(columns)
            raise TypeError(f"fit() does not take {name}={fit_kwargs[name]!r}: {fix}")
        own = set(inspect.signature(fit).parameters) - {"fit_kwargs"}
        close = difflib.get_close_matches(name, sorted(own | options), n=3, cutoff=0.75)
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise TypeError(
            f"fit() got an unknown keyword argument {name}={fit_kwargs[name]!r}; {hint}extra keyword "
            "arguments go to bambi.Model.fit and pymc.sample (e.g. target_accept=0.95, cores=1, init='adapt_diag')"
        )


#: attribute set on a prior group whose intercept is on the scale of the uncentred design
_UNCENTRED = "mixeff_intercept_uncentred"


def _add_prior(model, idata, *, draws: int, chains: int, seed):
    """Exact forward draws from the priors (no likelihood), as ``chains`` × ``draws``.

    Bambi's ``prior_predictive`` samples the PyMC graph, whose intercept belongs to
    the *centred* predictors (Bambi's ``center_predictors``, like brms's
    ``Intercept`` class); the intercept is moved to the uncentred scale the
    engine's designs use, as Bambi itself does for posterior draws.
    """
    prior = model.prior_predictive(draws=draws * chains, random_seed=seed)
    prior_ds = _uncentre_intercept(model, draws_group(prior, "prior"))
    # one "chain" per requested chain keeps shapes parallel to the posterior's
    prior_ds = _split_chains(prior_ds, chains)
    if idata is None:
        return xr.DataTree.from_dict({"prior": prior_ds, "observed_data": prior["observed_data"].to_dataset()})
    idata["prior"] = prior_ds
    return idata


def _uncentre_intercept(model, ds):
    """``Intercept - mean(X) @ b`` for every distributional component Bambi centred."""
    if ds.attrs.get(_UNCENTRED):
        return ds
    ds = ds.copy()
    backend = getattr(model, "backend", None)
    if backend is not None and getattr(model, "center_predictors", False):
        from bambi.utils import get_aliased_name

        for pymc_component in backend.distributional_components.values():
            comp = pymc_component.component
            x = pymc_component.design_matrix_without_intercept
            if not (comp.intercept_term and comp.common_terms and x is not None):
                continue
            means = np.asarray(x, dtype=float).mean(axis=0)  # columns in design order
            shift, col = 0.0, 0
            for term in comp.common_terms.values():
                da = ds[get_aliased_name(term)]
                # a term's own columns (a factor's levels); a categorical response's dim stays
                columns = [d for d in da.dims if d not in ("chain", "draw") and not d.endswith("_reduced_dim")]
                k = int(np.prod([da.sizes[d] for d in columns]))
                weights = xr.DataArray(means[col : col + k].reshape([da.sizes[d] for d in columns]), dims=columns)
                shift = shift + (da * weights).sum(columns)
                col += k
            name = get_aliased_name(comp.intercept_term)
            ds[name] = ds[name] - shift
    ds.attrs[_UNCENTRED] = True
    return ds


def _split_chains(ds, chains: int):
    """(chain=1, draw=chains·n) -> (chain=chains, draw=n), chain-major, coordinates kept."""
    n = ds.sizes["draw"]
    if chains <= 1 or ds.sizes["chain"] != 1 or n % chains:
        return ds
    per = n // chains
    out = {}
    for name, da in ds.data_vars.items():
        rest = [d for d in da.dims if d not in ("chain", "draw")]
        values = np.asarray(da.transpose("chain", "draw", *rest).values)
        out[name] = (("chain", "draw", *rest), values.reshape(chains, per, *values.shape[2:]))
    coords = {k: v for k, v in ds.coords.items() if k not in ("chain", "draw")}
    coords.update(chain=np.arange(chains), draw=np.arange(per))
    return xr.Dataset(out, coords=coords, attrs=dict(ds.attrs))


def from_bambi(model: bmb.Model, idata: xr.DataTree, sample_prior: SamplePrior | None = None) -> MixedFit:
    """Wrap a Bambi model you fitted yourself (``idata = model.fit(...)``).

    A ``prior`` group -- ``model.prior_predictive(...)``, alone or added to the
    fit's DataTree -- gives prior draws (``sample_prior`` "only" or "yes" is then
    inferred).  Its intercept, which Bambi reports for the centred predictors, is
    moved to the uncentred scale, as :func:`fit` does.

    Examples
    --------
    >>> import bambi as bmb, mixeff
    >>> d = mixeff.datasets.load_magnusson()
    >>> m = bmb.Model("y ~ 1 + TX + (1 | cluster)", d, family="lognormal")
    >>> idata = m.fit(draws=100, tune=100, chains=2, random_seed=1, progressbar=False)
    >>> mixeff.from_bambi(m, idata).spec().n_samples
    200
    """
    names = group_names(idata) if hasattr(idata, "children") else []
    if not names:
        raise ValueError(f"idata must be the DataTree returned by model.fit(), got {type(idata).__name__}")
    if "posterior" not in names and "prior" not in names:
        draws_group(idata, "posterior")  # raises: names the groups it has and what to pass
    if sample_prior is not None and sample_prior not in SAMPLE_PRIOR:
        raise ValueError(f"sample_prior={sample_prior!r} is not one of {list(SAMPLE_PRIOR)}")
    if sample_prior is None:
        sample_prior = "yes" if {"posterior", "prior"} <= set(names) else ("only" if "prior" in names else "no")
    if "prior" in names:
        # Bambi's prior_predictive reports the intercept of the centred predictors
        if not getattr(model, "built", True):
            model.build()
        idata = idata.copy()
        idata["prior"] = _uncentre_intercept(model, draws_group(idata, "prior"))
    model.data = model.data.copy()  # Bambi keeps the caller's frame itself when no column needed converting
    fit_ = MixedFit(model, idata, sample_prior)
    fit_.spec(fit_.default_draws)  # validate now: a missing group should fail here, not at the first verb
    return fit_


@functools.cache
def example_fit() -> MixedFit:
    """A small, cached fit of the lognormal cluster model of Magnusson's example, for examples and docs.

    Examples
    --------
    >>> import mixeff
    >>> mixeff.example_fit().spec().family.name
    'lognormal'
    """
    from ..datasets import load_magnusson

    return fit(
        "y ~ 1 + TX + (1 | cluster)",
        load_magnusson(),
        family="lognormal",
        draws=250,
        tune=250,
        chains=2,
        seed=2022,
        progress=False,
    )


# --------------------------------------------------------------------------- refits (mixeff.kfold)
#
# A fit made by fit() is refitted by the same call on the training rows: the same formula, family,
# link and ``priors`` argument, so priors computed from the data (Bambi's defaults, scaled by the
# response and predictors; ``priors="brms"``) are computed again from the training rows, as brms
# recomputes its data-dependent default priors when kfold refits.  A from_bambi fit is rebuilt from
# its model (model_recipe) on the training rows with its priors exactly as the model holds them:
# Bambi has already scaled its defaults by the full data, and once set_priors has run the defaults
# cannot be told from priors the user set.

SAMPLERS = ("pymc", "nutpie")
REFIT_SAMPLER = "pymc"
"""The sampler of the refits unless given.  Measured here for a bernoulli ``y ~ x + (1 | g)`` on 570
rows, 2 chains × 300 draws after 300 tuning steps: about 3.5 s a refit with PyMC (the compiled
functions are cached between refits of one model) against about 10 s with nutpie (numba compiles
each refit's model anew)."""
QUIET_LOGGERS = ("pymc", "bambi", "nutpie", "pytensor")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1.

    Examples
    --------
    >>> usable_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def refit_settings(
    fit: MixedFit,
    *,
    draws: int | None,
    tune: int | None,
    chains: int | None,
    sampler: str | None,
    fit_kwargs: dict,
) -> tuple[dict, tuple[str, ...]]:
    """The sampler settings of refits of ``fit`` (draws, tune, chains, sampler, fit_kwargs), and notes.

    Given values win; otherwise those of the :func:`fit` call that made the fit (draws, tune, chains
    and its other sampler arguments such as ``target_accept``), or for a :func:`from_bambi` fit its
    draws (chains × draws) and the ``tuning_steps`` PyMC records; the notes say what could not be read
    and what was used instead.  The sampler defaults to :data:`REFIT_SAMPLER`; the fit's other
    sampler arguments are kept only when the refits use the fit's sampler.  With PyMC, ``cores``
    defaults to min(chains, :func:`usable_cores`): PyMC's own default, half the CPUs (it takes the
    other half for hyperthreads), samples 2 chains one after the other on a 2-core machine.
    """
    if sampler is not None and sampler not in SAMPLERS:
        raise ValueError(f"kfold: sampler={sampler!r} must be one of {list(SAMPLERS)}, or None ({REFIT_SAMPLER!r})")
    notes: list[str] = []
    args = fit.fit_args
    if args is not None:
        read = {k: args[k] for k in ("draws", "tune", "chains")}
        fit_sampler, own_kwargs = args["sampler"], dict(args["fit_kwargs"])
    else:
        posterior = draws_group(fit.idata, "posterior")
        read = {"draws": int(posterior.sizes["draw"]), "chains": int(posterior.sizes["chain"])}
        steps = posterior.attrs.get("tuning_steps")
        read["tune"] = 1000 if steps is None else int(steps)
        if steps is None and tune is None:
            notes.append("tune: the fit's draws do not record its tuning steps; 1000 used (pass tune=)")
        library = posterior.attrs.get("inference_library")
        fit_sampler = library if library in SAMPLERS else None
        own_kwargs = {}
        if not fit_kwargs:
            notes.append(
                "fit_kwargs: a from_bambi fit does not record its other sampler arguments (target_accept, ...); "
                "the sampler's defaults used (pass them to kfold)"
            )
    sampler = sampler or REFIT_SAMPLER
    if own_kwargs and fit_sampler != sampler:
        notes.append(f"fit_kwargs: the fit's {sorted(own_kwargs)} were for {fit_sampler}, not passed to {sampler}")
        own_kwargs = {}
    settings: dict = {
        "draws": read["draws"] if draws is None else draws,
        "tune": read["tune"] if tune is None else tune,
        "chains": read["chains"] if chains is None else chains,
        "sampler": sampler,
    }
    _check_sampling(draws=settings["draws"], tune=settings["tune"], chains=settings["chains"])
    try:
        _check_fit_kwargs(fit_kwargs, columns=[])
    except TypeError as err:
        raise TypeError(f"kfold passes its extra keyword arguments to each refit: {err}") from None
    kwargs = {**own_kwargs, **fit_kwargs}
    if sampler == "pymc" and "cores" not in kwargs:
        kwargs["cores"] = min(settings["chains"], usable_cores())
    settings["fit_kwargs"] = kwargs
    return settings, tuple(notes)


def refit(fit: MixedFit, data: pd.DataFrame, *, settings: dict, seed: int | None, progress: bool = False) -> MixedFit:
    """``fit``'s model refitted on ``data`` (posterior draws only) with the sampler ``settings``.

    ``progress``: the sampler's progress bar and log lines; without it PyMC's, Bambi's and nutpie's
    log lines (``Sequential sampling ...``, R-hat notes) are silenced during the refit.
    """
    kwargs = dict(settings["fit_kwargs"])
    args = fit.fit_args
    with quiet_sampling(progress):
        if args is not None:
            return _fit(
                args["formula"],
                data,
                family=args["family"],
                link=args["link"],
                priors=args["priors"],
                draws=settings["draws"],
                tune=settings["tune"],
                chains=settings["chains"],
                seed=seed,
                sampler=settings["sampler"],
                sample_prior="no",
                progress=progress,
                namespace=formula_namespace(fit.model),
                fit_kwargs=kwargs,
            )
        model = rebuild_model({**model_recipe(fit.model), "data": data, "built": True, "fitted": False})
        if settings["sampler"] == "nutpie":
            kwargs["inference_method"] = "nutpie"
        idata = model.fit(
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            random_seed=seed,
            progressbar=progress,
            **kwargs,
        )
    return MixedFit(model, idata, "no")


def formula_namespace(model) -> dict:
    """The objects a model's formulas take from the namespace they were built in (``np``, a function of yours)."""
    formula = model.formula
    found = _formula_namespace(model, [formula.main, *formula.additionals])
    return {
        name: importlib.import_module(value) if kind == "module" else value for name, (kind, value) in found.items()
    }


@contextlib.contextmanager
def quiet_sampling(verbose: bool) -> Iterator[None]:
    """PyMC's, Bambi's, nutpie's and PyTensor's log lines silenced in the block, unless ``verbose``.

    Below CRITICAL: PyMC logs its R-hat and ESS notes as errors.

    Examples
    --------
    >>> import logging
    >>> with quiet_sampling(False):
    ...     logging.getLogger("pymc").level
    50
    """
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
