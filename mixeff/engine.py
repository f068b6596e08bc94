"""The engine: η = Xβ + Σ_g Z_g b_g per draw, inverse link, family mean — in row chunks.

Work is split in two so nothing is built twice:

* :func:`prepare` evaluates the design once per frame (X, Z, level codes, trials);
  these are ``rows × columns``, small next to ``rows × draws``.
* :func:`stream` walks row chunks of one or more aligned frames ("arms"),
  computes a ``(chunk, S)`` block per arm and hands the blocks to a reducer
  (:mod:`mixeff.reduce`), so memory stays bounded by chunk × draws unless the
  caller asks for every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .random_effects import FactorPlan, plan_random_effects
from .spec import ModelSpec

__all__ = ["TYPES", "Call", "Design", "prepare", "stream", "row_chunks", "default_chunk_rows"]

TYPES = ("response", "link", "prediction")
CHUNK_ELEMENTS = 1 << 18  # cells of one (chunk, S) block: 2 MiB of float64, cache-friendly


def default_chunk_rows(n_samples: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(1, n_samples))


@dataclass
class Design:
    """Per-row design of one frame: fixed columns, group columns and level codes."""

    X: np.ndarray
    offset: np.ndarray | None
    Z: list[np.ndarray | None]
    """Per factor plan: ``(n, k_active)`` term columns, or None when all are ones."""
    codes: list[np.ndarray]
    trials: np.ndarray | None

    @property
    def n(self) -> int:
        return self.X.shape[0]


@dataclass
class Call:
    """Everything fixed for one verb call: spec, scale, random-effects plan, RNG."""

    spec: ModelSpec
    type: str
    plans: list[FactorPlan]
    rng: np.random.Generator
    _scratch: np.ndarray | None = None

    @classmethod
    def make(cls, spec, frames, *, type="response", re_formula=None, allow_new_levels=False,
             sample_new_levels="uncertainty", seed=None):
        if type not in TYPES:
            raise ValueError(f"type={type!r} is not one of {list(TYPES)}")
        rng = np.random.default_rng(seed)
        plans = plan_random_effects(
            spec, frames, re_formula=re_formula, allow_new_levels=allow_new_levels,
            sample_new_levels=sample_new_levels, rng=rng,
        )
        return cls(spec, type, plans, rng)

    def evaluate(self, design: Design, rows: slice, out: np.ndarray | None = None) -> np.ndarray:
        """``(chunk, S)`` values on this call's scale for ``rows`` of one prepared frame."""
        eta = self.linear_predictor(design, rows, out)
        return eta if self.type == "link" else self.finish(eta, design, rows)

    def linear_predictor(self, design: Design, rows: slice, out: np.ndarray | None = None) -> np.ndarray:
        """η = Xβ + offset + Σ_g Z_g b_g, ``(chunk, S)``, written into ``out`` if given.

        Reusing ``out`` (and one scratch block) across chunks matters: a fresh
        multi-MiB array per chunk costs more in page faults than the arithmetic.
        """
        spec = self.spec
        c = rows.stop - rows.start
        eta = np.matmul(design.X[rows], spec.beta_t, out=None if out is None else out[:c])
        if design.offset is not None:
            eta += design.offset[rows, None]
        for plan, Z, codes in zip(self.plans, design.Z, design.codes):
            idx = codes[rows]
            if self._scratch is None or self._scratch.shape[0] < c:
                self._scratch = np.empty((c, spec.n_samples))
            effect = self._scratch[:c]
            for j in range(len(plan.active)):
                np.take(plan.table_t[j], idx, axis=0, out=effect)
                if Z is not None:
                    effect *= Z[rows, j, None]
                eta += effect
        return eta

    def finish(self, eta: np.ndarray, design: Design, rows: slice) -> np.ndarray:
        """From η to the expected value or a predictive draw; overwrites ``eta``."""
        spec = self.spec
        mu = spec.link.inverse(eta)
        trials = None if design.trials is None else design.trials[rows]
        if self.type == "prediction":
            return spec.family.draw(self.rng, mu, spec.aux, trials)
        return spec.family.mean(mu, spec.aux, trials)


def prepare(call: Call, frame: pd.DataFrame) -> Design:
    spec = call.spec
    X = np.ascontiguousarray(spec.fixed_design(frame), dtype=float)
    offset = None if spec.offset is None else np.asarray(spec.offset(frame), dtype=float)
    Zs, codes = [], []
    for plan in call.plans:
        Z = np.asarray(plan.group.design(frame), dtype=float)[:, plan.active]
        Zs.append(None if np.all(Z == 1.0) else np.ascontiguousarray(Z))
        codes.append(plan.codes(frame))
    trials = None
    if spec.family.needs_trials and call.type != "link":
        trials = _trials(spec, frame, call.type)
    return Design(X, offset, Zs, codes, trials)


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


def stream(call: Call, designs: list[Design], reducer, *, chunk_rows=None, progress=None):
    """Feed ``(chunk, S)`` blocks of every arm to ``reducer.update(rows, blocks)``.

    Blocks live in buffers reused for the next chunk: reducers must copy or
    consume them before returning.
    """
    n, s = designs[0].n, call.spec.n_samples
    chunk_rows = chunk_rows or default_chunk_rows(s)
    buffers = [np.empty((min(n, chunk_rows), s)) for _ in designs]
    for rows in row_chunks(n, chunk_rows, work=n * s * len(designs), progress=progress):
        reducer.update(rows, [call.evaluate(d, rows, out=b) for d, b in zip(designs, buffers)])
    return reducer.result()


def row_chunks(n: int, chunk_rows: int, *, work: float, progress: bool | None = None):
    """Row slices of at most ``chunk_rows``; a progress bar when asked, or when ``work``
    (cells to compute) would take seconds (~1e8 cells a second here)."""
    starts = range(0, n, chunk_rows)
    if progress if progress is not None else work > 2e8:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="mixeff", unit="chunk", leave=False)
    for start in starts:
        yield slice(start, min(n, start + chunk_rows))
