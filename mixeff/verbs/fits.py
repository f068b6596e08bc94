"""The one way verbs reach a fit's draws: :func:`resolve_spec`."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..model.spec import ModelSpec


@runtime_checkable
class FitLike(Protocol):
    """What the verbs need of a fit: the spec of its posterior or prior draws (``MixedFit`` has it)."""

    def spec(self, draws: str = "posterior") -> ModelSpec:
        """The engine's view of the chosen draws."""
        ...


def resolve_spec(fit, draws: str = "posterior") -> ModelSpec:
    """The spec of a fit (MixedFit, or a ModelSpec passed directly) for the chosen draws.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> resolve_spec(toy_spec()).n_samples
    200
    """
    if isinstance(fit, ModelSpec):
        if draws != fit.source:
            raise ValueError(f"draws={draws!r} but this spec holds {fit.source} draws")
        return fit
    spec_of = getattr(fit, "spec", None)
    if spec_of is None:
        raise TypeError(f"expected a mixeff fit (mixeff.fit, mixeff.from_bambi) or ModelSpec, got {type(fit).__name__}")
    return spec_of(draws)
