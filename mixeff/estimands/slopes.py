"""Slope rules: partial derivatives and elasticities from a central finite difference.

A slope compares the arms ``x − h/2`` and ``x + h/2``; its rule divides the
pair's (exact) difference by the realised step and, for elasticities, scales by
``x`` and/or the prediction at the row's own ``x``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .comparisons import Rule

SLOPES = {
    "dydx": "dY/dX",
    "eyex": "eY/eX",
    "eydx": "eY/dX",
    "dyex": "dY/eX",
}
"""marginaleffects' slope types and their labels."""


def check_slope(slope: object) -> None:
    """``slope`` must name one of :data:`SLOPES`."""
    if not isinstance(slope, str):
        raise TypeError(f"slope={slope!r} must be one of {list(SLOPES)}")
    if slope not in SLOPES:
        raise ValueError(f"slope={slope!r} is not one of {list(SLOPES)}; e.g. slope='dydx' for dY/dX")


def slope_rule(slope: str, step: np.ndarray) -> Rule:
    """The rule of one slope type, given each row's realised step.

    ``step`` is ``(x + h/2) − (x − h/2)`` in floating point (an exact subtraction),
    not the nominal ``h``: the two differ by the rounding of x ± h/2, ~1e-12
    relative, which would otherwise bias every slope.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> rule = slope_rule("eyex", np.array([0.5]))
    >>> p = SimpleNamespace(diff=np.array([[1.0]]), rows=slice(0, 1), x=np.array([[2.0]]), orig=np.array([[4.0]]))
    >>> rule.per_row(p).tolist()   # (1 / 0.5) * 2 / 4
    [[1.0]]
    """
    check_slope(slope)

    def dydx(p):
        return p.diff / step[p.rows, None]

    row = {
        "dydx": dydx,
        "eyex": lambda p: dydx(p) * (p.x / p.orig),
        "eydx": lambda p: dydx(p) / p.orig,
        "dyex": lambda p: dydx(p) * p.x,
    }[slope]
    label = SLOPES[slope]
    return Rule(slope, row, lambda p: [row(p)], lambda m: m[0], label, f"mean({label})")


def default_eps(spec: Any, name: str) -> float:
    """Marginaleffects' step: ``1e-4 × (max − min)`` of the variable in the model data (1e-4 if 0)."""
    x = pd.to_numeric(spec.data[name], errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    span = float(x.max() - x.min()) if len(x) else 0.0
    return 1e-4 * span if span > 0 else 1e-4
