"""No silent wrong answers from the verbs: every bad input is a clear error at the door.

Each case here once returned NaN, inf or a numpy/pandas traceback.  The model is the
real brms sleepstudy fit (draws from tests/fixtures) or the made-up lognormal toy spec.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixeff
from mixeff.config import set_options
from mixeff.model.examples import toy_spec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brms_sleepstudy"


@pytest.fixture(scope="module")
def sleep():
    draws = pd.read_csv(FIXTURE / "draws.csv")
    return mixeff.from_brms_draws(
        draws, formula="Reaction ~ 1 + Days + (1 + Days | Subject)", data=mixeff.datasets.load_sleepstudy()
    )


@pytest.fixture(scope="module")
def toy():
    return toy_spec()


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.ConvergenceWarning)  # the toy has 200 made-up draws
        yield


def four_rows(toy):
    return toy.data.head(4)


@pytest.mark.parametrize(
    "wts, message",
    [
        (np.array([1.0, np.inf, 1.0, 1.0]), r"wts has 1 infinite weight\(s\); weights must be finite"),
        (np.array([1.0, np.nan, 1.0, 1.0]), r"wts has 1 missing \(NaN\) weights"),
        (np.array([1.0, -1.0, 1.0, 1.0]), r"wts has negative weights \(min -1\)"),
    ],
)
def test_non_finite_or_negative_weights_are_refused(toy, wts, message):
    with pytest.raises(ValueError, match=message):
        mixeff.avg_predictions(toy, newdata=four_rows(toy), wts=wts)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_an_infinite_predictor_is_refused_naming_the_column(sleep, value):
    grid = pd.DataFrame({"Days": [value, 1.0], "Subject": ["308", "308"]})
    with pytest.raises(ValueError, match=r"newdata column 'Days' has 1 infinite value\(s\).*drop those rows"):
        mixeff.predictions(sleep, grid)


def test_a_transform_returning_inf_is_refused_naming_the_transform(toy):
    def log_of_zero(x):
        return np.log(x - x)

    with pytest.raises(ValueError, match=r"transform='log_of_zero' is not finite in 200 of 200 draws .*finite"):
        mixeff.avg_comparisons(toy, "TX", transform=log_of_zero)


@pytest.mark.parametrize(
    "expression, kind",
    [("b1 / (b2 - b2) = 0", "200 ±inf"), ("log(-b1) = 0", "200 NaN"), ("sqrt(b1 - b2 - 1e9)", "200 NaN")],
)
def test_hypotheses_that_divide_by_zero_or_leave_the_domain_are_refused(toy, expression, kind):
    means = mixeff.avg_predictions(toy, by="TX")
    with pytest.raises(ValueError, match=rf"hypothesis '{re_escape(expression)}' is not finite .*{kind}.*rewrite"):
        mixeff.hypotheses(means, expression)


def test_hypothesis_weights_must_be_finite(toy):
    means = mixeff.avg_predictions(toy, by="TX")
    with pytest.raises(ValueError, match="weights must be finite"):
        mixeff.hypotheses(means, [1.0, np.nan])


@pytest.mark.parametrize("value", [[np.nan, 1], [np.inf, 1], [1, -np.inf]])
def test_non_finite_contrast_values_are_blamed_on_variables(sleep, value):
    with pytest.raises(ValueError, match=r"variables=\{'Days': .*both values must be finite numbers"):
        mixeff.avg_comparisons(sleep, variables={"Days": value})


@pytest.mark.parametrize("step", [np.nan, np.inf])
def test_a_non_finite_step_is_refused(sleep, step):
    with pytest.raises(ValueError, match=r"the step must be a finite number"):
        mixeff.avg_comparisons(sleep, variables={"Days": step})


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda s: mixeff.avg_predictions(s, by="TX", conf_level="0.9"),
            TypeError,
            r"conf_level='0.9' must be a number",
        ),
        (lambda s: mixeff.avg_predictions(s, by="TX", conf_level=True), TypeError, r"conf_level=True must be a number"),
        (lambda s: mixeff.avg_comparisons(s, "TX", estimator=3), ValueError, r"estimator=3 is not one of"),
        (
            lambda s: mixeff.predictions(
                s, mixeff.datagrid(s, cluster=mixeff.new_levels(2)), allow_new_levels=True, seed="abc"
            ),
            TypeError,
            r"seed='abc': seed must be an int >= 0 \(or a numpy Generator",
        ),
        (
            lambda s: mixeff.predictions(
                s, mixeff.datagrid(s, cluster=mixeff.new_levels(2)), allow_new_levels=True, seed=-1
            ),
            ValueError,
            r"seed=-1: seed must be an int >= 0",
        ),
        (
            lambda s: mixeff.datagrid(s, newdata="not a frame"),
            TypeError,
            r"datagrid: newdata must be a pandas DataFrame",
        ),
        (
            lambda s: mixeff.predictions(s, chunk_rows=-1),
            ValueError,
            r"chunk_rows=-1: chunk_rows must be an int >= 1 \(rows per engine chunk",
        ),
        (lambda s: mixeff.avg_predictions(s, by=["TX", "TX"]), ValueError, r"names a column more than once"),
        (lambda s: mixeff.avg_predictions(s, by=3), TypeError, r"by=3 must be a column name"),
        (lambda s: mixeff.avg_predictions(s, by=["TX", 1]), TypeError, r"by=\['TX', 1\] must be a column name"),
    ],
)
def test_wrong_types_and_values_name_the_argument(toy, call, error, message):
    with pytest.raises(error, match=message):
        call(toy)


def test_eps_of_the_wrong_type_names_eps(sleep):
    with pytest.raises(TypeError, match=r"eps='0.1' must be a positive number"):
        mixeff.avg_slopes(sleep, "Days", eps="0.1")


def test_a_result_too_large_for_memory_is_refused_at_once_with_its_size():
    spec = toy_spec()
    grid = pd.DataFrame({"TX": np.zeros(5000, int), "cluster": "1"})
    before = set_options(memory_limit=1e6)
    try:
        with pytest.raises(MemoryError, match=r"1,000,000 draws: about 0.0 GiB .* Ways out: average within draws"):
            mixeff.predictions(spec, grid)
        with pytest.raises(MemoryError, match=r"Ways out"):
            mixeff.comparisons(spec, "TX", newdata=grid)
        averaged = mixeff.avg_predictions(spec, grid)  # the way out works under the same limit
        assert averaged.draws.shape == (1, 200)
    finally:
        set_options(**before)
    with pytest.raises(ValueError, match="memory_limit=-1 must be a positive number"):
        set_options(memory_limit=-1)


def test_an_interrupted_call_leaves_nothing_behind(monkeypatch):
    """A KeyboardInterrupt mid-pass closes its progress bar and leaves no state: the next call is identical."""
    from mixeff.engine import passes

    spec = toy_spec()
    grid = pd.DataFrame({"TX": np.tile([0, 1], 50), "cluster": "1"})
    reference = mixeff.predictions(spec, grid, chunk_rows=10, progress=False).draws
    real = passes.ChunkDraws.__init__
    calls = {"n": 0}

    def interrupt_on_third(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(self, *args, **kwargs)

    monkeypatch.setattr(passes.ChunkDraws, "__init__", interrupt_on_third)
    with pytest.raises(KeyboardInterrupt):
        mixeff.predictions(spec, grid, chunk_rows=10, progress=True)
    monkeypatch.setattr(passes.ChunkDraws, "__init__", real)
    from tqdm import tqdm

    assert not [bar for bar in tqdm._instances if not bar.disable]
    np.testing.assert_array_equal(mixeff.predictions(spec, grid, chunk_rows=10, progress=False).draws, reference)


def re_escape(text):
    import re

    return re.escape(text)


def _eta_spec(family, link):
    from mixeff.model.families import FAMILIES

    fam = FAMILIES[family]
    s = 40
    aux = {
        "sigma": np.full(s, 1.0),
        "nu": np.full(s, 5.0),
        "alpha": np.full(s, 2.0),
        "kappa": np.full(s, 5.0),
        "psi": np.full(s, 0.7),
        "b": np.full(s, 1.0),
        "lam": np.full(s, 2.0),
        "threshold": np.tile([-1.0, 1.0], (s, 1)),
    }
    data = pd.DataFrame({"x": np.linspace(-1, 1, 8), "y": np.ones(8), "n": 10})
    design = lambda f: f[["x"]].to_numpy(float)  # noqa: E731
    dpars = (
        {
            f"mu{c}": mixeff.model.spec.Predictor(design, np.full((s, 1), k + 1.0), ["x"], {}, "identity")
            for k, c in enumerate("BC")
        }
        if family == "categorical"
        else None
    )
    return mixeff.from_arrays(
        fixed_design=design,
        beta=np.full((s, 1), 1.0),
        beta_names=["x"],
        family=family,
        link=link,
        data=data,
        aux={k: aux[k] for k in fam.aux},
        predictors=["x"],
        trials="n" if fam.needs_trials else None,
        categories=list("ABC") if fam.categorical else None,
        dpars=dpars,
    )


def _families_and_links():
    from mixeff.model.families import FAMILIES

    return [(f.name, link) for f in FAMILIES.values() for link in f.links]


@pytest.mark.parametrize("family, link", _families_and_links())
def test_linear_predictors_up_to_700_give_finite_values_and_no_warnings(family, link):
    """|η| = 700 on every family and link: expected values, link values, slopes and contrasts are finite
    and numpy says nothing (exp(700) = 1e304 still fits a float64); predictive draws are finite or
    refused clearly when the distribution cannot be sampled there."""
    spec = _eta_spec(family, link)
    for eta in (-700.0, 700.0):
        grid = pd.DataFrame({"x": [eta], "n": [10]})
        if link == "inverse_squared" and eta < 0:  # μ = 1/√η does not exist: refused, not NaN
            with pytest.raises(ValueError, match="is not finite in 40 of 40 draws"):
                mixeff.predictions(spec, grid)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", mixeff.ConvergenceWarning)  # constant made-up draws
            for type in ("link", "response"):
                for result in (
                    mixeff.predictions(spec, grid, type=type),
                    mixeff.slopes(spec, "x", newdata=grid, type=type),
                    mixeff.comparisons(spec, "x", newdata=grid, type=type),
                ):
                    assert np.isfinite(result.draws).all()
            try:
                drawn = mixeff.predictions(spec, grid, type="prediction", seed=1)
            except ValueError as err:
                assert (
                    "type='prediction': no draw from the" in str(err) or spec.family.categorical
                ) and "type='response'" in str(err)
            else:
                assert np.isfinite(drawn.draws).all()


def test_exact_values_at_700():
    """Values, not just finiteness: the inverse links at η = ±700 against their limits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixeff.ConvergenceWarning)
        at = {
            eta: {
                link: mixeff.predictions(_eta_spec("bernoulli", link), pd.DataFrame({"x": [eta]})).draws[0, 0]
                for link in ("logit", "probit", "cloglog")
            }
            for eta in (-700.0, 700.0)
        }
        poisson = mixeff.predictions(_eta_spec("poisson", "log"), pd.DataFrame({"x": [700.0]})).draws[0, 0]
    assert at[700.0] == {"logit": 1.0, "probit": 1.0, "cloglog": 1.0}
    assert at[-700.0]["logit"] == pytest.approx(np.exp(-700.0), rel=1e-12)
    assert at[-700.0]["probit"] == 0.0  # Φ(-700) underflows to exactly 0
    assert at[-700.0]["cloglog"] == pytest.approx(np.exp(-700.0), rel=1e-12)  # 1 - exp(-e^η) ≈ e^η
    assert poisson == pytest.approx(np.exp(700.0), rel=1e-12)


def test_a_lognormal_mean_that_overflows_is_an_error_not_inf():
    spec = _eta_spec("lognormal", "identity")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", mixeff.ConvergenceWarning)
        with pytest.raises(
            ValueError,
            match=r"predictions .* is not finite in 40 of 40 draws \(0 NaN, 40 ±inf.*"
            r"overflow float64.*type='link'",
        ):
            mixeff.predictions(spec, pd.DataFrame({"x": [709.5]}))
        link = mixeff.predictions(spec, pd.DataFrame({"x": [709.5]}), type="link")
    assert link.draws[0, 0] == 709.5


def test_a_string_level_is_matched_exactly(sleep, toy):
    """'0308' is not Subject '308' and '01' is not cluster '1' (both string columns): new levels, not aliases."""
    for spec, column, label in ((sleep, "Subject", "0308"), (toy, "cluster", "01")):
        grid = spec.data.head(1).assign(**{column: label})
        with pytest.raises(
            ValueError, match=rf"level\(s\) \['{label}'\] of grouping factor '{column}'.*allow_new_levels=True"
        ):
            mixeff.predictions(spec, grid)
    # a number names the level it prints as
    as_number = mixeff.predictions(sleep, pd.DataFrame({"Days": [1], "Subject": [308]})).draws
    as_string = mixeff.predictions(sleep, pd.DataFrame({"Days": [1], "Subject": ["308"]})).draws
    np.testing.assert_array_equal(as_number, as_string)


def test_numeric_cluster_ids_match_as_numbers():
    """A numeric grouping column: 1, 1.0, "1" and "01" are the same cluster."""
    base = toy_spec()
    data = base.data.assign(cluster=base.data["cluster"].astype(int))
    g = base.groups["cluster"]
    group = mixeff.model.spec.GroupFactor(
        name="cluster",
        columns=("cluster",),
        levels=g.levels,
        terms=g.terms,
        b=g.b,
        sd=g.sd,
        cor=None,
        design=g.design,
        term_blocks=g.term_blocks,
    )
    spec = mixeff.from_arrays(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["TX"].to_numpy(float)]),
        beta=base.beta,
        beta_names=base.beta_names,
        family="lognormal",
        data=data,
        groups=[group],
        aux=base.aux,
        n_chains=base.n_chains,
        predictors=["TX"],
    )
    draws = [mixeff.predictions(spec, pd.DataFrame({"TX": [1], "cluster": [v]})).draws for v in (1, 1.0, "1", "01")]
    for d in draws[1:]:
        np.testing.assert_array_equal(d, draws[0])
