"""mixeff: conditional and marginal effects from Bayesian mixed models, draw by draw.

The verbs follow R's marginaleffects; random effects follow brms
(``re_formula``, ``allow_new_levels``, ``sample_new_levels``).  This module is
the public API; everything else is internal and may move.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from . import datasets
from .config import get_options, set_options
from .model.adapters import from_arrays, from_brms_draws
from .model.as_draws import as_draws_df
from .model.fitting import MixedFit, default_priors, example_fit, fit, from_bambi
from .plots import plot_comparisons, plot_draws, plot_estimates, plot_predictions, plot_prior_posterior, plot_slopes
from .results import ConvergenceWarning, MixeffWarning, MonteCarloWarning, Result, get_draws, stack
from .verbs.comparisons import avg_comparisons, comparisons
from .verbs.grid import datagrid, new_levels
from .verbs.hypotheses import hypotheses
from .verbs.predictions import avg_predictions, predictions
from .verbs.slopes import avg_slopes, slopes

try:  # the version is written once, in pyproject.toml
    __version__ = _version("mixeff")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "fit",
    "default_priors",
    "from_bambi",
    "from_arrays",
    "from_brms_draws",
    "as_draws_df",
    "MixedFit",
    "example_fit",
    "datagrid",
    "new_levels",
    "predictions",
    "avg_predictions",
    "comparisons",
    "avg_comparisons",
    "slopes",
    "avg_slopes",
    "hypotheses",
    "Result",
    "get_draws",
    "MixeffWarning",
    "MonteCarloWarning",
    "ConvergenceWarning",
    "stack",
    "set_options",
    "get_options",
    "plot_draws",
    "plot_estimates",
    "plot_prior_posterior",
    "plot_predictions",
    "plot_comparisons",
    "plot_slopes",
    "datasets",
]
