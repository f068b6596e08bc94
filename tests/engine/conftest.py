"""Fixtures of the engine's unit tests: toy models from :mod:`toy_models`, no MCMC."""

import pandas as pd
import pytest
from toy_models import make_spec


@pytest.fixture
def spec():
    """Gaussian ``y ~ 1 + x + (1 + x | g)``, correlated, 40 draws (2 chains of 20)."""
    return make_spec()


@pytest.fixture
def frame():
    """Seven rows: every existing level, two rows at new level ``n1`` and one at ``n2``."""
    return pd.DataFrame(
        {
            "x": [0.5, -1.0, 2.0, 0.0, 1.5, -0.3, 0.7],
            "g": ["a", "b", "c", "n1", "a", "n1", "n2"],
        }
    )
