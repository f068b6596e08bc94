"""The documentation: every public name has an API page, the guides' code runs, the site checker catches breakage."""

import base64
import importlib.util
import json
import sys
from pathlib import Path

import pytest

import mixeff

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


apigen = _load("apigen")
check_site = _load("check_site")
figures = _load("figures")
run_guides = _load("run_guides")


def test_api_page_lists_every_public_name_once():
    sections = apigen.api_sections(mixeff.__all__)
    listed = [name for _, _, names in sections for name in names]
    assert sorted(listed) == sorted(mixeff.__all__)
    page = apigen.api_page(mixeff.__all__)
    entries = [
        line.strip() for line in page.splitlines() if line.startswith("   ") and not line.strip().startswith(":")
    ]
    assert sorted(entries) == sorted(mixeff.__all__)


def test_a_new_public_name_gets_an_entry_without_editing_the_sections():
    names = [*mixeff.__all__, "brand_new_verb"]
    sections = dict((title, names) for title, _, names in apigen.api_sections(names))
    assert "kfold" in sections["Checking and comparing models"]
    assert sections["More"] == ["brand_new_verb"]
    assert "   brand_new_verb" in apigen.api_page(names).splitlines()


def test_api_page_refuses_a_name_listed_twice():
    with pytest.raises(ValueError, match="twice.*'fit'"):
        apigen.api_sections([*mixeff.__all__, "fit"])


@pytest.mark.slow  # imports and documents every public object (about 15 s)
def test_every_public_name_gets_a_generated_page(tmp_path):
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    apigen.write_api_page(src / "index.rst", mixeff.__all__)
    app = Sphinx(
        srcdir=src,
        confdir=None,
        outdir=tmp_path / "out",
        doctreedir=tmp_path / "doctrees",
        buildername="dummy",
        confoverrides={
            "extensions": ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"],
            "templates_path": [str(DOCS / "_templates")],
            "autosummary_generate": True,
            "autosummary_imported_members": True,
            "autodoc_typehints": "none",
            "numpydoc_show_class_members": False,
        },
        status=None,
        warningiserror=True,
    )
    app.build()
    generated = {p.stem for p in (src / "generated").glob("mixeff.*.rst")}
    assert {f"mixeff.{name}" for name in mixeff.__all__} <= generated


def _site(tmp_path, pages):
    for name, html in pages.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><body>{html}</body></html>")
    return tmp_path


def test_check_site_finds_missing_files_and_anchors(tmp_path):
    site = _site(
        tmp_path,
        {
            "index.html": '<a href="guide/a.html#top">ok</a> <a href="guide/b.html">gone</a> <a href="#here">x</a>'
            ' <img src="_static/f.png"> <a href="https://example.org/x.html">external</a>',
            "guide/a.html": '<h1 id="top">A</h1> <a href="../index.html#nowhere">bad anchor</a>',
        },
    )
    problems = check_site.broken_links(site)
    assert problems == [
        "guide/a.html: ../index.html#nowhere -> no anchor #nowhere",
        "index.html: guide/b.html -> no such file",
        "index.html: #here -> no anchor #here",
        "index.html: _static/f.png -> no such file",
    ]
    (site / "_static").mkdir()
    (site / "_static" / "f.png").write_bytes(b"png")
    assert len(check_site.broken_links(site)) == 3


def test_check_site_finds_public_names_and_notebooks_without_pages(tmp_path):
    site = _site(
        tmp_path,
        {
            "api/generated/mixeff.fit.html": '<dl><dt id="mixeff.fit">fit</dt></dl>',
            "api/generated/mixeff.loo.html": "<p>nothing documented</p>",
            "notebooks/01_a.html": "",
        },
    )
    assert check_site.missing_pages(site, ["fit", "loo", "waic"], ["01_a", "02_b"]) == [
        "mixeff.loo: its API page does not document it",
        "mixeff.waic: no API page (api/generated/mixeff.waic.html)",
        "notebook 02_b: no page",
    ]


def test_committed_figures_are_the_notebooks_outputs():
    for name, (notebook, cell_id) in figures.FIGURES.items():
        committed = (figures.OUT / name).read_bytes()
        assert committed == figures.cell_image(figures.NOTEBOOKS / notebook, cell_id), (
            f"docs/_static/figures/{name} is stale: run python docs/figures.py"
        )


def test_figures_names_a_cell_that_is_not_there(tmp_path):
    notebook = tmp_path / "n.ipynb"
    png = base64.b64encode(b"\x89PNG").decode()
    notebook.write_text(
        json.dumps({"cells": [{"id": "a", "cell_type": "code", "outputs": [{"data": {"image/png": png}}]}]})
    )
    assert figures.cell_image(notebook, "a") == b"\x89PNG"
    with pytest.raises(SystemExit, match="no cell with id 'b'"):
        figures.cell_image(notebook, "b")


def test_guide_blocks_and_their_outputs_are_paired():
    text = "x\n```python\na = 1\na + 1\n```\n\n```text\n2\n```\n\n```python\nb = 2\n```\ny\n"
    found = [(m["code"], m["out"]) for m in run_guides.blocks(text)]
    assert found == [("a = 1\na + 1\n", "2\n"), ("b = 2\n", None)]
    namespace = {}
    assert run_guides.run_block("a = 1\na + 1\n", namespace, "t") == "2"
    assert run_guides.run_block("print('hi')\na;\n", namespace, "t") == "hi"  # a trailing ; hides the value


@pytest.mark.slow  # fits the guides' models (MCMC): a few minutes
def test_guides_run_and_show_their_outputs(monkeypatch):
    monkeypatch.chdir(ROOT)  # the brms page reads tests/fixtures from the repository's root
    for page in run_guides.GUIDES:
        rerun = run_guides.run_page(page)
        for old, new in zip(run_guides.blocks(page.read_text()), run_guides.blocks(rerun), strict=True):
            assert old["code"] == new["code"]
            # MCMC draws differ across platforms and library versions, so the numbers are not compared;
            # what a block shows (a table, a header, a value) is
            assert (old["out"] is None) == (new["out"] is None), f"{page.name}: {old['code']}"
