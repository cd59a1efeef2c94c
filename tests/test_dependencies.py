"""No dead dependency: every package pyproject.toml declares is imported by pit_guard."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# Distribution name -> the module it is imported as, where they differ.
MODULES = {"tomli": "tomli"}


def imported_modules() -> set:  # type: ignore[type-arg]
    found = set()
    for path in (ROOT / "pit_guard").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
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
