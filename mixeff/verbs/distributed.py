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

import os

import numpy as np
import pandas as pd

from ..engine.delegation import Delegation, delegating
from .fits import resolve_spec
from .inputs import choose_draws

DASK_EXTRA = "pip install 'mixeff[dask]'"


def is_distributed(newdata) -> bool:
    """Whether ``newdata`` is a dask DataFrame or a path (or glob) of parquet files."""
    if isinstance(newdata, os.PathLike) or (isinstance(newdata, str) and _parquet_path(newdata)):
        return True
    return type(newdata).__module__.split(".")[0] == "dask" and hasattr(newdata, "to_delayed")


def _parquet_path(text: str) -> bool:
    return text.endswith((".parquet", ".pq")) or "/" in text or os.sep in text or "*" in text


def as_dask_frame(newdata):
    """A dask DataFrame of ``newdata`` (parquet paths are read lazily)."""
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ImportError(f"newdata={newdata!r} needs dask: {DASK_EXTRA}") from None
    if isinstance(newdata, (str, os.PathLike)):
        return dd.read_parquet(newdata)
    return newdata


def split_call(verb, args: dict):
    """``verb(**args)`` with ``args["newdata"]`` on dask: averaged, or lazily per row."""
    frame = as_dask_frame(args["newdata"])
    if args.get("by") is None:
        return LazyDraws.of(verb, args, frame)
    by = args["by"]
    if isinstance(by, pd.DataFrame):
        raise ValueError(
            "by= a DataFrame is not available with dask newdata: add its grouping as a column "
            "(ddf.assign(...) or ddf.merge(by_table)) and pass the column's name"
        )
    if args.get("type") == "prediction":
        raise ValueError(
            "type='prediction' with dask newdata: predictive draws need one random stream over all "
            "rows; use type='response' (expected values) or a pandas newdata"
        )
    wts = args.get("wts")
    if wts is not None and not isinstance(wts, str):
        raise ValueError(
            "wts with dask newdata must be the name of a column of newdata (an array cannot be "
            "split with the table); add the weights as a column"
        )
    args = _with_seed(args)
    spec = resolve_spec(args["fit"], args.get("draws", "posterior"))
    piece_args = {
        **args,
        "newdata": None,
        "transform": None,
        "hypothesis": None,
        "equivalence": None,
        "progress": False,
        "n_jobs": 1,
    }
    probe = probe_frame(spec, frame, by, wts)
    shared = Delegation(collect=True)
    _quiet(verb, piece_args, probe, shared)
    plans, keys = shared.captured, shared.captured_keys
    combined, quadrature = _reduce_pieces(verb, piece_args, frame, plans, keys)
    with delegating(Delegation(plans=plans, keys=keys, combined=combined, quadrature=quadrature)):
        return verb(**{**args, "newdata": probe})


def _with_seed(args: dict) -> dict:
    """``args`` with a seed drawn here when ``ndraws`` picks draws at random without one: every piece must
    use the same draws.  (Fits travel to workers whole: a Bambi model pickles by its recipe.)
    """
    if args.get("ndraws") is not None and args.get("seed") is None:
        return {**args, "seed": int(np.random.default_rng().integers(2**31))}
    return args


def probe_frame(spec, frame, by, wts) -> pd.DataFrame:
    """One row per distinct combination of the grouping-factor and ``by`` columns of the whole table;
    other columns as in its first row, weights 1.
    """
    import dask

    by_cols = [] if by is True or by is None else ([by] if isinstance(by, str) else list(by))
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


def _reduce_pieces(verb, piece_args, frame, plans, keys):
    import dask

    args_node = dask.delayed(piece_args, pure=True, traverse=False)
    plan_node = dask.delayed(plans, pure=True, traverse=False)
    keys_node = dask.delayed(keys, pure=True, traverse=False)
    nodes = [dask.delayed(_piece)(verb, args_node, part, plan_node, keys_node) for part in frame.to_delayed()]
    while len(nodes) > 1:  # a fixed pairwise tree: the same order of additions on any scheduler
        nodes = [
            dask.delayed(_add)(*nodes[i : i + 2]) if i + 1 < len(nodes) else nodes[i] for i in range(0, len(nodes), 2)
        ]
    result = nodes[0].compute()
    if result is None:
        raise ValueError("newdata has no rows")
    return result


def _piece(verb, args: dict, part: pd.DataFrame, plans, keys):
    """One partition's ``(sums, quadrature)`` (None for an empty partition)."""
    if len(part) == 0:
        return None
    shared = Delegation(plans=plans, keys=keys, collect=True)
    _quiet(verb, args, part.reset_index(drop=True), shared)
    return shared.sums, shared.quadrature


def _quiet(verb, args: dict, frame: pd.DataFrame, shared: Delegation):
    """The verb on one piece under ``shared``, its warnings silenced: a piece that hands back sums
    returns zeros in place of its result, and only the final call, on the combined sums, has values
    to check and warn about.
    """
    import warnings

    with warnings.catch_warnings(), delegating(shared):
        warnings.simplefilter("ignore")
        return verb(**{**args, "newdata": frame})


def _add(a, b):
    if a is None or b is None:
        return a if b is None else b
    sums = []
    for (g1, t1, l1, lt1), (g2, t2, l2, lt2) in zip(a[0], b[0]):
        levels = None if l1 is None or l2 is None else (l1 + l2, lt1 + lt2)
        sums.append((g1 + g2, t1 + t2, *(levels or (None, None))))
    quadrature = max((q for q in (a[1], b[1]) if q is not None), default=None, key=lambda q: (q.nodes, q.error_bound))
    return sums, quadrature


class LazyDraws:
    """A per-row verb on dask newdata: nothing is computed until asked, and then partition by partition.

    ``draws`` is a dask array ``(rows, S)`` (rows in partition order, each partition's rows in the
    verb's order, e.g. term by term); ``summary`` a dask DataFrame of the rows' columns and
    summaries; ``to_zarr(path)`` writes the draws chunk by chunk; ``compute()`` gives the
    :class:`~mixeff.results.Result` of all rows in memory (for tables that fit).  New levels have
    the same simulated draws in every partition.  ``draws`` and ``summary`` each compute the
    partitions anew; ``compute()`` once, for both.
    """

    def __init__(self, pieces: list, sizes: list[int], n_samples: int, meta: pd.DataFrame):
        self._pieces, self._sizes, self._n_samples, self._meta = pieces, sizes, n_samples, meta

    @classmethod
    def of(cls, verb, args: dict, frame) -> LazyDraws:
        import dask

        if args.get("hypothesis") is not None or args.get("equivalence") is not None:
            raise ValueError(
                "hypothesis=/equivalence= on per-row draws of dask newdata: compare rows after "
                ".compute(), or average with by= (the avg_* verbs)"
            )
        args = _with_seed(args)
        spec = choose_draws(
            resolve_spec(args["fit"], args.get("draws", "posterior")),
            args.get("ndraws"),
            args.get("draw_ids"),
            args.get("seed"),
        )
        piece_args = {**args, "newdata": None, "progress": False, "n_jobs": 1}
        probe = probe_frame(spec, frame, None, None)
        shared = Delegation()
        probe_result = _quiet(verb, piece_args, probe, shared)
        rows_per_row = len(probe_result.draws) // len(probe)
        lengths = frame.map_partitions(len).compute().tolist()
        args_node = dask.delayed(piece_args, pure=True, traverse=False)
        plan_node = dask.delayed(shared.captured, pure=True, traverse=False)
        pieces = [dask.delayed(_rows)(verb, args_node, part, plan_node) for part in frame.to_delayed()]
        return cls(pieces, [n * rows_per_row for n in lengths], spec.n_samples, probe_result.summary.iloc[:0])

    @property
    def draws(self):
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
        import dask
        import dask.dataframe as dd

        return dd.from_delayed(
            [dask.delayed(_summary_of)(p) for p, n in zip(self._pieces, self._sizes) if n], meta=self._meta
        )

    def to_zarr(self, path, **kwargs):
        """Write the draws to a zarr store at ``path``, one block per partition (see ``dask.array.to_zarr``)."""
        return self.draws.to_zarr(path, **kwargs)

    def compute(self):
        """The :class:`~mixeff.results.Result` of every row, in memory."""
        import dask

        from ..results import Result

        results = [r for r, n in zip(dask.compute(*self._pieces), self._sizes) if n]
        first = results[0]
        return Result(
            pd.concat([r.grid for r in results], ignore_index=True),
            np.vstack([r.draws for r in results]),
            first.n_chains,
            first.n_draws,
            kind=first.kind,
            type=first.type,
            source=first.source,
            new_levels=first.new_levels,
            selection=first.selection,
            **first.options,
        )

    def __repr__(self) -> str:
        return (
            f"LazyDraws: {sum(self._sizes):,} rows x {self._n_samples} draws in {len(self._pieces)} "
            "partitions (not computed: .draws, .summary, .to_zarr(path), .compute())"
        )


def _rows(verb, args: dict, part: pd.DataFrame, plans):
    if len(part) == 0:
        return None
    with delegating(Delegation(plans=plans)):
        return verb(**{**args, "newdata": part.reset_index(drop=True)})


def _draws_of(result) -> np.ndarray:
    return result.draws


def _summary_of(result) -> pd.DataFrame:
    return result.summary
