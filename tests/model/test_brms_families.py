"""from_brms_draws beyond one formula: distributional formulas, zero-inflated and hurdle, ordinal and
categorical families, in brms's column layout.

Every draws table is written here by hand (two chains of 25 draws, seeded), and every value is
checked against numpy on the same draws.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import special

import mixeff
from mixeff import from_brms_draws

# The draws here are made up with numpy (independent normals, a few hundred per chain): R-hat and ESS
# of such draws cross mixeff's thresholds by chance, so its ConvergenceWarning is noise here (the
# warning itself is tested in tests/test_trust.py).
pytestmark = pytest.mark.filterwarnings("ignore::mixeff.ConvergenceWarning")

S = 50
LEVELS = ["a", "b", "c"]
EXACT = dict(rtol=1e-12, atol=1e-12)


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


@pytest.fixture
def data(rng):
    return pd.DataFrame({"x": rng.normal(size=12), "g": LEVELS * 4})


@pytest.fixture
def newdata():
    return pd.DataFrame({"x": [-1.5, 0.0, 0.4, 2.0], "g": ["a", "c", "b", "c"]})


def _chains(columns: dict) -> pd.DataFrame:
    """A brms draws table: the parameter columns, then .chain, .iteration and .draw (2 chains)."""
    table = pd.DataFrame(columns)
    table[".chain"] = np.repeat([1, 2], S // 2)
    table[".iteration"] = np.tile(np.arange(1, S // 2 + 1), 2)
    table[".draw"] = np.arange(1, S + 1)
    return table


def _group(rng, factor: str, dpar: str = "", scale: float = 0.5) -> dict:
    """brms's columns of ``(1 | factor)`` in the formula of ``dpar`` ('' for the mean's)."""
    term = f"{dpar}_Intercept" if dpar else "Intercept"
    key = f"{factor}__{dpar}" if dpar else factor
    return {
        f"sd_{factor}__{term}": np.abs(rng.normal(scale, 0.1, S)),
        **{f"r_{key}[{lev},Intercept]": rng.normal(0, scale, S) for lev in LEVELS},
    }


def _r(draws: pd.DataFrame, frame: pd.DataFrame, dpar: str = "") -> np.ndarray:
    """(rows, S) group intercepts of ``frame``'s rows, read by hand from the r_ columns."""
    key = "g__" + dpar if dpar else "g"
    return np.stack([draws[f"r_{key}[{lev},Intercept]"].to_numpy() for lev in frame["g"]])


def _lin(draws: pd.DataFrame, frame: pd.DataFrame, prefix: str = "b_") -> np.ndarray:
    """(rows, S) Intercept + x·slope of the columns ``<prefix>Intercept`` and ``<prefix>x``."""
    x = frame["x"].to_numpy()[:, None]
    return draws[prefix + "Intercept"].to_numpy()[None, :] + x * draws[prefix + "x"].to_numpy()[None, :]


def _values(spec, newdata, **kwargs) -> np.ndarray:
    return mixeff.predictions(spec, newdata, **kwargs).draws


# -- distributional formulas -----------------------------------------------------------------


@pytest.fixture
def gaussian_sigma(rng):
    return _chains(
        {
            "b_Intercept": rng.normal(1, 0.3, S),
            "b_x": rng.normal(0.5, 0.1, S),
            "b_sigma_Intercept": rng.normal(-0.5, 0.2, S),
            "b_sigma_x": rng.normal(0.3, 0.1, S),
            **_group(rng, "g"),
            **_group(rng, "g", "sigma", scale=0.3),
            "Intercept": rng.normal(size=S),
            "Intercept_sigma": rng.normal(size=S),  # brms's bookkeeping
            "lprior": rng.normal(size=S),
            "lp__": rng.normal(size=S),
        }
    )


SIGMA_FORMULAS = ["y ~ x + (1 | g)", "sigma ~ x + (1 | g)"]


def test_sigma_formula_gives_sigma_per_row_and_draw(gaussian_sigma, data, newdata):
    spec = from_brms_draws(gaussian_sigma, formula=SIGMA_FORMULAS, data=data)
    eta_sigma = _lin(gaussian_sigma, newdata, "b_sigma_") + _r(gaussian_sigma, newdata, "sigma")
    np.testing.assert_allclose(_values(spec, newdata, dpar="sigma"), np.exp(eta_sigma), **EXACT)
    np.testing.assert_allclose(_values(spec, newdata, dpar="sigma", type="link"), eta_sigma, **EXACT)
    mu = _lin(gaussian_sigma, newdata) + _r(gaussian_sigma, newdata)
    np.testing.assert_allclose(_values(spec, newdata), mu, **EXACT)
    assert spec.dpars["sigma"].link_name == "log" and "sigma" not in spec.aux
    assert (spec.n_chains, spec.n_draws) == (2, 25)


def test_re_formula_na_drops_the_group_terms_of_every_formula(gaussian_sigma, data, newdata):
    spec = from_brms_draws(gaussian_sigma, formula=SIGMA_FORMULAS, data=data)
    np.testing.assert_allclose(
        _values(spec, newdata, dpar="sigma", re_formula="NA"),
        np.exp(_lin(gaussian_sigma, newdata, "b_sigma_")),
        **EXACT,
    )
    np.testing.assert_allclose(_values(spec, newdata, re_formula="NA"), _lin(gaussian_sigma, newdata), **EXACT)
    newcomers = newdata.assign(g=["new"] * len(newdata))  # grouping columns are not needed without group terms
    np.testing.assert_allclose(
        _values(spec, newcomers, dpar="sigma", re_formula="NA"),
        np.exp(_lin(gaussian_sigma, newdata, "b_sigma_")),
        **EXACT,
    )


def test_sigma_link_can_be_overridden_and_the_spec_pickles(gaussian_sigma, data, newdata):
    table = gaussian_sigma.assign(b_sigma_Intercept=lambda d: d.b_sigma_Intercept + 3.0)  # sigma > 0 on identity
    spec = from_brms_draws(table, formula=SIGMA_FORMULAS, data=data, link={"sigma": "identity"})
    expected = _lin(table, newdata, "b_sigma_") + _r(table, newdata, "sigma")
    np.testing.assert_allclose(_values(spec, newdata, dpar="sigma"), expected, **EXACT)
    again = pickle.loads(pickle.dumps(spec))
    np.testing.assert_array_equal(_values(again, newdata, dpar="sigma"), _values(spec, newdata, dpar="sigma"))


def test_lognormal_mean_reads_the_row_varying_sigma(rng, data, newdata):
    draws = _chains(
        {
            "b_Intercept": rng.normal(1, 0.3, S),
            "b_x": rng.normal(0.2, 0.1, S),
            "b_sigma_Intercept": rng.normal(-0.7, 0.2, S),
            "b_sigma_x": rng.normal(0.4, 0.1, S),
            **_group(rng, "g"),
        }
    )
    spec = from_brms_draws(draws, formula=["y ~ x + (1 | g)", "sigma ~ x"], data=data, family="lognormal")
    mu = _lin(draws, newdata) + _r(draws, newdata)
    sigma = np.exp(_lin(draws, newdata, "b_sigma_"))
    np.testing.assert_allclose(_values(spec, newdata), np.exp(mu + sigma**2 / 2), **EXACT)


# -- zero-inflated and hurdle ----------------------------------------------------------------


def test_zero_inflated_poisson_with_constant_zi(rng, data, newdata):
    draws = _chains(
        {
            "b_Intercept": rng.normal(0.5, 0.2, S),
            "b_x": rng.normal(0.3, 0.1, S),
            "zi": rng.uniform(0.05, 0.6, S),
            **_group(rng, "g"),
        }
    )
    spec = from_brms_draws(draws, formula="y ~ x + (1 | g)", data=data, family="zero_inflated_poisson")
    eta = _lin(draws, newdata) + _r(draws, newdata)
    zi = draws["zi"].to_numpy()[None, :]
    np.testing.assert_allclose(_values(spec, newdata), (1 - zi) * np.exp(eta), **EXACT)
    np.testing.assert_allclose(_values(spec, newdata, dpar="mu"), np.exp(eta), **EXACT)
    np.testing.assert_allclose(_values(spec, newdata, dpar="psi"), np.broadcast_to(1 - zi, eta.shape), **EXACT)


@pytest.fixture
def hurdle(rng):
    return _chains(
        {
            "b_Intercept": rng.normal(0.5, 0.2, S),
            "b_x": rng.normal(0.3, 0.1, S),
            "b_hu_Intercept": rng.normal(-0.5, 0.3, S),
            "b_hu_x": rng.normal(0.6, 0.2, S),
            **_group(rng, "g"),
            **_group(rng, "g", "hu"),
        }
    )


def test_hurdle_poisson_with_a_hu_formula(hurdle, data, newdata):
    """brms models logit(hu); mixeff's psi = 1 - hu, read with every coefficient's sign flipped."""
    spec = from_brms_draws(hurdle, formula=["y ~ x + (1 | g)", "hu ~ x + (1 | g)"], data=data, family="hurdle_poisson")
    mu = np.exp(_lin(hurdle, newdata) + _r(hurdle, newdata))
    eta_hu = _lin(hurdle, newdata, "b_hu_") + _r(hurdle, newdata, "hu")
    hu = special.expit(eta_hu)
    np.testing.assert_allclose(_values(spec, newdata), (1 - hu) * mu / (1 - np.exp(-mu)), **EXACT)
    np.testing.assert_allclose(_values(spec, newdata, dpar="psi"), 1 - hu, **EXACT)
    np.testing.assert_allclose(_values(spec, newdata, dpar="psi", type="link"), -eta_hu, **EXACT)
    np.testing.assert_allclose(
        _values(spec, newdata, dpar="psi", re_formula="NA"), 1 - special.expit(_lin(hurdle, newdata, "b_hu_")), **EXACT
    )


def test_zi_formula_with_the_identity_link(rng, data, newdata):
    draws = _chains(
        {
            "b_Intercept": rng.normal(0.5, 0.2, S),
            "b_x": rng.normal(0.3, 0.1, S),
            "b_zi_Intercept": rng.uniform(0.3, 0.4, S),
            "b_zi_x": rng.uniform(-0.05, 0.05, S),
        }
    )
    spec = from_brms_draws(
        draws, formula=["y ~ x", "zi ~ x"], data=data, family="zero_inflated_poisson", link={"zi": "identity"}
    )
    zi = _lin(draws, newdata, "b_zi_")
    np.testing.assert_allclose(_values(spec, newdata), (1 - zi) * np.exp(_lin(draws, newdata)), **EXACT)


def test_hurdle_negbinomial_reads_shape_and_hu(rng, data, newdata):
    draws = _chains(
        {
            "b_Intercept": rng.normal(0.5, 0.2, S),
            "b_x": rng.normal(0.3, 0.1, S),
            "shape": rng.uniform(1, 4, S),
            "hu": rng.uniform(0.1, 0.5, S),
        }
    )
    spec = from_brms_draws(draws, formula="y ~ x", data=data, family="hurdle_negbinomial")
    mu, shape, hu = np.exp(_lin(draws, newdata)), draws["shape"].to_numpy(), draws["hu"].to_numpy()
    expected = mu / (1 - (shape / (mu + shape)) ** shape) * (1 - hu)  # brms's posterior_epred
    np.testing.assert_allclose(_values(spec, newdata), expected, **EXACT)


def test_asym_laplace_and_inverse_gaussian_parameters(rng, data, newdata):
    draws = _chains(
        {
            "b_Intercept": rng.normal(1, 0.3, S),
            "b_x": rng.normal(0.2, 0.1, S),
            "sigma": rng.uniform(0.5, 1.5, S),
            "quantile": rng.uniform(0.2, 0.8, S),
        }
    )
    spec = from_brms_draws(draws, formula="y ~ x", data=data, family="asym_laplace")
    p, sigma = draws["quantile"].to_numpy(), draws["sigma"].to_numpy()
    expected = _lin(draws, newdata) + sigma * (1 - 2 * p) / (p * (1 - p))  # brms's posterior_epred
    np.testing.assert_allclose(_values(spec, newdata), expected, **EXACT)
    wald = _chains(
        {"b_Intercept": rng.uniform(0.5, 1, S), "b_x": rng.uniform(0, 0.01, S), "shape": rng.uniform(1, 3, S)}
    )
    spec = from_brms_draws(wald, formula="y ~ x", data=data, family="inverse.gaussian", link="1/mu^2")
    np.testing.assert_array_equal(spec.aux["lam"], wald["shape"].to_numpy())
    np.testing.assert_allclose(_values(spec, newdata), 1 / np.sqrt(_lin(wald, newdata)), **EXACT)


# -- ordinal and categorical -----------------------------------------------------------------


@pytest.fixture
def ordinal(rng):
    tau1 = rng.normal(-0.5, 0.2, S)
    return _chains(
        {
            "b_Intercept[1]": tau1,
            "b_Intercept[2]": tau1 + np.exp(rng.normal(0, 0.2, S)),
            "b_x": rng.normal(0.7, 0.2, S),
            **_group(rng, "g"),
            "Intercept[1]": rng.normal(size=S),
            "Intercept[2]": rng.normal(size=S),
        }
    )  # centred thresholds


@pytest.fixture
def ordinal_data(data):
    return data.assign(y=pd.Categorical(["lo", "mid", "hi"] * 4, categories=["lo", "mid", "hi"], ordered=True))


def test_cumulative_probabilities(ordinal, ordinal_data, newdata):
    spec = from_brms_draws(ordinal, formula="y ~ x + (1 | g)", data=ordinal_data, family="cumulative")
    assert spec.categories == ("lo", "mid", "hi") and spec.beta_names == ["x"]
    result = mixeff.predictions(spec, newdata)
    eta = newdata["x"].to_numpy()[:, None] * ordinal["b_x"].to_numpy() + _r(ordinal, newdata)
    cdf = [special.expit(ordinal[f"b_Intercept[{k}]"].to_numpy() - eta) for k in (1, 2)]
    expected = np.concatenate([cdf[0], cdf[1] - cdf[0], 1 - cdf[1]])  # group-major rows
    np.testing.assert_allclose(result.draws, expected, **EXACT)
    n = len(newdata)
    np.testing.assert_allclose(result.draws.reshape(3, n, S).sum(axis=0), 1.0, rtol=0, atol=1e-12)
    assert result.summary["group"].astype(str).tolist() == ["lo"] * n + ["mid"] * n + ["hi"] * n
    np.testing.assert_allclose(_values(spec, newdata, type="link"), eta, **EXACT)


def test_sratio_probabilities_are_brms_s(ordinal, ordinal_data, newdata):
    """brms: P(Y = k | Y >= k) = F(tau_k - eta)."""
    spec = from_brms_draws(
        ordinal, formula="y ~ x + (1 | g)", data=ordinal_data, family="sratio", categories=["lo", "mid", "hi"]
    )
    eta = newdata["x"].to_numpy()[:, None] * ordinal["b_x"].to_numpy() + _r(ordinal, newdata)
    stop = [special.expit(ordinal[f"b_Intercept[{k}]"].to_numpy() - eta) for k in (1, 2)]
    expected = np.concatenate([stop[0], (1 - stop[0]) * stop[1], (1 - stop[0]) * (1 - stop[1])])
    np.testing.assert_allclose(_values(spec, newdata), expected, **EXACT)


@pytest.fixture
def categorical(rng):
    return _chains(
        {
            "b_muB_Intercept": rng.normal(0.3, 0.2, S),
            "b_muB_x": rng.normal(0.5, 0.2, S),
            "b_muC_Intercept": rng.normal(-0.2, 0.2, S),
            "b_muC_x": rng.normal(-0.4, 0.2, S),
            **_group(rng, "g", "muB"),
            **_group(rng, "g", "muC"),
        }
    )


def test_categorical_softmax(categorical, data, newdata):
    spec = from_brms_draws(
        categorical, formula="y ~ x + (1 | g)", data=data, family="categorical", categories=["A", "B", "C"]
    )
    assert spec.categories == ("A", "B", "C") and list(spec.dpars) == ["muB", "muC"] and spec.beta.shape == (S, 0)
    etas = [np.zeros((len(newdata), S))] + [
        _lin(categorical, newdata, f"b_{mu}_") + _r(categorical, newdata, mu) for mu in ("muB", "muC")
    ]
    expected = np.exp(etas) / np.exp(etas).sum(axis=0)
    result = mixeff.predictions(spec, newdata)
    np.testing.assert_allclose(result.draws, expected.reshape(-1, S), **EXACT)
    np.testing.assert_allclose(result.draws.reshape(3, -1, S).sum(axis=0), 1.0, rtol=0, atol=1e-12)
    no_groups = np.stack(
        [np.zeros((len(newdata), S))] + [_lin(categorical, newdata, f"b_{mu}_") for mu in ("muB", "muC")]
    )
    np.testing.assert_allclose(
        _values(spec, newdata, re_formula="NA"),
        (np.exp(no_groups) / np.exp(no_groups).sum(axis=0)).reshape(-1, S),
        **EXACT,
    )


def test_categorical_category_formula_and_categories_from_data(categorical, data, newdata):
    """``muC ~ 1`` replaces the formula for C; a Categorical response gives the categories."""
    draws = categorical.drop(
        columns=["b_muC_x", "sd_g__muC_Intercept", *[f"r_g__muC[{lev},Intercept]" for lev in LEVELS]]
    )
    labelled = data.assign(y=pd.Categorical(["A", "B", "C"] * 4))
    spec = from_brms_draws(draws, formula=["y ~ x + (1 | g)", "muC ~ 1"], data=labelled, family="categorical")
    assert spec.categories == ("A", "B", "C") and spec.dpars["muC"].beta_names == ["Intercept"]
    eta_b = _lin(draws, newdata, "b_muB_") + _r(draws, newdata, "muB")
    eta_c = np.broadcast_to(draws["b_muC_Intercept"].to_numpy(), eta_b.shape)
    denominator = 1 + np.exp(eta_b) + np.exp(eta_c)
    np.testing.assert_allclose(
        _values(spec, newdata)[len(newdata) : 2 * len(newdata)], np.exp(eta_b) / denominator, **EXACT
    )


# -- refusals --------------------------------------------------------------------------------


def test_formulas_for_parameters_mixeff_cannot_read_are_refused(gaussian_sigma, rng, data):
    with pytest.raises(
        ValueError,
        match=r"'nu ~ x' is a formula for 'nu', which family 'gaussian' does not have: "
        r"its distributional parameters are \['sigma'\]",
    ):
        from_brms_draws(gaussian_sigma, formula=[*SIGMA_FORMULAS, "nu ~ x"], data=data)
    with pytest.raises(ValueError, match=r"brms's link for nu is logm1"):
        from_brms_draws(gaussian_sigma, formula=["y ~ x", "nu ~ x"], data=data, family="student")
    with pytest.raises(ValueError, match=r"brms calls 'alpha' 'shape': write 'shape ~ \.\.\.'"):
        from_brms_draws(gaussian_sigma, formula=["y ~ x", "alpha ~ x"], data=data, family="negbinomial")
    with pytest.raises(ValueError, match=r"no distributional parameter .*brms's disc is not supported"):
        from_brms_draws(
            gaussian_sigma, formula=["y ~ x", "disc ~ x"], data=data, family="cumulative", categories=[1, 2, 3]
        )
    with pytest.raises(ValueError, match=r"'x \+ 1' names no parameter on its left-hand side"):
        from_brms_draws(gaussian_sigma, formula=["y ~ x", "x + 1"], data=data)
    with pytest.raises(ValueError, match=r"two formulas for 'sigma'"):
        from_brms_draws(gaussian_sigma, formula=[*SIGMA_FORMULAS, "sigma ~ 1"], data=data)
    with pytest.raises(TypeError, match=r"formula must be a brms formula string, a list of them"):
        from_brms_draws(gaussian_sigma, formula=["y ~ x", 3], data=data)


def test_draws_that_do_not_match_the_formulas_are_refused(gaussian_sigma, data):
    with pytest.raises(
        ValueError,
        match=r"brms's columns of a formula for \['sigma'\]: pass every formula of the "
        r"model, formula=\['y ~ \.\.\.', 'sigma ~ \.\.\.'\]",
    ):
        from_brms_draws(gaussian_sigma, formula="y ~ x + (1 | g)", data=data)
    with pytest.raises(
        ValueError,
        match=r"column\(s\) \['sigma'\] hold one value per draw, but formula= gives it a "
        r"formula",
    ):
        from_brms_draws(gaussian_sigma.assign(sigma=1.0), formula=SIGMA_FORMULAS, data=data)
    with pytest.raises(
        ValueError,
        match=r"no 'sd_g__sigma_Intercept' column for the group term \(1 \| g\) in the "
        r"formula of sigma",
    ):
        from_brms_draws(gaussian_sigma.drop(columns="sd_g__sigma_Intercept"), formula=SIGMA_FORMULAS, data=data)
    with pytest.raises(ValueError, match=r"no column\(s\) \['b_sigma_x'\] for the fixed part of the formula of sigma"):
        from_brms_draws(gaussian_sigma.drop(columns="b_sigma_x"), formula=SIGMA_FORMULAS, data=data)
    crossed = gaussian_sigma.assign(cor_g__Intercept__sigma_Intercept=0.2)
    with pytest.raises(ValueError, match=r"correlations between the terms of different formulas .* not supported"):
        from_brms_draws(crossed, formula=SIGMA_FORMULAS, data=data)
    with pytest.raises(ValueError, match=r"a formula function gives the mean's fixed part only.*'sigma ~ \.\.\.'"):
        from_brms_draws(gaussian_sigma, formula=lambda f: f[["x"]].assign(Intercept=1.0), data=data)


def test_bad_links_families_and_parameter_values_are_refused(gaussian_sigma, hurdle, rng, data):
    with pytest.raises(
        ValueError,
        match=r"link 'logit' for sigma is not one mixeff reads; use one of "
        r"\['log', 'identity'\]",
    ):
        from_brms_draws(gaussian_sigma, formula=SIGMA_FORMULAS, data=data, link={"sigma": "logit"})
    with pytest.raises(ValueError, match=r"link=\{'shape': 'log'\} names \['shape'\], which have no formula"):
        from_brms_draws(gaussian_sigma, formula=SIGMA_FORMULAS, data=data, link={"shape": "log"})
    with pytest.raises(ValueError, match=r"link='cauchit' is not supported"):
        from_brms_draws(gaussian_sigma, formula=SIGMA_FORMULAS, data=data, link="cauchit")
    with pytest.raises(ValueError, match=r"link 'cloglog' for hu is not one mixeff reads"):
        from_brms_draws(
            hurdle,
            formula=["y ~ x + (1 | g)", "hu ~ x + (1 | g)"],
            data=data,
            family="hurdle_poisson",
            link={"hu": "cloglog"},
        )
    with pytest.raises(ValueError, match=r"family='exgaussian' cannot be read from brms draws: brms's mu is the mean"):
        from_brms_draws(gaussian_sigma, formula=SIGMA_FORMULAS, data=data, family="exgaussian")
    zi = _chains({"b_Intercept": np.zeros(S), "zi": np.linspace(0.5, 1.5, S)})
    with pytest.raises(ValueError, match=r"values outside \[0, 1\] in zi \(25 of 50 draws\)"):
        from_brms_draws(zi, formula="y ~ 1", data=data, family="zero_inflated_poisson")
    with pytest.raises(
        ValueError,
        match=r"no column\(s\) \['zi'\] for family 'zero_inflated_poisson'.*"
        r"'zi ~ \.\.\.'",
    ):
        from_brms_draws(zi.drop(columns="zi"), formula="y ~ 1", data=data, family="zero_inflated_poisson")


def test_ordinal_and_categorical_inputs_are_refused_when_wrong(ordinal, categorical, ordinal_data, data):
    with pytest.raises(ValueError, match=r"no threshold column\(s\) \['b_Intercept\[2\]'\] for the 3 categories"):
        from_brms_draws(
            ordinal.drop(columns="b_Intercept[2]"), formula="y ~ x + (1 | g)", data=ordinal_data, family="cumulative"
        )
    with pytest.raises(ValueError, match=r"threshold column\(s\) \['b_Intercept\[2\]'\] beyond the 1"):
        from_brms_draws(ordinal, formula="y ~ x + (1 | g)", data=data, family="cumulative", categories=[0, 1])
    swapped = ordinal.rename(columns={"b_Intercept[1]": "b_Intercept[2]", "b_Intercept[2]": "b_Intercept[1]"})
    with pytest.raises(ValueError, match=r"thresholds not increasing in b_Intercept\[1\] < b_Intercept\[2\]"):
        from_brms_draws(swapped, formula="y ~ x + (1 | g)", data=ordinal_data, family="cumulative")
    with pytest.raises(ValueError, match=r"column 'b_Intercept' is one intercept, but a cumulative model"):
        from_brms_draws(
            ordinal.assign(b_Intercept=0.0), formula="y ~ x + (1 | g)", data=ordinal_data, family="cumulative"
        )
    with pytest.raises(ValueError, match=r"family 'cumulative' needs the response's categories: pass categories="):
        from_brms_draws(ordinal, formula="y ~ x + (1 | g)", data=data, family="cumulative")
    with pytest.raises(ValueError, match=r"'y' \(the response\) holds text.*pass categories="):
        from_brms_draws(
            categorical, formula="y ~ x + (1 | g)", data=data.assign(y=["A", "B", "C"] * 4), family="categorical"
        )
    with pytest.raises(ValueError, match=r"response\) has value\(s\) \['C'\] that categories=\['A', 'B'\] lacks"):
        from_brms_draws(
            categorical,
            formula="y ~ x + (1 | g)",
            data=data.assign(y=["A", "B", "C"] * 4),
            family="categorical",
            categories=["A", "B"],
        )
    with pytest.raises(
        ValueError,
        match=r"no column\(s\) \['b_muC_Intercept', 'b_muC_x'\] for the fixed part of "
        r"the formula of muC",
    ):
        from_brms_draws(
            categorical.drop(columns=["b_muC_Intercept", "b_muC_x"]),
            formula="y ~ x + (1 | g)",
            data=data,
            family="categorical",
            categories=["A", "B", "C"],
        )
    with pytest.raises(ValueError, match=r"categories=\['lo', 'hi'\] is for ordinal and categorical families"):
        from_brms_draws(ordinal, formula="y ~ x", data=data, categories=["lo", "hi"])


def test_categories_collapsed_by_a_table_sum_their_probabilities(ordinal, ordinal_data, newdata):
    """marginaleffects (its issue #445): by= a table on ``group`` sums the collapsed categories' probabilities."""
    spec = from_brms_draws(ordinal, formula="y ~ x + (1 | g)", data=ordinal_data, family="cumulative")
    per_row = mixeff.predictions(spec, newdata).draws.reshape(3, len(newdata), S)  # lo, mid, hi
    table = pd.DataFrame({"group": ["lo", "mid", "hi"], "by": ["not high", "not high", "high"]})
    got = mixeff.avg_predictions(spec, newdata, by=table)
    assert got.grid["by"].tolist() == ["high", "not high"]  # groups sorted, as every by= result
    np.testing.assert_allclose(got.draws[1], (per_row[0] + per_row[1]).mean(axis=0), **EXACT)
    np.testing.assert_allclose(got.draws[0], per_row[2].mean(axis=0), **EXACT)
    np.testing.assert_allclose(got.draws.sum(axis=0), 1.0, rtol=0, atol=1e-12)
    # a contrast of collapsed categories: the difference of the summed probabilities
    shifted = mixeff.predictions(spec, newdata.assign(x=newdata["x"] + 1)).draws.reshape(3, len(newdata), S)
    diff = mixeff.avg_comparisons(spec, "x", newdata=newdata, by=table)
    np.testing.assert_allclose(
        diff.draws[1], ((shifted[0] + shifted[1]) - (per_row[0] + per_row[1])).mean(axis=0), rtol=1e-9, atol=1e-12
    )
    # lnor is taken of the summed probabilities, not of their average over categories
    lnor = mixeff.avg_comparisons(spec, "x", newdata=newdata, by=table, comparison="lnor")
    hi_p, lo_p = (shifted[0] + shifted[1]).mean(axis=0), (per_row[0] + per_row[1]).mean(axis=0)
    np.testing.assert_allclose(
        lnor.draws[1], np.log(hi_p / (1 - hi_p)) - np.log(lo_p / (1 - lo_p)), rtol=1e-9, atol=1e-12
    )


def test_brms_prior_draws_are_marked_and_said(ordinal, ordinal_data, newdata):
    prior = from_brms_draws(ordinal, formula="y ~ x + (1 | g)", data=ordinal_data, family="cumulative", source="prior")
    assert prior.source == "prior"
    result = mixeff.avg_predictions(prior, newdata, draws="prior")
    assert result.source == "prior" and "prior draws" in repr(result)
    assert import_pickle_roundtrip(prior).source == "prior"
    with pytest.raises(ValueError, match=r"draws='posterior' but this spec holds prior draws"):
        mixeff.avg_predictions(prior, newdata)
    with pytest.raises(ValueError, match=r"source='maybe' must be 'posterior' or 'prior'"):
        from_brms_draws(ordinal, formula="y ~ x + (1 | g)", data=ordinal_data, family="cumulative", source="maybe")


def import_pickle_roundtrip(obj):
    import pickle

    return pickle.loads(pickle.dumps(obj))
