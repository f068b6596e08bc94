"""Results: draws of a derived quantity plus their summary, and ``get_draws``.

Every verb returns a :class:`Result`: a grid (one row per estimate: the
newdata rows, the ``by`` groups, or term/contrast rows) and a ``(rows, S)``
array of draws.  The summary is the median and a 95% equal-tailed interval by
default, as in marginaleffects; mean, HDI and other levels are options.
"""

from __future__ import annotations

import copy
import numbers
import pickle
from collections.abc import Collection, Hashable, Iterable, Mapping
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.base import array_stats

from .engine.quantiles import row_median, row_quantiles  # also for plots, which may not import the engine
from .records import IntegratedLikelihood, NewLevels


class MixeffWarning(UserWarning):
    """Base class of mixeff's warnings (filter them with ``warnings.simplefilter(..., MixeffWarning)``)."""


class ConvergenceWarning(MixeffWarning):
    """The draws behind a result did not converge (R-hat, effective sample size, divergences)."""


class MonteCarloWarning(MixeffWarning):
    """An average over simulated new levels carries a Monte Carlo error comparable to its posterior sd."""


ESTIMATORS = ("median", "mean")
INTERVALS = ("eti", "hdi")


def varying_columns(grid: pd.DataFrame, exclude: Collection[Hashable] = ()) -> list[str]:
    """The grid columns whose values tell rows apart (a datagrid repeats its held-constant columns)."""
    return [c for c in grid.columns if c not in exclude and grid[c].astype(str).nunique() > 1]


def row_labels(
    grid: pd.DataFrame, columns: Iterable[Hashable] | None = None, exclude: Collection[Hashable] = ()
) -> list[str] | None:
    """One label per grid row from ``columns`` (default: the varying ones), or None if there are none.

    One column gives its values; several give ``"name=value, name=value"``.

    Examples
    --------
    >>> import pandas as pd
    >>> g = pd.DataFrame({"TX": [0, 1], "g": ["a", "a"], "h": [1, 2]})
    >>> row_labels(g, exclude=("h",)), row_labels(g)
    (['0', '1'], ['TX=0, h=1', 'TX=1, h=2'])
    """
    cols = varying_columns(grid, exclude) if columns is None else list(columns)
    if not cols:
        return None
    if len(cols) == 1:
        return grid[cols[0]].astype(str).tolist()
    return _named_values(grid, cols)


def _named_values(grid: pd.DataFrame, cols: list) -> list[str]:
    """``"name=value, name=value"`` per row."""
    parts = [str(c) + "=" + grid[c].astype(str) for c in cols]
    out = parts[0]
    for p in parts[1:]:
        out = out + ", " + p
    return out.tolist()


def check_summary_options(conf_level: object, estimator: object, interval: object) -> None:
    """``conf_level`` a number in (0, 1), ``estimator`` and ``interval`` known names.

    Examples
    --------
    >>> check_summary_options("0.9", "median", "eti")
    Traceback (most recent call last):
    ...
    TypeError: conf_level='0.9' must be a number strictly between 0 and 1, e.g. 0.95
    """
    if isinstance(conf_level, bool) or not isinstance(conf_level, numbers.Real):
        raise TypeError(f"conf_level={conf_level!r} must be a number strictly between 0 and 1, e.g. 0.95")
    if not 0 < cast(float, conf_level) < 1:  # a numbers.Real, which mypy does not order
        raise ValueError(f"conf_level={conf_level!r} must be strictly between 0 and 1, e.g. 0.95")
    if not isinstance(estimator, str) or estimator not in ESTIMATORS:
        raise ValueError(f"estimator={estimator!r} is not one of {list(ESTIMATORS)}")
    if not isinstance(interval, str) or interval not in INTERVALS:
        raise ValueError(f"interval={interval!r} is not one of {list(INTERVALS)}")


def summarise_draws(
    draws: np.ndarray,
    *,
    conf_level: float = 0.95,
    estimator: str = "median",
    interval: str = "eti",
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """``estimate``, ``conf_low``, ``conf_high`` of each row of a ``(rows, S)`` array.

    The median and the equal-tailed interval are numpy's (``np.quantile``, ``np.median``) bit for bit,
    by partial selection on ``n_jobs`` threads (:func:`mixeff.engine.quantiles.row_quantiles`; None:
    the package option).

    Examples
    --------
    >>> import numpy as np
    >>> summarise_draws(np.arange(101.0)[None, :]).round(2).values.tolist()
    [[50.0, 2.5, 97.5]]
    """
    check_summary_options(conf_level, estimator, interval)
    if interval == "eti":
        # numpy's np.quantile(draws, probs, axis=1), bit for bit, by partial selection on threads
        probs = [(1 - conf_level) / 2, (1 + conf_level) / 2] + ([0.5] if estimator == "median" else [])
        q = row_quantiles(draws, probs, n_jobs=n_jobs)
        lo, hi = q[0], q[1]
        est = q[2] if estimator == "median" else np.mean(draws, axis=1)
    else:
        bounds = array_stats.hdi(draws, conf_level, axis=-1)
        lo, hi = bounds[..., 0], bounds[..., 1]
        est = row_median(draws, n_jobs=n_jobs) if estimator == "median" else np.mean(draws, axis=1)
    return pd.DataFrame({"estimate": est, "conf_low": lo, "conf_high": hi})


OVERFLOW_FIX = (
    "the model's values overflow float64 or are undefined there: check newdata for extreme "
    "predictor values (exp overflows once η + σ²/2 exceeds 709), or use type='link'"
)


def require_finite(values: np.ndarray, what: str, fix: str) -> np.ndarray:
    """Raise instead of returning NaN or ±inf draws: ``what`` produced them, ``fix`` says what to do.

    Examples
    --------
    >>> require_finite(np.array([[1.0, np.nan], [np.inf, 2.0]]), "comparison='lnor'", "use type='link'")
    Traceback (most recent call last):
    ...
    ValueError: comparison='lnor' is not finite in 2 of 4 draws (1 NaN, 1 ±inf; rows [0, 1]); use type='link'
    """
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=-1))
        n_nan = int(np.isnan(values).sum())
        raise ValueError(
            f"{what} is not finite in {int(bad.sum())} of {values.size} draws ({n_nan} NaN, "
            f"{int(bad.sum()) - n_nan} ±inf; rows {rows[:5].tolist()}{' ...' if len(rows) > 5 else ''}); {fix}"
        )
    return values


class Result:
    """Draws of one quantity per grid row, with a pandas summary.

    Attributes
    ----------
    summary : pandas.DataFrame
        The grid columns plus ``estimate``, ``conf_low``, ``conf_high``.
    draws : numpy.ndarray
        ``(rows, S)``, draws flattened chain-major over ``n_chains × n_draws``.
    source : str
        ``"posterior"`` or ``"prior"``: which draws the quantity was computed from.
    new_levels : dict or None
        How levels the model has not seen were treated: ``how`` (``sample_new_levels``),
        ``factors``, ``levels`` (how many per factor) and, when integrated, ``method``
        and ``error_bound`` (relative); None when there were none.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> r = Result(pd.DataFrame({"TX": [0, 1]}), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 1, 3)
    >>> r.summary["estimate"].tolist()
    [2.0, 5.0]
    """

    response: str | None = None
    """The fit's response column (plots name the quantity with it)."""
    integrated_likelihood: IntegratedLikelihood | None = None
    """``log_lik(group=...)``: how each level's effects were integrated out (None otherwise)."""
    call = None
    """The :class:`~mixeff.verbs.call.Call` whose draws these are (before any hypothesis or transform);
    :func:`mixeff.hypotheses` reruns it on the fit's prior draws for Savage–Dickey Bayes factors."""

    def __init__(
        self,
        grid: pd.DataFrame,
        draws: np.ndarray,
        n_chains: int,
        n_draws: int,
        *,
        kind: str = "predictions",
        type: str = "response",
        source: str = "posterior",
        conf_level: float = 0.95,
        estimator: str = "median",
        interval: str = "eti",
        new_levels: NewLevels | None = None,
        selection: str | None = None,
        response: str | None = None,
        call: Any = None,
    ):
        self.grid = grid.reset_index(drop=True)
        self.draws = np.asarray(draws, dtype=float)
        if self.draws.shape != (len(self.grid), n_chains * n_draws):
            raise ValueError(f"draws shape {self.draws.shape} != ({len(self.grid)}, {n_chains * n_draws})")
        self.n_chains, self.n_draws = n_chains, n_draws
        self.kind, self.type, self.source = kind, type, source
        self.new_levels = new_levels
        self.selection = selection
        """Which of the fit's draws were used when ``ndraws``/``draw_ids`` chose some (None: all)."""
        self.response, self.call = response, call
        self.options: dict[str, Any] = dict(conf_level=conf_level, estimator=estimator, interval=interval)
        check_summary_options(**self.options)
        self._summary: pd.DataFrame | None = None
        self._diagnostics: dict[str, np.ndarray] = {}
        self._frozen = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False) and not name.startswith("_"):
            raise AttributeError(
                f"a Result is immutable: use result.replace({name}=...) for a copy with another {name}"
            )
        object.__setattr__(self, name, value)

    def __getstate__(self) -> dict[str, Any]:
        """What pickle saves: everything but the caches, and the call only when it pickles.

        A call with a lambda in it does not pickle: the loaded result then cannot rerun it for a Bayes factor.
        """
        state = {k: v for k, v in self.__dict__.items() if k not in ("_summary", "_diagnostics")}
        if state.get("call") is not None:
            try:
                pickle.dumps(state["call"])
            except Exception:  # a local function or lambda among the call's arguments
                state["call"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _summary=None, _diagnostics={})

    def replace(self, **changes: Any) -> Result:
        """A copy with ``changes`` to its attributes (``draws``, ``grid``, ``response``...).

        Examples
        --------
        >>> r = Result(pd.DataFrame({"TX": [0]}), np.array([[1.0, 3.0]]), 1, 2)
        >>> r.replace(response="y").response, r.response
        ('y', None)
        """
        out = copy.copy(self)
        for name, value in changes.items():
            if not hasattr(self, name):
                raise TypeError(f"Result has no attribute {name!r}")
            object.__setattr__(out, name, value)
        if "draws" in changes or "grid" in changes:
            if out.draws.shape != (len(out.grid), out.n_chains * out.n_draws):
                raise ValueError(f"draws shape {out.draws.shape} != ({len(out.grid)}, {out.n_chains * out.n_draws})")
        object.__setattr__(out, "_summary", None)
        object.__setattr__(out, "_diagnostics", {})
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """Grid columns plus estimate, conf_low, conf_high (computed on first use)."""
        if self._summary is None:
            self._summary = self.summarise()
        return self._summary

    def summarise(self, diagnostics: bool = False, **options: Any) -> pd.DataFrame:
        """The summary table, recomputed with other ``conf_level``/``estimator``/``interval``.

        ``diagnostics=True`` adds each row's ``rhat`` (rank-normalised split R-hat),
        ``ess_bulk``, ``ess_tail`` and ``mcse`` (Monte Carlo SE of the estimate), as
        arviz defines them, computed on the result's (chain, draw) draws.  The table's
        ``attrs["source"]`` says whether these are prior or posterior draws.
        """
        # as many threads as the call that computed the draws had (dask's pieces: one)
        stats = summarise_draws(self.draws, **{"n_jobs": getattr(self.call, "n_jobs", None), **self.options, **options})
        out = pd.concat([self.grid, stats], axis=1)
        if diagnostics:
            diag = self.diagnostics(estimator={**self.options, **options}["estimator"])
            for name, values in diag.items():
                out[name] = values
        out.attrs["source"] = self.source
        return out

    def diagnostics(self, estimator: str | None = None) -> dict[str, np.ndarray]:
        """Per-row ``rhat``, ``ess_bulk``, ``ess_tail`` and ``mcse``.

        Computed once, then cached; another estimator's ``mcse`` is the only thing computed again.
        """
        from .diagnostics import diagnose

        estimator = estimator or self.options["estimator"]
        cache = self._diagnostics
        if not cache:
            cache.update(diagnose(self.draws, self.n_chains, self.n_draws, estimator))
            cache[f"mcse_{estimator}"] = cache.pop("mcse")
        elif f"mcse_{estimator}" not in cache:
            cache[f"mcse_{estimator}"] = diagnose(self.draws, self.n_chains, self.n_draws, estimator, mcse_only=True)[
                "mcse"
            ]
        return {
            "rhat": cache["rhat"],
            "ess_bulk": cache["ess_bulk"],
            "ess_tail": cache["ess_tail"],
            "mcse": cache[f"mcse_{estimator}"],
        }

    def __len__(self) -> int:
        return len(self.grid)

    def __getitem__(self, column: str) -> pd.Series:
        return self.summary[column]

    @property
    def new_levels_note(self) -> str:
        """One line on how new levels were treated ('' when there were none)."""
        rec = self.new_levels
        if not rec:
            return ""
        factors = ", ".join(rec["factors"])
        if rec["how"] == "integrate":
            bound = rec.get("error_bound", 0.0)
            how = rec.get("method", "closed form")
            exact = f"exact: {how}" + (f", relative error < {bound:.0e}" if bound else "")
            return f"integrated over new levels of {factors} ({exact})"
        counts = ", ".join(f"{k} = {v}" for k, v in rec["levels"].items())
        note = f"new levels of {factors} simulated ({rec['how']!r}; {counts} levels)"
        if "mc_se" in rec:
            note += (
                f"; Monte Carlo SE of the average up to {max(rec['mc_se']):.4g} (median over draws), "
                f"{max(rec['mc_se_ratio']):.0%} of the posterior sd"
            )
        return note

    @property
    def header(self) -> list[str]:
        """What the printed numbers are: the statistic, the interval, the draws, how new levels were treated."""
        o = self.options
        stat = f"{o['estimator']}, {o['conf_level']:.0%} {o['interval'].upper()}"
        draws = f"{self.n_chains} chains × {self.n_draws} draws" + (f" ({self.selection})" if self.selection else "")
        source = (
            "prior draws (a prior predictive check, not the posterior)" if self.source == "prior" else "posterior draws"
        )
        lines = [f"{self.kind} (type={self.type!r}): {stat} of {draws}, {source}"]
        if self.new_levels_note:
            lines.append(self.new_levels_note)
        return lines

    def _display_table(self) -> pd.DataFrame:
        table = self.summary.copy()
        for col in ("estimate", "conf_low", "conf_high"):
            table[col] = [f"{v:.4g}" for v in table[col]]
        return table

    def __repr__(self):
        return "\n".join(self.header) + "\n" + self._display_table().to_string(max_rows=30)

    def _repr_html_(self):
        return "<p>" + "<br>".join(self.header) + "</p>" + self._display_table().to_html(max_rows=30)


def row_names(grid: pd.DataFrame) -> list[str]:
    """Readable, unique row names such as ``"TX=0"`` or ``"term=TX, contrast=1 - 0"`` (arviz coordinates)."""
    cols = varying_columns(grid) or list(grid.columns)
    if not cols:
        return [f"row {i + 1}" for i in range(len(grid))]
    names = _named_values(grid, cols)
    if len(set(names)) < len(names):
        names = [f"{n} [{i + 1}]" for i, n in enumerate(names)]
    return names


def get_draws(
    result: Result, shape: Literal["long", "DxP", "PxD", "xarray", "datatree"] = "long"
) -> pd.DataFrame | np.ndarray | xr.DataArray | xr.DataTree:
    """Draws of a result, as marginaleffects' ``get_draws``.

    ``"long"``: a DataFrame with ``drawid``, ``draw``, ``rowid`` and the grid
    columns, one row per (grid row, draw); ``"DxP"``/``"PxD"``: arrays of
    shape (draws, rows) / (rows, draws); ``"xarray"``: a DataArray with
    ``chain``, ``draw`` and ``row`` dims, ``row`` labelled by the grid's values
    (``"TX=0"``) and every grid column a coordinate along it; ``"datatree"``: an
    :class:`xarray.DataTree` whose ``posterior`` (or ``prior``) group holds that
    DataArray, which arviz 1.x takes directly (``az.summary``, ``az.plot_dist``,
    ``az.plot_forest``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> r = Result(pd.DataFrame({"TX": [0, 1]}), np.arange(8.0).reshape(2, 4), 2, 2)
    >>> get_draws(r, "DxP").shape
    (4, 2)
    >>> get_draws(r, "xarray").dims, get_draws(r, "xarray")["row"].values.tolist()
    (('chain', 'draw', 'row'), ['TX=0', 'TX=1'])
    """
    if not isinstance(result, Result):
        raise TypeError(f"get_draws needs a mixeff Result, got {type(result).__name__}")
    p, s = result.draws.shape
    if shape == "PxD":
        return result.draws
    if shape == "DxP":
        return result.draws.T
    if shape == "long":
        long = result.grid.loc[np.repeat(np.arange(p), s)].reset_index(drop=True)
        long.insert(0, "rowid", np.repeat(np.arange(p), s))
        long.insert(0, "draw", result.draws.ravel())
        long.insert(0, "drawid", np.tile(np.arange(s), p))
        return long
    if shape in ("xarray", "datatree"):
        values = result.draws.reshape(p, result.n_chains, result.n_draws).transpose(1, 2, 0)
        coords = {
            "chain": np.arange(result.n_chains),
            "draw": np.arange(result.n_draws),
            "row": row_names(result.grid),
            "rowid": ("row", np.arange(p)),
        }
        for col in result.grid.columns:
            if str(col) not in coords:
                coords[str(col)] = ("row", result.grid[col].to_numpy())
        da = xr.DataArray(
            values,
            dims=("chain", "draw", "row"),
            coords=coords,
            name=result.kind,
            attrs={"source": result.source, "type": result.type},
        )
        if shape == "xarray":
            return da
        group = "prior" if result.source == "prior" else "posterior"
        return xr.DataTree.from_dict({group: xr.Dataset({result.kind: da})})
    raise ValueError(f"shape={shape!r} is not one of ['long', 'DxP', 'PxD', 'xarray', 'datatree']")


def stack(results: Mapping[str, Result]) -> Result:
    """Several results side by side, labelled: one :class:`Result` with a ``result`` column.

    The results must share their draws' layout (chains × draws); grid columns are
    united (missing ones are empty).  The stacked result works with ``plot_draws``,
    ``hypotheses`` (rows in order) and ``get_draws``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> a = Result(pd.DataFrame({"TX": [0, 1]}), np.ones((2, 4)), 2, 2)
    >>> b = Result(pd.DataFrame({"TX": [0, 1]}), np.zeros((2, 4)), 2, 2)
    >>> s = stack({"typical": a, "new": b})
    >>> s.grid.values.tolist(), s.draws.shape
    ([['typical', 0], ['typical', 1], ['new', 0], ['new', 1]], (4, 4))
    """
    if not isinstance(results, dict) or not results:
        raise TypeError("stack needs a non-empty dict {label: Result}, e.g. {'typical': r1, 'new': r2}")
    items = list(results.items())
    for label, r in items:
        if not isinstance(r, Result):
            raise TypeError(f"stack: {label!r} is a {type(r).__name__}, not a mixeff Result")
    first = items[0][1]
    for label, r in items[1:]:
        if (r.n_chains, r.n_draws) != (first.n_chains, first.n_draws) or r.source != first.source:
            raise ValueError(
                f"stack: {label!r} has {r.n_chains}×{r.n_draws} {r.source} draws but {items[0][0]!r} has "
                f"{first.n_chains}×{first.n_draws} {first.source} draws; stack results of the same fit and draws"
            )
    grid = pd.concat([r.grid.assign(result=str(label)) for label, r in items], ignore_index=True)
    grid = grid[["result"] + [c for c in grid.columns if c != "result"]]
    kinds = {r.kind for _, r in items}
    types = {r.type for _, r in items}
    notes = [r.new_levels for _, r in items if r.new_levels]
    return Result(
        grid,
        np.vstack([r.draws for _, r in items]),
        first.n_chains,
        first.n_draws,
        kind=kinds.pop() if len(kinds) == 1 else "results",
        type=types.pop() if len(types) == 1 else "mixed",
        source=first.source,
        new_levels=notes[0] if len(notes) == 1 else None,
        **first.options,
    )
