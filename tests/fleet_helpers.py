"""Fleets of small real repositories for the fleet tests: bare repositories served over file://."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from git_helpers import Repo, new_pit

from pit_guard.cli import main


def make_remote(root: Path, name: str, tokens: List[str], extra_files: int = 1) -> Tuple[Repo, str]:
    """A work repository with one commit per token (plus clean files), pushed to a bare `name.git`:
    returns the work repository (to add commits later) and the bare repository's file:// URL."""
    work = Repo(root / f"{name}-work")
    for i in range(extra_files):
        work.write(f"docs/readme{i}.md", f"# {name} {i}\n")
    work.commit("init")
    for i, token in enumerate(tokens):
        work.write(f"config/{i}.env", f"GHL_TOKEN={token}\n")
        work.commit(f"add {i}")
    bare = root / f"{name}.git"
    Repo(bare, bare=True)
    work.git("push", "-q", str(bare), "main")
    return work, bare.as_uri()


def push(work: Repo, url: str) -> None:
    work.git("push", "-q", url, "main")


def run_json(capsys: Any, *args: str) -> Tuple[int, Optional[Dict[str, Any]], str]:
    code = main(["audit", "--format", "json", *args])
    out = capsys.readouterr()
    report = json.loads(out.out) if out.out.strip() else None
    return code, report, out.err


__all__ = ["make_remote", "new_pit", "push", "run_json"]
