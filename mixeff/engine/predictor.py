"""η = Xβ + offset + Σ_g Z_g b_g per draw, then the inverse link and the family mean."""

from __future__ import annotations

import numpy as np

from ..model.families import mean_increment
from ..model.spec import ModelSpec
from .design import Design
from .random_effects import FactorPlan


def linear_predictor(spec: ModelSpec, plans: list[FactorPlan], design: Design, rows: slice,
                     out: np.ndarray | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
    """``(chunk, S)`` η for ``rows``, written into ``out`` (and using ``scratch``) when given.

    Reusing ``out`` and ``scratch`` across chunks matters: a fresh multi-MiB array
    per chunk costs more in page faults than the arithmetic.
    """
    c = rows.stop - rows.start
    eta = np.matmul(design.X[rows], spec.beta_t, out=None if out is None else out[:c])
    if design.offset is not None:
        eta += design.offset[rows, None]
    if plans:
        effect = np.empty_like(eta) if scratch is None else scratch[:c]
        for plan, Z, codes in zip(plans, design.Z, design.codes):
            idx = codes[rows]
            for j in range(len(plan.active)):
                np.take(plan.table_t[j], idx, axis=0, out=effect)
                if Z is not None:
                    effect *= Z[rows, j, None]
                eta += effect
    return eta


def response(spec: ModelSpec, type: str, eta: np.ndarray, trials: np.ndarray | None,
             rng: np.random.Generator) -> np.ndarray:
    """From η to the expected value (``"response"``) or a predictive draw; overwrites ``eta``."""
    mu = spec.link.inverse(eta)
    if type == "prediction":
        return spec.family.draw(rng, mu, spec.aux, trials)
    return spec.family.mean(mu, spec.aux, trials)


def response_increment(spec: ModelSpec, eta: np.ndarray, d: np.ndarray, trials: np.ndarray | None):
    """E[Y | η + d] − E[Y | η] without cancellation, or None where the family has no exact form."""
    return mean_increment(spec.family, spec.link, eta, d, spec.aux, trials)
