"""``hypotheses``: functions of a result's rows or of a fit's parameters, per draw, with the evidence for them.

Everything is computed on draws (one value per draw, vectorised over draws) and
summarised like every other result, so :func:`~mixeff.results.get_draws` works on
the output.  On a fit, the rows are the model's parameters in brms's names and the
output follows brms's ``hypothesis()``: posterior probabilities and evidence
ratios of one-sided statements, and Savage–Dickey Bayes factors of point
statements when the fit has prior draws.  On a result the same holds for derived
quantities (brms cannot do that: paul-buerkner/brms#530), the prior version of
the quantity being computed by the same verb call on the fit's prior draws.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..estimands import evidence
from ..estimands.expressions import evaluate, expand_wildcard
from ..estimands.hypothesis_formulas import is_formula, parse_formula
from ..estimands.pairs import check_pairwise_size, index_pairs
from ..model.spec import ModelSpec
from ..results import MixeffWarning, Result, require_finite, row_labels, summarise_draws
from .fits import parameter_draws

if TYPE_CHECKING:
    from ..model.spec import FitLike

SHORTCUTS = ("pairwise", "reference", "sequential", "revpairwise", "revreference", "revsequential")
_ROW = re.compile(r"^b([0-9]+)$")
_INEQUALITIES = (">", ">=", "<", "<=")


class HypothesesResult(Result):
    """A :class:`~mixeff.results.Result` whose summary adds the evidence for each hypothesis.

    * ``probability``: for an inequality (``>``, ``>=``, ``<``, ``<=``) the share of
      draws in which it holds (brms's ``Post.Prob``); for a point hypothesis
      (``=``) with prior draws, ``evidence_ratio / (1 + evidence_ratio)``, the
      posterior probability of the point at even prior odds (brms's too).
    * ``evidence_ratio``: for an inequality ``p / (1 - p)`` (``inf`` when every
      draw satisfies it, as brms); for a point hypothesis the Savage–Dickey Bayes
      factor BF01 = posterior density / prior density at the point (brms's
      ``Evid.Ratio``), with the density estimator in ``bayes_factor_method``.
    * with ``equivalence=(lo, hi)``: ``p_rope_unconditional`` (share of draws
      strictly inside), ``p_rope_conditional`` (that share among draws inside the
      credible interval; marginaleffects' ``p.rope.*``), ``p_below_rope`` and
      ``p_above_rope`` (shares at or beyond each end).

    Examples
    --------
    >>> import mixeff
    >>> p = mixeff.avg_predictions(mixeff.example_fit(), by="TX")
    >>> h = mixeff.hypotheses(p, "b1 > 400")
    >>> isinstance(h, HypothesesResult), bool(0 <= h.summary["probability"].iloc[0] <= 1)
    (True, True)
    """

    def __init__(
        self,
        grid: pd.DataFrame,
        draws: np.ndarray,
        n_chains: int,
        n_draws: int,
        *,
        directions: Sequence[str | None],
        equivalence: tuple[float, float] | None,
        bayes_factors: np.ndarray | None = None,
        bayes_factor_method: str | None = None,
        **kwargs: Any,
    ):
        self.directions = list(directions)
        self.equivalence = equivalence
        self.bayes_factors = bayes_factors
        """``(rows,)`` Savage–Dickey BF01 of point hypotheses (NaN elsewhere), or None."""
        self.bayes_factor_method = bayes_factor_method
        super().__init__(grid, draws, n_chains, n_draws, **kwargs)

    basis: np.ndarray | None = None
    """The draws the evidence columns read when ``transform`` changed ``draws`` afterwards (as marginaleffects,
    probabilities and ROPE shares are on the scale before the transform)."""

    def summarise(self, **options) -> pd.DataFrame:
        """The summary of :class:`~mixeff.results.Result`, plus the evidence columns.

        ``probability`` and ``evidence_ratio`` for inequalities (and Bayes factors), the ROPE shares with
        ``equivalence``.
        """
        out = super().summarise(**options)
        d = self.draws if self.basis is None else self.basis
        if any(op in _INEQUALITIES for op in self.directions) or self.bayes_factors is not None:
            prob, ratio = np.full(len(d), np.nan), np.full(len(d), np.nan)
            for op in _INEQUALITIES:
                rows = [i for i, o in enumerate(self.directions) if o == op]
                if rows:
                    prob[rows] = evidence.posterior_probability(d[rows], op)
                    ratio[rows] = evidence.evidence_ratio(d[rows], op)
            if self.bayes_factors is not None:
                point = ~np.isnan(self.bayes_factors)
                ratio[point] = self.bayes_factors[point]
                prob[point] = ratio[point] / (1 + ratio[point])
            out["probability"] = prob
            out["evidence_ratio"] = ratio
        if self.equivalence is not None:
            lo, hi = self.equivalence
            inside = (d > lo) & (d < hi)
            out["p_rope_unconditional"] = inside.mean(axis=1)
            summary_options = {k: v for k, v in {**self.options, **options}.items() if k in self.options}
            bounds = out if self.basis is None else summarise_draws(d, **summary_options)
            in_ci = (d >= bounds["conf_low"].to_numpy()[:, None]) & (d <= bounds["conf_high"].to_numpy()[:, None])
            out["p_rope_conditional"] = (inside & in_ci).sum(axis=1) / np.maximum(in_ci.sum(axis=1), 1)
            out["p_below_rope"] = (d <= lo).mean(axis=1)
            out["p_above_rope"] = (d >= hi).mean(axis=1)
        return out

    @property
    def header(self) -> list[str]:
        """The lines printed above the table: the result's, plus what the evidence columns mean."""
        lines = super().header
        if any(op in _INEQUALITIES for op in self.directions):
            lines.append("probability: share of draws in which the inequality holds; evidence_ratio = p / (1 - p)")
        if self.bayes_factors is not None:
            lines.append(f"point hypotheses: evidence_ratio = Savage–Dickey BF01 ({self.bayes_factor_method})")
        return lines


@dataclass
class _Rows:
    """What a hypothesis is evaluated on: ``(n, S)`` draws, a grid, and how names find rows."""

    draws: np.ndarray
    grid: pd.DataFrame
    resolve: Callable[[str, str], int]
    prior: Callable[[], _Rows | None]
    """The same rows on prior draws (computed when a point hypothesis needs them), or None."""


def hypotheses(
    x: Result | FitLike | ModelSpec,
    hypothesis: str | Sequence[str] | np.ndarray | pd.DataFrame | None = None,
    *,
    equivalence: tuple[float, float] | None = None,
    prior: Result | None = None,
    bayes_factor: bool | None = None,
    conf_level: float | None = None,
    estimator: Literal["median", "mean"] | None = None,
    interval: Literal["eti", "hdi"] | None = None,
) -> HypothesesResult:
    """Hypotheses on the draws of a result or on a fit's parameters: expressions, contrasts, evidence, ROPE.

    Parameters
    ----------
    x : Result, MixedFit or ModelSpec
        A mixeff result (predictions, comparisons, slopes, hypotheses), or a fit,
        whose parameters are then the rows, in brms's names (``b_TX``,
        ``sd_cluster__Intercept``, ``sigma``...; as brms's ``hypothesis()``,
        a bare name means ``b_<name>``: ``"TX < 0"``).
    hypothesis : str, list of str, array, optional
        * An expression: ``"b2 - b1 = 0"`` (``b1`` = the **first** row, as in
          marginaleffects), ``"b2 / b1 = 1"``, ``"exp(b1)"``; rows may also be named
          by a unique ``term`` or row label (in backticks when not an identifier:
          ``"`1` - `0` = 0"``), and a fit's parameters by name (``"TX < 0"``).
          ``lhs = rhs`` gives the draws of ``lhs - rhs``; with no comparison the
          expression itself.
        * An inequality ``"b1 > 0.4"`` (also ``>=``, ``<``, ``<=``): adds
          ``probability`` (share of draws where it holds) and ``evidence_ratio``
          (``p / (1 - p)``), as brms's ``hypothesis()``.
        * A point hypothesis ``"b1 = 0"`` with prior draws available adds the
          Savage–Dickey ``evidence_ratio`` BF01 (see ``bayes_factor``).
        * ``b*`` repeats an expression for every row: ``"b* > 0.4"``.
        * A formula as marginaleffects': ``"~ pairwise"``, ``"~ reference"``,
          ``"~ sequential"``, ``"~ revpairwise"``, ``"~ revreference"``, ``"~ meandev"``,
          ``"~ meanotherdev"``, ``"~ trt_vs_ctrl"``, ``"~ poly"``, ``"~ helmert"``, with
          ``"ratio ~ ..."`` for ratios and ``"... | g"`` to compare within groups of
          column ``g`` (labels such as ``"(1) - (0)"``).
        * The older strings ``"reference"``, ``"sequential"``, ``"pairwise"`` (row
          i minus row j for i < j), and their ``"rev*"`` forms.
        * A vector of row weights (one linear combination) or a ``(rows, k)``
          matrix (k combinations; a DataFrame's column names label them).
        * ``None``: the rows themselves (e.g. to add ``equivalence``).
    equivalence : (float, float), optional
        Region of practical equivalence ``(lo, hi)``: adds ``p_rope_unconditional``,
        ``p_rope_conditional``, ``p_below_rope`` and ``p_above_rope``.
    prior : Result, optional
        The same result computed on prior draws (``draws="prior"``), for the
        Savage–Dickey Bayes factor of point hypotheses.  By default a result from a
        fit with prior draws (``sample_prior="yes"``) recomputes it itself.
    bayes_factor : bool, optional
        None (default): Savage–Dickey Bayes factors for point hypotheses when prior
        draws are available; True: require them (an error otherwise); False: skip.
    conf_level, estimator, interval
        Summary options; those of ``x`` by default.

    Returns
    -------
    HypothesesResult
        ``kind="hypotheses"``; grid column ``hypothesis`` (the label; with ``| g``
        the group columns first) unless ``hypothesis`` is None; ``.draws`` is
        ``(hypotheses, S)``.

    Examples
    --------
    >>> import mixeff
    >>> fit = mixeff.example_fit()
    >>> p = mixeff.avg_predictions(fit, by="TX", re_formula="NA")
    >>> mixeff.hypotheses(p, "b2 / b1 = 1").summary["hypothesis"].tolist()
    ['b2 / b1 = 1']
    >>> mixeff.hypotheses(p, "~ pairwise").summary["hypothesis"].tolist()
    ['(1) - (0)']
    >>> h = mixeff.hypotheses(fit, "TX < 0")
    >>> bool(h.summary["probability"].iloc[0] > 0.5)
    True
    """
    rows, meta = _rows_of(x, prior)
    draws, n_rows = rows.draws, rows.draws.shape[0]
    directions = [None] * n_rows
    texts = None
    if hypothesis is None:
        grid, values = rows.grid, draws
    elif is_formula(hypothesis):
        grid, values = _formula(rows, hypothesis)
        directions = [None] * len(values)
    elif isinstance(hypothesis, str) and hypothesis in SHORTCUTS:
        grid, values = _shortcut(rows, hypothesis)
        directions = [None] * len(values)
    elif isinstance(hypothesis, str) or (
        isinstance(hypothesis, (list, tuple)) and hypothesis and all(isinstance(h, str) for h in hypothesis)
    ):
        texts = [
            e
            for text in ([hypothesis] if isinstance(hypothesis, str) else hypothesis)
            for e in expand_wildcard(text, n_rows)
        ]
        values, directions = _expressions(texts, rows)
        grid = pd.DataFrame({"hypothesis": [t.strip() for t in texts]})
    elif isinstance(hypothesis, (list, tuple, np.ndarray, pd.DataFrame)):
        grid, values = _lincom(hypothesis, draws)
        directions = [None] * len(values)
    else:
        raise ValueError(
            f"hypothesis={hypothesis!r} is not understood; use an expression such as 'b2 - b1 = 0' "
            f"(b1 = first row), a formula such as '~ pairwise', a vector/matrix of row weights, or None"
        )
    bfs, method = _bayes_factors(texts, directions, values, rows, bayes_factor)
    eq = _check_equivalence(equivalence)
    opts = {
        **meta["options"],
        **{
            k: v
            for k, v in dict(conf_level=conf_level, estimator=estimator, interval=interval).items()
            if v is not None
        },
    }
    return HypothesesResult(
        grid,
        values,
        meta["n_chains"],
        meta["n_draws"],
        directions=directions,
        equivalence=eq,
        bayes_factors=bfs,
        bayes_factor_method=method,
        kind="hypotheses",
        type=meta["type"],
        source=meta["source"],
        new_levels=meta["new_levels"],
        selection=meta["selection"],
        **opts,
    )


# --------------------------------------------------------------------------- what the rows are


def _rows_of(x, prior) -> tuple[_Rows, dict]:
    if isinstance(x, Result):
        return _result_rows(x, prior), dict(
            n_chains=x.n_chains,
            n_draws=x.n_draws,
            type=x.type,
            source=x.source,
            new_levels=x.new_levels,
            options=x.options,
            selection=x.selection,
        )
    if prior is not None:
        raise ValueError("prior= is for results; a fit's own prior draws are used for its parameters")
    if not (isinstance(x, ModelSpec) or callable(getattr(x, "spec", None))):
        raise TypeError(
            f"hypotheses needs a mixeff Result (from predictions, comparisons, slopes...) or a fit, got "
            f"{type(x).__name__}"
        )
    names, draws, n_chains, n_draws = parameter_draws(x, _default_draws(x))

    def resolve(name, text):
        try:
            return evidence.resolve_parameter(name, names)
        except ValueError as err:
            raise ValueError(f"hypothesis {text!r}: {err}") from None

    def prior_rows():
        if "prior" not in getattr(x, "available_draws", []) or _default_draws(x) == "prior":
            return None
        p_names, p_draws, _, _ = parameter_draws(x, "prior")
        lookup = {n: i for i, n in enumerate(p_names)}
        order = [lookup.get(n) for n in names]
        if any(i is None for i in order):
            return None
        return _Rows(p_draws[order], pd.DataFrame({"parameter": names}), resolve, lambda: None)

    rows = _Rows(draws, pd.DataFrame({"parameter": names}), resolve, prior_rows)
    source = "prior" if _default_draws(x) == "prior" else "posterior"
    return rows, dict(
        n_chains=n_chains,
        n_draws=n_draws,
        type="parameters",
        source=source,
        new_levels=None,
        options=dict(conf_level=0.95, estimator="median", interval="eti"),
        selection=None,
    )


def _default_draws(fit) -> str:
    return getattr(fit, "default_draws", getattr(fit, "source", "posterior"))


def _result_rows(result: Result, prior) -> _Rows:
    n = result.draws.shape[0]
    names: dict[str, int] = {}
    if "term" in result.grid.columns and result.grid["term"].is_unique:
        names.update({str(t): i for i, t in enumerate(result.grid["term"])})
    labels = row_labels(result.grid)
    if labels is not None and len(set(labels)) == len(labels):
        names.update({lab: i for i, lab in enumerate(labels) if lab not in names})

    def resolve(name, text):
        m = _ROW.match(name)
        if m is not None:
            i = int(m.group(1))
            if not 1 <= i <= n:
                extra = " (rows are numbered from b1, the first row, as in marginaleffects)" if i == 0 else ""
                raise ValueError(
                    f"hypothesis {text!r} names row b{i}, which does not exist: the result has "
                    f"{n} row(s), b1..b{n}{extra}"
                )
            return i - 1
        if name in names:
            return names[name]
        known = f"; or by name: {list(names)[:8]}" if names else ""
        raise ValueError(
            f"hypothesis {text!r}: unknown name {name!r}; refer to rows as b1, b2, ... (b1 = first "
            f"row, as in marginaleffects){known}"
        )

    def prior_rows():
        other = prior
        if other is None:
            call = result.call
            if call is None or result.source == "prior" or "prior" not in getattr(call.fit, "available_draws", ()):
                return None
            from .run import execute

            try:
                other = execute(call.on("prior"))
            except (ValueError, ArithmeticError) as err:  # e.g. vague priors overflow in some prior draws
                raise _NoPrior(f"the {result.kind} could not be computed on the prior draws: {err}") from None
        if not isinstance(other, Result):
            raise TypeError(f"prior= must be the same result on prior draws, got {type(other).__name__}")
        if len(other) != n:
            raise ValueError(f"prior= must be the same result on prior draws ({n} rows), got {len(other)} rows")
        if other.source != "prior":
            raise ValueError("prior= holds posterior draws; compute it with draws='prior'")
        return _Rows(other.draws, other.grid, resolve, lambda: None)

    return _Rows(result.draws, result.grid, resolve, prior_rows)


# --------------------------------------------------------------------------- evaluating


def _expressions(texts: list[str], rows: _Rows):
    values, directions = [], []
    for text in texts:
        value, op = evaluate(text, rows.draws, rows.resolve)
        require_finite(
            value[None, :],
            f"hypothesis {text!r}",
            "it divides by zero, takes the log or sqrt of a non-positive value, or overflows in "
            "those draws; rewrite it (e.g. a difference instead of a ratio)",
        )
        values.append(value)
        directions.append(op)
    return np.vstack(values), directions


def _bayes_factors(texts, directions, values, rows: _Rows, wanted):
    """Savage–Dickey BF01 of each point hypothesis (NaN for other rows), or ``(None, None)``."""
    if wanted is not None and not isinstance(wanted, bool):
        raise TypeError(f"bayes_factor={wanted!r} must be True, False or None (when prior draws are available)")
    point = [i for i, op in enumerate(directions) if op == "="]
    if wanted is False or not point:
        if wanted and not point:
            raise ValueError(
                "bayes_factor=True needs a point hypothesis such as 'b1 = 0' (Savage–Dickey compares "
                "densities at a point)"
            )
        return None, None
    try:
        prior_rows = rows.prior()
    except _NoPrior as err:
        _warn_no_bayes_factor(str(err))
        return None, None
    if prior_rows is None:
        if wanted:
            raise ValueError(
                "bayes_factor=True needs prior draws: fit with sample_prior='yes', or pass prior= (the "
                "same result computed with draws='prior')"
            )
        return None, None
    out = np.full(len(values), np.nan)
    method = None
    for i in point:
        text = texts[i]
        prior_value, _ = evaluate(text, prior_rows.draws, prior_rows.resolve)
        lhs_minus_rhs = values[i]
        try:
            sd = evidence.savage_dickey(lhs_minus_rhs, prior_value, 0.0)
        except ValueError as err:  # the prior puts no mass at the point, or too few finite draws
            _warn_no_bayes_factor(f"hypothesis {text!r}: {err}")
            continue
        out[i], method = sd["bf01"], sd["method"]
    if method is None:
        return None, None
    n_post, n_prior = values.shape[1], prior_rows.draws.shape[1]
    return out, f"{method}; {n_post} posterior and {n_prior} prior draws"


class _NoPrior(Exception):
    """The prior version of a result could not be computed (the posterior answer stands)."""


def _warn_no_bayes_factor(why: str) -> None:
    warnings.warn(
        f"no Savage–Dickey Bayes factor: {why}. The posterior result is returned without it "
        "(evidence_ratio empty for point hypotheses); pass bayes_factor=False to skip the prior pass",
        MixeffWarning,
        stacklevel=4,
    )


def _formula(rows: _Rows, text: str):
    form = parse_formula(text)
    grid = rows.grid
    missing = [g for g in form.group if g not in grid.columns]
    if missing:
        raise ValueError(f"hypothesis={text!r}: {missing} not a column of the result; available: {list(grid.columns)}")
    labels = row_labels(grid, exclude=form.group) or [f"Row {i + 1}" for i in range(len(grid))]
    if len(set(labels)) < len(labels) and not form.group:
        labels = [f"Row {i + 1}" for i in range(len(grid))]
    if not form.group:
        values, names = form.apply(rows.draws, labels)
        return pd.DataFrame({"hypothesis": names}), _finite(values, text)
    keys = grid[list(form.group)].drop_duplicates()
    try:  # groups in sorted order, as marginaleffects' keyby
        keys = keys.sort_values(list(form.group), kind="stable")
    except TypeError:
        pass
    blocks, frames = [], []
    for _, key in keys.iterrows():
        mask = np.ones(len(grid), dtype=bool)
        for g in form.group:
            mask &= (grid[g] == key[g]).to_numpy()
        idx = np.flatnonzero(mask)
        values, names = form.apply(rows.draws[idx], [labels[i] for i in idx])
        head = pd.DataFrame({g: [key[g]] * len(names) for g in form.group})
        head["hypothesis"] = names
        frames.append(head)
        blocks.append(values)
    return pd.concat(frames, ignore_index=True), _finite(np.vstack(blocks), text)


def _finite(values: np.ndarray, text: str) -> np.ndarray:
    return require_finite(
        values,
        f"hypothesis={text!r}",
        "a ratio divides by zero in those draws; compare differences instead ('~ ...' rather than 'ratio ~ ...')",
    )


def _check_equivalence(equivalence):
    if equivalence is None:
        return None
    if isinstance(equivalence, (str, bytes)):
        raise TypeError(
            f"equivalence={equivalence!r} must be a pair of numbers (lo, hi) bounding the region of practical "
            "equivalence, e.g. (-0.1, 0.1), not a string"
        )
    try:
        lo, hi = (float(v) for v in equivalence)
    except (TypeError, ValueError):
        raise ValueError(
            f"equivalence={equivalence!r} must be a pair (lo, hi) bounding the region of practical "
            "equivalence, e.g. (-0.1, 0.1)"
        ) from None
    if np.isnan(lo) or np.isnan(hi) or not lo < hi:
        raise ValueError(f"equivalence={equivalence!r}: lo must be below hi, e.g. (-0.1, 0.1) (one-sided: (0, inf))")
    return lo, hi


# --------------------------------------------------------------------------- shortcuts and weights


def _shortcut(rows: _Rows, how: str):
    n = rows.draws.shape[0]
    if n < 2:
        raise ValueError(f"hypothesis={how!r} needs at least two rows; the result has {n}")
    check_pairwise_size(n, how, f"hypothesis={how!r}")
    base = how[3:] if how.startswith("rev") else how
    pairs = index_pairs(n, base)
    if (base == "pairwise") != how.startswith("rev"):  # marginaleffects' string form: row i - row j, i < j
        pairs = [(j, i) for i, j in pairs]
    labels = row_labels(rows.grid)
    if labels is not None and len(set(labels)) < len(labels):
        labels = None
    if labels is not None and any("-" in lab for lab in labels):
        labels = [f"({lab})" for lab in labels]
    names = [f"Row {a + 1} - Row {b + 1}" if labels is None else f"{labels[a]} - {labels[b]}" for a, b in pairs]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    return pd.DataFrame({"hypothesis": names}), rows.draws[a] - rows.draws[b]


def _lincom(hypothesis, draws: np.ndarray):
    n = draws.shape[0]
    names = [str(c) for c in hypothesis.columns] if isinstance(hypothesis, pd.DataFrame) else None
    try:
        weights = np.asarray(hypothesis, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"hypothesis weights must be numbers; got {hypothesis!r}") from None
    shape = weights.shape
    if weights.ndim == 1:
        weights = weights[:, None]
    if weights.ndim != 2 or weights.shape[0] != n:
        raise ValueError(
            f"hypothesis weights have shape {shape}; give a vector of {n} row weights or a ({n}, k) matrix"
        )
    if not np.isfinite(weights).all():
        raise ValueError(f"hypothesis weights must be finite numbers; got {weights.ravel()[:8].tolist()}")
    k = weights.shape[1]
    if names is None:
        names = ["custom"] if k == 1 else [f"custom {i + 1}" for i in range(k)]
    return pd.DataFrame({"hypothesis": names}), weights.T @ draws
