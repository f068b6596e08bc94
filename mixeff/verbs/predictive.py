"""``posterior_predict``: replicated responses, one per row and draw, as brms's ``posterior_predict``.

Non-category families are :func:`~mixeff.verbs.predictions.predictions` with ``type="prediction"``
(the same :class:`~mixeff.verbs.call.Call` run by the same engine, in row chunks).  Ordinal and
categorical families draw one category per row and draw from the category probabilities
(``type="response"``), by inverting the cumulative probabilities at one uniform.  ``levels="new"``
("mixed replication") relabels every level of every grouping factor to a level the model has not
seen, so that each is simulated afresh (``sample_new_levels="gaussian"``) once per draw.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
import pandas as pd

from ..engine.moments import STREAMED_STATISTICS, ReplicatedStatistic, whole_number_variance
from ..model.spec import ModelSpec, factor_labels
from ..results import Result, require_finite
from .call import Call, DrawIds, Draws, Fit, Seed
from .credentials import check_convergence
from .fits import resolve_spec
from .inputs import check_seed
from .pipeline import open_job
from .run import execute
from .terms import VERBS

LEVELS = ("existing", "new")
NEW_LEVEL_PREFIX = "<new>"
"""What ``levels="new"`` puts before every grouping label (longer when a fitted level would clash)."""
CATEGORY_BLOCK_CELLS = 1 << 22
"""Rows × draws sampled at a time for a category family (bounds the temporaries)."""

type Levels = Literal["existing", "new"]


def posterior_predict(
    fit: Fit,
    newdata: pd.DataFrame | None = None,
    *,
    levels: Levels = "existing",
    re_formula: str | None = None,
    draws: Draws = "posterior",
    ndraws: int | None = None,
    draw_ids: DrawIds = None,
    seed: Seed = None,
    chunk_rows: int | None = None,
    progress: bool | None = None,
    n_jobs: int | None = None,
) -> Result:
    """Replicated responses: one draw of the response per row of ``newdata`` and posterior draw.

    brms's ``posterior_predict``: the response's distribution in each draw, given that draw's
    parameters (binomial counts out of the trials, the zeros of zero-inflated and hurdle families).
    With ``levels="new"`` every cluster is replaced by a freshly simulated one ("mixed replication").

    Parameters
    ----------
    fit : MixedFit or ModelSpec
    newdata : DataFrame, optional
        Rows to replicate; the model's data by default.  See :func:`mixeff.datagrid`.
    levels : {"existing", "new"}
        ``"existing"``: the fitted levels' own effects (brms's ``posterior_predict``); a level the model
        has not seen is an error (relabel it to a fitted level, or use ``"new"``).  ``"new"``: every
        level of every grouping factor in the rows is replaced, in every draw, by one new level drawn
        from the fitted distribution of levels (normal, with the fitted sds and correlations), shared by
        all rows of that level; an interaction or nested factor's level is a combination of its columns.
        The result's rows keep the original labels.
    re_formula : None, "NA" or str
        None: all group-level terms; ``"NA"``/``"~0"``: none (random effects 0); ``"~(1|g)"``: only those.
    draws : {"posterior", "prior"}
        Which draws of the fit to use (prior draws: prior predictive replications).
    ndraws, draw_ids
        ``ndraws`` draws chosen at random with ``seed``, or the draws at positions ``draw_ids`` (0-based).
    seed : int or numpy Generator, optional
        Makes the replications reproducible: the same seed gives the same draws.
    chunk_rows, progress, n_jobs
        Engine chunk size (rows), progress bar, and threads (see :func:`mixeff.predictions`).

    Returns
    -------
    Result
        ``kind="posterior_predict"``, ``type="prediction"``: ``.draws`` is ``(rows, draws)``, one row per
        newdata row.  For ordinal and categorical families each value is the position ``1..K`` of the
        drawn category in the fit's categories (``spec.categories``), as brms's ``posterior_predict``
        returns the category's index.

    Examples
    --------
    >>> import mixeff
    >>> from mixeff.model.examples import toy_spec
    >>> spec = toy_spec()
    >>> rows = spec.data.head(3)
    >>> y_rep = mixeff.posterior_predict(spec, rows, seed=1)
    >>> y_rep.draws.shape, y_rep.kind, bool((y_rep.draws > 0).all())
    ((3, 200), 'posterior_predict', True)
    >>> again = mixeff.posterior_predict(spec, rows, seed=1)
    >>> bool((again.draws == y_rep.draws).all())
    True
    >>> fresh = mixeff.posterior_predict(spec, rows, levels="new", seed=1)
    >>> fresh.grid["cluster"].tolist() == rows["cluster"].tolist(), fresh.new_levels["how"]
    (True, 'gaussian')
    """
    if not isinstance(levels, str) or levels not in LEVELS:
        raise ValueError(
            f"levels={levels!r} is not one of {list(LEVELS)}: 'existing' replicates with the fitted levels' own "
            "effects (brms's posterior_predict), 'new' with a freshly simulated level for every cluster"
        )
    if newdata is not None and not isinstance(newdata, pd.DataFrame):
        raise TypeError(
            f"newdata must be a pandas DataFrame (e.g. from mixeff.datagrid) or None (the model's data); got "
            f"{type(newdata).__name__}"
        )
    check_seed(seed)
    spec = resolve_spec(fit, draws)
    rows = spec.data if newdata is None else newdata
    frame = rows if levels == "existing" else fresh_levels(spec, rows)
    arguments = dict(
        fit=fit,
        newdata=frame,
        re_formula=re_formula,
        allow_new_levels=levels == "new",
        sample_new_levels="gaussian",
        seed=seed,
        draws=draws,
        ndraws=ndraws,
        draw_ids=draw_ids,
        chunk_rows=chunk_rows,
        progress=progress,
        n_jobs=n_jobs,
    )
    categorical = spec.family.categorical
    call = Call.of("predictions", {**arguments, "type": "response" if categorical else "prediction"})
    with _unseen_levels_message():
        result = execute(call)
    assert isinstance(result, Result)  # newdata is a pandas DataFrame: never the dask path
    grid = rows.reset_index(drop=True)
    if not categorical:
        return result.replace(kind="posterior_predict", grid=grid)
    values = draw_categories(result.draws, len(spec.categories), category_rng(seed))
    # the probabilities' convergence was checked by execute; the categories are draws from them
    return result.replace(grid=grid, draws=values, kind="posterior_predict", type="prediction", call=None)


GROUP_CODE = "__mixeff_replicated_group__"
"""The column of group codes :func:`replicated_statistics` adds to the rows (its ``by``)."""


def replicated_statistics(
    fit: Fit,
    rows: pd.DataFrame,
    statistics: list[str],
    codes: np.ndarray,
    *,
    levels: Levels = "existing",
    draws: Draws = "posterior",
    seed: Seed = None,
    chunk_rows: int | None = None,
    progress: bool | None = None,
) -> dict[str, np.ndarray]:
    """Statistics of the replicated data sets of :func:`posterior_predict`, per group and draw, streamed.

    The same engine pass as :func:`posterior_predict` (``type="prediction"``, the same random stream
    for the same ``seed``), but each chunk's replicated values are reduced within draw by group
    (:class:`~mixeff.engine.moments.ReplicatedStatistic`) instead of kept: memory is ``groups × draws``,
    not ``rows × draws``.  Not for ordinal or categorical families.

    Parameters
    ----------
    statistics
        Names among :data:`~mixeff.engine.moments.STREAMED_STATISTICS`.
    codes
        Each row's group, ``0..G−1`` (every group with rows).

    Returns
    -------
    dict
        ``(G, S)`` draws of each statistic, groups in code order.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> spec = toy_spec(n_draws=500)
    >>> rows = spec.data.head(30)
    >>> codes = np.zeros(30, dtype=np.int64)
    >>> t = replicated_statistics(spec, rows, ["mean"], codes, seed=1)
    >>> y_rep = posterior_predict(spec, rows, seed=1).draws
    >>> bool(np.allclose(t["mean"][0], y_rep.mean(axis=0), rtol=1e-12))
    True
    """
    check_seed(seed)
    spec = resolve_spec(fit, draws)
    if spec.family.categorical:
        raise ValueError("replicated_statistics: ordinal and categorical replications are drawn after the pass")
    unknown = [name for name in statistics if name not in STREAMED_STATISTICS]
    if unknown:
        raise ValueError(f"statistics {unknown} are not streamed; choose among {list(STREAMED_STATISTICS)}")
    codes = np.asarray(codes, dtype=np.int64)
    sizes = np.bincount(codes)
    if len(codes) != len(rows) or (sizes == 0).any():
        raise ValueError("codes: one group code 0..G-1 per row, every group with rows")
    frame = rows.reset_index(drop=True).assign(**{GROUP_CODE: codes})
    if levels == "new":
        frame = fresh_levels(spec, frame)
    call = Call.of(
        "predictions",
        dict(
            fit=fit,
            newdata=frame,
            by=GROUP_CODE,
            type="prediction",
            allow_new_levels=levels == "new",
            sample_new_levels="gaussian",
            seed=seed,
            draws=draws,
            chunk_rows=chunk_rows,
            progress=progress,
        ),
    )
    with _unseen_levels_message():
        job = open_job(call)
        assert job.groups is not None  # by= a column
        assert np.array_equal(job.groups.keys[GROUP_CODE].to_numpy(), np.arange(len(sizes)))
        whole = whole_number_family(spec)
        job.quantities = [ReplicatedStatistic(name, codes, whole) for name in statistics]
        values = job.values()
    require_finite(values, *VERBS["predictions"].undefined(call, spec))
    n_groups = len(sizes)
    # the statistics' draws, checked as posterior_predict checks its replications
    checked = Result(
        pd.DataFrame(index=np.arange(len(values))),
        values,
        spec.n_chains,
        spec.n_draws,
        kind="posterior_predict",
        type="prediction",
        source=spec.source,
    )
    check_convergence(fit, checked)
    return {name: values[i * n_groups : (i + 1) * n_groups] for i, name in enumerate(statistics)}


def whole_number_family(spec: ModelSpec) -> bool:
    """Whether the family's replications are whole numbers (counts, 0/1)."""
    return spec.family.support in ("count", "binary") and not spec.family.categorical


def sample_variance(y: np.ndarray, whole: bool) -> float:
    """``np.var(y, ddof=1)``, as :func:`replicated_statistics` computes it.

    For whole numbers, the exact value rounded once (:func:`~mixeff.engine.moments.whole_number_variance`):
    equal data sets have equal variances to the bit.

    Examples
    --------
    >>> sample_variance(np.array([3.0, 4.0, 5.0]), whole=True)
    1.0
    """
    y = np.asarray(y, dtype=float)
    if not whole or len(y) < 2:
        return float(np.var(y, ddof=1)) if len(y) > 1 else float("nan")
    d = y - y[0]
    n, s1, s2 = float(len(y)), float(d.sum()), float((d * d).sum())
    if max(abs(n * s2), s1 * s1) >= 2.0**53:
        return float(np.var(y, ddof=1))
    return float(whole_number_variance(np.array(s1), np.array(s2), np.array(n)))


@contextmanager
def _unseen_levels_message() -> Iterator[None]:
    """The engine's error for a level the model has not seen, with posterior_predict's fixes."""
    try:
        yield
    except ValueError as err:
        if not _is_unseen_levels(err):
            raise
        raise _unseen_levels(err) from None


def draw_categories(probabilities: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """One category per row and draw: ``(rows, S)`` positions ``1..k`` by inverting the cumulative probabilities.

    ``probabilities`` is ``(k · rows, S)``: ``k`` blocks of rows, category-major (the layout of
    ``predictions``).  The drawn category is the first whose cumulative probability exceeds a uniform draw.

    Examples
    --------
    >>> p = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])  # 3 categories, 1 row, 2 draws
    >>> draw_categories(p, 3, np.random.default_rng(0)).tolist()
    [[1.0, 3.0]]
    """
    blocks = probabilities.reshape(k, -1, probabilities.shape[1])
    n, s = blocks.shape[1:]
    out = np.empty((n, s))
    step = max(1, CATEGORY_BLOCK_CELLS // max(s, 1))
    for start in range(0, n, step):  # row blocks: the uniforms are one stream in row order whatever the step
        stop = min(n, start + step)
        u = rng.random((stop - start, s))
        cumulative = np.zeros_like(u)
        chosen = np.ones_like(u)
        for c in range(k - 1):  # a loop over categories, not draws
            cumulative += blocks[c, start:stop]
            chosen += u >= cumulative
        out[start:stop] = chosen
    return out


def category_rng(seed: Seed) -> np.random.Generator:
    """The stream of a category family's uniforms: a Generator itself, or a child of the seed's sequence.

    The child is independent of the stream the engine draws new levels from with the same seed.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


def fresh_levels(spec: ModelSpec, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with every grouping column's values relabelled to labels no fitted level has.

    Each column's label gets one prefix, so a combination of columns (an interaction or nested
    factor) stays one level, and rows that share a level keep sharing it.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> fresh_levels(toy_spec(), pd.DataFrame({"TX": [0, 1], "cluster": [3, 3.0]}))["cluster"].tolist()
    ['<new>3', '<new>3']
    """
    groups = spec.all_groups()
    columns = list(dict.fromkeys(c for g in groups for c in g.columns if c in rows.columns))
    if not columns:
        return rows
    labels = {
        c: factor_labels(rows, (c,), numeric=any(g.numeric and g.columns == (c,) for g in groups)) for c in columns
    }
    prefix, tries = NEW_LEVEL_PREFIX, 0
    while _clashes(spec, rows, labels, prefix):
        tries += 1
        prefix = f"<new{tries}>"
    frame = rows.copy()
    for c in columns:
        frame[c] = np.char.add(prefix, labels[c].astype(str)).astype(object)
    _check_population_part(spec, rows, frame, columns)
    return frame


def _clashes(spec: ModelSpec, rows: pd.DataFrame, labels: dict[str, np.ndarray], prefix: str) -> bool:
    """Whether a relabelled level of any factor is a fitted level of it."""
    for g in spec.all_groups():
        if not all(c in labels for c in g.columns):
            continue
        frame = pd.DataFrame({c: np.char.add(prefix, labels[c].astype(str)) for c in g.columns})
        if any(g.has_level(str(lab)) for lab in g.distinct_labels_of(frame)[0]):
            return True
    return False


def _check_population_part(spec: ModelSpec, rows: pd.DataFrame, frame: pd.DataFrame, columns: list[str]) -> None:
    """Refuse ``levels="new"`` when a grouping column is also a population-level predictor.

    Relabelling such a column would change the population-level part of the model.
    """
    for part in [spec, *spec.dpars.values()]:
        try:
            same = np.array_equal(part.fixed_design(rows), part.fixed_design(frame), equal_nan=True)
        except Exception:  # the design cannot read a relabelled column: it is a predictor
            same = False
        if not same:
            raise ValueError(
                f"levels='new': a grouping column among {columns} is also a population-level predictor, so "
                "its levels cannot be replaced by new ones; copy it into a column of its own for the "
                "group-level term, or use levels='existing'"
            )


_UNSEEN_FIX = "; set allow_new_levels=True"


def _is_unseen_levels(err: ValueError) -> bool:
    text = str(err)
    return "that the model has not seen" in text and _UNSEEN_FIX in text


def _unseen_levels(err: ValueError) -> ValueError:
    """The engine's error for a level the model has not seen, with posterior_predict's fixes."""
    text = str(err)
    cut = text.find(_UNSEEN_FIX)
    return ValueError(
        f"{text[:cut]}; relabel them to fitted levels, use levels='new' to replicate with freshly simulated "
        "levels (every level, sample_new_levels='gaussian'), or re_formula='NA' to replicate at random effects = 0"
    )
