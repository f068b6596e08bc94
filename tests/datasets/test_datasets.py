"""Tests of mixeff.datasets (synthetic CES-like data and reference data loaders)."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixeff.datasets as ds
from mixeff.datasets import (
    load_ces_like,
    load_magnusson,
    load_sleepstudy,
    make_ces_like,
    write_ces_like,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "data"

# Written out independently of the module under test.
EXPECTED_SIZES = {
    "ND": 4, "WY": 5, "SD": 8, "VT": 9, "MS": 12, "ID": 14, "MT": 14, "NE": 15,
    "NH": 15, "RI": 15, "DE": 19, "AR": 21, "KS": 21, "ME": 21, "WV": 21,
    "NM": 22, "OK": 23, "IA": 32, "NV": 32, "UT": 33, "KY": 40, "CT": 42,
    "LA": 44, "MN": 44, "OR": 46, "AL": 47, "MD": 49, "MA": 53, "WA": 57,
    "CO": 59, "SC": 60, "WI": 67, "TN": 70, "IN": 76, "MO": 76, "AZ": 81,
    "NJ": 88, "GA": 90, "VA": 90, "NC": 91, "MI": 94, "IL": 107, "OH": 136,
    "PA": 144, "NY": 180, "FL": 224, "TX": 224, "CA": 265,
}  # fmt: skip
AGES = ["18-29", "30-39", "40-49", "50-59", "60-69", "70+"]
EDUS = ["No HS", "High school", "Some college", "2 year", "4 year", "Post grad"]
# glmmTMB estimates from the book, in level order (reference level first = 0)
B_INTERCEPT = -0.2577928
B_AGE = np.array([0.0, 0.0192253, -0.7821669, -0.9662776, -1.1645794, -1.3740248])
B_EDU = np.array([0.0, 0.0890342, 0.4157259, 0.1891399, 0.6204406, 0.9882507])
B_MILITARY = 0.0003398
B_WOMAN = 0.1680639


@pytest.fixture(scope="module")
def d():
    return make_ces_like()


def _true_prob(df: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """P(defund = 1) for each row of ``df`` under the true model (own code)."""
    re = truth.set_index("state").loc[df["state"].to_numpy()]
    age = df["age"].astype(str).map({a: i for i, a in enumerate(AGES)}).to_numpy(int)
    edu = df["education"].astype(str).map({e: i for i, e in enumerate(EDUS)}).to_numpy(int)
    woman = (df["gender"].to_numpy() == "Woman").astype(float)
    eta = (
        B_INTERCEPT
        + B_AGE[age]
        + B_EDU[edu]
        + B_MILITARY * df["military"].to_numpy()
        + (B_WOMAN + re["re_genderWoman"].to_numpy()) * woman
        + re["re_intercept"].to_numpy()
    )
    return 1.0 / (1.0 + np.exp(-eta))


# --------------------------------------------------------------------------- #
# constants and structure
# --------------------------------------------------------------------------- #


def test_constants():
    assert ds.STATE_SIZES == EXPECTED_SIZES
    assert sum(EXPECTED_SIZES.values()) == 3000
    assert list(ds.AGE_LEVELS) == AGES
    assert list(ds.EDUCATION_LEVELS) == EDUS
    fe = ds.TRUE_FIXED_EFFECTS
    assert fe["(Intercept)"] == B_INTERCEPT
    assert [fe[f"age{a}"] for a in AGES[1:]] == list(B_AGE[1:])
    assert [fe[f"education{e}"] for e in EDUS[1:]] == list(B_EDU[1:])
    assert fe["military"] == B_MILITARY
    assert fe["genderWoman"] == B_WOMAN
    assert len(fe) == 13
    assert tuple(ds.TRUE_RE_SD) == (0.30, 0.12)
    assert ds.TRUE_RE_COR == 0.3


def test_state_sample_sizes(d):
    survey, truth = d["survey"], d["truth"]
    assert len(survey) == 3000
    assert survey.groupby("state").size().to_dict() == EXPECTED_SIZES
    assert dict(zip(truth["state"], truth["n_survey"])) == EXPECTED_SIZES
    assert len(truth) == 48 and truth["state"].is_unique


def test_columns_and_dtypes(d):
    survey, frame, truth = d["survey"], d["demographics"], d["truth"]
    assert list(survey.columns) == ["state", "defund", "gender", "age", "education", "military"]
    assert list(frame.columns) == ["state", "age", "education", "gender", "military", "percent"]
    assert list(truth.columns) == ["state", "n_survey", "re_intercept", "re_genderWoman", "support"]
    for df in (survey, frame):
        assert isinstance(df["age"].dtype, pd.CategoricalDtype) and df["age"].cat.ordered
        assert list(df["age"].cat.categories) == AGES
        assert isinstance(df["education"].dtype, pd.CategoricalDtype)
        assert df["education"].cat.ordered
        assert list(df["education"].cat.categories) == EDUS
        assert pd.api.types.is_string_dtype(df["state"])
        assert pd.api.types.is_string_dtype(df["gender"])
        assert set(df["gender"]) == {"Man", "Woman"}
        assert df["military"].dtype == np.int64
        assert set(df["military"]) == {0, 1}
        assert not df.isna().any().any()
    assert survey["defund"].dtype == np.int64
    assert set(survey["defund"]) == {0, 1}
    assert truth["n_survey"].dtype == np.int64


def test_frame_rows_and_percent(d):
    frame = d["demographics"]
    assert len(frame) == 48 * 6 * 6 * 2 * 2
    keys = ["state", "age", "education", "gender", "military"]
    assert not frame.duplicated(keys).any()
    assert set(frame["state"]) == set(EXPECTED_SIZES)
    assert (frame.groupby("state").size() == 144).all()
    assert (frame["percent"] > 0).all()
    sums = frame.groupby("state")["percent"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 100.0, rtol=0, atol=1e-9)


def test_frame_compositions_plausible_and_varied(d):
    frame = d["demographics"]
    by = frame.groupby

    men = by(["state", "gender"])["percent"].sum().unstack()["Man"]
    assert men.between(48, 52).all()

    vet = by(["state", "military"])["percent"].sum().unstack()[1]
    assert vet.between(5, 15).all()
    vet_rate = by(["state", "gender", "military"])["percent"].sum().unstack()
    vet_rate = (vet_rate[1] / vet_rate.sum(axis=1)).unstack()
    assert (vet_rate["Man"] > 2 * vet_rate["Woman"]).all()

    edu_by_age = by(["state", "age", "education"], observed=True)["percent"].sum().unstack()
    postgrad = (edu_by_age["Post grad"] / edu_by_age.sum(axis=1)).unstack()
    assert (postgrad["70+"] < postgrad["30-39"]).all()
    assert (postgrad["18-29"] < postgrad["30-39"]).all()

    # states genuinely differ in composition
    age_share = by(["state", "age"], observed=True)["percent"].sum().unstack()
    edu_share = by(["state", "education"], observed=True)["percent"].sum().unstack()
    assert age_share["18-29"].std() > 0.5  # percentage points
    assert edu_share["Post grad"].std() > 0.5


# --------------------------------------------------------------------------- #
# truth
# --------------------------------------------------------------------------- #


def test_truth_support_matches_independent_recomputation(d):
    frame, truth = d["demographics"], d["truth"]
    p = _true_prob(frame, truth)
    w = frame["percent"].to_numpy()
    states = frame["state"].to_numpy()
    expected = {s: np.sum(w[states == s] * p[states == s]) / np.sum(w[states == s]) for s in EXPECTED_SIZES}
    got = dict(zip(truth["state"], truth["support"]))
    for s in EXPECTED_SIZES:
        assert abs(got[s] - expected[s]) < 1e-12, s
    assert truth["support"].between(0.05, 0.95).all()


def test_state_effects_have_roughly_requested_spread(d):
    truth = d["truth"]
    # 48 draws: sample sds within generous bounds of 0.30 / 0.12
    assert 0.18 < truth["re_intercept"].std() < 0.45
    assert 0.07 < truth["re_genderWoman"].std() < 0.18
    assert truth["support"].max() - truth["support"].min() > 0.15


# --------------------------------------------------------------------------- #
# survey
# --------------------------------------------------------------------------- #


def test_sampling_is_non_representative(d):
    survey, frame = d["survey"], d["demographics"]
    size = frame["state"].map(EXPECTED_SIZES).to_numpy()
    w = frame["percent"].to_numpy() * size  # population shares weighted by state n
    pop_postgrad = w[frame["education"].to_numpy() == "Post grad"].sum() / w.sum()
    pop_young = w[frame["age"].to_numpy() == "18-29"].sum() / w.sum()
    srv_postgrad = (survey["education"] == "Post grad").mean()
    srv_young = (survey["age"] == "18-29").mean()
    assert srv_postgrad > pop_postgrad + 0.04
    assert srv_young < pop_young - 0.04
    # older people are over-sampled too: mean age code higher in the survey
    pop_age = np.sum(w * frame["age"].cat.codes.to_numpy()) / w.sum()
    assert survey["age"].cat.codes.mean() > pop_age + 0.2


def test_raw_means_are_biased(d):
    # expected raw mean given the sampled cells vs the true population support
    survey, truth = d["survey"], d["truth"]
    p = _true_prob(survey, truth)
    pop = np.sum(truth["support"] * truth["n_survey"]) / truth["n_survey"].sum()
    assert p.mean() - pop > 0.01


def test_survey_cells_exist_in_frame(d):
    keys = ["state", "age", "education", "gender", "military"]
    merged = d["survey"].merge(d["demographics"], on=keys, how="left")
    assert len(merged) == 3000
    assert merged["percent"].notna().all()


def test_defund_mean_consistent_with_truth(d):
    survey, truth = d["survey"], d["truth"]
    p = _true_prob(survey, truth)
    expected = p.mean()
    se = np.sqrt(np.sum(p * (1 - p))) / len(p)
    assert abs(survey["defund"].mean() - expected) < 4 * se
    # and per large state, loosely
    for s in ["CA", "TX", "FL", "NY"]:
        m = survey["state"].to_numpy() == s
        se_s = np.sqrt(np.sum(p[m] * (1 - p[m]))) / m.sum()
        assert abs(survey["defund"].to_numpy()[m].mean() - p[m].mean()) < 4 * se_s


# --------------------------------------------------------------------------- #
# reproducibility and I/O
# --------------------------------------------------------------------------- #


def test_reproducible(d):
    again = make_ces_like()
    other = make_ces_like(seed=1)
    for key in ("survey", "demographics", "truth"):
        pd.testing.assert_frame_equal(d[key], again[key], check_exact=True)
    assert not np.array_equal(d["demographics"]["percent"], other["demographics"]["percent"])
    assert not np.array_equal(d["truth"]["support"], other["truth"]["support"])
    assert not d["survey"].equals(other["survey"])


def test_write_load_roundtrip(tmp_path):
    seed = 7
    paths = write_ces_like(tmp_path / "sub", seed=seed)
    assert {p.name for p in paths.values()} == {
        "ces_synthetic_survey.csv",
        "ces_synthetic_demographics.csv",
        "ces_synthetic_truth.csv",
    }
    loaded = load_ces_like(tmp_path / "sub")
    made = make_ces_like(seed)
    for key in ("survey", "demographics", "truth"):
        pd.testing.assert_frame_equal(loaded[key], made[key], check_exact=True)


def test_committed_files_match_generator():
    names = ["ces_synthetic_survey.csv", "ces_synthetic_demographics.csv", "ces_synthetic_truth.csv"]
    missing = [n for n in names if not (DATA_DIR / n).exists()]
    assert not missing, f"the synthetic CSVs are shipped in data/: {missing} missing"
    for n in names:
        assert (DATA_DIR / n).stat().st_size < 1_000_000
    loaded = load_ces_like()
    made = make_ces_like(ds.DEFAULT_SEED)
    for key in ("survey", "demographics", "truth"):
        pd.testing.assert_frame_equal(loaded[key], made[key], check_exact=True)


def test_load_magnusson():
    df = load_magnusson()
    assert df.shape == (600, 3)
    assert list(df.columns) == ["cluster", "TX", "y"]
    assert pd.api.types.is_string_dtype(df["cluster"])
    assert set(df["cluster"]) == {str(i) for i in range(1, 21)}
    assert df["TX"].dtype == np.int64
    assert set(df.loc[df["TX"] == 1, "cluster"]) == {str(i) for i in range(11, 21)}
    assert (df.groupby("cluster").size() == 30).all()
    assert (df["y"] > 0).all()


def test_load_sleepstudy():
    df = load_sleepstudy()
    assert df.shape == (180, 3)
    assert list(df.columns) == ["Reaction", "Days", "Subject"]
    assert pd.api.types.is_string_dtype(df["Subject"])
    assert df["Subject"].nunique() == 18
    assert "308" in set(df["Subject"])
    assert df["Days"].dtype == np.int64
    assert sorted(df["Days"].unique()) == list(range(10))
    assert df.loc[0, "Reaction"] == 249.56


def test_docstring_examples():
    result = doctest.testmod(ds, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
