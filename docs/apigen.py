"""The API reference page, written from ``mixeff.__all__`` at build time.

Every public name gets an ``autosummary`` entry (and so a page of its own); names that the sections
below do not list yet land in "More", so a name added to ``__all__`` is documented without editing
this file.  ``tests/test_docs.py`` checks the coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# (title, one line, names in the order a reader meets them); names not in __all__ are skipped
SECTIONS: list[tuple[str, str, list[str]]] = [
    (
        "Fitting and reading draws",
        "Fit with Bambi/PyMC, or read draws that brms, Stan or your own code produced.",
        [
            "fit",
            "default_priors",
            "from_bambi",
            "from_brms_draws",
            "from_arrays",
            "as_draws_df",
            "MixedFit",
            "example_fit",
        ],
    ),
    (
        "Grids",
        "Which rows to predict, and which clusters they belong to.",
        ["datagrid", "new_levels"],
    ),
    (
        "Verbs",
        "Posterior draws of predictions, comparisons and slopes, per row or averaged.",
        ["predictions", "avg_predictions", "comparisons", "avg_comparisons", "slopes", "avg_slopes"],
    ),
    (
        "Hypotheses and evidence",
        "Functions of estimates, posterior probabilities, ROPE and Bayes factors.",
        ["hypotheses"],
    ),
    (
        "Checking and comparing models",
        "Replicated data, likelihoods, information criteria and R².",
        ["posterior_predict", "pp_check", "log_lik", "loo", "waic", "loo_compare", "kfold", "bayes_R2", "to_datatree"],
    ),
    (
        "Results and draws",
        "What the verbs return, and the draws inside.",
        ["Result", "HypothesesResult", "LazyDraws", "get_draws", "stack", "NewLevels", "IntegratedLikelihood", "Call"],
    ),
    (
        "Plots",
        "Matplotlib figures of results and of conditional predictions.",
        ["plot_predictions", "plot_comparisons", "plot_slopes", "plot_draws", "plot_estimates", "plot_prior_posterior"],
    ),
    (
        "Options, warnings and data",
        "Threads, memory and progress; the warnings mixeff raises; the bundled data sets.",
        [
            "set_options",
            "get_options",
            "MixeffWarning",
            "MonteCarloWarning",
            "ConvergenceWarning",
            "WAICWarning",
            "ParetoKWarning",
            "datasets",
        ],
    ),
]

INTRO = """\
API reference
=============

Everything here is imported from the top-level package (``import mixeff as me``); every other module
is internal and may move.  Each function's entry has its parameters, what it returns and a runnable
example (the examples run as doctests in ``make test``).

.. currentmodule:: mixeff
"""


def api_sections(names: Sequence[str]) -> list[tuple[str, str, list[str]]]:
    """The sections of the reference for these public names: each name exactly once, unknown ones in "More"."""
    public = list(names)
    if len(set(public)) != len(public):
        raise ValueError(f"mixeff.__all__ lists a name twice: {sorted(n for n in public if public.count(n) > 1)}")
    sections = []
    placed: set[str] = set()
    for title, line, listed in SECTIONS:
        present = [name for name in listed if name in public]
        placed.update(present)
        if present:
            sections.append((title, line, present))
    rest = [name for name in public if name not in placed]
    if rest:
        sections.append(("More", "Public names not yet sorted into a section above.", rest))
    return sections


def api_page(names: Sequence[str]) -> str:
    """The reStructuredText of the reference page: one ``autosummary`` table per section."""
    parts = [INTRO]
    for title, line, present in api_sections(names):
        directive = ".. autosummary::\n   :toctree: generated\n   :nosignatures:\n"
        parts.append(f"{title}\n{'-' * len(title)}\n\n{line}\n\n{directive}")
        parts.extend(f"   {name}" for name in present)
        parts.append("")
    return "\n".join(parts) + "\n"


def write_api_page(path: Path, names: Sequence[str]) -> None:
    """Write the page, leaving the file (and Sphinx's cache of it) alone when nothing changed."""
    text = api_page(names)
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
