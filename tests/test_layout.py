"""The package's layering, read from the source: who may import whom, and no cycles.

model ← engine ← verbs → estimands, results;  plots → results;  estimands, datasets
and results stand alone; config (package options) is a leaf that model, engine and verbs may read.
diagnostics runs on the engine's thread pool (engine.parallel only: an entry with a dot names one
module), and results summarises rows with engine.quantiles only (numpy's quantiles on that pool).
bambi (fitting with Bambi/PyMC) reads model; only the package's public API imports it.  No module
outside ``mixeff/bambi/`` imports PyMC, Bambi, PyTensor or nutpie, so that brms draws work without
them.  Imports inside functions count too.
"""

import ast
import functools
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mixeff"

ALLOWED = {
    "model": {"model", "datasets", "config"},
    "engine": {"engine", "model", "config", "records"},
    "estimands": {"estimands"},
    "datasets": {"datasets"},
    "results": {"results", "diagnostics", "records", "mixeff.engine.quantiles"},
    "records": {"records"},
    "diagnostics": {"diagnostics", "mixeff.engine.parallel"},
    "verbs": {"verbs", "engine", "estimands", "results", "model", "diagnostics", "config", "records"},
    "plots": {"plots", "results", "verbs", "estimands", "model"},
    "config": {"config"},
    "bambi": {"bambi", "model", "datasets", "config"},
}

MODELLING_LIBRARIES = {"pymc", "bambi", "pytensor", "nutpie"}
"""Third-party libraries only ``mixeff/bambi/`` may import (the ``bambi`` extra)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every mixeff module ``path`` imports, resolved to dotted names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "mixeff":
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "mixeff")
    return {m for m in found if m in _modules(PACKAGE) and m != name}


@functools.cache
def _modules(package: Path) -> frozenset[str]:
    return frozenset(_module_name(p) for p in package.rglob("*.py"))


def _libraries(path: Path) -> set[str]:
    """The top-level names of the modules outside mixeff that ``path`` imports (absolute imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found - {"mixeff"}


def _graph():
    return _graph_of(PACKAGE)


@functools.cache
def _graph_of(package: Path):  # read once per package (the planted one below is another)
    return {_module_name(p): _imports(p) for p in package.rglob("*.py")}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_is_in_a_layer():
    layers = {_layer(m) for m in _graph()} - {""}
    assert layers <= set(ALLOWED) | {"cli"}, layers - set(ALLOWED)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer):
    bad = {
        (m, dep)
        for m, deps in _graph().items()
        if _layer(m) == layer
        for dep in deps
        if _layer(dep) not in ALLOWED[layer] and dep not in ALLOWED[layer] and dep != "mixeff"
    }
    assert not bad, f"{layer} may import only {sorted(ALLOWED[layer])}; found {sorted(bad)}"


def _cycles(graph) -> list[list[str]]:
    """Every import cycle found by a depth-first walk (each as the path that closes it)."""
    state: dict[str, int] = {}
    found = []

    def visit(node, stack):
        state[node] = 1
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                found.append(stack + [node, dep])
            elif dep not in state:
                visit(dep, stack + [node])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [])
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []
    # the walk does see a cycle when there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_only_the_bambi_package_imports_pymc_bambi_pytensor():
    """The engine, estimands, verbs, plots and the model's description never import the modelling
    libraries: a fit from brms draws or arrays runs without the ``bambi`` extra."""
    found = {(_module_name(p), lib) for p in PACKAGE.rglob("*.py") for lib in _libraries(p) & MODELLING_LIBRARIES}
    assert {m for m, _ in found if _layer(m) == "bambi"}, "the check sees the bambi package's imports"
    assert not {(m, lib) for m, lib in found if _layer(m) != "bambi"}


def test_internal_modules_export_no_all():
    """The public API is ``mixeff/__init__.py``; internal modules do not advertise ``__all__``."""
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p != PACKAGE / "__init__.py" and "__all__" in p.read_text()
    ]
    assert not offenders


def test_the_layering_check_sees_a_violation(tmp_path, monkeypatch):
    """The walker is not vacuous: a planted upward import is found."""
    pkg = tmp_path / "mixeff"
    (pkg / "estimands").mkdir(parents=True)
    (pkg / "engine").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "engine" / "__init__.py").write_text("")
    (pkg / "engine" / "passes.py").write_text("")
    (pkg / "estimands" / "__init__.py").write_text("")
    (pkg / "estimands" / "bad.py").write_text("from ..engine.passes import run\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert _graph()["mixeff.estimands.bad"] == {"mixeff.engine.passes"}
    with pytest.raises(AssertionError, match="estimands may import only"):
        test_layer_imports_only_what_it_may("estimands")
