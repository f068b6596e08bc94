"""Check the built site: every internal link and anchor resolves, every public name and notebook has a page.

``make docs`` runs this after Sphinx (``python docs/check_site.py docs/_build/html``).  External
links are not followed (the build is offline); everything inside the site is: ``href`` and ``src``
attributes, and the ``#fragment`` of each against the ids of the page it points to.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            elif name in ("href", "src") and not (tag == "link" and value.startswith("data:")):
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _pages(site: Path) -> list[Path]:
    """The site's pages (not the theme's template fragments that Sphinx copies into ``_static``)."""
    return [p for p in sorted(site.rglob("*.html")) if "_static" not in p.relative_to(site).parts]


def broken_links(site: Path) -> list[str]:
    """Every internal link of the site that points to a missing file or a missing anchor."""
    pages = {path.resolve(): _parse(path) for path in _pages(site)}
    problems = []
    for path, page in sorted(pages.items()):
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue  # external: not checked offline
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(site.resolve())}: {link}"
            if not target.exists():
                problems.append(f"{where} -> no such file")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{where} -> no anchor #{parts.fragment}")
    return problems


def missing_pages(site: Path, names: list[str], notebooks: list[str]) -> list[str]:
    """Public names without an API page (and its anchor), and notebooks without a page."""
    problems = []
    for name in names:
        page = site / "api" / "generated" / f"mixeff.{name}.html"
        if not page.exists():
            problems.append(f"mixeff.{name}: no API page ({page.relative_to(site)})")
        elif f"mixeff.{name}" not in _parse(page).ids and f"module-mixeff.{name}" not in _parse(page).ids:
            problems.append(f"mixeff.{name}: its API page does not document it")
    for stem in notebooks:
        if not (site / "notebooks" / f"{stem}.html").exists():
            problems.append(f"notebook {stem}: no page")
    return problems


def main(argv: list[str]) -> int:
    """The command line."""
    site = Path(argv[1] if len(argv) > 1 else ROOT / "docs" / "_build" / "html")
    sys.path.insert(0, str(ROOT))
    import mixeff

    notebooks = [p.stem for p in sorted((ROOT / "notebooks").glob("0*.ipynb"))]
    problems = broken_links(site) + missing_pages(site, list(mixeff.__all__), notebooks)
    for problem in problems:
        print(problem)
    n_pages = len(_pages(site))
    if problems:
        print(f"check_site: {len(problems)} problems in {site}")
        return 1
    print(
        f"check_site: {n_pages} pages, every internal link and anchor resolves; "
        f"{len(mixeff.__all__)} public names and {len(notebooks)} notebooks have pages"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
