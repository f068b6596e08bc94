"""Nothing changes for users: digests of the draws of representative calls, stored before a refactor.

Each call's draws (and the labels of its rows) are hashed; ``tests/fixtures/digests.json`` holds the
digests computed before the engine was restructured (issue 26).  A refactor that changes a single bit of
any of these results fails here.  Regenerate only for a deliberate change of numbers:
``python tests/test_digests.py --write``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixeff
from mixeff.model.examples import toy_spec

STORE = Path(__file__).parent / "fixtures" / "digests.json"
SLEEP = Path(__file__).parent / "fixtures" / "brms_sleepstudy"


def _bernoulli_spec():
    n, s = 180, 300
    rng = np.random.default_rng(1)
    d = pd.DataFrame(
        {
            "x": rng.uniform(-3, 3, n),
            "z": rng.choice(["a", "b", "c"], n),
            "g": np.repeat([f"g{i}" for i in range(4)], n // 4),
            "w": rng.uniform(0.5, 2, n),
        }
    )
    eta = -0.5 + 0.9 * d.x + (d.z == "b") * 1.0 - (d.z == "c") * 0.7
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    rng = np.random.default_rng(7)
    draws = pd.DataFrame(
        {
            "b_Intercept": rng.normal(-0.5, 0.2, s),
            "b_x": rng.normal(0.9, 0.1, s),
            "b_zb": rng.normal(1.0, 0.25, s),
            "b_zc": rng.normal(-0.7, 0.25, s),
            "sd_g__Intercept": rng.gamma(10, 0.05, s),
        }
    )
    for i in range(4):
        draws[f"r_g[g{i},Intercept]"] = rng.normal(0.5 * (i - 1.5), 0.3, s)
    return mixeff.from_brms_draws(draws, formula="y ~ x + z + (1 | g)", data=d, family="bernoulli")


def _sleep_spec():
    draws = pd.read_csv(SLEEP / "draws.csv")
    return mixeff.from_brms_draws(
        draws,
        formula="Reaction ~ 1 + Days + (1 + Days | Subject)",
        data=mixeff.datasets.load_sleepstudy(),
        family="gaussian",
    )


class _WithPrior:
    """A fit with posterior and prior draws (the prior: other made-up draws marked as prior)."""

    available_draws = ["posterior", "prior"]

    def __init__(self, posterior, prior):
        self._specs = {"posterior": posterior, "prior": replace(prior, source="prior")}

    def spec(self, draws: str = "posterior"):
        return self._specs[draws]


def _calls():
    b, lg, sl = _bernoulli_spec(), toy_spec(), _sleep_spec()
    prior_fit = _WithPrior(toy_spec(), toy_spec(seed=2))
    data = b.data
    new = data.assign(g=np.where(data.index % 3 == 0, "new1", np.where(data.index % 3 == 1, "new2", data.g)))
    grid = mixeff.datagrid(b, x=[-1.0, 0.0, 1.0], z=["a", "b"], g=["g0"])
    calls = {
        "predictions": lambda: mixeff.predictions(b),
        "predictions_link_grid": lambda: mixeff.predictions(b, grid, type="link"),
        "predictions_reNA": lambda: mixeff.predictions(lg, re_formula="NA"),
        "predictions_prediction": lambda: mixeff.predictions(b, grid, type="prediction", seed=3),
        "predictions_variables": lambda: mixeff.predictions(b, grid, variables={"z": ["a", "c"]}),
        "avg_predictions": lambda: mixeff.avg_predictions(b),
        "avg_predictions_by": lambda: mixeff.avg_predictions(b, by="z"),
        "avg_predictions_by_wts": lambda: mixeff.avg_predictions(b, by=["z", "g"], wts="w"),
        "avg_predictions_gaussian_new": lambda: mixeff.avg_predictions(
            b, new, by="g", allow_new_levels=True, sample_new_levels="gaussian", seed=11
        ),
        "avg_predictions_integrate": lambda: mixeff.avg_predictions(
            b, new, by="z", allow_new_levels=True, sample_new_levels="integrate"
        ),
        "predictions_integrate_lognormal": lambda: mixeff.predictions(
            lg, mixeff.datagrid(lg, TX=[0, 1], cluster=["new"]), allow_new_levels=True, sample_new_levels="integrate"
        ),
        "comparisons": lambda: mixeff.comparisons(b, "x", newdata=grid),
        "comparisons_all": lambda: mixeff.comparisons(b),
        "comparisons_pairwise": lambda: mixeff.comparisons(b, {"z": "pairwise"}, newdata=grid),
        "comparisons_lnor_by": lambda: mixeff.comparisons(b, "z", comparison="lnor", by="g"),
        "comparisons_cross": lambda: mixeff.comparisons(b, ["x", "z"], cross=True, newdata=grid),
        "avg_comparisons": lambda: mixeff.avg_comparisons(b),
        "avg_comparisons_ratio_wts": lambda: mixeff.avg_comparisons(b, "x", comparison="ratio", wts="w"),
        "avg_comparisons_uncertainty_new": lambda: mixeff.avg_comparisons(
            b, "z", newdata=new, allow_new_levels=True, seed=5
        ),
        "avg_comparisons_integrate": lambda: mixeff.avg_comparisons(
            b, "x", newdata=new, allow_new_levels=True, sample_new_levels="integrate"
        ),
        "avg_comparisons_hypothesis": lambda: mixeff.avg_comparisons(b, "z", hypothesis="b2 - b1 = 0"),
        "avg_comparisons_transform": lambda: mixeff.avg_comparisons(lg, "TX", type="link", transform="exp"),
        "avg_comparisons_function": lambda: mixeff.avg_comparisons(
            b, "x", comparison=lambda hi, lo: (hi - lo).mean(axis=0)
        ),
        "slopes": lambda: mixeff.slopes(b, "x", newdata=grid),
        "avg_slopes": lambda: mixeff.avg_slopes(b, "x", by="z"),
        "avg_slopes_eyex": lambda: mixeff.avg_slopes(sl, "Days", slope="eyex"),
        "sleep_avg_comparisons_new": lambda: mixeff.avg_comparisons(
            sl,
            "Days",
            newdata=sl.data.assign(Subject="999"),
            allow_new_levels=True,
            sample_new_levels="gaussian",
            seed=2,
        ),
        "sleep_predictions_reInt": lambda: mixeff.predictions(sl, re_formula="~(1 | Subject)"),
        "ndraws": lambda: mixeff.avg_predictions(b, by="z", ndraws=100, seed=4),
        "draw_ids": lambda: mixeff.avg_comparisons(b, "x", draw_ids=list(range(0, 300, 3))),
        "hypotheses_pairwise": lambda: mixeff.hypotheses(mixeff.avg_predictions(b, by="z"), "~ pairwise"),
        "bayes_factor": lambda: mixeff.avg_comparisons(prior_fit, "TX", hypothesis="b1 = 0"),
        "n_jobs_2": lambda: mixeff.avg_comparisons(b, "x", by="g", n_jobs=2, chunk_rows=7),
        "n_jobs_1": lambda: mixeff.avg_comparisons(b, "x", by="g", n_jobs=1),
        "dask": lambda: mixeff.avg_comparisons(b, "x", newdata=_dask(data), by="z", wts="w"),
        "dask_new": lambda: mixeff.avg_predictions(
            b, _dask(new), by="g", allow_new_levels=True, sample_new_levels="gaussian", seed=11
        ),
    }
    return calls


def _dask(frame):
    dd = pytest.importorskip("dask.dataframe")
    return dd.from_pandas(frame, npartitions=3)


def digest(result) -> str:
    """The draws' bits, their shape and the result's labels."""
    h = hashlib.sha256()
    draws = np.ascontiguousarray(np.asarray(result.draws, dtype=float))
    h.update(str(draws.shape).encode())
    h.update(draws.tobytes())
    table = result.summary
    h.update(
        table.drop(columns=[c for c in ("estimate", "conf_low", "conf_high") if c in table])
        .to_csv(index=False)
        .encode()
    )
    for name in ("bf10", "p_h0", "evidence_ratio"):
        if name in table:
            h.update(np.ascontiguousarray(table[name].to_numpy(dtype=float)).tobytes())
    return h.hexdigest()


def _compute() -> dict[str, str]:
    import warnings

    out = {}
    for name, call in _calls().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[name] = digest(call())
    return out


@pytest.fixture(scope="module")
def digests():
    return _compute()


@pytest.mark.parametrize("name", sorted(json.loads(STORE.read_text())) if STORE.exists() else [])
def test_draws_unchanged_bit_for_bit(digests, name):
    stored = json.loads(STORE.read_text())
    assert digests[name] == stored[name], f"{name}: the draws or labels differ from those stored before the refactor"


TABULATED = ("avg_predictions_integrate", "avg_comparisons_integrate")
"""Calls whose digests were renewed when integration moved from quadrature to tables (issue 29)."""


@pytest.mark.parametrize("name", TABULATED)
def test_tabulated_integration_agrees_with_the_quadrature_it_replaced(name, monkeypatch):
    """The renewed digests: the tables' draws equal the former quadrature's to 1e-12 (relative)."""
    from mixeff.engine import tabulate

    call = _calls()[name]
    tabulated = call()
    assert tabulated.new_levels["method"].startswith("tabulated")
    monkeypatch.setattr(tabulate, "TABLES", {})  # every link back on the quadrature rule
    quadrature = call()
    assert quadrature.new_levels["method"].startswith("trapezoidal quadrature")
    np.testing.assert_allclose(tabulated.draws, quadrature.draws, rtol=1e-12, atol=0)
    assert not np.array_equal(tabulated.draws, quadrature.draws)  # (a different rule: not the same bits)


def test_every_call_has_a_stored_digest():
    assert sorted(_calls()) == sorted(json.loads(STORE.read_text()))


if __name__ == "__main__" and "--write" in sys.argv:
    STORE.write_text(json.dumps(_compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {STORE}")
