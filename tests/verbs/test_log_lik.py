"""``mixeff.log_lik`` against numpy on the same draws: brms's ``log_lik`` (no MCMC).

The brms sleepstudy fixture (gaussian, correlated intercept and slope), and brms-layout draws written
here for a bernoulli model with correlated terms, a poisson and a cumulative model; under
``re_formula`` None and ``"NA"``.  The engine computes it by row chunk: the same bits for any
``n_jobs`` and ``chunk_rows``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import mixeff
from mixeff.engine import passes

# brms's own sleepstudy draws have a few R-hats just above 1.01, and the draws written here are made up
# with numpy: mixeff's ConvergenceWarning is noise here (it is tested in tests/test_trust.py)
pytestmark = pytest.mark.filterwarnings("ignore::mixeff.ConvergenceWarning")

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brms_sleepstudy"
EXACT = dict(rtol=1e-10, atol=1e-10)
S = 200
LEVELS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def sleep():
    draws = pd.read_csv(FIXTURE / "draws.csv")
    data = mixeff.datasets.load_sleepstudy()
    spec = mixeff.from_brms_draws(
        draws, formula="Reaction ~ 1 + Days + (1 + Days | Subject)", data=data, family="gaussian"
    )
    return spec, draws, data


@pytest.mark.parametrize("re_formula", [None, "NA"])
def test_gaussian_sleepstudy_equals_numpy(sleep, re_formula):
    spec, draws, data = sleep
    days = data["Days"].to_numpy(dtype=float)[:, None]
    eta = draws["b_Intercept"].to_numpy() + days * draws["b_Days"].to_numpy()
    if re_formula is None:
        subject = data["Subject"].astype(str)
        eta = eta + np.stack([draws[f"r_Subject[{s},Intercept]"].to_numpy() for s in subject])
        eta = eta + days * np.stack([draws[f"r_Subject[{s},Days]"].to_numpy() for s in subject])
    expected = stats.norm.logpdf(data["Reaction"].to_numpy()[:, None], eta, draws["sigma"].to_numpy())
    result = mixeff.log_lik(spec, re_formula=re_formula)
    assert result.kind == "log_lik" and result.type == "log_lik"
    assert result.draws.shape == (len(data), 1000)
    np.testing.assert_allclose(result.draws, expected, **EXACT)
    assert result.grid["Subject"].tolist() == data["Subject"].tolist()


def _chains(columns: dict) -> pd.DataFrame:
    table = pd.DataFrame(columns)
    table[".chain"] = np.repeat([1, 2], S // 2)
    table[".iteration"] = np.tile(np.arange(1, S // 2 + 1), 2)
    table[".draw"] = np.arange(1, S + 1)
    return table


def _data(rng, n=40):
    return pd.DataFrame({"x": rng.normal(size=n), "g": np.resize(LEVELS, n)})


@pytest.fixture(scope="module")
def bernoulli():
    """y ~ x + (1 + x | g): correlated intercepts and slopes, brms's names."""
    rng = np.random.default_rng(11)
    data = _data(rng)
    data["y"] = rng.integers(0, 2, len(data))
    columns = {
        "b_Intercept": rng.normal(-0.3, 0.2, S),
        "b_x": rng.normal(0.8, 0.2, S),
        "sd_g__Intercept": np.abs(rng.normal(0.7, 0.1, S)),
        "sd_g__x": np.abs(rng.normal(0.4, 0.1, S)),
        "cor_g__Intercept__x": rng.uniform(-0.5, 0.8, S),
    }
    for lev in LEVELS:
        columns[f"r_g[{lev},Intercept]"] = rng.normal(0, 0.7, S)
        columns[f"r_g[{lev},x]"] = rng.normal(0, 0.4, S)
    draws = _chains(columns)
    spec = mixeff.from_brms_draws(draws, formula="y ~ x + (1 + x | g)", data=data, family="bernoulli")
    return spec, draws, data


def _eta(draws, frame, re_formula, slope=True):
    x = frame["x"].to_numpy()[:, None]
    eta = draws["b_Intercept"].to_numpy() + x * draws["b_x"].to_numpy()
    if re_formula is None:
        eta = eta + np.stack([draws[f"r_g[{lev},Intercept]"].to_numpy() for lev in frame["g"]])
        if slope:
            eta = eta + x * np.stack([draws[f"r_g[{lev},x]"].to_numpy() for lev in frame["g"]])
    return eta


@pytest.mark.parametrize("re_formula", [None, "NA"])
def test_bernoulli_with_correlated_terms_equals_numpy(bernoulli, re_formula):
    spec, draws, data = bernoulli
    assert spec.groups["g"].cor is not None
    eta = _eta(draws, data, re_formula)
    expected = stats.bernoulli.logpmf(data["y"].to_numpy()[:, None], special.expit(eta))
    np.testing.assert_allclose(mixeff.log_lik(spec, re_formula=re_formula).draws, expected, **EXACT)


def test_bernoulli_far_tails_are_finite_and_exact(bernoulli):
    """x = ±400: η of hundreds, where expit rounds to 0 or 1; y the unlikely value: log-likelihood ≈ −|η|."""
    spec, draws, _ = bernoulli
    far = pd.DataFrame({"x": [400.0, -400.0, 800.0], "g": ["a", "b", "c"], "y": [0, 1, 0]})
    got = mixeff.log_lik(spec, far, re_formula="NA").draws
    eta = _eta(draws, far, "NA")
    assert np.isfinite(got).all()
    expected = np.where(far["y"].to_numpy()[:, None] == 1, -np.logaddexp(0, -eta), -np.logaddexp(0, eta))
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.fixture(scope="module")
def poisson():
    rng = np.random.default_rng(12)
    data = _data(rng)
    data["y"] = rng.poisson(2.0, len(data))
    columns = {
        "b_Intercept": rng.normal(0.6, 0.1, S),
        "b_x": rng.normal(0.3, 0.1, S),
        "sd_g__Intercept": np.abs(rng.normal(0.5, 0.1, S)),
        **{f"r_g[{lev},Intercept]": rng.normal(0, 0.5, S) for lev in LEVELS},
    }
    draws = _chains(columns)
    return mixeff.from_brms_draws(draws, formula="y ~ x + (1 | g)", data=data, family="poisson"), draws, data


@pytest.mark.parametrize("re_formula", [None, "NA"])
def test_poisson_equals_numpy(poisson, re_formula):
    spec, draws, data = poisson
    expected = stats.poisson.logpmf(data["y"].to_numpy()[:, None], np.exp(_eta(draws, data, re_formula, slope=False)))
    np.testing.assert_allclose(mixeff.log_lik(spec, re_formula=re_formula).draws, expected, **EXACT)
    newdata = data.head(5).assign(y=[0, 1, 2, 3, 40])  # newdata carries its own response
    expected = stats.poisson.logpmf(newdata["y"].to_numpy()[:, None], np.exp(_eta(draws, newdata, re_formula, False)))
    np.testing.assert_allclose(mixeff.log_lik(spec, newdata, re_formula=re_formula).draws, expected, **EXACT)


@pytest.fixture(scope="module")
def cumulative():
    rng = np.random.default_rng(13)
    data = _data(rng)
    cats = ["lo", "mid", "hi"]
    data["y"] = pd.Categorical(rng.choice(cats, len(data)), categories=cats, ordered=True)
    tau1 = rng.normal(-0.5, 0.2, S)
    columns = {
        "b_Intercept[1]": tau1,
        "b_Intercept[2]": tau1 + np.exp(rng.normal(0, 0.2, S)),
        "b_x": rng.normal(0.7, 0.2, S),
        "sd_g__Intercept": np.abs(rng.normal(0.5, 0.1, S)),
        **{f"r_g[{lev},Intercept]": rng.normal(0, 0.5, S) for lev in LEVELS},
    }
    draws = _chains(columns)
    return mixeff.from_brms_draws(draws, formula="y ~ x + (1 | g)", data=data, family="cumulative"), draws, data


@pytest.mark.parametrize("re_formula", [None, "NA"])
def test_cumulative_equals_numpy(cumulative, re_formula):
    spec, draws, data = cumulative
    x = data["x"].to_numpy()[:, None]
    eta = x * draws["b_x"].to_numpy()
    if re_formula is None:
        eta = eta + np.stack([draws[f"r_g[{lev},Intercept]"].to_numpy() for lev in data["g"]])
    cdf = [special.expit(draws[f"b_Intercept[{k}]"].to_numpy() - eta) for k in (1, 2)]
    probs = np.stack([cdf[0], cdf[1] - cdf[0], 1 - cdf[1]])  # (K, rows, S)
    codes = data["y"].cat.codes.to_numpy()
    expected = np.log(probs[codes, np.arange(len(data))])
    result = mixeff.log_lik(spec, re_formula=re_formula)
    assert result.draws.shape == (len(data), S)  # one row per observation, not per category
    np.testing.assert_allclose(result.draws, expected, **EXACT)
    as_labels = data.assign(y=data["y"].astype(str))  # labels as text are the same categories
    np.testing.assert_array_equal(mixeff.log_lik(spec, as_labels, re_formula=re_formula).draws, result.draws)


def test_bit_identical_across_threads_and_chunks(bernoulli, monkeypatch):
    """Tasks of 1 chunk and no minimum size: the rows are split across two threads."""
    spec, _, data = bernoulli
    big = pd.concat([data] * 30, ignore_index=True)
    monkeypatch.setattr(passes, "PARALLEL_MIN_CELLS", 0)
    monkeypatch.setattr(passes, "CHUNKS_PER_TASK", 1)
    one = mixeff.log_lik(spec, big, n_jobs=1).draws
    for kw in (dict(n_jobs=2), dict(n_jobs=2, chunk_rows=7), dict(n_jobs=1, chunk_rows=1), dict(chunk_rows=333)):
        np.testing.assert_array_equal(mixeff.log_lik(spec, big, **kw).draws, one)


def test_draw_subsets_and_new_levels(poisson):
    spec, draws, data = poisson
    full = mixeff.log_lik(spec).draws
    np.testing.assert_array_equal(mixeff.log_lik(spec, draw_ids=[3, 0, 7]).draws, full[:, [3, 0, 7]])
    new = pd.DataFrame({"x": [0.1, 0.2], "g": ["zz", "zz"], "y": [1, 2]})
    with pytest.raises(ValueError, match="allow_new_levels"):
        mixeff.log_lik(spec, new)
    got = mixeff.log_lik(spec, new, allow_new_levels=True, seed=1)
    assert np.isfinite(got.draws).all() and got.new_levels["factors"] == ["g"]
    again = mixeff.log_lik(spec, new, allow_new_levels=True, seed=1)
    np.testing.assert_array_equal(got.draws, again.draws)


def test_clear_errors(poisson, cumulative):
    spec, _, data = poisson
    with pytest.raises(ValueError, match=r"newdata has no column 'y'"):
        mixeff.log_lik(spec, data.drop(columns="y"))
    with pytest.raises(ValueError, match=r"'y' of newdata has 1 missing or infinite"):
        mixeff.log_lik(spec, data.assign(y=np.where(np.arange(len(data)) == 3, np.nan, data["y"])))
    with pytest.raises(ValueError, match=r"poisson family's response is a whole number >= 0.*\[1.5\]"):
        mixeff.log_lik(spec, data.assign(y=np.where(np.arange(len(data)) == 3, 1.5, data["y"])))
    with pytest.raises(TypeError, match="newdata must be a pandas DataFrame"):
        mixeff.log_lik(spec, "mean")
    with pytest.raises(ValueError, match="sample_new_levels='integrate'"):
        mixeff.log_lik(spec, sample_new_levels="integrate")
    with pytest.raises(ValueError, match="use mixeff.log_lik"):
        mixeff.predictions(spec, type="log_lik")
    cspec, _, cdata = cumulative
    bad = cdata.assign(y=cdata["y"].astype(str).where(np.arange(len(cdata)) != 2, "huge"))
    with pytest.raises(ValueError, match=r"value\(s\) \['huge'\] that are not among the model's categories"):
        mixeff.log_lik(cspec, bad)
    from dataclasses import replace

    with pytest.raises(ValueError, match="this fit names no response column"):
        mixeff.log_lik(replace(spec, response=None))
