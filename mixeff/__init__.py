"""mixeff: conditional and marginal effects from Bayesian mixed models, draw by draw.

The verbs follow R's marginaleffects; random effects follow brms
(``re_formula``, ``allow_new_levels``, ``sample_new_levels``).  This module is
the public API; everything else is internal and may move.

Fitting (:func:`fit`, :func:`from_bambi`, :func:`default_priors`, :func:`example_fit`) needs
Bambi and PyMC, an extra: ``pip install 'mixeff[bambi]'``.  Draws from brms
(:func:`from_brms_draws`) or plain arrays (:func:`from_arrays`) need neither: ``import mixeff``
does not import them, and the fitting functions name the extra when they are missing.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from . import datasets
from .bambi.fitting import MixedFit, default_priors, example_fit, fit, from_bambi
from .config import get_options, set_options
from .model.adapters import from_arrays, from_brms_draws
from .model.as_draws import as_draws_df
from .plots import (
    plot_comparisons,
    plot_draws,
    plot_estimates,
    plot_predictions,
    plot_prior_posterior,
    plot_slopes,
    pp_check,
)
from .records import IntegratedLikelihood, NewLevels
from .results import ConvergenceWarning, MixeffWarning, MonteCarloWarning, Result, get_draws, stack
from .verbs.call import Call
from .verbs.compare import ParetoKWarning, WAICWarning, loo, loo_compare, waic
from .verbs.comparisons import avg_comparisons, comparisons
from .verbs.datatree import to_datatree
from .verbs.distributed import LazyDraws
from .verbs.fit_checks import bayes_R2
from .verbs.grid import datagrid, new_levels
from .verbs.hypotheses import HypothesesResult, hypotheses
from .verbs.kfold import kfold
from .verbs.loglik import log_lik
from .verbs.predictions import avg_predictions, predictions
from .verbs.predictive import posterior_predict
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
    "posterior_predict",
    "pp_check",
    "comparisons",
    "avg_comparisons",
    "slopes",
    "avg_slopes",
    "hypotheses",
    "bayes_R2",
    "log_lik",
    "loo",
    "waic",
    "loo_compare",
    "kfold",
    "to_datatree",
    "Result",
    "HypothesesResult",
    "LazyDraws",
    "IntegratedLikelihood",
    "NewLevels",
    "Call",
    "get_draws",
    "MixeffWarning",
    "MonteCarloWarning",
    "ConvergenceWarning",
    "WAICWarning",
    "ParetoKWarning",
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
