"""engine.predictor on toy specs: η = Xβ + Zb by hand, the family means, and new levels integrated out
against scipy's adaptive quadrature."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats
from toy_models import LEVELS, eta_by_hand, make_spec

import mixeff
from mixeff.engine import kernels, tabulate
from mixeff.engine.design import prepare
from mixeff.engine.integrate import normal_expectation
from mixeff.engine.links import LINKS
from mixeff.engine.options import PassOptions
from mixeff.engine.predictor import (
    integrated_response,
    linear_predictor,
    new_level_variance,
    response,
    rows_times,
)
from mixeff.engine.random_effects import covariance, plan_random_effects
from mixeff.engine.response import category_probability, normal_interval


def planned(spec, frame, how="gaussian", seed=3):
    options = PassOptions(include={"g": [0, 1]}, allow_new_levels=True, sample_new_levels=how)
    plans = plan_random_effects(spec.groups, options.include, [frame], options, np.random.default_rng(seed))
    return plans, prepare(spec, plans, frame, "response")


def level_table(spec, plan):
    """Level label -> its (S, 2) effects: the model's own draws for existing levels, the plan's for new ones."""
    table = {lev: spec.groups["g"].b[:, i, :] for i, lev in enumerate(LEVELS)}
    for i, lev in enumerate(plan.labels[len(LEVELS) :], start=len(LEVELS)):
        table[lev] = plan.table_t[:, i, :].T
    return table


@pytest.mark.parametrize("compiled", [True, False])
def test_linear_predictor_is_x_beta_plus_z_b_by_hand(spec, frame, compiled, request):
    calls = request.getfixturevalue("compiled_calls") if compiled else None
    plans, design = planned(spec, frame)
    before = mixeff.set_options(compiled=compiled)
    try:
        eta = linear_predictor(spec, plans, design, slice(0, len(frame)))
        chunk = linear_predictor(spec, plans, design, slice(2, 5))
    finally:
        mixeff.set_options(**before)
    if compiled:  # (1 + x | g): both terms have a z column, added by the compiled kernel
        assert calls["add_effects"] == 4
    ref = eta_by_hand(spec, frame, level_table(spec, plans[0]))
    np.testing.assert_allclose(eta, ref, rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(chunk, eta[2:5])  # a chunk is the same rows, bit for bit


def test_rows_times_one_row_equals_the_same_row_of_a_block():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 7)), rng.normal(size=(7, 300))
    block = rows_times(a, b)
    np.testing.assert_allclose(block, a @ b, rtol=1e-13)
    for i in range(5):
        np.testing.assert_array_equal(rows_times(a[i : i + 1], b), block[i : i + 1])
    out = np.empty((2, 300))
    np.testing.assert_array_equal(rows_times(a[:1], b, out=out), block[:1])


@pytest.mark.parametrize(
    "family, mean",
    [
        ("gaussian", lambda eta, sigma: eta),
        ("lognormal", lambda eta, sigma: np.exp(eta + sigma**2 / 2)),
        ("bernoulli", lambda eta, sigma: special.expit(eta)),
        ("poisson", lambda eta, sigma: np.exp(eta)),
    ],
)
def test_response_is_the_family_mean_of_the_inverse_link(family, mean):
    spec = make_spec(family)
    eta = np.random.default_rng(1).normal(0, 1.5, (6, spec.n_samples))
    sigma = spec.aux.get("sigma")
    aux = {} if sigma is None else {"sigma": sigma}
    got = response(spec, "response", eta.copy(), None, np.random.default_rng(0), aux)
    np.testing.assert_allclose(got, mean(eta, sigma), rtol=1e-13)


def test_new_level_variance_is_z_sigma_z_on_new_rows_only(spec, frame):
    plans, design = planned(spec, frame, how="integrate")
    idx, var = new_level_variance(plans, design, slice(0, len(frame)))
    np.testing.assert_array_equal(idx, [3, 5, 6])  # the rows at n1, n1, n2
    cov = covariance(spec.groups["g"])
    for pos, r in enumerate(idx):
        z = np.array([1.0, frame["x"][r]])
        np.testing.assert_allclose(var[pos], np.einsum("i,sij,j->s", z, cov, z), rtol=1e-12)
    existing = frame[frame["g"].isin(LEVELS)].reset_index(drop=True)
    plans, design = planned(spec, existing, how="integrate")
    assert new_level_variance(plans, design, slice(0, len(existing))) is None


@pytest.mark.parametrize("x", ["one value", "two values", "every row its own"])
def test_new_level_variance_from_distinct_z_has_the_bits_of_each_row_alone(spec, x):
    """Where rows share z (an intercept, a 0/1 slope), zᵀΣz is computed once per distinct z and gathered:
    each row's bits are those of its own computation, row by row."""
    rng = np.random.default_rng(4)
    n = 64
    values = {
        "one value": np.full(n, 0.7),
        "two values": rng.choice([0.0, 1.0], n),
        "every row its own": rng.normal(size=n),
    }
    frame = pd.DataFrame({"x": values[x], "g": ["n1"] * n})
    plans, design = planned(spec, frame, how="integrate")
    idx, var = new_level_variance(plans, design, slice(0, n))
    np.testing.assert_array_equal(idx, np.arange(n))
    alone = np.concatenate([new_level_variance(plans, design, slice(r, r + 1))[1] for r in range(n)])
    np.testing.assert_array_equal(var, alone)
    cov = covariance(spec.groups["g"])
    z = np.column_stack([np.ones(n), frame["x"]])
    np.testing.assert_allclose(var, np.einsum("ri,sij,rj->rs", z, cov, z), rtol=1e-12)


def test_integrated_logistic_mean_equals_adaptive_quadrature():
    """E[expit(η + u)], u ~ N(0, v), cell by cell against scipy.integrate.quad."""
    spec = make_spec("bernoulli")
    rng = np.random.default_rng(2)
    eta, var = rng.normal(0, 2, (3, 4)), rng.uniform(0.1, 4, (3, 4))
    got, info = integrated_response(spec, eta.copy(), var, None, {})
    assert info.nodes > 0 and info.error_bound <= 1e-10

    def by_quad(e, v):
        sd = np.sqrt(v)
        return integrate.quad(
            lambda u: special.expit(e + u) * stats.norm.pdf(u, 0, sd), -40 * sd, 40 * sd, epsabs=0, epsrel=1e-12
        )[0]

    np.testing.assert_allclose(got, np.vectorize(by_quad)(eta, var), rtol=1e-9)


def test_integrated_means_in_closed_form():
    """Closed forms: identity E[η + u] = η; log E[exp(η + u)] = exp(η + v/2); probit Φ(η / √(1 + v))."""
    rng = np.random.default_rng(3)
    eta, var = rng.normal(0, 1, (2, 5)), rng.uniform(0.1, 2, (2, 5))
    got, info = integrated_response(make_spec("gaussian"), eta.copy(), var, None, {"sigma": np.full(5, 0.7)})
    np.testing.assert_allclose(got, eta, rtol=1e-14)
    assert info.method == "closed form" and info.nodes == 0
    got, _ = integrated_response(make_spec("poisson"), eta.copy(), var, None, {})
    np.testing.assert_allclose(got, np.exp(eta + var / 2), rtol=1e-13)
    got, _ = integrated_response(make_spec("bernoulli", link="probit"), eta.copy(), var, None, {})
    np.testing.assert_allclose(got, stats.norm.cdf(eta / np.sqrt(1 + var)), rtol=1e-12)


# -- ordinal categories over a new level: cumulative probit in closed form, cumulative cloglog from tables ----------

LINK_CDF = {
    # (F(x), 1 − F(x)) at a scalar, each accurate in its own tail
    "probit": (lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0)), lambda x: 0.5 * math.erfc(x / math.sqrt(2.0))),
    "cloglog": (lambda x: -math.expm1(-math.exp(x)), lambda x: math.exp(-math.exp(x))),
}


def plain_category(link, a, b):
    """P(a < latent <= b) = F(b) − F(a) at one point, accurately (tails chosen, an exact increment for the cloglog)."""
    cdf, survival = LINK_CDF[link]
    if a == -math.inf:
        return cdf(b)
    if b == math.inf:
        return survival(a)
    if link == "cloglog":  # exp(−e^a) − exp(−e^b) = exp(−e^a)·(1 − exp(−e^a (e^{b − a} − 1)))
        return math.exp(-math.exp(a)) * -math.expm1(-math.exp(a) * math.expm1(b - a))
    return survival(a) - survival(b) if a > 0 else cdf(b) - cdf(a)


def log_plain_category(link, a, b):
    """log P(a < latent <= b) at one point, finite where the probability underflows (log forms of each tail)."""
    p = plain_category(link, a, b)
    if p > 1e-280:
        return math.log(p)
    if link == "probit":  # far in one tail, a and b on its side: log Φ(b) + log(1 − Φ(a)/Φ(b)), or the mirror
        lo, hi = (-b, -a) if a > 0 else (a, b)
        log_hi = float(special.log_ndtr(hi))
        return log_hi + (math.log1p(-math.exp(float(special.log_ndtr(lo)) - log_hi)) if lo > -math.inf else 0.0)
    if b == math.inf:  # log exp(−e^a)
        return -math.exp(a)
    # log[exp(−e^a)·(1 − exp(−y))], y = e^a·expm1(b − a) (b − a the whole width when a = −∞: y = e^b)
    y = math.exp(b) if a == -math.inf else math.exp(a) * math.expm1(b - a)
    head = 0.0 if a == -math.inf else -math.exp(a)
    return head + (math.log(y) - 0.5 * y if y < 1e-8 else math.log(-math.expm1(-y)))


def category_reference(link, a, b, sd):
    """E[F(b − u) − F(a − u)], u ~ N(0, sd²), by scipy's adaptive quad split around the integrand's mode.

    The integrand is computed in log space and scaled by its peak (probabilities far below the doubles' range
    included); the mode and its width are found on a grid, the pieces reach 25 widths on each side and then the
    whole range (60 + 12 sd) where the normal density is below e^-72.
    """
    if sd == 0:
        return plain_category(link, a, b)
    reach = 60.0 + 12.0 * sd
    grid = np.linspace(-reach, reach, 8001)
    logs = np.array([log_plain_category(link, a - u, b - u) for u in grid]) - 0.5 * (grid / sd) ** 2
    top = int(np.argmax(logs))
    high = logs >= logs[top] - 1.0
    left = grid[top] - grid[top - np.argmin(high[top::-1])] if not high[0] else reach
    right = grid[top + np.argmin(high[top:])] - grid[top] if not high[-1] else reach
    cuts = {-reach, reach, grid[top]}
    for m in (1.0, 4.0, 10.0, 25.0):
        cuts |= {grid[top] - m * left, grid[top] + m * right}
    cuts = sorted(c for c in cuts if -reach <= c <= reach)
    norm = 1.0 / (sd * math.sqrt(2.0 * math.pi))
    shift = logs[top]

    def f(u):
        return math.exp(log_plain_category(link, a - u, b - u) - 0.5 * (u / sd) ** 2 - shift) * norm

    # the scaled integrand peaks at norm and falls by e over (left, right): its integral is ~norm·(left + right),
    # and pieces far below that need no relative accuracy of their own
    tol = 1e-15 * norm * (left + right)
    total = sum(
        integrate.quad(f, lo, hi, epsabs=tol, epsrel=1e-13, limit=500)[0] for lo, hi in zip(cuts[:-1], cuts[1:])
    )
    return total * math.exp(shift)


ORDINAL_TAU = np.array([-4.0, -1.0, -0.999, 2.5])  # K = 5; a category 1e-3 wide
ORDINAL_ETA = np.concatenate([np.linspace(-12.0, 12.0, 13), [-2.5, -0.9995, 0.4, 1.7]])
ORDINAL_SD = np.array([0.0, 0.3, 1.0, 3.0, 5.0])


def ordinal_cells(tau=ORDINAL_TAU, etas=ORDINAL_ETA, sds=ORDINAL_SD):
    """Every (η, category) pair a row, every sd a column: ``(eta, var, aux)`` and each cell's (a, b, sd)."""
    k = len(tau) + 1
    category = np.tile(np.arange(k), len(etas))
    eta = np.repeat(etas, k)[:, None] * np.ones(len(sds))
    var = np.broadcast_to(sds**2, eta.shape).copy()
    aux = {"threshold": np.broadcast_to(tau, (len(sds), len(tau))).copy(), "category": category}
    edges = np.concatenate([[-np.inf], tau, [np.inf]])
    return eta, var, aux, edges[category], edges[category + 1]


def ordinal_spec(link):
    from mixeff.model.families import LINKS as DESCRIBED
    from mixeff.model.families import get_family

    return SimpleNamespace(family=get_family("cumulative"), link=DESCRIBED[link])


def needs_tables(link):
    if link == "cloglog" and not kernels.enabled():
        pytest.skip("the cloglog categories come from tables, which run in compiled kernels (numba)")


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_cumulative_categories_over_a_new_level_against_adaptive_quadrature(link):
    """Every category, η over [−12, 12], sd(u) in {0, 0.3, 1, 3, 5}, a 1e-3-wide category and far thresholds:
    relative error <= 1e-10 against scipy's quad, probabilities near 0 and 1 included; each row sums to 1."""
    needs_tables(link)
    eta, var, aux, a, b = ordinal_cells()
    got, info = integrated_response(ordinal_spec(link), eta.copy(), var, None, aux)
    if link == "probit":
        assert info.method == "closed form" and info.nodes == 0
    else:
        assert info.method.startswith("tabulated: log E[F(η + u)]") and "above 0, log(1 − E[F(η + u)])" in info.method
    ref = np.array(
        [
            [category_reference(link, a[r] - eta[r, j], b[r] - eta[r, j], ORDINAL_SD[j]) for j in range(eta.shape[1])]
            for r in range(eta.shape[0])
        ]
    )
    tiny = ref < 1e-300  # beyond the doubles' normal range (the cloglog's top category far above): 0 or close
    assert np.all(np.abs(got[tiny]) <= 1e-300)
    np.testing.assert_allclose(got[~tiny], ref[~tiny], rtol=1e-10, atol=0)
    assert (ref[~tiny] < 1e-8).sum() >= 20 and (ref > 1 - 1e-8).sum() >= 5  # both ends were tested
    assert (np.abs(np.diff(ORDINAL_TAU)) < 2e-3).any() and (got[2::5] < 1e-3).all()  # the narrow category
    sums = got.reshape(len(ORDINAL_ETA), 5, -1).sum(axis=1)
    np.testing.assert_allclose(sums, 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_cumulative_categories_beyond_the_tables(link):
    """|τ − η| > 40 and sd(u) >= 6: the cloglog's cells outside its tables by quadrature (G, its increments, the
    upper tail's remainder), cell by cell; to 1e-10 against quad all the same."""
    needs_tables(link)
    sds = np.array([0.5, 2.0, 6.5, 8.0])
    eta, var, aux, a, b = ordinal_cells(etas=np.array([-44.0, -42.0, 0.5, 41.5, 44.0]), sds=sds)
    got, _ = integrated_response(ordinal_spec(link), eta.copy(), var, None, aux)
    ref = np.array(
        [
            [category_reference(link, a[r] - eta[r, j], b[r] - eta[r, j], sds[j]) for j in range(4)]
            for r in range(len(a))
        ]
    )
    tiny = ref < 1e-300
    assert np.all(np.abs(got[tiny]) <= 1e-300) and (~tiny).sum() > 80
    np.testing.assert_allclose(got[~tiny], ref[~tiny], rtol=1e-10, atol=0)


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_cumulative_categories_agree_with_the_quadrature_they_replace(link, monkeypatch):
    """Where the trapezoidal rule the engine used before is itself accurate (1e-10 against quad), to 1e-9."""
    needs_tables(link)
    eta, var, aux, a, b = ordinal_cells(etas=np.linspace(-9.0, 9.0, 10), sds=np.array([0.3, 1.0, 3.0]))
    spec = ordinal_spec(link)
    got, _ = integrated_response(spec, eta.copy(), var, None, aux)
    if link == "probit":
        old, info = normal_expectation(
            lambda x: category_probability(spec.family, spec.link, x, aux), eta, var, step=LINKS[link].quadrature_step
        )
    else:
        monkeypatch.setattr(tabulate, "TABLES", {})  # no table: the quadrature rule, as before
        old, info = integrated_response(spec, eta.copy(), var, None, aux)
    assert info.method.startswith("trapezoidal quadrature")
    sds = np.sqrt(var[0])
    ref = np.array(
        [
            [category_reference(link, a[r] - eta[r, j], b[r] - eta[r, j], sds[j]) for j in range(3)]
            for r in range(len(a))
        ]
    )
    accurate = np.abs(old / ref - 1) <= 1e-10
    assert accurate.mean() > 0.7
    np.testing.assert_allclose(got[accurate], old[accurate], rtol=1e-9, atol=0)


def test_probit_categories_are_phi_of_scaled_thresholds_and_each_tail_keeps_its_digits():
    """Φ(b) − Φ(a) from the upper tails above 0 and as two erf terms across it: exact where scipy's ndtr is."""
    a = np.array([-np.inf, 8.0, -1e-3, -30.0, 0.0, 2.0])
    b = np.array([-9.0, 8.0005, 1e-3, -29.999, np.inf, np.inf])
    got = normal_interval(a, b)
    ref = [
        special.ndtr(-9.0),
        special.ndtr(-8.0) - special.ndtr(-8.0005),
        special.erf(1e-3 / math.sqrt(2)),
        special.ndtr(-29.999) - special.ndtr(-30.0),
        0.5,
        special.ndtr(-2.0),
    ]
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=0)
    assert got[1] > 0 and got[3] > 0  # far in a tail, the naive 1 − Φ differences would be 0
    spec = ordinal_spec("probit")
    aux = {"threshold": np.array([[-1.0, 0.5]]), "category": np.array([0, 1, 2])}
    eta, var = np.full((3, 1), 0.3), np.full((3, 1), 2.0)
    got, _ = integrated_response(spec, eta.copy(), var, None, aux)
    cdf = special.ndtr((np.array([-1.0, 0.5]) - 0.3) / math.sqrt(3.0))
    np.testing.assert_allclose(got[:, 0], [cdf[0], cdf[1] - cdf[0], 1 - cdf[1]], rtol=1e-14)


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_ordinal_integration_cost_counts_a_closed_form_or_a_table(link):
    from mixeff.engine.predictor import QUADRATURE_CELL_COST, TABLE_CELL_COST, integration_cost

    needs_tables(link)

    frame = pd.DataFrame({"y": [1, 2, 3], "x": [0.0, 1.0, -1.0], "g": ["a", "b", "a"]})
    d = pd.DataFrame({"b_x": [0.5], "b_Intercept[1]": [-1.0], "b_Intercept[2]": [1.0], "sd_g__Intercept": [1.0]})
    d = d.assign(**{"r_g[a,Intercept]": [0.1], "r_g[b,Intercept]": [-0.1]})
    spec = mixeff.from_brms_draws(d, formula="y ~ x + (1 | g)", data=frame, family="cumulative", link=link)
    assert integration_cost(spec) == (1.0 if link == "probit" else TABLE_CELL_COST)
    sratio = mixeff.from_brms_draws(d, formula="y ~ x + (1 | g)", data=frame, family="sratio", link=link)
    assert integration_cost(sratio) == QUADRATURE_CELL_COST


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_an_ordinal_cell_does_not_depend_on_the_rows_it_is_computed_with(link):
    """Each row alone (all its thresholds above or below 0: the rules' one-sided shortcuts) has the bits it has in
    the whole block (both sides mixed)."""
    needs_tables(link)
    eta, var, aux, _, _ = ordinal_cells()
    spec = ordinal_spec(link)
    whole, _ = integrated_response(spec, eta.copy(), var, None, aux)
    for r in range(len(eta)):
        one = dict(aux, category=aux["category"][r : r + 1])
        alone, _ = integrated_response(spec, eta[r : r + 1].copy(), var[r : r + 1], None, one)
        np.testing.assert_array_equal(alone, whole[r : r + 1])
