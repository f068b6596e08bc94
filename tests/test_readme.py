"""The README's Python blocks run as written, top to bottom, in one namespace."""

import re
from pathlib import Path

import matplotlib
import pytest

import mixeff

matplotlib.use("Agg")

# the README fits its model (MCMC) in a block the conftest scan cannot see
pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    with pytest.warns(mixeff.MonteCarloWarning, match="Monte Carlo error"):  # the quick start's simulated clusters
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
    # the quick start's numbers are what they claim to be
    p = namespace["p"]
    draws = namespace["draws"]
    assert p.source == "posterior" and len(draws) == p.draws.size
    share = (draws["draw"] < -300).mean()
    assert share == pytest.approx((p.draws < -300).mean(), abs=0)  # the long layout holds every draw once
    assert 0.2 < share < 0.95  # an informative posterior probability, not 0 or 1
    sim = namespace["sim"]
    assert sim.new_levels["how"] == "gaussian" and all(se > 0 for se in sim.new_levels["mc_se"])
    vague = namespace["vague"]
    prior = namespace["me"].avg_predictions(vague, by="gender")
    assert prior.source == "prior" and "prior draws" in repr(prior)
    assert prior.summary["conf_low"].max() < 0.1 and prior.summary["conf_high"].min() > 0.9
