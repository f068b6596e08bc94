"""brms's new-level rules: which effect every level of every kept factor has in every draw.

:func:`plan_random_effects` resolves, once per call and for all counterfactual
arms together, the effects table of each grouping factor kept by ``re_formula``.
New levels are simulated here, once, so rows and arms that share a new level
share its draws (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model.spec import MISSING_LEVEL, GroupFactor
from .options import SAMPLE_NEW_LEVELS, PassOptions


@dataclass
class FactorPlan:
    """Effects of one grouping factor for one call: existing levels, then new ones."""

    group: GroupFactor
    active: np.ndarray
    """Indices of the factor's terms kept by ``re_formula``."""
    labels: pd.Index
    table_t: np.ndarray
    """``(k_active, n_levels_total, S)``, contiguous so a row gather is one memcpy per row."""
    n_new: int = 0
    cov_t: np.ndarray | None = None
    """With ``sample_new_levels="integrate"``: ``(k_active, k_active, S)`` covariance of the kept
    terms; new levels then have zero effects in the table and their rows are integrated over
    ``N(0, Σ)`` instead."""

    @property
    def integrated(self) -> bool:
        return self.cov_t is not None and self.n_new > 0

    def new_rows(self, codes: np.ndarray) -> np.ndarray:
        """Which rows (of a frame's level codes) are at new levels."""
        return codes >= len(self.labels) - self.n_new

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        labels, inverse = self.group.distinct_labels_of(frame)
        return self.labels.get_indexer(pd.Index(labels))[inverse]


def plan_random_effects(
    groups: dict[str, GroupFactor],
    include: dict[str, list[int]],
    frames: list[pd.DataFrame],
    options: PassOptions,
    rng: np.random.Generator,
) -> list[FactorPlan]:
    """One plan per factor of ``groups`` that ``include`` (the parsed ``re_formula``) keeps."""
    plans = []
    for name, kept_terms in include.items():
        group = groups[name]
        seen = np.unique(np.concatenate([group.distinct_labels_of(f)[0] for f in frames]))
        new = [str(lab) for lab in seen if not group.has_level(lab)]
        if new and not options.allow_new_levels:
            shown = new[:5] + (["..."] if len(new) > 5 else [])
            missing = (
                f" (missing values, shown as {MISSING_LEVEL!r}, are one new level, as in brms)"
                if MISSING_LEVEL in new
                else ""
            )
            raise ValueError(
                f"newdata has level(s) {shown} of grouping factor {name!r} that the model has not "
                f"seen{missing}; set allow_new_levels=True to simulate them (sample_new_levels="
                f"{' / '.join(repr(s) for s in SAMPLE_NEW_LEVELS)}), or re_formula='NA' to predict at "
                "random effects = 0"
            )
        active = np.asarray(kept_terms, dtype=np.int64)
        integrate = options.sample_new_levels == "integrate"
        if integrate:  # zero effects in η; the row's value integrates over N(0, Σ) instead
            b_new = np.zeros((group.b.shape[0], len(new), group.b.shape[2]))
        else:
            b_new = simulate_new_levels(group, len(new), options.sample_new_levels, rng)
        table = np.concatenate([group.b[:, :, active], b_new[:, :, active]], axis=1)
        cov_t = None
        if integrate:
            cov = covariance(group)[:, active[:, None], active[None, :]]
            cov_t = np.ascontiguousarray(cov.transpose(1, 2, 0))
        plans.append(
            FactorPlan(
                group=group,
                active=active,
                labels=pd.Index(list(group.levels) + new),
                table_t=np.ascontiguousarray(table.transpose(2, 1, 0)),
                n_new=len(new),
                cov_t=cov_t,
            )
        )
    return plans


def simulate_new_levels(group: GroupFactor, n_new: int, how: str, rng: np.random.Generator) -> np.ndarray:
    """``(S, n_new, k)`` effects for new levels, simulated as brms does."""
    s, n_old, k = group.b.shape
    if n_new == 0:
        return np.empty((s, 0, k))
    if how == "gaussian":
        z = rng.standard_normal((s, n_new, k))
        if group.cor is None:
            return z * group.sd[:, None, :]
        return np.einsum("sij,snj->sni", matrix_root(covariance(group)), z)
    if how == "uncertainty":
        # per draw, copy the whole effect vector of one existing level chosen at random
        pick = rng.integers(0, n_old, size=(s, n_new))
        return group.b[np.arange(s)[:, None], pick, :]
    pick = rng.integers(0, n_old, size=n_new)  # old_levels: one existing level, all draws
    return group.b[:, pick, :]


def covariance(group: GroupFactor) -> np.ndarray:
    """``(S, k, k)`` covariance of a factor's terms in every draw."""
    if group.cor is None:
        return group.sd[:, :, None] ** 2 * np.eye(group.sd.shape[1])
    return group.cor * group.sd[:, :, None] * group.sd[:, None, :]


def matrix_root(cov: np.ndarray) -> np.ndarray:
    """A (S, k, k) square root R with R Rᵀ = cov; tolerant of singular (|cor| = 1) matrices."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        return vecs * np.sqrt(np.clip(vals, 0.0, None))[:, None, :]
