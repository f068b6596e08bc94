"""The options of one verb call that the engine reads, validated once by the verbs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TYPES = ("response", "link", "prediction", "log_lik")
"""Values a pass computes: expected values, η, predictive draws, or the log-likelihood of the rows' observed
response (brms's ``log_lik``: the response travels with the design)."""
SAMPLE_NEW_LEVELS = ("uncertainty", "gaussian", "old_levels", "integrate")


@dataclass(frozen=True)
class PassOptions:
    """How draws become values in one call.

    ``include`` is the parsed ``re_formula``: the term indices kept per grouping
    factor (a factor absent from it contributes nothing to η).  Exact integration over
    new levels (``sample_new_levels="integrate"``) applies to the mean's η.
    """

    include: dict[str, list[int]] = field(default_factory=dict)
    dpar_include: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    """``include`` of each distributional parameter's own formula (``re_formula`` applies to all)."""
    type: str = "response"
    dpar: str | None = None
    """Predict this distributional parameter (``"mu"``, ``"sigma"``, ``"psi"``...) instead of the response."""
    allow_new_levels: bool = False
    sample_new_levels: str = "uncertainty"
    seed: int | np.random.Generator | None = None
    chunk_rows: int | None = None
    progress: bool | None = None
    n_jobs: int | None = None
    """Threads for the row chunks: None takes the package option (all cores by default)."""
