"""Reducers: what to do with each ``(chunk, S)`` block the engine streams.

* per row, :func:`mixeff.engine.passes.run` writes every row (``rows × draws``);
* :class:`GroupMeans` keeps only (weighted) group means *within each draw*,
  accumulated task by task (:func:`add_by_group` adds a task's rows one by one), so
  ``rows × draws`` is never held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import kernels


@dataclass
class Grouping:
    """Rows -> ``by`` groups with their (validated) weights."""

    codes: np.ndarray
    keys: pd.DataFrame
    weights: np.ndarray
    scale: np.ndarray | None = None
    """Per group, a factor on its within-draw means before they are finished: the number of response
    categories a ``by`` table collapses into the group, so that their probabilities are summed."""


def grouping(
    frame: pd.DataFrame, by: list[str] | None, wts: str | npt.ArrayLike | None = None, keys: pd.DataFrame | None = None
) -> Grouping | None:
    """The ``by``/``wts`` grouping of ``frame``; None for per-row results (then ``wts`` is an error).

    ``keys``: the groups of a whole table of which ``frame`` is one piece (rows are coded against them,
    and a group may have no rows here); by default the groups ``frame`` has.
    """
    if by is None:
        if wts is not None:
            raise ValueError("wts needs by= (or an avg_* verb): weights are used to average rows")
        return None
    if keys is not None:
        codes = _key_index(keys, by).get_indexer(_key_index(frame, by)).astype(np.int64)
        if (codes < 0).any():
            raise ValueError(f"by={by}: a piece of newdata has groups that the whole table was not found to have")
        return Grouping(codes, keys, normalised_weights(frame, wts, codes, keys, piece=True))
    codes, keys = group_codes(frame, by)
    return Grouping(codes, keys, normalised_weights(frame, wts, codes, keys))


def _key_index(frame: pd.DataFrame, by: list[str]) -> pd.Index:
    if not by:
        return pd.Index(np.zeros(len(frame), dtype=np.int64))
    return pd.MultiIndex.from_frame(frame[by]) if len(by) > 1 else pd.Index(frame[by[0]])


class GroupMeans:
    """Weighted means by group, within draw, one per part: ``(n_parts, G, S)``."""

    def __init__(self, groups: Grouping, n_samples: int, n_parts: int = 1):
        self.groups = groups
        self.n_groups = len(groups.keys)
        self.sums = np.zeros((n_parts, self.n_groups, n_samples))
        self.total = np.bincount(groups.codes, weights=groups.weights, minlength=self.n_groups)

    def add(self, sums: np.ndarray, present: np.ndarray) -> None:
        """Add one task's ``(n_parts, len(present), S)`` weighted sums of the groups ``present`` (sorted)."""
        if len(present) == self.n_groups:
            self.sums += sums
        else:
            self.sums[:, present] += sums

    def result(self) -> np.ndarray:
        return self.sums / self.total[None, :, None]


def local_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The groups present in ``codes`` (sorted) and each row's position among them."""
    present, local = np.unique(codes, return_inverse=True)
    return present, local.reshape(-1)


def add_by_group(total: np.ndarray, codes: np.ndarray, weights: np.ndarray, block: np.ndarray) -> None:
    """``total[codes[r]] += weights[r] * block[r]`` for each row ``r`` in turn.

    Every group's rows are thus added in row order (compiled when available; the loop over rows gives
    the same bits).

    Examples
    --------
    >>> total = np.zeros((2, 3))
    >>> add_by_group(total, np.array([1, 0, 1]), np.array([1.0, 2.0, 0.5]), np.ones((3, 3)))
    >>> total.tolist()
    [[2.0, 2.0, 2.0], [1.5, 1.5, 1.5]]
    """
    if kernels.group_sums(total, codes, weights, block) is not None:
        return
    for r, (code, weight) in enumerate(zip(codes, weights)):
        total[code] += weight * block[r]


def group_codes(frame: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer group of each row and the sorted table of groups (one row per group)."""
    if not by:
        return np.zeros(len(frame), dtype=np.int64), pd.DataFrame(index=[0])
    keys = frame[by].drop_duplicates()
    try:
        keys = keys.sort_values(by, kind="stable")
    except TypeError:  # unorderable mixed types: keep order of appearance
        pass
    keys = keys.reset_index(drop=True)
    return _key_index(keys, by).get_indexer(_key_index(frame, by)).astype(np.int64), keys


def normalised_weights(
    frame: pd.DataFrame, wts: str | npt.ArrayLike | None, codes: np.ndarray, keys: pd.DataFrame, piece: bool = False
) -> np.ndarray:
    """Validated non-negative weights per row (a column name, an array, or None for equal).

    ``piece``: the frame is one piece of a bigger table, whose groups need not all have rows (or
    weight) here; the whole table's group weights are checked when the pieces are combined.
    """
    if wts is None:
        return np.ones(len(frame))
    if isinstance(wts, str):
        if wts not in frame.columns:
            raise ValueError(f"wts={wts!r} is not a column of newdata; available columns: {list(frame.columns)}")
        w = pd.to_numeric(frame[wts], errors="coerce").to_numpy(dtype=float)
        name = f"wts={wts!r}"
    else:
        w = np.asarray(wts, dtype=float).ravel()
        name = "wts"
        if len(w) != len(frame):
            raise ValueError(f"wts has {len(w)} values but newdata has {len(frame)} rows")
    if np.isnan(w).any():
        raise ValueError(f"{name} has {int(np.isnan(w).sum())} missing (NaN) weights; drop or fill those rows")
    if np.isinf(w).any():
        raise ValueError(f"{name} has {int(np.isinf(w).sum())} infinite weight(s); weights must be finite and >= 0")
    if (w < 0).any():
        raise ValueError(f"{name} has negative weights (min {w.min():g}); weights must be >= 0")
    if piece:
        return w
    total = np.bincount(codes, weights=w, minlength=len(keys))
    if (total <= 0).any():
        bad = keys.iloc[np.flatnonzero(total <= 0)[:3]].to_dict("records")
        raise ValueError(f"{name}: the weights sum to zero in group(s) {bad}; every group needs a positive weight")
    return w
