"""Averaged verbs on tables past one machine: a dask DataFrame, or parquet files, as ``newdata``.

The call is split by partition.  A *probe* (one row per distinct combination of
the grouping-factor and ``by`` columns) is run first, on this machine, to fix
what every partition must share: the new levels and their simulated effects
(one plan, so a new level has the same draws everywhere) and the ``by`` groups.
Each partition then runs the verb on its own rows as dask tasks, under that
plan, and hands back per-draw weighted sums per group; a tree reduction adds
them in a fixed order; and the verb is called once more on the probe with those
sums, so the result (labels, hypotheses, transforms, credentials) is built
exactly as in memory.  The model spec goes into the graph once.

Per-row verbs on dask input return a :class:`LazyDraws`: the rows' draws as a
dask array, computed (or written to zarr) partition by partition.
"""

from __future__ import annotations

import glob
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..engine.passes import Partial, SharedPlan
from .call import Call, by_names
from .credentials import check_convergence
from .fits import resolve_spec
from .inputs import choose_draws
from .pipeline import conclude, open_job

if TYPE_CHECKING:
    import dask.dataframe as dd

DASK_EXTRA = "pip install 'mixeff[dask]'"


def is_distributed(newdata) -> bool:
    """Whether ``newdata`` is a dask DataFrame or a path (or glob) of parquet files."""
    if isinstance(newdata, os.PathLike) or (isinstance(newdata, str) and _parquet_path(newdata)):
        return True
    return type(newdata).__module__.split(".")[0] == "dask" and hasattr(newdata, "to_delayed")


def _parquet_path(text: str) -> bool:
    """A string that names files rather than a newdata shortcut: a folder, a glob or a file suffix."""
    return "/" in text or os.sep in text or glob.has_magic(text) or bool(os.path.splitext(text)[1])


def as_dask_frame(newdata):
    """A dask DataFrame of ``newdata`` (parquet paths are read lazily)."""
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ImportError(f"newdata={newdata!r} needs dask: {DASK_EXTRA}") from None
    if isinstance(newdata, (str, os.PathLike)):
        return dd.read_parquet(_parquet_source(os.fspath(newdata)))
    return newdata


_EXPECTED = "newdata must be a pandas DataFrame, a dask DataFrame, or a parquet file, directory or glob"


def _parquet_source(path: str) -> str:
    """``path`` checked before dask reads it: parquet, and something there."""
    suffix = os.path.splitext(path.rstrip("/"))[1].lower()
    if suffix in (".csv", ".tsv", ".txt", ".json", ".feather", ".xlsx", ".xls", ".pkl", ".pickle"):
        raise ValueError(
            f"newdata={path!r} is a {suffix} file; {_EXPECTED}. Read it first (e.g. pandas.read_csv) and pass "
            "the DataFrame, or write it as parquet for tables past one machine"
        )
    if glob.has_magic(path):
        if not glob.glob(path):
            raise ValueError(f"newdata={path!r} matches no file; {_EXPECTED} (check the pattern and the folder)")
    elif not os.path.exists(path):
        raise ValueError(f"newdata={path!r}: no such file or directory; {_EXPECTED}")
    return path


def execute_distributed(call: Call):
    """``call`` with its newdata on dask.

    Averaged (a :class:`~mixeff.results.Result`), or lazily per row (a :class:`LazyDraws`).
    """
    frame = as_dask_frame(call.newdata)
    if call.by is None:
        return LazyDraws.of(call, frame)
    if isinstance(call.by, pd.DataFrame):
        raise ValueError(
            "by= a DataFrame is not available with dask newdata: add its grouping as a column "
            "(ddf.assign(...) or ddf.merge(by_table)) and pass the column's name"
        )
    if call.type == "prediction":
        raise ValueError(
            "type='prediction' with dask newdata: predictive draws need one random stream over all "
            "rows; use type='response' (expected values) or a pandas newdata"
        )
    if call.wts is not None and not isinstance(call.wts, str):
        raise ValueError(
            "wts with dask newdata must be the name of a column of newdata (an array cannot be "
            "split with the table); add the weights as a column"
        )
    if callable(call.comparison):
        raise ValueError(
            "comparison= a function with dask newdata: a function of the rows' draws needs every row in one "
            "place; use a named comparison ('difference', 'ratio', ...) or a pandas newdata"
        )
    call = _with_seed(call)
    pieces = call.with_(newdata=None, transform=None, hypothesis=None, equivalence=None, progress=False, n_jobs=1)
    spec = resolve_spec(call.fit, call.draws)
    probe = probe_frame(spec, frame, call.by, call.wts)
    shared = open_job(pieces.with_(newdata=probe)).shared()  # the plan and groups of the whole table
    sums = _reduce_pieces(pieces, frame, shared)
    final = open_job(call.with_(newdata=probe), shared)
    return conclude(final, final.from_partial(sums))


def _with_seed(call: Call) -> Call:
    """``call`` with a seed drawn here when ``ndraws`` picks draws at random without one.

    Every piece must use the same draws.  (Fits travel to workers whole: a Bambi model pickles by its
    recipe.)
    """
    if call.ndraws is not None and call.seed is None:
        return call.with_(seed=int(np.random.default_rng().integers(2**31)))
    return call


def probe_frame(spec, frame, by, wts) -> pd.DataFrame:
    """One row per distinct combination of the grouping-factor and ``by`` columns of the whole table.

    Other columns are as in its first row, weights 1.
    """
    import dask

    by_cols = by_names(by) or []
    group_cols = [c for g in spec.all_groups() for c in g.columns]
    cols = list(dict.fromkeys(c for c in [*group_cols, *by_cols] if c in frame.columns))
    first = frame.head(1, npartitions=-1, compute=False)
    # a tree of per-partition drop_duplicates (split_out=1), not a shuffle: the distinct rows are few
    distinct = frame[cols].drop_duplicates(split_out=1) if cols else None
    first, distinct = dask.compute(first, distinct)
    if len(first) == 0:
        raise ValueError("newdata has no rows")
    if not cols:
        probe = first.reset_index(drop=True)
    else:
        distinct = distinct.reset_index(drop=True)
        rest = first.drop(columns=cols).reset_index(drop=True)
        probe = pd.concat([rest.iloc[[0] * len(distinct)].reset_index(drop=True), distinct], axis=1)
        probe = probe[[c for c in first.columns]]
    if isinstance(wts, str) and wts in probe.columns:
        probe[wts] = 1.0
    return probe


def _reduce_pieces(call: Call, frame, shared: SharedPlan) -> Partial:
    import dask

    call_node = dask.delayed(call, pure=True, traverse=False)
    plan_node = dask.delayed(shared, pure=True, traverse=False)
    nodes = [dask.delayed(_piece)(call_node, part, plan_node) for part in frame.to_delayed()]
    while len(nodes) > 1:  # a fixed pairwise tree: the same order of additions on any scheduler
        nodes = [
            dask.delayed(_add)(*nodes[i : i + 2]) if i + 1 < len(nodes) else nodes[i] for i in range(0, len(nodes), 2)
        ]
    result = nodes[0].compute()
    if result is None:
        raise ValueError("newdata has no rows")
    return result


def _piece(call: Call, part: pd.DataFrame, shared: SharedPlan) -> Partial | None:
    """One partition's sums (None for an empty partition)."""
    if len(part) == 0:
        return None
    return open_job(call.with_(newdata=part.reset_index(drop=True)), shared).partial()


def _add(a: Partial | None, b: Partial | None) -> Partial | None:
    if a is None or b is None:
        return a if b is None else b
    return a + b


class LazyDraws:
    """A per-row verb on dask newdata: nothing is computed until asked, and then partition by partition.

    ``draws`` is a dask array ``(rows, S)`` (rows in partition order, each partition's rows in the
    verb's order, e.g. term by term); ``summary`` a dask DataFrame of the rows' columns and
    summaries; ``to_zarr(path)`` writes the draws chunk by chunk; ``compute()`` gives the
    :class:`~mixeff.results.Result` of all rows in memory (for tables that fit).  New levels have
    the same simulated draws in every partition.  ``draws`` and ``summary`` each compute the
    partitions anew; ``compute()`` once, for both.
    """

    def __init__(self, pieces: list, sizes: list[int], n_samples: int, meta: pd.DataFrame, call: Call):
        self._pieces, self._sizes, self._n_samples, self._meta = pieces, sizes, n_samples, meta
        self._call = call

    @classmethod
    def of(cls, call: Call, frame: dd.DataFrame) -> LazyDraws:
        """The per-row ``call`` on the dask DataFrame ``frame``, not yet computed."""
        import dask

        if call.hypothesis is not None or call.equivalence is not None:
            raise ValueError(
                "hypothesis=/equivalence= on per-row draws of dask newdata: compare rows after "
                ".compute(), or average with by= (the avg_* verbs)"
            )
        call = _with_seed(call)
        spec = choose_draws(resolve_spec(call.fit, call.draws), call.ndraws, call.draw_ids, call.seed)
        pieces = call.with_(newdata=None, progress=False, n_jobs=1)
        probe = probe_frame(spec, frame, None, None)
        probe_job = open_job(pieces.with_(newdata=probe))
        probe_result = conclude(probe_job, probe_job.values(), check=False)
        rows_per_row = len(probe_result.draws) // len(probe)
        lengths = frame.map_partitions(len).compute().tolist()
        call_node = dask.delayed(pieces, pure=True, traverse=False)
        plan_node = dask.delayed(probe_job.shared(), pure=True, traverse=False)
        parts = [dask.delayed(_rows)(call_node, part, plan_node) for part in frame.to_delayed()]
        return cls(parts, [n * rows_per_row for n in lengths], spec.n_samples, probe_result.summary.iloc[:0], call)

    @property
    def draws(self):
        """The ``(rows, S)`` draws as a dask array (computes the partitions anew)."""
        import dask
        import dask.array as da

        blocks = [
            da.from_delayed(dask.delayed(_draws_of)(p), shape=(n, self._n_samples), dtype=float)
            for p, n in zip(self._pieces, self._sizes)
            if n
        ]
        return da.concatenate(blocks, axis=0)

    @property
    def summary(self):
        """The rows' columns and summaries as a dask DataFrame (computes the partitions anew)."""
        import dask
        import dask.dataframe as dd

        return dd.from_delayed(
            [dask.delayed(_summary_of)(p) for p, n in zip(self._pieces, self._sizes) if n], meta=self._meta
        )

    def to_zarr(self, path: str | os.PathLike[str] | Any, **kwargs: Any) -> Any:
        """Write the draws to a zarr store at ``path``, one block per partition (see ``dask.array.to_zarr``)."""
        if isinstance(path, (str, os.PathLike)) and os.path.exists(path) and not kwargs.get("overwrite"):
            raise FileExistsError(
                f"to_zarr: {os.fspath(path)!r} already exists; pass overwrite=True to replace it, "
                "or choose another path"
            )
        draws = self.draws
        rows = max(n for n in self._sizes if n)
        return draws.rechunk({0: rows, 1: self._n_samples}).to_zarr(path, **kwargs)  # zarr needs regular chunks

    def compute(self):
        """The :class:`~mixeff.results.Result` of every row, in memory."""
        import dask

        from ..results import Result

        results = [r for r, n in zip(dask.compute(*self._pieces), self._sizes) if n]
        first = results[0]
        result = Result(
            pd.concat([r.grid for r in results], ignore_index=True),
            np.vstack([r.draws for r in results]),
            first.n_chains,
            first.n_draws,
            kind=first.kind,
            type=first.type,
            source=first.source,
            new_levels=first.new_levels,
            selection=first.selection,
            response=first.response,
            call=first.call if first.call is None else self._call,
            **first.options,
        )
        check_convergence(self._call.fit, result)
        return result

    def __repr__(self) -> str:
        return (
            f"LazyDraws: {sum(self._sizes):,} rows x {self._n_samples} draws in {len(self._pieces)} "
            "partitions (not computed: .draws, .summary, .to_zarr(path), .compute())"
        )


def _rows(call: Call, part: pd.DataFrame, shared: SharedPlan):
    """One partition's per-row result (its convergence is checked once, on the whole table)."""
    if len(part) == 0:
        return None
    job = open_job(call.with_(newdata=part.reset_index(drop=True)), shared)
    return conclude(job, job.values(), check=False)


def _draws_of(result) -> np.ndarray:
    return result.draws


def _summary_of(result) -> pd.DataFrame:
    return result.summary
