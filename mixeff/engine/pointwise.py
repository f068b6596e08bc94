"""Per-row reductions over the draws, streamed by row chunk: no ``rows × draws`` array.

:func:`stream_rows` runs a one-arm pass (:class:`~mixeff.engine.passes.ArmPass`, e.g. ``type="log_lik"``)
chunk by chunk: worker threads compute each chunk's ``(chunk, S)`` values (numpy releases the GIL) and
apply ``reduce(values, rows)`` to them there; the calling thread receives the reductions in row order.
What a reduction keeps is per row (a few numbers per row: pointwise ELPD, Pareto k, ...), so memory is
a few chunks in flight plus the per-row results, whatever the number of rows.

A row's values are the same, bit for bit, for any ``chunk_rows`` and ``n_jobs`` (the engine's rule), so
a reduction that treats each row on its own (PSIS per observation, WAIC's per-row sums) gives the same
bits for any chunking too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np

from .parallel import ordered_map, resolve_jobs, single_threaded_blas
from .passes import PARALLEL_MIN_CELLS, ArmPass, ChunkDraws, _Buffers, default_chunk_rows, row_progress


def stream_rows[T](
    arms: ArmPass,
    reduce: Callable[[np.ndarray, slice], T],
    *,
    work_per_cell: float = 1.0,
) -> Iterator[tuple[slice, T]]:
    """``(rows, reduce(values, rows))`` for every row chunk of the pass's one arm, in row order.

    ``values`` is the chunk's ``(chunk, S)`` block (it lives in a buffer the thread reuses: ``reduce``
    must not keep it).  Chunks have ``arms.options.chunk_rows`` rows (by default about 2 MiB of values)
    and run on ``arms.options.n_jobs`` threads when the pass is large; at most two chunks per thread
    wait to be consumed.  The progress bar counts a chunk's rows once the caller has consumed it, and
    its default threshold counts ``work_per_cell`` units of work per cell (the caller's own cost per
    value, e.g. PSIS's).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mixeff.engine.options import PassOptions
    >>> from mixeff.model.adapters import from_arrays
    >>> d = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    >>> spec = from_arrays(fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"]]),
    ...                    beta=np.array([[1.0, 2.0], [0.0, 1.0]]), beta_names=["Intercept", "x"],
    ...                    family="gaussian", aux={"sigma": np.ones(2)}, data=d)
    >>> arms = ArmPass(spec, [d], PassOptions(chunk_rows=2))
    >>> [(r.start, m.tolist()) for r, m in stream_rows(arms, lambda v, rows: v.mean(axis=1))]
    [(0, [0.5, 2.0]), (2, [3.5])]
    """
    if len(arms.designs) != 1:
        raise ValueError(f"stream_rows streams one arm's values; this pass has {len(arms.designs)} arms")
    n, s = arms.n_rows, arms.spec.n_samples
    chunk_rows = max(1, int(arms.options.chunk_rows or default_chunk_rows(s)))
    chunks = [slice(start, min(n, start + chunk_rows)) for start in range(0, n, chunk_rows)]
    cells = float(n) * s
    jobs = 1 if arms.options.type == "prediction" or cells < PARALLEL_MIN_CELLS else resolve_jobs(arms.options.n_jobs)
    jobs = max(1, min(jobs, len(chunks)))
    local = threading.local()

    def evaluate(rows: slice) -> T:
        if not hasattr(local, "buffers"):
            local.buffers = _Buffers(min(n, chunk_rows), s)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the caller checks finiteness
            return reduce(ChunkDraws(arms, rows, local.buffers).value(0), rows)

    with row_progress(n, work=cells * work_per_cell, progress=arms.options.progress) as done:
        with single_threaded_blas():
            for rows, reduced in zip(chunks, ordered_map(evaluate, chunks, jobs)):
                yield rows, reduced
                done(rows.stop - rows.start)
