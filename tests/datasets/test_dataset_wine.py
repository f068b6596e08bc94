"""Tests of mixeff.datasets.load_wine (the SYNTHETIC wine-tasting ordinal data)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import mixeff
from mixeff.datasets import WINE_RATINGS, WINE_TRUTH, load_wine

ROOT = Path(__file__).resolve().parents[2]

# The generating model, written out here independently of the module and of data/README.md.
THRESHOLDS = np.array([-1.3, 1.3, 3.5, 5.0])
B_WARM, B_CONTACT, SD_JUDGE = 2.5, 1.5, 1.1

# Monte Carlo tolerance: an empirical share may differ from its expectation under the model by at most
# TOL_SD standard deviations of its sampling distribution, estimated from N_SIM data sets simulated
# from the model (judges drawn anew each time). With 9 checks, a correct model fails with probability
# ~0.4%; a model without the temp effect puts the observed warm - cold difference 4.6 sd away.
TOL_SD = 3.5
N_SIM = 20_000


@pytest.fixture(scope="module")
def wine():
    return load_wine()


def test_shape_columns_and_dtypes(wine):
    assert wine.shape == (72, 5)
    assert list(wine.columns) == ["rating", "temp", "contact", "judge", "bottle"]
    assert not wine.isna().any().any()
    assert set(wine["temp"]) == {"cold", "warm"} and set(wine["contact"]) == {"no", "yes"}
    assert sorted(wine["judge"].unique(), key=int) == [str(j) for j in range(1, 10)]
    assert wine["bottle"].dtype == np.int64 and set(wine["bottle"]) == set(range(1, 9))
    assert all(isinstance(v, str) for col in ("temp", "contact", "judge") for v in wine[col])


def test_rating_is_ordered_1_to_5(wine):
    r = wine["rating"]
    assert isinstance(r.dtype, pd.CategoricalDtype) and r.cat.ordered
    assert r.cat.categories.tolist() == [1, 2, 3, 4, 5] == list(WINE_RATINGS)
    assert (r.min(), r.max()) == (1, 5)  # every category is used (one threshold each)
    assert r.value_counts().sort_index().tolist() == [6, 21, 28, 12, 5]  # as data/README.md says
    assert ((r >= 4) == (r.cat.codes >= 3)).all()  # order comparisons follow the categories


def test_every_judge_rates_every_condition_twice(wine):
    counts = wine.groupby(["judge", "temp", "contact"]).size()
    assert len(counts) == 9 * 2 * 2 and (counts == 2).all()
    # each judge tastes each of the 8 bottles once; bottles are nested in the conditions as in Randall's data
    assert (wine.groupby(["judge", "bottle"]).size() == 1).all() and len(wine.groupby(["judge", "bottle"])) == 72
    condition = wine.groupby("bottle")[["temp", "contact"]].agg(lambda s: "/".join(sorted(set(s))))
    assert (
        condition.agg("/".join, axis=1).tolist()
        == ["cold/no"] * 2 + ["cold/yes"] * 2 + ["warm/no"] * 2 + ["warm/yes"] * 2
    )


def _readme_code() -> str:
    text = (ROOT / "data" / "README.md").read_text()
    section = text[text.index("## Synthetic wine-tasting data") :]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "data/README.md: the wine section should hold exactly one python block"
    return blocks[0]


def test_readme_code_regenerates_the_file_and_states_the_truth(tmp_path):
    code = _readme_code()
    (tmp_path / "data").mkdir()
    cwd = os.getcwd()
    namespace: dict = {}
    try:
        os.chdir(tmp_path)
        exec(compile(code, "data/README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert (tmp_path / "data" / "wine_synthetic.csv").read_bytes() == (
        ROOT / "data" / "wine_synthetic.csv"
    ).read_bytes()
    # the README's constants, mixeff.datasets.WINE_TRUTH and this file's agree
    assert namespace["SEED"] == WINE_TRUTH["seed"]
    np.testing.assert_array_equal(namespace["THRESHOLDS"], WINE_TRUTH["thresholds"])
    np.testing.assert_array_equal(namespace["THRESHOLDS"], THRESHOLDS)
    assert (
        (namespace["B_WARM"], namespace["B_CONTACT"], namespace["SD_JUDGE"])
        == (B_WARM, B_CONTACT, SD_JUDGE)
        == (WINE_TRUTH["temp[warm]"], WINE_TRUTH["contact[yes]"], WINE_TRUTH["sd(judge)"])
    )
    # the realised judge intercepts printed in the README
    u = np.random.default_rng(WINE_TRUTH["seed"]).normal(0.0, SD_JUDGE, size=9)
    np.testing.assert_allclose(u, [0.030, -0.302, 0.621, 0.850, -0.513, 0.823, -0.175, -1.736, -0.231], atol=5e-4)
    assert round(float(u.std(ddof=1)), 2) == 0.81


def _simulated_ratings(wine, n, seed, b_warm=B_WARM):
    """(n, 72) ratings of the design in ``wine``, simulated from the stated model (new judges each time)."""
    rng = np.random.default_rng(seed)
    warm = (wine["temp"] == "warm").to_numpy(float)
    contact = (wine["contact"] == "yes").to_numpy(float)
    judge = wine["judge"].astype(int).to_numpy() - 1
    u = rng.normal(0.0, SD_JUDGE, size=(n, 9))
    latent = b_warm * warm + B_CONTACT * contact + u[:, judge] + rng.logistic(size=(n, len(wine)))
    return 1 + (latent[..., None] > THRESHOLDS).sum(axis=-1)


def _expected_share_at_least(k, warm):
    """P(rating >= k) for the given temp, averaged over contact and over judges u ~ N(0, 1.1²) (quadrature)."""
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    return np.mean([expit(B_WARM * warm + B_CONTACT * c + SD_JUDGE * z - THRESHOLDS[k - 2]) @ w for c in (0, 1)])


def test_cumulative_shares_agree_with_the_generating_model(wine):
    obs = wine["rating"].astype(int).to_numpy()
    warm = (wine["temp"] == "warm").to_numpy()
    sims = _simulated_ratings(wine, N_SIM, seed=0)
    for t in (False, True):
        for k in (2, 3, 4, 5):
            observed = np.mean(obs[warm == t] >= k)
            simulated = (sims[:, warm == t] >= k).mean(axis=1)
            expected = _expected_share_at_least(k, float(t))
            assert abs(simulated.mean() - expected) < 4 * simulated.std() / np.sqrt(N_SIM)  # simulator = model
            z = (observed - expected) / simulated.std()
            assert abs(z) < TOL_SD, f"share of rating >= {k}, temp={'warm' if t else 'cold'}: z = {z:.2f}"
    # the temperature effect: share of ratings >= 4, warm minus cold (observed 14/36 - 3/36 = 0.306)
    observed = np.mean(obs[warm] >= 4) - np.mean(obs[~warm] >= 4)
    diff = (sims[:, warm] >= 4).mean(axis=1) - (sims[:, ~warm] >= 4).mean(axis=1)
    expected = _expected_share_at_least(4, 1.0) - _expected_share_at_least(4, 0.0)
    assert abs(observed - expected) < TOL_SD * diff.std()
    # ... and the check has power: without a temp effect the observed difference is far out
    null = _simulated_ratings(wine, N_SIM, seed=1, b_warm=0.0)
    null_diff = (null[:, warm] >= 4).mean(axis=1) - (null[:, ~warm] >= 4).mean(axis=1)
    assert abs(observed - null_diff.mean()) > TOL_SD * null_diff.std()


def test_bambi_cumulative_accepts_rating_and_groups_come_out_in_order(wine):
    """Prior draws only (no MCMC): Bambi's cumulative family takes the ordered Categorical and mixeff's
    results list the categories 1..5 in order, with probabilities summing to 1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mixeff.fit(
            "rating ~ temp + contact + (1 | judge)",
            wine,
            family="cumulative",
            sample_prior="only",
            draws=50,
            chains=2,
            seed=1,
            progress=False,
        )
    grid = mixeff.datagrid(fit, temp=["cold", "warm"], contact=["no", "yes"])
    p = mixeff.predictions(fit, grid, re_formula="NA")
    assert p.summary.columns[0] == "group"
    assert p.summary["group"].astype(str).tolist() == [str(k) for k in WINE_RATINGS for _ in range(4)]
    np.testing.assert_allclose(p.draws.reshape(5, 4, -1).sum(axis=0), 1.0, atol=1e-12)
