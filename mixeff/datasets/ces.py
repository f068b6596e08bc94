"""The SYNTHETIC CES-like survey: simulator and its constants.

A stand-in for the Cooperative Election Study (CES) survey used in the
*marginaleffects* book chapter on multilevel regression and post-stratification
(MRP) of support for cutting police budgets.  Unlike the real survey, the
synthetic data come with a known truth: the data-generating logistic mixed
model and the exact post-stratified support in every state, so MRP estimates
can be checked against it.

Synthetic design (all random draws from ``numpy.random.default_rng(seed)``):

* ``demographics`` -- a post-stratification frame with one row per
  ``state x age x education x gender x military`` cell of 48 states
  (48 * 6 * 6 * 2 * 2 = 6912 rows).  ``percent`` is the share (in percent) of the
  state's adult population in the cell.  Each state's composition is built from
  state-specific, Dirichlet-perturbed national marginals: an age distribution,
  an education distribution that depends on age (the young and the old are less
  often post-graduates, the old more often lack a high-school diploma), a share
  of men between 48% and 52% that falls with age, and a veteran share between 5%
  and 15% that is much higher among men and rises with age.
* ``truth`` -- logit P(defund = 1) = fixed effects + state random intercept +
  state random slope on ``genderWoman``.  The fixed effects are exactly the
  glmmTMB estimates printed in the book (:data:`TRUE_FIXED_EFFECTS`).  The state
  effects are drawn from a bivariate normal with standard deviations
  :data:`TRUE_RE_SD` = (0.30, 0.12) and correlation :data:`TRUE_RE_COR` = 0.3.
  These are deliberately *larger* than the book's nearly-zero variance estimates
  so that states genuinely differ and partial pooling has something to find.
  ``support`` is the true post-stratified support,
  ``sum(percent * expit(eta)) / sum(percent)`` over the state's cells.
* ``survey`` -- 3000 respondents with exactly the state sample sizes of the book
  (:data:`STATE_SIZES`).  Within a state, respondents' cells are drawn from the
  state's frame composition tilted by :data:`SAMPLING_TILT` (educated, older,
  female and veteran respondents are over-sampled), so raw state means are
  biased and post-stratification has something to correct.  ``defund`` is then
  drawn from the true model.

Random numbers are generated only with ``standard_normal``, ``standard_gamma``
and ``random`` (Dirichlet draws, the bivariate normal and categorical sampling
are coded by hand), which keeps the output stable across numpy versions as far
as numpy allows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

# --------------------------------------------------------------------------- #
# Constants
# --------------------------------------------------------------------------- #

#: Default seed of the synthetic CES-like data (the files in ``data/`` use it).
DEFAULT_SEED: int = 20240611

#: Survey sample size per state, as in the book's CES extract (sums to 3000).
STATE_SIZES: dict[str, int] = {
    "ND": 4, "WY": 5, "SD": 8, "VT": 9, "MS": 12, "ID": 14, "MT": 14, "NE": 15,
    "NH": 15, "RI": 15, "DE": 19, "AR": 21, "KS": 21, "ME": 21, "WV": 21,
    "NM": 22, "OK": 23, "IA": 32, "NV": 32, "UT": 33, "KY": 40, "CT": 42,
    "LA": 44, "MN": 44, "OR": 46, "AL": 47, "MD": 49, "MA": 53, "WA": 57,
    "CO": 59, "SC": 60, "WI": 67, "TN": 70, "IN": 76, "MO": 76, "AZ": 81,
    "NJ": 88, "GA": 90, "VA": 90, "NC": 91, "MI": 94, "IL": 107, "OH": 136,
    "PA": 144, "NY": 180, "FL": 224, "TX": 224, "CA": 265,
}  # fmt: skip

#: Age groups (ordered; the first is the reference level).
AGE_LEVELS: tuple[str, ...] = ("18-29", "30-39", "40-49", "50-59", "60-69", "70+")

#: Education levels (ordered; the first is the reference level).
EDUCATION_LEVELS: tuple[str, ...] = (
    "No HS", "High school", "Some college", "2 year", "4 year", "Post grad",
)  # fmt: skip

#: Gender levels (the first is the reference level).
GENDER_LEVELS: tuple[str, ...] = ("Man", "Woman")

#: Fixed effects of the true model (glmmTMB estimates from the book), logit scale.
TRUE_FIXED_EFFECTS: dict[str, float] = {
    "(Intercept)": -0.2577928,
    "age30-39": 0.0192253,
    "age40-49": -0.7821669,
    "age50-59": -0.9662776,
    "age60-69": -1.1645794,
    "age70+": -1.3740248,
    "educationHigh school": 0.0890342,
    "educationSome college": 0.4157259,
    "education2 year": 0.1891399,
    "education4 year": 0.6204406,
    "educationPost grad": 0.9882507,
    "military": 0.0003398,
    "genderWoman": 0.1680639,
}

#: Standard deviations of the state random intercept and genderWoman slope.
#: Larger than the book's nearly-zero estimates, so that states really differ.
TRUE_RE_SD: tuple[float, float] = (0.30, 0.12)

#: Correlation between the state random intercept and genderWoman slope.
TRUE_RE_COR: float = 0.3

#: Log-multipliers applied to a state's cell probabilities when drawing the
#: survey sample (the sample over-represents educated, older, female and veteran
#: respondents relative to the population frame).  Because support rises with
#: education but falls with age, the two tilts partly cancel; the education tilt
#: dominates, so raw state means overstate true support by about 1-4 points in
#: expectation (on top of sampling noise).
SAMPLING_TILT: dict[str, tuple[float, ...]] = {
    "age": (-0.40, -0.20, 0.00, 0.10, 0.20, 0.25),
    "education": (-1.10, -0.70, -0.20, 0.00, 0.55, 1.10),
    "gender": (0.00, 0.10),
    "military": (0.00, 0.20),
}

# National baseline compositions used to build the state frames (rough US adult
# population shares; each state perturbs them with a Dirichlet draw).
_AGE_BASE = np.array([0.20, 0.17, 0.16, 0.17, 0.16, 0.14])
_AGE_CONCENTRATION = 150.0
_EDU_BASE = np.array([0.09, 0.27, 0.20, 0.10, 0.20, 0.14])
_EDU_CONCENTRATION = 120.0
# log-multipliers of education given age (rows: age, cols: education)
_EDU_BY_AGE = np.array(
    [
        [0.00, 0.10, 0.35, 0.00, 0.00, -1.00],  # 18-29: few post-grads yet
        [0.00, 0.00, 0.00, 0.00, 0.15, 0.15],
        [0.00, 0.00, 0.00, 0.00, 0.05, 0.05],
        [0.10, 0.10, 0.00, 0.00, -0.05, -0.10],
        [0.20, 0.15, 0.00, 0.00, -0.10, -0.20],
        [0.50, 0.30, -0.10, -0.20, -0.30, -0.40],  # 70+: less schooling
    ]
)
_MEN_SHARE_RANGE = (0.48, 0.52)
_MEN_BY_AGE = np.array([0.03, 0.02, 0.01, 0.00, -0.06, -0.22])  # logit shifts
_VETERAN_SHARE_RANGE = (0.05, 0.15)
_VETERAN_MAN = 1.9  # logit shift for men
_VETERAN_BY_AGE = np.array([-1.6, -0.9, -0.6, -0.3, 0.3, 0.7])  # logit shifts

_STATES: tuple[str, ...] = tuple(sorted(STATE_SIZES))
_N_CELLS = len(AGE_LEVELS) * len(EDUCATION_LEVELS) * 2 * 2  # per state

#: The CSV file of each table, in ``data/`` (``write_ces_like`` writes them, ``load_ces_like`` reads them).
FILES = {
    "survey": "ces_synthetic_survey.csv",
    "demographics": "ces_synthetic_demographics.csv",
    "truth": "ces_synthetic_truth.csv",
}


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _dirichlet(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """Dirichlet draws along the last axis (via normalised gamma variates)."""
    g = rng.standard_gamma(alpha)
    return g / g.sum(axis=-1, keepdims=True)


def _calibrate_offset(target: np.ndarray, shift: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per-state ``a`` with ``sum(weight * expit(a + shift)) == target``.

    ``shift`` and ``weight`` have shape ``(n_states, k)``, ``weight`` sums to one
    per state; solved by vectorised bisection (the left side is increasing in a).
    """
    lo = np.full(target.shape, -20.0)
    hi = np.full(target.shape, 20.0)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        too_high = (weight * _expit(mid[:, None] + shift)).sum(axis=1) > target
        hi = np.where(too_high, mid, hi)
        lo = np.where(too_high, lo, mid)
    return 0.5 * (lo + hi)


def _linear_predictor(
    age: np.ndarray,
    education: np.ndarray,
    woman: np.ndarray,
    military: np.ndarray,
    re_intercept: np.ndarray,
    re_woman: np.ndarray,
) -> np.ndarray:
    """True logit from integer codes (``re_*`` already aligned to the rows)."""
    fe = TRUE_FIXED_EFFECTS
    age_eff = np.array([0.0] + [fe[f"age{lv}"] for lv in AGE_LEVELS[1:]])
    edu_eff = np.array([0.0] + [fe[f"education{lv}"] for lv in EDUCATION_LEVELS[1:]])
    return (
        fe["(Intercept)"]
        + age_eff[age]
        + edu_eff[education]
        + fe["military"] * military
        + (fe["genderWoman"] + re_woman) * woman
        + re_intercept
    )


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #


def make_ces_like(seed: int = DEFAULT_SEED) -> dict[str, pd.DataFrame]:
    """Simulate a SYNTHETIC CES-like survey, post-stratification frame and truth.

    Parameters
    ----------
    seed
        Seed for :func:`numpy.random.default_rng`; the same seed always gives
        identical data frames.

    Returns
    -------
    dict
        ``"survey"``: 3000 respondents with columns ``state`` (str), ``defund``
        (int 0/1), ``gender`` (str, "Man"/"Woman"), ``age`` and ``education``
        (ordered categoricals, levels :data:`AGE_LEVELS` and
        :data:`EDUCATION_LEVELS`) and ``military`` (int 0/1); the per-state
        sample sizes are :data:`STATE_SIZES` and the sample is deliberately not
        representative of the state populations.

        ``"demographics"``: post-stratification frame with one row per
        ``state x age x education x gender x military`` cell (6912 rows) and
        ``percent``, the percentage of the state's adults in the cell (sums to
        100 within each state).

        ``"truth"``: one row per state with ``state``, ``n_survey``,
        ``re_intercept`` and ``re_genderWoman`` (the true state effects) and
        ``support``, the true post-stratified probability of supporting police
        budget cuts.

    Notes
    -----
    The true model is logit P(defund = 1) = :data:`TRUE_FIXED_EFFECTS` (the
    book's glmmTMB estimates) + state intercept + state slope on genderWoman,
    with state effects drawn from a bivariate normal with sds
    :data:`TRUE_RE_SD` and correlation :data:`TRUE_RE_COR`.  See the module
    docstring for the full design.

    Examples
    --------
    >>> d = make_ces_like()
    >>> d["survey"].shape
    (3000, 6)
    >>> d["demographics"].groupby("state")["percent"].sum().round(9).unique()
    array([100.])
    >>> len(d["truth"])
    48
    """
    rng = np.random.default_rng(seed)
    re_rng, frame_rng, sample_rng, outcome_rng = rng.spawn(4)

    states = np.array(_STATES)
    n_states = len(states)
    n_age, n_edu = len(AGE_LEVELS), len(EDUCATION_LEVELS)

    # --- state random effects: bivariate normal via Cholesky ----------------
    sd = np.asarray(TRUE_RE_SD)
    cov = np.outer(sd, sd) * np.array([[1.0, TRUE_RE_COR], [TRUE_RE_COR, 1.0]])
    chol = np.linalg.cholesky(cov)
    re = re_rng.standard_normal((n_states, 2)) @ chol.T
    re_intercept, re_woman = re[:, 0], re[:, 1]

    # --- population composition per state ------------------------------------
    p_age = _dirichlet(frame_rng, np.broadcast_to(_AGE_CONCENTRATION * _AGE_BASE, (n_states, n_age)))
    edu_state = _dirichlet(frame_rng, np.broadcast_to(_EDU_CONCENTRATION * _EDU_BASE, (n_states, n_edu)))
    p_edu = edu_state[:, None, :] * np.exp(_EDU_BY_AGE)[None, :, :]
    p_edu /= p_edu.sum(axis=2, keepdims=True)  # (state, age, edu)

    men_share = frame_rng.uniform(*_MEN_SHARE_RANGE, size=n_states)
    men_shift = np.broadcast_to(_MEN_BY_AGE, (n_states, n_age))
    a_men = _calibrate_offset(men_share, men_shift, p_age)
    p_man = _expit(a_men[:, None] + men_shift)  # (state, age)
    p_gender = np.stack([p_man, 1.0 - p_man], axis=2)  # (state, age, gender)

    vet_share = frame_rng.uniform(*_VETERAN_SHARE_RANGE, size=n_states)
    vet_shift = _VETERAN_BY_AGE[:, None] + np.array([_VETERAN_MAN, 0.0])[None, :]
    vet_shift = np.broadcast_to(vet_shift.ravel(), (n_states, n_age * 2))
    a_vet = _calibrate_offset(vet_share, vet_shift, (p_age[:, :, None] * p_gender).reshape(n_states, -1))
    p_vet = _expit(a_vet[:, None] + vet_shift).reshape(n_states, n_age, 2)
    p_mil = np.stack([1.0 - p_vet, p_vet], axis=3)  # (state, age, gender, mil)

    cell_p = (
        p_age[:, :, None, None, None]
        * p_edu[:, :, :, None, None]
        * p_gender[:, :, None, :, None]
        * p_mil[:, :, None, :, :]
    ).reshape(n_states, _N_CELLS)
    cell_p /= cell_p.sum(axis=1, keepdims=True)

    # integer codes of the cells, in frame order (age, education, gender, military)
    age_c, edu_c, gen_c, mil_c = (a.ravel() for a in np.indices((n_age, n_edu, 2, 2)))

    # --- truth ---------------------------------------------------------------
    eta = _linear_predictor(
        age_c[None, :],
        edu_c[None, :],
        gen_c[None, :],
        mil_c[None, :],
        re_intercept[:, None],
        re_woman[:, None],
    )  # (state, cell)
    percent = 100.0 * cell_p
    support = (percent * _expit(eta)).sum(axis=1) / percent.sum(axis=1)
    n_survey = np.array([STATE_SIZES[s] for s in states], dtype=np.int64)

    truth = pd.DataFrame(
        {
            "state": states,
            "n_survey": n_survey,
            "re_intercept": re_intercept,
            "re_genderWoman": re_woman,
            "support": support,
        }
    )

    demographics = _cells_frame(
        np.repeat(states, _N_CELLS),
        np.tile(age_c, n_states),
        np.tile(edu_c, n_states),
        np.tile(gen_c, n_states),
        np.tile(mil_c, n_states),
    )
    demographics["percent"] = percent.ravel()

    # --- non-representative survey sample -------------------------------------
    tilt = (
        np.asarray(SAMPLING_TILT["age"])[age_c]
        + np.asarray(SAMPLING_TILT["education"])[edu_c]
        + np.asarray(SAMPLING_TILT["gender"])[gen_c]
        + np.asarray(SAMPLING_TILT["military"])[mil_c]
    )
    sample_p = cell_p * np.exp(tilt)[None, :]
    sample_cdf = np.cumsum(sample_p, axis=1)
    sample_cdf /= sample_cdf[:, -1:]
    resp_state = np.repeat(np.arange(n_states), n_survey)
    u = sample_rng.random(resp_state.size)
    # inverse-CDF draw of each respondent's cell within their own state
    resp_cell = (sample_cdf[resp_state] <= u[:, None]).sum(axis=1)
    resp_cell = np.minimum(resp_cell, _N_CELLS - 1)

    resp_eta = eta[resp_state, resp_cell]
    defund = (outcome_rng.random(resp_state.size) < _expit(resp_eta)).astype(np.int64)

    cells = _cells_frame(
        states[resp_state],
        age_c[resp_cell],
        edu_c[resp_cell],
        gen_c[resp_cell],
        mil_c[resp_cell],
    )
    survey = pd.DataFrame({"state": cells["state"], "defund": defund})
    for col in ("gender", "age", "education", "military"):
        survey[col] = cells[col]

    return {"survey": survey, "demographics": demographics, "truth": truth}


def _cells_frame(
    state: ArrayLike, age: np.ndarray, education: np.ndarray, gender: np.ndarray, military: ArrayLike
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "state": np.asarray(state),
            "age": pd.Categorical.from_codes(age, categories=pd.Index(list(AGE_LEVELS)), ordered=True),
            "education": pd.Categorical.from_codes(
                education, categories=pd.Index(list(EDUCATION_LEVELS)), ordered=True
            ),
            "gender": np.asarray(GENDER_LEVELS)[gender],
            "military": np.asarray(military, dtype=np.int64),
        }
    )


def write_ces_like(directory: str | Path, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the synthetic CES-like data of :func:`make_ces_like` as CSV files.

    Writes ``ces_synthetic_survey.csv``, ``ces_synthetic_demographics.csv`` and
    ``ces_synthetic_truth.csv`` into ``directory`` (created if missing) and
    returns their paths keyed by ``"survey"``, ``"demographics"``, ``"truth"``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_ces_like(tmp)
    ...     sorted(p.name for p in paths.values())
    ['ces_synthetic_demographics.csv', 'ces_synthetic_survey.csv', 'ces_synthetic_truth.csv']
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, df in make_ces_like(seed).items():
        path = directory / FILES[key]
        df.to_csv(path, index=False)
        out[key] = path
    return out
