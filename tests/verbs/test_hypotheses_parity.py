"""hypotheses parity: marginaleffects' formulas and labels, named rows, in-verb hypothesis/equivalence/transform,
brms-style evidence on a fit's parameters and Savage-Dickey Bayes factors -- every value checked against numpy
on the same draws."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixeff
from mixeff import Result, hypotheses
from mixeff.estimands.evidence import savage_dickey

pytestmark = pytest.mark.filterwarnings("ignore::mixeff.MixeffWarning")

EXACT = dict(rtol=1e-14, atol=1e-14)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def four_rows():
    rng = np.random.default_rng(20)
    draws = rng.normal([[1.0], [2.0], [4.0], [7.0]], 0.3, size=(4, 300))
    return Result(pd.DataFrame({"x": ["a", "b", "c", "d"]}), draws, 2, 150)


@pytest.fixture(scope="module")
def grouped_rows():
    """Two groups (u, v) of three rows (a, b, c); the group column second, values positive."""
    rng = np.random.default_rng(21)
    draws = rng.normal([[1.0], [2.0], [3.0], [5.0], [4.0], [6.0]], 0.2, size=(6, 200))
    grid = pd.DataFrame({"x": ["a", "b", "c"] * 2, "g": ["u"] * 3 + ["v"] * 3})
    return Result(grid, draws, 2, 100)


def _bernoulli_spec(predictors=("x", "z"), seed=3, s=400):
    """A logistic model y ~ 1 + x + z from hand-made draws: slope of x of uncertain sign."""
    rng = np.random.default_rng(seed)
    n = 30
    data = pd.DataFrame({"x": rng.normal(size=n), "z": rng.integers(0, 2, n), "y": rng.integers(0, 2, n)})
    beta = np.column_stack([rng.normal(0.2, 0.1, s), rng.normal(0.05, 0.2, s), rng.normal(-0.3, 0.1, s)])
    return mixeff.from_arrays(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["x"], f["z"]]),
        beta=beta,
        beta_names=["Intercept", "x", "z"],
        family="bernoulli",
        data=data,
        n_chains=2,
        predictors=list(predictors),
    )


@pytest.fixture(scope="module")
def spec():
    return _bernoulli_spec()


@pytest.fixture(scope="module")
def newdata(spec):
    return spec.data.iloc[[0, 1, 2, 3]].reset_index(drop=True)


@pytest.fixture(scope="module")
def example():
    return mixeff.example_fit()


@pytest.fixture(scope="module")
def prior_fit():
    """y ~ 1 + TX + (1 | cluster), lognormal, with posterior and prior draws (2 chains x 200)."""
    d = mixeff.datasets.load_magnusson()
    return mixeff.fit(
        "y ~ 1 + TX + (1 | cluster)",
        d,
        family="lognormal",
        sample_prior="yes",
        draws=200,
        tune=200,
        chains=2,
        seed=1,
        progress=False,
        priors={"b": "normal(0, 1)", "Intercept": "normal(6, 1)"},
    )


# --------------------------------------------------------------------------- 1. formulas


def _pairs(kind, n):
    if kind == "pairwise":
        return [(i, j) for j in range(n) for i in range(j + 1, n)]
    if kind == "revpairwise":
        return [(i, j) for j in range(n) for i in range(j)]
    if kind == "reference":
        return [(i, 0) for i in range(1, n)]
    if kind == "revreference":
        return [(0, i) for i in range(1, n)]
    return [(i, i - 1) for i in range(1, n)]  # sequential


def test_pairwise_orders_lower_triangle_column_by_column(four_rows):
    d = four_rows.draws
    h = hypotheses(four_rows, "~ pairwise")
    assert h.summary["hypothesis"].tolist() == [
        "(b) - (a)",
        "(c) - (a)",
        "(d) - (a)",
        "(c) - (b)",
        "(d) - (b)",
        "(d) - (c)",
    ]
    expected = np.stack([d[1] - d[0], d[2] - d[0], d[3] - d[0], d[2] - d[1], d[3] - d[1], d[3] - d[2]])
    np.testing.assert_allclose(h.draws, expected, **EXACT)
    np.testing.assert_allclose(h.summary["estimate"], np.median(expected, axis=1), **EXACT)
    assert h.kind == "hypotheses" and list(h.grid.columns) == ["hypothesis"]
    assert (h.n_chains, h.n_draws) == (2, 150)


@pytest.mark.parametrize("kind", ["pairwise", "revpairwise", "reference", "revreference", "sequential"])
@pytest.mark.parametrize(
    "lhs, op, sym", [("", np.subtract, "-"), ("difference ", np.subtract, "-"), ("ratio ", np.divide, "/")]
)
def test_pair_formulas_values_and_labels(four_rows, kind, lhs, op, sym):
    d, labels = four_rows.draws, four_rows.grid["x"].tolist()
    pairs = _pairs(kind, 4)
    h = hypotheses(four_rows, f"{lhs}~ {kind}")
    assert h.summary["hypothesis"].tolist() == [f"({labels[i]}) {sym} ({labels[j]})" for i, j in pairs]
    np.testing.assert_allclose(h.draws, np.stack([op(d[i], d[j]) for i, j in pairs]), **EXACT)


def test_revpairwise_and_revreference_explicitly(four_rows):
    d = four_rows.draws
    h = hypotheses(four_rows, "~ revpairwise")
    assert h.summary["hypothesis"].tolist() == [
        "(a) - (b)",
        "(a) - (c)",
        "(b) - (c)",
        "(a) - (d)",
        "(b) - (d)",
        "(c) - (d)",
    ]
    np.testing.assert_allclose(h.draws[3], d[0] - d[3], **EXACT)
    r = hypotheses(four_rows, "ratio ~ revreference")
    assert r.summary["hypothesis"].tolist() == ["(a) / (b)", "(a) / (c)", "(a) / (d)"]
    np.testing.assert_allclose(r.draws, d[0] / d[1:], **EXACT)
    s = hypotheses(four_rows, "~ sequential")
    assert s.summary["hypothesis"].tolist() == ["(b) - (a)", "(c) - (b)", "(d) - (c)"]
    np.testing.assert_allclose(s.draws, np.diff(d, axis=0), **EXACT)


def test_mean_deviations_and_treatment_vs_control(four_rows):
    d = four_rows.draws
    mean = d.mean(axis=0)
    other = (d.sum(axis=0) - d) / 3
    cases = {
        "~ meandev": (d - mean, ["(a) - Mean", "(b) - Mean", "(c) - Mean", "(d) - Mean"]),
        "ratio ~ meandev": (d / mean, ["(a) / Mean", "(b) / Mean", "(c) / Mean", "(d) / Mean"]),
        "~ meanotherdev": (d - other, [f"({c}) - Mean (other)" for c in "abcd"]),
        "ratio ~ meanotherdev": (d / other, [f"({c}) / Mean (other)" for c in "abcd"]),
        "~ trt_vs_ctrl": (np.mean(d[1:] - d[0], axis=0)[None], ["Mean(Trt) - Ctrl"]),
        "ratio ~ trt_vs_ctrl": (np.mean(d[1:] / d[0], axis=0)[None], ["Mean(Trt) / Ctrl"]),
    }
    for text, (expected, labels) in cases.items():
        h = hypotheses(four_rows, text)
        assert h.summary["hypothesis"].tolist() == labels, text
        np.testing.assert_allclose(h.draws, expected, rtol=1e-13, atol=1e-13, err_msg=text)
    # meanotherdev is meandev scaled by n / (n - 1)
    np.testing.assert_allclose(hypotheses(four_rows, "~ meanotherdev").draws, (d - mean) * 4 / 3, rtol=1e-12)


def _contr_poly_gram_schmidt(n):
    """Orthonormal polynomial contrasts by Gram-Schmidt of monic powers (another route than a QR)."""
    x = np.arange(1.0, n + 1) - (n + 1) / 2
    basis = []
    for deg in range(n):
        v = x**deg
        for b in basis:
            v = v - (v @ b) / (b @ b) * b
        basis.append(v)
    return np.column_stack([b / np.linalg.norm(b) for b in basis[1:]])


# R: contr.poly(3), contr.poly(4) (printed to 7 digits)
CONTR_POLY = {
    3: np.array([[-0.7071068, 0.4082483], [0.0, -0.8164966], [0.7071068, 0.4082483]]),
    4: np.array(
        [
            [-0.6708204, 0.5, -0.2236068],
            [-0.2236068, -0.5, 0.6708204],
            [0.2236068, -0.5, -0.6708204],
            [0.6708204, 0.5, 0.2236068],
        ]
    ),
}


def test_poly_against_r_contr_poly(four_rows):
    d = four_rows.draws
    h = hypotheses(four_rows, "~ poly")
    assert h.summary["hypothesis"].tolist() == ["Linear", "Quadratic", "Cubic"]
    np.testing.assert_allclose(h.draws, CONTR_POLY[4].T @ d, rtol=0, atol=1e-6 * np.abs(d).sum(axis=0).max())
    np.testing.assert_allclose(_contr_poly_gram_schmidt(4), CONTR_POLY[4], atol=5e-8)
    np.testing.assert_allclose(h.draws, _contr_poly_gram_schmidt(4).T @ d, rtol=1e-12, atol=1e-12)
    assert hypotheses(four_rows, "dotproduct ~ poly").summary["hypothesis"].tolist() == ["Linear", "Quadratic", "Cubic"]
    three = Result(pd.DataFrame({"x": ["a", "b", "c"]}), d[:3], 2, 150)
    h3 = hypotheses(three, "~ poly")
    assert h3.summary["hypothesis"].tolist() == ["Linear", "Quadratic"]
    np.testing.assert_allclose(h3.draws, CONTR_POLY[3].T @ d[:3], rtol=0, atol=1e-6)
    # seven rows: at most five polynomials (Linear..Quintic), as marginaleffects
    rng = np.random.default_rng(3)
    seven = Result(pd.DataFrame({"k": range(7)}), rng.normal(size=(7, 50)), 1, 50)
    h7 = hypotheses(seven, "~ poly")
    assert h7.summary["hypothesis"].tolist() == ["Linear", "Quadratic", "Cubic", "Quartic", "Quintic"]
    np.testing.assert_allclose(h7.draws, _contr_poly_gram_schmidt(7)[:, :5].T @ seven.draws, rtol=1e-11, atol=1e-12)


def test_helmert_against_r_contr_helmert(four_rows):
    d = four_rows.draws
    w = np.array([[-1.0, -1, -1], [1, -1, -1], [0, 2, -1], [0, 0, 3]])  # R: contr.helmert(4)
    h = hypotheses(four_rows, "~ helmert")
    assert h.summary["hypothesis"].tolist() == ["Helmert 1", "Helmert 2", "Helmert 3"]
    np.testing.assert_allclose(h.draws, w.T @ d, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(h.draws[2], 3 * d[3] - d[0] - d[1] - d[2], rtol=1e-13)


def test_formulas_within_groups(grouped_rows):
    d = grouped_rows.draws
    h = hypotheses(grouped_rows, "~ pairwise | g")
    assert list(h.grid.columns) == ["g", "hypothesis"]
    assert list(h.summary.columns[:3]) == ["g", "hypothesis", "estimate"]
    assert h.summary["g"].tolist() == ["u"] * 3 + ["v"] * 3
    assert h.summary["hypothesis"].tolist() == ["(b) - (a)", "(c) - (a)", "(c) - (b)"] * 2
    expected = np.stack([d[1] - d[0], d[2] - d[0], d[2] - d[1], d[4] - d[3], d[5] - d[3], d[5] - d[4]])
    np.testing.assert_allclose(h.draws, expected, **EXACT)
    r = hypotheses(grouped_rows, "ratio ~ sequential | g")
    assert r.summary["g"].tolist() == ["u", "u", "v", "v"]
    assert r.summary["hypothesis"].tolist() == ["(b) / (a)", "(c) / (b)"] * 2
    np.testing.assert_allclose(r.draws, np.stack([d[1] / d[0], d[2] / d[1], d[4] / d[3], d[5] / d[4]]), **EXACT)
    # one-row output per group
    t = hypotheses(grouped_rows, "~ trt_vs_ctrl | g")
    assert t.summary["g"].tolist() == ["u", "v"] and t.summary["hypothesis"].tolist() == ["Mean(Trt) - Ctrl"] * 2
    np.testing.assert_allclose(
        t.draws, np.stack([(d[1] + d[2]) / 2 - d[0], (d[4] + d[5]) / 2 - d[3]]), rtol=1e-13, atol=1e-13
    )


def test_formulas_on_real_avg_predictions_by(example):
    data = mixeff.datasets.load_magnusson()
    sub = data[data["cluster"].isin(["1", "2", "11", "12"])]
    p = mixeff.avg_predictions(example, newdata=sub, by="cluster")
    assert len(p) == 4
    d, labels = p.draws, p.grid["cluster"].astype(str).tolist()
    h = hypotheses(p, "~ pairwise")
    pairs = _pairs("pairwise", 4)
    assert h.summary["hypothesis"].tolist() == [f"({labels[i]}) - ({labels[j]})" for i, j in pairs]
    np.testing.assert_allclose(h.draws, np.stack([d[i] - d[j] for i, j in pairs]), **EXACT)
    r = hypotheses(p, "ratio ~ reference")
    assert r.summary["hypothesis"].tolist() == [f"({lab}) / ({labels[0]})" for lab in labels[1:]]
    np.testing.assert_allclose(r.draws, d[1:] / d[0], **EXACT)
    np.testing.assert_allclose(hypotheses(p, "~ poly").draws, _contr_poly_gram_schmidt(4).T @ d, rtol=1e-10)
    # within groups of a by column: the group first, rows labelled by the other by column
    grid = mixeff.datagrid(example, TX=[0, 1], cluster=["1", "2", "3"])
    q = mixeff.avg_predictions(example, newdata=grid, by=["cluster", "TX"])
    hq = hypotheses(q, "~ pairwise | TX")
    assert list(hq.grid.columns) == ["TX", "hypothesis"]
    assert hq.summary["TX"].tolist() == [0, 0, 0, 1, 1, 1]
    expected, names = [], []
    for tx in (0, 1):
        idx = np.flatnonzero(q.grid["TX"].to_numpy() == tx)
        lab = q.grid["cluster"].astype(str).to_numpy()[idx]
        for i, j in _pairs("pairwise", 3):
            expected.append(q.draws[idx[i]] - q.draws[idx[j]])
            names.append(f"({lab[i]}) - ({lab[j]})")
    assert hq.summary["hypothesis"].tolist() == names
    np.testing.assert_allclose(hq.draws, np.stack(expected), **EXACT)


# --------------------------------------------------------------------------- 2. named rows


def test_rows_named_by_unique_term():
    spec2 = _bernoulli_spec()
    # the same model with predictors named TX and x
    data = spec2.data.rename(columns={"x": "TX", "z": "x"})
    two = mixeff.from_arrays(
        fixed_design=lambda f: np.column_stack([np.ones(len(f)), f["TX"], f["x"]]),
        beta=spec2.beta,
        beta_names=["Intercept", "TX", "x"],
        family="gaussian",
        aux={"sigma": np.ones(spec2.n_samples)},
        data=data,
        n_chains=2,
        predictors=["TX", "x"],
    )
    c = mixeff.avg_comparisons(two, ["TX", "x"])
    assert c.grid["term"].tolist() == ["TX", "x"]
    np.testing.assert_allclose(c.draws, spec2.beta[:, 1:].T, rtol=1e-9, atol=1e-9)  # gaussian: the slopes
    h = hypotheses(c, ["TX = x", "x - TX", "TX > x", "b1 - b2 = 0"])
    d = c.draws
    np.testing.assert_allclose(h.draws, np.stack([d[0] - d[1], d[1] - d[0], d[0] - d[1], d[0] - d[1]]), **EXACT)
    assert h.summary["hypothesis"].tolist() == ["TX = x", "x - TX", "TX > x", "b1 - b2 = 0"]
    assert h.summary["probability"][2] == np.mean(d[0] > d[1])
    with pytest.raises(ValueError) as err:
        hypotheses(c, "TX - w = 0")
    msg = str(err.value)
    for word in ["'TX - w = 0'", "unknown name 'w'", "b1, b2", "'TX'", "'x'"]:
        assert word in msg, (word, msg)


def test_rows_named_by_backticked_labels(example):
    p = mixeff.avg_predictions(example, by="TX")
    d = p.draws
    h = hypotheses(p, ["`1` - `0` = 0", "`1` / `0` < 0.5", "log(`0`)"])
    np.testing.assert_allclose(h.draws, np.stack([d[1] - d[0], d[1] / d[0] - 0.5, np.log(d[0])]), **EXACT)
    assert h.summary["hypothesis"].tolist() == ["`1` - `0` = 0", "`1` / `0` < 0.5", "log(`0`)"]
    assert h.summary["probability"][1] == np.mean(d[1] / d[0] < 0.5)
    with pytest.raises(ValueError, match=r"unknown name '2'.*b1, b2.*\['0', '1'\]"):
        hypotheses(p, "`2` - `0` = 0")


# --------------------------------------------------------------------------- 3. in-verb hypothesis / equivalence


def _same(a, b):
    np.testing.assert_allclose(a.draws, b.draws, **EXACT)
    pd.testing.assert_frame_equal(a.summary, b.summary, rtol=1e-12)
    assert type(a) is type(b) and a.kind == b.kind == "hypotheses"


def test_in_verb_hypothesis_equals_hypotheses_on_the_result(spec, newdata):
    eq = (-0.02, 0.02)
    cases = [
        (mixeff.predictions, dict(newdata=newdata), "~ pairwise", eq),
        (mixeff.avg_predictions, dict(by="z"), "b2 - b1 > 0", None),
        (mixeff.comparisons, dict(variables="x", newdata=newdata), "~ reference", eq),
        (mixeff.avg_comparisons, dict(), "b1 = b2", eq),
        (mixeff.slopes, dict(variables="x", newdata=newdata), "b* > 0", None),
        (mixeff.avg_slopes, dict(variables="x", by="z"), "ratio ~ sequential", None),
        (mixeff.avg_predictions, dict(by="z"), None, (0.3, 0.6)),
    ]
    for verb, kwargs, hyp, equiv in cases:
        inside = verb(spec, **kwargs, hypothesis=hyp, equivalence=equiv)
        outside = hypotheses(verb(spec, **kwargs), hyp, equivalence=equiv)
        _same(inside, outside)
    # and the values themselves
    p = mixeff.avg_predictions(spec, by="z")
    inside = mixeff.avg_predictions(spec, by="z", hypothesis="b2 - b1 > 0")
    q = p.draws[1] - p.draws[0]
    np.testing.assert_allclose(inside.draws[0], q, **EXACT)
    assert inside.summary["probability"][0] == np.mean(q > 0)
    rope = mixeff.avg_predictions(spec, by="z", equivalence=(0.3, 0.6))
    assert rope.summary["z"].tolist() == p.grid["z"].tolist()
    np.testing.assert_array_equal(rope.summary["p_rope_unconditional"], ((p.draws > 0.3) & (p.draws < 0.6)).mean(1))


# --------------------------------------------------------------------------- 4. transform


def test_transform_of_predictions_and_slopes(spec, newdata):
    p = mixeff.predictions(spec, newdata=newdata)
    for t, fn in [("exp", np.exp), (np.log, np.log), (lambda v: 2 * v + 1, lambda v: 2 * v + 1)]:
        pt = mixeff.predictions(spec, newdata=newdata, transform=t)
        np.testing.assert_allclose(pt.draws, fn(p.draws), **EXACT)
        np.testing.assert_allclose(pt.summary["estimate"], np.median(fn(p.draws), axis=1), rtol=1e-13)
    s = mixeff.slopes(spec, "x", newdata=newdata)
    st = mixeff.slopes(spec, "x", newdata=newdata, transform="exp")
    np.testing.assert_allclose(st.draws, np.exp(s.draws), **EXACT)
    assert st.summary["contrast"].tolist() == [f"exp({c})" for c in s.summary["contrast"]]
    a = mixeff.avg_slopes(spec, "x")
    np.testing.assert_allclose(mixeff.avg_slopes(spec, "x", transform=np.tanh).draws, np.tanh(a.draws), **EXACT)


def test_transform_labels_of_comparisons(spec):
    lnor = mixeff.avg_comparisons(spec, "z", comparison="lnor")
    assert lnor.summary["contrast"].tolist() == ["ln(odds(1) / odds(0))"]
    odds = mixeff.avg_comparisons(spec, "z", comparison="lnor", transform="exp")
    assert odds.summary["contrast"].tolist() == ["odds(1) / odds(0)"]
    np.testing.assert_allclose(odds.draws, np.exp(lnor.draws), **EXACT)
    diff = mixeff.avg_comparisons(spec, "z")
    assert diff.summary["contrast"].tolist() == ["1 - 0"]
    e = mixeff.avg_comparisons(spec, "z", transform="exp")
    assert e.summary["contrast"].tolist() == ["exp(1 - 0)"]
    np.testing.assert_allclose(e.draws, np.exp(diff.draws), **EXACT)


def test_hypothesis_first_then_transform_evidence_on_untransformed(spec, newdata):
    p = mixeff.predictions(spec, newdata=newdata)
    q = p.draws[1] - p.draws[0]
    assert 0.05 < np.mean(q > 0) < 0.95  # on the exp scale every draw would be > 0
    h = mixeff.predictions(spec, newdata=newdata, hypothesis="b2 - b1 > 0", transform="exp")
    np.testing.assert_allclose(h.draws[0], np.exp(q), **EXACT)
    assert h.summary["hypothesis"].tolist() == ["b2 - b1 > 0"]
    assert h.summary["probability"][0] == np.mean(q > 0)
    assert h.summary["evidence_ratio"][0] == np.sum(q > 0) / np.sum(q <= 0)
    assert h.summary["estimate"][0] == pytest.approx(np.median(np.exp(q)), rel=1e-13)
    # equivalence with a transform: ROPE shares on the scale before the transform
    lo, hi = -0.01, 0.01
    r = mixeff.predictions(spec, newdata=newdata, hypothesis="b2 - b1 = 0", equivalence=(lo, hi), transform="exp")
    np.testing.assert_allclose(r.draws[0], np.exp(q), **EXACT)
    assert r.summary["p_rope_unconditional"][0] == np.mean((q > lo) & (q < hi))
    assert r.summary["p_below_rope"][0] == np.mean(q <= lo)
    assert r.summary["p_above_rope"][0] == np.mean(q >= hi)
    # slopes: hypothesis, then transform
    s = mixeff.slopes(spec, "x", newdata=newdata)
    sh = mixeff.slopes(spec, "x", newdata=newdata, hypothesis="b1 - b4 < 0", transform="exp")
    np.testing.assert_allclose(sh.draws[0], np.exp(s.draws[0] - s.draws[3]), **EXACT)
    assert sh.summary["probability"][0] == np.mean(s.draws[0] - s.draws[3] < 0)


# --------------------------------------------------------------------------- 5. evidence columns


def test_inequality_probability_and_evidence_ratio_exact():
    d = np.array([[-2.0, -1, 0, 0, 1, 2, 3, 4], [1.0, 2, 3, 4, 5, 6, 7, 8], [0.5, -1, 2, -3, 4, -5, 6, -7]])
    r = Result(pd.DataFrame({"k": ["p", "q", "r"]}), d, 2, 4)
    texts = ["b1 > 0", "b1 >= 0", "b1 < 0", "b1 <= 0", "b2 > 0", "b2 < 0", "b3 + 1 > 2 * b1", "b* >= 1"]
    h = hypotheses(r, texts)
    values = [d[0], d[0], d[0], d[0], d[1], d[1], d[2] + 1 - 2 * d[0], d[0] - 1, d[1] - 1, d[2] - 1]
    ops = [">", ">=", "<", "<=", ">", "<", ">", ">=", ">=", ">="]
    np.testing.assert_allclose(h.draws, np.stack(values), **EXACT)
    test = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}
    for i, (v, op) in enumerate(zip(values, ops)):
        hit = test[op](v, 0)
        p = hit.mean()
        assert h.summary["probability"][i] == p, (i, texts[i] if i < len(texts) else op)
        er = h.summary["evidence_ratio"][i]
        if hit.all():
            assert er == math.inf
        else:
            assert er == hit.sum() / (~hit).sum()
            assert er == pytest.approx(p / (1 - p), rel=1e-14)
    assert h.summary["evidence_ratio"][4] == math.inf and h.summary["probability"][4] == 1.0  # b2 > 0: every draw
    assert h.summary["evidence_ratio"][5] == 0.0 and h.summary["probability"][5] == 0.0  # b2 < 0: none
    assert h.summary["probability"][0] == 4 / 8 and h.summary["probability"][1] == 6 / 8  # ties at 0


def test_rope_shares_partition_the_draws(four_rows):
    d = four_rows.draws
    lo, hi = 1.5, 4.5
    h = hypotheses(four_rows, equivalence=(lo, hi))
    s = h.summary
    assert s["x"].tolist() == ["a", "b", "c", "d"]
    assert not np.isin(d, [lo, hi]).any()
    np.testing.assert_array_equal(s["p_rope_unconditional"], ((d > lo) & (d < hi)).mean(axis=1))
    np.testing.assert_array_equal(s["p_below_rope"], (d <= lo).mean(axis=1))
    np.testing.assert_array_equal(s["p_above_rope"], (d >= hi).mean(axis=1))
    np.testing.assert_allclose(s["p_rope_unconditional"] + s["p_below_rope"] + s["p_above_rope"], 1.0, rtol=1e-14)
    assert 0 < s["p_rope_unconditional"][0] < 1 and 0 < s["p_rope_unconditional"][2] < 1
    # conditional share within the 80% interval given to hypotheses()
    h80 = hypotheses(four_rows, "b3 - b2", equivalence=(1.5, 2.5), conf_level=0.8)
    q = d[2] - d[1]
    a, b = np.quantile(q, [0.1, 0.9])
    inside, in_ci = (q > 1.5) & (q < 2.5), (q >= a) & (q <= b)
    assert h80.summary["conf_low"][0] == pytest.approx(a, rel=1e-13)
    assert h80.summary["p_rope_conditional"][0] == pytest.approx(np.mean(inside[in_ci]), rel=1e-13)
    # a draw exactly on a bound counts as outside (below / above), so the shares still sum to 1
    e = Result(pd.DataFrame({"k": [0]}), np.array([[0.0, 1.0, 2.0, 3.0]]), 1, 4)
    he = hypotheses(e, equivalence=(1.0, 3.0)).summary
    assert (he["p_below_rope"][0], he["p_rope_unconditional"][0], he["p_above_rope"][0]) == (0.5, 0.25, 0.25)


@pytest.mark.parametrize(
    "equivalence, match",
    [
        ((1, 0), "lo must be below hi"),
        ((0.5, 0.5), "lo must be below hi"),
        ((np.nan, 1.0), "lo must be below hi"),
        (("a", "b"), "must be a pair"),
        ((1.0, 2.0, 3.0), "must be a pair"),
        (0.1, "must be a pair"),
    ],
)
def test_equivalence_errors(four_rows, equivalence, match):
    with pytest.raises(ValueError, match=match):
        hypotheses(four_rows, "b1 - b2", equivalence=equivalence)


# --------------------------------------------------------------------------- 6. a fit's parameters


def test_fit_parameters_brms_style(example):
    table = mixeff.as_draws_df(example)
    b_tx, b_int = table["b_TX"].to_numpy(), table["b_Intercept"].to_numpy()
    sd = table["sd_cluster__Intercept"].to_numpy()
    r1 = table["r_cluster[1,Intercept]"].to_numpy()
    cut = float(np.median(b_tx))
    texts = [
        f"TX < {cut}",
        "TX < 0",
        "Intercept + TX > 5",
        "sd_cluster__Intercept > 0.2",
        "`r_cluster[1,Intercept]` > 0",
        "b_TX / sigma",
    ]
    h = hypotheses(example, texts)
    expected = [b_tx - cut, b_tx, b_int + b_tx - 5, sd - 0.2, r1, b_tx / table["sigma"].to_numpy()]
    np.testing.assert_allclose(h.draws, np.stack(expected), **EXACT)
    prob = h.summary["probability"]
    assert prob[0] == np.mean(b_tx < cut) and 0 < prob[0] < 1
    assert prob[1] == np.mean(b_tx < 0)
    assert prob[2] == np.mean(b_int + b_tx > 5)
    assert prob[3] == np.mean(sd > 0.2)
    assert prob[4] == np.mean(r1 > 0)
    hit = b_tx < cut
    assert h.summary["evidence_ratio"][0] == hit.sum() / (~hit).sum()
    assert np.isnan(prob[5]) and np.isnan(h.summary["evidence_ratio"][5])  # no comparison: no evidence
    assert h.type == "parameters" and h.source == "posterior" and h.n_chains * h.n_draws == len(table)
    # without a hypothesis: every parameter, in as_draws_df's order
    rows = hypotheses(example)
    names = [c for c in table.columns if not c.startswith(".")]
    assert rows.grid["parameter"].tolist() == names
    np.testing.assert_array_equal(rows.draws, table[names].to_numpy().T)
    # a posterior-only fit gives no Bayes factor for a point hypothesis
    assert "evidence_ratio" not in hypotheses(example, "TX = 0").summary.columns


def test_fit_parameter_errors(example):
    with pytest.raises(ValueError, match=r"hypothesis 'TZ < 0'.*unknown parameter 'TZ'.*'b_TX'"):
        hypotheses(example, "TZ < 0")
    with pytest.raises(ValueError, match="unknown parameter 'r_cluster\\[99,Intercept\\]'"):
        hypotheses(example, "`r_cluster[99,Intercept]` > 0")
    with pytest.raises(ValueError, match="prior= is for results"):
        hypotheses(example, "TX = 0", prior=mixeff.avg_predictions(example))
    with pytest.raises(ValueError, match="bayes_factor=True needs prior draws"):
        hypotheses(example, "TX = 0", bayes_factor=True)


# --------------------------------------------------------------------------- 7. Savage-Dickey


def test_savage_dickey_on_fit_parameters(prior_fit):
    post = mixeff.as_draws_df(prior_fit)["b_TX"].to_numpy()
    prior = mixeff.as_draws_df(prior_fit, "prior")["b_TX"].to_numpy()
    assert not np.array_equal(post, prior)
    h = hypotheses(prior_fit, ["TX = 0", "TX = -0.5", "TX < 0", "b_TX * 2 = 0"])
    s = h.summary
    for i, point in [(0, 0.0), (1, -0.5)]:
        bf = savage_dickey(post, prior, point)["bf01"]
        assert s["evidence_ratio"][i] == pytest.approx(bf, rel=1e-10)
        assert s["probability"][i] == pytest.approx(bf / (1 + bf), rel=1e-12)
    assert s["evidence_ratio"][0] == savage_dickey(post, prior, 0.0)["bf01"]
    # an inequality in the same call keeps its share of draws
    assert s["probability"][2] == np.mean(post < 0)
    # 2 * TX = 0: the KDE's bandwidth scales with the draws, so the ratio is the same
    assert s["evidence_ratio"][3] == pytest.approx(s["evidence_ratio"][0], rel=1e-10)
    assert any("Savage" in line and "400 posterior and 400 prior draws" in line for line in h.header)
    # bayes_factor=False: no evidence column for a point hypothesis
    off = hypotheses(prior_fit, "TX = 0", bayes_factor=False).summary
    assert "evidence_ratio" not in off.columns and "probability" not in off.columns


def test_savage_dickey_on_a_derived_quantity(prior_fit):
    c = mixeff.avg_comparisons(prior_fit, "TX", re_formula="NA")
    cp = mixeff.avg_comparisons(prior_fit, "TX", re_formula="NA", draws="prior")
    assert cp.source == "prior" and c.source == "posterior"
    bf = savage_dickey(c.draws[0], cp.draws[0], 0.0)["bf01"]
    auto = hypotheses(c, "b1 = 0")
    assert auto.summary["evidence_ratio"][0] == bf
    assert auto.summary["probability"][0] == pytest.approx(bf / (1 + bf), rel=1e-14)
    np.testing.assert_array_equal(auto.draws[0], c.draws[0])
    explicit = hypotheses(c, "b1 = 0", prior=cp)
    assert explicit.summary["evidence_ratio"][0] == bf
    inverb = mixeff.avg_comparisons(prior_fit, "TX", re_formula="NA", hypothesis="b1 = 0")
    _same(inverb, auto)
    # a point other than 0: lhs - rhs on both draws
    bf2 = savage_dickey(c.draws[0], cp.draws[0], -300.0)["bf01"]
    assert hypotheses(c, "b1 = -300").summary["evidence_ratio"][0] == pytest.approx(bf2, rel=1e-10)
    # bad prior= results
    with pytest.raises(ValueError, match="holds posterior draws"):
        hypotheses(c, "b1 = 0", prior=c)
    two = mixeff.avg_predictions(prior_fit, by="TX", re_formula="NA", draws="prior")
    with pytest.raises(ValueError, match=r"same result on prior draws \(1 rows\)"):
        hypotheses(c, "b1 = 0", prior=two)
    # no Bayes factor when asked not to
    assert "evidence_ratio" not in hypotheses(c, "b1 = 0", bayes_factor=False).summary.columns


def test_bayes_factor_true_without_prior_draws_raises(example, spec):
    with pytest.raises(ValueError, match="bayes_factor=True needs prior draws"):
        hypotheses(mixeff.avg_comparisons(example, "TX", re_formula="NA"), "b1 = 0", bayes_factor=True)
    with pytest.raises(ValueError, match="bayes_factor=True needs prior draws"):
        hypotheses(mixeff.avg_predictions(spec, by="z"), "b1 = b2", bayes_factor=True)
    with pytest.raises(ValueError, match="needs a point hypothesis"):
        hypotheses(mixeff.avg_predictions(spec, by="z"), "b1 > b2", bayes_factor=True)
    with pytest.raises(TypeError, match="must be True, False or None"):
        hypotheses(mixeff.avg_predictions(spec, by="z"), "b1 = b2", bayes_factor="yes")
    # None (default) without prior draws: silently no Bayes factor
    assert "evidence_ratio" not in hypotheses(mixeff.avg_predictions(spec, by="z"), "b1 = b2").summary.columns


TAU, N_OBS, N_DRAWS = 2.0, 20, 40_000


@pytest.mark.parametrize("true_mu, data_seed", [(0.0, 31), (0.6, 32)])
def test_savage_dickey_conjugate_normal_closed_form(true_mu, data_seed):
    """y_i ~ N(mu, 1), mu ~ N(0, tau^2): BF01 = N(0; m, v) / N(0; 0, tau^2), checked through from_arrays specs."""
    y = np.random.default_rng(data_seed).normal(true_mu, 1.0, N_OBS)
    v = 1 / (1 / TAU**2 + N_OBS)
    m = v * y.sum()
    exact = stats.norm.pdf(0, m, math.sqrt(v)) / stats.norm.pdf(0, 0, TAU)
    assert (exact > 1) == (true_mu == 0.0)  # one data set for H0 (BF01 ~ 7.5), one against it (~ 0.65)
    rng = np.random.default_rng(100 + data_seed)
    data = pd.DataFrame({"y": y})

    def make(draws, source):
        return mixeff.from_arrays(
            fixed_design=lambda f: np.ones((len(f), 1)),
            beta=draws[:, None],
            beta_names=["Intercept"],
            family="gaussian",
            aux={"sigma": np.ones(N_DRAWS)},
            data=data,
            n_chains=2,
            source=source,
        )

    post_draws, prior_draws = rng.normal(m, math.sqrt(v), N_DRAWS), rng.normal(0, TAU, N_DRAWS)
    post = mixeff.avg_predictions(make(post_draws, "posterior"), newdata=data.head(1), type="link")
    prior = mixeff.avg_predictions(make(prior_draws, "prior"), newdata=data.head(1), type="link", draws="prior")
    assert prior.source == "prior"
    np.testing.assert_allclose(post.draws[0], post_draws, **EXACT)
    np.testing.assert_allclose(prior.draws[0], prior_draws, **EXACT)
    h = hypotheses(post, "b1 = 0", prior=prior)
    sd = savage_dickey(post_draws, prior_draws, 0.0)
    bf = h.summary["evidence_ratio"][0]
    assert bf == pytest.approx(sd["bf01"], rel=1e-12)
    assert abs(math.log(bf / exact)) < 4 * sd["se_log_bf01"]
    assert sd["se_log_bf01"] < 0.1
    assert h.summary["probability"][0] == pytest.approx(bf / (1 + bf), rel=1e-14)
    # the same on the response scale (identity link)
    resp = mixeff.avg_predictions(make(post_draws, "posterior"), newdata=data.head(1))
    prior_resp = mixeff.avg_predictions(make(prior_draws, "prior"), newdata=data.head(1), draws="prior")
    assert hypotheses(resp, "b1 = 0", prior=prior_resp).summary["evidence_ratio"][0] == pytest.approx(bf, rel=1e-12)


# --------------------------------------------------------------------------- 8. bad uses


@pytest.mark.parametrize(
    "hypothesis, match",
    [
        ("~ foo", r"right-hand side 'foo' is not one of"),
        ("sum ~ pairwise", r"left-hand side must be empty, 'difference' or 'ratio'"),
        ("ratio ~ poly", r"left-hand side must be empty or 'dotproduct'"),
        ("~ pairwise | h", r"\['h'\] not a column of the result; available: \['x', 'g'\]"),
        ("~ pairwise | g +", r"after '\|' name the grouping columns"),
        ("b1 - zz = 0", r"unknown name 'zz'; refer to rows as b1, b2"),
        ("b7 > 0", r"names row b7, which does not exist: the result has 6 row\(s\), b1..b6"),
        ("b1 < b2 < b3", "one comparison"),
    ],
)
def test_bad_hypotheses(grouped_rows, hypothesis, match):
    with pytest.raises(ValueError, match=match):
        hypotheses(grouped_rows, hypothesis)


def test_formulas_need_two_rows_per_group():
    r = Result(pd.DataFrame({"x": ["a", "b", "c"], "g": ["u", "u", "v"]}), np.ones((3, 4)), 1, 4)
    with pytest.raises(ValueError, match=r"needs at least two rows to compare \(in each group\); got 1"):
        hypotheses(r, "~ pairwise | g")
    one = Result(pd.DataFrame({"x": ["a"]}), np.ones((1, 4)), 1, 4)
    with pytest.raises(ValueError, match="needs at least two rows"):
        hypotheses(one, "~ reference")
    with pytest.raises(ValueError, match="lo must be below hi"):
        hypotheses(r, "~ pairwise", equivalence=(1, 0))


# --------------------------------------------------------------------------- edge cases found in review


# mixeff divides before refusing (estimands/hypothesis_formulas.py has no np.errstate around the ratio):
# numpy's warning comes first; the refusal is what is tested
@pytest.mark.filterwarnings("ignore:divide by zero encountered in divide:RuntimeWarning")
def test_ratio_formula_by_zero_is_refused_like_the_expression():
    r = Result(pd.DataFrame({"x": ["a", "b", "c"]}), np.array([[0.0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]), 1, 4)
    with pytest.raises(ValueError, match="not finite"):
        hypotheses(r, "b2 / b1")
    with pytest.raises(ValueError, match="not finite"):
        hypotheses(r, "ratio ~ reference")


def test_summarise_with_diagnostics_after_transform_and_equivalence(spec, newdata):
    r = mixeff.predictions(spec, newdata=newdata, hypothesis="b2 - b1 = 0", equivalence=(-0.01, 0.01), transform="exp")
    out = r.summarise(diagnostics=True)
    assert {"rhat", "p_rope_unconditional"} <= set(out.columns)
    np.testing.assert_allclose(out["p_rope_unconditional"], r.summary["p_rope_unconditional"])


def test_formula_groups_are_sorted_and_an_empty_group_is_an_error():
    d = np.arange(16.0).reshape(4, 4) ** 1.5
    r = Result(pd.DataFrame({"g": ["v", "v", "u", "u"], "x": ["a", "b", "a", "b"]}), d, 1, 4)
    h = hypotheses(r, "~ reference | g")
    assert h.grid["g"].tolist() == ["u", "v"]  # marginaleffects' keyby order
    np.testing.assert_allclose(h.draws, np.stack([d[3] - d[2], d[1] - d[0]]))
    with pytest.raises(ValueError, match="grouping columns"):
        hypotheses(r, "~ pairwise | ")


def test_one_sided_rope():
    d = np.array([[-1.0, 0.5, 2.0, 3.0]])
    h = hypotheses(Result(pd.DataFrame({"x": ["a"]}), d, 1, 4), equivalence=(0, np.inf))
    assert h.summary["p_rope_unconditional"][0] == 0.75 and h.summary["p_below_rope"][0] == 0.25
