"""Small models for examples and doctests: draws made up with numpy, no MCMC.

:func:`toy_spec` has the shape of the lognormal cluster example
(``y ~ 1 + TX + (1 | cluster)`` on the bundled Magnusson data) with draws
centred near that model's posterior, so low-level doctests run in milliseconds.
For a real fit see :func:`mixeff.example_fit`.
"""

from __future__ import annotations

import functools

import numpy as np

from .adapters.arrays import from_arrays
from .spec import GroupFactor, ModelSpec


@functools.cache
def toy_spec(n_chains: int = 2, n_draws: int = 100, seed: int = 1) -> ModelSpec:
    """A lognormal ``y ~ 1 + TX + (1 | cluster)`` spec with made-up draws.

    Examples
    --------
    >>> spec = toy_spec()
    >>> spec.family.name, spec.beta_names, spec.groups["cluster"].b.shape
    ('lognormal', ['Intercept', 'TX'], (200, 20, 1))
    """
    from ..datasets import load_magnusson

    data = load_magnusson()
    rng = np.random.default_rng(seed)
    s = n_chains * n_draws
    beta = np.column_stack([rng.normal(6.2, 0.2, s), rng.normal(-0.7, 0.25, s)])
    sd = np.abs(rng.normal(0.63, 0.1, (s, 1)))
    levels = sorted(data["cluster"].unique(), key=int)
    b = rng.standard_normal((s, len(levels), 1)) * sd[:, None, :]
    cluster = GroupFactor(
        name="cluster",
        columns=("cluster",),
        levels=np.asarray(levels),
        terms=["Intercept"],
        b=b,
        sd=sd,
        cor=None,
        design=lambda f: np.ones((len(f), 1)),
        term_blocks={"1": [0]},
    )
    return from_arrays(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["TX"].to_numpy(dtype=float)]),
        beta=beta,
        beta_names=["Intercept", "TX"],
        family="lognormal",
        data=data,
        groups=[cluster],
        aux={"sigma": np.abs(rng.normal(0.51, 0.02, s))},
        n_chains=n_chains,
        predictors=["TX"],
    )
