"""The model spec: everything the engine needs, independent of where draws came from.

Adapters (:mod:`mixeff.model.adapters`) build a :class:`ModelSpec` from a Bambi fit or
from plain arrays of draws; the engine only ever reads a spec.  Draws are
flattened over ``chain × draw`` into one axis of length ``S`` (chain-major), and
``n_chains``/``n_draws`` let results restore the two axes.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .families import FAMILIES, LINKS, Family, Link
from .formula import brms_name

CATEGORY_COLUMN = "group"
"""The column naming the response category in results of ordinal and categorical models (marginaleffects's)."""


def factor_labels(frame: pd.DataFrame, columns: tuple[str, ...], sep: str = ":", numeric: bool = False) -> np.ndarray:
    """Level labels of a (possibly interaction) grouping factor, as strings.

    ``("h", "Subject")`` gives ``"u:308"`` (Bambi's labels; brms joins with ``"_"``).
    A single column's numbers are written without a whole number's decimals (``1.0`` ->
    ``"1"``); its strings are kept as they are, unless the model's column is ``numeric``:
    then ``"1"``, ``"1.0"`` and ``"01"`` all name the level 1.

    Examples
    --------
    >>> import pandas as pd
    >>> factor_labels(pd.DataFrame({"g": [1.0, 2.5]}), ("g",)).tolist()
    ['1', '2.5']
    >>> factor_labels(pd.DataFrame({"g": ["01", 1]}), ("g",)).tolist(), factor_labels(
    ...     pd.DataFrame({"g": ["01"]}), ("g",), numeric=True
    ... ).tolist()
    (['01', '1'], ['1'])
    >>> factor_labels(pd.DataFrame({"g": [1, 2], "h": ["a", "b"]}), ("h", "g")).tolist()
    ['a:1', 'b:2']
    """
    if len(columns) == 1:
        return _single_labels(frame[columns[0]], numeric or is_numeric_column(frame, columns))
    parts = [
        np.where(frame[c].isna().to_numpy(), MISSING_LEVEL, np.asarray(frame[c].to_numpy()).astype(str))
        for c in columns
    ]
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, sep), p)
    return out


def distinct_labels(
    frame: pd.DataFrame, columns: tuple[str, ...], sep: str = ":", numeric: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, inverse)``: each distinct level label once, and every row's position in it.

    ``labels[inverse]`` equals :func:`factor_labels` of the frame, but the labels are built
    for one row per distinct value only: on a million rows of a few hundred clusters this is
    a hash pass instead of a million string conversions.

    Examples
    --------
    >>> import pandas as pd
    >>> labels, inverse = distinct_labels(pd.DataFrame({"g": [2.0, 1.0, 2.0]}), ("g",))
    >>> labels.tolist(), inverse.tolist()
    (['2', '1'], [0, 1, 0])
    """

    def hashed(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes, uniques = pd.factorize(labels)
        return np.asarray(uniques, dtype=str), codes.astype(np.intp)

    if any(frame[c].dtype == object for c in columns):  # 1 == 1.0 == True hash alike but label apart
        return hashed(factor_labels(frame, columns, sep, numeric))
    key, size = np.zeros(len(frame), dtype=np.int64), 1
    for c in columns:
        codes, uniques = pd.factorize(frame[c], use_na_sentinel=False)
        size *= max(len(uniques), 1)
        if size >= 2**62:  # the combined key would overflow
            return hashed(factor_labels(frame, columns, sep, numeric))
        key = key * len(uniques) + codes
    row_codes, distinct = pd.factorize(key)
    first = np.empty(len(distinct), dtype=np.intp)
    first[row_codes[::-1]] = np.arange(len(key) - 1, -1, -1)
    labels, label_codes = hashed(factor_labels(frame.iloc[first], columns, sep, numeric))
    return labels, label_codes[row_codes]


MISSING_LEVEL = "<NA>"
"""The level label of a missing grouping value: one new level per factor, as brms treats NA (brms#1652)."""


def _single_labels(column: pd.Series, numeric: bool) -> np.ndarray:
    missing = column.isna().to_numpy()
    labels = _present_labels(column, numeric)
    if missing.any():
        labels = labels.astype(object)
        labels[missing] = MISSING_LEVEL
        labels = labels.astype(str)
    return labels


def _present_labels(column: pd.Series, numeric: bool) -> np.ndarray:
    labels = np.asarray(column.to_numpy()).astype(str)
    if numeric:
        return _canonical(labels)
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) != "string":
        is_number = column.map(lambda v: isinstance(v, numbers.Number) and not isinstance(v, bool)).to_numpy(bool)
        if is_number.any():
            labels = labels.astype(object)
            labels[is_number] = _canonical(labels[is_number].astype(str))
            return labels.astype(str)
    return labels


def is_numeric_column(data: pd.DataFrame, columns: tuple[str, ...]) -> bool:
    """Whether a grouping factor's levels are numbers: one numeric (not boolean) column of ``data``.

    Then ``1``, ``1.0``, ``"1"`` and ``"01"`` name one level (see :meth:`GroupFactor.set_numeric`).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"g": [1, 2], "h": ["1", "2"], "b": [True, False]})
    >>> [is_numeric_column(d, cols) for cols in [("g",), ("h",), ("b",), ("g", "h")]]
    [True, False, False, False]
    """
    if len(columns) != 1 or columns[0] not in data.columns:
        return False
    column = data[columns[0]]
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _canonical(labels: np.ndarray) -> np.ndarray:
    """``"1.0"`` -> ``"1"``: whole numbers lose their decimal part; other labels are kept."""
    nums = pd.to_numeric(pd.Series(labels), errors="coerce").to_numpy(dtype=float)
    whole = np.isfinite(nums) & (nums == np.round(nums))
    if not whole.any():
        return labels
    out = labels.astype(object)
    out[whole] = nums[whole].astype(np.int64).astype(str)
    return out.astype(str)


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
    sep: str = ":"
    """How an interaction factor's labels are joined: ``":"`` in Bambi, ``"_"`` in brms."""

    numeric: bool = False
    """Whether the model's data column is numeric: then ``1``, ``1.0``, ``"1"`` and ``"01"`` name one
    level; a string column's levels are matched exactly (set from the data by :class:`ModelSpec`)."""
    level_index: dict[str, int] = field(init=False, repr=False)
    """Label -> position in ``levels``."""

    def __post_init__(self):
        self.levels = np.asarray(self.levels).astype(str)
        self.set_numeric(self.numeric)

    def set_numeric(self, numeric: bool) -> None:
        """Label levels as a numeric column's (whole numbers without decimals) or as strings, exactly."""
        levels = np.asarray(self.levels).astype(str)
        canonical = _canonical(levels) if numeric and len(self.columns) == 1 else levels
        self.numeric = bool(numeric) and len(set(canonical)) == len(canonical)
        self.levels = canonical if self.numeric else levels
        self.level_index = {lev: i for i, lev in enumerate(self.levels)}

    def labels_of(self, frame: pd.DataFrame) -> np.ndarray:
        """The factor's level label for every row of ``frame``."""
        return factor_labels(frame, self.columns, self.sep, self.numeric)

    def distinct_labels_of(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, inverse)`` of :func:`distinct_labels`: ``labels[inverse]`` is :meth:`labels_of`."""
        return distinct_labels(frame, self.columns, self.sep, self.numeric)

    def has_level(self, label: str) -> bool:
        return label in self.level_index

    def term_indices(self, expr: str) -> list[int] | None:
        """Indices into ``terms`` of one formula term (``"1"``, ``"Days"``, ``"scale(Days)"``), or None.

        brms names coefficients without punctuation (``scale(Days)`` -> ``scaleDays``),
        so both spellings are looked up.
        """
        if expr in self.term_blocks:
            return self.term_blocks[expr]
        return self.term_blocks.get(brms_name(expr))


@dataclass
class Predictor:
    """The linear predictor of a distributional parameter with its own formula (``sigma ~ x + (1|g)``).

    Like the mean's part of :class:`ModelSpec`: a fixed design with ``(S, p)`` draws
    ``beta``, grouping factors, and the link from η to the parameter (``log`` for
    ``sigma``, ``logit`` for ``psi``; ``identity`` for a categorical model's
    per-category predictors).
    """

    fixed_design: Callable[[pd.DataFrame], np.ndarray]
    beta: np.ndarray
    beta_names: list[str]
    groups: dict[str, GroupFactor]
    link_name: str
    offset: Callable[[pd.DataFrame], np.ndarray] | None = None
    beta_t: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.beta_t = np.ascontiguousarray(self.beta.T)

    @property
    def link(self) -> Link:
        return LINKS[self.link_name]

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "beta_t"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.beta_t = np.ascontiguousarray(self.beta.T)


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
    trials: str | float | None = None
    """Binomial trials: a newdata column, or a constant number."""
    source: str = "posterior"
    offset: Callable[[pd.DataFrame], np.ndarray] | None = None
    offset_variables: tuple[str, ...] = ()
    """Columns used only in ``offset()`` terms: exposure, not a predictor to contrast."""
    dpars: dict[str, Predictor] = field(default_factory=dict)
    """Distributional parameters with their own formula, by name (``sigma``, ``psi``; a categorical
    model's ``mu<category>`` per non-reference category).  Others are draws in ``aux``."""
    categories: tuple[str, ...] = ()
    """The response's categories, in order, for ordinal and categorical families."""
    selection: str | None = None
    """Which of the fit's draws these are when a verb used ``ndraws``/``draw_ids`` (None: all)."""
    beta_t: np.ndarray = field(init=False, repr=False)
    """``(p, S)`` contiguous copy of ``beta``: row gathers and matmuls read contiguous memory."""

    _rebuild = None
    """``(function, args)`` that builds this spec again, set by adapters whose design functions
    are closures (:func:`~mixeff.model.adapters.from_brms_draws`): pickle saves these instead."""

    @property
    def n_samples(self) -> int:
        return self.n_chains * self.n_draws

    def __post_init__(self):
        s = self.n_samples
        if self.beta.shape[0] != s:
            raise ValueError(f"beta draws have {self.beta.shape[0]} rows, expected {s} (chains × draws)")
        for part in [self, *self.dpars.values()]:
            if part.beta.shape[0] != s:
                raise ValueError(f"beta draws have {part.beta.shape[0]} rows, expected {s} (chains × draws)")
            for g in part.groups.values():
                if g.b.shape[0] != s:
                    raise ValueError(f"group {g.name!r} draws have {g.b.shape[0]} rows, expected {s}")
        if self.family.categorical and len(self.categories) < 2:
            raise ValueError(f"family {self.family.name!r} needs the response's categories (at least 2)")
        if self.family.categorical and not self.family.ordinal and len(self.dpars) != len(self.categories) - 1:
            raise ValueError(
                f"a categorical model needs one predictor of η per non-reference category "
                f"({len(self.categories) - 1}), got {len(self.dpars)}"
            )
        missing = [a for a in self.family.aux if a not in self.aux and a not in self.dpars]
        if missing:
            raise ValueError(f"family {self.family.name!r} needs draws of {missing}; pass them as auxiliary parameters")
        self.beta_t = np.ascontiguousarray(self.beta.T)
        for g in self.all_groups():
            if all(c in self.data.columns for c in g.columns):
                g.set_numeric(is_numeric_column(self.data, g.columns))

    def select_draws(self, ids: np.ndarray, n_chains: int, selection: str | None = None) -> ModelSpec:
        """The same model on a subset of its draws (flat, chain-major ``ids``).

        As ``n_chains`` chains of ``len(ids) // n_chains`` draws; ``selection`` says how they were chosen
        (shown with results).

        Examples
        --------
        >>> from mixeff.model.examples import toy_spec
        >>> spec = toy_spec()
        >>> sub = spec.select_draws(np.array([0, 5]), 1)
        >>> sub.n_samples, bool((sub.beta == spec.beta[[0, 5]]).all())
        (2, True)
        """
        ids = np.asarray(ids, dtype=np.int64)

        def groups(p):
            return {
                name: replace(g, b=g.b[ids], sd=g.sd[ids], cor=None if g.cor is None else g.cor[ids])
                for name, g in p.groups.items()
            }

        return replace(
            self,
            beta=self.beta[ids],
            groups=groups(self),
            aux={k: np.asarray(v)[ids] for k, v in self.aux.items()},
            dpars={name: replace(p, beta=p.beta[ids], groups=groups(p)) for name, p in self.dpars.items()},
            n_chains=n_chains,
            n_draws=len(ids) // n_chains,
            selection=selection,
        )

    def all_groups(self) -> list[GroupFactor]:
        """Every grouping factor's terms: the mean's, then each distributional parameter's."""
        return [g for part in [self, *self.dpars.values()] for g in part.groups.values()]

    # Pickling: a spec whose adapter left a recipe is saved as that recipe; any other is saved as
    # its fields, so it pickles when its design functions do.  The family and link (which hold
    # lambdas) travel by name.
    def __reduce_ex__(self, protocol):
        if self._rebuild is not None:
            return self._rebuild
        return super().__reduce_ex__(protocol)

    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k != "beta_t"}
        for key, registry in (("family", FAMILIES), ("link", LINKS)):
            if registry.get(state[key].name) is state[key]:
                state[key] = _Registered(key, state[key].name)
        return state

    def __setstate__(self, state):
        for key, registry in (("family", FAMILIES), ("link", LINKS)):
            if isinstance(state[key], _Registered):
                state[key] = registry[state[key].name]
        self.__dict__.update(state)
        self.beta_t = np.ascontiguousarray(self.beta.T)


@dataclass(frozen=True)
class _Registered:
    """A family or link of :mod:`mixeff.model.families`, pickled by name."""

    kind: str
    name: str


@runtime_checkable
class FitLike(Protocol):
    """What the verbs need of a fit: the spec of its posterior or prior draws (``MixedFit`` has it)."""

    def spec(self, draws: str = "posterior") -> ModelSpec:
        """The engine's view of the chosen draws."""
        ...
