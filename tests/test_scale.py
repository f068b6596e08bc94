"""Scale-out: the same numbers on any number of threads, and from dask partitions on worker processes."""

from __future__ import annotations

import os
import signal

import numpy as np
import pandas as pd
import pytest

import mixeff
from mixeff.engine import passes
from mixeff.engine.parallel import available_cores, resolve_jobs

CALLS = {
    "avg_predictions by/wts": lambda spec, d, **kw: mixeff.avg_predictions(spec, d, by="z", wts="w", **kw),
    "avg_comparisons by/wts": lambda spec, d, **kw: mixeff.avg_comparisons(spec, "x", newdata=d, by="z", wts="w", **kw),
    "avg_comparisons ratio": lambda spec, d, **kw: mixeff.avg_comparisons(
        spec, "z", newdata=d, comparison="ratio", **kw
    ),
    "avg_slopes by/wts": lambda spec, d, **kw: mixeff.avg_slopes(spec, "x", newdata=d, by="z", wts="w", **kw),
    "predictions per row": lambda spec, d, **kw: mixeff.predictions(spec, d, **kw),
    "slopes per row": lambda spec, d, **kw: mixeff.slopes(spec, "x", newdata=d, **kw),
}
NEW_LEVELS = dict(allow_new_levels=True, sample_new_levels="gaussian", seed=3)


@pytest.fixture(scope="module")
def table(xzg_spec):
    """The model's rows plus rows at two new clusters, with uneven weights."""
    d = xzg_spec.data.drop(columns="y")
    extra = d.iloc[:40].assign(g=np.where(np.arange(40) % 2, "new_a", "new_b"))
    out = pd.concat([d, extra], ignore_index=True)
    return out.assign(w=np.random.default_rng(2).uniform(0.2, 3.0, len(out)))


@pytest.fixture
def threads_used(monkeypatch):
    """Threads even for these small tables, in tasks of 32 rows (16 default chunks of 2 rows at 300
    draws), and the number of threads each pass ran on."""
    used = []
    ordered_map = passes.ordered_map

    def recording(fn, items, jobs):
        used.append(jobs)
        return ordered_map(fn, items, jobs)

    monkeypatch.setattr(passes, "PARALLEL_MIN_CELLS", 0)
    monkeypatch.setattr(passes, "CHUNK_CELLS", 600)
    monkeypatch.setattr(passes, "ordered_map", recording)
    return used


@pytest.mark.slow  # every verb at 5 chunkings x 3 thread counts
@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_threads_give_the_same_bits(xzg_spec, table, call, threads_used):
    """n_jobs 1, 2 and 4 and every chunking give identical draws: a task (a fixed number of rows) adds
    its rows in row order, and tasks are added in task order, whatever the threads and chunks."""
    fn = CALLS[call]
    reference = fn(xzg_spec, table, n_jobs=1, **NEW_LEVELS).draws
    for chunk_rows in (1, 3, 11, 1000, None):
        for j in (1, 2, 4):
            np.testing.assert_array_equal(
                fn(xzg_spec, table, n_jobs=j, chunk_rows=chunk_rows, **NEW_LEVELS).draws, reference
            )
    assert set(threads_used) == {1, 2, 4}  # 220 rows: 7 tasks of up to 32


def test_the_package_option_sets_the_threads(xzg_spec, table, threads_used):
    before = mixeff.set_options(n_jobs=3)
    try:
        assert resolve_jobs(None) == 3
        one = mixeff.avg_predictions(xzg_spec, table, by="z", chunk_rows=2, **NEW_LEVELS).draws
    finally:
        mixeff.set_options(**before)
    assert threads_used[0] == 3
    assert resolve_jobs(None) == resolve_jobs(-1) == available_cores()
    np.testing.assert_array_equal(
        one, mixeff.avg_predictions(xzg_spec, table, by="z", chunk_rows=2, n_jobs=1, **NEW_LEVELS).draws
    )


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_n_jobs_is_refused(xzg_spec, bad):
    with pytest.raises(ValueError, match=rf"n_jobs={bad!r} must be a positive whole number"):
        mixeff.avg_predictions(xzg_spec, n_jobs=bad)
    with pytest.raises(ValueError, match=r"n_jobs="):
        mixeff.set_options(n_jobs=bad)


def test_predictive_draws_do_not_depend_on_threads(xzg_spec, table, threads_used):
    """type='prediction' takes one random stream in row order: the same draws for any n_jobs."""
    kw = dict(type="prediction", seed=5, chunk_rows=4, **{k: v for k, v in NEW_LEVELS.items() if k != "seed"})
    np.testing.assert_array_equal(
        mixeff.predictions(xzg_spec, table, n_jobs=1, **kw).draws,
        mixeff.predictions(xzg_spec, table, n_jobs=2, **kw).draws,
    )


# --------------------------------------------------------------------------- compiled kernels
# (the kernels alone, against numpy bit for bit: tests/engine/test_kernels.py)


def _numpy_only(fn):
    before = mixeff.set_options(compiled=False)
    try:
        return fn()
    finally:
        mixeff.set_options(**before)


@pytest.mark.parametrize("call", list(CALLS))
def test_compiled_and_numpy_verbs_give_the_same_bits(xzg_spec, table, call, compiled_calls):
    run = lambda: CALLS[call](xzg_spec, table, chunk_rows=7, **NEW_LEVELS).draws  # noqa: E731
    compiled = run()
    ran = sum(compiled_calls.values())
    assert compiled_calls["add_intercepts"] > 0  # (1 | g): the compiled pass added the random effects
    plain = _numpy_only(run)
    assert sum(compiled_calls.values()) == ran  # and compiled=False ran none
    np.testing.assert_array_equal(compiled, plain)


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_bad_compiled_option_is_refused(bad):
    with pytest.raises(ValueError, match=rf"compiled={bad!r} must be True"):
        mixeff.set_options(compiled=bad)


# --------------------------------------------------------------------------- dask

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster of processes: everything a task needs travels by (cloud)pickle."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


DASK_CALLS = {k: v for k, v in CALLS.items() if k.startswith("avg_")}


@pytest.mark.slow  # a LocalCluster of worker processes
@pytest.mark.parametrize("levels", ["gaussian", "integrate"])
@pytest.mark.parametrize("call", list(DASK_CALLS), ids=list(DASK_CALLS))
def test_dask_partitions_equal_the_table_in_memory(client, xzg_spec, table, call, levels):
    """Partitions on two worker processes (new levels included: one plan, the same simulated levels in every
    partition) give the in-memory result to 1e-12."""
    fn = DASK_CALLS[call]
    kw = dict(NEW_LEVELS, sample_new_levels=levels)
    want = fn(xzg_spec, table, **kw)
    got = fn(xzg_spec, dd.from_pandas(table.sample(frac=1.0, random_state=1), npartitions=5), **kw)
    pd.testing.assert_frame_equal(got.grid, want.grid, check_dtype=False)  # dask reads strings as pyarrow strings
    np.testing.assert_allclose(got.draws, want.draws, rtol=1e-12, atol=1e-15)
    assert got.new_levels == want.new_levels


@pytest.mark.slow  # a LocalCluster of worker processes
def test_dask_hypothesis_and_transform_apply_to_the_whole_table(client, xzg_spec, table):
    kw = dict(by="z", hypothesis="b2 - b1 = 0", **NEW_LEVELS)
    want = mixeff.avg_comparisons(xzg_spec, "x", newdata=table, **kw)
    got = mixeff.avg_comparisons(xzg_spec, "x", newdata=dd.from_pandas(table, npartitions=4), **kw)
    np.testing.assert_allclose(got.draws, want.draws, rtol=1e-12, atol=1e-15)
    assert got.summary["hypothesis"].tolist() == want.summary["hypothesis"].tolist()


@pytest.mark.slow  # a LocalCluster of worker processes
def test_parquet_files_and_lazy_rows(client, xzg_spec, table, tmp_path):
    """A glob of parquet files averages as the table does; per-row draws stay lazy until asked, and write
    to zarr partition by partition."""
    for i, rows in enumerate(np.array_split(np.arange(len(table)), 3)):
        table.iloc[rows].to_parquet(tmp_path / f"part{i}.parquet")
    pattern = str(tmp_path / "*.parquet")
    want = mixeff.avg_predictions(xzg_spec, table, by="z", wts="w", **NEW_LEVELS)
    np.testing.assert_allclose(
        mixeff.avg_predictions(xzg_spec, pattern, by="z", wts="w", **NEW_LEVELS).draws, want.draws, rtol=1e-12
    )
    lazy = mixeff.slopes(xzg_spec, "x", newdata=pattern, **NEW_LEVELS)
    assert "not computed" in repr(lazy)
    rows = mixeff.slopes(xzg_spec, "x", newdata=table, **NEW_LEVELS)
    np.testing.assert_array_equal(lazy.draws.compute(), rows.draws)
    pd.testing.assert_frame_equal(lazy.summary.compute().reset_index(drop=True), rows.summary, check_dtype=False)
    zarr = pytest.importorskip("zarr")
    lazy.to_zarr(str(tmp_path / "draws.zarr"))
    np.testing.assert_array_equal(zarr.open(str(tmp_path / "draws.zarr"))[:], rows.draws)
    np.testing.assert_array_equal(lazy.compute().draws, rows.draws)


@pytest.mark.slow  # a LocalCluster of worker processes
def test_a_worker_killed_mid_call_gives_the_in_process_draws(xzg_spec):
    """Fault tolerance: one of two worker processes dies while an averaged call runs; the scheduler reruns
    its tasks elsewhere, and the draws equal the in-process ones (the pieces are pure functions of the
    call, their partition and the shared plan)."""
    import threading
    import time

    big = pd.concat([xzg_spec.data] * 60, ignore_index=True).assign(w=np.linspace(0.5, 2, 180 * 60))
    kw = dict(by="z", wts="w", **NEW_LEVELS)
    want = mixeff.avg_comparisons(xzg_spec, "x", newdata=big, **kw)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        with distributed.Client(cluster) as c:
            c.wait_for_workers(2)
            pid = sorted(c.run(os.getpid).items())[0][1]  # one worker process
            killed = threading.Event()

            def kill_soon():
                while not any(c.processing().values()):  # once tasks are running on the workers
                    time.sleep(0.01)
                os.kill(pid, signal.SIGKILL)
                killed.set()

            threading.Thread(target=kill_soon, daemon=True).start()
            got = mixeff.avg_comparisons(xzg_spec, "x", newdata=dd.from_pandas(big, npartitions=24), **kw)
            assert killed.wait(30), "the worker was not killed during the call"
    finally:
        cluster.close()
    np.testing.assert_allclose(got.draws, want.draws, rtol=1e-12, atol=1e-15)


def test_every_adapter_runs_on_workers(client, bernoulli_fit, logistic_data, xzg_spec):
    """Specs from fit(), from_bambi and from_brms_draws pickle to worker processes and give the in-memory
    numbers there."""
    import bambi as bmb
    import xarray as xr

    model = bmb.Model("y ~ x + (1 | g)", logistic_data, family="bernoulli")
    model.build()
    prior = model.prior_predictive(draws=200, random_seed=1)["prior"]
    keep = [v for v in prior.data_vars if "__obs__" not in prior[v].dims]
    idata = xr.DataTree.from_dict({"posterior": prior.to_dataset()[keep]})
    from_bambi = mixeff.from_bambi(model, idata)
    for fit, frame in [(bernoulli_fit, logistic_data), (from_bambi, logistic_data), (xzg_spec, xzg_spec.data)]:
        want = mixeff.avg_comparisons(fit, "x", newdata=frame)
        got = mixeff.avg_comparisons(fit, "x", newdata=dd.from_pandas(frame, npartitions=3))
        np.testing.assert_allclose(got.draws, want.draws, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(by=pd.DataFrame({"z": ["a", "b", "c"], "by": ["ab", "ab", "c"]})), r"by= a DataFrame is not available"),
        (dict(by=True, type="prediction"), r"type='prediction' with dask newdata"),
        (dict(by=True, wts=np.ones(220)), r"wts with dask newdata must be the name of a column"),
        (dict(hypothesis="b1 = b2"), r"hypothesis=/equivalence= on per-row draws of dask newdata"),
    ],
)
def test_dask_refusals_say_what_to_do(xzg_spec, table, kwargs, message):
    with pytest.raises(ValueError, match=message):
        mixeff.predictions(xzg_spec, dd.from_pandas(table, npartitions=2), **kwargs, **NEW_LEVELS)


def test_newdata_paths_say_what_was_expected_and_what_was_found(xzg_spec, tmp_path):
    pytest.importorskip("dask.dataframe")
    csv = tmp_path / "rows.csv"
    xzg_spec.data.to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"rows.csv' is a .csv file; newdata must be a pandas DataFrame.*parquet"):
        mixeff.avg_predictions(xzg_spec, str(csv))
    with pytest.raises(ValueError, match=r"matches no file; newdata must be"):
        mixeff.avg_predictions(xzg_spec, str(tmp_path / "*.parquet"))
    with pytest.raises(ValueError, match=r"no such file or directory"):
        mixeff.avg_predictions(xzg_spec, str(tmp_path / "missing.parquet"))
    with pytest.raises(ValueError, match=r"newdata='avg' is not one of the shortcuts"):
        mixeff.avg_predictions(xzg_spec, "avg")


def test_lazy_draws_to_zarr_on_an_existing_path_offers_the_fix(xzg_spec, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    pytest.importorskip("zarr")
    lazy = mixeff.predictions(xzg_spec, dd.from_pandas(xzg_spec.data, npartitions=2), re_formula="NA")
    store = tmp_path / "draws.zarr"
    lazy.to_zarr(str(store))
    with pytest.raises(FileExistsError, match=r"already exists; pass overwrite=True"):
        lazy.to_zarr(str(store))
    lazy.to_zarr(str(store), overwrite=True)


def test_per_row_dask_results_warn_about_convergence_once(xzg_spec):
    dd = pytest.importorskip("dask.dataframe")
    from mixeff.model.adapters.brms import _rebuild_brms

    arguments = dict(xzg_spec._rebuild[1][0])
    draws = arguments["draws"].copy()
    draws[".chain"] = np.repeat([1, 2], len(draws) // 2)
    draws.loc[draws[".chain"] == 2, "b_Intercept"] += 1.0  # chains that disagree: R-hat far above 1.01
    spec = _rebuild_brms({**arguments, "draws": draws})
    lazy = mixeff.predictions(spec, dd.from_pandas(spec.data, npartitions=4))
    with pytest.warns(mixeff.ConvergenceWarning) as caught:
        lazy.compute()
    assert sum(issubclass(w.category, mixeff.ConvergenceWarning) for w in caught) == 1
