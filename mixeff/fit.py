"""Fitting with Bambi, and the fit object every verb accepts."""

from __future__ import annotations

import functools

import pandas as pd

from .adapters.bambi import draws_group, spec_from_bambi
from .priors import check_proper, resolve_priors
from .spec import ModelSpec

__all__ = ["MixedFit", "fit", "from_bambi", "example_fit", "SAMPLE_PRIOR"]

SAMPLE_PRIOR = ("no", "only", "yes")


class MixedFit:
    """A Bambi model with its draws (a DataTree with ``chain`` and ``draw`` dims).

    ``spec("posterior")`` / ``spec("prior")`` give the engine's view of either set
    of draws; verbs take ``draws="posterior" | "prior"`` to choose.
    """

    def __init__(self, model, idata, sample_prior: str = "no"):
        self.model = model
        self.idata = idata
        self.sample_prior = sample_prior
        self._specs: dict[str, ModelSpec] = {}

    @property
    def default_draws(self) -> str:
        return "prior" if self.sample_prior == "only" else "posterior"

    @property
    def available_draws(self) -> list[str]:
        names = [n.strip("/") for n in self.idata.children]
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
                    + ("refit with sample_prior='yes' or 'only' to get prior draws" if draws == "prior"
                       else "refit with sample_prior='no' or 'yes'")
                )
            self._specs[draws] = spec_from_bambi(self.model, self.idata, draws)
        return self._specs[draws]

    def __repr__(self):
        return f"MixedFit({self.model.formula}, family={self.model.family.name!r}, draws={self.available_draws})\n{self.model}"


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
    sample_prior: str = "no",
    progress: bool = True,
    **fit_kwargs,
) -> MixedFit:
    """Fit a mixed model with Bambi and keep its draws for the verbs.

    Parameters
    ----------
    formula : str
        lme4/brms syntax, e.g. ``"y ~ 1 + TX + (1 | cluster)"``.
    family, link : str
        Any family mixeff supports (gaussian, t, bernoulli, binomial, poisson,
        negativebinomial, lognormal, gamma, beta) and one of its links.
    priors : dict, optional
        Bambi ``Prior`` objects by term name, or brms-style classes:
        ``{"b": "normal(0, 0.2)", "Intercept": "normal(0, 0.2)", "sd": "halfnormal(1)"}``.
    draws, tune, chains, seed
        Sampler settings (``draws`` per chain after ``tune`` warm-up draws).
    sampler : {"pymc", "nutpie"}
    sample_prior : {"no", "only", "yes"}
        As brms: ``"only"`` draws from the priors alone (exact forward sampling, no
        likelihood); ``"yes"`` keeps prior and posterior draws.
    progress : bool
        Show the sampler's progress bar.

    Examples
    --------
    >>> import mixeff
    >>> d = mixeff.datasets.load_magnusson()
    >>> f = mixeff.fit("y ~ 1 + TX + (1 | cluster)", d, family="lognormal",
    ...                draws=100, tune=100, chains=2, seed=1, progress=False)
    >>> f.spec().n_samples
    200
    """
    import bambi as bmb

    if sample_prior not in SAMPLE_PRIOR:
        raise ValueError(f"sample_prior={sample_prior!r} is not one of {list(SAMPLE_PRIOR)}")
    if sampler not in ("pymc", "nutpie"):
        raise ValueError(f"sampler={sampler!r} must be 'pymc' or 'nutpie'")
    from .families import get_family, get_link

    fam = get_family(family)
    get_link(fam, link)
    bambi_family = "lognormal" if fam.name == "lognormal" else fam.name
    model_kwargs = {} if link is None else {"link": link}
    model = bmb.Model(formula, data, family=bambi_family, **model_kwargs)
    if priors:
        model.set_priors(**resolve_priors(model, priors))
    model.build()
    if sample_prior != "no":
        check_proper(model)
    idata = None
    if sample_prior in ("no", "yes"):
        kwargs = dict(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=progress, **fit_kwargs)
        if sampler == "nutpie":
            kwargs["inference_method"] = "nutpie"
        idata = model.fit(**kwargs)
    if sample_prior in ("only", "yes"):
        prior = model.prior_predictive(draws=draws * chains, random_seed=seed)
        prior_ds = draws_group(prior, "prior")
        # one "chain" per requested chain keeps shapes parallel to the posterior's
        prior_ds = _split_chains(prior_ds, chains)
        if idata is None:
            import xarray as xr

            idata = xr.DataTree.from_dict({"prior": prior_ds, "observed_data": prior["observed_data"].to_dataset()})
        else:
            idata["prior"] = prior_ds
    return MixedFit(model, idata, sample_prior)


def _split_chains(ds, chains: int):
    n = ds.sizes["draw"]
    if chains <= 1 or n % chains:
        return ds
    stacked = ds.isel(chain=0, drop=True)
    per = n // chains
    import numpy as np

    stacked = stacked.assign_coords(draw=pd.MultiIndex.from_arrays(
        [np.repeat(np.arange(chains), per), np.tile(np.arange(per), chains)], names=("chain", "draw_in")))
    return stacked.unstack("draw").rename({"draw_in": "draw"}).transpose("chain", "draw", ...)


def from_bambi(model, idata, sample_prior: str | None = None) -> MixedFit:
    """Wrap a Bambi model you fitted yourself (``idata = model.fit(...)``).

    Examples
    --------
    >>> import bambi as bmb, mixeff
    >>> d = mixeff.datasets.load_magnusson()
    >>> m = bmb.Model("y ~ 1 + TX + (1 | cluster)", d, family="lognormal")
    >>> idata = m.fit(draws=100, tune=100, chains=2, random_seed=1, progressbar=False)
    >>> mixeff.from_bambi(m, idata).spec().n_samples
    200
    """
    names = [n.strip("/") for n in getattr(idata, "children", {})] if hasattr(idata, "children") else []
    if not names:
        raise ValueError(f"idata must be the DataTree returned by model.fit(), got {type(idata).__name__}")
    if sample_prior is None:
        sample_prior = "yes" if {"posterior", "prior"} <= set(names) else ("only" if "prior" in names else "no")
    fit_ = MixedFit(model, idata, sample_prior)
    fit_.spec()  # validate now: a missing group should fail here, not at the first verb
    return fit_


@functools.cache
def example_fit() -> MixedFit:
    """A small, cached fit of the seed's lognormal cluster model, for examples and docs.

    Examples
    --------
    >>> import mixeff
    >>> mixeff.example_fit().spec().family.name
    'lognormal'
    """
    from .datasets import load_magnusson

    return fit("y ~ 1 + TX + (1 | cluster)", load_magnusson(), family="lognormal",
               draws=250, tune=250, chains=2, seed=2022, progress=False)
