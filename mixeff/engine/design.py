"""Per-row designs: each frame's fixed columns, group-level columns, level codes and trials.

These are ``rows × columns``, small next to ``rows × draws``, and are built once
per frame and call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..model.spec import CATEGORY_COLUMN, ModelSpec, Predictor
from .random_effects import FactorPlan


@dataclass
class Design:
    X: np.ndarray
    offset: np.ndarray | None
    Z: list[np.ndarray | None]
    """Per factor plan: ``(n, k_active)`` term columns, or None when all are ones."""
    codes: list[np.ndarray]
    """Per factor plan: each row's level position in the plan's effects table."""
    trials: np.ndarray | None
    category: np.ndarray | None = None
    """Ordinal and categorical models: each row's response category (its position in ``spec.categories``)."""
    dpars: dict[str, Design] = field(default_factory=dict)
    """The design of each distributional parameter's own formula."""
    y: np.ndarray | None = None
    """``type="log_lik"``: each row's observed response (categories are in :attr:`category`)."""

    @property
    def n(self) -> int:
        return self.X.shape[0]


def prepare(
    spec: ModelSpec,
    plans: list[FactorPlan],
    frame: pd.DataFrame,
    type: str,
    dpar_plans: dict[str, list[FactorPlan]] | None = None,
) -> Design:
    """The design of ``frame`` for the mean's η (with ``plans``) and every distributional parameter's."""
    design = _part_design(spec, plans, frame)
    if spec.family.needs_trials and type != "link":
        design.trials = _trials(spec, frame, type)
    if spec.categories and CATEGORY_COLUMN in frame.columns and type != "log_lik":
        design.category = pd.Index(spec.categories).get_indexer(pd.Index(frame[CATEGORY_COLUMN].astype(str)))
    if type == "log_lik":  # the observed response travels with the design, as the trials do
        assert spec.response is not None  # the verb checked the response column
        if spec.categories:
            design.category = category_codes(spec, frame[spec.response])
        else:
            design.y = np.asarray(frame[spec.response], dtype=float)
    design.dpars = {
        name: _part_design(part, (dpar_plans or {}).get(name, []), frame) for name, part in spec.dpars.items()
    }
    return design


def _part_design(part: ModelSpec | Predictor, plans: list[FactorPlan], frame: pd.DataFrame) -> Design:
    X = np.ascontiguousarray(part.fixed_design(frame), dtype=float)
    offset = None if part.offset is None else np.asarray(part.offset(frame), dtype=float)
    Zs: list[np.ndarray | None] = []
    codes: list[np.ndarray] = []
    for plan in plans:
        Z = np.asarray(plan.group.design(frame), dtype=float)[:, plan.active]
        Zs.append(None if np.all(Z == 1.0) else np.ascontiguousarray(Z))
        codes.append(plan.codes(frame))
    return Design(X, offset, Zs, codes, None)


def difference_design(plans: list[FactorPlan], lo: Design, hi: Design) -> tuple[list[FactorPlan], Design] | None:
    """``(plans, design)`` whose linear predictor is exactly η_hi − η_lo, or None.

    η is linear in the design, so ``(X_hi − X_lo)β + Σ_g (Z_hi − Z_lo) b_g`` (plus the
    offset difference) is η_hi − η_lo without cancellation.  A term whose Z columns
    are equal in both arms (a random intercept) drops out exactly.  None when the
    arms put rows in different levels of a grouping factor.
    """
    if any(not np.array_equal(a, b) for a, b in zip(lo.codes, hi.codes)):
        return None
    offset: np.ndarray | None = None
    if lo.offset is not None or hi.offset is not None:
        shift = (0.0 if hi.offset is None else hi.offset) - (0.0 if lo.offset is None else lo.offset)
        offset = np.broadcast_to(shift, (lo.n,)).astype(float)
    kept: list[FactorPlan] = []
    Zs: list[np.ndarray | None] = []
    codes: list[np.ndarray] = []
    for plan, z_lo, z_hi, c in zip(plans, lo.Z, hi.Z, lo.codes):
        if z_lo is None and z_hi is None:
            continue  # both all ones: the term cancels exactly
        dz = np.broadcast_to(
            (1.0 if z_hi is None else z_hi) - (1.0 if z_lo is None else z_lo), (lo.n, len(plan.active))
        )
        if not np.any(dz):
            continue
        kept.append(plan)
        Zs.append(np.ascontiguousarray(dz, dtype=float))
        codes.append(c)
    return kept, Design(np.ascontiguousarray(hi.X - lo.X), offset, Zs, codes, None)


def _trials(spec: ModelSpec, frame: pd.DataFrame, type: str) -> np.ndarray:
    if spec.trials is None:
        raise ValueError("the binomial family needs trials: pass trials= (a column or a number) to the adapter")
    if not isinstance(spec.trials, str):
        return np.full(len(frame), float(spec.trials))
    trials = np.asarray(frame[spec.trials], dtype=float)
    if type == "prediction" and np.any(trials != np.round(trials)):
        bad = trials[trials != np.round(trials)][:3].tolist()
        raise ValueError(
            f"newdata column {spec.trials!r} (binomial trials) has non-whole values {bad} (datagrid gives "
            f"its mean); type='prediction' draws counts: set {spec.trials}= to whole numbers in the grid"
        )
    return trials


def category_label(value: object) -> str:
    """A response value as a category label: numbers without a whole number's decimals (``2.0`` -> ``"2"``)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def category_codes(spec: ModelSpec, values: pd.Series) -> np.ndarray:
    """Each value's position in ``spec.categories`` (−1 where it is none of them, or missing).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> category_codes(SimpleNamespace(categories=("1", "2", "3")), pd.Series([2.0, 3, None, 7])).tolist()
    [1, 2, -1, -1]
    """
    codes, uniques = pd.factorize(pd.Series(values).astype(object))  # missing values: code −1
    positions = pd.Index(spec.categories).get_indexer(pd.Index([category_label(v) for v in uniques], dtype=object))
    return np.where(codes >= 0, np.append(positions, -1)[codes], -1).astype(np.intp)
