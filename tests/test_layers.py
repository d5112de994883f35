"""The package's layers, checked from the source: no import cycle, catalog below inference, small modules.

Every ``import`` in a module counts, including those inside functions (an import moved into a
function to dodge a cycle still ties the two modules together); only imports under
``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "realtime"
MAX_LINES = 400
MAX_BIG_MODULES = 1  # sinks/file.py


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import node that can run, skipping the bodies of ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` is or lies in (``a.b.func`` -> ``a.b``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """Module -> the realtime modules it imports (anywhere in the file)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _import_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = module.split(".")
                    drop = node.level - 1 if is_package else node.level
                    base = base[: len(base) - drop] if drop else base
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # ``from pkg import sub`` names a submodule when pkg.sub exists; else the name is in pkg.
                targets = [f"{prefix}.{alias.name}" for alias in node.names] or [prefix]
            for target in targets:
                if not target.startswith("realtime"):
                    continue
                resolved = _resolve(target, modules)
                if resolved is None or resolved == module:
                    continue
                graph[module].add(resolved)
                # Importing a.b.c runs a/b/__init__.py first, unless the importer lives in a.b.
                parent = resolved.rpartition(".")[0]
                while parent.count("."):
                    if parent in modules and not (module + ".").startswith(parent + "."):
                        graph[module].add(parent)
                    parent = parent.rpartition(".")[0]
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return [_one_cycle(graph, set(c)) for c in components]


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A concrete cycle through the component's first module, for the failure message."""
    start = min(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
                if w not in parents:
                    parents[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(component)


def test_no_import_cycle() -> None:
    cycles = find_cycles(import_graph())
    text = "\n".join(" -> ".join(c) for c in cycles)
    assert not cycles, f"import cycles among realtime's modules:\n{text}"


def test_no_cycle_among_packages() -> None:
    """Folders as layers: no two of realtime's packages (or top-level modules) import each other,
    even through modules that do not form a module cycle."""
    packages: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        top = ".".join(module.split(".")[:2])
        packages.setdefault(top, set())
        for target in targets:
            other = ".".join(target.split(".")[:2])
            packages.setdefault(other, set())
            if other != top:
                packages[top].add(other)
    cycles = find_cycles(packages)
    text = "\n".join(" -> ".join(c) for c in cycles)
    assert not cycles, f"import cycles among realtime's packages:\n{text}"


def test_checker_sees_imports_inside_functions_and_skips_type_checking(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import realtime.a\n"
        "def f():\n    from realtime import b\n"
    )
    nodes = _import_nodes(ast.parse(source))
    names = [n.module or n.names[0].name for n in nodes]
    assert names == ["typing", "realtime"]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def _upward(layer: str, above: tuple[str, ...]) -> list[tuple[str, str]]:
    return sorted(
        (module, target)
        for module, targets in import_graph().items()
        if module == layer or module.startswith(layer + ".")
        for target in targets
        if target.startswith(above)
    )


def test_catalog_is_data_below_inference_and_remote() -> None:
    upward = _upward("realtime.catalog", ("realtime.inference", "realtime.remote"))
    assert not upward, f"catalog/ must not import inference/ or remote/: {upward}"


def test_the_model_layer_imports_no_layer_above_it() -> None:
    above = ("realtime.remote", "realtime.faces", "realtime.swap", "realtime.enhance", "realtime.pipeline")
    upward = _upward("realtime.inference", above)
    assert not upward, f"inference/ must not import what runs on it: {upward}"


def test_at_most_one_module_over_400_lines() -> None:
    big = {
        _module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    print("modules over", MAX_LINES, "lines:", big)
    assert len(big) <= MAX_BIG_MODULES, f"modules over {MAX_LINES} lines: {big}"
