"""Imports go only downward (cli > local > launch/serve/transform > usercode/proc/dirsync >
config/formats/storage > paths/errors/logs; sideways within a layer), serve and launch never import each
other, and no module-level import cycle exists.

Walks src/ with ast, so it holds for every import, lazy ones inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "smtoolkit"
LAYERS = {
    **dict.fromkeys(("paths", "errors", "logs", "levels", "hardware", "atomicfile"), 0),
    # checkpoints and metricsfile: the user script's API beside config's `env`.
    **dict.fromkeys(("config", "formats", "storage", "checkpoints", "metricsfile"), 1),
    **dict.fromkeys(("usercode", "proc", "dirsync"), 2),
    **dict.fromkeys(("launch", "serve", "transform"), 3),
    "local": 4,
    **dict.fromkeys(("cli", "entry", "__main__"), 5),
}
NEVER = {("serve", "launch"), ("launch", "serve")}
# Inside local/: the commands over the jobs over the platform's side over the request models.
LOCAL_LAYERS = {"spec": 0, "platform": 1, "jobs": 2, "cli": 3, "__main__": 4}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(module: str, path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            targets.update(f"{base}.{alias.name}" for alias in node.names)
            targets.add(base)
    return {target for target in targets if target == PACKAGE or target.startswith(PACKAGE + ".")}


def _area(module: str) -> str:
    parts = module.split(".")
    if parts[-1] == "__main__":  # `python -m smtoolkit.serve`: a program's entry, above everything it runs
        return "__main__"
    return parts[1] if len(parts) > 1 else ""


def _resolve(target: str, modules: dict[str, Path]) -> str | None:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def test_every_area_has_a_layer() -> None:
    areas = {_area(module) for module in _modules()} - {""}
    assert areas <= set(LAYERS), sorted(areas - set(LAYERS))


def test_imports_only_go_downward() -> None:
    modules = _modules()
    wrong = set()
    for module, path in modules.items():
        source = _area(module)
        if not source:  # smtoolkit/__init__.py: the public API, lazily
            continue
        for target in _imports(module, path, top_level_only=False):
            resolved = _resolve(target, modules)
            if resolved is None or not _area(resolved):
                continue
            destination = _area(resolved)
            if (source, destination) in NEVER or LAYERS[destination] > LAYERS[source]:
                wrong.add(f"{module} imports {resolved}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_module_level_import_cycle() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        resolved = (_resolve(target, modules) for target in _imports(module, path, top_level_only=True))
        graph[module] = {target for target in resolved if target and target != module and target != PACKAGE}
    cycle = _find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def _local_part(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "local" else None


def _local_graph() -> dict[str, set[str]]:
    """Every import between local/ modules, lazy ones inside functions included."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        if _local_part(module) is None:
            continue
        resolved = (_resolve(target, modules) for target in _imports(module, path, top_level_only=False))
        graph[module] = {target for target in resolved if target and target != module and _local_part(target)}
    return graph


def test_local_is_layered_by_role() -> None:
    graph = _local_graph()
    assert {_local_part(module) for module in graph} <= set(LOCAL_LAYERS), sorted(graph)
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if LOCAL_LAYERS[str(_local_part(target))] > LOCAL_LAYERS[str(_local_part(module))]
    )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_inside_local_not_even_through_lazy_imports() -> None:
    cycle = _find_cycle(_local_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_no_private_name_is_imported_from_another_module() -> None:
    """A helper shared by two modules is public (or lives where both can reach it)."""
    wrong: set[str] = set()
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(PACKAGE)):
                private = [alias.name for alias in node.names if alias.name.startswith("_") and alias.name[1] != "_"]
                wrong.update(f"{module} imports {name} from {node.module}" for name in private)
    assert not wrong, "\n".join(sorted(wrong))


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("graph", [{"a": {"b"}, "b": {"a"}}])
def test_the_cycle_finder_finds_a_cycle(graph: dict[str, set[str]]) -> None:
    assert _find_cycle(graph) == ["a", "b", "a"]
