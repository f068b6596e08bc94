"""Tasks of row chunks on a thread pool: numpy releases the GIL in its kernels, so threads use every core.

Results must not depend on the number of threads: :func:`ordered_map` hands the
tasks' results back in task order, and the engine folds them in that order, so
every sum is added up in the same sequence whatever ``n_jobs`` is.  BLAS runs on
one thread inside a pass (:func:`single_threaded_blas`): the pass's own threads
are the parallelism, and a BLAS pool per thread would oversubscribe the cores.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

WINDOW_PER_JOB = 2
"""Chunks in flight per thread: enough to keep every thread busy, few enough to bound the results held."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which respects container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_jobs(n_jobs: int | None) -> int:
    """Threads for one pass.

    ``n_jobs``, else the package option (:func:`mixeff.set_options`), else all cores; ``-1`` also means
    all cores.

    Examples
    --------
    >>> resolve_jobs(1)
    1
    >>> resolve_jobs(-1) == resolve_jobs(None) == available_cores()
    True
    """
    from ..config import get_options

    if n_jobs is None:
        n_jobs = get_options()["n_jobs"]
    if n_jobs is None or n_jobs == -1:
        return available_cores()
    return int(n_jobs)


def ordered_map(fn: Callable, items: Iterable, jobs: int) -> Iterator:
    """``fn(item)`` for every item, in order, computed on ``jobs`` threads (in this thread when 1).

    At most ``WINDOW_PER_JOB × jobs`` results wait to be consumed.  If the consumer stops (an
    error, a closed generator), chunks not yet started are cancelled and running ones finish.

    Examples
    --------
    >>> list(ordered_map(lambda x: x * x, range(6), jobs=3))
    [0, 1, 4, 9, 16, 25]
    """
    if jobs <= 1:
        for item in items:
            yield fn(item)
        return
    pool = ThreadPoolExecutor(jobs, thread_name_prefix="mixeff")
    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= WINDOW_PER_JOB * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_blas_lock = threading.Lock()
_blas_controller = None


@contextmanager
def single_threaded_blas():
    """BLAS limited to one thread for the duration (threadpoolctl), restored afterwards."""
    global _blas_controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # threadpoolctl comes with PyMC; without it, leave BLAS as it is
        yield
        return
    with _blas_lock:
        if _blas_controller is None:
            _blas_controller = ThreadpoolController()
    with _blas_controller.limit(limits=1, user_api="blas"):
        yield
