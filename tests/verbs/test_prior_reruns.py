"""Bayes factors of verb results rerun the call on the prior draws: on every path, never blocking the
posterior answer, and results (with their call) pickle."""

import pickle
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import mixeff
from mixeff.model.examples import toy_spec


class _WithPrior:
    """A fit with posterior and prior draws (the prior: other made-up draws, marked as prior)."""

    available_draws = ["posterior", "prior"]

    def __init__(self, posterior, prior):
        self._specs = {"posterior": posterior, "prior": replace(prior, source="prior")}

    def spec(self, draws="posterior"):
        return self._specs[draws]


def _vague_prior():
    """Prior draws of the lognormal model whose intercepts reach 800: exp overflows in some draws."""
    prior = toy_spec(seed=2)
    beta = prior.beta.copy()
    beta[::50, 0] = 800.0
    return replace(prior, beta=beta)


def test_bayes_factor_with_dask_newdata_equals_the_pandas_one():
    dd = pytest.importorskip("dask.dataframe")
    fit = _WithPrior(toy_spec(), toy_spec(seed=2))
    frame = toy_spec().data
    here = mixeff.avg_comparisons(fit, "TX", newdata=frame, hypothesis="b1 = 0")
    there = mixeff.avg_comparisons(fit, "TX", newdata=dd.from_pandas(frame, npartitions=3), hypothesis="b1 = 0")
    ratio = here.summary["evidence_ratio"].iloc[0]
    assert np.isfinite(ratio) and ratio != 1.0
    np.testing.assert_allclose(there.summary["evidence_ratio"], ratio, rtol=1e-9)
    np.testing.assert_allclose(there.summary["probability"], here.summary["probability"], rtol=1e-9)
    # and the prior pass saw prior draws: the Bayes factor from an explicit prior result agrees
    prior = mixeff.avg_comparisons(fit, "TX", newdata=frame, draws="prior")
    explicit = mixeff.hypotheses(mixeff.avg_comparisons(fit, "TX", newdata=frame), "b1 = 0", prior=prior)
    np.testing.assert_allclose(explicit.summary["evidence_ratio"], ratio, rtol=1e-12)


def test_a_bayes_factor_that_cannot_be_computed_warns_and_the_posterior_answer_stands():
    fit = _WithPrior(toy_spec(), _vague_prior())
    with pytest.warns(mixeff.MixeffWarning, match=r"no Savage–Dickey Bayes factor: the comparisons could not be"):
        r = mixeff.avg_comparisons(fit, "TX", hypothesis="b1 = 0")
    plain = mixeff.avg_comparisons(toy_spec(), "TX")
    np.testing.assert_array_equal(r.draws, plain.draws)  # b1 - 0
    assert "evidence_ratio" not in r.summary or r.summary["evidence_ratio"].isna().all()


def test_bayes_factor_false_skips_the_prior_pass():
    fit = _WithPrior(toy_spec(), _vague_prior())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = mixeff.avg_comparisons(fit, "TX", hypothesis="b1 = 0", bayes_factor=False)
    assert "evidence_ratio" not in r.summary


def test_every_result_pickles_bit_for_bit():
    fit = _WithPrior(toy_spec(), toy_spec(seed=2))
    results = [
        mixeff.avg_comparisons(fit, "TX"),
        mixeff.avg_comparisons(toy_spec(), "TX", comparison=lambda hi, lo: hi / lo),  # a lambda in the call
        mixeff.avg_predictions(toy_spec(), by="TX", hypothesis="b2 - b1 = 0"),
        mixeff.avg_comparisons(toy_spec(), "TX", type="link", transform=np.exp),
    ]
    for r in results:
        loaded = pickle.loads(pickle.dumps(r))
        assert type(loaded) is type(r)
        np.testing.assert_array_equal(loaded.draws, r.draws)
        assert loaded.summary.equals(r.summary)


def test_a_loaded_result_keeps_a_call_that_pickles(xzg_spec):
    from mixeff.verbs.run import execute

    r = mixeff.avg_comparisons(xzg_spec, "x", by="z")  # brms draws pickle by their recipe, so the call does
    loaded = pickle.loads(pickle.dumps(r))
    assert loaded.call is not None and loaded.call.by == "z"
    np.testing.assert_array_equal(execute(loaded.call).draws, r.draws)
    lam = mixeff.avg_comparisons(xzg_spec, "x", comparison=lambda hi, lo: hi - lo)
    assert pickle.loads(pickle.dumps(lam)).call is None  # a lambda does not pickle: the call is left out


def test_equivalence_must_be_a_pair_of_numbers_not_a_string():
    p = mixeff.avg_predictions(toy_spec(), by="TX")
    with pytest.raises(TypeError, match=r"equivalence='ab' must be a pair of numbers"):
        mixeff.hypotheses(p, "b1 = b2", equivalence="ab")


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"x": [0.0, np.inf]}, r"both values must be finite numbers"),
        ({"x": [np.nan, 1.0]}, r"both values must be finite numbers"),
        ({"x": np.inf}, r"the step must be a finite number"),
        ({"x": lambda x: pd.DataFrame({"lo": x, "hi": x * np.nan})}, r"sets it to 180 missing \(NaN\) value"),
        ({"x": "custom"}, None),
    ],
)
def test_contrast_values_are_checked_at_the_door(xzg_spec, variables, message):
    if message is None:
        table = pd.DataFrame({"lo": xzg_spec.data["x"], "hi": np.where(np.arange(180) == 3, np.inf, 1.0)})
        variables, message = {"x": table}, r"sets it to 1 infinite value"
    with pytest.raises(ValueError, match=r"variables(: the contrast of 'x' |=\{'x': .*\}: )" + message):
        mixeff.comparisons(xzg_spec, variables)


def test_counterfactual_values_are_checked_at_the_door(xzg_spec):
    with pytest.raises(ValueError, match=r"variables=\{'x': \.\.\.\} gives \[0.0, inf\].*need finite values"):
        mixeff.predictions(xzg_spec, variables={"x": [0.0, np.inf]})
    with pytest.raises(ValueError, match=r"gives \[nan\]"):
        mixeff.predictions(xzg_spec, variables={"x": lambda x: np.nan})
    with pytest.raises(ValueError, match=r"'iqr' applies to numeric variables only, and 'z' is categorical"):
        mixeff.predictions(xzg_spec, variables={"z": "iqr"})
