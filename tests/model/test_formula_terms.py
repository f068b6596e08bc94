"""Formula transforms (issue 13, part 1): splines, polynomials, I(), stateful scale/center, C(), user functions.

Each model is a prior-only fit (exact forward draws, no MCMC); Bambi's own ``Model.predict``
on the same draws is the reference for predictions, comparisons and slopes, with the
*original* column (``Days``) as the variable the user names.
"""

import pickle
import warnings

import numpy as np
import pytest
import xarray as xr

import mixeff

# slow without MCMC: prior-only Bambi fits, a PyMC model compiled per formula
pytestmark = pytest.mark.slow

PRIORS = {"b": "normal(0, 5)", "Intercept": "normal(250, 10)", "sd": "normal(0, 10)", "sigma": "exponential(0.1)"}


def shifted_log(x):
    """A transform of the user's own, found where fit() is called."""
    return np.log(x + 1.5)


FORMULAS = [
    "Reaction ~ bs(Days, df=4) + (1 | Subject)",
    "Reaction ~ poly(Days, 2) + (1 | Subject)",
    "Reaction ~ I(Days**2) + Days + (1 | Subject)",
    "Reaction ~ scale(Days) * f + (1 | Subject)",
    "Reaction ~ center(Days) + C(week) + (1 | Subject)",
    "Reaction ~ np.log(Days + 1) + (1 + np.log(Days + 1) | Subject)",
    "Reaction ~ shifted_log(Days) + (1 | Subject)",
]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.MixeffWarning)
        yield


@pytest.fixture(scope="module")
def sleep():
    d = mixeff.datasets.load_sleepstudy()
    return d.assign(f=np.where(d.Days % 2 == 0, "even", "odd"), week=(d.Days // 5).astype(int))


@pytest.fixture(scope="module", params=FORMULAS)
def case(request, sleep):
    fit = mixeff.fit(
        request.param, sleep, priors=PRIORS, sample_prior="only", draws=100, chains=2, seed=4, progress=False
    )
    new = sleep.iloc[[0, 13, 27, 95, 170]].assign(Days=[0.25, 2.5, 4.75, 7.1, 8.6])
    return fit, new


def bambi(fit, frame, **kwargs):
    """Bambi's mu on the fit's prior draws, (rows, S) chain-major as mixeff's."""
    idata = xr.DataTree.from_dict({"posterior": fit.idata["prior"].to_dataset()})
    out = fit.model.predict(idata, kind="response_params", data=frame, inplace=False, **kwargs)
    mu = out["posterior"]["mu"].transpose("chain", "draw", ...).values
    return mu.reshape(-1, len(frame)).T


def test_predictions_equal_bambi_with_and_without_group_terms(case):
    fit, new = case
    np.testing.assert_allclose(mixeff.predictions(fit, new).draws, bambi(fit, new), rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        mixeff.predictions(fit, new, re_formula="NA").draws,
        bambi(fit, new, include_group_specific=False),
        rtol=0,
        atol=1e-10,
    )


def test_comparisons_are_bambi_hi_minus_lo(case):
    fit, new = case
    got = mixeff.comparisons(fit, variables={"Days": [1.5, 6.25]}, newdata=new).draws
    expected = bambi(fit, new.assign(Days=6.25)) - bambi(fit, new.assign(Days=1.5))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_slopes_are_the_derivative_of_bambi_predictions(case):
    fit, new = case
    h = 1e-4
    derivative = (bambi(fit, new.assign(Days=new.Days + h)) - bambi(fit, new.assign(Days=new.Days - h))) / (2 * h)
    got = mixeff.slopes(fit, variables="Days", newdata=new).draws
    np.testing.assert_allclose(got, derivative, rtol=1e-6, atol=1e-6)
    assert np.abs(derivative).max() > 0.1  # the curves are not flat


def test_stateful_transforms_keep_the_training_data_parameters(sleep):
    """scale(Days) on a one-row newdata uses the training mean and sd, not the row's own."""
    fit = mixeff.fit(
        "Reaction ~ scale(Days) + (1 | Subject)",
        sleep,
        priors=PRIORS,
        sample_prior="only",
        draws=50,
        chains=1,
        seed=1,
        progress=False,
    )
    spec = fit.spec()
    one = sleep.iloc[[5]].assign(Days=7.0)
    z = (7.0 - sleep.Days.mean()) / sleep.Days.std(ddof=0)  # formulae scales by the population sd
    np.testing.assert_allclose(
        mixeff.predictions(fit, one, re_formula="NA").draws[0], spec.beta[:, 0] + spec.beta[:, 1] * z, rtol=1e-12
    )


def test_user_functions_are_found_where_fit_is_called_and_pickle(sleep):
    fit = mixeff.fit(
        "Reaction ~ shifted_log(Days) + (1 | Subject)",
        sleep,
        priors=PRIORS,
        sample_prior="only",
        draws=50,
        chains=1,
        seed=1,
        progress=False,
    )
    grid = mixeff.datagrid(fit, Days=[0.5, 3.0])
    loaded = pickle.loads(pickle.dumps(fit))
    np.testing.assert_array_equal(mixeff.predictions(loaded, grid).draws, mixeff.predictions(fit, grid).draws)


def test_a_transform_nobody_defines_is_a_clear_error(sleep):
    with pytest.raises(
        ValueError,
        match=r"calls cr\(\), which is neither a transform formulae provides.*use "
        r"bs\(x, df=\.\.\.\)",
    ):
        mixeff.fit(
            "Reaction ~ cr(Days, df=4) + (1 | Subject)",
            sleep,
            priors=PRIORS,
            sample_prior="only",
            draws=10,
            chains=1,
            progress=False,
        )
