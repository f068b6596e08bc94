"""Shared fits: each model is sampled once per test session (MCMC is the slow part).

Tests that sample (MCMC) are marked ``slow`` here, at collection: a test is slow when it, or a
fixture in its closure, calls a sampler (``mixeff.fit``/``model.fit`` without
``sample_prior="only"``, ``example_fit()``, ``pm.sample``) outside a ``pytest.raises`` block.
Tests that sample through a helper the source scan cannot see carry ``@pytest.mark.slow``
themselves.  The scan is checked at run time: a test not marked ``slow`` that reaches
``bambi.Model.fit`` or ``pymc.sample`` fails, so ``pytest -m "not slow"`` never runs MCMC.
"""

import ast
import functools
import inspect
import re
import textwrap

import numpy as np
import pandas as pd
import pytest

import mixeff

FAST = dict(draws=250, tune=300, chains=2, progress=False)


@pytest.fixture(scope="session")
def magnusson_fit():
    """The seed's lognormal cluster model, y ~ 1 + TX + (1 | cluster)."""
    d = mixeff.datasets.load_magnusson()
    return mixeff.fit("y ~ 1 + TX + (1 | cluster)", d, family="lognormal", seed=11, **FAST)


@pytest.fixture(scope="session")
def sleep_fit():
    """Reaction ~ 1 + Days + (1 + Days | Subject): correlated intercepts and slopes, as brms fits them."""
    d = mixeff.datasets.load_sleepstudy()
    return mixeff.fit("Reaction ~ 1 + Days + (1 + Days | Subject)", d, family="gaussian", seed=12, **FAST)


def _logistic_data(seed=3, n_groups=12, n_per=40, sd=1.5):
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i}" for i in range(n_groups)], n_per)
    u = rng.normal(0, sd, n_groups)
    x = rng.normal(0, 1, g.size)
    z = rng.choice(["a", "b", "c"], g.size)
    eta = -1.0 + 0.5 * x + np.array([0.0, 0.4, -0.3])[pd.Categorical(z, ["a", "b", "c"]).codes] + np.repeat(u, n_per)
    y = (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"y": y, "x": x, "z": z, "g": g})


@pytest.fixture(scope="session")
def logistic_data():
    return _logistic_data()


@pytest.fixture(scope="session")
def bernoulli_fit(logistic_data):
    """y ~ x + z + (1 | g), bernoulli/logit, random-intercept sd about 1.5."""
    return mixeff.fit("y ~ x + z + (1 | g)", logistic_data, family="bernoulli", seed=13, **FAST)


@pytest.fixture(scope="session")
def gaussian_ri_fit():
    """A gaussian random-intercept model with a numeric x (seed 001, MAR.1)."""
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(5), 30)
    x = rng.normal(0, 1, g.size)
    y = np.array([60, 65, 70, 75, 80])[g] + 2.0 * x + rng.normal(0, 1, g.size)
    d = pd.DataFrame({"y": y, "x": x, "g": [f"grp{i}" for i in g]})
    return mixeff.fit("y ~ x + (1 | g)", d, family="gaussian", seed=14, **FAST)


@pytest.fixture(scope="session")
def xzg_spec():
    """Bernoulli y ~ x + z + (1 | g) from known brms-layout draws (no MCMC): a numeric x, a 3-level
    factor z, 4 clusters of 45 rows, 300 draws."""
    n, draws_n = 180, 300
    rng = np.random.default_rng(1)
    d = pd.DataFrame(
        {
            "x": rng.uniform(-3, 3, n),
            "z": rng.choice(["a", "b", "c"], n),
            "g": np.repeat([f"g{i}" for i in range(4)], n // 4),
        }
    )
    eta = -0.5 + 0.9 * d.x + (d.z == "b") * 1.0 - (d.z == "c") * 0.7
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    rng = np.random.default_rng(7)
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(-0.5, 0.2, draws_n),
            "b_x": rng.normal(0.9, 0.1, draws_n),
            "b_zb": rng.normal(1.0, 0.25, draws_n),
            "b_zc": rng.normal(-0.7, 0.25, draws_n),
            "sd_g__Intercept": rng.gamma(10, 0.05, draws_n),
        }
    )
    for i in range(4):
        draws[f"r_g[g{i},Intercept]"] = rng.normal(0.5 * (i - 1.5), 0.3, draws_n)
    return mixeff.from_brms_draws(draws, formula="y ~ x + z + (1 | g)", data=d, family="bernoulli")


# --------------------------------------------------------------------------- slow: who samples


def _callee(call: ast.Call) -> tuple[str | None, str | None]:
    """(owner, name) of a call: ``pm.sample(...)`` -> ("pm", "sample"), ``fit(...)`` -> (None, "fit")."""
    f = call.func
    if isinstance(f, ast.Name):
        return None, f.id
    if isinstance(f, ast.Attribute):
        owner = f.value.id if isinstance(f.value, ast.Name) else None
        return owner, f.attr
    return None, None


def _is_mcmc_call(call: ast.Call) -> bool:
    owner, name = _callee(call)
    if name == "example_fit":
        return True
    if name == "sample" and owner in ("pm", "pymc", "nutpie"):
        return True
    if name == "fit":
        for kw in call.keywords:  # prior-only fits are exact forward draws, no MCMC
            if kw.arg == "sample_prior" and isinstance(kw.value, ast.Constant) and kw.value.value == "only":
                return False
        return True
    return False


def _is_raises(expr) -> bool:
    return isinstance(expr, ast.Call) and _callee(expr)[1] == "raises"


@functools.cache
def _samples(func) -> bool:
    """Whether ``func``'s own source calls an MCMC sampler outside ``pytest.raises`` (which stops at the door)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    refused = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and any(_is_raises(item.context_expr) for item in node.items):
            refused.update(id(sub) for sub in ast.walk(node))
    return any(isinstance(n, ast.Call) and id(n) not in refused and _is_mcmc_call(n) for n in ast.walk(tree))


# The suite's fits are deliberately short (e.g. FAST: 2 chains of 250 draws; example_fit(): 250 draws, R-hat
# up to 1.09): mixeff's ConvergenceWarning on them says so, and is not what these tests check.  Only tests
# that sample get this filter; the warning itself is tested with pytest.warns (tests/test_trust.py), which
# records it whatever the filters.
_ROUGH_FIT = pytest.mark.filterwarnings("ignore::mixeff.ConvergenceWarning")

_DOCTEST_SAMPLES = re.compile(r"\bexample_fit\(|\bfit\((?![^)]*sample_prior=\"only\")")


def pytest_collection_modifyitems(config, items):
    for item in items:
        dtest = getattr(item, "dtest", None)
        if dtest is not None:  # a doctest of mixeff/: slow when an example fits a model
            if any(_DOCTEST_SAMPLES.search(example.source) for example in dtest.examples):
                item.add_marker(pytest.mark.slow)
                item.add_marker(_ROUGH_FIT)
            continue
        info = getattr(item, "_fixtureinfo", None)
        function = getattr(item, "function", None)
        if info is None or function is None:
            continue
        funcs = [function] + [d.func for defs in info.name2fixturedefs.values() for d in defs]
        if any(_samples(getattr(f, "__wrapped__", f)) for f in funcs):
            item.add_marker(pytest.mark.slow)
            item.add_marker(_ROUGH_FIT)


@pytest.fixture(autouse=True)
def _no_mcmc_unless_slow(request, monkeypatch):
    """A test not marked ``slow`` that samples fails: the marks above are checked, not trusted."""
    if request.node.get_closest_marker("slow") is not None:
        return
    import bambi
    import pymc

    def refusing(real):
        @functools.wraps(real)  # the signature stays readable (fit() checks its kwargs against it)
        def refuse(*args, **kwargs):
            raise AssertionError(f"{request.node.nodeid} runs MCMC: mark it @pytest.mark.slow")

        return refuse

    monkeypatch.setattr(bambi.Model, "fit", refusing(bambi.Model.fit))
    monkeypatch.setattr(pymc, "sample", refusing(pymc.sample))


# --------------------------------------------------------------------------- compiled kernels ran


def kernels_module():
    """mixeff's numba kernels (:mod:`mixeff.engine.kernels`)."""
    from mixeff.engine import kernels

    return kernels


@pytest.fixture
def compiled_calls(monkeypatch):
    """Calls of each compiled kernel during the test, by name: a parity test that asserts a count is
    known to have run numba's code, not numpy's twice.  Skips without numba."""
    import collections

    numba = pytest.importorskip("numba")
    kernels = kernels_module()
    before = mixeff.set_options(compiled=True)
    calls: collections.Counter = collections.Counter()
    for name in kernels._SOURCES:
        real = kernels._kernel(name)  # compiled now (cached on disk), or None without numba
        assert isinstance(real, numba.core.dispatcher.Dispatcher), f"kernel {name!r} is not compiled: {real!r}"

        def recording(*args, _real=real, _name=name):
            calls[_name] += 1
            return _real(*args)

        monkeypatch.setitem(kernels._compiled, name, recording)
    yield calls
    mixeff.set_options(**before)
