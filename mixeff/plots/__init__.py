"""Plots of draws: half-eye densities, sorted point-intervals, prior vs posterior.

Matplotlib only; every function returns the :class:`matplotlib.figure.Figure`
(draw into an existing axes with ``ax=``), so they work in notebooks and scripts.

* :func:`plot_draws` -- a half-eye per row of a result (ggdist's
  ``stat_halfeye``): a filled density of the draws above a point estimate (the
  median) with 66% and 95% equal-tailed interval bars; ``group=`` overlays the
  rows that differ only in one column (e.g. ``TX = 0`` and ``1``) in one slab
  position, with a legend.
* :func:`plot_estimates` -- one point-interval per row, sorted by estimate and
  labelled by a column (per-state figures of an MRP analysis).
* :func:`plot_prior_posterior` -- prior and posterior draws of the same quantity
  overlaid, per row (one panel each, or stacked).
* :func:`plot_predictions`, :func:`plot_comparisons`, :func:`plot_slopes` --
  marginaleffects' plots over a ``condition`` (x axis, colour, facets) or ``by``:
  a median line with interval bands over a numeric x, point-ranges over a
  categorical one; ``draw=False`` returns the data.

Every figure states its interval levels and draws in a caption (or a key beside
the axes when drawn into ``ax=``), names the quantity and the row variable on its
axes, trims the x range to the bulk of the draws and bounds densities of
probabilities to [0, 1].

Densities come from :func:`mixeff.plots.density.kde` (arviz-stats' KDE, with
boundary correction at known bounds such as ``(0, 1)`` for probabilities).
"""

from .conditional import plot_comparisons as plot_comparisons
from .conditional import plot_predictions as plot_predictions
from .conditional import plot_slopes as plot_slopes
from .halfeye import plot_draws as plot_draws
from .halfeye import plot_prior_posterior as plot_prior_posterior
from .intervals import plot_estimates as plot_estimates
from .ppc import pp_check as pp_check
