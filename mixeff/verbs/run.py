"""Running a :class:`~mixeff.verbs.call.Call`: in memory, or piece by piece on dask."""

from __future__ import annotations

from ..results import Result
from .call import Call
from .distributed import LazyDraws, execute_distributed, is_distributed
from .pipeline import conclude, open_job


def execute(call: Call) -> Result | LazyDraws:
    """The draws of ``call``'s quantity, before its hypothesis and transform.

    :func:`~mixeff.verbs.finish.finish_result` applies those.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> r = execute(Call.of("predictions", {"fit": toy_spec(), "by": "TX"}))
    >>> r.grid["TX"].tolist(), r.call.by
    ([0, 1], 'TX')
    """
    if is_distributed(call.newdata):
        return execute_distributed(call)
    job = open_job(call)
    return conclude(job, job.values())
