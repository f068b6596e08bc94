"""One averaged call split over pieces of newdata (dask partitions) that must agree with each other.

A call on a table too big for one machine is run piece by piece (see
:mod:`mixeff.verbs.distributed`).  For the pieces to add up to the call on the
whole table they must share what the engine would otherwise derive from the
rows in front of it: the random-effects plan (which new levels exist and their
simulated effects) and the ``by`` groups.  A :class:`Delegation`, set for the
duration of a call with :func:`delegating`, carries those in, and carries the
raw within-draw sums out (and the pieces' combined sums in, for the final call
that finishes them and builds the result).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Delegation:
    plans: tuple | None = None
    """``(plans, dpar_plans)`` to use instead of planning new levels from the call's own rows."""
    keys: pd.DataFrame | None = None
    """The ``by`` groups of the whole table: rows are coded against these, and a group may have no rows."""
    collect: bool = False
    """Keep each quantity's raw sums and weight totals (in ``sums``) instead of finishing them."""
    sums: list = field(default_factory=list)
    """Per quantity: ``(group sums (parts, G, S), group weights (G,), level sums, level weights)``."""
    combined: list | None = None
    """The pieces' summed ``sums``: the final call finishes these instead of computing any rows."""
    quadrature: object | None = None
    """The widest quadrature rule a piece used (out), or all pieces used (in, with ``combined``)."""
    captured: tuple | None = None
    """The plans the call made (for the pieces to share)."""
    captured_keys: pd.DataFrame | None = None
    """The ``by`` groups the call found (for the pieces to share)."""


_current: ContextVar[Delegation | None] = ContextVar("mixeff_delegation", default=None)


def current() -> Delegation | None:
    return _current.get()


@contextmanager
def delegating(delegation: Delegation):
    """Run the calls inside with ``delegation`` in force (in this thread or task only)."""
    token = _current.set(delegation)
    try:
        yield delegation
    finally:
        _current.reset(token)
