"""as_draws_df: a fit's draws with brms's names, and back through from_brms_draws unchanged."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixeff

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brms_sleepstudy"
SLEEP_FORMULA = "Reaction ~ 1 + Days + (1 + Days | Subject)"


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.MixeffWarning)  # the session fits are short
        yield


def test_brms_draws_come_back_as_brms_wrote_them():
    """Real brms output -> spec -> as_draws_df: the same parameter columns, the same numbers."""
    brms = pd.read_csv(FIXTURE / "draws.csv")
    spec = mixeff.from_brms_draws(brms, formula=SLEEP_FORMULA, data=mixeff.datasets.load_sleepstudy())
    table = mixeff.as_draws_df(spec)
    parameters = [c for c in brms.columns if c.startswith(("b_", "sd_", "cor_", "r_")) or c == "sigma"]
    assert sorted(c for c in table.columns if not c.startswith(".")) == sorted(parameters)
    ordered = brms.sort_values([".chain", ".iteration"], kind="stable").reset_index(drop=True)
    np.testing.assert_array_equal(table[parameters].to_numpy(), ordered[parameters].to_numpy())
    np.testing.assert_array_equal(
        table[[".chain", ".iteration"]].to_numpy(), ordered[[".chain", ".iteration"]].to_numpy()
    )
    assert table.columns[:6].tolist() == [
        "b_Intercept",
        "b_Days",
        "sd_Subject__Intercept",
        "sd_Subject__Days",
        "cor_Subject__Intercept__Days",
        "sigma",
    ]


def _same_predictions(fit, spec, grid, new_grid):
    for kwargs in ({}, {"re_formula": "NA"}, {"re_formula": "~(1 | {g})"}):
        kwargs = {k: v.format(g=next(iter(spec.groups))) for k, v in kwargs.items()}
        np.testing.assert_allclose(
            mixeff.predictions(spec, grid, **kwargs).draws,
            mixeff.predictions(fit, grid, **kwargs).draws,
            rtol=1e-12,
            atol=0,
        )
    new = dict(allow_new_levels=True, sample_new_levels="gaussian", seed=5)
    np.testing.assert_allclose(
        mixeff.predictions(spec, new_grid, **new).draws,
        mixeff.predictions(fit, new_grid, **new).draws,
        rtol=1e-12,
        atol=0,
    )


def test_round_trip_of_a_lognormal_fit(magnusson_fit):
    table = mixeff.as_draws_df(magnusson_fit)
    assert {"b_Intercept", "b_TX", "sd_cluster__Intercept", "sigma", "r_cluster[1,Intercept]"} <= set(table.columns)
    spec = mixeff.from_brms_draws(
        table, formula="y ~ 1 + TX + (1 | cluster)", data=magnusson_fit.data, family="lognormal"
    )
    grid = mixeff.datagrid(magnusson_fit, TX=[0, 1], cluster=["1", "7", "20"])
    _same_predictions(
        magnusson_fit, spec, grid, mixeff.datagrid(magnusson_fit, TX=[0, 1], cluster=mixeff.new_levels(4))
    )


def test_round_trip_of_correlated_terms(sleep_fit):
    """brms's ``(1 + Days | Subject)``: the correlation is written as brms writes it and read back."""
    table = mixeff.as_draws_df(sleep_fit)
    assert [c for c in table.columns if c.startswith("cor_")] == ["cor_Subject__Intercept__Days"]
    np.testing.assert_array_equal(
        table["cor_Subject__Intercept__Days"].to_numpy(), sleep_fit.spec().groups["Subject"].cor[:, 0, 1]
    )
    spec = mixeff.from_brms_draws(table, formula=SLEEP_FORMULA, data=sleep_fit.data)
    grid = mixeff.datagrid(sleep_fit, Days=[0, 4.5, 9], Subject=["308", "372"])
    _same_predictions(sleep_fit, spec, grid, mixeff.datagrid(sleep_fit, Days=[0, 9], Subject=mixeff.new_levels(3)))


def test_round_trip_of_a_bernoulli_fit_with_a_factor(bernoulli_fit):
    table = mixeff.as_draws_df(bernoulli_fit)
    assert {"b_zb", "b_zc"} <= set(table.columns)  # brms's names of the factor's dummies
    spec = mixeff.from_brms_draws(table, formula="y ~ x + z + (1 | g)", data=bernoulli_fit.data, family="bernoulli")
    grid = mixeff.datagrid(bernoulli_fit, x=[-1.0, 2.0], z=["a", "c"], g=["g0", "g5"])
    _same_predictions(
        bernoulli_fit, spec, grid, mixeff.datagrid(bernoulli_fit, x=[0.5], z=["b"], g=mixeff.new_levels(3))
    )


def test_interaction_factor_levels_are_joined_as_brms_joins_them():
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"x": rng.normal(size=8), "g": list("AABB") * 2, "h": list("uvuv") * 2})
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(size=20),
            "b_x": rng.normal(size=20),
            "sd_g:h__Intercept": np.ones(20),
            "sigma": np.ones(20),
            **{f"r_g:h[{lev},Intercept]": rng.normal(size=20) for lev in ["A_u", "A_v", "B_u", "B_v"]},
        }
    )
    spec = mixeff.from_brms_draws(draws, formula="y ~ x + (1 | g:h)", data=data)
    table = mixeff.as_draws_df(spec)
    np.testing.assert_array_equal(table[draws.columns].to_numpy(), draws.to_numpy())
    again = mixeff.from_brms_draws(table, formula="y ~ x + (1 | g:h)", data=data)
    np.testing.assert_array_equal(mixeff.predictions(again, data).draws, mixeff.predictions(spec, data).draws)


def test_prior_draws_and_bad_input():
    vague = mixeff.fit(
        "y ~ 1 + TX + (1 | cluster)",
        mixeff.datasets.load_magnusson(),
        family="lognormal",
        sample_prior="only",
        draws=50,
        chains=2,
        seed=3,
        progress=False,
        priors={"b": "normal(0, 1)", "Intercept": "normal(6, 1)"},
    )
    table = mixeff.as_draws_df(vague, draws="prior")
    spec = vague.spec("prior")
    np.testing.assert_array_equal(table["b_TX"].to_numpy(), spec.beta[:, spec.beta_names.index("TX")])
    assert table.shape[0] == 100 and table[".chain"].max() == 2
    with pytest.raises(TypeError, match="as_draws_df needs a mixeff fit or ModelSpec, got DataFrame"):
        mixeff.as_draws_df(table)


def test_as_draws_df_refuses_draws_a_spec_does_not_hold():
    from mixeff.model.examples import toy_spec

    with pytest.raises(ValueError, match=r"draws='prior', but this spec gives posterior draws"):
        mixeff.as_draws_df(toy_spec(), draws="prior")
    with pytest.raises(ValueError, match=r"draws='latest' must be 'posterior' or 'prior'"):
        mixeff.as_draws_df(toy_spec(), draws="latest")
