"""Copy the figures the docs pages show out of the executed notebooks (their committed outputs).

``make docs`` runs this first; the PNGs are committed too, so the pages and the notebooks show the
same figures and a re-executed notebook shows up as a diff here.  Nothing is computed: each figure
is the image output of one notebook cell, named by the cell's id.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent / "notebooks"
OUT = HERE / "_static" / "figures"

# file name -> (notebook, cell id)
FIGURES = {
    "six_effects.png": ("01_conditional_vs_marginal.ipynb", "f9c87089"),
    "link_vs_response.png": ("02_mar_properties.ipynb", "0f044c13"),
    "integrated_vs_typical.png": ("02_mar_properties.ipynb", "5273f8ec"),
    "sleepstudy_slopes.png": ("03_sleepstudy.ipynb", "5d79ddd7"),
}


def cell_image(notebook: Path, cell_id: str) -> bytes:
    """The one PNG output of the cell with this id (an error if there is none or several)."""
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c.get("id") == cell_id]
    if len(cells) != 1:
        raise SystemExit(f"{notebook.name}: no cell with id {cell_id!r}; update FIGURES in {__file__}")
    images = [o["data"]["image/png"] for o in cells[0].get("outputs", []) if "image/png" in o.get("data", {})]
    if len(images) != 1:
        raise SystemExit(f"{notebook.name}, cell {cell_id}: {len(images)} PNG outputs, expected 1 (is it executed?)")
    data = images[0]
    return base64.b64decode("".join(data) if isinstance(data, list) else data)


def main() -> int:
    """The command line."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (notebook, cell_id) in FIGURES.items():
        png = cell_image(NOTEBOOKS / notebook, cell_id)
        target = OUT / name
        if not target.exists() or target.read_bytes() != png:
            target.write_bytes(png)
            print(f"wrote {target.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
