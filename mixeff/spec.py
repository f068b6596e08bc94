"""The model spec: everything the engine needs, independent of where draws came from.

Adapters (:mod:`mixeff.adapters`) build a :class:`ModelSpec` from a Bambi fit or
from plain arrays of draws; the engine only ever reads a spec.  Draws are
flattened over ``chain × draw`` into one axis of length ``S`` (chain-major), and
``n_chains``/``n_draws`` let results restore the two axes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .families import Family, Link

__all__ = ["GroupFactor", "ModelSpec", "factor_labels"]


def factor_labels(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """Level labels of a (possibly interaction) grouping factor, as strings.

    ``("h", "Subject")`` gives ``"u:308"``, matching Bambi's coordinate labels.
    """
    parts = [_as_label(frame[c]) for c in columns]
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, ":"), p)
    return out


def _as_label(col: pd.Series) -> np.ndarray:
    values = col.to_numpy()
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        values = values.astype(np.int64)
    return values.astype(str)


@dataclass
class GroupFactor:
    """One grouping factor with all its group-level terms.

    ``b`` holds the existing levels' effects as ``(S, L, k)``; ``sd`` is
    ``(S, k)``; ``cor`` is ``(S, k, k)`` or ``None`` when the terms are
    uncorrelated.  ``design(frame)`` returns the ``(n, k)`` term columns Z.
    """

    name: str
    columns: tuple[str, ...]
    levels: np.ndarray
    terms: list[str]
    b: np.ndarray
    sd: np.ndarray
    cor: np.ndarray | None
    design: Callable[[pd.DataFrame], np.ndarray]
    term_blocks: dict[str, list[int]] = field(default_factory=dict)
    """Formula-term name (e.g. ``"1|cluster"``) -> indices into ``terms``; used by ``re_formula``."""

    def __post_init__(self):
        self.levels = np.asarray(self.levels).astype(str)
        self._index = {lev: i for i, lev in enumerate(self.levels)}  # membership tests for new levels


@dataclass
class ModelSpec:
    """A fitted mixed model reduced to draws and design functions."""

    fixed_design: Callable[[pd.DataFrame], np.ndarray]
    beta: np.ndarray
    beta_names: list[str]
    groups: dict[str, GroupFactor]
    family: Family
    link: Link
    aux: dict[str, np.ndarray]
    n_chains: int
    n_draws: int
    data: pd.DataFrame
    predictors: list[str]
    response: str | None = None
    trials: str | None = None
    source: str = "posterior"
    offset: Callable[[pd.DataFrame], np.ndarray] | None = None

    @property
    def n_samples(self) -> int:
        return self.n_chains * self.n_draws

    def __post_init__(self):
        s = self.n_samples
        if self.beta.shape[0] != s:
            raise ValueError(f"beta draws have {self.beta.shape[0]} rows, expected {s} (chains × draws)")
        for g in self.groups.values():
            if g.b.shape[0] != s:
                raise ValueError(f"group {g.name!r} draws have {g.b.shape[0]} rows, expected {s}")
        missing = [a for a in self.family.aux if a not in self.aux]
        if missing:
            raise ValueError(
                f"family {self.family.name!r} needs draws of {missing}; pass them as auxiliary parameters"
            )
        # (p, S) and (k, L, S) copies so row gathers and matmuls read contiguous memory.
        self.beta_t = np.ascontiguousarray(self.beta.T)
