"""The package's house rules, read from the source with ast (every import, including those inside
functions and under TYPE_CHECKING): no import cycle, and imports only run down the layers
(cli -> commands -> pipeline -> validation, reporting -> config -> sources -> detection -> finding)."""

from __future__ import annotations

import ast
import pathlib
from typing import Dict, List, Set, Tuple

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "pit_guard"


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: Dict[str, pathlib.Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: pathlib.Path) -> Set[str]:
    """Every module this file imports: pit_guard modules resolved (`from pit_guard.x import y` is
    pit_guard.x.y when that is a module), others by their top-level name."""
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            base = node.module or ""
            found.add(base)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    found.add(f"{base}.{alias.name}")
    return found


def internal(name: str) -> List[str]:
    """`name` when it is a pit_guard module. Package __init__ files are left out: they hold no code
    that imports (test_package_inits_import_nothing), so an edge to one cannot close a cycle."""
    if name not in MODULES or MODULES[name].name == "__init__.py":
        return []
    return [name]


GRAPH: Dict[str, Set[str]] = {
    name: {m for imported in imports_of(path) for m in internal(imported)} - {name} for name, path in MODULES.items()
}


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import cycle as a path (first module repeated at the end), or [] when there is none."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def test_cycle_finder_finds_a_function_level_cycle() -> None:
    """The checker itself: a cycle through an import inside a function is one."""
    source = "def f():\n    from pit_guard.b import x\n"
    tree = ast.parse(source)
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names == {"pit_guard.b"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    assert len(MODULES) > 20, sorted(MODULES)
    assert find_cycle(GRAPH) == []


# Lower number = lower layer. A module may import its own layer (no cycle, checked above) or lower.
LAYERS: Tuple[Tuple[str, int], ...] = (
    ("pit_guard.__main__", 9),
    ("pit_guard.cli", 8),
    ("pit_guard.commands", 7),
    ("pit_guard.pipeline", 6),
    ("pit_guard.validation", 5),
    ("pit_guard.reporting", 5),
    ("pit_guard.remediation", 5),
    # Fleet audits: clone cache, organisation listings (its network boundary: forges.py), SQLite state.
    ("pit_guard.fleet", 5),
    ("pit_guard.config", 4),
    ("pit_guard.sources", 3),
    ("pit_guard.archives", 3),
    ("pit_guard.detection.patterns", 0),
    ("pit_guard.detection", 2),
    ("pit_guard.finding", 1),
    ("pit_guard.errors", 0),
    ("pit_guard", 0),
)


def layer(name: str) -> int:
    for prefix, rank in LAYERS:
        if name == prefix or name.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{name} has no layer in tests/test_architecture.py")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name: str) -> None:
    upward = sorted(m for m in GRAPH[name] if layer(m) > layer(name))
    assert not upward, f"{name} imports from a higher layer: {upward}"


def test_detection_imports_no_outer_wing() -> None:
    for name, imported in GRAPH.items():
        if name.startswith("pit_guard.detection"):
            outer = sorted(
                m
                for m in imported
                if m.split(".")[1] in ("sources", "commands", "reporting", "validation", "pipeline", "cli", "config")
            )
            assert not outer, f"{name} imports {outer}"


def test_finding_imports_only_patterns() -> None:
    assert GRAPH["pit_guard.finding"] <= {"pit_guard.detection.patterns"}
    assert GRAPH["pit_guard.detection.patterns"] == set()


def test_package_inits_import_nothing() -> None:
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            assert not [i for i in imports_of(path) if i.startswith("pit_guard")], name


def test_only_sources_git_runs_git() -> None:
    """git runs only in sources/git.py: with sources/containers.py (`docker save` for --image) the
    only modules that import subprocess."""
    users = sorted(name for name, path in MODULES.items() if "subprocess" in imports_of(path))
    assert users == ["pit_guard.sources.containers", "pit_guard.sources.git"], users


def test_commands_are_listed_not_registered_on_import() -> None:
    """cli.py lists every command module's command; no command module imports cli."""
    commands = sorted(n for n in MODULES if n.startswith("pit_guard.commands.") and n != "pit_guard.commands.options")
    assert commands
    assert set(commands) <= GRAPH["pit_guard.cli"]
    for name in commands:
        assert "pit_guard.cli" not in GRAPH[name]
