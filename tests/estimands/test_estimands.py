"""mixeff.estimands alone (no model): comparison and slope rules, hypothesis expressions and formulas,
each against numpy on the same made-up draws."""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import special

from mixeff.estimands.comparisons import comparison_rule
from mixeff.estimands.expressions import evaluate, expand_wildcard
from mixeff.estimands.hypothesis_formulas import helmert_contrasts, parse_formula, poly_contrasts
from mixeff.estimands.slopes import check_slope, slope_rule

RNG = np.random.default_rng(0)
HI, LO = RNG.uniform(0.05, 0.95, (4, 50)), RNG.uniform(0.05, 0.95, (4, 50))


def pair(hi=HI, lo=LO):
    return SimpleNamespace(hi=hi, lo=lo, diff=hi - lo, rows=slice(0, len(hi)))


@pytest.mark.parametrize(
    "name, per_row, averaged",
    [
        ("difference", lambda h, lo: h - lo, lambda h, lo: h.mean(0) - lo.mean(0)),
        ("ratio", lambda h, lo: h / lo, lambda h, lo: h.mean(0) / lo.mean(0)),
        ("lnratio", lambda h, lo: np.log(h / lo), lambda h, lo: np.log(h.mean(0) / lo.mean(0))),
        ("lift", lambda h, lo: (h - lo) / lo, lambda h, lo: (h - lo).mean(0) / lo.mean(0)),
        (
            "lnor",
            lambda h, lo: special.logit(h) - special.logit(lo),
            lambda h, lo: special.logit(h.mean(0)) - special.logit(lo.mean(0)),
        ),
    ],
)
def test_comparison_rules_per_row_and_averaged(name, per_row, averaged):
    rule = comparison_rule(name)
    np.testing.assert_allclose(rule.per_row(pair()), per_row(HI, LO), rtol=1e-12)
    means = np.stack([part.mean(axis=0, keepdims=True) for part in rule.parts(pair())])  # one group
    np.testing.assert_allclose(rule.finish(means)[0], averaged(HI, LO), rtol=1e-12)


def test_a_function_comparison_per_row_or_per_draw():
    rule = comparison_rule(lambda hi, lo: hi**2 - lo)
    np.testing.assert_allclose(rule.per_row(pair()), HI**2 - LO)
    averaging = comparison_rule(lambda hi, lo: hi.mean(axis=0) / lo.mean(axis=0))
    assert averaging.aggregate is not None
    np.testing.assert_allclose(averaging.apply_draws(HI, LO)[0], HI.mean(0) / LO.mean(0))
    with pytest.raises(ValueError, match="'nope' is not one of"):
        comparison_rule("nope")


@pytest.mark.parametrize(
    "slope, expected",
    [
        ("dydx", lambda d, x, y: d),
        ("eyex", lambda d, x, y: d * x / y),
        ("eydx", lambda d, x, y: d / y),
        ("dyex", lambda d, x, y: d * x),
    ],
)
def test_slope_rules_divide_by_the_realised_step(slope, expected):
    step = np.array([0.5, 0.25, 1e-3, 2.0])
    diff, x, orig = RNG.normal(size=(4, 50)), RNG.normal(size=(4, 1)), RNG.uniform(1, 2, (4, 50))
    p = SimpleNamespace(diff=diff, rows=slice(0, 4), x=x, orig=orig)
    np.testing.assert_allclose(slope_rule(slope, step).per_row(p), expected(diff / step[:, None], x, orig))
    with pytest.raises(ValueError, match="slope='dxdy' is not one of"):
        check_slope("dxdy")


def test_expressions_over_rows_draw_by_draw():
    draws = RNG.normal(size=(3, 50))

    def resolve(name, text):
        return int(name[1:]) - 1

    value, op = evaluate("exp(b2) - b1 / 2 >= b3 ** 2", draws, resolve)
    assert op == ">="
    np.testing.assert_allclose(value, np.exp(draws[1]) - draws[0] / 2 - draws[2] ** 2, rtol=1e-13)
    value, op = evaluate("b1 + b3", draws, resolve)
    assert op is None
    np.testing.assert_array_equal(value, draws[0] + draws[2])
    assert expand_wildcard("b* = 0", 3) == ["b1 = 0", "b2 = 0", "b3 = 0"]
    with pytest.raises(ValueError, match="not a valid expression"):
        evaluate("b1 >", draws, resolve)


def test_pairwise_and_reference_formulas_by_hand():
    x = RNG.normal(size=(4, 20))
    labels = ["a", "b", "c", "d"]
    values, names = parse_formula("~ pairwise").apply(x, labels)
    pairs = [(i, j) for j in range(4) for i in range(j + 1, 4)]  # R's lower triangle, column by column
    np.testing.assert_allclose(values, [x[i] - x[j] for i, j in pairs])
    assert names == [f"({labels[i]}) - ({labels[j]})" for i, j in pairs]
    values, names = parse_formula("ratio ~ reference").apply(x, labels)
    np.testing.assert_allclose(values, x[1:] / x[0])
    assert names == ["(b) / (a)", "(c) / (a)", "(d) / (a)"]
    assert parse_formula("~ sequential | g + h").group == ("g", "h")


def test_poly_and_helmert_contrasts_as_r_writes_them():
    q = poly_contrasts(4)
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-12)  # orthonormal
    np.testing.assert_allclose(q.sum(axis=0), 0.0, atol=1e-12)  # contrasts
    np.testing.assert_allclose(q[:, 0], np.array([-3, -1, 1, 3]) / np.sqrt(20))  # contr.poly(4)[, ".L"]
    np.testing.assert_array_equal(helmert_contrasts(4), [[-1, -1, -1], [1, -1, -1], [0, 2, -1], [0, 0, 3]])
