"""pp_check's streamed statistics: the same numbers as numpy's statistics of posterior_predict's draws.

``type="stat"``/``"stat_grouped"`` with ``mean``, ``sd``, ``var`` or ``prop_zero`` reduce each row chunk's
replicated values within draw by panel (no rows × draws array); the replications are posterior_predict's
for the same seed.  Specs: made-up brms-named draws, two chains of 1000 independent draws.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import mixeff  # noqa: E402
import mixeff.plots.ppc as ppc  # noqa: E402
from mixeff.verbs.predictive import replicated_statistics  # noqa: E402

S = 2000
CLUSTERS = [f"c{i}" for i in range(6)]
SEED = 7
NAMES = ["mean", "sd", "var", "prop_zero"]
NUMPY = {
    "mean": lambda a: a.mean(axis=0),
    "sd": lambda a: a.std(axis=0, ddof=1),
    "var": lambda a: a.var(axis=0, ddof=1),
    "prop_zero": lambda a: (a == 0).mean(axis=0),
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _spec(family: str, n: int = 150):
    rng = np.random.default_rng(21)
    data = pd.DataFrame({"x": rng.uniform(-1, 1, n), "g": rng.choice(CLUSTERS, n), "k": rng.integers(0, 3, n)})
    r = np.random.default_rng(8)
    intercept = {"gaussian": 50.0, "poisson": 0.3, "bernoulli": -0.4}[family]
    columns = {"b_Intercept": r.normal(intercept, 0.1, S), "b_x": r.normal(0.8, 0.1, S)}
    columns["sd_g__Intercept"] = np.abs(r.normal(0.4, 0.05, S))
    columns |= {f"r_g[{lev},Intercept]": r.normal(0, 0.4, S) for lev in CLUSTERS}
    if family == "gaussian":
        columns["sigma"] = r.uniform(0.8, 1.2, S)
    eta = intercept + 0.8 * data["x"].to_numpy()
    data["y"] = {
        "gaussian": lambda: eta + rng.normal(0, 1, n),
        "poisson": lambda: rng.poisson(np.exp(eta)),
        "bernoulli": lambda: (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
    }[family]()
    table = pd.DataFrame(columns)
    table[".chain"] = np.repeat([1, 2], S // 2)
    table[".iteration"] = np.tile(np.arange(1, S // 2 + 1), 2)
    table[".draw"] = np.arange(1, S + 1)
    return mixeff.from_brms_draws(table, formula="y ~ x + (1 | g)", data=data, family=family)


@pytest.fixture(scope="module", params=["gaussian", "poisson", "bernoulli"])
def spec(request):
    return _spec(request.param)


def _codes(spec, by):
    if by is None:
        return np.zeros(len(spec.data), dtype=np.int64)
    return pd.factorize(spec.data[by])[0].astype(np.int64)


def _close(actual, expected, rtol=1e-10):
    """Relative to the statistic's scale over the draws (a draw's prop_zero or var can be 0)."""
    assert np.max(np.abs(actual - expected)) <= rtol * np.max(np.abs(expected))


@pytest.mark.parametrize("by", [None, "g"])
def test_streamed_statistics_are_numpy_statistics_of_posterior_predict_draws(spec, by):
    codes = _codes(spec, by)
    t = replicated_statistics(spec, spec.data, NAMES, codes, seed=SEED)
    y_rep = mixeff.posterior_predict(spec, seed=SEED).draws
    whole = spec.family.support != "real"
    for g in range(codes.max() + 1):
        rows = y_rep[codes == g]
        for name in NAMES:
            assert t[name].shape == (codes.max() + 1, S)
            if whole and name in ("mean", "prop_zero"):  # sums of whole numbers are exact: numpy's bits
                np.testing.assert_array_equal(t[name][g], NUMPY[name](rows))
            else:
                _close(t[name][g], NUMPY[name](rows))


def test_variance_is_centred_not_cancelled():
    """Replications near 1e6 (sd ~1) whose mean moves by 1e5 between draws: centred on a replicated value
    of each draw, E[d²] − E[d]² keeps its digits (centred on one value for all draws it would lose ~10)."""
    spec = _spec("gaussian", n=60)
    data = spec.data.assign(x=spec.data["x"] + 1.25e6)
    codes = _codes(spec, "g")
    t = replicated_statistics(spec, data, ["var", "sd"], codes, seed=SEED)
    y_rep = mixeff.posterior_predict(spec, data, seed=SEED).draws
    assert y_rep.mean() > 9e5 and np.ptp(y_rep.mean(axis=0)) > 1e5
    for g in range(codes.max() + 1):
        _close(t["var"][g], NUMPY["var"](y_rep[codes == g]), rtol=1e-9)
        _close(t["sd"][g], NUMPY["sd"](y_rep[codes == g]), rtol=1e-9)


@pytest.mark.parametrize("chunk_rows", [1, 7, 64])
def test_the_same_bits_for_any_chunk_size(spec, chunk_rows):
    codes = _codes(spec, "g")
    default = replicated_statistics(spec, spec.data, NAMES, codes, seed=SEED)
    other = replicated_statistics(spec, spec.data, NAMES, codes, seed=SEED, chunk_rows=chunk_rows)
    for name in NAMES:
        np.testing.assert_array_equal(other[name], default[name])


def _in_memory(monkeypatch):
    monkeypatch.setattr(ppc, "_streamable", lambda *args: False)


CASES = [
    dict(type="stat", stat="mean"),
    dict(type="stat", stat="sd"),
    dict(type="stat", stat=("mean", "prop_zero")),
    dict(type="stat_grouped", stat="var", group="g"),
    dict(type="stat_grouped", stat="prop_zero", group="k"),
    dict(type="stat", stat="sd", ndraws=300),
    dict(type="stat", stat="mean", levels="new"),
]


def _exact_p(y, y_rep):
    """P(var(y_rep) >= var(y)) of whole numbers in exact integer arithmetic: n·Σy² − (Σy)² orders the variances."""
    y, y_rep = y.astype(np.int64), y_rep.astype(np.int64)
    n = len(y)
    observed = n * (y * y).sum() - y.sum() ** 2
    replicated = n * (y_rep * y_rep).sum(axis=0) - y_rep.sum(axis=0) ** 2
    return float(np.mean(replicated >= observed))


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_pp_check_data_and_p_values_as_the_in_memory_path(spec, case, monkeypatch):
    """The same draw=False data (to 1e-10) and p-values.

    Except var/sd of whole numbers, whose p-values are the exact ones: numpy's var depends on the order of
    the values in its last bits, so the in-memory path breaks some ties between T(y_rep) and T(y) at random.
    """
    streamed = mixeff.pp_check(spec, **case, seed=SEED, draw=False)
    _in_memory(monkeypatch)
    in_memory = mixeff.pp_check(spec, **case, seed=SEED, draw=False)
    pd.testing.assert_frame_equal(streamed, in_memory, check_exact=False, rtol=1e-10, atol=0.0)
    whole = spec.family.support != "real"
    if not (whole and case["stat"] in ("sd", "var")):
        assert streamed.attrs == in_memory.attrs  # the p-values among them
        return
    y = spec.data["y"].to_numpy()
    y_rep = mixeff.posterior_predict(spec, seed=SEED, levels=case.get("levels", "existing")).draws
    ids = streamed.loc[streamed["rep"] != "observed", "rep"].to_numpy(dtype=int)
    group = case.get("group")
    labels = [None] if group is None else list(pd.unique(spec.data[group]))
    for label in labels:
        rows = np.ones(len(y), bool) if label is None else (spec.data[group] == label).to_numpy()
        exact = _exact_p(y[rows], y_rep[rows][:, np.unique(ids)])
        assert (streamed.attrs["p_value"] if label is None else streamed.attrs["p_value"][label]) == exact


def test_the_figure_and_a_generator_seed_as_the_in_memory_path(monkeypatch):
    spec = _spec("poisson")
    fig = mixeff.pp_check(spec, "stat_grouped", stat="mean", group="g", seed=np.random.default_rng(4))
    ref_data = mixeff.pp_check(spec, "stat", stat="prop_zero", ndraws=500, seed=np.random.default_rng(5), draw=False)
    _in_memory(monkeypatch)
    ref = mixeff.pp_check(spec, "stat_grouped", stat="mean", group="g", seed=np.random.default_rng(4))
    data = mixeff.pp_check(spec, "stat", stat="prop_zero", ndraws=500, seed=np.random.default_rng(5), draw=False)
    assert fig.mixeff_p_value == ref.mixeff_p_value
    assert [a.get_title() for a in fig.axes] == [a.get_title() for a in ref.axes]
    for a, b in zip(fig.axes, ref.axes):
        np.testing.assert_array_equal([p.get_height() for p in a.patches], [p.get_height() for p in b.patches])
    pd.testing.assert_frame_equal(ref_data, data)


def test_named_statistics_stream_and_others_do_not(monkeypatch):
    spec = _spec("gaussian")
    calls = []
    real = ppc.posterior_predict
    monkeypatch.setattr(ppc, "posterior_predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    for stat in ["mean", "sd", "var", "prop_zero", ("sd", "mean")]:
        mixeff.pp_check(spec, "stat", stat=stat, seed=SEED, draw=False)
    assert calls == []
    for stat in ["median", "max", ("mean", np.median), lambda a: float(np.mean(a))]:
        mixeff.pp_check(spec, "stat", stat=stat, seed=SEED, draw=False)
    assert len(calls) == 4


def test_replicated_statistics_refuses_what_it_cannot_stream():
    spec = _spec("gaussian", n=12)
    codes = np.zeros(12, dtype=np.int64)
    with pytest.raises(ValueError, match=r"\['max'\] are not streamed"):
        replicated_statistics(spec, spec.data, ["max"], codes)
    with pytest.raises(ValueError, match="every group with rows"):
        replicated_statistics(spec, spec.data, ["mean"], codes + 1)
