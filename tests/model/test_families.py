"""Every Bambi family (issue 13): ordinal, categorical, zero-inflated, hurdle, distributional, the rest.

Each model gets exact forward draws from its priors (no MCMC).  References:
Bambi's own ``Model.predict(kind="response_params")`` on the same draws (the mean
parameter and every modelled auxiliary parameter, to 1e-10); each family's expected
value written out by hand from those parameters; and PyMC's own distributions,
whose Monte Carlo mean must match the formula within 5 Monte Carlo standard errors.
"""

import pickle
import warnings

import bambi as bmb
import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from scipy import special

import mixeff
from mixeff.model.families import FAMILIES, REFUSED_FAMILIES, get_family

# slow without MCMC: a Bambi/PyMC model is built and compiled per family, and PyMC's own
# distributions are sampled 400 000 times per mean (about 100 s)
pytestmark = pytest.mark.slow

S = 40


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.MixeffWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _data(n=80, seed=1):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"x": rng.uniform(-1, 1, n), "g": rng.choice(list("abcde"), n), "n": 12})
    d["yo"] = pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"], ordered=True)
    d["yc"] = rng.choice(["A", "B", "C"], n)
    d["count"] = rng.poisson(2, n) * (rng.random(n) < 0.7)
    d["succ"] = rng.binomial(12, 0.4, n) * (rng.random(n) < 0.8)
    d["y"] = rng.normal(size=n) * np.exp(0.3 * d.x)
    d["pos"] = np.exp(rng.normal(size=n) * 0.5)
    d["nonneg"] = d["pos"] * (rng.random(n) < 0.7)
    return d


DATA = _data()
NEW = pd.DataFrame({"x": [-0.9, -0.2, 0.4, 0.95], "g": ["a", "c", "e", "b"], "n": [12, 12, 12, 12]})

CASES = {
    "cumulative": ("yo ~ x + (1|g)", "cumulative", {}),
    "cumulative-probit": ("yo ~ x + (1|g)", "cumulative", {"link": "probit"}),
    "sratio": ("yo ~ x + (1|g)", "sratio", {}),
    "categorical": ("yc ~ x", "categorical", {}),
    "categorical-groups": ("yc ~ x + (1|g)", "categorical", {}),
    "zip": ("count ~ x + (1|g)", "zero_inflated_poisson", {}),
    "zinb": ("count ~ x + (1|g)", "zero_inflated_negativebinomial", {}),
    "zib": ("p(succ, n) ~ x + (1|g)", "zero_inflated_binomial", {}),
    "hurdle-poisson": ("count ~ x + (1|g)", "hurdle_poisson", {}),
    "hurdle-nb": ("count ~ x + (1|g)", "hurdle_negativebinomial", {}),
    "hurdle-gamma": ("nonneg ~ x + (1|g)", "hurdle_gamma", {}),
    "hurdle-lognormal": ("nonneg ~ x + (1|g)", "hurdle_lognormal", {}),
    "gaussian-sigma": (("y ~ x + (1|g)", "sigma ~ x + (1|g)"), "gaussian", {}),
    "lognormal-sigma": (("pos ~ x + (1|g)", "sigma ~ x"), "lognormal", {}),
    "zip-psi": (("count ~ x + (1|g)", "psi ~ x + (1|g)"), "zero_inflated_poisson", {}),
    "hurdle-poisson-psi": (("count ~ x", "psi ~ x"), "hurdle_poisson", {}),
    "exponential": ("pos ~ x + (1|g)", "exponential", {}),
    "weibull": ("pos ~ x + (1|g)", "weibull", {}),
    "wald": ("pos ~ x + (1|g)", "wald", {"link": "log"}),
    "laplace": ("y ~ x + (1|g)", "laplace", {}),
    "asymmetriclaplace": ("y ~ x + (1|g)", "asymmetriclaplace", {}),
    "exgaussian": ("y ~ x + (1|g)", "exgaussian", {}),
    "beta_binomial": ("p(succ, n) ~ x + (1|g)", "beta_binomial", {}),
}

_FITS = {}


def case_fit(name):
    """``(bambi model, MixedFit)``: prior draws of every parameter (PyMC forward sampling)."""
    if name not in _FITS:
        formula, family, kw = CASES[name]
        form = bmb.Formula(*formula) if isinstance(formula, tuple) else formula
        m = bmb.Model(form, DATA, family=family, **kw)
        m.build()
        model = m.backend.model
        obs = {v.name for v in model.observed_RVs}
        names = [v.name for v in model.free_RVs] + [
            v.name for v in model.deterministics if "__obs__" not in model.named_vars_to_dims.get(v.name, ())
        ]
        idata = pm.sample_prior_predictive(draws=S, model=model, var_names=names, random_seed=7)
        assert not obs & set(names)
        _FITS[name] = m, mixeff.from_bambi(m, idata, sample_prior="only")
    return _FITS[name]


def bambi_params(m, fit, frame, **kwargs):
    """Bambi's parameters on the fit's draws: name -> (rows, S) or, for categories, (K, rows, S)."""
    prior = fit.idata["prior"].to_dataset()
    idata = xr.DataTree.from_dict({"posterior": prior})
    out = m.predict(idata, kind="response_params", data=frame, inplace=False, **kwargs)["posterior"]
    values = {}
    for name, da in out.data_vars.items():
        if "__obs__" not in da.dims:
            continue
        extra = [d for d in da.dims if d not in ("chain", "draw", "__obs__")]
        da = da.transpose(*extra, "__obs__", "chain", "draw")
        values[name] = np.asarray(da.values).reshape(*da.shape[:-2], -1)
    return values


def draws_of(fit, name):
    da = fit.idata["prior"][name]
    rest = [d for d in da.dims if d not in ("chain", "draw")]
    return np.asarray(da.transpose("chain", "draw", *rest).values).reshape(-1, *[da.sizes[d] for d in rest])


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("re_formula", [None, "NA"])
def test_parameters_equal_bambi_predict(name, re_formula):
    m, fit = case_fit(name)
    spec = fit.spec("prior")
    frame = NEW
    kw = dict(draws="prior", re_formula=re_formula)
    if name == "categorical-groups" and re_formula is None:
        # Bambi 0.21's predict fails on a categorical model's group terms (xarray AlignmentError): by hand
        b0, b1, r = draws_of(fit, "Intercept"), draws_of(fit, "x"), draws_of(fit, "1|g")  # r: (S, levels, 2)
        codes = [list("abcde").index(g) for g in frame["g"]]
        eta = b0[None] + b1[None] * frame["x"].to_numpy()[:, None, None] + r[:, codes].transpose(1, 0, 2)
        eta = np.concatenate([np.zeros((*eta.shape[:2], 1)), eta], axis=2)  # reference category A: η = 0
        expected = (special.softmax(eta, axis=2)).transpose(2, 0, 1).reshape(-1, spec.n_samples)
        np.testing.assert_allclose(mixeff.predictions(fit, frame, **kw).draws, expected, rtol=1e-10, atol=1e-13)
        return
    theirs = bambi_params(m, fit, frame, include_group_specific=re_formula is None)
    if spec.family.categorical:
        p = mixeff.predictions(fit, frame, **kw)
        expected = theirs["p"].reshape(-1, spec.n_samples)  # category-major, as mixeff's rows
        np.testing.assert_allclose(p.draws, expected, rtol=1e-10, atol=1e-13)
        assert p.summary["group"].tolist() == np.repeat(spec.categories, len(frame)).tolist()
        return
    mu = mixeff.predictions(fit, frame, dpar="mu", **kw)
    np.testing.assert_allclose(mu.draws, theirs[spec.family.parent], rtol=1e-10)
    for dpar in spec.dpars:
        got = mixeff.predictions(fit, frame, dpar=dpar, **kw)
        np.testing.assert_allclose(got.draws, theirs[dpar], rtol=1e-10)


def _by_hand(name, fit, mu, params):
    """The expected value of each family from its mean parameter and auxiliary draws, written out."""
    spec = fit.spec("prior")
    aux = {a: params[a] if a in params else draws_of(fit, a)[None, :] for a in spec.family.aux}
    n = NEW["n"].to_numpy(float)[:, None]
    family = spec.family.name
    if family in ("zero_inflated_poisson", "zero_inflated_negativebinomial", "hurdle_gamma"):
        return aux["psi"] * mu
    if family == "zero_inflated_binomial":
        return aux["psi"] * n * mu
    if family == "beta_binomial":
        return n * mu
    if family == "hurdle_poisson":
        return aux["psi"] * mu / (1 - np.exp(-mu))
    if family == "hurdle_negativebinomial":
        a = aux["alpha"]
        return aux["psi"] * mu / (1 - (a / (a + mu)) ** a)
    if family == "hurdle_lognormal":
        return aux["psi"] * np.exp(mu + aux["sigma"] ** 2 / 2)
    if family == "lognormal":
        return np.exp(mu + aux["sigma"] ** 2 / 2)
    if family == "asymmetriclaplace":
        return mu - (aux["kappa"] - 1 / aux["kappa"]) / aux["b"]
    if family == "exgaussian":
        return mu + aux["nu"]
    return mu  # gaussian, exponential, weibull, wald, laplace: Bambi's mu is the mean


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][1] not in ("cumulative", "sratio", "categorical")])
def test_response_is_the_family_mean_written_out(name):
    m, fit = case_fit(name)
    params = bambi_params(m, fit, NEW)
    mu = params[fit.spec("prior").family.parent]
    got = mixeff.predictions(fit, NEW, draws="prior")
    np.testing.assert_allclose(got.draws, _by_hand(name, fit, mu, params), rtol=1e-10)


def _lognormal_by_hand():
    """The lognormal-sigma fit, its draws by name, σ and E[Y] at NEW without group terms: (rows, S)."""
    _, fit = case_fit("lognormal-sigma")
    b = {k: draws_of(fit, k) for k in ("Intercept", "x", "sigma_Intercept", "sigma_x")}
    x = NEW["x"].to_numpy()[:, None]
    sigma = np.exp(b["sigma_Intercept"] + b["sigma_x"] * x)
    return fit, b, sigma, np.exp(b["Intercept"] + b["x"] * x + sigma**2 / 2)


def test_distributional_lognormal_mean_uses_each_rows_sigma():
    """exp(μ + σ²/2) with σ = exp(b0 + b1·x) row by row, by hand from the draws; comparisons are hi − lo of it."""
    fit, b, sigma, expected = _lognormal_by_hand()
    got = mixeff.predictions(fit, NEW, draws="prior", re_formula="NA")
    np.testing.assert_allclose(got.draws, expected, rtol=1e-12)
    assert np.ptp(sigma, axis=0).max() > 0.01  # σ really varies with x
    lo, hi = NEW.assign(x=0.0), NEW.assign(x=1.0)
    cmp = mixeff.comparisons(fit, {"x": [0.0, 1.0]}, newdata=NEW, draws="prior", re_formula="NA")
    by_hand = [mixeff.predictions(fit, f, draws="prior", re_formula="NA").draws for f in (lo, hi)]
    np.testing.assert_allclose(cmp.draws, by_hand[1] - by_hand[0], rtol=1e-10)
    sig = mixeff.comparisons(fit, {"x": [0.0, 1.0]}, newdata=NEW.iloc[:1], draws="prior", dpar="sigma")
    np.testing.assert_allclose(
        sig.draws[0], np.exp(b["sigma_Intercept"] + b["sigma_x"]) - np.exp(b["sigma_Intercept"]), rtol=1e-10
    )


def test_slopes_of_a_distributional_model_are_the_derivative_of_the_mean():
    """d/dx exp(μ(x) + σ(x)²/2) = E[Y] (b1 + σ² c1) for μ = b0 + b1 x, log σ = c0 + c1 x."""
    fit, b, sigma, mean = _lognormal_by_hand()
    got = mixeff.slopes(fit, "x", newdata=NEW, draws="prior", re_formula="NA")
    # draws where sigma stays below 2: the wide prior's others reach E[Y] ~ 1e168, whose curvature a
    # finite difference cannot resolve to 1e-6 (its error grows with the third derivative)
    calm = (sigma < 2).all(axis=0)
    assert calm.sum() >= 10
    exact = mean * (b["x"] + sigma**2 * b["sigma_x"])
    scale = mean * (np.abs(b["x"]) + sigma**2 * np.abs(b["sigma_x"]))  # the two terms may nearly cancel
    assert (np.abs(got.draws - exact) <= 1e-6 * scale)[:, calm].all()
    sd = mixeff.slopes(fit, "x", newdata=NEW, draws="prior", re_formula="NA", dpar="sigma")
    np.testing.assert_allclose(sd.draws, sigma * b["sigma_x"], rtol=1e-6)


def test_re_formula_and_new_levels_reach_the_auxiliary_formula():
    m, fit = case_fit("gaussian-sigma")
    r = draws_of(fit, "sigma_1|g")  # (S, levels)
    b = {k: draws_of(fit, k) for k in ("sigma_Intercept", "sigma_x")}
    x = NEW["x"].to_numpy()[:, None]
    codes = [list("abcde").index(g) for g in NEW["g"]]
    full = mixeff.predictions(fit, NEW, draws="prior", dpar="sigma")
    np.testing.assert_allclose(full.draws, np.exp(b["sigma_Intercept"] + b["sigma_x"] * x + r[:, codes].T), rtol=1e-12)
    only_mean = mixeff.predictions(fit, NEW, draws="prior", dpar="sigma", re_formula="~(1|g)")
    np.testing.assert_allclose(only_mean.draws, full.draws, rtol=1e-12)  # (1|g) is in both formulas
    new = NEW.assign(g="zz")
    with pytest.raises(ValueError, match="allow_new_levels=True"):
        mixeff.predictions(fit, new, draws="prior", dpar="sigma")
    sim = mixeff.predictions(
        fit, new, draws="prior", dpar="sigma", allow_new_levels=True, sample_new_levels="gaussian", seed=3
    )
    log_ratio = np.log(sim.draws) - (b["sigma_Intercept"] + b["sigma_x"] * x)
    np.testing.assert_allclose(
        log_ratio, np.broadcast_to(log_ratio[:1], log_ratio.shape), rtol=1e-10
    )  # one new level: the same effect in every row
    assert sim.new_levels["factors"] == ["g"]
    _, lognormal = case_fit("zip-psi")
    with pytest.raises(ValueError, match="integrates new levels of the mean's random effects only.*'psi'"):
        mixeff.predictions(lognormal, new, draws="prior", allow_new_levels=True, sample_new_levels="integrate")


@pytest.mark.parametrize("name", ["cumulative", "sratio", "categorical-groups"])
def test_category_probabilities_sum_to_one_and_average_per_group(name):
    m, fit = case_fit(name)
    spec = fit.spec("prior")
    k = len(spec.categories)
    p = mixeff.predictions(fit, NEW, draws="prior")
    assert p.summary.columns[0] == "group"
    np.testing.assert_allclose(p.draws.reshape(k, len(NEW), -1).sum(axis=0), 1.0, atol=1e-12)
    avg = mixeff.avg_predictions(fit, NEW, draws="prior")
    assert avg.summary["group"].tolist() == list(spec.categories)
    np.testing.assert_allclose(avg.draws, p.draws.reshape(k, len(NEW), -1).mean(axis=1), rtol=1e-12)
    by = mixeff.avg_predictions(fit, NEW.assign(h=[0, 0, 1, 1]), by="h", draws="prior")
    assert by.summary[["group", "h"]].astype(str).values.tolist() == [
        [c, h] for c in spec.categories for h in ("0", "1")
    ]
    cmp = mixeff.avg_comparisons(fit, "x", newdata=NEW, draws="prior")
    assert cmp.summary["group"].tolist() == list(spec.categories)
    np.testing.assert_allclose(cmp.draws.sum(axis=0), 0.0, atol=1e-12)  # probability moves between categories
    w = mixeff.avg_predictions(fit, NEW, wts=np.array([1.0, 2.0, 3.0, 4.0]), draws="prior")
    expected = (p.draws.reshape(k, len(NEW), -1) * np.array([1, 2, 3, 4])[None, :, None]).sum(axis=1) / 10
    np.testing.assert_allclose(w.draws, expected, rtol=1e-12)


def test_ordinal_link_is_eta_and_categorical_link_is_each_categorys_eta():
    _, fit = case_fit("cumulative")
    b, r = draws_of(fit, "x"), draws_of(fit, "1|g")
    codes = [list("abcde").index(g) for g in NEW["g"]]
    eta = mixeff.predictions(fit, NEW, draws="prior", type="link")
    assert "group" not in eta.summary.columns
    np.testing.assert_allclose(eta.draws, b * NEW["x"].to_numpy()[:, None] + r[:, codes].T, rtol=1e-12)
    _, cat = case_fit("categorical")
    links = mixeff.predictions(cat, NEW, draws="prior", type="link")
    b0, b1 = draws_of(cat, "Intercept"), draws_of(cat, "x")  # (S, 2): categories B and C
    x = NEW["x"].to_numpy()[:, None]
    expected = np.concatenate([np.zeros((len(NEW), S)), (b0[:, 0] + b1[:, 0] * x), (b0[:, 1] + b1[:, 1] * x)])
    np.testing.assert_allclose(links.draws, expected, rtol=1e-12, atol=1e-14)


def _pymc_mean(make, n=400_000):
    draws = pm.draw(make(n), random_seed=11)  # one vectorised draw of n values
    return draws.mean(), draws.std() / np.sqrt(n)


@pytest.mark.parametrize(
    "family, params, dist",
    [
        (
            "zero_inflated_poisson",
            {"mu": 3.0, "psi": 0.6},
            lambda n: pm.ZeroInflatedPoisson.dist(psi=0.6, mu=3.0, size=n),
        ),
        (
            "zero_inflated_negativebinomial",
            {"mu": 3.0, "psi": 0.6, "alpha": 2.0},
            lambda n: pm.ZeroInflatedNegativeBinomial.dist(psi=0.6, mu=3.0, alpha=2.0, size=n),
        ),
        ("hurdle_poisson", {"mu": 0.7, "psi": 0.6}, lambda n: pm.HurdlePoisson.dist(psi=0.6, mu=0.7, size=n)),
        (
            "hurdle_negativebinomial",
            {"mu": 0.7, "psi": 0.6, "alpha": 1.5},
            lambda n: pm.HurdleNegativeBinomial.dist(psi=0.6, mu=0.7, alpha=1.5, size=n),
        ),
        (
            "hurdle_gamma",
            {"mu": 2.0, "psi": 0.6, "alpha": 3.0},
            lambda n: pm.HurdleGamma.dist(psi=0.6, mu=2.0, sigma=2.0 / np.sqrt(3.0), size=n),
        ),
        (
            "hurdle_lognormal",
            {"mu": 0.3, "psi": 0.6, "sigma": 0.5},
            lambda n: pm.HurdleLogNormal.dist(psi=0.6, mu=0.3, sigma=0.5, size=n),
        ),
        (
            "asymmetriclaplace",
            {"mu": 1.0, "b": 2.0, "kappa": 0.6},
            lambda n: pm.AsymmetricLaplace.dist(mu=1.0, b=2.0, kappa=0.6, size=n),
        ),
        (
            "exgaussian",
            {"mu": 1.0, "sigma": 0.5, "nu": 2.0},
            lambda n: pm.ExGaussian.dist(mu=1.0, sigma=0.5, nu=2.0, size=n),
        ),
        (
            "weibull",
            {"mu": 2.0, "alpha": 1.7},
            lambda n: pm.Weibull.dist(alpha=1.7, beta=2.0 / special.gamma(1 + 1 / 1.7), size=n),
        ),
        ("wald", {"mu": 2.0, "lam": 3.0}, lambda n: pm.Wald.dist(mu=2.0, lam=3.0, size=n)),
    ],
)
def test_mean_formulas_and_draws_agree_with_pymc(family, params, dist):
    """The formula against PyMC's own sampler (5 MC SE), and mixeff's predictive draws against the formula."""
    fam = get_family(family)
    mu = np.full((1, 1), params["mu"])
    aux = {k: np.array([v]) for k, v in params.items() if k != "mu"}
    mean = fam.mean(mu.copy(), aux, None)[0, 0]
    theirs, se = _pymc_mean(dist)
    assert abs(mean - theirs) < 5 * se
    ours = fam.draw(np.random.default_rng(5), np.full((400_000, 1), params["mu"]), aux, None)
    assert abs(ours.mean() - mean) < 5 * ours.std() / np.sqrt(ours.size)


def test_every_bambi_family_is_supported_or_refused_by_name():
    from bambi.defaults.families import BUILTIN_FAMILIES

    for name in BUILTIN_FAMILIES:
        if name in REFUSED_FAMILIES:
            with pytest.raises(ValueError, match=f"family='{name}' is not supported: .*mixeff supports"):
                get_family(name)
        else:
            assert get_family(name).name in FAMILIES


def test_dpar_and_category_errors():
    _, fit = case_fit("zip")
    with pytest.raises(
        ValueError,
        match=r"dpar='zi' is not a parameter of this zero_inflated_poisson model; "
        r"choose one of \['mu', 'psi'\]",
    ):
        mixeff.predictions(fit, NEW, draws="prior", dpar="zi")
    with pytest.raises(ValueError, match=r"brms's zi is 1 - psi here: dpar='psi' gives the probability of the count"):
        mixeff.predictions(fit, NEW, draws="prior", dpar="zi")
    with pytest.raises(ValueError, match="type='prediction' draws the response"):
        mixeff.predictions(fit, NEW, draws="prior", dpar="mu", type="prediction")
    with pytest.raises(ValueError, match="'psi' has no formula of its own.*type='response'"):
        mixeff.predictions(fit, NEW, draws="prior", dpar="psi", type="link")
    psi = mixeff.predictions(fit, NEW, draws="prior", dpar="psi")
    np.testing.assert_array_equal(psi.draws, np.broadcast_to(draws_of(fit, "psi"), psi.draws.shape))
    _, cat = case_fit("cumulative")
    with pytest.raises(ValueError, match="type='prediction' is not available for the cumulative family"):
        mixeff.predictions(cat, NEW, draws="prior", type="prediction")
    with pytest.raises(ValueError, match="dpar='mu': the cumulative family's values are category probabilities"):
        mixeff.predictions(cat, NEW, draws="prior", dpar="mu")
    with pytest.raises(ValueError, match="newdata has a column 'group'.*rename"):
        mixeff.predictions(cat, NEW.assign(group=1), draws="prior")


def test_a_distributional_fit_pickles_and_predicts_the_same():
    _, fit = case_fit("gaussian-sigma")
    again = pickle.loads(pickle.dumps(fit))
    for dpar in (None, "sigma"):
        a = mixeff.predictions(fit, NEW, draws="prior", dpar=dpar)
        b = mixeff.predictions(again, NEW, draws="prior", dpar=dpar)
        np.testing.assert_array_equal(a.draws, b.draws)


def test_as_draws_df_writes_zi_as_brms_does_and_refuses_what_it_cannot_write():
    _, zip_fit = case_fit("zip")
    table = mixeff.as_draws_df(zip_fit, draws="prior")
    np.testing.assert_allclose(table["zi"], 1 - draws_of(zip_fit, "psi"), rtol=1e-15)
    assert "psi" not in table.columns
    _, hurdle = case_fit("hurdle-poisson")
    assert "hu" in mixeff.as_draws_df(hurdle, draws="prior").columns
    for name, what in (("gaussian-sigma", r"formulas for \['sigma'\]"), ("cumulative", "the cumulative family")):
        with pytest.raises(ValueError, match=f"this model has {what}: read its draws from the fit's DataTree"):
            mixeff.as_draws_df(case_fit(name)[1], draws="prior")


def test_priors_that_would_be_wrong_for_ordinal_thresholds_and_psi_are_refused():
    with pytest.raises(
        ValueError, match="priors='brms': mixeff has brms's defaults for .* not for the cumulative family's 'threshold'"
    ):
        mixeff.fit("yo ~ x + (1|g)", DATA, family="cumulative", priors="brms")
    with pytest.raises(ValueError, match="'threshold' is not a scale; pass a bambi Prior.*transform='ordered'"):
        mixeff.fit("yo ~ x + (1|g)", DATA, family="cumulative", priors={"threshold": "student_t(3, 0, 2.5)"})
    with pytest.raises(ValueError, match="'psi' is not a scale"):
        mixeff.fit("count ~ x", DATA, family="zero_inflated_poisson", priors={"psi": "normal(0, 1)"})


def test_ordinal_probabilities_integrated_over_a_new_level_equal_the_probit_closed_form():
    """P(Y <= k) over a new judge u ~ N(0, σ²): Φ((τ_k − η)/√(1 + σ²)) for the probit link.

    The engine's closed form (its categories from the tails) vs the formula by hand.
    """
    from scipy.stats import norm

    _, fit = case_fit("cumulative-probit")
    tau, b, sd = draws_of(fit, "threshold"), draws_of(fit, "x"), draws_of(fit, "1|g_sigma")
    new = NEW.assign(g="new judge")
    got = mixeff.predictions(fit, new, draws="prior", allow_new_levels=True, sample_new_levels="integrate")
    eta = b * new["x"].to_numpy()[:, None]
    cdf = (
        [np.zeros_like(eta)]
        + [norm.cdf((tau[:, k] - eta) / np.sqrt(1 + sd**2)) for k in range(2)]
        + [np.ones_like(eta)]
    )
    expected = np.concatenate([cdf[k + 1] - cdf[k] for k in range(3)])
    np.testing.assert_allclose(got.draws, expected, rtol=1e-12, atol=1e-15)
    assert got.new_levels["method"] == "closed form"


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][1] not in ("cumulative", "sratio", "categorical")])
def test_comparisons_are_hi_minus_lo_of_bambis_parameters(name):
    """x from -0.5 to 0.5 per row: the response's change equals hi − lo of the family mean built from
    Bambi's own parameters at the two values (and the mean parameter's change, with dpar="mu")."""
    m, fit = case_fit(name)
    lo, hi = (bambi_params(m, fit, NEW.assign(x=v), include_group_specific=False) for v in (-0.5, 0.5))
    parent = fit.spec("prior").family.parent
    kw = dict(newdata=NEW, draws="prior", re_formula="NA")
    got = mixeff.comparisons(fit, {"x": [-0.5, 0.5]}, **kw)
    expected = _by_hand(name, fit, hi[parent], hi) - _by_hand(name, fit, lo[parent], lo)
    np.testing.assert_allclose(got.draws, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
    mu = mixeff.comparisons(fit, {"x": [-0.5, 0.5]}, dpar="mu", **kw)
    change = hi[parent] - lo[parent]
    np.testing.assert_allclose(mu.draws, change, rtol=1e-9, atol=1e-12 * np.abs(change).max())


def test_logit_increment_is_exact_at_extreme_eta_and_steps():
    """Vague priors put η and contrasts in the thousands: the increment stays finite and equals the ordered
    exact form expit(hi) expit(-lo) (1 - e^-|d|) (no 1 + e - e cancellation when e^d underflows)."""
    from scipy import special

    from mixeff.engine.links import _logit_increment

    rng = np.random.default_rng(0)
    eta, d = rng.uniform(-2000, 2000, (40, 300)), rng.uniform(-2000, 2000, (1, 300))
    hi, lo = eta + np.maximum(d, 0), eta + np.minimum(d, 0)
    want = np.sign(d) * special.expit(hi) * special.expit(-lo) * -np.expm1(-np.abs(d))
    got = _logit_increment(eta, d)
    assert np.isfinite(got).all()
    # a probability difference: to 1e-12 relative, or 1e-15 absolute where it underflows toward 0
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
