"""The engine's shape, checked from its source: no import circle between its modules, nothing
imported from the layers above it, no module named like a sibling package, no callable modules.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a circle that
only bites at run time is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "seedance_widgets"
ENGINE = PACKAGE / "engine"
#: What the engine may import from the package: the protocol layer and itself. The one seam to the
#: front door that picks a backend (key: the gateway, else the built-in emulator) is
#: environment.py, which a manager given no client uses, and only when called.
ALLOWED = ("seedance_widgets.api", "seedance_widgets.engine")
SEAMS = {"environment": ("seedance_widgets.backend",)}


def _imports(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from . import x`` counts as ``package.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _engine_graph() -> dict[str, set[str]]:
    modules = {p.stem for p in ENGINE.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in modules:
        names = _imports(ENGINE / f"{name}.py", "seedance_widgets.engine")
        graph[name] = {
            n.split(".")[2]
            for n in names
            if n.startswith("seedance_widgets.engine.") and n.split(".")[2] in modules
        } - {name}
    return graph


def test_no_import_circle_between_engine_modules() -> None:
    graph = _engine_graph()
    assert {"manager", "job", "scheduler", "cache", "transfers", "restore", "clock"} <= set(graph)
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import circle in seedance_widgets/engine: " + " -> ".join(cycle))
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_a_job_does_not_import_its_manager() -> None:
    assert not _engine_graph()["job"] & {"manager", "core", "registry"}


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_the_engine_imports_only_the_protocol_layer_and_itself(path: Path) -> None:
    allowed = ALLOWED + SEAMS.get(path.stem, ())
    ours = {n for n in _imports(path, "seedance_widgets.engine") if n.split(".")[0] == "seedance_widgets"}
    above = sorted(n for n in ours if not n.startswith(allowed) and n != "seedance_widgets")
    assert not above, f"engine/{path.name} imports from a layer above the engine: {above}"


def test_no_module_is_named_like_a_sibling_package_or_module() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
    }
    top -= {"__init__"}
    clashes = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.parent != PACKAGE and path.stem in top and "static" not in path.parts
    ]
    assert not clashes, f"modules named like a top-level module or package of seedance_widgets: {clashes}"


def test_no_module_swaps_its_class_to_be_callable() -> None:
    swapped = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if ".__class__ =" in path.read_text(encoding="utf-8")
    ]
    assert not swapped, f"modules that replace their module class: {swapped}"


def test_the_public_functions_are_plain_functions() -> None:
    import types

    import seedance_widgets as sw

    for name in ("jobs", "grid", "generate", "attach"):
        assert isinstance(getattr(sw, name), types.FunctionType), name
