"""One verb call, stage by stage: check → plan → accumulate → finish → result.

:func:`open_job`
checks the call and plans it (the spec of the chosen draws, the newdata frame,
the verb's terms and engine quantities, the ``by`` groups, and the engine's
random-effects plan and designs: :class:`~mixeff.engine.passes.ArmPass`);
:meth:`Job.values` runs the engine's accumulate and finish stages;
:func:`conclude` wraps the draws in a :class:`~mixeff.results.Result` with its
credentials; :func:`mixeff.verbs.run.execute` dispatches a call here or to the dask path.
The dask path (:mod:`mixeff.verbs.distributed`) calls the same stages, with one
plan shared by every piece of the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..engine.passes import (
    ArmPass,
    ArmValue,
    PairQuantity,
    Partial,
    SharedPlan,
    finish,
    partial,
    per_row_values,
    require_memory,
    run,
)
from ..engine.reduce import Grouping, grouping
from ..estimands.comparisons import comparison_rule, resolve_transform
from ..estimands.contrasts import ArmSet
from ..model.spec import ModelSpec
from ..results import Result, require_finite
from .call import Call
from .credentials import check_convergence, new_level_credentials
from .inputs import (
    as_by,
    by_frame,
    category_grouping,
    collapses_categories,
    contrast_by,
    model_weights,
    open_call,
    summed_categories,
)
from .terms import VERBS, Term, contrast_grid


@dataclass
class Job:
    """A checked and planned call: everything the engine's accumulate and finish stages need."""

    call: Call
    spec: ModelSpec
    frame: pd.DataFrame
    groups: Grouping | None
    arms: ArmPass
    quantities: list
    terms: list[Term] | None
    """The contrast blocks (None for ``predictions``)."""
    aggregated: bool = False
    """A comparison function returning one value per draw: every row's hi and lo draws are computed,
    then the function is applied per term (and per ``by`` group)."""
    checked: np.ndarray | None = field(default=None, init=False, repr=False)
    """The array :meth:`values` returned when the engine found every one of its values finite, chunk by
    chunk while in cache: :func:`conclude` need not read it again."""

    def values(self) -> np.ndarray:
        """``(rows, S)`` draws of the call's quantity, before ``hypothesis`` and ``transform``."""
        if self.aggregated:
            return self._aggregate(per_row_values(self.arms, self.quantities))
        values = run(self.arms, self.quantities, self.groups).reshape(-1, self.spec.n_samples)
        self.checked = values if self.groups is None and self.arms.all_finite else None
        return values

    def partial(self) -> Partial:
        """The accumulate stage's sums of this piece of a table (an averaged call)."""
        return partial(self.arms, self.quantities, self.groups)

    def from_partial(self, sums: Partial) -> np.ndarray:
        """The finish stage on the added sums of every piece of a table."""
        return finish(self.arms, self.quantities, self.groups, sums).reshape(-1, self.spec.n_samples)

    def shared(self) -> SharedPlan:
        """The plan (and ``by`` groups) every piece of a split table must share."""
        return self.arms.shared(None if self.groups is None else self.groups.keys)

    @property
    def grid(self) -> pd.DataFrame:
        """The labels of the result's rows."""
        rows = self.frame if self.groups is None else self.groups.keys
        if self.terms is None:
            return rows
        return contrast_grid(self.terms, pd.DataFrame(index=[0]) if self.aggregated and self.groups is None else rows)

    def _aggregate(self, draws: np.ndarray) -> np.ndarray:
        n, s = len(self.frame), self.spec.n_samples
        draws = draws.reshape(len(self.terms), 2, n, s)
        groups = self.groups
        blocks = (
            [np.arange(n)] if groups is None else [np.flatnonzero(groups.codes == g) for g in range(len(groups.keys))]
        )
        return np.vstack(
            [
                t.rule.apply_draws(draws[i, 0][rows], draws[i, 1][rows])
                for i, t in enumerate(self.terms)
                for rows in blocks
            ]
        )


_ARM = {"hi": comparison_rule(lambda hi, lo: hi), "lo": comparison_rule(lambda hi, lo: lo)}


def open_job(call: Call, shared: SharedPlan | None = None) -> Job:
    """Check ``call`` and plan it; ``shared``: the plan of the whole table this call's rows are a piece of."""
    rules = VERBS[call.verb]
    rules.check(call)
    spec, options, frame = open_call(call)
    keys = None if shared is None else shared.keys
    n_samples = spec.n_samples
    if rules.terms is None:  # predictions: one arm, its values
        by = call.by
        if call.variables is not None and by is True:  # average by the counterfactual variables
            by = [call.variables] if isinstance(call.variables, str) else list(call.variables)
        collapsed = collapses_categories(spec, by)
        frame, by = by_frame(frame, by)
        by_cols, wts = category_grouping(spec, frame, as_by(by, frame), model_weights(call.wts), collapsed)
        groups = summed_categories(grouping(frame, by_cols, wts, keys=keys), frame, collapsed)
        require_memory(1, len(frame), groups, n_samples)
        arms = ArmPass(spec, [frame], options, shared)
        return Job(call, spec, frame, groups, arms, [ArmValue()], None)
    collapsed = collapses_categories(spec, call.by)
    frame, by = by_frame(frame, call.by)
    by_cols, wts = category_grouping(spec, frame, contrast_by(by, frame), model_weights(call.wts), collapsed)
    resolve_transform(call.transform)
    arm_set = ArmSet(frame, spec)
    terms = rules.terms(call, spec, arm_set, by_cols is not None)
    groups = summed_categories(grouping(frame, by_cols, wts, keys=keys), frame, collapsed)
    if any(t.rule.aggregate for t in terms):
        if wts is not None:
            raise ValueError(
                "wts: a comparison function that returns one value per draw does its own averaging; "
                "weigh inside the function, or return one value per row and draw to use wts"
            )
        quantities = [PairQuantity(_ARM[side], t.contrast.lo, t.contrast.hi) for t in terms for side in ("hi", "lo")]
        require_memory(len(quantities), len(frame), None, n_samples)
        arms = ArmPass(spec, arm_set.frames, options, shared)
        return Job(call, spec, frame, groups, arms, quantities, terms, aggregated=True)
    original = arm_set.original() if any(t.x is not None for t in terms) else None
    quantities = [PairQuantity(t.rule, t.contrast.lo, t.contrast.hi, original, t.x) for t in terms]
    require_memory(len(terms), len(frame), groups, n_samples)
    arms = ArmPass(spec, arm_set.frames, options, shared)
    return Job(call, spec, frame, groups, arms, quantities, terms)


def conclude(job: Job, values: np.ndarray, *, check: bool = True) -> Result:
    """The result of ``job`` from its draws.

    Refused if not finite, with its credentials, and checked for convergence (``check``).  The
    call's hypothesis and transform come after (:func:`~mixeff.verbs.finish.finish_result`).
    """
    call, spec = job.call, job.spec
    if job.checked is not values:
        require_finite(values, *VERBS[call.verb].undefined(call, spec))
    credentials = (
        job.arms.new_level_record()
        if job.aggregated
        else new_level_credentials(job.arms, values, resolve_transform(call.transform))
    )
    result = Result(
        job.grid,
        values,
        spec.n_chains,
        spec.n_draws,
        kind=call.verb,
        type=call.type,
        source=spec.source,
        **call.summary_options,
        new_levels=credentials,
        selection=spec.selection,
        response=spec.response,
        call=call,
    )
    if check:
        check_convergence(call.fit, result)
    return result
