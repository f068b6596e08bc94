"""Run the Python blocks of the user-guide pages; with ``--write``, paste their outputs into the pages.

Each page's ```` ```python ```` blocks run top to bottom in one namespace, as a reader would run
them.  What a block prints, the value of its last line (as a notebook shows it) and the mixeff
warnings it raises are its output, kept in the ```` ```text ```` block right after it.
``tests/test_docs.py`` runs every page (without rewriting it), so the guides' code keeps working;
``python docs/run_guides.py --write`` refreshes the outputs after a change.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GUIDES = [HERE / "getting_started.md", *sorted((HERE / "guide").glob("*.md"))]

# a python block, then optionally (after one blank line) the text block holding its output
BLOCK = re.compile(r"```python\n(?P<code>.*?)```\n(?:\n```text\n(?P<out>.*?)```\n)?", re.S)


def blocks(text: str) -> Iterator[re.Match[str]]:
    """The python blocks of a page, each with its output block when it has one."""
    return BLOCK.finditer(text)


def run_block(code: str, namespace: dict[str, Any], where: str, figure: Path | None = None) -> str:
    """Execute one block; return what a notebook would show under it (its figure is saved to ``figure``)."""
    import matplotlib.pyplot as plt

    import mixeff

    tree = ast.parse(code, filename=where)
    quiet = code.rstrip().endswith(";")  # as in a notebook, a trailing semicolon hides the last value
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) and not quiet else None
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always", mixeff.MixeffWarning)
        exec(compile(tree, where, "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), where, "eval"), namespace)
            if value is not None and not isinstance(value, plt.Figure):
                print(repr(value))
    if figure is not None and plt.get_fignums():
        figure.parent.mkdir(parents=True, exist_ok=True)
        plt.gcf().savefig(figure, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close("all")
    shown = [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, mixeff.MixeffWarning)]
    others = [w for w in caught if not issubclass(w.category, mixeff.MixeffWarning)]
    for w in others:  # not the reader's concern (PyMC's sampler notes): passed on, not pasted
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return "\n".join(shown + [out.getvalue().rstrip("\n")]).strip("\n")


# pages that open with the same setup block (the same fit) share its result: one fit, not one per page
_SETUPS: dict[str, tuple[dict[str, Any], str]] = {}


def run_page(path: Path, figures: bool = False) -> str:
    """Run a page's blocks; return the page with every output block refreshed.

    With ``figures``, a block that draws saves its last figure as ``_static/guide/<page>-<block>.png``
    (blocks counted from 1), which the page shows with an image directive.
    """
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    pd.set_option("display.width", 120)  # a notebook's width, so that tables are not cut into pieces
    pd.set_option("display.max_columns", 20)
    text = path.read_text()
    namespace: dict[str, Any] = {"__name__": "__guide__"}
    pieces, end = [], 0
    for i, match in enumerate(blocks(text)):
        if i == 0 and match["code"] in _SETUPS:
            saved, output = _SETUPS[match["code"]]
            namespace.update(saved)
        else:
            figure = HERE / "_static" / "guide" / f"{path.stem}-{i + 1}.png" if figures else None
            output = run_block(match["code"], namespace, f"{path.name}, block {i + 1}", figure)
            if i == 0:
                _SETUPS[match["code"]] = (dict(namespace), output)
        pieces.append(text[end : match.start()])
        pieces.append(f"```python\n{match['code']}```\n")
        if output:
            pieces.append(f"\n```text\n{output}\n```\n")
        end = match.end()
    pieces.append(text[end:])
    return "".join(pieces)


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, default=GUIDES)
    parser.add_argument("--write", action="store_true", help="paste the outputs into the pages")
    args = parser.parse_args(argv)
    for page in args.pages:
        new = run_page(page, figures=args.write)
        if args.write and new != page.read_text():
            page.write_text(new)
            print(f"updated {page}")
        else:
            print(f"ran {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
