"""``kfold``: exact K-fold cross-validation by refitting the model, brms's ``kfold``.

The refits run through the fit itself (``MixedFit._refit``, in :mod:`mixeff.bambi.fitting`): the
verbs never import Bambi or PyMC.  The held-out rows are scored by :func:`mixeff.log_lik` of each
refit, and the result is arviz-stats' own k-fold container (:class:`arviz_stats.utils.ELPDDataLOOKFold`,
``kind="loo_kfold"``), so :func:`mixeff.loo_compare` and :func:`arviz_stats.compare` take it.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.utils import ELPDDataLOOKFold
from scipy import special

from ..engine.passes import row_progress
from ..model.spec import ModelSpec
from ..results import ConvergenceWarning
from .call import Fit
from .datatree import OBS
from .loglik import log_lik

DEFAULT_K = 10


@dataclass(kw_only=True, repr=False)
class KFoldData(ELPDDataLOOKFold):
    """The result of :func:`mixeff.kfold`: arviz-stats' k-fold ``ELPDData`` with what the folds were.

    Attributes
    ----------
    elpd, se, p
        elpd_kfold = Σ_i elpd_i, its standard error sqrt(n · var(elpd_i)) (variance with n − 1, as R's
        ``loo``), and p_kfold = Σ_i (lppd_i of the full fit − elpd_i), as brms computes them.
    elpd_i, p_kfold_i : xarray.DataArray
        Per row (dim ``"__obs__"``, the row's position in the fit's data, as :func:`mixeff.loo`) or per
        level (dim named after ``group``, the levels as :func:`mixeff.loo` with ``group=`` labels them).
    n_folds : int
        K.
    fold_fits : dict or None
        With ``save_fits=True``: ``{k: {"fit": MixedFit, "test_indices": rows}}`` for k = 1..K (rows are
        positions in the fit's data), arviz-stats' layout.
    group : str or None
        The grouping factor whose levels were kept together and scored whole.
    folds : numpy.ndarray
        The fold (1..K) of each row of the fit's data.
    refit_settings : dict
        The refits' ``draws``, ``tune``, ``chains``, ``sampler``, ``fit_kwargs`` and ``seed``.
    notes : tuple of str
        Settings that could not be read from the fit, and what was used instead.
    """

    group: str | None = None
    folds: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    refit_settings: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def _header(self):
        what = (
            f"levels of {self.group!r} kept together, each scored by its likelihood with its effects integrated out"
            if self.group is not None
            else "rows held out at random"
        )
        return f"Computed from {self.n_folds}-fold cross validation ({what}), {self.n_samples} draws per refit."


def kfold(
    fit: Fit,
    *,
    K: int | None = None,
    group: str | None = None,
    folds: Sequence[Hashable] | np.ndarray | pd.Series | None = None,
    seed: int | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    sampler: str | None = None,
    save_fits: bool = False,
    progress: bool | None = True,
    sampler_progress: bool = False,
    **fit_kwargs,
) -> KFoldData:
    """Exact K-fold cross-validation: refit the model K times, each time without one fold (brms's ``kfold``).

    The rows of the fit's data are split into K folds; for each fold k the model is refitted with
    PyMC on the other rows -- the same formula, family, link and priors as the fit -- and the fold's
    rows are scored by the refit's draws θ_s^(−k): elpd_i = log mean_s p(y_i | θ_s^(−k)).

    * Without ``group`` the folds are random rows of balanced sizes (R's ``loo::kfold_split_random``),
      or the given ``folds``, and each held-out row is scored with the conditional likelihood
      (:func:`mixeff.log_lik` on the held-out rows).  As brms's ``kfold`` does, a level the refit has
      not seen (a cluster whose rows all fell in the fold) gets ``allow_new_levels=True`` with
      ``sample_new_levels="gaussian"``: one draw of its effects from N(0, Σ_s) per draw s.  This
      answers the question of :func:`mixeff.loo`: new observations, mostly in the same clusters.
    * With ``group="g"`` whole levels of ``g`` are kept together (R's ``loo::kfold_split_grouped``:
      K folds of levels, their numbers of levels differing by at most one; with K equal to the number
      of levels, one level per fold in the order of the data) and each held-out *level* is scored by
      its joint likelihood with its effects integrated out over the refit's population,
      elpd_j = log mean_s exp(ll_j,s) with ll_j,s from :func:`mixeff.log_lik` with ``group="g"`` (closed
      form for gaussian and lognormal, adaptive Gauss–Hermite for bernoulli, binomial and poisson).
      This answers how well the model predicts a *new cluster*, and is the exact reference that
      :func:`mixeff.loo` with ``group="g"`` approximates by PSIS: the pointwise values have the same
      level labels in the same order.  (brms's ``kfold(group=)`` instead leaves out one level per
      fold, K = the number of levels, and scores each row by one Monte Carlo draw of the level's
      effects per draw; ``folds="grouped"`` there is this split.)  The other grouping factors keep
      their fitted levels: a level of another factor seen only in the held-out rows is an error.

    p_kfold = Σ_i (lppd_i − elpd_i), with lppd_i = log mean_s exp(ll_i,s) of the full fit (per level with
    ``group``), and se = sqrt(n · var(elpd_i)) with the n − 1 variance, as brms and R's ``loo`` compute them.

    The refits: a :func:`mixeff.fit` fit is refitted by the same ``fit`` call on the training rows,
    so priors computed from the data -- Bambi's default priors, scaled by the response and the
    predictors, and ``priors="brms"`` -- are computed again from the training rows, as brms
    recomputes its data-dependent default priors in ``kfold``; priors you gave are kept.  A
    :func:`mixeff.from_bambi` fit is rebuilt on the training rows with its priors exactly as its
    model holds them (Bambi has already scaled its defaults by the full data).  The sampler
    settings default to the fit's: a ``mixeff.fit`` fit's own draws, tune, chains and other sampler
    arguments (``target_accept``, ...), a ``from_bambi`` fit's chains × draws and recorded tuning
    steps (``res.notes`` says what could not be read).  The sampler defaults to PyMC whatever the fit
    used: a refit of a small model takes about 3.5 s with PyMC, whose compiled functions are reused
    between refits, against about 10 s with nutpie, which compiles each refit anew.  PyMC runs the
    chains in parallel on up to min(chains, cores) processes (``cores=`` overrides); the folds run one
    after the other.

    Parameters
    ----------
    fit : MixedFit
        A fit of :func:`mixeff.fit` or :func:`mixeff.from_bambi` with posterior draws.  Draws alone
        (:func:`mixeff.from_brms_draws`, :func:`mixeff.from_arrays`) cannot be refitted: run brms's
        ``kfold`` in R for a brms model.
    K : int, optional
        The number of folds, 2 ≤ K ≤ the number of rows (levels of ``group``).  Default 10 (brms's),
        or the number of rows (levels) when there are fewer.  With ``folds``: their number, if given.
    group : str, optional
        A grouping factor of the model: keep its levels together and score each level whole.
    folds : sequence, optional
        The fold of each row of the fit's data (any labels, one per row; K is the number of distinct
        labels).  With ``group``, each level must lie in one fold.
    seed : int, optional
        Makes the random folds, the refits and the effects drawn for new levels reproducible.
    draws, tune, chains, sampler
        The refits' sampler settings (``draws`` per chain); None: as described above.
    save_fits : bool
        Keep the refits on the result (``res.fold_fits``), as brms's ``save_fits``.
    progress : bool or None
        A progress bar over the folds (on a log file at most one line a minute and the last); None:
        the package default (:func:`mixeff.set_options`).
    sampler_progress : bool
        The sampler's own progress bar and log lines for each refit (silenced by default).
    **fit_kwargs
        Passed to each refit's sampler (``target_accept=0.95``, ``cores=1``...).

    Returns
    -------
    KFoldData
        arviz-stats' ``ELPDDataLOOKFold`` (``kind="loo_kfold"``): ``elpd``, ``se``, ``p``, ``elpd_i``,
        ``p_kfold_i``, ``n_folds``, ``fold_fits``; and ``group``, ``folds``, ``refit_settings``, ``notes``.
        :func:`mixeff.loo_compare` compares it with other k-fold (or, with arviz-stats' warning, LOO)
        results on the same rows or levels.

    Warns
    -----
    ConvergenceWarning
        Once, naming the folds whose refits showed R-hat, ESS or divergence problems in the scored rows.

    Examples
    --------
    >>> import mixeff, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"x": rng.normal(size=40), "g": np.repeat(list("abcd"), 10)})
    >>> d["y"] = 1 + 0.5 * d.x + np.repeat(rng.normal(0, 0.5, 4), 10) + rng.normal(size=40)
    >>> f = mixeff.fit("y ~ x + (1 | g)", d, draws=200, tune=200, chains=2, seed=1, progress=False)
    >>> import warnings
    >>> with warnings.catch_warnings():  # 400 draws per refit: R-hat and ESS may be flagged
    ...     warnings.simplefilter("ignore", mixeff.ConvergenceWarning)
    ...     res = mixeff.kfold(f, K=2, group="g", seed=1, progress=False)
    >>> res.kind, res.n_folds, list(res.elpd_i.coords["g"].values), sorted(np.bincount(res.folds)[1:].tolist())
    ('loo_kfold', 2, ['a', 'b', 'c', 'd'], [20, 20])
    """
    refit = getattr(fit, "_refit", None)
    if isinstance(fit, ModelSpec) or refit is None:
        raise TypeError(
            "kfold refits the model, which needs a fit of mixeff.fit or mixeff.from_bambi; "
            + (
                "this fit is draws only (from_brms_draws or from_arrays): for a brms model run brms::kfold(fit, K = "
                "10, group = ...) in R"
                if isinstance(fit, ModelSpec)
                else f"got {type(fit).__name__}"
            )
        )
    if fit.sample_prior == "only":  # type: ignore[union-attr]
        raise ValueError(
            "kfold scores the refits' posteriors, but this fit has prior draws only (sample_prior='only'): "
            "fit the model with sample_prior='no' (or 'yes') first"
        )
    spec = fit.spec("posterior")
    data = fit.data  # type: ignore[union-attr]
    n_rows = len(data)
    if group is not None and (not isinstance(group, str) or group not in spec.groups):
        raise ValueError(
            f"kfold: group={group!r} is not a grouping factor of the model; its factors are {list(spec.groups)}"
        )
    labels = None if group is None else np.asarray(spec.groups[group].labels_of(data)).astype(str)
    if save_fits not in (True, False):
        raise TypeError(f"kfold: save_fits={save_fits!r} must be True or False")
    rng = np.random.default_rng(seed)
    fold_of, K = assign_folds(n_rows, K=K, labels=labels, folds=folds, group=group, rng=rng)
    settings, notes = fit._refit_settings(  # type: ignore[union-attr]
        draws=draws, tune=tune, chains=chains, sampler=sampler, fit_kwargs=fit_kwargs
    )
    fit_seeds = rng.integers(0, 2**31 - 1, size=K)
    level_seeds = rng.integers(0, 2**31 - 1, size=K)

    # the full fit's lppd first: it is cheap, and refuses what the held-out scoring would (a family
    # log_lik(group=) does not integrate) before any refit
    full = log_lik(fit, group=group) if group is not None else log_lik(fit, progress=False)
    lppd = _log_mean_exp(np.asarray(full.draws, dtype=float))
    units = full.grid[group].astype(str).to_numpy() if group is not None else np.arange(n_rows)
    position = {str(u): j for j, u in enumerate(units)} if group is not None else None

    elpd = np.full(len(units), np.nan)
    fold_fits: dict[int, dict] = {}
    troubled: list[str] = []
    n_samples = settings["chains"] * settings["draws"]
    with row_progress(K, work=np.inf, progress=progress, unit="fold", desc="kfold", monitor=False) as done:
        for k in range(1, K + 1):
            test = np.flatnonzero(fold_of == k)
            train = np.flatnonzero(fold_of != k)
            try:
                refitted = refit(
                    data.iloc[train], settings=settings, seed=int(fit_seeds[k - 1]), progress=sampler_progress
                )
            except Exception as err:
                raise _in_context(err, f"kfold: refitting without fold {k} ({len(test)} rows held out) failed") from err
            held_out = data.iloc[test]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                try:
                    if group is not None:
                        scored = log_lik(refitted, newdata=held_out, group=group)
                    else:
                        scored = log_lik(
                            refitted,
                            newdata=held_out,
                            allow_new_levels=True,
                            sample_new_levels="gaussian",
                            seed=int(level_seeds[k - 1]),
                            progress=False,
                        )
                except ValueError as err:
                    raise ValueError(f"kfold: scoring fold {k}'s held-out rows failed: {err}") from err
            for w in caught:
                if issubclass(w.category, ConvergenceWarning):
                    troubled.append(f"fold {k}: {str(w.message).split(': ', 1)[-1].split('. Remedies')[0]}")
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            values = _log_mean_exp(np.asarray(scored.draws, dtype=float))
            if group is not None:
                assert position is not None
                elpd[[position[str(u)] for u in scored.grid[group].astype(str)]] = values
            else:
                elpd[test] = values
            if save_fits:
                fold_fits[k] = {"fit": refitted, "test_indices": test}
            done(1)
    if troubled:
        warnings.warn(
            f"kfold: the refits of {len(troubled)} of {K} folds may not be trustworthy ("
            + "; ".join(troubled)
            + "). Remedies: more draws for the refits (draws=, chains=), a higher target_accept (target_accept=0.95)",
            ConvergenceWarning,
            stacklevel=2,
        )
    n = len(units)
    dim = group if group is not None else OBS
    coords = {dim: units}
    return KFoldData(
        elpd=float(elpd.sum()),
        se=float(np.sqrt(n * np.var(elpd, ddof=1))),
        p=float(np.sum(lppd - elpd)),
        n_samples=n_samples,
        n_data_points=n,
        scale="log",
        warning=bool(troubled),
        good_k=None,
        elpd_i=xr.DataArray(elpd, dims=(dim,), coords=coords),
        n_folds=K,
        p_kfold_i=xr.DataArray(lppd - elpd, dims=(dim,), coords=coords),
        fold_fits=fold_fits if save_fits else None,
        group=group,
        folds=fold_of,
        refit_settings={**settings, "seed": seed},
        notes=notes,
    )


def assign_folds(
    n: int,
    *,
    K: int | None,
    labels: np.ndarray | None,
    folds=None,
    group: str | None = None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, int]:
    """``(fold of each row (1..K), K)``: random balanced folds of rows, or of the levels in ``labels``, or ``folds``.

    Rows (R's ``loo::kfold_split_random``): a random permutation of K blocks whose sizes differ by at
    most one.  Levels (``loo::kfold_split_grouped``): the same over the distinct labels, every row
    taking its level's fold; with K equal to the number of levels, level j (in order of first
    appearance) is fold j.  ``folds``: the given labels, numbered in sorted order (as R's
    ``factor``), each level of ``labels`` inside one fold.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f, k = assign_folds(10, K=3, labels=None, rng=rng)
    >>> k, sorted(np.bincount(f)[1:].tolist())
    (3, [3, 3, 4])
    >>> assign_folds(4, K=None, labels=np.array(["a", "a", "b", "c"]), rng=rng)
    (array([1, 1, 2, 3]), 3)
    """
    if K is not None and (isinstance(K, bool) or not isinstance(K, int | np.integer)):
        raise TypeError(f"kfold: K={K!r} must be a whole number of folds, e.g. K=10")
    if folds is not None:
        return _given_folds(n, K, labels, folds, group)
    levels, level_of_row = (None, None) if labels is None else _first_appearance(labels)
    units = n if levels is None else len(levels)
    what = "rows" if labels is None else f"levels of {group!r}"
    if K is None:
        K = min(DEFAULT_K, units)
    K = int(K)
    if K < 2:
        raise ValueError(f"kfold: K={K} must be at least 2 (the model is refitted without each fold)")
    if K > units:
        raise ValueError(
            f"kfold: K={K} exceeds the {units} {what}; use K <= {units}"
            + (f" (K={units}: leave one level out)" if labels is not None else " (K=n: exact leave-one-out)")
        )
    if labels is not None and K == units:
        assert level_of_row is not None
        return level_of_row + 1, K
    unit_fold = rng.permutation(np.arange(units) % K) + 1
    return (unit_fold if labels is None else unit_fold[level_of_row]), K


def _first_appearance(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(levels in order of first appearance, each row's level index)``."""
    codes, uniques = pd.factorize(pd.Series(labels), sort=False)
    return np.asarray(uniques), np.asarray(codes)


def _given_folds(n: int, K: int | None, labels: np.ndarray | None, folds, group: str | None) -> tuple[np.ndarray, int]:
    if isinstance(folds, str | bytes) or np.ndim(np.asarray(folds, dtype=object)) != 1:
        raise TypeError(
            f"kfold: folds must be one fold label per row of the fit's data (a list, array or Series), got "
            f"{type(folds).__name__}"
        )
    values = pd.Series(np.asarray(folds, dtype=object) if not isinstance(folds, pd.Series) else folds.to_numpy())
    if len(values) != n:
        raise ValueError(f"kfold: folds has {len(values)} labels but the fit's data has {n} rows: give one per row")
    if values.isna().any():
        raise ValueError(
            f"kfold: folds has {int(values.isna().sum())} missing label(s) (first at row "
            f"{int(np.flatnonzero(values.isna().to_numpy())[0])}): every row needs a fold"
        )
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError as err:
        raise TypeError(f"kfold: folds must be labels of one kind that sort (numbers or strings): {err}") from None
    k = len(uniques)
    if k < 2:
        raise ValueError(f"kfold: folds has {k} distinct label(s); cross-validation needs at least 2 folds")
    if K is not None and int(K) != k:
        raise ValueError(f"kfold: K={K} but folds has {k} distinct labels; leave K out when giving folds")
    if labels is not None:
        per_level = pd.DataFrame({"level": labels, "fold": codes}).groupby("level", sort=False)["fold"].nunique()
        split = per_level[per_level > 1]
        if len(split):
            level = split.index[0]
            where = sorted(pd.unique(values[labels == level]).tolist(), key=str)
            raise ValueError(
                f"kfold: folds split {len(split)} level(s) of {group!r} across folds, e.g. {level!r} lies in folds "
                f"{where}; with group=, every level's rows must share one fold"
            )
    return codes + 1, k


def _in_context(err: Exception, what: str) -> Exception:
    """``err`` again, its message prefixed by ``what`` (a RuntimeError when its type takes no message)."""
    try:
        return type(err)(f"{what}: {err}")
    except Exception:
        return RuntimeError(f"{what}: {type(err).__name__}: {err}")


def _log_mean_exp(ll: np.ndarray) -> np.ndarray:
    """The log of the mean over draws of exp(ll), per row of a ``(units, S)`` matrix, stably."""
    return special.logsumexp(ll, axis=1) - np.log(ll.shape[1])
