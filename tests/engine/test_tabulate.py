"""The tables of E[F(η + u)] (mixeff.engine.tabulate) against high-order references, cell by cell."""

import decimal
import math

import numpy as np
import pytest
from references import quad_reference
from scipy import integrate, special

import mixeff
from mixeff.engine import kernels, tabulate
from mixeff.engine.integrate import VERIFIED_RTOL, cellwise_expectation, normal_expectation
from mixeff.engine.links import LINKS
from mixeff.engine.predictor import _cloglog_increment

pytestmark = pytest.mark.skipif(not kernels.enabled(), reason="the tables run in compiled kernels (numba)")

LOWER = {"logit": special.expit, "cloglog": lambda x: -np.expm1(-np.exp(x))}


def fine(f, eta, sd):
    """A high-order reference: the trapezoidal rule with a quarter of the engine's step and 10 sd of range."""
    eta, sd = np.broadcast_arrays(np.asarray(eta, float), np.asarray(sd, float))
    out = np.empty(eta.shape)
    for s in np.unique(sd):
        at = sd == s
        h = 0.05 if s == 0 else min(0.05, 0.075 / s)
        k = int(np.ceil((s + 10.0) / h))
        t = h * np.arange(-k, k + 1)
        w = h * np.exp(-0.5 * t**2) / np.sqrt(2 * np.pi)
        e = eta[at]
        out[at] = f(e) if s == 0 else (f(e[:, None] + s * t[None, :]) * w).sum(axis=1)
    return out


def quad(f, eta, sd):
    """scipy's adaptive quad (an independent reference), to 2e-14."""
    return quad_reference(f, eta, sd, epsrel=2e-14)


def increment_at(d):
    """x -> F(x + d) − F(x) of the logistic, exact (the link's increment), for scalars or arrays."""
    inc = LINKS["logit"].increment

    def f(x):
        x = np.asarray(x, dtype=float)
        out = inc(np.atleast_1d(x), np.full(np.atleast_1d(x).shape, d))
        return float(out[0]) if x.ndim == 0 else out

    return f


def grid(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    eta = np.concatenate([rng.uniform(-30, 30, n), [-30.0, -12.0, 0.0, 12.0, 30.0] * 4])
    sd = np.concatenate([rng.uniform(0, 5, n), np.repeat([0.0, 0.01, 2.5, 5.0], 5)])
    return eta, sd


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_means_meet_the_table_bound_over_the_range_tails_included(link):
    eta, sd = grid()
    got, info = tabulate.tabulated_mean(tabulate.TABLES[link], eta[None], sd[None] ** 2)
    ref = fine(LOWER[link], eta, sd)
    assert np.max(np.abs(got[0] / ref - 1)) <= tabulate.TABLE_RTOL
    assert info.method.startswith("tabulated") and info.error_bound == VERIFIED_RTOL


@pytest.mark.slow  # scipy quad, cell by cell
@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_means_against_scipy_quad(link):
    etas, sds = [-30.0, -15.0, -2.0, -0.3, 0.0, 0.7, 3.0, 15.0, 30.0], [0.0, 0.05, 0.3, 1.0, 2.5, 4.9]
    eta, sd = (a.ravel() for a in np.meshgrid(etas, sds, indexing="ij"))
    got, _ = tabulate.tabulated_mean(tabulate.TABLES[link], eta[None], sd[None] ** 2)
    ref = np.array([quad(LOWER[link], e, s) for e, s in zip(eta, sd)])
    np.testing.assert_allclose(got[0], ref, rtol=VERIFIED_RTOL, atol=0)


@pytest.mark.parametrize("scale", [1e-9, 1e-4, 0.03, 0.4, 3.0])
def test_logit_increments_keep_the_relative_accuracy_of_the_difference(scale):
    eta, sd = grid(400, seed=1)
    rng = np.random.default_rng(2)
    d = scale * rng.uniform(0.5, 1.0, eta.size) * rng.choice([-1.0, 1.0], eta.size)
    d[:10] = 0.0
    got, _ = tabulate.tabulated_increment(tabulate.TABLES["logit"], eta[None], d[None], sd[None] ** 2, None)
    # the reference integrates the exact increment cell by cell (its own d per cell)
    ref = np.array([fine(increment_at(dd), [e], [s])[0] for e, s, dd in zip(eta, sd, d)])
    assert np.all(got[0, :10] == 0.0)
    assert np.max(np.abs(got[0, 10:] / ref[10:] - 1)) <= 1e-10


def test_logit_increments_across_zero_and_far_in_both_tails():
    # across 0 (two same-signed pieces), and differences of probabilities near 1 (only 1 − G carries them)
    eta = np.array([-1e-3, 2e-3, -0.1, 25.0, 29.0, -29.0, -20.0, 20.0])
    d = np.array([2.5e-3, -4e-3, 0.3, 1.0, 1e-5, 1e-5, -0.5, -1e-6])
    sd = np.array([0.0, 1.0, 5.0, 0.5, 0.0, 3.0, 1.0, 4.0])
    got, _ = tabulate.tabulated_increment(tabulate.TABLES["logit"], eta[None], d[None], sd[None] ** 2, None)
    ref = [quad(increment_at(dd), e, s) for e, s, dd in zip(eta, sd, d)]
    np.testing.assert_allclose(got[0], ref, rtol=1e-10, atol=0)


def test_a_cell_does_not_depend_on_its_block_or_on_which_panels_were_built_first():
    eta, sd = grid(600, seed=3)
    table = tabulate.TABLES["logit"]
    whole, _ = tabulate.tabulated_mean(table, eta.reshape(20, -1), sd.reshape(20, -1) ** 2)
    fresh = tabulate.LinkTable("logit", eta_degree=tabulate.ETA_DEGREE, symmetric=True, step=0.3)
    backwards = np.concatenate(
        [
            tabulate.tabulated_mean(fresh, eta[i : i + 1][None], sd[i : i + 1][None] ** 2)[0][0]
            for i in range(eta.size)[::-1]
        ]
    )[::-1]
    np.testing.assert_array_equal(whole.ravel(), backwards)
    d = np.full(eta.size, 1e-4)
    a, _ = tabulate.tabulated_increment(table, eta[None], d[None], sd[None] ** 2, None)
    b, _ = tabulate.tabulated_increment(fresh, eta.reshape(20, -1), d.reshape(20, -1), sd.reshape(20, -1) ** 2, None)
    np.testing.assert_array_equal(a.ravel(), b.ravel())


def _variance_patterns(rows, draws, seed):
    """``(rows, draws)`` variances in blocks of the kinds a model gives, with extreme and non-finite cells.

    One variance per draw (a random intercept), two alternating (a 0/1 slope), a different one in every row
    (a continuous slope), and the first again (a cache filled by the blocks before).
    """
    rng = np.random.default_rng(seed)
    one, two = rng.uniform(0.0, 4.0, (2, draws))
    q = rows // 4
    var = np.concatenate(
        [
            np.broadcast_to(one, (q, draws)),
            np.where((np.arange(q) % 2 == 0)[:, None], one, two),
            rng.uniform(0.0, 25.0, (q, draws)),
            np.broadcast_to(one, (rows - 3 * q, draws)),
        ]
    ).copy()
    var[5, 3], var[-2, 0], var[q + 1, 1] = 36.5, np.inf, np.nan  # sd >= 6: quadrature; inf, NaN: NaN out
    return var


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_cached_panel_rows_give_the_bits_each_cell_gets_alone(link):
    """A cell's value is the same whether its panel row b came from the draw's cache or was computed for it.

    Runs of rows with one variance per draw read b from the cache; rows whose variance changes every row
    compute it in place (``kernels._table_values``).  Each cell alone, in a fresh table, is computed from a cold
    cache; the blocks mix both kinds of rows, chunked two ways, and the draws' number changes between calls.
    """
    rng = np.random.default_rng(11)
    rows, draws = 160, 37
    eta = rng.normal(0.0, 6.0, (rows, draws))
    eta[7, 2], eta[9, 4], eta[rows // 2, 5] = np.nan, 41.0, -0.0
    var = _variance_patterns(rows, draws, seed=12)
    table = tabulate.TABLES[link]
    with np.errstate(invalid="ignore"):  # the NaN cells' quadrature
        whole, _ = tabulate.tabulated_mean(table, eta, var)
        tabulate.tabulated_mean(table, eta[:3, :5], var[:3, :5])  # another number of draws: a new cache
        chunked = np.concatenate(
            [tabulate.tabulated_mean(table, eta[i : i + 25], var[i : i + 25])[0] for i in range(0, rows, 25)]
        )
        fresh = tabulate.LinkTable(link, eta_degree=tabulate.ETA_DEGREE, symmetric=link == "logit", step=table.step)
        alone = np.array(
            [
                [
                    tabulate.tabulated_mean(fresh, eta[r : r + 1, c : c + 1], var[r : r + 1, c : c + 1])[0][0, 0]
                    for c in range(draws)
                ]
                for r in range(0, rows, 3)
            ]
        )
    np.testing.assert_array_equal(whole, chunked)
    np.testing.assert_array_equal(whole[::3], alone)
    assert np.isnan(whole[7, 2]) and np.isnan(whole[-2, 0]) and np.isnan(whole[rows // 4 + 1, 1])
    ok = np.isfinite(whole)
    ref = fine(LOWER[link], eta[ok], np.sqrt(var[ok]))
    np.testing.assert_allclose(whole[ok], ref, rtol=tabulate.TABLE_RTOL, atol=0)


def test_the_upper_half_of_the_logistic_keeps_its_relative_accuracy_near_one_and_zero():
    """Above η = 0 the logistic's mean is 1 − G(−η) with G(−η) <= 1/2: accurate relative to G and to 1 − G."""
    eta = np.array([1e-300, 0.3, 2.0, 9.0, 17.0, 33.0, 39.9])
    sd = np.array([0.0, 0.2, 1.0, 2.0, 0.5, 4.0, 5.9])
    got, _ = tabulate.tabulated_mean(tabulate.TABLES["logit"], eta[None], sd[None] ** 2)
    lower, _ = tabulate.tabulated_mean(tabulate.TABLES["logit"], -eta[None], sd[None] ** 2)
    ref_lower = np.array([quad(special.expit, -e, s) for e, s in zip(eta, sd)])
    np.testing.assert_allclose(lower[0], ref_lower, rtol=tabulate.TABLE_RTOL, atol=0)  # 1 − G, down to 1e-15
    np.testing.assert_array_equal(got, 1.0 - lower)  # 1 − G(−η) of the same bits
    np.testing.assert_allclose(got[0], 1.0 - ref_lower, rtol=tabulate.TABLE_RTOL, atol=0)


def test_cells_outside_the_table_fall_back_to_quadrature_cell_by_cell():
    eta = np.array([-700.0, -45.0, 45.0, 0.5, 1.0, np.nan, np.inf])
    sd = np.array([1.0, 0.5, 2.0, 6.5, 20.0, 1.0, 1.0])
    table = tabulate.TABLES["logit"]
    got, _ = tabulate.tabulated_mean(table, eta[None], sd[None] ** 2)
    alone = [cellwise_expectation(special.expit, [e], [s * s], step=0.6)[0] for e, s in zip(eta, sd)]
    np.testing.assert_array_equal(got[0], alone)
    finite = np.isfinite(eta)
    assert np.all((got[0, finite] >= 0) & (got[0, finite] <= 1 + 1e-15)) and np.isnan(got[0, 5])
    np.testing.assert_allclose(got[0, 1:5], [quad(special.expit, e, s) for e, s in zip(eta[1:5], sd[1:5])], rtol=1e-10)
    inc = LINKS["logit"].increment
    d = np.array([0.1, 1e-4, -1e-4, 1e-4, 0.3, 0.1, 0.1])
    got, _ = tabulate.tabulated_increment(table, eta[None], d[None], sd[None] ** 2, lambda x, s: inc(x, s))
    ref = [quad(increment_at(dd), e, s) for e, s, dd in zip(eta[1:5], sd[1:5], d[1:5])]
    np.testing.assert_allclose(got[0, 1:5], ref, rtol=1e-10)


def test_cellwise_rule_is_the_block_rule_of_each_cell():
    rng = np.random.default_rng(4)
    eta, var = rng.normal(0, 3, 30), rng.uniform(0, 9, 30)
    var[:3] = 0.0
    got = cellwise_expectation(special.expit, eta, var, step=0.6)
    for i in range(30):
        one, _ = normal_expectation(special.expit, eta[i : i + 1], var[i : i + 1], step=0.6)
        np.testing.assert_array_equal(got[i], one[0])


def test_without_compiled_kernels_the_quadrature_rule_runs():
    before = mixeff.set_options(compiled=False)
    try:
        assert tabulate.table_for("logit") is None
    finally:
        mixeff.set_options(**before)
    assert tabulate.table_for("logit") is tabulate.TABLES["logit"] and tabulate.table_for("probit") is None


# -- the cloglog's upper tail: log(1 − G) from its own table (cumulative cloglog models' upper categories) -----------

SURVIVAL = tabulate.SURVIVAL_TABLES["cloglog"]


def log_survival_quad(x, sd):
    """log E[exp(−e^{x + sd·Z})] by scipy's quad of the plain integrand, scaled by its peak (an independent reference).

    The peak (at t = −W/sd, W = scipy's Lambert W of sd² e^x) only places the pieces and the scale.
    """
    if sd == 0:
        return -math.exp(x)
    w = float(special.lambertw(sd * sd * math.exp(x)).real)
    mode = -w / sd
    peak = -math.exp(x + sd * mode) - 0.5 * mode * mode
    width = 1.0 / math.sqrt(1.0 + w)
    cuts = [mode - 40, mode - 12, mode - 4, mode - 1, mode, mode + width, mode + 4 * width, mode + 12 * width]
    cuts.append(mode + 40 * width)
    f = lambda t: math.exp(-math.exp(x + sd * t) - 0.5 * t * t - peak)  # noqa: E731
    total = sum(integrate.quad(f, a, b, epsabs=1e-17, epsrel=1e-13, limit=500)[0] for a, b in zip(cuts[:-1], cuts[1:]))
    return peak + math.log(total / math.sqrt(2 * math.pi))


def test_the_upper_tail_keeps_its_relative_accuracy_where_the_lower_table_has_none():
    """1 − G(x) = E[exp(−e^{x+u})] to 1e-12 relative (M = log(1 − G) to 1e-12 absolute) wherever it is a normal
    double, down to 1e-300, over the table (0 <= x <= 40, sd < 6) and outside it (x > 40, sd >= 6: quadrature)."""
    rng = np.random.default_rng(8)
    x = np.concatenate(
        [rng.uniform(0, 40, 150), rng.uniform(0, 2, 30), rng.uniform(40, 60, 10), rng.uniform(0, 30, 10)]
    )
    sd = np.concatenate(
        [rng.uniform(0, 6, 150), rng.uniform(0, 0.5, 30), rng.uniform(0.5, 8, 10), rng.uniform(6, 9, 10)]
    )
    x = np.concatenate([x, [0.0, 0.0, 3.0, 3.0, 8.0, 40.0, 1e-9]])
    sd = np.concatenate([sd, [0.0, 5.99, 0.0, 1.0, 0.05, 5.999, 2.0]])
    got = tabulate.tabulated_log_survival(SURVIVAL, x, sd**2)
    ref = np.array([log_survival_quad(a, b) for a, b in zip(x, sd)])
    w = tabulate._lambert_w(np.array([40.0]), np.array([36.0]))  # the table's far corner is inside it
    assert w + 2 * np.log1p(w) < tabulate.SURVIVAL_Q_RANGE
    normal = ref > math.log(1e-300)
    assert normal.sum() >= 150 and (ref[normal] < math.log(1e-100)).sum() >= 5  # far down the tail too
    np.testing.assert_allclose(got[normal], ref[normal], rtol=0, atol=1e-12)
    assert np.all(np.exp(got[~normal]) <= 1e-290)
    assert got[-5] == pytest.approx(-math.exp(3.0), rel=1e-15)  # sd 0: log S(x) = −e^x


def test_the_upper_tail_against_the_lower_table_where_both_are_accurate():
    """Near η = 0, where 1 − G is large, 1 − exp(M) is the cloglog table's own G (both to 1e-12)."""
    eta = np.array([0.0, 0.1, 0.3, 0.6, 1.0])[:, None] * np.ones(4)
    var = np.array([0.0, 0.5, 4.0, 30.0]) ** 2 * np.ones((5, 1))
    var = np.minimum(var, 35.0)
    m = tabulate.tabulated_log_survival(SURVIVAL, eta, var)
    g, _ = tabulate.tabulated_mean(tabulate.TABLES["cloglog"], eta, var)
    np.testing.assert_allclose(-np.expm1(m), g, rtol=2e-12)


def test_an_upper_tail_cell_does_not_depend_on_its_block_or_on_which_panels_were_built_first():
    rng = np.random.default_rng(9)
    x, var = rng.uniform(0, 12, 300), rng.uniform(0, 9, 300)
    x[:5], var[:5] = [45.0, 3.0, 0.0, 50.0, 2.0], [1.0, 40.0, 0.0, 49.0, 0.0]  # outside the table, and sd 0
    whole = tabulate.tabulated_log_survival(SURVIVAL, x.reshape(20, 15), var.reshape(20, 15)).ravel()
    fresh = tabulate.SurvivalTable("cloglog", eta_degree=tabulate.ETA_DEGREE, symmetric=False, step=SURVIVAL.step)
    alone = [tabulate.tabulated_log_survival(fresh, x[i : i + 1], var[i : i + 1])[0] for i in range(300)[::-1]][::-1]
    np.testing.assert_array_equal(whole, alone)


def test_lambert_w_to_an_ulp_or_two():
    """Against Newton's method on w e^w = z in 40-digit decimals, from 1e-300 to beyond the doubles (in log z)."""
    decimal.getcontext().prec = 40
    x = np.concatenate([np.linspace(-690, 700, 60), np.linspace(-3, 5, 40), [705.0, 900.0]])
    var = np.concatenate([np.ones(100), [1e10, 3.0]])  # the last two: z = var·e^x overflows
    got = tabulate._lambert_w(x, var)
    for xi, vi, wi in zip(x, var, got):
        z = decimal.Decimal(float(vi)) * decimal.Decimal(float(xi)).exp()
        w = decimal.Decimal(float(wi))
        for _ in range(60):
            w -= (w * w.exp() - z) / (w.exp() * (w + 1))
        assert abs(float((decimal.Decimal(float(wi)) - w) / w)) <= 5e-16
    assert tabulate._lambert_w(np.array([3.0]), np.array([0.0]))[0] == 0.0


@pytest.mark.parametrize("scale", [1e-9, 1e-3, 0.2, 3.0])
def test_cloglog_increments_keep_the_relative_accuracy_of_the_difference(scale):
    """The non-symmetric table's exact increment G(η + d) − G(η), both ends in the table (−40..40), to 1e-10."""
    rng = np.random.default_rng(10)
    eta = rng.uniform(-40, 0, 300)
    eta[:20] = -np.arange(20) * 0.25 - 1e-12  # just below a panel edge: the increment crosses it
    sd = rng.uniform(0, 5, 300)
    d = scale * rng.uniform(0.5, 1.0, 300) * rng.choice([-1.0, 1.0], 300)
    table = tabulate.TABLES["cloglog"]
    got, _ = tabulate.tabulated_increment(table, eta[None], d[None], sd[None] ** 2, _cloglog_increment)
    outside = (eta + d < -40) | (eta + d > 40)
    assert outside.any() == (scale > 1)  # beyond the table: the exact increment by quadrature

    def exact(dd):
        def f(x):  # F(x + dd) − F(x) without cancellation
            x = np.asarray(x, dtype=float)
            lo, step = (x, dd) if dd > 0 else (x + dd, -dd)
            return np.sign(dd) * np.exp(-np.exp(lo)) * -np.expm1(-np.exp(lo) * np.expm1(step))

        return f

    ref = np.array([fine(exact(dd), [e], [s])[0] for e, s, dd in zip(eta, sd, d)])
    np.testing.assert_allclose(got[0], ref, rtol=1e-10, atol=0)


def test_table_values_in_log_space():
    """``log=True``: the kernel's own log G, before the exp; above 0 of a symmetric table, log(1 − G(−η))."""
    eta = np.array([[-30.0, -2.0, -0.1, 0.0, 0.5, 3.0, 25.0]])
    var = np.array([[0.0, 1.0, 4.0, 0.25, 9.0, 2.0, 1.0]])

    def values(table, eta, log):
        out, skipped = np.empty_like(eta), []

        def run(missing):
            skipped.append(kernels.table_values(out, eta, var, table, missing, log=log))
            return out

        tabulate._fill(table, run)
        assert skipped[-1] == 0  # every cell inside, once its panels are built
        return out

    cloglog = tabulate.TABLES["cloglog"]
    np.testing.assert_array_equal(np.exp(values(cloglog, eta, True)), values(cloglog, eta, False))
    logit = tabulate.TABLES["logit"]
    logs, plain = values(logit, eta, True), values(logit, eta, False)
    below = eta <= 0
    np.testing.assert_array_equal(np.exp(logs[below]), plain[below])
    mirror = values(logit, -eta, False)  # 1 − G(η) = G(−η), to its relative accuracy however small
    np.testing.assert_allclose(-np.expm1(logs[~below]), mirror[~below], rtol=1e-14)
