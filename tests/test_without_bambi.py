"""Without the ``bambi`` extra: ``import mixeff`` and brms draws work, ``mixeff.fit`` names the extra.

A fresh interpreter whose import system refuses PyMC, Bambi, PyTensor and nutpie (a
``sys.meta_path`` finder) stands in for an installation without them; refusing numba too
checks the compiled kernels' numpy fallback, which gives the same draws bit for bit.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import importlib.abc
    import sys

    BLOCKED = {"pymc", "bambi", "pytensor", "nutpie", *sys.argv[1:]}

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None

    sys.meta_path.insert(0, Refuse())

    import hashlib

    import numpy as np
    import pandas as pd

    import mixeff

    rng = np.random.default_rng(1)
    data = pd.DataFrame({"TX": [0, 1, 0, 1], "cluster": ["1", "1", "2", "2"]})
    n = 200
    draws = pd.DataFrame({
        "b_Intercept": rng.normal(6.2, 0.1, n), "b_TX": rng.normal(-0.7, 0.1, n),
        "sd_cluster__Intercept": np.abs(rng.normal(0.6, 0.05, n)), "sigma": np.abs(rng.normal(1.0, 0.05, n)),
        "r_cluster[1,Intercept]": rng.normal(0, 0.5, n), "r_cluster[2,Intercept]": rng.normal(0, 0.5, n),
    })
    spec = mixeff.from_brms_draws(draws, formula="y ~ 1 + TX + (1 | cluster)", data=data, family="lognormal")
    ate = mixeff.avg_comparisons(spec, "TX")
    assert ate.draws.shape[-1] == n, ate.draws.shape
    assert float(ate.summary["estimate"].iloc[0]) < 0
    from mixeff.engine import kernels

    assert kernels.enabled() == ("numba" not in BLOCKED)

    try:
        mixeff.fit("y ~ 1 + TX + (1 | cluster)", data.assign(y=1.0), family="lognormal")
    except ImportError as err:
        assert "pip install 'mixeff[bambi]'" in str(err), err
    else:
        raise AssertionError("mixeff.fit ran without Bambi and PyMC")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    print(hashlib.sha256(np.ascontiguousarray(ate.draws).tobytes()).hexdigest())
    """
)


def _run(*blocked: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *blocked],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"},
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_brms_draws_work_without_pymc_bambi_pytensor_and_numba():
    compiled = _run()
    assert _run("numba") == compiled  # the numpy fallback of the kernels: the same draws
