"""Toy models for the engine's unit tests: draws made up with numpy, no MCMC, every value known
(helpers; the fixtures are in this folder's conftest.py).

``y ~ 1 + x + (1 + x | g)`` with three levels ``a, b, c`` and correlated group terms, in any family
(gaussian by default), 40 draws; and the lognormal ``toy_spec()`` of :mod:`mixeff.model.examples`.
"""

import numpy as np
import pandas as pd

import mixeff
from mixeff.model.spec import GroupFactor

S = 40
LEVELS = ["a", "b", "c"]


def fixed_design(frame):
    return np.column_stack([np.ones(len(frame)), frame["x"].to_numpy(dtype=float)])


def group_design(frame):
    return np.column_stack([np.ones(len(frame)), frame["x"].to_numpy(dtype=float)])


def draws(seed=0, s=S):
    """beta (S, 2), b (S, 3, 2), sd (S, 2), cor (S, 2, 2) with ρ varying by draw."""
    rng = np.random.default_rng(seed)
    beta = np.column_stack([rng.normal(1.0, 0.3, s), rng.normal(-0.5, 0.2, s)])
    sd = rng.uniform(0.3, 1.5, (s, 2))
    rho = rng.uniform(-0.8, 0.8, s)
    cor = np.empty((s, 2, 2))
    cor[:, 0, 0] = cor[:, 1, 1] = 1.0
    cor[:, 0, 1] = cor[:, 1, 0] = rho
    b = rng.normal(0, 1, (s, len(LEVELS), 2)) * sd[:, None, :]
    return beta, b, sd, cor


def make_group(b, sd, cor):
    return GroupFactor(
        name="g",
        columns=("g",),
        levels=np.array(LEVELS),
        terms=["Intercept", "x"],
        b=b,
        sd=sd,
        cor=cor,
        design=group_design,
        term_blocks={"1": [0], "x": [1]},
    )


def make_spec(family="gaussian", seed=0, correlated=True, **kwargs):
    beta, b, sd, cor = draws(seed)
    data = pd.DataFrame({"x": np.linspace(-1, 1, 9), "g": LEVELS * 3, "y": np.zeros(9)})
    aux = {"sigma": np.full(S, 0.7)} if family in ("gaussian", "lognormal") else None
    return mixeff.from_arrays(
        fixed_design=fixed_design,
        beta=beta,
        beta_names=["Intercept", "x"],
        family=family,
        data=data,
        groups=[make_group(b, sd, cor if correlated else None)],
        aux=aux,
        n_chains=2,
        predictors=["x"],
        **kwargs,
    )


def eta_by_hand(spec, frame, table):
    """η[r, s] = β_s · (1, x_r) + b_s[level(r)] · (1, x_r), row by row and draw by draw, with
    ``table`` mapping a level label to its ``(S, 2)`` effects."""
    beta = spec.beta
    out = np.empty((len(frame), spec.n_samples))
    for r, (x, g) in enumerate(zip(frame["x"], frame["g"])):
        for s in range(spec.n_samples):
            out[r, s] = beta[s, 0] + beta[s, 1] * x + table[g][s, 0] + table[g][s, 1] * x
    return out
