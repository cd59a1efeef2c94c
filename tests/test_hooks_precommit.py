"""Real pre-commit runs of the hooks in .pre-commit-hooks.yaml, as a user's repository runs them.

The hook environment is built once per session: a committed copy of this tree is the hook
repository, a config outside the work repositories points at it by path and commit, and every run
shares one PRE_COMMIT_HOME, so pre-commit pip-installs pit-guard once (about 10 s) and reuses it.
(`pre-commit try-repo` cannot share it: it makes a new store in a temp folder on every call.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
from git_helpers import Repo, git_env, new_pit

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))
pytestmark = pytest.mark.skipif(not os.path.exists(PRE_COMMIT), reason="pre-commit is not installed")
NO_INDEX = ("Could not find a version", "Failed to establish a new connection")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory):
    """(config file, PRE_COMMIT_HOME): this project as a hook repository, its environment built once."""
    src = tmp_path_factory.mktemp("hook") / "pit-guard"
    # what .gitignore keeps out of the project's repository (a user's clone has none of it)
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache"
    )
    shutil.copytree(ROOT, src, ignore=ignore)
    repo = Repo(src)
    rev = repo.commit("snapshot")
    home = tmp_path_factory.mktemp("pre-commit-home")
    config = tmp_path_factory.mktemp("pre-commit-config") / "pre-commit-config.yaml"
    config.write_text(
        f"repos:\n  - repo: {src.as_posix()}\n    rev: {rev}\n"
        "    hooks:\n      - id: pit-guard\n      - id: pit-guard-push\n"
    )
    env = git_env({"PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"})

    def install(extra: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [PRE_COMMIT, "install-hooks", "--config", str(config)],
            cwd=src,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=600,
        )

    # pip builds pit-guard with the setuptools the hook environment was seeded with (virtualenv
    # seeds one, 84.x today) instead of installing setuptools into a build environment of its own
    # first: 18 s -> 8 s. (pip reads PIP_NO_BUILD_ISOLATION=0 as --no-build-isolation, its quirk
    # for flags that turn an option off.) The same `pre-commit install-hooks`, the same installed
    # hook; where the seeded setuptools is older than [build-system] requires, pip as users run it.
    proc = install({"PIP_NO_BUILD_ISOLATION": "0"})
    if proc.returncode != 0:
        shutil.rmtree(home)
        home.mkdir()
        proc = install({})
    if any(reason in proc.stdout + proc.stderr for reason in NO_INDEX):
        pytest.skip("pre-commit could not install pit-guard's dependencies (no package index)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return config, home


def try_repo(hook_repo, cwd: Path, *args: str):
    """`pre-commit run` in `cwd` with the session's hook repository: the environment is reused."""
    config, home = hook_repo
    env = git_env({"PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"})
    proc = subprocess.run(
        [PRE_COMMIT, "run", "--config", str(config), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert "Installing environment" not in out, out  # built once, in the fixture
    return proc.returncode, out


def test_pre_commit_hook_reports_only_what_the_commit_adds(hook_repo, tmp_path):
    repo = Repo(tmp_path / "work")
    old, new = new_pit(), new_pit()
    repo.write("config.py", f"KEY = '{old}'\n")
    repo.commit("old leak")
    repo.write("config.py", f"# edited\nKEY = '{old}'\n")
    repo.write("new file.env", f"GHL_TOKEN={new}\n")
    repo.git("add", "-A")
    code, out = try_repo(hook_repo, repo.path, "pit-guard")
    assert code == 1, out
    assert "new file.env:1:" in out and "config.py" not in out.split("pit-guard (GoHighLevel")[-1]
    assert new not in out and old not in out
    repo.commit("both")
    code, out = try_repo(hook_repo, repo.path, "pit-guard", "--all-files")
    assert code == 1 and "config.py:2:" in out and "new file.env:1:" in out, out  # equal to HEAD: in full


def test_pre_push_hook_scans_the_pushed_commits(hook_repo, tmp_path):
    repo = Repo(tmp_path / "work")
    repo.write("a.txt", "a\n")
    base = repo.commit("base")
    repo.write("b.env", f"T={new_pit()}\n")
    head = repo.commit("leak")
    code, out = try_repo(
        hook_repo, repo.path, "pit-guard-push", "--hook-stage", "pre-push", "--from-ref", base, "--to-ref", head
    )
    assert code == 1 and "b.env:1:" in out and "a.txt" not in out, out


def test_first_commit_with_odd_file_names(hook_repo, tmp_path):
    repo = Repo(tmp_path / "work")  # no HEAD yet
    names = ["with space.env", "ünïcode.env", "new\nline.env"]
    for name in names:
        repo.write(name, f"T={new_pit()}\n")
    repo.git("add", "-A")
    code, out = try_repo(hook_repo, repo.path, "pit-guard")
    assert code == 1, out
    # A newline in a name is shown escaped, so it cannot fake a report line.
    assert "with space.env:1:" in out and "ünïcode.env:1:" in out and "new\\x0aline.env:1:" in out


def test_file_names_that_look_like_options_stay_file_names(hook_repo, tmp_path):
    repo = Repo(tmp_path / "work")
    token = new_pit()
    repo.write("secret.txt", f"GHL_TOKEN={token}\n")
    for name in ("--help", "--max-file-size=1", "--show-secrets"):
        repo.write(name, "hi\n")
    repo.git("add", "--", ".")
    code, out = try_repo(hook_repo, repo.path, "pit-guard")
    assert code == 1 and "secret.txt:1:" in out, out
    assert token not in out
