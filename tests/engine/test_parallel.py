"""engine.parallel: results in task order whatever the threads, the thread count, one BLAS thread."""

import os
import threading
import time

import pytest

import mixeff
from mixeff.engine import parallel
from mixeff.engine.parallel import available_cores, ordered_map, resolve_jobs, single_threaded_blas


def test_results_come_back_in_task_order_even_when_later_tasks_finish_first():
    def slow_first(i):
        time.sleep(0.02 * (5 - i))  # task 0 is the slowest
        return i * i, threading.current_thread().name

    out = list(ordered_map(slow_first, range(6), jobs=3))
    assert [v for v, _ in out] == [0, 1, 4, 9, 16, 25]
    assert all(name.startswith("mixeff") for _, name in out)  # the pool's threads
    here = threading.current_thread().name
    assert [name for _, name in ordered_map(slow_first, range(3), jobs=1)] == [here] * 3


def test_a_consumer_that_stops_cancels_the_tasks_not_started():
    started = []
    lock = threading.Lock()

    def task(i):
        with lock:
            started.append(i)
        time.sleep(0.01)
        return i

    gen = ordered_map(task, range(100), jobs=2)
    assert next(gen) == 0
    gen.close()
    # at most the window (2 per thread) plus the ones running were ever submitted
    assert len(started) <= parallel.WINDOW_PER_JOB * 2 + 2


def test_an_error_in_a_task_reaches_the_consumer():
    def task(i):
        if i == 3:
            raise RuntimeError("task 3")
        return i

    with pytest.raises(RuntimeError, match="task 3"):
        list(ordered_map(task, range(8), jobs=2))


def test_jobs_from_the_argument_the_package_option_or_the_cores():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert available_cores() == cores
    assert resolve_jobs(3) == 3 and resolve_jobs(-1) == cores
    before = mixeff.set_options(n_jobs=5)
    try:
        assert resolve_jobs(None) == 5 and resolve_jobs(2) == 2
    finally:
        mixeff.set_options(**before)
    assert resolve_jobs(None) == (cores if before["n_jobs"] is None else before["n_jobs"])


def test_blas_runs_on_one_thread_inside_and_is_restored_after():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS library seen by threadpoolctl")
    before = [p["num_threads"] for p in blas]
    with single_threaded_blas():
        assert all(p["num_threads"] == 1 for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas")
    after = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert after == before
