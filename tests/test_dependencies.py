"""No dead dependency: every package pyproject.toml declares is imported by pit_guard."""

from __future__ import annotations

import ast
import functools
import re
import sys
from pathlib import Path
from typing import List

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# Distribution name -> the module it is imported as, where they differ.
MODULES = {"tomli": "tomli"}


@functools.lru_cache(maxsize=None)
def package_nodes() -> List[ast.AST]:
    """Every node of every module of pit_guard, parsed once for the tests of this file (each reads
    the sources as they are on disk, which nothing here changes)."""
    return [
        node
        for path in (ROOT / "pit_guard").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    ]


def imported_modules() -> set:  # type: ignore[type-arg]
    found = set()
    for node in package_nodes():
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_every_declared_dependency_is_imported() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {re.split(r"[<>=!~;\[ ]", item, maxsplit=1)[0].strip().lower() for item in declared}
    imported = imported_modules()
    unused = sorted(name for name in names if MODULES.get(name, name.replace("-", "_")) not in imported)
    assert not unused, f"declared but never imported (use it where it earns its place, or remove it): {unused}"


# Optional extras for users (not `test` / `bench`, which hold tools for developers): each package is
# imported by pit_guard, or it is one of these few that pit_guard runs as a program (never imports),
# and the program's name stands as a string in pit_guard's code. The list is explicit and short on
# purpose: a package joins it only for a program a command runs.
PROGRAMS = {"git-filter-repo": "git-filter-repo"}  # `pit-guard purge --apply` (sources/git.py)
DEVELOPER_EXTRAS = ("test", "bench")


def string_constants() -> set:  # type: ignore[type-arg]
    found = set()
    for node in package_nodes():
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def test_every_user_extra_is_imported_or_run() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    imported, strings = imported_modules(), string_constants()
    unused = []
    for extra, items in extras.items():
        if extra in DEVELOPER_EXTRAS:
            continue
        for item in items:
            name = re.split(r"[<>=!~;\[ ]", item, maxsplit=1)[0].strip().lower()
            if name in PROGRAMS:
                if PROGRAMS[name] not in strings:
                    unused.append(f"{extra}: {name} (its program {PROGRAMS[name]!r} is never named)")
            elif MODULES.get(name, name.replace("-", "_")) not in imported:
                unused.append(f"{extra}: {name}")
    assert not unused, f"optional extras nothing uses: {unused}"
    assert "purge" in extras  # the rule above has something to check


def test_a_runtime_program_is_also_in_the_test_extra() -> None:
    """CI installs `.[test]`: every program a command runs is there too, so its tests run, not skip."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    test = {re.split(r"[<>=!~;\[ ]", item, maxsplit=1)[0].strip().lower() for item in extras["test"]}
    assert set(PROGRAMS) <= test
