"""brms's random-effects vocabulary: ``re_formula``, new levels and how to simulate them.

:func:`plan_random_effects` resolves, once per call and for all counterfactual
arms together, which group-level terms enter η and which effect every level has
in every draw.  New levels are simulated here, once, so rows and arms that share
a new level share its draws (common random numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .spec import GroupFactor, ModelSpec

__all__ = ["FactorPlan", "parse_re_formula", "plan_random_effects", "SAMPLE_NEW_LEVELS"]

SAMPLE_NEW_LEVELS = ("uncertainty", "gaussian", "old_levels")
_NO_RE = {"na", "~0", "0", "~-1", "-1", "none", "~ 0"}


def _is_no_re(re_formula) -> bool:
    if re_formula is None:
        return False
    if isinstance(re_formula, float) and np.isnan(re_formula):
        return True
    return isinstance(re_formula, str) and re_formula.replace(" ", "").lower() in _NO_RE


def parse_re_formula(spec: ModelSpec, re_formula) -> dict[str, list[int]]:
    """Which terms of which grouping factor to include: ``{factor: [term indices]}``.

    ``None`` keeps everything; ``"NA"``/``"~0"`` keeps nothing; ``"~(1|g)"`` keeps
    only the listed terms, each of which must exist in the model.
    """
    if re_formula is None:
        return {name: list(range(len(g.terms))) for name, g in spec.groups.items()}
    if _is_no_re(re_formula):
        return {}
    if not isinstance(re_formula, str):
        raise ValueError(
            f"re_formula={re_formula!r} is not understood; use None (all group-level terms), "
            "'NA' (none) or a formula such as '~(1|cluster)'"
        )
    blocks = re.findall(r"\(([^|()]*)\|\|?([^()]*)\)", re_formula)
    if not blocks:
        raise ValueError(
            f"re_formula={re_formula!r} lists no group-level term; write terms as '~(1|cluster)' "
            "or '~(1 + Days|Subject)', or use 'NA' for none"
        )
    keep: dict[str, set[int]] = {}
    for expr, factor in blocks:
        factor = factor.strip()
        group = spec.groups.get(factor)
        if group is None:
            raise ValueError(
                f"re_formula={re_formula!r} names grouping factor {factor!r}, which the model "
                f"lacks; its grouping factors are {list(spec.groups)}"
            )
        parts = [p.strip() for p in expr.split("+") if p.strip()]
        if "0" not in parts and "-1" not in parts and "1" not in parts:
            parts.insert(0, "1")  # brms: an intercept is implied unless removed
        for part in parts:
            if part in ("0", "-1"):
                continue
            if part not in group.term_blocks:
                available = " + ".join(group.term_blocks)
                raise ValueError(
                    f"re_formula={re_formula!r} names term {part!r} for {factor!r}, which the "
                    f"model lacks; the model has ({available} | {factor})"
                )
            keep.setdefault(factor, set()).update(group.term_blocks[part])
    return {name: sorted(idx) for name, idx in keep.items()}


@dataclass
class FactorPlan:
    """Effects of one grouping factor for one call: existing levels then new ones."""

    group: GroupFactor
    active: np.ndarray
    labels: pd.Index
    table_t: np.ndarray
    """``(k_active, n_levels_total, S)``, contiguous so a row gather is one memcpy per row."""
    new_levels: list[str]

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        return self.labels.get_indexer(self.group.labels_of(frame))


def plan_random_effects(
    spec: ModelSpec,
    frames: list[pd.DataFrame],
    *,
    re_formula=None,
    allow_new_levels: bool = False,
    sample_new_levels: str = "uncertainty",
    rng: np.random.Generator,
) -> list[FactorPlan]:
    if sample_new_levels not in SAMPLE_NEW_LEVELS:
        raise ValueError(
            f"sample_new_levels={sample_new_levels!r} is not one of {list(SAMPLE_NEW_LEVELS)}"
        )
    include = parse_re_formula(spec, re_formula)
    plans = []
    for name, active in include.items():
        group = spec.groups[name]
        seen = np.unique(np.concatenate([group.labels_of(f) for f in frames]))
        new = [str(lab) for lab in seen if lab not in group._index]
        if new and not allow_new_levels:
            shown = new[:5] + (["..."] if len(new) > 5 else [])
            raise ValueError(
                f"newdata has level(s) {shown} of grouping factor {name!r} that the model has not "
                f"seen; set allow_new_levels=True to simulate them (sample_new_levels="
                f"'uncertainty', 'gaussian' or 'old_levels'), or re_formula='NA' to predict at "
                "random effects = 0"
            )
        b_new = _simulate_new_levels(group, len(new), sample_new_levels, rng)
        active = np.asarray(active, dtype=np.int64)
        table = np.concatenate([group.b[:, :, active], b_new[:, :, active]], axis=1)
        plans.append(
            FactorPlan(
                group=group,
                active=active,
                labels=pd.Index(list(group.levels) + new),
                table_t=np.ascontiguousarray(table.transpose(2, 1, 0)),
                new_levels=new,
            )
        )
    return plans


def _simulate_new_levels(group: GroupFactor, n_new: int, how: str, rng) -> np.ndarray:
    """``(S, n_new, k)`` effects for new levels, simulated as brms does."""
    s, n_old, k = group.b.shape
    if n_new == 0:
        return np.empty((s, 0, k))
    if how == "gaussian":
        z = rng.standard_normal((s, n_new, k))
        if group.cor is None:
            return z * group.sd[:, None, :]
        cov = group.cor * group.sd[:, :, None] * group.sd[:, None, :]
        root = _matrix_root(cov)
        return np.einsum("sij,snj->sni", root, z)
    if how == "uncertainty":
        # per draw, copy the whole effect vector of one existing level chosen at random
        pick = rng.integers(0, n_old, size=(s, n_new))
        return group.b[np.arange(s)[:, None], pick, :]
    pick = rng.integers(0, n_old, size=n_new)  # old_levels: one existing level, all draws
    return group.b[:, pick, :]


def _matrix_root(cov: np.ndarray) -> np.ndarray:
    """A (S, k, k) square root R with R Rᵀ = cov; tolerant of singular (|cor| = 1) matrices."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        return vecs * np.sqrt(np.clip(vals, 0.0, None))[:, None, :]
