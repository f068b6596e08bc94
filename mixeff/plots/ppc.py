"""``pp_check``: graphical posterior (and prior) predictive checks, as brms's ``pp_check`` (bayesplot).

The replicated data sets ``y_rep`` are :func:`mixeff.posterior_predict`'s draws (``levels="new"``: "mixed
replication", every cluster replaced by a freshly simulated one); the observed ``y`` is the response
column of ``newdata`` (the model's data by default).  Each type draws what bayesplot's ``ppc_<type>``
draws; ``draw=False`` returns the data instead of the figure.
"""

from __future__ import annotations

import builtins
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..model.spec import ModelSpec
from ..results import row_quantiles
from ..verbs.call import Draws, Fit, Seed
from ..verbs.fits import resolve_spec
from ..verbs.predictive import (
    STREAMED_STATISTICS,
    Levels,
    posterior_predict,
    replicated_statistics,
    sample_variance,
    whole_number_family,
)
from .common import POINT, WIDTH, add_caption, facet_grid, level_name, x_range
from .density import kde

TYPES = {
    "dens_overlay": "density overlay",
    "hist": "histograms",
    "boxplot": "boxplots",
    "ecdf_overlay": "ECDF overlay",
    "stat": "test statistic",
    "stat_grouped": "test statistic by group",
    "intervals": "predictive intervals",
    "intervals_grouped": "predictive intervals by group",
    "scatter_avg": "observed vs average replicated",
    "bars": "bar chart",
    "bars_grouped": "bar chart by group",
    "rootogram": "hanging rootogram",
    "error_binned": "binned residuals",
    "pit_ecdf": "PIT ECDF",
}
"""The check types (bayesplot's ``ppc_<type>``) and their titles."""

type PpcType = Literal[
    "dens_overlay",
    "hist",
    "boxplot",
    "ecdf_overlay",
    "stat",
    "stat_grouped",
    "intervals",
    "intervals_grouped",
    "scatter_avg",
    "bars",
    "bars_grouped",
    "rootogram",
    "error_binned",
    "pit_ecdf",
]

OVERLAY_NDRAWS = {"dens_overlay": 50, "ecdf_overlay": 50, "hist": 8, "boxplot": 10}
"""Default number of replicated data sets of the types that draw each one (the others use every draw)."""

_CONTINUOUS = (
    "dens_overlay",
    "hist",
    "boxplot",
    "ecdf_overlay",
    "stat",
    "stat_grouped",
    "intervals",
    "intervals_grouped",
    "scatter_avg",
    "pit_ecdf",
)
_BARS = ("bars", "bars_grouped")
_COMMON = ("stat", "stat_grouped", "intervals", "intervals_grouped", "scatter_avg", "pit_ecdf")
FAMILY_TYPES = {
    "continuous": _CONTINUOUS,
    "count": _CONTINUOUS + _BARS + ("rootogram",),
    "binomial": _CONTINUOUS + _BARS + ("rootogram", "error_binned"),
    "binary": ("hist", "ecdf_overlay") + _COMMON + _BARS + ("error_binned",),
    "ordinal": ("hist", "ecdf_overlay", "stat", "stat_grouped", "intervals", "intervals_grouped") + _BARS,
    "categorical": _BARS,
}
"""The types each kind of response can use."""


def _sd(a, axis=None):
    return np.std(a, axis=axis, ddof=1)


def _var(a, axis=None):
    return np.var(a, axis=axis, ddof=1)


def _prop_zero(a, axis=None):
    return np.mean(np.asarray(a) == 0, axis=axis)


STATS: dict[str, Callable[..., Any]] = {
    "mean": np.mean,
    "sd": _sd,
    "median": np.median,
    "min": np.min,
    "max": np.max,
    "var": _var,
    "prop_zero": _prop_zero,
}
"""Named test statistics (``sd`` and ``var`` with ``ddof=1``, as R's)."""

OBSERVED = "0.1"
"""Colour of the observed data (dark, as bayesplot's ``y``)."""
REPLICATED = "#7fa6cf"
"""Colour of the replicated data (light blue, as bayesplot's ``y_rep``)."""
REPLICATED_DARK = "#2f5f8f"
"""Colour of replicated summaries drawn over observed bars."""
N_SIMULATIONS = 1000
"""Simulations of arviz-stats' simultaneous PIT-ECDF band."""


@dataclass
class _Context:
    spec: ModelSpec
    kind: str
    name: str
    stats: list[tuple[str, Callable[..., Any]]]
    prob: float
    rng: np.random.Generator
    trials: np.ndarray
    x: np.ndarray | None
    x_name: str | None


def pp_check(
    fit: Fit,
    type: PpcType = "dens_overlay",
    *,
    ndraws: int | None = None,
    group: str | None = None,
    stat: str | Callable[[np.ndarray], float] | Sequence[str | Callable[[np.ndarray], float]] | None = None,
    levels: Levels = "existing",
    draws: Draws = "posterior",
    newdata: pd.DataFrame | None = None,
    x: str | None = None,
    seed: Seed = None,
    draw: bool = True,
    ax: Any = None,
    prob: float = 0.9,
) -> Any:
    """Graphical posterior (or prior) predictive check: observed data against replicated data sets.

    brms's ``pp_check`` with bayesplot's plot types.  The replicated data ``y_rep`` are
    :func:`mixeff.posterior_predict` draws of the rows of ``newdata`` (one replicated data set per
    draw); the observed ``y`` is ``newdata``'s response column.

    Types (the response kinds each works for: c = continuous, n = counts, b = binomial, 0/1 = bernoulli,
    o = ordinal, k = categorical):

    - ``"dens_overlay"`` (c, n): kernel density of ``y`` (dark) over those of ``ndraws`` data sets
      ``y_rep`` (light), arviz-stats' KDE (``mixeff.plots.density.kde``).
    - ``"hist"`` (c, n, b, 0/1, o): histograms of ``y`` and of ``ndraws`` data sets, one panel each.
    - ``"boxplot"`` (c, n, b): boxplots of ``y`` and of ``ndraws`` data sets.
    - ``"ecdf_overlay"`` (c, n, b, 0/1, o): empirical CDFs of ``y`` and of ``ndraws`` data sets.
    - ``"stat"``, ``"stat_grouped"`` (all but k): the histogram of a statistic ``T(y_rep)`` over the draws
      with ``T(y)`` as a line; two statistics give a scatter of ``(T1, T2)`` with ``T(y)`` as a point.
      The posterior predictive p-value ``P(T(y_rep) >= T(y))`` is in the legend (grouped: in each
      panel's title).
    - ``"intervals"``, ``"intervals_grouped"`` (all but k): per observation, against ``x`` (default: the row
      number), the median and central ``prob`` interval of its ``y_rep`` (light) and ``y`` (dark points).
    - ``"scatter_avg"`` (c, n, b, 0/1): ``y`` against the mean of its ``y_rep``, with the identity line.
    - ``"bars"``, ``"bars_grouped"`` (n, b, 0/1, o, k): the observed count of each value (bars) and the
      median and ``prob`` interval of the replicated counts (points with bars); the values are the
      categories, 0 and 1, or the counts observed or replicated up to the larger of the largest observed
      one and the 99.5% quantile of ``y_rep``.
    - ``"rootogram"`` (n, b): a hanging rootogram: √ of the expected frequency of each count (line, with its
      ``prob`` interval shaded) and bars of √ the observed frequency hanging from it.
    - ``"error_binned"`` (b, 0/1): binned residuals ``y/trials − E[y_rep]/trials`` against ``E[y_rep]/trials``
      (bins of equal size by the expected value; arm's ``binnedplot`` number of bins) with
      ``±2·sqrt(Σ p(1 − p)/trials)/n`` bounds per bin, ``p`` the rows' expected proportions.
    - ``"pit_ecdf"`` (c, n, b, 0/1): the ECDF of the PIT values ``P(y_rep < y) + U·P(y_rep = y)`` (U uniform:
      randomised for discrete responses) minus the uniform CDF, with arviz-stats' simultaneous ``prob``
      band (``arviz_stats.ecdf_utils.ecdf_pit``, as ``arviz_plots.plot_ppc_pit``).

    A ``*_grouped`` type draws one panel per level of ``group``; ``group`` with the other one-panel types
    (not ``hist`` or ``boxplot``) does the same.

    Parameters
    ----------
    fit : MixedFit or ModelSpec
        A spec of prior draws (or ``draws="prior"``) gives a prior predictive check.
    type : str
        The check (above).
    ndraws : int, optional
        Replicated data sets, chosen at random with ``seed``: by default 50 for ``dens_overlay`` and
        ``ecdf_overlay``, 8 for ``hist``, 10 for ``boxplot``, every draw for the other types.
    group : str, optional
        A column of ``newdata``: one panel per level (required by the ``*_grouped`` types).
    stat : str, callable, or two of them
        The statistic of ``stat`` types: ``"mean"``, ``"sd"``, ``"median"``, ``"min"``, ``"max"``, ``"var"``,
        ``"prop_zero"``, or a function of a 1-D array; a pair, e.g. ``("mean", "sd")``, gives a scatter.
    levels : {"existing", "new"}
        As :func:`mixeff.posterior_predict`: the fitted clusters' own effects, or every cluster replaced
        by a freshly simulated one in each draw ("mixed replication").
    draws : {"posterior", "prior"}
        Which draws of the fit (a spec's own draws when it holds prior ones).
    newdata : DataFrame, optional
        Rows with the observed response; the model's data by default.
    x : str, optional
        ``intervals`` types: the numeric column on the x axis (default: the row number).
    seed : int or numpy Generator, optional
        Makes the replications, the choice of ``ndraws`` and the PIT's randomisation reproducible.
    draw : bool
        False: return the data instead of a figure.
    ax : matplotlib Axes, optional
        Draw into this axes (one-panel types); the caption then heads the legend beside it.
    prob : float
        Level of the intervals and of the PIT band.

    Returns
    -------
    matplotlib.figure.Figure or pandas.DataFrame
        The figure (``fig.mixeff_p_value``: the posterior predictive p-value of a ``stat`` type, a float,
        a dict by statistic for two, by group level for grouped types; None for other types; also shown
        in the legend).  With ``draw=False``, long data: ``rep`` (the draw's 0-based position, or
        ``"observed"``), ``obs`` (row of newdata), ``value``, and the ``group`` and ``x`` columns when given;
        for ``stat`` types one row per draw and ``"observed"``, a column per statistic (named after it),
        and the p-value in ``.attrs["p_value"]``.  ``.attrs`` also hold ``type``, ``source``, ``levels``,
        ``ndraws`` and ``prob``.

    Examples
    --------
    >>> from dataclasses import replace
    >>> import mixeff
    >>> from mixeff.model.examples import toy_spec
    >>> spec = replace(toy_spec(n_draws=500), response="y")
    >>> fig = mixeff.pp_check(spec, "stat", stat="sd", seed=1)
    >>> fig.savefig("/tmp/mixeff_pp_check_stat.png")
    >>> 0 <= fig.mixeff_p_value <= 1
    True
    >>> data = mixeff.pp_check(spec, "dens_overlay", ndraws=20, group="TX", seed=1, draw=False)
    >>> sorted(data.columns), int((data["rep"] == "observed").sum()) == len(spec.data)
    (['TX', 'obs', 'rep', 'value'], True)
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not isinstance(type, str) or type not in TYPES:
        raise ValueError(f"type={type!r} is not a pp_check type; choose one of {list(TYPES)}")
    if isinstance(fit, ModelSpec) and draws == "posterior":
        draws = fit.source  # a spec of prior draws: a prior predictive check
    spec = resolve_spec(fit, draws)
    kind = _kind(spec)
    if type not in FAMILY_TYPES[kind]:
        raise ValueError(
            f"type={type!r} does not apply to the {spec.family.name} family (a {kind} response); the types "
            f"that do: {list(FAMILY_TYPES[kind])}"
        )
    if not isinstance(prob, (int, float)) or not 0 < prob < 1:
        raise ValueError(f"prob={prob!r} must be in (0, 1), e.g. 0.9 for 90% intervals")
    if newdata is not None and not isinstance(newdata, pd.DataFrame):
        raise TypeError(
            f"newdata must be a pandas DataFrame or None (the model's data); got {builtins.type(newdata).__name__}"
        )
    rows = (spec.data if newdata is None else newdata).reset_index(drop=True)
    base = type.removesuffix("_grouped")
    _check_group(type, base, group, rows)
    stats = _check_stat(type, stat)
    xv = _check_x(base, x, rows)
    y = _observed(spec, rows, newdata is not None)
    total = spec.n_samples
    nd = _check_ndraws(type, ndraws, total)

    if ax is not None and (base in ("hist",) or group is not None):
        raise ValueError(f"ax=: type={type!r} draws several panels; leave ax out (a figure of its own)")
    panels = _panels(rows, group)
    yrep: np.ndarray | None = None
    t_rep: dict[Any, dict[str, np.ndarray]] = {}
    streamed = base == "stat" and _streamable(kind, stats, rows, group)
    if streamed:
        t_rep = _streamed_statistics(fit, rows, panels, stats, levels=levels, draws=draws, seed=seed)
    else:
        yrep = posterior_predict(fit, rows, levels=levels, draws=draws, seed=seed).draws
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ids = np.arange(total) if nd == total else np.sort(rng.choice(total, nd, replace=False))
    if yrep is not None:
        yrep = yrep[:, ids]
        if base == "stat":
            t_rep = {label: {name: _statistic(fn, yrep[mask]) for name, fn in stats} for label, mask in panels}
    else:
        t_rep = {label: {name: t[ids] for name, t in ts.items()} for label, ts in t_rep.items()}
    t_obs = _observed_statistics(y, panels, stats, streamed and whole_number_family(spec))
    ctx = _Context(spec, kind, str(spec.response), stats, float(prob), rng, _trials(spec, rows), xv, x)
    attrs = dict(type=type, source=spec.source, levels=levels, ndraws=int(nd), prob=float(prob))

    if base == "stat":
        table, p_value = _stat_table(t_obs, t_rep, ids, group, panels, stats)
        if not draw:
            table.attrs.update(attrs, p_value=p_value)
            return table
    elif not draw:
        assert yrep is not None  # only stat types stream
        table = _long(y, yrep, ids, rows, group, x)
        table.attrs.update(attrs)
        return table

    title = f"{spec.source.capitalize()} predictive check: {TYPES[type]}"
    note = _caption(spec.source, levels, nd, total, seed, type, prob)
    if base == "hist":
        assert yrep is not None  # only stat types stream
        fig = _hist_figure(y, yrep, ids, ctx)
        fig.suptitle(title)
        add_caption(fig, note)
        fig.mixeff_p_value = None  # type: ignore[attr-defined]
        return fig

    if ax is not None:
        fig, axes = ax.figure, [ax]
    elif len(panels) == 1:
        fig, axes = plt.subplots(figsize=(WIDTH, 4.4 if base != "boxplot" else 4.0), layout="constrained")
        axes = [axes]
    else:
        fig, axes, _ = facet_grid(len(panels), sharex=False, sharey=False)
    draw_panel = _PANELS[base]
    handles: list = []
    p_values = {}
    for a, (label, mask) in zip(axes, panels):
        if base == "stat":
            out = _stat(a, t_obs[label], t_rep[label], ctx)
        else:
            assert yrep is not None  # only stat types stream
            out = draw_panel(a, y[mask], yrep[mask], ctx, mask)
        handles = out["handles"]
        p_values[label] = out.get("p_value")
        if label is not None:
            a.set_title(f"{group} = {label}" + out.get("title", ""), fontsize="medium")
        if ctx.kind in ("count", "binomial") and base in ("bars", "rootogram", "ecdf_overlay"):
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    if base == "stat" and group is not None:  # each panel's T(y) and p are in its title
        handles = [handles[0], _line(OBSERVED, "T(y) (observed; p in the title)", linewidth=2.0)]
    key = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False, fontsize="small")
    if ax is not None:
        ax.set_title(title, fontsize="medium")
        wrapped = "\n".join(textwrap.fill(part, 44) for part in note.split("\n"))
        ax.legend(handles=handles, title=wrapped, title_fontproperties={"size": "x-small"}, alignment="left", **key)
    else:
        fig.suptitle(title)
        if len(panels) == 1:
            axes[0].legend(handles=handles, **key)
        else:
            fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize="small")
        add_caption(fig, note)
    p_value = (p_values[None] if group is None else p_values) if base == "stat" else None
    fig.mixeff_p_value = p_value  # type: ignore[attr-defined]
    return fig


# --------------------------------------------------------------------------- #
# arguments
# --------------------------------------------------------------------------- #


def _kind(spec: ModelSpec) -> str:
    f = spec.family
    if f.categorical:
        return "ordinal" if f.ordinal else "categorical"
    if f.support == "binary":
        return "binary"
    if f.support == "count":
        return "binomial" if f.needs_trials else "count"
    return "continuous"


def _check_group(type: str, base: str, group, rows: pd.DataFrame) -> None:
    if group is None:
        if type.endswith("_grouped"):
            raise ValueError(f"type={type!r} needs group=: a column of the data whose levels get one panel each")
        return
    if base in ("hist", "boxplot"):
        raise ValueError(f"group={group!r}: type={type!r} draws no groups; leave group out, or use another type")
    if not isinstance(group, str) or group not in rows.columns:
        raise ValueError(f"group={group!r} is not a column of the data; available: {list(rows.columns)}")


def _check_stat(type: str, stat) -> list[tuple[str, Callable[..., Any]]]:
    if not type.startswith("stat"):
        if stat is not None:
            raise ValueError(f"stat={stat!r} is for the types 'stat' and 'stat_grouped', not type={type!r}")
        return []
    if stat is None:
        raise ValueError(
            f"type={type!r} needs stat=: one of {list(STATS)}, a function of a 1-D array, or two of them "
            "(e.g. stat=('mean', 'sd'))"
        )
    items = list(stat) if isinstance(stat, (tuple, list)) else [stat]
    if not 1 <= len(items) <= 2:
        raise ValueError(f"stat={stat!r}: give one statistic or two (a scatter of the pair)")
    out = []
    for s in items:
        if isinstance(s, str) and s in STATS:
            out.append((s, STATS[s]))
        elif callable(s) and not isinstance(s, str):
            out.append((getattr(s, "__name__", "T"), s))
        else:
            raise ValueError(f"stat={s!r} is not a statistic: use one of {list(STATS)} or a function of a 1-D array")
    return out


def _check_x(base: str, x, rows: pd.DataFrame) -> np.ndarray | None:
    if x is None:
        return None
    if base != "intervals":
        raise ValueError(f"x={x!r} is for the types 'intervals' and 'intervals_grouped'")
    if not isinstance(x, str) or x not in rows.columns:
        raise ValueError(f"x={x!r} is not a column of the data; available: {list(rows.columns)}")
    if not pd.api.types.is_numeric_dtype(rows[x]):
        raise ValueError(f"x={x!r}: the column holds {rows[x].dtype} values; x must be numeric")
    return rows[x].to_numpy(dtype=float)


def _check_ndraws(type: str, ndraws, total: int) -> int:
    if ndraws is None:
        return min(OVERLAY_NDRAWS.get(type, total), total)
    if isinstance(ndraws, bool) or not isinstance(ndraws, (int, np.integer)) or ndraws < 1:
        raise ValueError(f"ndraws={ndraws!r} must be a whole number >= 1 (replicated data sets)")
    if ndraws > total:
        raise ValueError(
            f"ndraws={ndraws} is larger than the fit's {total} draws; choose 1 to {total}, or leave ndraws out"
        )
    return int(ndraws)


def _observed(spec: ModelSpec, rows: pd.DataFrame, given: bool) -> np.ndarray:
    """The observed response as numbers (category positions 1..K for category families)."""
    name = spec.response
    where = "newdata" if given else "the model's data"
    if name is None or name not in rows.columns:
        raise ValueError(
            f"newdata: pp_check needs the observed response, but {where} "
            + ("name no response (the fit names none)" if name is None else f"have no column {name!r}")
            + ": pass rows that hold the response"
            + ("" if name is None else f" column {name!r}")
            + (" (a spec from mixeff.from_arrays: dataclasses.replace(spec, response='y'))" if name is None else "")
        )
    column = rows[name]
    if spec.family.categorical:
        labels = [str(c) for c in spec.categories]
        text = column.astype(str)
        if text.isin(labels).all():
            return np.array([labels.index(v) + 1.0 for v in text])
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        if np.isin(values, np.arange(1, len(labels) + 1)).all():
            return values
        raise ValueError(
            f"newdata: the response column {name!r} holds values that are not the categories {labels} "
            "(nor their positions 1..K)"
        )
    if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
        raise ValueError(f"newdata: the response column {name!r} holds {column.dtype} values, not numbers")
    y = column.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(
            f"newdata: the response column {name!r} has {int((~np.isfinite(y)).sum())} missing or infinite "
            "value(s); drop those rows"
        )
    return y


def _trials(spec: ModelSpec, rows: pd.DataFrame) -> np.ndarray:
    t = spec.trials
    if t is None:
        return np.ones(len(rows))
    if isinstance(t, str):
        return rows[t].to_numpy(dtype=float)
    return np.full(len(rows), float(t))


def _panels(rows: pd.DataFrame, group) -> list[tuple[Any, np.ndarray]]:
    if group is None:
        return [(None, np.ones(len(rows), dtype=bool))]
    column = rows[group]
    return [(lev, (column == lev).to_numpy()) for lev in pd.unique(column)]


# --------------------------------------------------------------------------- #
# data (draw=False)
# --------------------------------------------------------------------------- #


def _long(y, yrep, ids, rows, group, x) -> pd.DataFrame:
    n, s = yrep.shape
    rep = np.empty(n * (s + 1), dtype=object)
    rep[:n] = "observed"
    rep[n:] = np.repeat(ids, n)
    table = pd.DataFrame(
        {"rep": rep, "obs": np.tile(np.arange(n), s + 1), "value": np.concatenate([y, yrep.T.ravel()])}
    )
    for column in dict.fromkeys(c for c in (group, x) if c is not None):
        table[column] = np.tile(rows[column].to_numpy(), s + 1)
    return table


def _statistic(fn, values: np.ndarray) -> np.ndarray:
    """``fn`` of each column of ``(rows, draws)`` values."""
    if fn in STATS.values():
        return np.asarray(fn(values, axis=0), dtype=float)
    return np.array([float(fn(values[:, j])) for j in range(values.shape[1])])


def _streamable(kind: str, stats, rows: pd.DataFrame, group) -> bool:
    """Whether the statistics are streamed (:func:`_streamed_statistics`) rather than computed from y_rep.

    The named ``mean``, ``sd``, ``var`` and ``prop_zero`` of a response that is not a category, with
    every row in a panel.
    """
    if kind in ("ordinal", "categorical") or any(_stat_name(fn) not in STREAMED_STATISTICS for _, fn in stats):
        return False
    return group is None or not rows[group].isna().any()


def _stat_name(fn) -> str | None:
    """The name of a named statistic's function (None for other functions)."""
    return next((name for name, f in STATS.items() if f is fn), None)


def _streamed_statistics(fit, rows, panels, stats, **options) -> dict[Any, dict[str, np.ndarray]]:
    """Each panel's statistics of every draw's replicated data, streamed by row chunk (no rows × draws array).

    The engine's pass of :func:`~mixeff.verbs.predictive.posterior_predict` (the same replications for
    the same seed), each chunk reduced within draw by panel
    (:func:`~mixeff.verbs.predictive.replicated_statistics`).
    """
    codes = np.zeros(len(rows), dtype=np.int64)
    for i, (_, mask) in enumerate(panels):
        codes[mask] = i
    named = [(name, str(_stat_name(fn))) for name, fn in stats]
    values = replicated_statistics(fit, rows, list(dict.fromkeys(n for _, n in named)), codes, **options)
    return {label: {name: values[n][i] for name, n in named} for i, (label, _) in enumerate(panels)}


def _observed_statistics(y, panels, stats, whole: bool) -> dict[Any, dict[str, float]]:
    """Each panel's ``T(y)``: numpy's, or for streamed ``var``/``sd`` of whole numbers the streamed formula.

    That formula gives equal data sets equal values to the bit (numpy's rounding depends on the order of
    the values), so a replicated data set with the observed values ties with ``T(y)``.
    """
    out = {}
    for label, mask in panels:
        values = {}
        for name, fn in stats:
            what = _stat_name(fn)
            if whole and what in ("var", "sd"):
                var = sample_variance(y[mask], whole=True)
                values[name] = float(np.sqrt(var)) if what == "sd" else var
            else:
                values[name] = float(_statistic(fn, y[mask][:, None])[0])
        out[label] = values
    return out


def p_value(t_rep: np.ndarray, t_obs: float) -> float:
    """The posterior predictive p-value: the share of replicated statistics >= the observed one.

    Examples
    --------
    >>> p_value(np.array([1.0, 2.0, 3.0, 4.0]), 2.0)
    0.75
    """
    return float(np.mean(t_rep >= t_obs))


def _stat_table(t_obss, t_reps, ids, group, panels, stats):
    parts, p_values = [], {}
    for label, _ in panels:
        frame = pd.DataFrame({"rep": np.array(["observed", *ids], dtype=object)})
        ps = {}
        for name, _ in stats:
            t_obs = t_obss[label][name]
            t_rep = t_reps[label][name]
            frame[name] = np.concatenate([[t_obs], t_rep])
            ps[name] = p_value(t_rep, t_obs)
        if group is not None:
            frame.insert(0, group, label)
        parts.append(frame)
        p_values[label] = ps if len(stats) > 1 else ps[stats[0][0]]
    table = pd.concat(parts, ignore_index=True)
    return table, (p_values[None] if group is None else p_values)


# --------------------------------------------------------------------------- #
# captions
# --------------------------------------------------------------------------- #

_NOTES = {
    "dens_overlay": "dark: kernel density of y; light: of each replicated data set y_rep",
    "hist": "first panel: y; the others: replicated data sets y_rep",
    "boxplot": "dark: y; light: replicated data sets y_rep (boxes: quartiles; whiskers: 1.5 IQR)",
    "ecdf_overlay": "dark: empirical CDF of y; light: of each replicated data set y_rep",
    "stat": "p: share of replicated statistics T(y_rep) >= the observed T(y)",
    "intervals": "light: median and {lev}% interval of each observation's y_rep; dark: y",
    "scatter_avg": "points: observations; dashed: y = mean of y_rep",
    "bars": "bars: observed counts; points and bars: median and {lev}% interval of the replicated counts",
    "rootogram": "line: √ expected frequency (shaded: {lev}% interval); bars: √ observed frequency, hanging "
    "from the line (a bar ending above or below 0: fewer or more observed than expected)",
    "error_binned": "points: average residual y − E[y_rep] per bin of E[y_rep] (proportions); "
    "lines: ±2 standard errors",
    "pit_ecdf": "line: ECDF of the PIT values P(y_rep < y) (+ U·P(y_rep = y)) minus the uniform CDF; "
    "band: simultaneous {lev}% band (arviz-stats)",
}


def _caption(source, levels, nd, total, seed, type, prob) -> str:
    picked = f"{total} {source} draws" if nd == total else f"{nd} of {total} {source} draws at random"
    if seed is not None and not isinstance(seed, np.random.Generator):
        picked += f" (seed={seed})"
    own = "the clusters' own effects in each prior draw" if source == "prior" else "the fitted clusters' own effects"
    where = (
        f"existing levels ({own})"
        if levels == "existing"
        else "new levels (every cluster replaced by a freshly simulated one)"
    )
    note = _NOTES[type.removesuffix("_grouped")].format(lev=level_name(prob))
    return f"{picked}; {where}\n{note}"


# --------------------------------------------------------------------------- #
# panels
# --------------------------------------------------------------------------- #


def _line(color, label, **kw):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, label=label, **kw)


def _patch(color, label, **kw):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, label=label, **kw)


def _bounds(ctx: _Context):
    return (0.0, 1.0) if ctx.spec.family.support == "unit" else None


def _dens(ax, y, yrep, ctx: _Context, mask) -> dict:
    bounds = _bounds(ctx)
    lo, hi = x_range([y, yrep], [y.min(), y.max()], bounds=bounds)
    gx, gd = kde(yrep.T, window=(lo, hi), bounds=bounds)
    for gxi, gdi in zip(gx, gd):
        ax.plot(gxi, gdi, color=REPLICATED, linewidth=0.6, alpha=0.5, gid="replicated")
    ox, od = kde(y[None, :], bounds=bounds)
    ax.plot(ox[0], od[0], color=OBSERVED, linewidth=1.8, gid="observed")
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(ctx.name)
    ax.set_ylabel("density")
    handles = [_line(OBSERVED, "y (observed)", linewidth=1.8), _line(REPLICATED, "y_rep (replicated)")]
    return {"handles": handles}


def _ecdf(ax, y, yrep, ctx: _Context, mask) -> dict:
    n = len(y)
    heights = np.arange(1, n + 1) / n
    for j in range(yrep.shape[1]):
        ax.step(
            np.sort(yrep[:, j]), heights, where="post", color=REPLICATED, linewidth=0.6, alpha=0.6, gid="replicated"
        )
    ax.step(np.sort(y), heights, where="post", color=OBSERVED, linewidth=1.6, gid="observed")
    lo, hi = x_range([y, yrep], [y.min(), y.max()])
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(ctx.name)
    ax.set_ylabel("cumulative share")
    _category_ticks(ax, ctx)
    return {"handles": [_line(OBSERVED, "y (observed)", linewidth=1.6), _line(REPLICATED, "y_rep (replicated)")]}


def _boxplot(ax, y, yrep, ctx: _Context, mask) -> dict:
    data = [y] + [yrep[:, j] for j in range(yrep.shape[1])]
    box = ax.boxplot(
        data,
        patch_artist=True,
        widths=0.6,
        flierprops=dict(marker="o", markersize=2, markerfacecolor="0.5", markeredgecolor="none", alpha=0.6),
        medianprops=dict(color="white", linewidth=1.5),
    )
    for i, patch in enumerate(box["boxes"]):
        patch.set_facecolor(OBSERVED if i == 0 else REPLICATED)
        patch.set_edgecolor(OBSERVED if i == 0 else REPLICATED_DARK)
    ax.set_xticks(np.arange(1, len(data) + 1), ["y"] + [""] * (len(data) - 1))
    ax.set_xlabel(f"observed y, then {yrep.shape[1]} replicated data sets y_rep")
    ax.set_ylabel(ctx.name)
    if np.min(y) >= 0 and np.min(yrep) >= 0:
        ax.set_ylim(bottom=min(0, ax.get_ylim()[0]))
    return {"handles": [_patch(OBSERVED, "y (observed)"), _patch(REPLICATED, "y_rep (replicated)")]}


def _stat(ax, t_obs: dict[str, float], t_rep: dict[str, np.ndarray], ctx: _Context) -> dict:
    (n1, f1), *rest = ctx.stats
    t1_obs = t_obs[n1]
    t1 = t_rep[n1]
    p1 = p_value(t1, t1_obs)
    if not rest:
        lo, hi = min(t1.min(), t1_obs), max(t1.max(), t1_obs)
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = stat_edges(t1, lo, hi)
        ax.hist(t1, bins=edges, color=REPLICATED, edgecolor="white", linewidth=0.4, gid="replicated")
        ax.axvline(t1_obs, color=OBSERVED, linewidth=2.0, gid="observed")
        ax.set_xlabel(f"{n1}({ctx.name})")
        ax.set_ylabel("replicated data sets")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.05)
        handles = [
            _patch(REPLICATED, f"T(y_rep): {n1} of each\nreplicated data set"),
            _line(OBSERVED, f"T(y) = {t1_obs:.4g}\np = {p1:.3f}", linewidth=2.0),
        ]
        return {"handles": handles, "p_value": p1, "title": f": T(y) = {t1_obs:.4g}, p = {p1:.3f}"}
    n2, f2 = rest[0]
    t2_obs = t_obs[n2]
    t2 = t_rep[n2]
    p2 = p_value(t2, t2_obs)
    ax.plot(t1, t2, "o", color=REPLICATED, markersize=3, alpha=0.5, linestyle="none", gid="replicated")
    ax.plot([t1_obs], [t2_obs], color=OBSERVED, gid="observed", **{**POINT, "markersize": 8})
    ax.set_xlabel(f"{n1}({ctx.name})")
    ax.set_ylabel(f"{n2}({ctx.name})")
    handles = [
        _line(REPLICATED, "T(y_rep): replicated data sets", marker="o", linestyle="none", markersize=4),
        _line(
            OBSERVED,
            f"T(y) = ({t1_obs:.4g}, {t2_obs:.4g})\np = {p1:.3f} ({n1}), {p2:.3f} ({n2})",
            marker="o",
            linestyle="none",
            markersize=7,
        ),
    ]
    return {"handles": handles, "p_value": {n1: p1, n2: p2}, "title": f": p = {p1:.3f}, {p2:.3f}"}


def stat_edges(t: np.ndarray, lo: float, hi: float, bins: int = 30) -> np.ndarray:
    """Bin edges of a statistic's histogram.

    One bin per value when the values lie on a lattice of at most 60 steps (e.g. a share of zeros, k/n),
    else ``bins`` equal bins over ``[lo, hi]``.

    Examples
    --------
    >>> stat_edges(np.array([0.1, 0.2, 0.2, 0.4]), 0.1, 0.4).round(2).tolist()
    [0.05, 0.15, 0.25, 0.35, 0.45]
    """
    values = np.unique(t)
    if 1 < values.size <= 60:
        step = float(np.min(np.diff(values)))
        steps = (hi - lo) / step
        if steps <= 60 and np.allclose((values - values[0]) / step, np.round((values - values[0]) / step)):
            return lo - step / 2 + step * np.arange(int(np.round(steps)) + 2)
    return np.histogram_bin_edges(t, bins=bins, range=(lo, hi))


def _intervals(ax, y, yrep, ctx: _Context, mask) -> dict:
    xs = ctx.x[mask] if ctx.x is not None else np.flatnonzero(mask) + 1.0
    lo, hi, med = row_quantiles(yrep, [(1 - ctx.prob) / 2, (1 + ctx.prob) / 2], median=True)
    width = 1.6 if len(y) <= 60 else 0.8
    ax.vlines(xs, lo, hi, color=REPLICATED, linewidth=width, gid="interval")
    size = 5 if len(y) <= 60 else 2.5
    ax.plot(xs, med, "o", color=REPLICATED_DARK, markersize=size, markeredgecolor="none", gid="median")
    ax.plot(xs, y, "o", color=OBSERVED, markersize=size, markeredgecolor="none", gid="observed")
    ax.set_xlabel(ctx.x_name or "observation (row of the data)")
    ax.set_ylabel(ctx.name)
    _category_ticks(ax, ctx, axis="y")
    lev = level_name(ctx.prob)
    handles = [
        _line(OBSERVED, "y (observed)", marker="o", linestyle="none", markersize=4),
        _line(REPLICATED_DARK, "median of y_rep", marker="o", linestyle="none", markersize=4),
        _line(REPLICATED, f"{lev}% interval of y_rep", linewidth=1.6),
    ]
    return {"handles": handles}


def _scatter_avg(ax, y, yrep, ctx: _Context, mask) -> dict:
    m = yrep.mean(axis=1)
    ax.plot(m, y, "o", color=OBSERVED, markersize=3, alpha=0.6, markeredgecolor="none", gid="observed")
    lo, hi = min(m.min(), y.min()), max(m.max(), y.max())
    pad = 0.04 * (hi - lo if hi > lo else 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", linestyle="--", linewidth=1, gid="identity")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f"mean of replicated {ctx.name} (y_rep)")
    ax.set_ylabel(f"observed {ctx.name} (y)")
    handles = [
        _line(OBSERVED, "observation", marker="o", linestyle="none", markersize=4),
        _line("0.5", "y = mean(y_rep)", linestyle="--"),
    ]
    return {"handles": handles}


def _values(y, yrep, ctx: _Context) -> np.ndarray:
    if ctx.kind in ("ordinal", "categorical"):
        return np.arange(1.0, len(ctx.spec.categories) + 1)
    if ctx.kind == "binary":
        return np.array([0.0, 1.0])
    top = max(y.max(), np.quantile(yrep, 0.995))
    values = np.union1d(np.unique(y), np.unique(yrep))
    return values[values <= top]


def count_values(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """How often each of ``at`` occurs in each column of ``values`` ``(rows, draws)``: ``(len(at), draws)``."""
    return np.stack([(values == v).sum(axis=0) for v in at]).astype(float)


def _bars(ax, y, yrep, ctx: _Context, mask) -> dict:
    values = _values(y, yrep, ctx)
    observed = count_values(y[:, None], values)[:, 0]
    counts = count_values(yrep, values)
    lo, hi, med = row_quantiles(counts, [(1 - ctx.prob) / 2, (1 + ctx.prob) / 2], median=True)
    ax.bar(values, observed, width=0.8, color=REPLICATED, alpha=0.7, gid="observed")
    ax.vlines(values, lo, hi, color=REPLICATED_DARK, linewidth=1.6, gid="interval")
    ax.plot(values, med, color=REPLICATED_DARK, gid="median", **{**POINT, "markersize": 5})
    ax.set_ylim(bottom=0)
    ax.set_xlabel(ctx.name)
    ax.set_ylabel("count")
    _category_ticks(ax, ctx)
    if ctx.kind == "binary":
        ax.set_xticks([0, 1])
    lev = level_name(ctx.prob)
    handles = [
        _patch(REPLICATED, "y (observed)", alpha=0.7),
        _line(REPLICATED_DARK, f"y_rep: median and {lev}% interval", marker="o", markersize=5),
    ]
    return {"handles": handles}


def _rootogram(ax, y, yrep, ctx: _Context, mask) -> dict:
    top = int(max(y.max(), np.quantile(yrep, 0.995)))
    ks = np.arange(0, top + 1, dtype=float)
    observed = count_values(y[:, None], ks)[:, 0]
    counts = count_values(yrep, ks)
    expected = counts.mean(axis=1)
    lo, hi = row_quantiles(counts, [(1 - ctx.prob) / 2, (1 + ctx.prob) / 2])
    root_e, root_o = np.sqrt(expected), np.sqrt(observed)
    ax.fill_between(ks, np.sqrt(lo), np.sqrt(hi), color=REPLICATED, alpha=0.3, linewidth=0, gid="band")
    ax.bar(ks, root_o, bottom=root_e - root_o, width=0.8, color="0.55", alpha=0.8, gid="observed")
    ax.plot(ks, root_e, color=REPLICATED_DARK, linewidth=1.6, marker="o", markersize=3, gid="expected")
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel(ctx.name)
    ax.set_ylabel("√ frequency")
    lev = level_name(ctx.prob)
    handles = [
        _line(REPLICATED_DARK, "√ expected (mean of y_rep)", marker="o", markersize=3),
        _patch(REPLICATED, f"{lev}% interval of y_rep", alpha=0.3),
        _patch("0.55", "√ observed (hanging)", alpha=0.8),
    ]
    return {"handles": handles}


def n_bins(n: int) -> int:
    """The number of bins of arm's ``binnedplot``: ``floor(sqrt(n))`` from 100 rows, 10 from 10, else ``floor(n/2)``.

    Examples
    --------
    >>> [n_bins(n) for n in (6, 50, 400)]
    [3, 10, 20]
    """
    if n >= 100:
        return int(np.floor(np.sqrt(n)))
    if n >= 10:
        return 10
    return max(1, n // 2)


def binned_residuals(y, yrep, trials) -> pd.DataFrame:
    """Bins of equal size by the expected proportion: mean expected, mean residual and 2 SE per bin."""
    p = yrep.mean(axis=1) / trials
    r = y / trials - p
    order = np.argsort(p, kind="stable")
    rows = []
    for idx in np.array_split(order, n_bins(len(y))):
        if idx.size == 0:
            continue
        se2 = 2 * np.sqrt(np.sum(p[idx] * (1 - p[idx]) / trials[idx])) / idx.size
        rows.append((p[idx].mean(), r[idx].mean(), se2, idx.size))
    return pd.DataFrame(rows, columns=["expected", "residual", "bound", "n"])


def _error_binned(ax, y, yrep, ctx: _Context, mask) -> dict:
    bins = binned_residuals(y, yrep, ctx.trials[mask])
    ax.fill_between(bins["expected"], -bins["bound"], bins["bound"], color=REPLICATED, alpha=0.25, linewidth=0)
    ax.plot(bins["expected"], bins["bound"], color=REPLICATED_DARK, linewidth=1, gid="upper")
    ax.plot(bins["expected"], -bins["bound"], color=REPLICATED_DARK, linewidth=1, gid="lower")
    ax.axhline(0, color="0.5", linewidth=0.8, linestyle="--")
    ax.plot(bins["expected"], bins["residual"], color=OBSERVED, gid="binned", **POINT)
    ax.set_xlim(-0.02, 1.02)
    what = "proportion" if ctx.kind == "binomial" else "probability"
    ax.set_xlabel(f"expected {what} E[y_rep]" + (" / trials" if ctx.kind == "binomial" else ""))
    ax.set_ylabel("average residual y − E[y_rep]")
    inside = float(np.mean(np.abs(bins["residual"]) <= bins["bound"]))
    handles = [
        _line(OBSERVED, f"binned residuals ({len(bins)} bins, {inside:.0%} within ±2 SE)", **POINT),
        _line(REPLICATED_DARK, "±2 standard errors"),
    ]
    return {"handles": handles}


def pit_values(y, yrep, rng: np.random.Generator) -> np.ndarray:
    """PIT of each observation within its replicated draws: ``P(y_rep < y) + U·P(y_rep = y)``, U uniform."""
    below = np.mean(yrep < y[:, None], axis=1)
    equal = np.mean(yrep == y[:, None], axis=1)
    return below + rng.uniform(size=len(y)) * equal


def _pit_ecdf(ax, y, yrep, ctx: _Context, mask) -> dict:
    from arviz_stats.ecdf_utils import ecdf_pit

    pit = pit_values(y, yrep, ctx.rng)
    grid, ecdf, lower, upper = ecdf_pit(pit, ctx.prob, N_SIMULATIONS, rng=ctx.rng)
    ax.fill_between(
        grid, lower - grid, upper - grid, step="post", color=REPLICATED, alpha=0.35, linewidth=0, gid="band"
    )
    ax.step(grid, ecdf - grid, where="post", color=OBSERVED, linewidth=1.5, gid="observed")
    ax.axhline(0, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, 1)
    ax.set_xlabel("PIT value P(y_rep < y)")
    ax.set_ylabel("ECDF of PIT − uniform CDF")
    lev = level_name(ctx.prob)
    handles = [
        _line(OBSERVED, "ECDF of the PIT values − uniform", linewidth=1.5),
        _patch(REPLICATED, f"{lev}% simultaneous band", alpha=0.35),
    ]
    return {"handles": handles}


def _category_ticks(ax, ctx: _Context, axis: str = "x") -> None:
    if ctx.kind not in ("ordinal", "categorical"):
        return
    labels = [str(c) for c in ctx.spec.categories]
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    setter(np.arange(1, len(labels) + 1), labels)


_PANELS = {
    "dens_overlay": _dens,
    "ecdf_overlay": _ecdf,
    "boxplot": _boxplot,
    "stat": _stat,
    "intervals": _intervals,
    "scatter_avg": _scatter_avg,
    "bars": _bars,
    "rootogram": _rootogram,
    "error_binned": _error_binned,
    "pit_ecdf": _pit_ecdf,
}


def hist_edges(y: np.ndarray, yrep: np.ndarray, discrete: bool, bins: int = 30) -> np.ndarray:
    """Common bin edges of the histograms.

    One bin per whole number for discrete responses (within the bulk of the draws and every observed
    value), else ``bins`` equal bins over that range.
    """
    lo, hi = x_range([y, yrep], [y.min(), y.max()], pad=0.0)
    if discrete:
        lo, hi = np.ceil(lo), np.floor(hi)
        lo, hi = min(lo, y.min()), max(hi, y.max())
        return np.arange(lo - 0.5, hi + 1.0, 1.0)
    return np.histogram_bin_edges(y, bins=bins, range=(lo, hi))


def _hist_figure(y, yrep, ids, ctx: _Context):
    discrete = ctx.kind != "continuous"
    edges = hist_edges(y, yrep, discrete)
    n = yrep.shape[1] + 1
    fig, axes, ncol = facet_grid(n, sharex=True, sharey=True)
    for i, a in enumerate(axes):
        values = y if i == 0 else yrep[:, i - 1]
        a.hist(
            values,
            bins=edges,
            color=OBSERVED if i == 0 else REPLICATED,
            edgecolor="white",
            linewidth=0.3,
            gid="observed" if i == 0 else "replicated",
        )
        a.set_title("y (observed)" if i == 0 else f"y_rep (draw {ids[i - 1]})", fontsize="medium")
        if i >= n - ncol:
            a.set_xlabel(ctx.name)
        if i % ncol == 0:
            a.set_ylabel("count")
        _category_ticks(a, ctx)
        if ctx.kind in ("count", "binomial"):
            from matplotlib.ticker import MaxNLocator

            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig
