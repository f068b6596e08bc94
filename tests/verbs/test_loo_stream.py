"""``loo`` and ``waic`` streamed by row chunk: arviz-stats' PSIS on the whole matrix, bit for bit, in bounded memory."""

from __future__ import annotations

import tracemalloc
import warnings

import arviz_stats
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import mixeff
import mixeff.engine.pointwise as streamed
from mixeff.verbs.compare import waic_pointwise

N_DRAWS = 250  # per chain, 2 chains


def _spec(n: int, n_draws: int = N_DRAWS, seed: int = 5, family: str = "gaussian") -> mixeff.ModelSpec:
    rng = np.random.default_rng(seed)
    levels = 20
    d = pd.DataFrame({"x": rng.normal(size=n), "g": [f"g{i}" for i in rng.integers(0, levels, n)]})
    effect = d.g.str[1:].astype(int).to_numpy() / levels - 0.5
    s = 2 * n_draws
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(0.3, 0.05, s),
            "b_x": rng.normal(0.8, 0.05, s),
            "sd_g__Intercept": rng.gamma(20, 0.02, s),
        }
    )
    if family == "gaussian":
        d["y"] = 0.3 + 0.8 * d.x + effect + rng.normal(0, 1.0, n)
        draws["sigma"] = rng.gamma(400, 1 / 400, s)
    else:
        d["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.3 + 0.8 * d.x + effect)))).astype(int)
    for i in range(levels):
        draws[f"r_g[g{i},Intercept]"] = rng.normal(i / levels - 0.5, 0.05, s)
    draws[".chain"] = np.repeat([1, 2], n_draws)
    return mixeff.from_brms_draws(draws, formula="y ~ x + (1 | g)", data=d, family=family)


@pytest.fixture(scope="module")
def spec() -> mixeff.ModelSpec:
    return _spec(300)


@pytest.fixture(scope="module")
def reference(spec):
    """arviz_stats.loo on the whole (chain, draw, obs) log-likelihood matrix of mixeff.log_lik."""
    ll = np.asarray(mixeff.log_lik(spec).draws)
    n = ll.shape[0]
    tree = xr.DataTree.from_dict(
        {
            "posterior": mixeff.to_datatree(spec)["posterior"].to_dataset(),
            "log_likelihood": xr.Dataset(
                {"y": (("chain", "draw", "__obs__"), ll.reshape(n, 2, N_DRAWS).transpose(1, 2, 0))}
            ),
        }
    )
    return ll, arviz_stats.loo(tree, pointwise=True, var_name="y"), tree


@pytest.fixture
def threaded(monkeypatch):
    """Every pass on the thread pool, however small (the engine keeps small passes on one thread)."""
    monkeypatch.setattr(streamed, "PARALLEL_MIN_CELLS", 0)


@pytest.mark.parametrize("chunk_rows, n_jobs", [(None, 1), (1, 2), (7, 2), (64, 3), (1000, 2)])
def test_loo_equals_arviz_stats_on_the_whole_matrix_for_any_chunking(spec, reference, threaded, chunk_rows, n_jobs):
    ll, expected, tree = reference
    got = mixeff.loo(spec, chunk_rows=chunk_rows, n_jobs=n_jobs)
    # the pointwise values, bit for bit
    np.testing.assert_array_equal(got.elpd_i.values, expected.elpd_i.values)
    np.testing.assert_array_equal(got.pareto_k.values, expected.pareto_k.values)
    assert got.elpd_i.dims == expected.elpd_i.dims == ("__obs__",)
    np.testing.assert_array_equal(got.elpd_i["__obs__"].values, np.arange(300))
    # the totals: arviz-stats' own sums of the same pointwise values
    assert got.elpd == pytest.approx(expected.elpd, abs=1e-12, rel=1e-12)
    assert got.se == pytest.approx(expected.se, abs=1e-12, rel=1e-12)
    assert got.p == pytest.approx(expected.p, abs=1e-12, rel=1e-12)
    assert (got.elpd, got.se, got.p) == (expected.elpd, expected.se, expected.p)
    for field in ("kind", "n_samples", "n_data_points", "scale", "warning", "good_k", "approx_posterior"):
        assert getattr(got, field) == getattr(expected, field), field
    # p_loo_i (arviz-stats' loo does not keep it): lppd_i − elpd_i, numpy on the same matrix
    top = ll.max(axis=1)
    lppd_i = top + np.log(np.mean(np.exp(ll - top[:, None]), axis=1))
    np.testing.assert_allclose(got.p_loo_i.values, lppd_i - expected.elpd_i.values, rtol=0, atol=1e-10)
    assert got.log_weights is None  # rows x draws: not kept


def test_loo_in_worker_processes_equals_arviz_stats_bit_for_bit(spec, reference, threaded, monkeypatch):
    """Above PSIS_PROCESS_MIN_CELLS the chunks' PSIS runs in a process pool: the same bits, in row order."""
    import mixeff.verbs.pointwise as pointwise

    monkeypatch.setattr(pointwise, "PSIS_PROCESS_MIN_CELLS", 0)
    started = []
    real_pool = pointwise._process_pool

    def pool(jobs):
        started.append(jobs)
        return real_pool(jobs)

    monkeypatch.setattr(pointwise, "_process_pool", pool)
    _, expected, _ = reference
    got = mixeff.loo(spec, chunk_rows=17, n_jobs=2)
    assert started == [2]
    np.testing.assert_array_equal(got.elpd_i.values, expected.elpd_i.values)
    np.testing.assert_array_equal(got.pareto_k.values, expected.pareto_k.values)
    assert (got.elpd, got.se, got.p) == (expected.elpd, expected.se, expected.p)
    # one job: no pool, whatever the size
    started.clear()
    mixeff.loo(spec, chunk_rows=17, n_jobs=1)
    assert started == []


def test_warnings_of_worker_processes_are_raised_in_the_caller():
    from mixeff.verbs.pointwise import _recording_warnings

    def noisy(block):
        warnings.warn("deep in PSIS", RuntimeWarning, stacklevel=1)
        return (block.sum(axis=(1, 2)),)

    results, caught = _recording_warnings(noisy, np.ones((3, 2, 4)))
    np.testing.assert_array_equal(results[0], [8.0, 8.0, 8.0])
    assert caught == [(RuntimeWarning, "deep in PSIS")]


def test_loo_uses_arviz_stats_r_eff_from_the_posterior(spec, reference):
    """Chains with autocorrelated draws: r_eff != 1, as arviz-stats computes it from the posterior's ESS."""
    ll, _, tree = reference
    from mixeff.verbs.compare import relative_efficiency

    r_eff = relative_efficiency(tree["posterior"].to_dataset(), 2 * N_DRAWS)
    from arviz_stats.loo.loo_helper import _get_r_eff  # arviz-stats' own default, for the comparison only

    assert r_eff == _get_r_eff(tree, 2 * N_DRAWS)


def test_loo_group_mirrors_arviz_stats_fields(spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.ParetoKWarning)
        warnings.simplefilter("ignore", mixeff.ConvergenceWarning)  # made-up draws: one level's R-hat is 1.01
        got = mixeff.loo(spec, group="g")
        clusters = mixeff.log_lik(spec, group="g")
    values = clusters.draws.reshape(20, 2, N_DRAWS).transpose(1, 2, 0)
    tree = xr.DataTree.from_dict(
        {
            "posterior": mixeff.to_datatree(spec)["posterior"].to_dataset(),
            "log_likelihood": xr.Dataset(
                {"ll": (("chain", "draw", "g"), values)}, coords={"g": clusters.grid.g.astype(str)}
            ),
        }
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        want = arviz_stats.loo(tree, pointwise=True, var_name="ll")
    np.testing.assert_array_equal(got.elpd_i.values, want.elpd_i.values)
    np.testing.assert_array_equal(got.pareto_k.values, want.pareto_k.values)
    np.testing.assert_array_equal(got.elpd_i["g"].values, want.elpd_i["g"].values)
    assert (got.elpd, got.se, got.p, got.warning, got.good_k) == (want.elpd, want.se, want.p, want.warning, want.good_k)
    with pytest.raises(ValueError, match="re_formula does not apply"):
        mixeff.loo(spec, group="g", re_formula="NA")


def test_pareto_k_warning_says_to_refit_with_kfold():
    """Few draws and outlying rows: high Pareto k; the warning names the count and mixeff.kfold."""
    bad = _spec(60, n_draws=50, seed=1)
    data = bad.data.copy()
    data.loc[:4, "y"] = 12.0  # five outliers: their leave-one-out posteriors differ
    from dataclasses import replace

    bad = replace(bad, data=data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.ConvergenceWarning)  # 100 made-up draws: low ESS
        with pytest.warns(mixeff.ParetoKWarning, match=r"Pareto k above 0\.50 .* for \d+ of 60 observations") as record:
            res = mixeff.loo(bad)
    (message,) = [str(w.message) for w in record if w.category is mixeff.ParetoKWarning]
    assert "use mixeff.kfold (exact refits)" in message
    assert res.warning
    assert res.good_k == pytest.approx(1 - 1 / np.log10(100))
    n_high = int((res.pareto_k.values > res.good_k).sum())
    assert n_high >= 1 and f"for {n_high} of 60" in message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.ConvergenceWarning)
        with pytest.warns(mixeff.ParetoKWarning, match=r"levels of 'g'.*mixeff\.kfold\(fit, group='g'\)"):
            mixeff.loo(bad, group="g")


@pytest.mark.parametrize("chunk_rows, n_jobs", [(1, 2), (13, 3), (None, 1)])
def test_waic_streamed_equals_waic_of_the_whole_matrix(spec, reference, threaded, chunk_rows, n_jobs):
    ll = reference[0]
    elpd_i, p_i = waic_pointwise(ll)
    got = mixeff.waic(spec, chunk_rows=chunk_rows, n_jobs=n_jobs)
    np.testing.assert_array_equal(got.elpd_i.values, elpd_i)
    assert got.elpd == float(elpd_i.sum())
    assert got.p == float(p_i.sum())
    assert got.n_samples == 2 * N_DRAWS


def test_loo_refuses_a_log_likelihood_that_is_not_finite():
    """A row whose response has density 0 under the draws (a mean of ~1e300): refused, naming its row."""
    spec = _spec(40, n_draws=20)
    from dataclasses import replace

    data = spec.data.copy()
    data.loc[17, "x"] = 1e300
    with pytest.raises(ValueError, match=r"log_lik \(family 'gaussian'\) is not finite in 40 draws of rows \[17\]"):
        mixeff.loo(replace(spec, data=data), chunk_rows=5)


def _peak(verb: str, rows: int) -> int:
    """Peak traced memory of ``verb`` on rows x 1000 draws, chunks of 50 rows, two threads."""
    fn = getattr(mixeff, verb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.WAICWarning)  # a few rows have p_waic > 0.4
        fn(_spec(200, n_draws=500), chunk_rows=50, n_jobs=2)  # imports and caches outside the measurement
        spec = _spec(rows, n_draws=500)
        tracemalloc.start()
        try:
            res = fn(spec, chunk_rows=50, n_jobs=2)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert res.n_data_points == rows
    return peak


def test_waic_memory_stays_far_below_the_log_likelihood_matrix():
    matrix = 20_000 * 1000 * 8  # 160 MB
    peak = _peak("waic", 20_000)
    assert peak < matrix / 16, f"peak {peak / 1e6:.1f} MB vs the matrix's {matrix / 1e6:.0f} MB"


def test_loo_memory_does_not_grow_with_rows():
    """Six times the rows (20 MB more of log-likelihood matrix): the peak grows by the pointwise results only
    (a fixed few MB: the threads' chunk buffers and the chunks in flight)."""
    small, large = _peak("loo", 500), _peak("loo", 3000)
    matrix = 3000 * 1000 * 8
    assert large < matrix / 4, f"peak {large / 1e6:.1f} MB vs the matrix's {matrix / 1e6:.0f} MB"
    assert large - small < 0.05 * (3000 - 500) * 1000 * 8, (small, large)


@pytest.mark.slow
def test_loo_memory_stays_far_below_the_log_likelihood_matrix():
    """20 000 rows x 1000 draws (a 160 MB matrix); arviz-stats' PSIS runs for a minute or two: slow."""
    matrix = 20_000 * 1000 * 8
    peak = _peak("loo", 20_000)
    assert peak < matrix / 16, f"peak {peak / 1e6:.1f} MB vs the matrix's {matrix / 1e6:.0f} MB"
