"""Sphinx configuration of mixeff's documentation (``make docs``: warnings are errors)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # document this source tree, not whatever mixeff is installed
sys.path.insert(0, str(HERE))

from apigen import write_api_page  # noqa: E402

import mixeff  # noqa: E402

project = "mixeff"
author = "the mixeff authors"
copyright = "2026, the mixeff authors"  # noqa: A001
release = mixeff.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the site itself: pages render offline, no CDN
    "numpydoc",
    "myst_nb",
    "sphinx_copybutton",
]

# --- generated sources: the API page from mixeff.__all__, the notebooks from ../notebooks --------------------
write_api_page(HERE / "api" / "index.rst", mixeff.__all__)


def _copy_notebooks() -> None:
    """The committed, executed notebooks become pages; copies are refreshed only when they changed."""
    target = HERE / "notebooks"
    target.mkdir(exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("0*.ipynb"))
    for stale in set(p.name for p in target.glob("*.ipynb")) - {p.name for p in sources}:
        (target / stale).unlink()
    for source in sources:
        copy = target / source.name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)


_copy_notebooks()

# --- sources ------------------------------------------------------------------------------------------------
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
templates_path = ["_templates"]
root_doc = "index"

# --- notebooks: rendered from their committed outputs, never executed here (make test executes them) --------
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# --- API ----------------------------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
add_module_names = False
# a broken cross-reference (:func:`mixeff.nope`) is an error, like every other warning
nitpicky = True
# Third-party objects have no inventory here (the build is offline: no intersphinx), so references to them
# stay plain text; every reference to a mixeff object must resolve.
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(numpy|np|pandas|pd|xarray|scipy|arviz|arviz_stats|dask|distributed|matplotlib|bambi|pymc|zarr)(\..*)?",
    ),
    (r"py:class", r"ELPDData"),  # arviz_stats.ELPDData, named as loo's result
]

# --- HTML ---------------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"mixeff {release}"
html_static_path = ["_static"]
html_css_files = ["mixeff.css"]
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": [], "getting_started": [], "concepts": [], "from_r": [], "changelog": [], "cite": []}
html_show_sourcelink = False


# --- constants re-exported from a submodule ---------------------------------------------------------------------
def _reexported_data_docs(app, what, name, obj, options, lines):
    """A constant re-exported from a submodule keeps its ``#:`` comment.

    autodoc reads doc comments only in the module it documents, and otherwise shows the docstring of
    the value's type (``int``, ``tuple``); mixeff.datasets re-exports the CES constants of its ``ces``.
    """
    from sphinx.errors import PycodeError
    from sphinx.pycode import ModuleAnalyzer

    if what != "data" or not name.startswith("mixeff."):
        return
    module, _, attr = name.rpartition(".")
    for candidate in [module, *sorted(m for m in sys.modules if m.startswith(module + "."))]:
        try:
            docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        except PycodeError:
            continue
        if ("", attr) in docs:
            lines[:] = list(docs[("", attr)])
            return


def setup(app):
    """Sphinx's hook: connect the handler above."""
    app.connect("autodoc-process-docstring", _reexported_data_docs)
