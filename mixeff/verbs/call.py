"""A verb call as one frozen value: what was asked, once, for every stage that follows.

Each verb turns its arguments into a :class:`Call` and hands it to
:func:`mixeff.verbs.pipeline.execute`; input checks, the engine passes, the
final touches, the dask path and the prior rerun of a Bayes factor all read the
same value.  Rerunning a call on the prior draws is ``call.on("prior")``.  A new
verb option is a parameter of the verb and a field here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

Verb = Literal["predictions", "comparisons", "slopes", "log_lik"]


@dataclass(frozen=True, eq=False)
class Call:
    """Every argument of one ``predictions``/``comparisons``/``slopes`` call (see those verbs).

    ``variables`` is the focal variables of ``comparisons`` and ``slopes`` and the counterfactual
    variables of ``predictions``; ``comparison`` and ``cross`` belong to ``comparisons``, ``slope``
    and ``eps`` to ``slopes``.

    Examples
    --------
    >>> call = Call.of("predictions", {"fit": None, "by": "g"})
    >>> call.by, call.on("prior").draws, call.draws
    ('g', 'prior', 'posterior')
    """

    verb: Verb
    fit: Any
    newdata: Any = None
    variables: Any = None
    comparison: Any = "difference"
    cross: bool = False
    slope: str = "dydx"
    eps: float | None = None
    by: Any = None
    wts: Any = None
    type: str = "response"
    dpar: str | None = None
    transform: Any = None
    hypothesis: Any = None
    equivalence: Any = None
    bayes_factor: bool | None = None
    re_formula: Any = None
    allow_new_levels: bool = False
    sample_new_levels: str = "uncertainty"
    seed: Any = None
    draws: str = "posterior"
    ndraws: int | None = None
    draw_ids: Any = None
    conf_level: float = 0.95
    estimator: str = "median"
    interval: str = "eti"
    chunk_rows: int | None = None
    progress: bool | None = None
    n_jobs: int | None = None

    @classmethod
    def of(cls, verb: Verb, arguments: Mapping[str, Any]) -> Call:
        """The call of ``verb`` with ``arguments`` (the verb's parameters by name)."""
        unknown = set(arguments) - {f.name for f in fields(cls)}
        if unknown:  # a verb parameter without a field: a programming error, not a user's
            raise TypeError(f"Call has no field for {sorted(unknown)}")
        return cls(verb=verb, **arguments)

    def on(self, draws: str) -> Call:
        """The same quantity on other draws (``"prior"``): no hypothesis, transform or progress bar."""
        return replace(self, draws=draws, transform=None, hypothesis=None, equivalence=None, progress=False)

    def with_(self, **changes: Any) -> Call:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return replace(self, **changes)

    @property
    def summary_options(self) -> dict[str, Any]:
        """``conf_level``, ``estimator`` and ``interval``."""
        return {"conf_level": self.conf_level, "estimator": self.estimator, "interval": self.interval}


def by_names(by: Any) -> list[str] | None:
    """The columns ``by`` names (the one reading of ``by=``).

    None per row (None, False), ``[]`` for one overall group (True), a DataFrame's columns other
    than ``by``, or the names given.

    Examples
    --------
    >>> by_names("g"), by_names(True), by_names(None), by_names(pd.DataFrame({"cyl": [4], "by": ["a"]}))
    (['g'], [], None, ['cyl'])
    """
    if by is None or by is False:
        return None
    if by is True:
        return []
    if isinstance(by, pd.DataFrame):
        return [c for c in by.columns if c != "by"]
    if isinstance(by, str):
        return [by]
    if isinstance(by, (list, tuple)) and all(isinstance(c, str) for c in by):
        return list(by)
    raise TypeError(f"by={by!r} must be a column name, a list of column names, True (all rows) or None")


# The types of the verbs' public parameters (one place for all three verbs).
if TYPE_CHECKING:
    import dask.dataframe as dd

    from ..model.spec import FitLike, ModelSpec

type Fit = FitLike | ModelSpec
type NewData = pd.DataFrame | str | os.PathLike[str] | dd.DataFrame | None
type Variables = str | Sequence[str] | Mapping[str, Any] | None
type By = str | Sequence[str] | bool | pd.DataFrame | None
type Weights = str | Sequence[float] | np.ndarray | bool | None
type Transform = str | Callable[[np.ndarray], np.ndarray] | None
type Hypothesis = str | float | Sequence[float] | np.ndarray | pd.DataFrame | None
type Equivalence = tuple[float, float] | Sequence[float] | None
type Comparison = str | Callable[[np.ndarray, np.ndarray], np.ndarray]
type Seed = int | np.random.Generator | None
type DrawIds = int | Sequence[int] | np.ndarray | None
type ValueType = Literal["response", "link", "prediction"]
type NewLevelsHow = Literal["uncertainty", "gaussian", "old_levels", "integrate"]
type Draws = Literal["posterior", "prior"]
type SlopeType = Literal["dydx", "eyex", "eydx", "dyex"]
