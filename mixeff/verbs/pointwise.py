"""PSIS-LOO and WAIC streamed by row chunk: the pointwise results, never the ``rows × draws`` log-likelihood.

The engine computes the log-likelihood (``type="log_lik"``, as :func:`mixeff.log_lik`) chunk by chunk on
worker threads (:func:`~mixeff.engine.pointwise.stream_rows`).  For ``loo`` each chunk goes, in row
order on the calling thread, through arviz-stats' own PSIS-LOO (the ``array_stats.loo`` that
:func:`arviz_stats.loo` calls, with the same relative efficiency ``r_eff``), and only the pointwise
``elpd_i``, ``pareto_k`` and ``p_loo_i`` are kept; for ``waic`` the threads reduce their chunk to its
pointwise ``elpd_waic_i`` and ``p_waic_i``.  PSIS and WAIC treat each observation on its own (its draws
across chains), so the chunking is exact: the pointwise values equal, bit for bit, those of
:func:`arviz_stats.loo` on the whole matrix, for any ``chunk_rows`` and ``n_jobs``.

arviz-stats' PSIS is a Python loop over observations that holds the GIL, so threads cannot share it:
above :data:`PSIS_PROCESS_MIN_CELLS` cells (and with more than one job) the chunks go, in row order, to a
pool of worker processes (joblib's loky: fresh interpreters, no copy of this process's threads), one per job, while the
threads compute the next chunks' log-likelihood.  The workers run the same function on the same
values, so the results are the same bits; their warnings are raised again here.
"""

from __future__ import annotations

import functools
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import numpy as np
from arviz_stats.base import array_stats

from ..engine.parallel import resolve_jobs
from ..engine.passes import ArmPass
from ..engine.pointwise import stream_rows
from ..model.spec import ModelSpec
from ..results import require_finite
from .call import Call, Fit
from .credentials import CHECKED_ROWS, check_convergence
from .fits import resolve_spec
from .inputs import open_call
from .loglik import check_response, log_lik_result
from .terms import VERBS

PSIS_PROCESS_MIN_CELLS = 50_000_000
"""From this many log-likelihood cells (rows × draws; about 25 s of PSIS for 1000 draws) ``loo`` runs PSIS
in worker processes, whose start (importing mixeff there) costs a few seconds."""
PSIS_WORK_PER_CELL = 30.0
"""arviz-stats' PSIS costs about this many log-likelihood cells per draw of an observation (its progress bar's
default threshold counts it)."""


@dataclass(frozen=True)
class Pointwise:
    """Per-row results of a streamed pass: ``values[name]`` is ``(rows,)``; the spec of its draws."""

    values: dict[str, np.ndarray]
    spec: ModelSpec


def loo_pointwise(
    fit: Fit,
    *,
    re_formula: str | None,
    r_eff: float,
    chunk_rows: int | None,
    progress: bool | None,
    n_jobs: int | None,
) -> Pointwise:
    """``elpd_i``, ``pareto_k``, ``p_loo_i`` of every row: arviz-stats' PSIS-LOO per chunk of the log-likelihood."""
    names = ("elpd_i", "pareto_k", "p_loo_i")

    in_order = functools.partial(psis_loo_rows, r_eff=r_eff)
    return _stream(fit, re_formula, chunk_rows, progress, n_jobs, names, None, in_order, PSIS_WORK_PER_CELL)


def waic_pointwise_stream(
    fit: Fit,
    *,
    re_formula: str | None,
    chunk_rows: int | None,
    progress: bool | None,
    n_jobs: int | None,
    reduce: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> Pointwise:
    """``elpd_i``, ``p_i`` of every row: ``reduce`` (WAIC's per-row formulas) on each chunk, on the threads."""
    return _stream(fit, re_formula, chunk_rows, progress, n_jobs, ("elpd_i", "p_i"), reduce, None, 1.0)


def psis_loo_rows(block: np.ndarray, r_eff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """arviz-stats' PSIS-LOO of each observation of a ``(rows, chains, draws)`` block: ``(elpd_i, pareto_k, p_loo_i)``.

    What :func:`arviz_stats.loo` computes on its log-likelihood: its ``DataArray.azstats.loo`` over the
    sample dimensions ``("chain", "draw")`` hands the array, those dimensions last, to
    ``arviz_stats.base.array_stats.loo(..., chain_axis=-2, draw_axis=-1)``, called here directly (the
    accessor would tie each chunk's block in a reference cycle until the garbage collector runs).  Each
    observation's draws are read in chain-major order, as from the whole matrix.

    Examples
    --------
    >>> import numpy as np
    >>> ll = np.random.default_rng(0).normal(-1.0, 0.1, (3, 2, 200))
    >>> elpd, k, p = psis_loo_rows(ll, 1.0)
    >>> elpd.shape, bool(np.all(k < 0.7)), bool(np.all(p > 0))
    ((3,), True, True)
    """
    elpd_i, pareto_k, p_loo_i = array_stats.loo(block, chain_axis=-2, draw_axis=-1, r_eff=r_eff)
    return np.asarray(elpd_i, dtype=float), np.asarray(pareto_k, dtype=float), np.asarray(p_loo_i, dtype=float)


def _stream(
    fit: Fit,
    re_formula: str | None,
    chunk_rows: int | None,
    progress: bool | None,
    n_jobs: int | None,
    names: tuple[str, ...],
    on_thread: Callable[[np.ndarray], tuple[np.ndarray, ...]] | None,
    in_order: Callable[[np.ndarray], tuple[np.ndarray, ...]] | None,
    work_per_cell: float,
) -> Pointwise:
    """The streamed pass: the checks of :func:`mixeff.log_lik`, then per-row results of every chunk.

    Per chunk ``on_thread`` (on the worker threads, of the ``(rows, S)`` block) or ``in_order`` (on this
    thread, of the ``(rows, chains, draws)`` block) gives the per-row results, written into ``(rows,)`` arrays.

    The log-likelihood is refused where it is not finite, as :func:`mixeff.log_lik` refuses it, and the
    same evenly spaced rows are kept for its convergence check.
    """
    draws = fit.source if isinstance(fit, ModelSpec) else "posterior"
    spec = resolve_spec(fit, draws)
    check_response(spec, spec.data, "the model's data")
    call = Call.of(
        "log_lik",
        {
            "fit": fit,
            "type": "log_lik",
            "re_formula": re_formula,
            "draws": draws,
            "chunk_rows": chunk_rows,
            "progress": progress,
            "n_jobs": n_jobs,
        },
    )
    VERBS["log_lik"].check(call)
    spec, options, frame = open_call(call)
    n, c, d = len(frame), spec.n_chains, spec.n_draws
    checked = np.unique(np.linspace(0, n - 1, min(n, CHECKED_ROWS)).astype(int))
    what, fix = VERBS["log_lik"].undefined(call, spec)

    def on_chunk(values: np.ndarray, rows: slice) -> tuple[np.ndarray, tuple[np.ndarray, ...] | np.ndarray]:
        bad = ~np.isfinite(values)
        if bad.any():
            first = rows.start + np.flatnonzero(bad.any(axis=1))
            raise ValueError(
                f"{what} is not finite in {int(bad.sum())} draws of rows {first[:5].tolist()}"
                f"{' ...' if len(first) > 5 else ''}; {fix}"
            )
        here = checked[(checked >= rows.start) & (checked < rows.stop)] - rows.start
        kept = values[here].copy()
        if on_thread is not None:
            return kept, on_thread(values)
        return kept, values.reshape(-1, c, d).copy()  # the values live in the thread's buffer

    out = {name: np.empty(n) for name in names}
    kept: list[np.ndarray] = []
    arms = ArmPass(spec, [frame], options)
    jobs = resolve_jobs(options.n_jobs)
    pool = None
    if in_order is not None and jobs > 1 and float(n) * spec.n_samples >= PSIS_PROCESS_MIN_CELLS:
        pool = _process_pool(jobs)
    pending: deque[tuple[slice, Future]] = deque()

    def store(rows: slice, results: tuple[np.ndarray, ...]) -> None:
        for name, values in zip(names, results):
            out[name][rows] = values

    def collect() -> None:
        rows, future = pending.popleft()
        results, caught = future.result()
        for category, message in caught:
            warnings.warn(message, category, stacklevel=4)
        store(rows, results)

    try:
        for rows, (check_rows, reduced) in stream_rows(arms, on_chunk, work_per_cell=work_per_cell):
            kept.append(check_rows)
            if pool is not None and in_order is not None:
                pending.append((rows, pool.submit(_recording_warnings, in_order, reduced)))
                while len(pending) > 2 * jobs:
                    collect()
            else:
                store(rows, in_order(reduced) if in_order is not None else reduced)
        while pending:
            collect()
    finally:
        for _, future in pending:
            future.cancel()
    _check_convergence(fit, call, spec, frame.iloc[checked], np.vstack(kept) if kept else np.empty((0, c * d)))
    return Pointwise(out, spec)


def _process_pool(jobs: int) -> Executor:
    """A pool of ``jobs`` worker processes, kept between calls: joblib's loky.

    loky starts fresh interpreters without running the caller's script again, unlike multiprocessing's
    spawn and forkserver (a script without a ``__main__`` guard would run in every worker), and without
    forking this process's threads.
    """
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=jobs)


def _recording_warnings(
    fn: Callable[[np.ndarray], tuple[np.ndarray, ...]], block: np.ndarray
) -> tuple[tuple[np.ndarray, ...], list[tuple[type[Warning], str]]]:
    """``fn(block)`` in a worker process, with the warnings it raised (category, message) for the caller."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = fn(block)
    return results, [(w.category, str(w.message)) for w in caught]


def _check_convergence(fit: Fit, call: Call, spec: ModelSpec, grid, draws: np.ndarray) -> None:
    """:func:`mixeff.log_lik`'s convergence check, on the rows it checks (kept while streaming)."""
    if len(grid) == 0:
        return
    values = require_finite(draws, "log_lik", "check the response")
    sample = log_lik_result(grid.reset_index(drop=True), values, spec, call)
    check_convergence(fit, sample)
