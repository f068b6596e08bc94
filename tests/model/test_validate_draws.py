"""from_brms_draws and from_arrays refuse input that does not describe the model, naming what is wrong."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixeff
from mixeff.model.spec import GroupFactor

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brms_sleepstudy"
FORMULA = "Reaction ~ 1 + Days + (1 + Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return mixeff.datasets.load_sleepstudy()


@pytest.fixture
def draws():
    return pd.read_csv(FIXTURE / "draws.csv")


def build(draws, data, formula=FORMULA, **kw):
    return mixeff.from_brms_draws(draws, formula=formula, data=data, **kw)


def test_the_real_fixture_loads_and_predicts_as_before(draws, sleep):
    """Numbers computed before validation was added: validation changes no valid spec."""
    spec = build(draws.assign(Intercept=draws["b_Intercept"] - 40), sleep)  # brms's centred intercept: ignored
    grid = pd.DataFrame({"Days": [0, 3, 9], "Subject": ["308", "309", "372"]})
    p = mixeff.predictions(spec, grid).draws
    assert p.shape == (3, 1000) and (spec.n_chains, spec.n_draws) == (2, 500)
    np.testing.assert_allclose(p.mean(axis=1), [254.2777583921554, 216.7181586973396, 369.4666004518624], rtol=1e-13)
    assert p.sum() == pytest.approx(840462.5175413573, rel=1e-13)


# ----------------------------------------------------------------- 1. group terms


def test_no_r_columns_for_a_group_term(draws, sleep):
    no_r = draws.drop(columns=[c for c in draws.columns if c.startswith("r_")])
    with pytest.raises(
        ValueError,
        match=r"draws: no r_Subject\[\.\.\.\] columns for the group term "
        r"\(1 \+ Days \| Subject\); brms writes one per level and term "
        r"\(e\.g\. r_Subject\[308,Intercept\]\)\. Pass the draws table "
        r"from as_draws_df",
    ):
        build(no_r, sleep)


def test_one_missing_level_is_named_at_construction(draws, sleep):
    with pytest.raises(
        ValueError,
        match=r"no column\(s\) \['r_Subject\[309,Days\]'\] for level\(s\) \['309'\] "
        r"of Subject in data \(1 of its 18 levels\).*as_draws_df",
    ):
        build(draws.drop(columns="r_Subject[309,Days]"), sleep)
    both = draws.drop(columns=["r_Subject[309,Intercept]", "r_Subject[309,Days]"])
    with pytest.raises(
        ValueError,
        match=r"r_Subject\[309,Intercept\]', 'r_Subject\[309,Days\]'\] for level\(s\) "
        r"\['309'\]",
    ):
        build(both, sleep)


def test_missing_sd_and_cor_columns(draws, sleep):
    with pytest.raises(ValueError, match=r"no 'sd_Subject__Days' column for the group term \(1 \+ Days \| Subject\)"):
        build(draws.drop(columns="sd_Subject__Days"), sleep)
    with pytest.raises(
        ValueError,
        match=r"no column\(s\) \['cor_Subject__Intercept__Days'\] .*'\|' correlates.*"
        r"write '\|\|'",
    ):
        build(draws.drop(columns="cor_Subject__Intercept__Days"), sleep)
    uncorrelated = build(
        draws.drop(columns="cor_Subject__Intercept__Days"), sleep, formula="Reaction ~ 1 + Days + (1 + Days || Subject)"
    )
    assert uncorrelated.groups["Subject"].cor is None


def test_stray_group_columns_are_named(draws, sleep):
    with pytest.raises(
        ValueError,
        match=r"\['cor_Subject__Intercept__Days'\] are not parameters of the formula's "
        r"group terms \(\(1 \+ Days \|\| Subject\)\)",
    ):
        build(draws, sleep, formula="Reaction ~ 1 + Days + (1 + Days || Subject)")
    with pytest.raises(
        ValueError,
        match=r"\['sd_Subject__Days', 'cor_Subject__Intercept__Days', "
        r"'r_Subject\[308,Days\]'.*\(1 \| Subject\)",
    ):
        build(draws, sleep, formula="Reaction ~ 1 + Days + (1 | Subject)")
    with pytest.raises(ValueError, match=r"\['r_Item\[1,Intercept\]'\] are not parameters"):
        build(draws.assign(**{"r_Item[1,Intercept]": 0.0}), sleep)


def test_nested_and_interaction_factors_name_brms_levels():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"x": rng.normal(size=8), "g": list("AABB") * 2, "h": list("uvuv") * 2})
    d = {
        "b_Intercept": rng.normal(size=20),
        "b_x": rng.normal(size=20),
        "sigma": np.ones(20),
        "sd_g__Intercept": np.ones(20),
        "sd_g:h__Intercept": np.ones(20),
        **{f"r_g[{g},Intercept]": rng.normal(size=20) for g in "AB"},
        **{f"r_g:h[{g}_{h},Intercept]": rng.normal(size=20) for g in "AB" for h in "uv"},
    }
    spec = build(pd.DataFrame(d), data, formula="y ~ x + (1 | g/h)")
    assert sorted(spec.groups) == ["g", "g:h"]
    with pytest.raises(ValueError, match=r"\['r_g:h\[B_v,Intercept\]'\] for level\(s\) \['B_v'\] of g:h"):
        build(pd.DataFrame(d).drop(columns="r_g:h[B_v,Intercept]"), data, formula="y ~ x + (1 | g/h)")


def test_a_formula_function_still_needs_every_level(draws, sleep):
    def design(frame):
        return pd.DataFrame({"Intercept": 1.0, "Days": frame["Days"].astype(float)}, index=frame.index)

    assert build(draws, sleep, formula=design).groups["Subject"].cor is not None
    with pytest.raises(ValueError, match=r"level\(s\) \['372'\] of Subject"):
        build(draws.drop(columns=["r_Subject[372,Intercept]", "r_Subject[372,Days]"]), sleep, formula=design)


# ----------------------------------------------------------------- 2. values


def test_non_finite_draws_are_named_with_their_count(draws, sleep):
    draws.loc[[3, 10, 700], "b_Days"] = np.nan
    draws.loc[5, "r_Subject[330,Intercept]"] = np.inf
    with pytest.raises(
        ValueError,
        match=r"non-finite values \(NaN or ±inf\) in b_Days \(3 of 1000 draws\), "
        r"r_Subject\[330,Intercept\] \(1 of 1000 draws\); every draw must be finite",
    ):
        build(draws, sleep)


def test_text_and_out_of_range_columns(draws, sleep):
    with pytest.raises(ValueError, match=r"\['sigma'\] are not numeric.*pd.read_csv"):
        build(draws.assign(sigma=draws["sigma"].astype(str).str.replace("2", "two")), sleep)
    with pytest.raises(ValueError, match=r"negative standard deviations in sd_Subject__Days \(1000 of 1000 draws\)"):
        build(draws.assign(sd_Subject__Days=-draws["sd_Subject__Days"]), sleep)
    with pytest.raises(ValueError, match=r"non-positive values of a positive parameter in sigma \(1 of 1000"):
        build(draws.assign(sigma=np.r_[0.0, draws["sigma"].iloc[1:]]), sleep)


# ----------------------------------------------------------------- 3. auxiliary parameters and other columns


def test_aux_columns_must_be_the_familys(draws, sleep):
    with pytest.raises(
        ValueError,
        match=r"draws: column\(s\) \['sigma'\] are parameters family 'poisson' does not "
        r"have; its auxiliary parameters are none.*family the model was fitted with",
    ):
        build(draws, sleep, family="poisson")
    with pytest.raises(
        ValueError,
        match=r"no column\(s\) \['shape'\] for family 'negativebinomial', whose auxiliary "
        r"parameters are \['shape'\]",
    ):
        build(draws.drop(columns="sigma"), sleep, family="negativebinomial")
    spec = build(draws.rename(columns={"sigma": "shape"}), sleep, family="negativebinomial")
    assert list(spec.aux) == ["alpha"]
    with pytest.raises(ValueError, match=r"\['zi'\] are parameters family 'poisson' does not have"):
        build(draws.drop(columns="sigma").assign(zi=0.1), sleep, family="poisson")


def test_brms_bookkeeping_is_ignored_and_other_columns_refused(draws, sleep):
    extra = draws.assign(
        **{
            "Intercept": 1.0,
            "prior_Intercept": 1.0,
            "z_1[1,1]": 1.0,
            "L_1[2,1]": 0.5,
            "Intercept_sigma": 1.0,
            "accept_stat__": 0.9,
        }
    )
    assert build(extra, sleep).n_samples == 1000
    with pytest.raises(ValueError, match=r"\['weight'\] are not parameters of this model.*Drop them"):
        build(draws.assign(weight=1.0), sleep)


# ----------------------------------------------------------------- 4. fixed effects


def test_every_fixed_design_column_needs_its_b_column(draws, sleep):
    data = sleep.assign(x2=np.arange(len(sleep), dtype=float))
    with pytest.raises(
        ValueError,
        match=r"draws: no column\(s\) \['b_x2'\] for the formula's fixed part, whose "
        r"columns are \['Intercept', 'Days', 'x2'\].*b_ columns present are "
        r"\['b_Intercept', 'b_Days'\]",
    ):
        build(draws, data, formula="Reaction ~ 1 + Days + x2 + (1 + Days | Subject)")
    with pytest.raises(ValueError, match=r"\['b_Days'\] are not coefficients of the formula's fixed part"):
        build(draws, sleep, formula="Reaction ~ 1 + (1 + Days | Subject)")


# ----------------------------------------------------------------- 5. chains


def test_unequal_chains_are_refused_with_their_counts(draws, sleep):
    uneven = pd.concat([draws[draws[".chain"] == 1].head(150), draws[draws[".chain"] == 2].head(250)])
    with pytest.raises(
        ValueError,
        match=r"chains have unequal numbers of draws \{1: 150, 2: 250\}.*"
        r"draws\.groupby\('\.chain'\)\.head\(150\)",
    ):
        build(uneven, sleep)
    assert build(draws.groupby(".chain").head(150), sleep).n_draws == 150


# ----------------------------------------------------------------- 6. types


def test_draws_must_be_a_data_frame(draws, sleep):
    with pytest.raises(TypeError, match=r"draws must be a pandas DataFrame .*as_draws_df.*got ndarray"):
        build(draws.to_numpy(), sleep)
    with pytest.raises(TypeError, match=r"data must be the pandas DataFrame .*got dict"):
        build(draws, sleep.to_dict())


# ----------------------------------------------------------------- from_arrays


def arrays(**kw):
    s = 6
    data = pd.DataFrame({"x": [0.0, 1.0, 2.0], "g": ["a", "b", "a"]})
    group = GroupFactor(
        "g",
        ("g",),
        np.array(["a", "b"]),
        ["Intercept"],
        np.zeros((s, 2, 1)),
        np.ones((s, 1)),
        None,
        design=lambda f: np.ones((len(f), 1)),
        term_blocks={"1": [0]},
    )
    args = dict(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"]]),
        beta=np.ones((s, 2)),
        beta_names=["Intercept", "x"],
        family="gaussian",
        data=data,
        groups=[group],
        aux={"sigma": np.ones(s)},
        n_chains=2,
    )
    return mixeff.from_arrays(**{**args, **kw})


def test_from_arrays_checks_shapes_values_and_chains():
    assert arrays().n_draws == 3
    with pytest.raises(ValueError, match=r"non-finite values .* in beta\[:, 'x'\] \(1 of 6 draws\)"):
        arrays(beta=np.c_[np.ones(6), np.r_[np.nan, np.ones(5)]])
    with pytest.raises(ValueError, match=r"beta has 2 columns but beta_names has 1 names \['Intercept'\]"):
        arrays(beta_names=["Intercept"])
    with pytest.raises(ValueError, match=r"fixed_design\(data\) gave an array of shape \(3, 3\), expected \(3, 2\)"):
        arrays(fixed_design=lambda f: np.ones((len(f), 3)))
    with pytest.raises(ValueError, match=r"n_chains=4 does not divide the 6 draws of beta into equal chains"):
        arrays(n_chains=4)
    with pytest.raises(
        ValueError,
        match=r"aux: family 'poisson' has no auxiliary parameter\(s\) \['sigma'\]; its "
        r"parameters are none",
    ):
        arrays(family="poisson")
    with pytest.raises(ValueError, match=r"aux: \{'sigma': 1\} values where one per draw \(6\) is expected"):
        arrays(aux={"sigma": np.ones(1)})
    with pytest.raises(ValueError, match=r"aux\['sigma'\] \(6 of 6 draws\)"):
        arrays(aux={"sigma": np.full(6, np.inf)})


def test_from_arrays_checks_groups():
    data = pd.DataFrame({"x": [0.0, 1.0, 2.0], "g": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"groups: 'g' has no effects for level\(s\) \['c'\] that data has"):
        arrays(data=data)
    short = GroupFactor(
        "g",
        ("g",),
        np.array(["a", "b"]),
        ["Intercept"],
        np.zeros((5, 2, 1)),
        np.ones((5, 1)),
        None,
        design=lambda f: np.ones((len(f), 1)),
    )
    with pytest.raises(ValueError, match=r"'g'\.b has shape \(5, 2, 1\), expected \(6, 2, 1\)"):
        arrays(groups=[short])


def test_from_arrays_matches_float_levels_to_an_integer_column():
    data = pd.DataFrame({"x": [0.0, 1.0, 2.0], "g": [1, 2, 1]})
    b = np.stack([np.full((6, 1), 0.5), np.full((6, 1), -0.5)], axis=1)
    group = GroupFactor(
        "g",
        ("g",),
        np.array([1.0, 2.0]),
        ["Intercept"],
        b,
        np.ones((6, 1)),
        None,
        design=lambda f: np.ones((len(f), 1)),
        term_blocks={"1": [0]},
    )
    spec = arrays(data=data, groups=[group])
    assert spec.groups["g"].levels.tolist() == ["1", "2"]
    eta = mixeff.predictions(spec, pd.DataFrame({"x": [0.0, 0.0], "g": [2, 1]}), type="link").draws
    np.testing.assert_allclose(eta, [[0.5] * 6, [1.5] * 6])


def test_brms_float_labels_of_an_integer_column_load_and_predict():
    """``r_cluster[1.0,Intercept]`` names level 1 of an integer column, as brms_checks and the spec agree."""
    data = pd.DataFrame({"TX": [0, 1, 0], "cluster": [1, 2, 2]})
    draws = pd.DataFrame(
        {
            "b_Intercept": [6.0, 6.2],
            "b_TX": [-0.5, -0.7],
            "sd_cluster__Intercept": [0.6, 0.6],
            "r_cluster[1.0,Intercept]": [0.1, 0.3],
            "r_cluster[2.0,Intercept]": [-0.1, -0.3],
            "sigma": [0.5, 0.5],
        }
    )
    spec = build(draws, data, formula="y ~ 1 + TX + (1 | cluster)")
    assert spec.groups["cluster"].levels.tolist() == ["1", "2"]
    eta = mixeff.predictions(spec, pd.DataFrame({"TX": [1, 0], "cluster": [1, 2]}), type="link").draws
    np.testing.assert_allclose(eta, [[5.6, 5.8], [5.9, 5.9]])


def test_a_group_term_outside_the_fixed_part_has_its_own_design():
    """``(1 + f | g)`` with a factor ``f`` the fixed part lacks: Z comes from the bar's formulae design."""
    data = pd.DataFrame({"g": list("AABB"), "f": pd.Categorical(list("bcbc"), categories=["c", "b"])})
    d = {
        "b_Intercept": [1.0],
        "sd_g__Intercept": [1.0],
        "sd_g__fb": [1.0],
        "cor_g__Intercept__fb": [0.2],
        "sigma": [1.0],
        "r_g[A,Intercept]": [0.1],
        "r_g[B,Intercept]": [0.2],
        "r_g[A,fb]": [10.0],
        "r_g[B,fb]": [20.0],
    }
    spec = build(pd.DataFrame(d), data, formula="y ~ 1 + (1 + f | g)")
    assert spec.groups["g"].terms == ["Intercept", "fb"] and "f" in spec.predictors
    eta = mixeff.predictions(spec, pd.DataFrame({"g": list("ABAB"), "f": list("bbcc")}), type="link").draws
    np.testing.assert_allclose(eta[:, 0], [11.1, 21.2, 1.1, 1.2])
