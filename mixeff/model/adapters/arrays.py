"""Arrays adapter: draws from any sampler (NumPyro, hand-written PyMC, ...) as plain arrays.

:func:`from_arrays` takes the pieces directly (see :mod:`.brms` for brms-named tables) and
checks them at construction: arrays that do not describe the model (a shape that does not
match, NaN draws, unequal chains, a parameter the family does not have) are an error
naming what is wrong, never a silently different model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..checks import check_whole
from ..families import Family, aux_name, brms_aux_name, get_family, get_link
from ..spec import GroupFactor, ModelSpec, Predictor, is_numeric_column


class _ByName:
    """``fixed_design`` with a returned DataFrame's columns put in ``names`` order.

    A class, not a closure, so that a spec pickles whenever the user's functions do.
    """

    def __init__(self, fixed_design: Callable, names: list[str]):
        self.fixed_design, self.names = fixed_design, names

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        X = self.fixed_design(frame)
        if isinstance(X, pd.DataFrame):
            if X.columns.is_unique and X.columns.tolist() == self.names:  # already in order: no reindexing
                return np.asarray(X.to_numpy(dtype=float), dtype=float)
            missing = [n for n in self.names if n not in X.columns]
            if missing:
                raise ValueError(
                    f"fixed_design returned no column for coefficient(s) {missing}; it returned "
                    f"{list(X.columns)}. A factor's reference level may differ from the model's: "
                    "make it a pandas Categorical whose first category is brms's reference level"
                )
            X = X[self.names].to_numpy(dtype=float)
        return np.asarray(X, dtype=float)


def from_arrays(
    *,
    fixed_design: Callable[[pd.DataFrame], pd.DataFrame | np.ndarray],
    beta: np.ndarray,
    beta_names: list[str],
    family: str,
    data: pd.DataFrame,
    groups: list[GroupFactor] | None = None,
    link: str | None = None,
    aux: dict[str, np.ndarray] | None = None,
    n_chains: int = 1,
    predictors: list[str] | None = None,
    trials: str | float | None = None,
    source: str = "posterior",
    categories: list[str] | None = None,
    dpars: dict[str, Predictor] | None = None,
) -> ModelSpec:
    """Build a spec from arrays: ``beta`` is ``(S, p)``, draws ordered chain-major.

    Ordinal families (``cumulative``, ``sratio``) take ``categories`` (the response's,
    in order) and ``aux={"threshold": (S, K - 1)}``; a categorical family takes
    ``categories`` and one ``Predictor`` of η per non-reference
    category in ``dpars`` (the reference, first, has η = 0).  ``dpars`` also gives any
    auxiliary parameter its own formula (``{"sigma": Predictor(..., link_name="log")}``).

    ``fixed_design(newdata)`` returns the ``(n, p)`` fixed-effect design; when it
    returns a DataFrame its columns are matched to ``beta_names`` by name.

    The spec pickles when ``fixed_design`` and every group's ``design`` do: module-level
    functions do with ``pickle``; lambdas and closures need ``cloudpickle``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mixeff import from_arrays
    >>> d = pd.DataFrame({"x": [0.0, 1.0]})
    >>> spec = from_arrays(fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"]]),
    ...                    beta=np.array([[1.0, 2.0]]), beta_names=["Intercept", "x"],
    ...                    family="gaussian", aux={"sigma": np.array([1.0])}, data=d)
    >>> spec.n_samples
    1
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be the pandas DataFrame the model was fitted to, got {type(data).__name__}")
    beta = np.asarray(beta, dtype=float)
    names = list(beta_names)
    _check_beta(beta, names)
    s = beta.shape[0]
    _check_n_chains(n_chains, s)
    fam = get_family(family)
    aux = _check_aux_arrays(aux or {}, fam, s, len(categories or ()), set(dpars or ()))
    _check_group_arrays(groups or [], s, data)
    _check_design(fixed_design, data, names)
    used = set(predictors or [])
    for g in [*(groups or []), *(g for p in (dpars or {}).values() for g in p.groups.values())]:
        used |= set(g.columns)
    return ModelSpec(
        fixed_design=_ByName(fixed_design, names),
        beta=beta,
        beta_names=names,
        groups={g.name: g for g in groups or []},
        family=fam,
        link=get_link(fam, link),
        aux=aux,
        n_chains=n_chains,
        n_draws=s // n_chains,
        data=data,
        predictors=sorted(used | ({trials} if isinstance(trials, str) else set())),
        trials=trials,
        source=source,
        categories=tuple(str(c) for c in categories or ()),
        dpars=dict(dpars or {}),
    )


def _refuse(what: str, names: list[str], bad: np.ndarray, problem: str, fix: str) -> None:
    """Raise naming every column of ``bad`` (draws × columns) with a True cell, and how many draws."""
    counts = bad.sum(axis=0)
    if not counts.any():
        return
    listed = [f"{n} ({c} of {len(bad)} draws)" for n, c in zip(names, counts) if c]
    more = f" and {len(listed) - 6} more" if len(listed) > 6 else ""
    raise ValueError(f"{what}: {problem} in {', '.join(listed[:6])}{more}; {fix}")


def refuse_bad_values(what: str, names: list[str], X: np.ndarray, sd=(), cor=(), positive=()) -> None:
    """``X`` (draws × ``names``): non-finite anywhere; negative ``sd``, ``cor`` outside [-1, 1], ``positive`` <= 0."""
    _refuse(
        what,
        names,
        ~np.isfinite(X),
        "non-finite values (NaN or ±inf)",
        "every draw must be finite: check the fit and how the draws were written and read "
        "(drop whole draws only if you keep the chains equal in length)",
    )
    index = {n: j for j, n in enumerate(names)}
    for subset, bad, problem in [
        (sd, lambda x: x < 0, "negative standard deviations"),
        (cor, lambda x: np.abs(x) > 1, "correlations outside [-1, 1]"),
        (positive, lambda x: x <= 0, "non-positive values of a positive parameter"),
    ]:
        if len(subset):
            _refuse(
                what,
                list(subset),
                bad(X[:, [index[n] for n in subset]]),
                problem,
                "these are not draws of that parameter: check which column is which",
            )


def _check_beta(beta: np.ndarray, names: list[str]) -> None:
    if beta.ndim != 2 or beta.shape[0] == 0:
        raise ValueError(f"beta must be a (draws, coefficients) array with at least one draw, got shape {beta.shape}")
    if beta.shape[1] != len(names):
        raise ValueError(
            f"beta has {beta.shape[1]} columns but beta_names has {len(names)} names {names}; "
            "give one name per column of beta"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"beta_names {names} repeats a name; give each coefficient its own")
    refuse_bad_values("beta", [f"beta[:, {n!r}]" for n in names], beta)


def _check_n_chains(n_chains, s: int) -> None:
    check_whole("n_chains", n_chains, 1, example=4, meaning="chains the draws of beta are split into")
    if s % n_chains:
        raise ValueError(
            f"n_chains={n_chains} does not divide the {s} draws of beta into equal chains; "
            "diagnostics need equal chains: keep the same number of draws from every chain "
            "(ordered chain-major)"
        )


def _check_aux_arrays(
    aux: dict, family: Family, s: int, n_categories: int = 0, modelled: set = frozenset()
) -> dict[str, np.ndarray]:
    out = {}
    for key, values in aux.items():
        name = aux_name(key)
        if name in out:
            raise ValueError(
                f"aux gives {name!r} twice (as {key!r} and as {brms_aux_name(name)!r} or {name!r}); pass it once"
            )
        out[name] = np.asarray(values, dtype=float)
    if "threshold" in out:
        out["threshold"] = _check_thresholds(out.pop("threshold"), family, s, n_categories)
    out = {k: v if k == "threshold" else v.ravel() for k, v in out.items()}
    stray = [k for k in aux if aux_name(k) not in family.aux or aux_name(k) in modelled]
    if stray:
        raise ValueError(
            f"aux: family {family.name!r} has no auxiliary parameter(s) {stray}; its parameters "
            f"are {list(family.aux) or 'none'}. Drop them, or pass the family the model was fitted with"
        )
    wrong = {k: len(v) for k, v in out.items() if len(v) != s}
    if wrong:
        raise ValueError(f"aux: {wrong} values where one per draw ({s}) is expected; a constant is np.full(S, value)")
    scalars = {k: v for k, v in out.items() if k != "threshold"}
    if scalars:
        names = [f"aux[{k!r}]" for k in scalars]
        refuse_bad_values("aux", names, np.column_stack(list(scalars.values())), positive=names)
    if "psi" in out and np.any(out["psi"] >= 1):
        raise ValueError(
            "aux['psi'] has values >= 1; psi is a probability (of the count part, or of a non-zero "
            "response): brms's zi and hu are 1 - psi"
        )
    return out


def _check_thresholds(tau: np.ndarray, family: Family, s: int, n_categories: int) -> np.ndarray:
    """``(S, K - 1)`` ordinal thresholds, increasing in every draw for a cumulative model."""
    if not family.ordinal:
        return tau
    if n_categories < 2 or tau.shape != (s, n_categories - 1):
        raise ValueError(
            f"aux['threshold'] must be (draws, categories - 1) = ({s}, {n_categories - 1}) with "
            f"categories= the response's {n_categories or 'K'} categories; got shape {tau.shape}"
        )
    refuse_bad_values("aux", [f"threshold[{k}]" for k in range(tau.shape[1])], tau)
    if family.name == "cumulative" and np.any(np.diff(tau, axis=1) <= 0):
        raise ValueError(
            "aux['threshold']: a cumulative model's thresholds must increase in every draw "
            "(P(Y <= k) = F(threshold_k - eta)); check their order"
        )
    return tau


def _check_group_arrays(groups: list[GroupFactor], s: int, data: pd.DataFrame) -> None:
    for g in groups:
        k, n_levels = len(g.terms), len(g.levels)
        shapes = {"b": (g.b.shape, (s, n_levels, k)), "sd": (g.sd.shape, (s, k))}
        if g.cor is not None:
            shapes["cor"] = (g.cor.shape, (s, k, k))
        for part, (got, want) in shapes.items():
            if got != want:
                raise ValueError(
                    f"groups: {g.name!r}.{part} has shape {got}, expected {want} "
                    f"(draws, {n_levels} levels, {k} terms {g.terms})"
                )
        absent = [c for c in g.columns if c not in data.columns]
        if absent:
            raise ValueError(
                f"data: no column(s) {absent} for the grouping factor {g.name!r}; pass the data the model was fitted to"
            )
        g.set_numeric(is_numeric_column(data, g.columns))
        rows = data[list(g.columns)].notna().all(axis=1)
        unseen = sorted(map(str, set(g.labels_of(data.loc[rows])) - set(g.levels)))
        if unseen:
            raise ValueError(
                f"groups: {g.name!r} has no effects for level(s) {unseen[:10]} that data has; "
                f"its levels are {[str(v) for v in g.levels[:10]]}{' ...' if n_levels > 10 else ''}. "
                "Give b a slice per level of the data the model was fitted to"
            )
        refuse_bad_values(
            "groups", [f"{g.name!r}.b[{lev},{t}]" for lev in g.levels for t in g.terms], g.b.reshape(s, -1)
        )
        sds = [f"{g.name!r}.sd[{t}]" for t in g.terms]
        refuse_bad_values("groups", sds, g.sd, sd=sds)
        if g.cor is not None:
            i, j = np.triu_indices(k, 1)
            cors = [f"{g.name!r}.cor[{g.terms[a]},{g.terms[b]}]" for a, b in zip(i, j)]
            refuse_bad_values("groups", cors, g.cor[:, i, j], cor=cors)


def _check_design(fixed_design: Callable, data: pd.DataFrame, names: list[str]) -> None:
    X = _ByName(fixed_design, names)(data)
    if X.shape != (len(data), len(names)):
        raise ValueError(
            f"fixed_design(data) gave an array of shape {X.shape}, expected ({len(data)}, "
            f"{len(names)}): one column per coefficient of beta_names {names}, in that order "
            "(or a DataFrame whose columns carry those names)"
        )
