"""Typed records that results carry: credentials of how their numbers were made."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class NewLevels:
    """How levels the model has not seen were treated: a result's ``new_levels`` credentials.

    Fields not recorded are None; ``record["how"]``, ``"mc_se" in record`` and ``record.get(...)``
    read it like a mapping of the recorded fields.

    Examples
    --------
    >>> rec = NewLevels(how="integrate", factors=["g"], levels={"g": 2}, method="closed form", error_bound=0.0)
    >>> rec.how, rec["method"], "mc_se" in rec
    ('integrate', 'closed form', False)
    """

    how: str
    """``sample_new_levels``: ``"uncertainty"``, ``"gaussian"``, ``"old_levels"`` or ``"integrate"``."""
    factors: list[str]
    """The grouping factors with new levels."""
    levels: dict[str, int]
    """How many new levels per factor."""
    method: str | None = None
    """Integrated: ``"closed form"`` or the quadrature rule."""
    error_bound: float | None = None
    """Integrated: the rule's relative error bound."""
    mc_se: list[float] | None = None
    """Simulated and averaged: each row's Monte Carlo SE of the average (median over draws)."""
    mc_se_ratio: list[float] | None = None
    """... as a share of the row's posterior sd."""

    def __getitem__(self, name: str) -> Any:
        value = getattr(self, name, None) if name in self._names() else None
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._names() and getattr(self, name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        """A recorded field, or ``default``."""
        return self[name] if name in self else default

    @classmethod
    def _names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


@dataclass(frozen=True)
class IntegratedLikelihood:
    """How ``log_lik(group=...)`` integrated each level's effects: a result's ``integrated_likelihood``.

    Examples
    --------
    >>> rec = IntegratedLikelihood("g", "closed form", 0, 0.0, ("h",))
    >>> rec.factor, rec.other_factors
    ('g', ('h',))
    """

    factor: str
    """The grouping factor whose levels' effects were integrated out over N(0, Σ) of each draw."""
    method: str
    """``"closed form"`` (gaussian, lognormal) or the adaptive Gauss–Hermite rule."""
    nodes: int
    """Quadrature nodes per level and draw (0 for the closed form)."""
    error_bound: float
    """Estimated largest absolute error of the log-likelihoods (relative error of the likelihoods):
    the largest difference from a rule with fewer nodes; 0 for the closed form."""
    other_factors: tuple[str, ...] = ()
    """The model's other grouping factors, kept at their fitted levels' effects."""
