"""The likelihood of each level of a grouping factor with its effects integrated out.

For level j of factor g and draw s: log ∫ ∏_{i in j} p(y_i | η_i + z_iᵀ b) N(b; 0, Σ_g,s) db, where η_i is
the row's fixed part plus the other factors' effects at their fitted levels (brms's ``log_lik`` of a
level, marginal over its own effects: the input of leave-one-cluster-out PSIS-LOO).

* **gaussian / lognormal (identity link)**: closed form.  y_j ~ N(η_j, W Wᵀ + σ² I) with W = Z_j L,
  L Lᵀ = Σ; by Woodbury and the matrix determinant lemma only the q × q matrix M = σ² I + WᵀW is
  factorised: log det = 2(n − q) log σ + log det M, and rᵀC⁻¹r = (rᵀr − (Wᵀr)ᵀ M⁻¹ Wᵀr) / σ².  The
  lognormal is that on log y minus Σ log y.
* **bernoulli / binomial (logit), poisson (log)**: adaptive Gauss–Hermite.  With b = L u, u ~ N(0, I),
  the mode û of f(u) = Σ log p(y_i | η_i + w_iᵀ u) − ½ uᵀu is found by damped Newton (analytic
  gradient and Hessian in η), the nodes are centred at û and scaled by the Laplace covariance
  (−∇²f)⁻¹, and a tensor product of n nodes per dimension is summed by log-sum-exp.  The value is the
  rule with :data:`CHECK_NODES` nodes; the error estimate is its largest difference (on the log scale,
  i.e. relative in the likelihood) from the rule with :data:`NODES` nodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from ..config import get_options
from ..model.spec import ModelSpec
from .parallel import ordered_map, resolve_jobs, single_threaded_blas
from .random_effects import covariance, matrix_root

NODES = {1: 20, 2: 12, 3: 8}
"""Gauss–Hermite nodes per dimension for q random-effect terms (the lower of the two rules)."""
CHECK_NODES = {1: 30, 2: 18, 3: 12}
"""... and the higher rule, whose value is returned; their difference is the error estimate."""
QUADRATURE_FAMILIES = {("bernoulli", "logit"), ("binomial", "logit"), ("poisson", "log")}
"""(family, link) pairs the adaptive quadrature has the analytic derivatives of."""
_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class LevelLikelihood:
    """``values`` ``(levels, S)`` of the log-likelihood of each level (``labels``), how it was computed."""

    labels: np.ndarray
    values: np.ndarray
    method: str
    nodes: int
    error_bound: float
    other_factors: tuple[str, ...]


def integrated_log_lik(spec: ModelSpec, frame: pd.DataFrame, group: str, n_jobs: int | None = None) -> LevelLikelihood:
    """Each level's joint log-likelihood per draw with the level's effects of ``group`` integrated out.

    The levels run on ``n_jobs`` threads; the values do not depend on it.
    """
    family, link = spec.family.name, spec.link.name
    closed = family in ("gaussian", "lognormal") and link == "identity"
    if not closed and (family, link) not in QUADRATURE_FAMILIES:
        raise ValueError(
            f"log_lik(group=...) integrates a level's effects in closed form for gaussian and lognormal "
            f"(identity link) and by adaptive Gauss-Hermite quadrature for bernoulli(logit), binomial(logit) "
            f"and poisson(log); not yet for {family}({link}): score new clusters with "
            f"mixeff.kfold(fit, group={group!r}) (exact refits), or leave group=None for each row's likelihood"
        )
    if spec.dpars:
        grouped = [name for name, p in spec.dpars.items() if p.groups]
        raise ValueError(
            f"log_lik(group=...) does not yet integrate models whose auxiliary parameter(s) "
            f"{grouped or list(spec.dpars)} have their own formula"
            + (" with group-level terms" if grouped else "")
            + f": score new clusters with mixeff.kfold(fit, group={group!r}) (exact refits), or leave group=None"
        )
    factor = spec.groups[group]
    q = factor.sd.shape[1]
    if not closed and q > 3:
        raise ValueError(
            f"log_lik(group={group!r}): the factor has {q} group-level terms {list(factor.terms)}; adaptive "
            "quadrature is offered for up to 3 (a tensor-product rule grows as nodes**q): score new clusters "
            f"with mixeff.kfold(fit, group={group!r}) (exact refits), or fit at most 3 terms in ( ... | {group})"
        )
    y = frame[spec.response].to_numpy(dtype=float)
    eta, others = _other_parts(spec, frame, group)
    z = np.asarray(factor.design(frame), dtype=float).reshape(len(frame), q)
    root = matrix_root(covariance(factor))  # (S, q, q)
    labels, uniques = pd.factorize(pd.Series(factor.labels_of(frame)), sort=False)
    levels = np.asarray(uniques).astype(str)
    out = np.empty((len(levels), spec.n_samples))
    error = 0.0
    if closed:
        sigma = np.broadcast_to(np.asarray(spec.aux["sigma"], dtype=float), (spec.n_samples,))
        for j in range(len(levels)):
            rows = labels == j
            yj = np.log(y[rows]) if family == "lognormal" else y[rows]
            out[j] = _gaussian(yj, eta[rows], z[rows], root, sigma)
            if family == "lognormal":
                out[j] -= yj.sum()
        return LevelLikelihood(levels, out, "closed form", 0, 0.0, others)
    trials = _trials(spec, frame)
    n, n_hi = NODES[q], CHECK_NODES[q]

    def level(j: int) -> tuple[np.ndarray, float]:
        rows = labels == j
        w = np.einsum("nq,sqk->snk", z[rows], root)  # (S, n, q)
        eta_j = np.ascontiguousarray(eta[rows].T)
        mode, chol = _laplace(y[rows], eta_j, w, trials[rows], family)
        hi = _gauss_hermite(y[rows], eta_j, w, trials[rows], family, mode, chol, n_hi)
        lo = _gauss_hermite(y[rows], eta_j, w, trials[rows], family, mode, chol, n)
        return hi, float(np.max(np.abs(hi - lo)))

    with single_threaded_blas():  # the levels are the parallelism
        for j, (values, err) in enumerate(ordered_map(level, range(len(levels)), resolve_jobs(n_jobs))):
            out[j] = values
            error = max(error, err)
    method = f"adaptive Gauss-Hermite quadrature, {n_hi}^{q} nodes (error estimated against {n}^{q})"
    return LevelLikelihood(levels, out, method, n_hi**q, error, others)


def _other_parts(spec: ModelSpec, frame: pd.DataFrame, group: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(rows, S)`` η without ``group``'s effects: fixed part, offset, other factors at their fitted levels."""
    eta = np.asarray(spec.fixed_design(frame), dtype=float) @ spec.beta_t
    if spec.offset is not None:
        eta = eta + np.asarray(spec.offset(frame), dtype=float).reshape(-1, 1)
    others = []
    for name, other in spec.groups.items():
        if name == group:
            continue
        labels = other.labels_of(frame)
        codes = np.array([other.level_index.get(str(lab), -1) for lab in labels], dtype=np.int64)
        if (codes < 0).any():
            new = pd.unique(labels[codes < 0])[:5].tolist()
            raise ValueError(
                f"log_lik(group={group!r}) keeps the other factors at their fitted levels, but {name!r} has "
                f"level(s) {new} the model has not seen"
            )
        zo = np.asarray(other.design(frame), dtype=float).reshape(len(frame), -1)
        eta = eta + np.einsum("nq,snq->ns", zo, other.b[:, codes, :])
        others.append(name)
    return eta, tuple(others)


def _trials(spec: ModelSpec, frame: pd.DataFrame) -> np.ndarray:
    if not spec.family.needs_trials:
        return np.ones(len(frame))
    if isinstance(spec.trials, str):
        return frame[spec.trials].to_numpy(dtype=float)
    if spec.trials is None:
        raise ValueError("log_lik(group=...): the binomial family needs the trials (spec.trials)")
    return np.full(len(frame), float(spec.trials))


def _gaussian(y: np.ndarray, mean: np.ndarray, z: np.ndarray, root: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """The log of N(y; mean_s, Z L_s L_sᵀ Zᵀ + σ_s² I) for each draw s (``mean`` ``(n, S)``)."""
    n, q = z.shape
    w = np.einsum("nq,sqk->snk", z, root)  # (S, n, q)
    r = y[None, :] - mean.T  # (S, n)
    var = sigma**2
    m = np.einsum("snk,snl->skl", w, w) + var[:, None, None] * np.eye(q)
    chol = np.linalg.cholesky(m)
    wr = np.einsum("snk,sn->sk", w, r)
    half = np.linalg.solve(chol, wr[:, :, None])[:, :, 0]  # L_M⁻¹ Wᵀr
    quad = (np.einsum("sn,sn->s", r, r) - np.einsum("sk,sk->s", half, half)) / var
    logdet = 2.0 * (n - q) * np.log(sigma) + 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return -0.5 * (n * _LOG_2PI + logdet + quad)


def _log_density(y: np.ndarray, eta: np.ndarray, trials: np.ndarray, family: str) -> np.ndarray:
    """Σ over the level's rows (last axis) of log p(y | η)."""
    if family == "poisson":
        return (y * eta - np.exp(eta) - special.gammaln(y + 1.0)).sum(axis=-1)
    log_choose = special.gammaln(trials + 1.0) - special.gammaln(y + 1.0) - special.gammaln(trials - y + 1.0)
    return (log_choose + y * eta - trials * np.logaddexp(0.0, eta)).sum(axis=-1)


def _derivatives(y: np.ndarray, eta: np.ndarray, trials: np.ndarray, family: str) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivatives of each row's log p(y | η) in η."""
    if family == "poisson":
        mu = np.exp(eta)
        return y - mu, -mu
    p = special.expit(eta)
    return y - trials * p, -trials * p * (1.0 - p)


def _objective(
    y: np.ndarray, eta0: np.ndarray, w: np.ndarray, trials: np.ndarray, family: str, u: np.ndarray
) -> np.ndarray:
    """f(u) = Σ log p(y | η0 + W u) − ½ uᵀu for each draw (``u`` ``(S, q)``)."""
    eta = eta0 + (w @ u[:, :, None])[:, :, 0]
    return _log_density(y, eta, trials, family) - 0.5 * (u * u).sum(axis=1)


def _laplace(
    y: np.ndarray, eta0: np.ndarray, w: np.ndarray, trials: np.ndarray, family: str, iterations: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """The mode û ``(S, q)`` of f by damped Newton, and the Cholesky factor of (−∇²f(û))⁻¹."""
    s, _, q = w.shape
    u = np.zeros((s, q))
    value = _objective(y, eta0, w, trials, family, u)
    eye = np.eye(q)
    for _ in range(iterations):
        d1, d2 = _derivatives(y, eta0 + (w @ u[:, :, None])[:, :, 0], trials, family)
        grad = (d1[:, None, :] @ w)[:, 0, :] - u
        neg_hess = eye - w.transpose(0, 2, 1) @ (d2[:, :, None] * w)
        step = np.linalg.solve(neg_hess, grad[:, :, None])[:, :, 0]
        scale = np.ones(s)
        for _ in range(30):  # halve the step where f did not increase
            trial = u + scale[:, None] * step
            new = _objective(y, eta0, w, trials, family, trial)
            worse = ~(new >= value - 1e-12 * np.abs(value))
            if not worse.any():
                break
            scale = np.where(worse, 0.5 * scale, scale)
        u, value = trial, new
        if np.max(np.abs(scale[:, None] * step)) < 1e-11:
            break
    d1, d2 = _derivatives(y, eta0 + (w @ u[:, :, None])[:, :, 0], trials, family)
    neg_hess = eye - w.transpose(0, 2, 1) @ (d2[:, :, None] * w)
    return u, np.linalg.cholesky(np.linalg.inv(neg_hess))


def _gauss_hermite(
    y: np.ndarray,
    eta0: np.ndarray,
    w: np.ndarray,
    trials: np.ndarray,
    family: str,
    mode: np.ndarray,
    chol: np.ndarray,
    n: int,
) -> np.ndarray:
    """The log of ∫ exp f(u) du · (2π)^(−q/2) by the tensor-product rule of n nodes per dimension.

    At node x_k, u_k = û + √2 C x_k and η = (η0 + W û) + √2 W C x_k: the part of f linear in η,
    Σ y η, is summed in q dimensions, and only the curved part (Σ t·log(1 + e^η), or Σ e^η) visits
    every row at every node, in one compiled pass (:func:`_curved_sums`).
    """
    q = mode.shape[1]
    x, weights = np.polynomial.hermite.hermgauss(n)
    nodes = np.stack([g.ravel() for g in np.meshgrid(*([x] * q), indexing="ij")], axis=1)  # (K, q)
    log_w = np.log(np.stack(np.meshgrid(*([weights] * q), indexing="ij"), axis=0)).reshape(q, -1).sum(axis=0)
    base = eta0 + (w @ mode[:, :, None])[:, :, 0]  # (S, n)
    slopes = np.sqrt(2.0) * (w @ chol)  # (S, n, q)
    curved = _curved_sums(base, slopes, x, nodes, trials, family)  # (S, K)
    linear = (base @ y)[:, None] + (y @ slopes) @ nodes.T
    u = mode[:, None, :] + np.sqrt(2.0) * (nodes @ chol.transpose(0, 2, 1))  # (S, K, q)
    f = linear - curved + _log_base_measure(y, trials, family) - 0.5 * (u * u).sum(axis=2)
    terms = f + (nodes**2).sum(axis=1)[None, :] + log_w[None, :]
    log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return special.logsumexp(terms, axis=1) + 0.5 * q * np.log(2.0) + log_det - 0.5 * q * _LOG_2PI


def _log_base_measure(y: np.ndarray, trials: np.ndarray, family: str) -> float:
    """Σ of the terms of log p(y | η) free of η: −log y! (poisson), log C(t, y) (binomial)."""
    if family == "poisson":
        return float(-special.gammaln(y + 1.0).sum())
    return float((special.gammaln(trials + 1.0) - special.gammaln(y + 1.0) - special.gammaln(trials - y + 1.0)).sum())


def _curved_sums(
    base: np.ndarray, slopes: np.ndarray, x: np.ndarray, nodes: np.ndarray, trials: np.ndarray, family: str
) -> np.ndarray:
    """``(S, K)``: Σ_i c(base[s, i] + slopes[s, i] · nodes[k]) with c(η) = t_i log(1 + e^η), or e^η (poisson)."""
    s_count, k_count = base.shape[0], nodes.shape[0]
    out = np.empty((s_count, k_count))
    kernel = _compiled_curved_sums()
    poisson = family == "poisson"
    if kernel is not None:
        kind = 2 if poisson else 0 if np.all(trials == 1.0) else 1
        kernel(
            np.ascontiguousarray(base),
            np.ascontiguousarray(slopes),
            np.ascontiguousarray(x),
            np.ascontiguousarray(nodes),
            np.ascontiguousarray(trials, dtype=float),
            kind,
            out,
        )
        return out
    step = max(1, 2_000_000 // max(1, k_count * base.shape[1]))
    for a in range(0, s_count, step):
        eta = base[a : a + step, :, None] + slopes[a : a + step] @ nodes.T  # (s, n, K)
        c = np.exp(eta) if poisson else trials[None, :, None] * np.logaddexp(0.0, eta)
        out[a : a + step] = c.sum(axis=1)
    return out


def _curved_sums_loop(base, slopes, x, nodes, trials, kind, out):  # pragma: no cover - compiled by numba
    # out[s, k] = Σ_i c(η_sik), η_sik = base[s, i] + Σ_m slopes[s, i, m] x[k_m] on the tensor grid of x (k in C
    # order, as nodes).  Where the draw's exponents are moderate, e^η = e^base · Π_m e^(slope_m x_km) from
    # tables of n·(1 + q·len(x)) exps per draw instead of one exp per row and node, and Σ log(1 + e^η) is
    # the log of a running product; otherwise each cell is computed directly.
    n_draws, n = base.shape
    q = slopes.shape[2]
    m = x.size
    width = (m, m if q >= 2 else 1, m if q >= 3 else 1)
    e0 = np.empty(n)
    tables = np.ones((3, n, m))
    big = 0.0
    for v in x:
        big = max(big, abs(v))
    for s in range(n_draws):
        moderate = True
        for i in range(n):
            moderate &= abs(base[s, i]) <= 200.0
            for d in range(q):
                moderate &= abs(slopes[s, i, d]) * big <= 150.0
        if not moderate:
            for k in range(nodes.shape[0]):
                acc = 0.0
                for i in range(n):
                    e = base[s, i]
                    for d in range(q):
                        e += slopes[s, i, d] * nodes[k, d]
                    if kind == 2:
                        acc += math.exp(e)
                    else:
                        acc += trials[i] * (max(e, 0.0) + math.log1p(math.exp(-abs(e))))
                out[s, k] = acc
            continue
        for i in range(n):
            e0[i] = math.exp(base[s, i])
            for d in range(q):
                for a in range(m):
                    tables[d, i, a] = math.exp(slopes[s, i, d] * x[a])
        k = 0
        for a in range(width[0]):
            for b in range(width[1]):
                for c in range(width[2]):
                    acc = 0.0
                    product = 1.0
                    for i in range(n):
                        e = e0[i] * tables[0, i, a] * tables[1, i, b] * tables[2, i, c]
                        if kind == 2:
                            acc += e
                        elif kind == 1:
                            acc += trials[i] * math.log1p(e)
                        elif e > 1e30:
                            acc += math.log1p(e)
                        else:
                            product *= 1.0 + e
                            if product > 1e30:
                                acc += math.log(product)
                                product = 1.0
                    out[s, k] = acc + math.log(product)
                    k += 1


_kernel_cache: dict[str, Callable[..., Any] | None] = {}


def _compiled_curved_sums() -> Callable[..., Any] | None:
    """:func:`_curved_sums_loop` compiled by numba (nogil, cached on disk).

    None without numba or when ``mixeff.set_options(compiled=False)``.
    """
    if not get_options()["compiled"]:
        return None
    if "curved" not in _kernel_cache:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is a dependency
            _kernel_cache["curved"] = None
        else:
            _kernel_cache["curved"] = numba.njit(nogil=True, cache=True, error_model="numpy")(_curved_sums_loop)
    return _kernel_cache["curved"]
