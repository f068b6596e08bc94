"""fit() checks its arguments at the door: every error below comes before any sampling.

The error tests run no MCMC; the few fits are marked ``slow`` (tiny MCMC) or are prior-only.
"""

import bambi as bmb
import numpy as np
import pytest

import mixeff
from mixeff.bambi.fitting import _check_fit_kwargs
from mixeff.bambi.priors import parse_prior
from mixeff.model.formula import check_complete, parse_formula

FORMULA = "y ~ 1 + TX + (1 | cluster)"
TINY = dict(draws=50, tune=50, chains=2, seed=1, progress=False)


@pytest.fixture(scope="module")
def d():
    return mixeff.datasets.load_magnusson()


def fit(data, formula=FORMULA, **kwargs):
    return mixeff.fit(formula, data, **{"family": "lognormal", **kwargs})


# --------------------------------------------------------------------------- #
# 1. formula
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "formula, problem",
    [
        ("y ~ TX + (1 | cluster", r"1 '\(' never closed"),
        ("y ~ TX) + (1 | cluster)", r"a '\)' closes no '\('"),
    ],
)
def test_unbalanced_parentheses(d, formula, problem):
    with pytest.raises(ValueError, match=rf"formula=.*has unbalanced parentheses \({problem}\)"):
        fit(d, formula)


@pytest.mark.parametrize(
    "formula, role, name, close",
    [
        ("y ~ TX + (1 | clusterz)", "grouping factor", "clusterz", "cluster"),
        ("y ~ TXX + (1 | cluster)", "predictor", "TXX", "TX"),
        ("yy ~ TX + (1 | cluster)", "response", "yy", "y"),
        ("y ~ TX + (1 + dose | cluster)", "group-level predictor", "dose", None),
    ],
)
def test_unknown_column(d, formula, role, name, close):
    with pytest.raises(ValueError, match=f"{role} '{name}' is not a column of data") as err:
        fit(d, formula)
    msg = str(err.value)
    assert (f"did you mean '{close}'?" in msg) if close else ("did you mean" not in msg)
    assert "the data's columns are ['cluster', 'TX', 'y']" in msg


def test_formula_variables_drop_literals_and_keep_roles():
    parsed = parse_formula("p(y, 10) ~ np.log(Days + 1) + I(x**2) + offset(o) + (1 + z | g:h)")
    assert parsed.variables == {
        "y": "response",
        "Days": "predictor",
        "x": "predictor",
        "o": "offset",
        "g": "grouping factor",
        "h": "grouping factor",
        "z": "group-level predictor",
    }


# --------------------------------------------------------------------------- #
# 2. missing values
# --------------------------------------------------------------------------- #


def test_missing_values_name_columns_rows_and_fix(d):
    bad = d.copy()
    bad.loc[[1, 2, 3], "TX"] = np.nan
    bad.loc[[3, 4], "y"] = np.inf
    match = (
        r"missing \(NaN/None\) or infinite values in column\(s\) the formula uses: 'TX' \(3 rows\), "
        r"'y' \(2 rows\); 4 of 600 rows in all\. .*data = data\.dropna\(subset=\['TX', 'y'\]\)"
    )
    with pytest.raises(ValueError, match=match):
        fit(bad)
    fixed = bad.replace([np.inf, -np.inf], np.nan).dropna(subset=["TX", "y"])
    assert len(fixed) == 596
    check_complete(parse_formula(FORMULA), fixed)  # the suggested fix passes


def test_missing_values_in_unused_columns_are_fine(d):
    f = fit(d.assign(note=np.nan), sample_prior="only", draws=20, chains=1, seed=1, progress=False)
    assert f.data["note"].isna().all()
    assert len(mixeff.avg_predictions(f, by="TX")) == 2


# --------------------------------------------------------------------------- #
# 3. constant predictors
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("column, value", [("dose", 1.0), ("site", "a")])
def test_constant_predictor(d, column, value):
    with pytest.raises(
        ValueError,
        match=f"data column '{column}' has the single value {value!r} in all 600 rows, "
        f"so the coefficient of '{column}' is not identified",
    ):
        fit(d.assign(**{column: value}), f"y ~ TX + {column} + (1 | cluster)")


def test_constant_column_outside_the_fixed_part_is_fine(d):
    check_complete(parse_formula(FORMULA), d.assign(dose=1.0))
    fit(d.assign(dose=1.0), sample_prior="only", draws=10, chains=1, seed=1, progress=False)


# --------------------------------------------------------------------------- #
# 4. fit_kwargs
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"dropna": True},
            r"fit\(\) does not take dropna=True: .*data = data\.dropna\(subset=\['y', 'TX', 'cluster'\]\)",
        ),
        ({"chain": 4}, r"unknown keyword argument chain=4; did you mean 'chains'\?"),
        ({"target_acept": 0.9}, r"unknown keyword argument target_acept=0.9; did you mean 'target_accept'\?"),
        ({"random_seed": 1}, r"fit\(\) does not take random_seed=1: use seed="),
        ({"progressbar": False}, r"fit\(\) does not take progressbar=False: use progress="),
    ],
)
def test_unknown_fit_kwargs(d, kwargs, match):
    with pytest.raises(TypeError, match=match):
        fit(d, **kwargs)


def test_sampler_kwargs_pass_the_check():
    _check_fit_kwargs(
        {
            "target_accept": 0.95,
            "cores": 1,
            "init": "adapt_diag",
            "max_treedepth": 12,
            "nuts": {"target_accept": 0.9},
            "discard_tuned_samples": True,
        },
        columns=[],
    )


# --------------------------------------------------------------------------- #
# 5. sampler settings
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "setting, error, match",
    [
        ({"draws": 0}, ValueError, r"draws=0: draws must be an int >= 1"),
        ({"draws": -5}, ValueError, r"draws=-5: draws must be an int >= 1"),
        ({"draws": 10.5}, TypeError, r"draws=10.5: draws must be an int >= 1"),
        ({"draws": True}, TypeError, r"draws=True: draws must be an int >= 1"),
        ({"tune": -1}, ValueError, r"tune=-1: tune must be an int >= 0"),
        ({"chains": 0}, ValueError, r"chains=0: chains must be an int >= 1, e.g. chains=4"),
        ({"chains": "4"}, TypeError, r"chains='4': chains must be an int >= 1"),
        ({"seed": "abc"}, TypeError, r"seed='abc': seed must be an int >= 0.*or None"),
        ({"seed": -3}, ValueError, r"seed=-3: seed must be an int >= 0"),
    ],
)
def test_sampler_settings(d, setting, error, match):
    with pytest.raises(error, match=match):
        fit(d, **setting)


def test_numpy_integers_are_accepted_settings(d):
    f = fit(d, sample_prior="only", draws=np.int64(10), chains=np.int32(2), seed=np.int64(1), progress=False)
    assert f.spec().n_samples == 20


# --------------------------------------------------------------------------- #
# 6. priors
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "priors, match",
    [
        ({"b": "cauchy(0, -1)"}, r"priors\['b'\]: prior 'cauchy\(0, -1\)': beta must be > 0, got -1.0"),
        ({"b": "normal(0, 0)"}, r"priors\['b'\]: prior 'normal\(0, 0\)': sigma must be > 0, got 0.0"),
        ({"Intercept": "student_t(-3, 0, 1)"}, r"priors\['Intercept'\]: prior 'student_t\(-3, 0, 1\)': nu must be > 0"),
        ({"sigma": "exponential(0)"}, r"priors\['sigma'\]: prior 'exponential\(0\)': lam must be > 0"),
        ({"sd": "normal(0, -1)"}, r"priors\['sd'\]: prior 'normal\(0, -1\)': sigma must be > 0"),
        ({"TX": "uniform(1, 0)"}, r"priors\['TX'\]: prior 'uniform\(1, 0\)': upper must be > lower \(1.0\)"),
        ({"b": "normal(nan, 1)"}, r"priors\['b'\]: prior 'normal\(nan, 1\)': mu must be a finite number"),
        ({"TX": bmb.Prior("Normal", mu=0, sigma=-2)}, r"priors\['TX'\]: prior Normal\(.*\): sigma must be > 0"),
        (
            {"1|cluster": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=0))},
            r"priors\['1\|cluster'\]: .*its sigma: HalfNormal.*sigma must be > 0",
        ),
    ],
)
def test_invalid_prior_parameters(d, priors, match):
    with pytest.raises(ValueError, match=match):
        fit(d, priors=priors)


def test_valid_priors_keep_their_values():
    assert parse_prior("uniform(-1, 1)").args == {"lower": -1.0, "upper": 1.0}
    assert parse_prior("student_t(3, 0, 2.5)", half=True).args == {"nu": 3.0, "sigma": 2.5}
    with pytest.raises(ValueError, match=r"prior 'gamma\(2, 0\)': beta must be > 0"):
        parse_prior("gamma(2, 0)")


def test_priors_must_be_a_dict(d):
    with pytest.raises(TypeError, match="priors must be 'brms' or a dict"):
        fit(d, priors="normal(0, 1)")


def test_data_must_be_a_data_frame(d):
    with pytest.raises(TypeError, match="data must be a pandas DataFrame, got dict"):
        fit(d.to_dict())


# --------------------------------------------------------------------------- #
# 7. the fit keeps its own copy of the data
# --------------------------------------------------------------------------- #


@pytest.mark.slow
def test_editing_the_callers_frame_after_fitting_changes_nothing():
    d = mixeff.datasets.load_magnusson()
    f = mixeff.fit(FORMULA, d, family="lognormal", **TINY)
    before = mixeff.avg_predictions(f, by="TX")
    d.loc[:299, "TX"] = 1
    after = mixeff.avg_predictions(f, by="TX")
    assert after.summary["TX"].tolist() == [0, 1]
    np.testing.assert_array_equal(after.draws, before.draws)
    assert f.data is not d and f.model.data is not d


# --------------------------------------------------------------------------- #
# 8. formula calls with literals; aliased terms
# --------------------------------------------------------------------------- #


@pytest.mark.slow
def test_a_number_inside_a_formula_call():
    s = mixeff.datasets.load_sleepstudy()
    f = mixeff.fit("Reaction ~ np.log(Days + 1) + (1 | Subject)", s, **TINY)
    spec = f.spec()
    assert spec.predictors == ["Days", "Subject"]
    assert spec.beta_names == ["Intercept", "np.log(Days + 1)"]
    grid = mixeff.datagrid(f, Days=[0, 3, 9])
    p = mixeff.predictions(f, grid, re_formula="NA")
    manual = spec.beta @ np.vstack([np.ones(3), np.log(np.array([0, 3, 9]) + 1)])
    np.testing.assert_allclose(p.draws, manual.T, rtol=1e-10)
    slope = mixeff.avg_slopes(f, variables="Days")
    assert len(slope) == 1 and np.all(np.isfinite(slope.draws))


def test_a_literal_in_I_on_a_prior_only_fit():
    s = mixeff.datasets.load_sleepstudy()
    f = mixeff.fit(
        "Reaction ~ I(Days**2) + (1 | Subject)", s, sample_prior="only", draws=20, chains=1, seed=1, progress=False
    )
    assert f.spec().predictors == ["Days", "Subject"]
    p = mixeff.predictions(f, mixeff.datagrid(f, Days=[0, 2]), re_formula="NA")
    b = f.spec().beta
    np.testing.assert_allclose(p.draws, (b[:, :1] + b[:, 1:] * np.array([0.0, 4.0])).T, rtol=1e-10)


@pytest.mark.parametrize(
    "aliases",
    [
        {"1|Subject": "u", "Days|Subject": "v"},
        {"sigma": "tau"},  # the residual sigma and the group-level sd hyperprior
    ],
)
def test_from_bambi_with_aliases(aliases):
    s = mixeff.datasets.load_sleepstudy()
    m = bmb.Model("Reaction ~ Days + (1 + Days | Subject)", s)
    m.set_alias(aliases)
    m.build()
    idata = m.prior_predictive(draws=30, random_seed=1)
    f = mixeff.from_bambi(m, idata)
    assert list(f.spec().groups["Subject"].terms) == ["Intercept", "Days"]
    ref = idata["prior"]["mu"].transpose("chain", "draw", "__obs__").values.reshape(30, -1).T
    np.testing.assert_allclose(mixeff.predictions(f).draws, ref, rtol=1e-9)


# --------------------------------------------------------------------------- #
# 9. response values the family cannot produce
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "family, values, rule",
    [
        ("lognormal", {3: -1.0}, "a number > 0"),
        ("lognormal", {0: 0.0}, "a number > 0"),
        ("bernoulli", {}, "0 or 1"),
        ("poisson", {}, r"a whole number >= 0"),
        ("beta", {}, "a number strictly between 0 and 1"),
    ],
)
def test_a_response_outside_the_familys_support_is_refused(d, family, values, rule):
    y = d["y"].copy()
    for row, value in values.items():
        y.iloc[row] = value
    with pytest.raises(
        ValueError,
        match=rf"data column 'y' \(the response\) has \d+ value\(s\) the {family} "
        rf"family cannot produce.*each must be {rule}",
    ):
        fit(d.assign(y=y), family=family, **TINY)


def test_responses_inside_the_support_pass_the_check():
    import pandas as pd

    from mixeff.model.families import FAMILIES, outside_support

    assert not outside_support(FAMILIES["bernoulli"], np.array([0, 1, 1.0])).any()
    assert outside_support(FAMILIES["poisson"], np.array([0, 2, 2.5, -1])).tolist() == [False, False, True, True]
    assert outside_support(FAMILIES["beta"], np.array([0.0, 0.5, 1.0])).tolist() == [True, False, True]
    assert not outside_support(FAMILIES["gaussian"], pd.Series([-1e9, 0, 3]).to_numpy()).any()
