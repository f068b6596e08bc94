"""Against real brms output: the same draws, brms's own posterior_epred / posterior_linpred.

``tests/fixtures/brms_sleepstudy`` holds brms 2.18 draws of
``Reaction ~ 1 + Days + (1 + Days | Subject)`` (correlated terms) and brms's
predictions on a 12-row newdata under three ``re_formula`` settings (see its README).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixeff

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brms_sleepstudy"
RE_FORMULAS = {"reNULL": None, "reNA": "NA", "reInt": "~(1 | Subject)"}


@pytest.fixture(scope="module")
def brms_spec():
    draws = pd.read_csv(FIXTURE / "draws.csv")
    return mixeff.from_brms_draws(
        draws,
        formula="Reaction ~ 1 + Days + (1 + Days | Subject)",
        data=mixeff.datasets.load_sleepstudy(),
        family="gaussian",
    )


@pytest.fixture(scope="module")
def newdata():
    return pd.read_csv(FIXTURE / "newdata.csv", dtype={"Subject": str})


def _brms(kind: str, tag: str) -> np.ndarray:
    return np.loadtxt(FIXTURE / f"{kind}_{tag}.csv", delimiter=",", skiprows=1)  # (draws, rows)


@pytest.mark.filterwarnings(
    # brms's own draws of the sleepstudy fit: R-hat of a few rows is just above 1.01 (a rough fixture)
    "ignore:the predictions may not be trustworthy:mixeff.ConvergenceWarning"
)
@pytest.mark.parametrize("tag", list(RE_FORMULAS))
@pytest.mark.parametrize("kind,type", [("epred", "response"), ("linpred", "link")])
def test_predictions_equal_brms_on_the_same_draws(brms_spec, newdata, tag, kind, type):
    ours = mixeff.predictions(brms_spec, newdata, re_formula=RE_FORMULAS[tag], type=type).draws
    theirs = _brms(kind, tag).T
    assert theirs.shape == ours.shape == (12, 1000)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_brms_layout_is_read_as_brms_means_it(brms_spec):
    """Two chains from ``.chain``; the correlation between intercept and slope is kept."""
    draws = pd.read_csv(FIXTURE / "draws.csv")
    assert (brms_spec.n_chains, brms_spec.n_draws) == (2, 500)
    group = brms_spec.groups["Subject"]
    assert group.terms == ["Intercept", "Days"] and len(group.levels) == 18
    np.testing.assert_array_equal(group.cor[:, 0, 1], draws["cor_Subject__Intercept__Days"].to_numpy())


def test_re_formula_with_a_transformed_term_is_parsed_by_formulae(brms_spec, newdata):
    """``scale(Days)`` is read by formulae's parser; the model has no such term, and says so."""
    with pytest.raises(ValueError, match=r"term 'scale\(Days\)' for 'Subject'.*\(1 \+ Days \| Subject\)"):
        mixeff.predictions(brms_spec, newdata, re_formula="~(1 + scale(Days) | Subject)")
    slope_only = mixeff.predictions(brms_spec, newdata, re_formula="~(0 + Days || Subject)", type="link").draws
    group = brms_spec.groups["Subject"]
    codes = pd.Index(group.levels).get_indexer(newdata["Subject"])
    fixed = brms_spec.beta[:, 0][None, :] + newdata["Days"].to_numpy()[:, None] * brms_spec.beta[:, 1][None, :]
    expected = fixed + newdata["Days"].to_numpy()[:, None] * group.b[:, codes, 1].T
    np.testing.assert_allclose(slope_only, expected, rtol=1e-12)
