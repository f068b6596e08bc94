"""hypotheses: expressions over rows (b1 = first row), shortcuts, posterior probabilities, ROPE."""

import numpy as np
import pandas as pd
import pytest

from mixeff import avg_comparisons, avg_predictions, get_draws, hypotheses
from mixeff.results import Result


@pytest.fixture
def three_rows():
    rng = np.random.default_rng(0)
    draws = rng.normal([[1.0], [2.0], [4.0]], 0.5, size=(3, 400))
    return Result(pd.DataFrame({"grp": ["a", "b", "c"]}), draws, 2, 200, kind="predictions")


def test_expressions_use_one_based_rows_like_marginaleffects(three_rows):
    d = three_rows.draws
    h = hypotheses(three_rows, ["b2 - b1 = 0", "b2 / b1 = 1", "b3", "exp(b1) - 2 * b3 ** 2", "-b1 + 1 = b2"])
    assert h.kind == "hypotheses"
    assert h.summary["hypothesis"].tolist() == [
        "b2 - b1 = 0",
        "b2 / b1 = 1",
        "b3",
        "exp(b1) - 2 * b3 ** 2",
        "-b1 + 1 = b2",
    ]
    expected = np.stack([d[1] - d[0], d[1] / d[0] - 1, d[2], np.exp(d[0]) - 2 * d[2] ** 2, -d[0] + 1 - d[1]])
    np.testing.assert_allclose(h.draws, expected, rtol=1e-14)
    np.testing.assert_allclose(h.summary["estimate"], np.median(expected, axis=1), rtol=1e-14)
    assert "probability" not in h.summary.columns


def test_posterior_probability_of_inequalities(three_rows):
    d = three_rows.draws
    h = hypotheses(three_rows, ["b1 > 1.2", "b2 <= b1 * 2", "b* >= 2"])
    assert h.summary["hypothesis"].tolist() == ["b1 > 1.2", "b2 <= b1 * 2", "b1 >= 2", "b2 >= 2", "b3 >= 2"]
    expected = [
        np.mean(d[0] > 1.2),
        np.mean(d[1] <= d[0] * 2),
        np.mean(d[0] >= 2),
        np.mean(d[1] >= 2),
        np.mean(d[2] >= 2),
    ]
    np.testing.assert_allclose(h.summary["probability"], expected)
    np.testing.assert_allclose(h.draws[0], d[0] - 1.2)  # the draws are lhs - rhs
    # mixed with an equality: no probability for that row
    mixed = hypotheses(three_rows, ["b1 = b2", "b1 < b2"])
    assert np.isnan(mixed.summary["probability"][0]) and mixed.summary["probability"][1] == np.mean(d[0] < d[1])


def test_share_above_threshold_on_real_draws(bernoulli_fit):
    # seed 003: "about 70% of the posterior density of the average prediction lies above 0.4"
    avg = avg_predictions(bernoulli_fit)
    draws = get_draws(avg, "long")["draw"].to_numpy()
    h = hypotheses(avg, "b1 > 0.4")
    assert h.summary["probability"][0] == np.mean(draws > 0.4)
    np.testing.assert_allclose(get_draws(h, "PxD")[0], draws - 0.4, rtol=1e-14)
    assert h.source == "posterior" and h.type == "response"


def test_rope_shares(three_rows):
    d = three_rows.draws
    h = hypotheses(three_rows, "b2 - b1 = 0", equivalence=(0.5, 1.5))
    q = d[1] - d[0]
    inside = (q > 0.5) & (q < 1.5)
    assert h.summary["p_rope_unconditional"][0] == np.mean(inside)
    lo, hi = np.quantile(q, [0.025, 0.975])
    in_ci = (q >= lo) & (q <= hi)
    np.testing.assert_allclose(h.summary["p_rope_conditional"][0], np.mean(inside[in_ci]))
    # recomputed with the interval
    narrow = h.summarise(conf_level=0.5)
    lo, hi = np.quantile(q, [0.25, 0.75])
    in_ci = (q >= lo) & (q <= hi)
    np.testing.assert_allclose(narrow["p_rope_conditional"][0], np.mean(inside[in_ci]))
    # without a hypothesis the rows themselves, grid kept
    rows = hypotheses(three_rows, equivalence=(0.0, 1.5))
    assert rows.summary["grp"].tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(rows.summary["p_rope_unconditional"], ((d > 0) & (d < 1.5)).mean(axis=1))


def test_pairwise_reference_sequential(three_rows):
    d = three_rows.draws
    cases = {
        "reference": ([(1, 0), (2, 0)], ["b - a", "c - a"]),
        "sequential": ([(1, 0), (2, 1)], ["b - a", "c - b"]),
        "pairwise": ([(0, 1), (0, 2), (1, 2)], ["a - b", "a - c", "b - c"]),
        "revpairwise": ([(1, 0), (2, 0), (2, 1)], ["b - a", "c - a", "c - b"]),
        "revreference": ([(0, 1), (0, 2)], ["a - b", "a - c"]),
    }
    for how, (pairs, labels) in cases.items():
        h = hypotheses(three_rows, how)
        assert h.summary["hypothesis"].tolist() == labels, how
        np.testing.assert_allclose(h.draws, np.stack([d[i] - d[j] for i, j in pairs]), rtol=1e-14)
    # rows without distinguishing labels are named by position
    plain = Result(pd.DataFrame(index=range(3)), d, 2, 200)
    assert hypotheses(plain, "reference").summary["hypothesis"].tolist() == ["Row 2 - Row 1", "Row 3 - Row 1"]


def test_linear_combinations(three_rows):
    d = three_rows.draws
    h = hypotheses(three_rows, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(h.draws[0], d[0] - 2 * d[1] + d[2], rtol=1e-13)
    m = hypotheses(three_rows, np.array([[1.0, 0.0], [-1.0, 1.0], [0.0, -1.0]]))
    np.testing.assert_allclose(m.draws, np.stack([d[0] - d[1], d[1] - d[2]]), rtol=1e-13)


def test_hypotheses_on_comparisons_and_chained(magnusson_fit):
    cmp = avg_comparisons(magnusson_fit, "TX", comparison="ratio", re_formula="NA")
    h = hypotheses(cmp, "b1 < 1")
    assert h.summary["probability"][0] == np.mean(cmp.draws[0] < 1)
    again = hypotheses(h, "b1 * 2")
    np.testing.assert_allclose(again.draws[0], 2 * (cmp.draws[0] - 1), rtol=1e-14)
    long = get_draws(again, "long")
    assert list(long.columns[:3]) == ["drawid", "draw", "rowid"] and "hypothesis" in long.columns


def test_prior_source_is_kept():
    r = Result(pd.DataFrame({"k": [0, 1]}), np.ones((2, 4)), 1, 4, source="prior")
    assert hypotheses(r, "b2 - b1").source == "prior"


@pytest.mark.parametrize(
    "hypothesis, words",
    [
        ("b4 - b1 = 0", ["'b4 - b1 = 0'", "b4", "does not exist", "3 row(s)", "b1..b3"]),
        ("b0 > 1", ["b0", "does not exist", "first row"]),
        ("beta + b1", ["unknown name 'beta'", "b1, b2"]),
        ("__import__('os').system('echo hi')", ["not allowed"]),
        ("b1.real", ["not allowed"]),
        ("b1 = b2 = b3", ["one comparison"]),
        ("b1 +", ["not a valid expression"]),
        ("b* - b*", ["'b*' more than once"]),
        ("fancy", ["unknown name 'fancy'"]),
        (42, ["hypothesis=42", "not understood"]),
        ([1.0, 2.0], ["shape (2,)", "3 row weights"]),
    ],
)
def test_bad_hypotheses_are_clear_value_errors(three_rows, hypothesis, words):
    with pytest.raises(ValueError) as err:
        hypotheses(three_rows, hypothesis)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_other_bad_input(three_rows):
    with pytest.raises(ValueError, match="equivalence=.*pair"):
        hypotheses(three_rows, equivalence=0.1)
    with pytest.raises(ValueError, match="lo must be below hi"):
        hypotheses(three_rows, equivalence=(1, -1))
    with pytest.raises(TypeError, match="needs a mixeff Result"):
        hypotheses(pd.DataFrame({"a": [1]}), "b1")
    big = Result(pd.DataFrame({"i": range(30)}), np.zeros((30, 4)), 1, 4)
    with pytest.raises(ValueError, match="435 comparisons, more than 300"):
        hypotheses(big, "pairwise")
    assert len(hypotheses(big, "reference")) == 29


def test_contrast_pairs_come_from_one_generator_with_one_cap():
    """reference and sequential are never capped (n - 1 comparisons); pairwise is, at 300, everywhere."""
    from mixeff.estimands.pairs import index_pairs

    n = 40
    rows = Result(pd.DataFrame({"i": range(n)}), np.arange(n * 4, dtype=float).reshape(n, 4), 1, 4)
    seq = hypotheses(rows, "~ sequential")
    np.testing.assert_array_equal(seq.draws, rows.draws[1:] - rows.draws[:-1])
    ref = hypotheses(rows, "reference")
    np.testing.assert_array_equal(ref.draws, rows.draws[1:] - rows.draws[0])
    for text in ("~ pairwise", "pairwise", "~ revpairwise"):
        with pytest.raises(ValueError, match="780 comparisons, more than 300"):
            hypotheses(rows, text)
    small = Result(pd.DataFrame({"i": range(4)}), np.arange(16.0).reshape(4, 4) ** 2, 1, 4)
    # the formula's pairwise: later rows minus earlier ones, column by column; the string form: earlier minus later
    lower = index_pairs(4, "pairwise")
    assert lower == [(1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2)]
    np.testing.assert_array_equal(
        hypotheses(small, "~ pairwise").draws, np.array([small.draws[i] - small.draws[j] for i, j in lower])
    )
    np.testing.assert_array_equal(
        hypotheses(small, "pairwise").draws, np.array([small.draws[j] - small.draws[i] for i, j in lower])
    )
