"""Fail-closed matrix, hostile repositories (rows found by adversarial review): what a repository
contains or configures cannot hide a secret from the git modes, nor run a program."""

from __future__ import annotations

import pathlib
import stat
import subprocess
from typing import Callable, Dict, List, Optional

import pytest
from git_helpers import Repo, git_env, new_pit
from in_process import Ran, Runner


@pytest.fixture
def pg(in_process: Runner) -> Callable[..., Ran]:
    """pit-guard in-process (git runs as real processes either way: what the rows check is which git
    commands pit-guard runs and what it reads from them)."""

    def run(args: List[str], cwd: pathlib.Path, stdin: str = "", env: Optional[Dict[str, str]] = None) -> Ran:
        return in_process(*args, cwd=cwd, env=git_env(env), stdin=stdin)

    return run


def test_a_file_that_starts_like_an_lfs_pointer_is_still_scanned(
    tmp_path: pathlib.Path, pg: Callable[..., Ran]
) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("base.txt", "x\n")
    repo.commit("base")
    token = new_pit()
    repo.write(".env", f"version https://git-lfs.github.com/spec/v1\nGHL_TOKEN={token}\n")
    repo.git("add", ".env")
    for args in (["scan", "--staged"], ["hook", "pre-commit", ".env"]):
        proc = pg(args, repo.path)
        assert proc.returncode == 1, (args, proc.stderr)
        assert token not in proc.stdout + proc.stderr
    repo.commit("lfs-like")
    for args in (["audit"], ["scan", "--since", "HEAD~1"]):
        proc = pg(args, repo.path)
        assert proc.returncode == 1, (args, proc.stderr)


@pytest.mark.parametrize("how", ["replace", "graft-replace", "grafts-file"])
def test_replace_refs_and_grafts_cannot_hide_history(tmp_path: pathlib.Path, how: str, pg: Callable[..., Ran]) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "a\n")
    c1 = repo.commit("c1")
    token = new_pit()
    repo.write("s.txt", f"k={token}\n")
    c2 = repo.commit("add secret")
    repo.git("rm", "-q", "s.txt")
    repo.commit("remove secret")
    c1 = repo.git("rev-parse", "HEAD~2").strip()
    c2 = repo.git("rev-parse", "HEAD~1").strip()
    head = repo.git("rev-parse", "HEAD").strip()
    if how == "replace":
        tree = repo.git("rev-parse", f"{c1}^{{tree}}").strip()
        fake = repo.git("commit-tree", tree, "-p", c1, "-m", "nothing here").strip()
        repo.git("replace", c2, fake)
    elif how == "graft-replace":
        repo.git("replace", "--graft", head)  # HEAD without parents
    else:
        (repo.path / ".git" / "info").mkdir(exist_ok=True)
        (repo.path / ".git" / "info" / "grafts").write_text(head + "\n")
    assert "add secret" not in repo.git("log", "--format=%s")  # git itself no longer shows it
    push = f"refs/heads/main {head} refs/heads/main {'0' * 40}\n"
    for args, stdin in ((["audit"], ""), (["scan", "--range", f"{c1}..HEAD"], ""), (["hook", "pre-push"], push)):
        proc = pg(args, repo.path, stdin)
        assert proc.returncode == 1, (how, args, proc.stderr)
        assert token not in proc.stdout + proc.stderr


def test_repository_config_runs_no_program(tmp_path: pathlib.Path, pg: Callable[..., Ran]) -> None:
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    evil.chmod(evil.stat().st_mode | stat.S_IEXEC)
    repo = Repo(tmp_path / "r")
    repo.write("a.txt", "a\n")
    repo.commit("a")
    for key, value in (("log.showSignature", "true"), ("gpg.program", str(evil)), ("core.fsmonitor", str(evil))):
        repo.git("config", key, value)
    # A commit carrying a signature header makes `git log --show-signature` run gpg.program.
    raw = repo.git("cat-file", "commit", "HEAD")
    header, _, message = raw.partition("\n\n")
    signed = header + "\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n -----END PGP SIGNATURE-----\n\n" + message
    sha = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=repo.path,
        input=signed,
        capture_output=True,
        text=True,
        env=git_env(),
        check=True,
    ).stdout.strip()
    repo.git("update-ref", "refs/heads/main", sha)
    token = new_pit()
    repo.write("b.env", f"GHL={token}\n")
    repo.git("add", "b.env")
    for args in (["audit"], ["scan", "--since", "HEAD"], ["scan", "--staged"], ["hook", "pre-commit", "b.env"]):
        if marker.exists():
            marker.unlink()  # the test's own `git add` ran the fsmonitor hook
        pg(args, repo.path)
        assert not marker.exists(), args


def test_unreadable_pre_push_line_is_exit_2(tmp_path: pathlib.Path, pg: Callable[..., Ran]) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("a.env", f"GHL={new_pit()}\n")
    repo.commit("a")
    head = repo.git("rev-parse", "HEAD").strip()
    proc = pg(["hook", "pre-push", "origin", "url"], repo.path, f"refs/heads/main {head}\n")
    assert proc.returncode == 2 and "cannot read a line" in proc.stderr, proc.stderr


def test_audit_of_a_named_repository_ignores_git_dir(tmp_path: pathlib.Path, pg: Callable[..., Ran]) -> None:
    clean = Repo(tmp_path / "clean")
    clean.write("a.txt", "a\n")
    clean.commit("a")
    leaky = Repo(tmp_path / "leaky")
    token = new_pit()
    leaky.write("a.env", f"GHL={token}\n")
    leaky.commit("a")
    proc = pg(["audit", str(leaky.path)], tmp_path, env={"GIT_DIR": str(clean.path / ".git")})
    assert proc.returncode == 1, proc.stderr
    assert token not in proc.stdout + proc.stderr
