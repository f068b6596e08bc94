"""Counterfactual contrasts shared by :mod:`mixeff.comparisons` and :mod:`mixeff.slopes`.

A *contrast* compares two counterfactual copies of ``newdata`` ("arms"): ``lo``
and ``hi``, which differ only in the focal variable (a factor set to one level
in the whole column, a numeric variable shifted or set to a value).  This
module holds everything the two verbs share:

* what kind each variable is and which (lo, hi) pairs a user's ``variables``
  asks for, with marginaleffects' labels;
* the comparison functions (``difference``, ``ratio``, ``lnratio``, ``lnor``,
  ``lift`` and their "avg" forms used with ``by``) and the ``transform`` registry;
* :func:`run_contrasts`, one engine pass over every arm of every term.

One pass, one random-effects plan
---------------------------------
All arms of all terms go through one :class:`~mixeff.engine.Call`, so the
random-effects plan is made once and a simulated new level has the same draws
in every arm (common random numbers): an ATE over 100 new clusters carries the
Monte Carlo noise of one set of clusters, not of two independent sets.

Exact link-scale differences
----------------------------
``hi - lo`` of two nearly equal predictions loses digits (a slope's step is
1e-4 × the range of x, so η_hi − η_lo is ~1e-4 of η).  Because η is linear in
the design, the link-scale difference is computed directly as
``(X_hi − X_lo) β + Σ_g (Z_hi − Z_lo) b_g`` (plus the offset difference) by
running the engine on a "difference design".  A term whose Z columns are equal
in both arms (a random intercept) contributes exactly zero, so, e.g., a slope in
a random-intercept LMM is bit-identical whether random effects are zero,
existing or new (MAR.1).  The response-scale difference is then the exact
increment of the response function: ``Δ`` for identity links,
``exp(η)·expm1(Δ)`` for log links and the lognormal mean, and
``expit(η+Δ)·expit(−η)·(1 − exp(−Δ))`` for logit links; other links fall back
to ``hi − lo``.  When the arms use different levels of a grouping factor (the
focal variable is a grouping column) the plain ``hi − lo`` is used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import special

from .engine import Call, Design, default_chunk_rows, prepare, row_chunks
from .families import mean_increment
from .inputs import check_columns
from .reduce import GroupMeans, group_codes, normalised_weights
from .spec import ModelSpec

__all__ = [
    "COMPARISONS", "TRANSFORMS", "CATEGORICAL_SHORTCUTS", "NUMERIC_SHORTCUTS",
    "Contrast", "ArmSet", "variable_kind", "default_variables", "parse_variables",
    "categorical_contrasts", "numeric_contrasts", "comparison_rule", "resolve_transform",
    "run_contrasts", "contrast_grid", "by_columns",
]

COMPARISONS = ("difference", "ratio", "lnratio", "lnor", "lift")
CATEGORICAL_SHORTCUTS = (
    "reference", "revreference", "pairwise", "revpairwise", "sequential", "revsequential", "all", "minmax",
)
NUMERIC_SHORTCUTS = ("sd", "2sd", "iqr", "minmax")

TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "ln": np.log,
    "log": np.log,
    "expm1": np.expm1,
    "log1p": np.log1p,
    "invlogit": special.expit,
    "expit": special.expit,
    "logit": special.logit,
    "identity": lambda x: x,
}
"""``transform=`` names: applied to every draw after the comparison (and after averaging)."""

# --------------------------------------------------------------------------- variables


def variable_kind(spec: ModelSpec, name: str) -> str:
    """``"logical"``, ``"binary"`` (numeric 0/1), ``"numeric"`` or ``"categorical"``, from the model data.

    Examples
    --------
    >>> import mixeff
    >>> spec = mixeff.example_fit().spec()
    >>> variable_kind(spec, "TX"), variable_kind(spec, "cluster")
    ('binary', 'categorical')
    """
    col = spec.data[name]
    if pd.api.types.is_bool_dtype(col):
        return "logical"
    if pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype):
        values = pd.unique(col.dropna())
        if len(values) and set(values) <= {0, 1}:
            return "binary"
        return "numeric"
    return "categorical"


def _levels(spec: ModelSpec, name: str, kind: str) -> list:
    if kind == "binary":
        return [0, 1]
    if kind == "logical":
        return [False, True]
    col = spec.data[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return list(col.cat.categories)
    values = pd.unique(col.dropna())
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def _grouping_columns(spec: ModelSpec) -> set[str]:
    return {c for g in spec.groups.values() for c in g.columns}


def default_variables(spec: ModelSpec) -> list[str]:
    """The population-level predictors: not the response, trials or grouping-factor columns."""
    skip = _grouping_columns(spec) | {spec.response, spec.trials} | set(spec.offset_variables)
    return sorted(v for v in spec.predictors if v not in skip)


def parse_variables(spec: ModelSpec, variables, argument: str = "variables") -> dict[str, object]:
    """``variables`` as ``{name: value or None}``, names checked and sorted as marginaleffects does.

    Examples
    --------
    >>> import mixeff
    >>> spec = mixeff.example_fit().spec()
    >>> parse_variables(spec, None), parse_variables(spec, {"TX": [0, 1]})
    ({'TX': None}, {'TX': [0, 1]})
    """
    if variables is None:
        out = {v: None for v in default_variables(spec)}
        if not out:
            raise ValueError(f"{argument}: the model has no population-level predictor; name one with {argument}=")
        return out
    if isinstance(variables, str):
        items = {variables: None}
    elif isinstance(variables, dict):
        items = dict(variables)
    elif isinstance(variables, (list, tuple)):
        items = {}
        for v in variables:
            if not isinstance(v, str):
                raise ValueError(f"{argument}={variables!r}: list entries must be variable names (str), got {v!r}")
            items[v] = None
    else:
        raise ValueError(
            f"{argument}={variables!r} is not understood; pass a name, a list of names, or a dict "
            "such as {'age': ['18-29', '70+']}"
        )
    if not items:
        raise ValueError(f"{argument} is empty; name at least one predictor")
    allowed = [v for v in spec.predictors if v not in {spec.response, spec.trials}]
    for name in items:
        if name not in allowed:
            raise ValueError(
                f"{argument}: {name!r} is not a predictor of the model; choose from {sorted(allowed)}"
            )
    return {k: items[k] for k in sorted(items)}


# --------------------------------------------------------------------------- contrasts


@dataclass
class Contrast:
    """One (lo, hi) pair of arms for one term, with its comparison rule."""

    term: str
    lo: int
    hi: int
    hi_label: str
    lo_label: str
    step_label: str | None = None
    """``"+1"``-style label of a numeric shift (marginaleffects labels these by the step)."""
    rule: "Rule | None" = None
    label: str = ""


class ArmSet:
    """Counterfactual copies of ``base``, deduplicated: arms shared by several contrasts are built once."""

    def __init__(self, base: pd.DataFrame, spec: ModelSpec):
        self.base = base
        self.spec = spec
        self.frames: list[pd.DataFrame] = []
        self._keys: dict = {}

    def set_value(self, name: str, value) -> int:
        """The arm where the whole column ``name`` is ``value``."""
        key = (name, "set", _hashable(value))
        if key not in self._keys:
            self._keys[key] = self._add(self.base.assign(**{name: _constant_column(self.base, self.spec, name, value)}))
        return self._keys[key]

    def shift(self, name: str, delta: float) -> int:
        """The arm where numeric ``name`` is ``x + delta`` (``delta = 0`` is the base frame itself)."""
        if delta == 0:
            return self.original()
        key = (name, "shift", float(delta))
        if key not in self._keys:
            x = self.base[name].to_numpy(dtype=float)
            self._keys[key] = self._add(self.base.assign(**{name: x + delta}))
        return self._keys[key]

    def original(self) -> int:
        key = ("__original__",)
        if key not in self._keys:
            self._keys[key] = self._add(self.base)
        return self._keys[key]

    def _add(self, frame) -> int:
        self.frames.append(frame)
        return len(self.frames) - 1


def _hashable(value):
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def _constant_column(base: pd.DataFrame, spec: ModelSpec, name: str, value):
    n = len(base)
    col = base[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = list(col.cat.categories)
        model_col = spec.data[name] if name in spec.data.columns else None
        if value not in cats and model_col is not None and isinstance(model_col.dtype, pd.CategoricalDtype):
            cats = cats + [c for c in model_col.cat.categories if c not in cats]
        if value not in cats:
            cats = cats + [value]
        return pd.Categorical([value] * n, categories=cats, ordered=col.cat.ordered)
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return np.full(n, value)
    return pd.Series([value] * n, index=base.index, dtype=col.dtype if col.dtype != object else object)


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def _match_level(value, levels: list, name: str, argument: str):
    for lev in levels:
        if lev is value or (type(lev) is type(value) and lev == value):
            return lev
    for lev in levels:
        try:
            if lev == value:
                return lev
        except (TypeError, ValueError):
            pass
    for lev in levels:
        if str(lev) == str(value):
            return lev
    raise ValueError(
        f"{argument}: level {value!r} of {name!r} does not exist; choose two of its levels {levels}"
    )


def categorical_contrasts(spec, arms: ArmSet, name: str, kind: str, value, argument: str) -> list[Contrast]:
    """Contrasts of a factor / logical / binary variable; each arm sets the whole column to one level.

    Examples
    --------
    >>> import mixeff
    >>> spec = mixeff.example_fit().spec()
    >>> arms = ArmSet(spec.data, spec)
    >>> [(c.lo_label, c.hi_label) for c in categorical_contrasts(spec, arms, "TX", "binary", None, "variables")]
    [('0', '1')]
    """
    levels = _levels(spec, name, kind)
    if value is None:
        value = "reference"
    if isinstance(value, str):
        if value not in CATEGORICAL_SHORTCUTS:
            hint = (
                f"{name!r} is {kind} (levels {levels}); a numeric shortcut such as {value!r} applies to "
                "numeric variables only. " if value in NUMERIC_SHORTCUTS else f"{name!r} is {kind}. "
            )
            raise ValueError(
                f"{argument}={{{name!r}: {value!r}}}: {hint}Use one of {list(CATEGORICAL_SHORTCUTS)} or a "
                f"pair of levels such as {[_fmt(levels[0]), _fmt(levels[-1])]}"
            )
        pairs = _level_pairs(levels, value)
    elif isinstance(value, (list, tuple, np.ndarray, pd.Index)) and len(value) == 2:
        where = f"{argument}={{{name!r}: {list(value)!r}}}"
        pairs = [(_match_level(value[0], levels, name, where), _match_level(value[1], levels, name, where))]
    else:
        raise ValueError(
            f"{argument}={{{name!r}: {value!r}}}: {name!r} is {kind} (levels {levels}); a numeric step "
            f"applies to numeric variables only. Use one of {list(CATEGORICAL_SHORTCUTS)} or a pair of "
            f"levels such as {[_fmt(levels[0]), _fmt(levels[-1])]}"
        )
    return [
        Contrast(term=name, lo=arms.set_value(name, lo), hi=arms.set_value(name, hi),
                 hi_label=_fmt(hi), lo_label=_fmt(lo))
        for lo, hi in pairs
    ]


def _level_pairs(levels: list, how: str) -> list[tuple]:
    if len(levels) < 2:
        raise ValueError(f"a contrast needs at least two levels, found {levels}")
    base = how[3:] if how.startswith("rev") else how
    if base == "reference":
        pairs = [(levels[0], lev) for lev in levels[1:]]
    elif base == "pairwise":
        pairs = [(levels[i], levels[j]) for i in range(len(levels)) for j in range(i + 1, len(levels))]
    elif base == "sequential":
        pairs = list(zip(levels[:-1], levels[1:]))
    elif base == "minmax":
        pairs = [(levels[0], levels[-1])]
    else:  # all: every ordered pair of distinct levels
        pairs = [(a, b) for a in levels for b in levels if a is not b and a != b]
    if how.startswith("rev"):
        pairs = [(hi, lo) for lo, hi in pairs]
    return pairs


def numeric_contrasts(spec, arms: ArmSet, name: str, value, argument: str) -> list[Contrast]:
    """Contrasts of a numeric variable, as marginaleffects builds them.

    ``None``/a number ``k``: lo = x, hi = x + k (per row; label ``"+k"``).  ``"sd"``:
    mean ± sd/2; ``"2sd"``: mean ± sd (sd with ddof=1, mean and sd of the model data,
    as marginaleffects); ``"iqr"``: 25% and 75% quantiles; ``"minmax"``: min and max;
    a pair: its sorted values.  Every non-step contrast sets the whole column.

    Examples
    --------
    >>> import mixeff
    >>> spec = mixeff.example_fit().spec()
    >>> arms = ArmSet(spec.data, spec)
    >>> c = numeric_contrasts(spec, arms, "TX", "minmax", "variables")[0]
    >>> (c.lo_label, c.hi_label), float(arms.frames[c.hi]["TX"].iloc[0])
    (('Min', 'Max'), 1.0)
    """
    x = pd.to_numeric(spec.data[name], errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    if value is None:
        value = 1
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{argument}={{{name!r}: {value!r}}}: give a numeric step such as 1, not a boolean")
    if isinstance(value, (int, float, np.integer, np.floating)):
        step = float(value)
        return [Contrast(term=name, lo=arms.shift(name, 0.0), hi=arms.shift(name, step),
                         hi_label="", lo_label="", step_label=f"+{_fmt(value)}")]
    if isinstance(value, str):
        if value not in NUMERIC_SHORTCUTS:
            raise ValueError(
                f"{argument}={{{name!r}: {value!r}}}: {name!r} is numeric; use a step such as 1, one of "
                f"{list(NUMERIC_SHORTCUTS)}, or a pair of values such as [{_fmt(x.min())}, {_fmt(x.max())}]"
            )
        m, s = x.mean(), x.std(ddof=1)
        lo, hi, lo_lab, hi_lab = {
            "sd": (m - s / 2, m + s / 2, "x - sd/2", "x + sd/2"),
            "2sd": (m - s, m + s, "x - sd", "x + sd"),
            "iqr": (*np.quantile(x, [0.25, 0.75]), "Q1", "Q3"),
            "minmax": (x.min(), x.max(), "Min", "Max"),
        }[value]
        c = Contrast(term=name, lo=arms.set_value(name, float(lo)), hi=arms.set_value(name, float(hi)),
                     hi_label=hi_lab, lo_label=lo_lab)
        if value in ("sd", "2sd"):
            c.hi_label, c.lo_label = f"({hi_lab})", f"({lo_lab})"
        return [c]
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 2:
        try:
            lo, hi = sorted(float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{argument}={{{name!r}: {value!r}}}: {name!r} is numeric; a pair must hold two numbers"
            ) from None
        return [Contrast(term=name, lo=arms.set_value(name, lo), hi=arms.set_value(name, hi),
                         hi_label=_fmt(hi), lo_label=_fmt(lo))]
    raise ValueError(
        f"{argument}={{{name!r}: {value!r}}} is not understood; {name!r} is numeric: use a step such as 1, "
        f"one of {list(NUMERIC_SHORTCUTS)}, or a pair of values"
    )


# --------------------------------------------------------------------------- comparison rules


@dataclass
class Rule:
    """How one contrast turns arm draws into its quantity.

    ``per_row(p)`` returns the per-row ``(chunk, S)`` value.  With ``by``,
    ``parts(p)`` lists the per-row quantities whose within-draw (weighted) means
    are accumulated, and ``finish(means)`` maps those ``(k, G, S)`` means to the
    ``(G, S)`` result — marginaleffects' "avg" forms, e.g. ratio → mean(hi)/mean(lo).
    """

    name: str
    per_row: Callable
    parts: Callable
    finish: Callable
    template: str
    avg_template: str


def _logit_diff(hi, lo):
    return special.logit(hi) - special.logit(lo)


def comparison_rule(comparison) -> Rule:
    """The rule for a comparison name or a function ``f(hi, lo)`` of ``(rows, S)`` draws.

    Examples
    --------
    >>> rule = comparison_rule("ratio")
    >>> rule.template.format(hi="1", lo="0"), rule.avg_template.format(hi="1", lo="0")
    ('1 / 0', 'mean(1) / mean(0)')
    """
    if callable(comparison):
        def row(p):
            out = np.asarray(comparison(p.hi, p.lo), dtype=float)
            if out.shape != p.lo.shape:
                raise ValueError(
                    f"comparison function returned shape {out.shape} for inputs of shape {p.lo.shape}; it "
                    "must work element by element on (rows, draws) arrays of hi and lo predictions "
                    "(with by=, mixeff averages its values within each draw)"
                )
            return out
        return Rule("custom", lambda p: row(p), lambda p: [row(p)], lambda m: m[0],
                    "custom({hi}, {lo})", "mean(custom({hi}, {lo}))")
    table = {
        "difference": Rule(
            "difference", lambda p: p.diff, lambda p: [p.diff], lambda m: m[0],
            "{hi} - {lo}", "{hi} - {lo}"),
        "ratio": Rule(
            "ratio", lambda p: p.hi / p.lo, lambda p: [p.hi, p.lo], lambda m: m[0] / m[1],
            "{hi} / {lo}", "mean({hi}) / mean({lo})"),
        "lnratio": Rule(
            "lnratio", lambda p: np.log1p(p.diff / p.lo), lambda p: [p.hi, p.lo], lambda m: np.log(m[0] / m[1]),
            "ln({hi} / {lo})", "ln(mean({hi}) / mean({lo}))"),
        "lnor": Rule(
            "lnor", lambda p: _logit_diff(p.hi, p.lo), lambda p: [p.hi, p.lo], lambda m: _logit_diff(m[0], m[1]),
            "ln(odds({hi}) / odds({lo}))", "ln(odds({hi}) / odds({lo}))"),
        "lift": Rule(
            "lift", lambda p: p.diff / p.lo, lambda p: [p.diff, p.lo], lambda m: m[0] / m[1],
            "({hi} - {lo}) / {lo}", "mean({hi} - {lo}) / mean({lo})"),
    }
    if not isinstance(comparison, str) or comparison not in table:
        raise ValueError(
            f"comparison={comparison!r} is not one of {list(COMPARISONS)}; pass one of those names or a "
            "function f(hi, lo) of the (rows, draws) predictions"
        )
    return table[comparison]


def label_contrast(c: Contrast, rule: Rule, averaged: bool) -> str:
    """marginaleffects' contrast label, e.g. ``"1 - 0"``, ``"+1"``, ``"mean(70+) / mean(18-29)"``.

    Examples
    --------
    >>> c = Contrast(term="age", lo=0, hi=1, hi_label="70+", lo_label="18-29")
    >>> label_contrast(c, comparison_rule("ratio"), averaged=True)
    'mean(70+) / mean(18-29)'
    """
    template = rule.avg_template if averaged else rule.template
    if c.step_label is not None:
        return f"mean({c.step_label})" if "mean(" in template else c.step_label
    hi, lo = c.hi_label, c.lo_label
    if "mean(" in template and hi.startswith("(") and lo.startswith("("):
        hi, lo = hi[1:-1], lo[1:-1]
    return template.format(hi=hi, lo=lo)


def resolve_transform(transform) -> Callable | None:
    """``None``, a callable, or a name in :data:`TRANSFORMS`.

    Examples
    --------
    >>> import numpy as np
    >>> float(resolve_transform("exp")(np.array(0.0)))
    1.0
    """
    if transform is None:
        return None
    if callable(transform):
        return transform
    if isinstance(transform, str) and transform in TRANSFORMS:
        return TRANSFORMS[transform]
    raise ValueError(
        f"transform={transform!r} is not understood; pass a function such as numpy.exp or one of "
        f"{sorted(TRANSFORMS)}"
    )


def apply_transform(fn, values: np.ndarray) -> np.ndarray:
    if fn is None:
        return values
    out = np.asarray(fn(values), dtype=float)
    if out.shape != values.shape:
        raise ValueError(
            f"transform returned shape {out.shape} for draws of shape {values.shape}; it must apply "
            "element by element (e.g. numpy.exp)"
        )
    return out


# --------------------------------------------------------------------------- the engine pass


def by_columns(by, frame: pd.DataFrame) -> list[str] | None:
    """``by`` for contrasts: term and contrast always group, so naming them is allowed and ignored.

    Examples
    --------
    >>> import pandas as pd
    >>> by_columns(["term", "g"], pd.DataFrame({"g": [1]})), by_columns(True, pd.DataFrame())
    (['g'], [])
    """
    if by is None or by is False:
        return None
    if by is True:
        return []
    cols = [by] if isinstance(by, str) else list(by)
    cols = [c for c in cols if c not in ("term", "contrast")]
    return check_columns(frame, cols, f"by={by!r}") if cols else []


class _Pass:
    """The prepared designs of one call and the per-chunk caches of arm values."""

    def __init__(self, spec: ModelSpec, frames: list[pd.DataFrame], *, type, re_formula,
                 allow_new_levels, sample_new_levels, seed):
        self.spec = spec
        self.call = Call.make(
            spec, frames, type=type, re_formula=re_formula, allow_new_levels=allow_new_levels,
            sample_new_levels=sample_new_levels, seed=seed,
        )
        self.type = type
        self.designs = [prepare(self.call, f) for f in frames]
        self._deltas: dict[tuple[int, int], tuple | None] = {}
        self.new_levels = {p.group.name: p.new_levels for p in self.call.plans if p.new_levels}

    def delta(self, lo: int, hi: int):
        """A (call, design) giving η_hi − η_lo exactly, or None when the arms differ in group levels."""
        key = (lo, hi)
        if key not in self._deltas:
            self._deltas[key] = self._make_delta(self.designs[lo], self.designs[hi])
        return self._deltas[key]

    def _make_delta(self, d_lo: Design, d_hi: Design):
        if any(not np.array_equal(a, b) for a, b in zip(d_lo.codes, d_hi.codes)):
            return None
        if d_lo.offset is None and d_hi.offset is None:
            offset = None
        else:
            offset = (0.0 if d_hi.offset is None else d_hi.offset) - (0.0 if d_lo.offset is None else d_lo.offset)
            offset = np.broadcast_to(offset, (d_lo.n,)).astype(float)
        plans, Zs, codes = [], [], []
        for plan, z_lo, z_hi, c in zip(self.call.plans, d_lo.Z, d_hi.Z, d_lo.codes):
            if z_lo is None and z_hi is None:
                continue  # both all ones: the term cancels exactly
            dz = (1.0 if z_hi is None else z_hi) - (1.0 if z_lo is None else z_lo)
            dz = np.broadcast_to(dz, (d_lo.n, len(plan.active)))
            if not np.any(dz):
                continue
            plans.append(plan)
            Zs.append(np.ascontiguousarray(dz, dtype=float))
            codes.append(c)
        call = dataclasses.replace(self.call, plans=plans, _scratch=None)
        design = Design(np.ascontiguousarray(d_hi.X - d_lo.X), offset, Zs, codes, None)
        trials_equal = (d_lo.trials is None and d_hi.trials is None) or (
            d_lo.trials is not None and d_hi.trials is not None and np.array_equal(d_lo.trials, d_hi.trials)
        )
        return call, design, trials_equal


class _Chunk:
    """Lazily computed, cached ``(chunk, S)`` values of each arm for one row chunk."""

    def __init__(self, run: _Pass, rows: slice):
        self.run, self.rows = run, rows
        self._eta: dict[int, np.ndarray] = {}
        self._value: dict[int, np.ndarray] = {}

    def eta(self, arm: int) -> np.ndarray:
        if arm not in self._eta:
            self._eta[arm] = self.run.call.linear_predictor(self.run.designs[arm], self.rows)
        return self._eta[arm]

    def value(self, arm: int) -> np.ndarray:
        if arm not in self._value:
            run = self.run
            if run.type == "link":
                self._value[arm] = self.eta(arm)
            else:  # the cached η stays intact: finish() works on a copy
                self._value[arm] = run.call.finish(self.eta(arm).copy(), run.designs[arm], self.rows)
        return self._value[arm]


class _PairView:
    """``lo``, ``hi``, ``diff`` (exact where possible) and ``orig`` of one contrast in one chunk."""

    def __init__(self, chunk: _Chunk, c: Contrast, original: int | None, x: np.ndarray | None):
        self.chunk, self.c, self.original = chunk, c, original
        self._x = x
        self._diff = None

    @property
    def lo(self):
        return self.chunk.value(self.c.lo)

    @property
    def hi(self):
        return self.chunk.value(self.c.hi)

    @property
    def orig(self):
        return self.chunk.value(self.original)

    @property
    def x(self):
        return self._x[self.chunk.rows, None]

    @property
    def diff(self):
        if self._diff is None:
            self._diff = self._difference()
        return self._diff

    def _difference(self):
        run = self.chunk.run
        delta = run.delta(self.c.lo, self.c.hi)
        if delta is None or run.type == "prediction":
            return self.hi - self.lo
        call, design, trials_equal = delta
        d = call.linear_predictor(design, self.chunk.rows)
        if run.type == "link":
            return d
        return self._increment(self.chunk.eta(self.c.lo), d, trials_equal)

    def _increment(self, eta, d, trials_equal):
        """F(η + d) − F(η) for the response function F, without cancellation where F allows."""
        run = self.chunk.run
        trials = run.designs[self.c.lo].trials
        exact = None if not trials_equal else mean_increment(
            run.spec.family, run.spec.link, eta, d, run.spec.aux,
            None if trials is None else trials[self.chunk.rows])
        return self.hi - self.lo if exact is None else exact


def run_contrasts(
    spec: ModelSpec,
    arms: ArmSet,
    contrasts: list[Contrast],
    *,
    by: list[str] | None,
    wts=None,
    type: str = "response",
    re_formula=None,
    allow_new_levels: bool = False,
    sample_new_levels: str = "uncertainty",
    seed=None,
    chunk_rows: int | None = None,
    progress: bool | None = None,
    x_columns: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """One engine pass over every arm; ``(contrasts, rows or groups, S)`` values and the ``by`` keys.

    Per row (``by=None``) each contrast stores ``rule.per_row``; with ``by`` the
    ``rule.parts`` are averaged within draw (weighted by ``wts``) per group and
    combined by ``rule.finish``.  ``x_columns`` gives the focal variable's
    original values for elasticities (the original frame is then evaluated too).

    Examples
    --------
    >>> import mixeff
    >>> spec = mixeff.example_fit().spec()
    >>> arms = ArmSet(spec.data, spec)
    >>> cs = categorical_contrasts(spec, arms, "TX", "binary", None, "variables")
    >>> cs[0].rule = comparison_rule("difference")
    >>> values, keys = run_contrasts(spec, arms, cs, by=[], re_formula="NA")
    >>> values.shape == (1, 1, spec.n_samples)
    True
    """
    base = arms.base
    original = arms.original() if x_columns else None
    run = _Pass(spec, arms.frames, type=type, re_formula=re_formula, allow_new_levels=allow_new_levels,
                sample_new_levels=sample_new_levels, seed=seed)
    n, s = len(base), spec.n_samples
    if by is None:
        if wts is not None:
            raise ValueError("wts needs by= (or an avg_* verb): weights are used to average rows")
        out = np.empty((len(contrasts), n, s))
        keys = None
        reducers = None
    else:
        codes, keys = group_codes(base, by)
        weights = normalised_weights(base, wts, codes, keys)
        reducers = []
    chunk_rows = chunk_rows or max(1, default_chunk_rows(s) // max(1, min(8, len(arms.frames))))
    for rows in row_chunks(n, chunk_rows, work=n * s * len(arms.frames), progress=progress):
        chunk = _Chunk(run, rows)
        for i, c in enumerate(contrasts):
            view = _PairView(chunk, c, original, None if not x_columns else x_columns.get(c.term))
            if by is None:
                out[i, rows] = c.rule.per_row(view)
            else:
                blocks = c.rule.parts(view)
                if len(reducers) <= i:
                    reducers.append(GroupMeans(codes, len(keys), weights, s, n_arms=len(blocks)))
                reducers[i].update(rows, blocks)
    if by is None:
        return out, None
    values = np.stack([c.rule.finish(r.result()) for c, r in zip(contrasts, reducers)])
    return values, keys


def contrast_grid(contrasts: list[Contrast], base: pd.DataFrame, keys: pd.DataFrame | None) -> pd.DataFrame:
    """``term``, ``contrast``, then the newdata columns (per row) or the ``by`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> c = Contrast(term="TX", lo=0, hi=1, hi_label="1", lo_label="0", label="1 - 0")
    >>> contrast_grid([c], pd.DataFrame({"g": ["a", "b"]}), None).columns.tolist()
    ['term', 'contrast', 'g']
    """
    rows = base if keys is None else keys
    rest = rows.drop(columns=[c for c in ("term", "contrast") if c in rows.columns]).reset_index(drop=True)
    blocks = []
    for c in contrasts:
        head = pd.DataFrame({"term": [c.term] * len(rest), "contrast": [c.label] * len(rest)})
        blocks.append(pd.concat([head, rest], axis=1))
    return pd.concat(blocks, ignore_index=True)
