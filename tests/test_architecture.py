"""The package reads as its layers: faces (cli, ui) -> pipeline -> stages -> workspace -> core.
No module imports a layer above its own, and no modules import each other in a circle.
(Imports under ``if TYPE_CHECKING:`` are for type names only and do not count.)"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "medllm_local"
# lower number = lower layer; a module may import its own layer and the ones below
LAYERS = {"core": 0, "workspace": 1, "stages": 2, "pipeline": 3, "cli": 4, "ui": 4}
# `launch.py` with no command starts the app: the command line's one way into the UI
FACE_TO_FACE = {("medllm_local.cli.main", "medllm_local.ui.app")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top(module: str) -> str:
    """The package's folder a module sits in ("stages" for medllm_local.stages.deid.engine)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> int | None:
    return LAYERS.get(top(module))


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules ``path`` imports when it runs."""
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):  # what sits under `if TYPE_CHECKING:`
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("medllm_local"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("medllm_local"))
    return {m for m in found if m in modules}


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: runtime_imports(path, set(paths)) - {name} for name, path in paths.items()}


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for module, imports in graph().items():
        own = layer(module)
        for imported in imports:
            theirs = layer(imported)
            if own is not None and theirs is not None and theirs > own:
                upward.append(f"{module} -> {imported}")
            if {top(module), top(imported)} == {"cli", "ui"} and (module, imported) not in FACE_TO_FACE:
                upward.append(f"{module} -> {imported} (one face imports the other)")
    assert not upward, "\n".join(sorted(upward))


def test_there_are_no_import_circles():
    edges = graph()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    assert not circles, circles


def test_the_top_level_holds_only_the_layers():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert not loose, loose
