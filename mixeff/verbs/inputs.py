"""Checking what users pass, once, before any draw is touched.

Every error names the argument, the bad value and the fix: wrong types raise
``TypeError``, wrong values ``ValueError``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..config import check_jobs
from ..engine.options import SAMPLE_NEW_LEVELS, TYPES, PassOptions
from ..engine.reduce import Grouping
from ..model.checks import check_whole
from ..model.families import aux_name
from ..model.formula import missing_and_infinite, parse_re_formula
from ..model.spec import CATEGORY_COLUMN, ModelSpec
from ..results import check_summary_options
from .call import Call, by_names
from .counterfactual import counterfactual_frame, counterfactual_values
from .fits import resolve_spec
from .grid import newdata_shortcut


def open_call(call: Call) -> tuple[ModelSpec, PassOptions, pd.DataFrame]:
    """What every verb does first: the chosen draws, the checked options and the checked newdata.

    The spec of the chosen draws (all, or ``ndraws``/``draw_ids`` of them), the summary options
    checked, the engine options and the checked newdata frame.

    A newdata string such as ``"mean"`` becomes its grid, with ``by`` columns at every value, as
    marginaleffects; ``predictions``' ``variables`` replicate the frame (counterfactual predictions).
    """
    spec = choose_draws(resolve_spec(call.fit, call.draws), call.ndraws, call.draw_ids, call.seed)
    check_summary_options(call.conf_level, call.estimator, call.interval)
    pass_opts = pass_options(
        spec,
        type=call.type,
        dpar=call.dpar,
        re_formula=call.re_formula,
        allow_new_levels=call.allow_new_levels,
        sample_new_levels=call.sample_new_levels,
        seed=call.seed,
        chunk_rows=call.chunk_rows,
        progress=call.progress,
        n_jobs=call.n_jobs,
    )
    newdata = call.newdata
    if isinstance(newdata, str):
        names = by_names(call.by)
        newdata = newdata_shortcut(spec, newdata, None if not names else [c for c in names if c in spec.data.columns])
    frame = check_newdata(spec, newdata, pass_opts)
    if call.verb == "predictions" and call.variables is not None:
        frame = counterfactual_frame(frame, counterfactual_values(spec, call.variables))
    return spec, pass_opts, category_rows(spec, frame, pass_opts.type)


def pass_options(
    spec: ModelSpec,
    *,
    type="response",
    dpar=None,
    re_formula=None,
    allow_new_levels=False,
    sample_new_levels="uncertainty",
    seed=None,
    chunk_rows=None,
    progress=None,
    n_jobs=None,
) -> PassOptions:
    """The engine options of one call, with ``re_formula`` parsed once."""
    if not isinstance(type, str) or type not in TYPES:
        raise ValueError(f"type={type!r} is not one of {[t for t in TYPES if t != 'log_lik']}")  # log_lik: its verb
    if type == "prediction" and spec.family.categorical:
        raise ValueError(
            f"type='prediction' is not available for the {spec.family.name} family: its rows are the response's "
            "categories; type='response' gives each category's probability"
        )
    dpar = check_dpar(spec, dpar, type)
    if not isinstance(sample_new_levels, str) or sample_new_levels not in SAMPLE_NEW_LEVELS:
        raise ValueError(f"sample_new_levels={sample_new_levels!r} is not one of {list(SAMPLE_NEW_LEVELS)}")
    if not isinstance(allow_new_levels, bool):
        raise TypeError(f"allow_new_levels={allow_new_levels!r} must be True or False")
    if sample_new_levels == "integrate" and type == "log_lik":
        raise ValueError(
            "sample_new_levels='integrate' gives expected values; log_lik is the density of the observed response "
            "given one level's effects: use sample_new_levels='uncertainty' or 'gaussian'"
        )
    if sample_new_levels == "integrate" and type == "prediction":
        raise ValueError(
            "sample_new_levels='integrate' gives expected values (type='response' or 'link'); a predictive "
            "draw (type='prediction') needs one simulated level: use sample_new_levels='gaussian'"
        )
    if sample_new_levels == "integrate" and type == "response" and not spec.link.integrable:
        raise ValueError(
            f"sample_new_levels='integrate': with the {spec.link.name!r} link the expected value over new "
            "levels does not exist (1 / (η + u) has no mean when u is normal); use sample_new_levels="
            "'gaussian', type='link', or a model with a log link"
        )
    check_seed(seed)
    check_whole("chunk_rows", chunk_rows, 1, none_ok=True, meaning="rows per engine chunk; None: automatic")
    check_jobs(n_jobs, "n_jobs")
    parts = {"mu": spec.groups, **{name: part.groups for name, part in spec.dpars.items()}}
    include = {
        name: parse_re_formula(groups, re_formula, tuple(g for n, g in parts.items() if n != name))
        for name, groups in parts.items()
    }
    return PassOptions(
        include=include.pop("mu"),
        dpar_include=include,
        type=type,
        dpar=dpar,
        allow_new_levels=allow_new_levels,
        sample_new_levels=sample_new_levels,
        seed=seed,
        chunk_rows=chunk_rows,
        progress=progress,
        n_jobs=n_jobs,
    )


def choose_draws(spec: ModelSpec, ndraws=None, draw_ids=None, seed=None) -> ModelSpec:
    """The spec of the draws ``ndraws`` or ``draw_ids`` choose (all draws without either).

    ``ndraws``: that many draws at random (as brms), the same number from each chain when it divides
    evenly (so chains stay chains for R-hat), drawn with ``seed``; ``draw_ids``: those draws (0-based
    positions in the chain-major order of ``get_draws``'s ``drawid``), as one chain.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> spec = toy_spec()
    >>> sub = choose_draws(spec, ndraws=4, seed=1)
    >>> (sub.n_chains, sub.n_draws) == (spec.n_chains, 4 // spec.n_chains) or sub.n_chains == 1
    True
    >>> choose_draws(spec, draw_ids=[3, 0]).beta.tolist() == spec.beta[[3, 0]].tolist()
    True
    """
    chosen = draw_selection(spec, ndraws, draw_ids, seed)
    return spec if chosen is None else spec.select_draws(*chosen)


def draw_selection(spec: ModelSpec, ndraws=None, draw_ids=None, seed=None) -> tuple[np.ndarray, int, str] | None:
    """The draws :func:`choose_draws` keeps: ``(ids, n_chains, note)`` (flat chain-major ids), or None for all.

    ``seed`` (a number, or a Generator it draws from) chooses ``ndraws`` draws exactly as the verbs do.

    Examples
    --------
    >>> from mixeff.model.examples import toy_spec
    >>> ids, chains, note = draw_selection(toy_spec(), ndraws=4, seed=1)
    >>> len(ids), chains, note
    (4, 2, '4 of 200 draws at random (ndraws=4, seed=1)')
    """
    if ndraws is None and draw_ids is None:
        return None
    total = spec.n_samples
    if ndraws is not None and draw_ids is not None:
        raise ValueError("give ndraws= (a random subset) or draw_ids= (chosen draws), not both")
    if ndraws is not None:
        check_whole("ndraws", ndraws, 1, example=200, meaning="draws chosen at random")
        if not 1 <= ndraws <= total:
            raise ValueError(
                f"ndraws={ndraws!r}: the fit has {total} draws ({spec.n_chains} chains × {spec.n_draws}); "
                f"choose 1 to {total}, or leave ndraws out to use all"
            )
        check_seed(seed)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        chains = spec.n_chains if ndraws % spec.n_chains == 0 else 1
        per = ndraws // chains
        width = total // chains
        ids = np.concatenate([c * width + np.sort(rng.choice(width, per, replace=False)) for c in range(chains)])
        note = f"{ndraws} of {total} draws at random (ndraws={ndraws}{'' if seed is None else f', seed={seed}'})"
        return ids, chains, note
    ids = np.asarray(draw_ids).ravel() if not np.isscalar(draw_ids) else np.asarray([draw_ids])
    if ids.size == 0 or not (
        np.issubdtype(ids.dtype, np.integer) or (np.issubdtype(ids.dtype, np.floating) and np.all(ids == np.round(ids)))
    ):
        raise TypeError(
            f"draw_ids={draw_ids!r} must be whole numbers: 0-based positions of draws "
            f"(0 to {total - 1}, as get_draws's drawid)"
        )
    ids = ids.astype(np.int64)
    bad = ids[(ids < 0) | (ids >= total)]
    if bad.size:
        raise ValueError(
            f"draw_ids {bad[:5].tolist()} out of range: the fit has {total} draws, numbered 0 to "
            f"{total - 1} (0-based, as get_draws's drawid)"
        )
    if len(np.unique(ids)) < len(ids):
        raise ValueError("draw_ids has repeated draws; give each draw once")
    return ids, 1, f"{len(ids)} of {total} draws chosen by draw_ids"


def check_dpar(spec: ModelSpec, dpar, type: str) -> str | None:
    """The parameter ``dpar`` names (in this model's spelling), checked against the model and ``type``.

    ``dpar``: None (the response), ``"mu"`` (the mean parameter), or an auxiliary parameter's name
    (Bambi's or brms's spelling: ``"alpha"`` or ``"shape"``).
    """
    if dpar is None:
        return None
    family = spec.family
    if family.categorical:
        raise ValueError(
            f"dpar={dpar!r}: the {family.name} family's values are category probabilities; leave "
            "dpar out (type='link' gives the linear predictor)"
        )
    names = ["mu", *spec.dpars, *(a for a in spec.aux if a not in spec.dpars)]
    name = "mu" if dpar == family.parent else aux_name(dpar) if isinstance(dpar, str) else dpar
    if name not in names:
        hint = (
            f" (brms's {dpar} is 1 - psi here: dpar='psi' gives the probability of the "
            f"{'count part' if dpar == 'zi' else 'non-zero response'})"
            if dpar in ("zi", "hu")
            else ""
        )
        raise ValueError(f"dpar={dpar!r} is not a parameter of this {family.name} model; choose one of {names}{hint}")
    if type == "prediction":
        raise ValueError(
            f"dpar={dpar!r} gives a parameter's values; type='prediction' draws the response: use "
            "type='response' (the parameter) or type='link' (its linear predictor)"
        )
    if type == "link" and name != "mu" and name not in spec.dpars:
        raise ValueError(
            f"dpar={dpar!r} has no formula of its own in this model (one value per draw), so no "
            "linear predictor: use type='response'"
        )
    return name


def category_rows(spec: ModelSpec, frame: pd.DataFrame, type: str) -> pd.DataFrame:
    """``frame`` once per response category, with a ``group`` column first (marginaleffects's layout).

    For ordinal and categorical families only (an ordinal model's ``type="link"`` has one η per row, and
    ``type="log_lik"`` one log-probability per row, of its observed category).
    """
    family = spec.family
    if not family.categorical or (family.ordinal and type == "link") or type == "log_lik":
        return frame
    if CATEGORY_COLUMN in frame.columns:
        raise ValueError(
            f"newdata has a column {CATEGORY_COLUMN!r}: mixeff names the response category of a "
            f"{family.name} model's results so; rename that column"
        )
    k = len(spec.categories)
    out = pd.concat([frame] * k, ignore_index=True)
    out.insert(
        0,
        CATEGORY_COLUMN,
        pd.Categorical(np.repeat(spec.categories, len(frame)), categories=list(spec.categories), ordered=True),
    )
    return out


def category_grouping(spec: ModelSpec, frame: pd.DataFrame, by: list[str] | None, wts, collapsed: bool = False):
    """``by`` and ``wts`` for a frame repeated per response category.

    Averages stay within each category (``group`` joins ``by``) unless a ``by`` table collapses
    categories (``collapsed``), and an array of weights is repeated as the rows were.
    """
    if not spec.family.categorical or CATEGORY_COLUMN not in frame.columns:
        return by, wts
    if by is not None and CATEGORY_COLUMN not in by and not collapsed:
        by = [CATEGORY_COLUMN, *by]
    if (
        wts is not None
        and not isinstance(wts, str)
        and np.ndim(wts) == 1
        and len(wts) * len(spec.categories) == len(frame)
    ):
        wts = np.tile(np.asarray(wts), len(spec.categories))
    return by, wts


def collapses_categories(spec: ModelSpec, by) -> bool:
    """Whether ``by`` is a table that maps response categories (its ``group`` column) to groups."""
    return spec.family.categorical and isinstance(by, pd.DataFrame) and CATEGORY_COLUMN in by.columns


def summed_categories(groups: Grouping | None, frame: pd.DataFrame, collapsed: bool) -> Grouping | None:
    """``groups`` whose collapsed categories' probabilities are summed, as marginaleffects does.

    Each group's mean over its rows and categories times its number of categories (the sum over
    categories of their means over rows).
    """
    if groups is None or not collapsed:
        return groups
    codes = pd.Series(pd.factorize(frame[CATEGORY_COLUMN])[0])
    counts = codes.groupby(groups.codes).nunique().reindex(range(len(groups.keys)), fill_value=1)
    return replace(groups, scale=counts.to_numpy(dtype=float))


def check_seed(seed) -> None:
    """``seed``: None, a non-negative whole number, or a ``numpy.random.Generator``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return
    check_whole("seed", seed, 0, example=2024, meaning="or a numpy Generator; None: a fresh random state")


def check_columns(frame: pd.DataFrame, columns, argument: str, what: str = "newdata") -> list[str]:
    """``columns`` (a name or names) as a list, refused unless all are columns of ``frame``."""
    cols = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"{argument}: {missing} not a column of {what}; available columns: {list(frame.columns)}")
    return cols


def check_newdata(spec: ModelSpec, newdata, options: PassOptions) -> pd.DataFrame:
    """The frame to predict on: the model's data by default; needed columns present and complete.

    Grouping columns of factors that ``re_formula`` leaves out are not needed.
    """
    if newdata is None:
        frame = spec.data
    elif isinstance(newdata, pd.DataFrame):
        frame = newdata
    else:
        raise TypeError(
            f"newdata must be a pandas DataFrame (e.g. from mixeff.datagrid) or one of 'mean', 'median', "
            f"'tukey', 'grid', 'balanced'; got {type(newdata).__name__}"
        )
    if len(frame) == 0:
        raise ValueError("newdata has no rows")
    kept = {*options.include, *(f for inc in options.dpar_include.values() for f in inc)}
    skip = {c for g in spec.all_groups() if g.name not in kept for c in g.columns}
    needed = [c for c in spec.predictors if c not in skip]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"newdata lacks column(s) {missing} that the model needs; add them (mixeff.datagrid "
            "fills unspecified predictors with their mean or mode)"
        )
    grouping = {c for g in spec.all_groups() for c in g.columns}
    for c in needed:
        missing, infinite = missing_and_infinite(frame[c])
        if missing.any() and c in grouping and _only_grouping(spec, frame[np.asarray(missing, dtype=bool)]):
            continue  # a missing level is one new level, as in brms (allow_new_levels decides)
        if missing.any():
            raise ValueError(
                f"newdata column {c!r} has {int(missing.sum())} missing value(s) (NaN); drop or fill those rows"
            )
        if infinite.any():
            raise ValueError(
                f"newdata column {c!r} has {int(infinite.sum())} infinite value(s); predictions need finite "
                "predictors: drop those rows or replace the values"
            )
    return frame.reset_index(drop=True)


def by_frame(frame: pd.DataFrame, by):
    """Marginaleffects' ``by=`` a DataFrame: each row's group from the table.

    The table's columns other than ``by`` map rows to the groups named in its ``by`` column
    (collapsing categories).  Returns the frame with that ``by`` column and ``["by"]``; any other
    ``by`` is passed through.

    Examples
    --------
    >>> f = pd.DataFrame({"cyl": [4, 6, 8, 4]})
    >>> out, cols = by_frame(f, pd.DataFrame({"cyl": [4, 6, 8], "by": ["small", "large", "large"]}))
    >>> out["by"].tolist(), cols
    (['small', 'large', 'large', 'small'], ['by'])
    """
    if not isinstance(by, pd.DataFrame):
        return frame, by
    example = "e.g. pd.DataFrame({'cyl': [4, 6, 8], 'by': ['small', 'large', 'large']})"
    if "by" not in by.columns or len(by.columns) < 2:
        raise ValueError(
            f"by= as a DataFrame needs the columns to match and a column 'by' naming each row's group, "
            f"{example}; got columns {list(by.columns)}"
        )
    keys = check_columns(frame, [c for c in by.columns if c != "by"], "by= (a DataFrame)")
    if "by" in frame.columns:
        raise ValueError("by= as a DataFrame adds a column 'by', but newdata already has one; rename it")
    if by.duplicated(keys).any():
        raise ValueError(f"by= (a DataFrame) lists some {keys} values more than once; give each one group")
    try:
        merged = frame.merge(by, on=keys, how="left", sort=False, validate="many_to_one")
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"by= (a DataFrame): its {keys} columns cannot be matched to newdata's ({err}); give them "
            "the same types as newdata's columns"
        ) from None
    unmatched = merged["by"].isna()
    if unmatched.any():
        values = frame.loc[unmatched.to_numpy(), keys].drop_duplicates().head(5).to_dict("records")
        raise ValueError(f"by= (a DataFrame) gives no group to newdata rows with {values}; add them to its rows")
    return merged, ["by"]


def model_weights(wts):
    """``wts=True`` (marginaleffects: the weights the model was fitted with) or ``False``; else ``wts`` itself."""
    if wts is False:
        return None
    if wts is True:
        raise ValueError(
            "wts=True uses the weights the model was fitted with; models read by mixeff (Bambi fits, "
            "brms draws, arrays) carry no observation weights. Pass wts='column' (a newdata column) "
            "or an array of weights"
        )
    return wts


def _only_grouping(spec: ModelSpec, rows: pd.DataFrame) -> bool:
    """Whether the population-level design is finite on these rows (their missing values are grouping only)."""
    try:
        with np.errstate(all="ignore"):
            return bool(np.isfinite(np.asarray(spec.fixed_design(rows), dtype=float)).all())
    except Exception:  # the design cannot take a missing value there: it is a population-level predictor
        return False


def as_by(by, frame: pd.DataFrame) -> list[str] | None:
    """``None``/``False`` -> per row; ``True`` -> one overall group; names -> those columns (checked)."""
    cols = by_names(by)
    if not cols:
        return cols
    cols = check_columns(frame, cols, f"by={by!r}")
    if len(set(cols)) < len(cols):
        raise ValueError(f"by={by!r} names a column more than once; name each column once")
    return cols


def contrast_by(by, frame: pd.DataFrame) -> list[str] | None:
    """``by`` for contrasts: term and contrast always group, so naming them is allowed and ignored.

    Examples
    --------
    >>> import pandas as pd
    >>> contrast_by(["term", "g"], pd.DataFrame({"g": [1]})), contrast_by(True, pd.DataFrame())
    (['g'], [])
    """
    if isinstance(by, (list, tuple)) or (isinstance(by, str) and by in ("term", "contrast")):
        by = [c for c in ([by] if isinstance(by, str) else by) if c not in ("term", "contrast")] or True
    return as_by(by, frame)
