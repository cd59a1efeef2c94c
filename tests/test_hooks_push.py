"""pre-push (git stdin and pre-commit variables) and scan --since/--range."""

from __future__ import annotations

import json
import subprocess

import pytest
from git_helpers import Repo, git_env, new_pit

from pit_guard.cli import main
from pit_guard.errors import FatalError
from pit_guard.sources import changes

ZERO = "0" * 40


@pytest.fixture
def pair(tmp_path, monkeypatch):
    """A remote with one pushed commit and a clone of it (cwd)."""
    for name in (
        "CI",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "PRE_COMMIT_FROM_REF",
        "PRE_COMMIT_TO_REF",
        "PRE_COMMIT_LOCAL_BRANCH",
        "PRE_COMMIT_REMOTE_BRANCH",
    ):
        monkeypatch.delenv(name, raising=False)
    remote = Repo(tmp_path / "remote.git", bare=True)
    seed = Repo(tmp_path / "seed")
    seed.write("README", "hi\n")
    seed.commit("init")
    seed.git("push", "-q", str(remote.path), "main")
    local = Repo(tmp_path / "local", init=False)
    subprocess.run(["git", "clone", "-q", str(remote.path), str(local.path)], check=True, env=git_env())
    monkeypatch.chdir(local.path)
    return remote, local


def findings(capsys, argv, monkeypatch=None, stdin=None):
    if stdin is not None:
        import io
        import sys

        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = main([*argv, "--format", "json"])
    out = capsys.readouterr()
    return code, json.loads(out.out)["findings"], out.err


def test_push_existing_branch_scans_only_new_commits(pair, capsys, monkeypatch):
    remote, local = pair
    base = local.head()
    token = new_pit()
    local.write("a.env", f"T={token}\n")
    leak = local.commit("leak")
    local.write("a.env", "T=\n")
    local.commit("fix")  # removed again: still in the pushed history
    line = f"refs/heads/main {local.head()} refs/heads/main {base}\n"
    code, found, _ = findings(capsys, ["hook", "pre-push", "origin", str(remote.path)], monkeypatch, line)
    assert code == 1 and len(found) == 1
    assert found[0]["path"] == "a.env" and found[0]["provenance"]["commit"] == leak


def test_push_new_branch_and_deletion(pair, capsys, monkeypatch):
    remote, local = pair
    local.git("checkout", "-q", "-b", "feature")
    local.write("b.env", new_pit())
    local.commit("on feature")
    line = f"refs/heads/feature {local.head()} refs/heads/feature {ZERO}\n"
    code, found, _ = findings(capsys, ["hook", "pre-push"], monkeypatch, line)
    assert code == 1 and [f["path"] for f in found] == ["b.env"]
    deletion = f"(delete) {ZERO} refs/heads/old {local.head()}\n"
    code, found, _ = findings(capsys, ["hook", "pre-push"], monkeypatch, deletion)
    assert code == 0 and found == []


def test_push_root_commit_to_empty_remote(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PRE_COMMIT_TO_REF", raising=False)
    local = Repo(tmp_path / "fresh")
    local.write("k.txt", new_pit())
    local.commit("root")
    monkeypatch.chdir(local.path)
    line = f"refs/heads/main {local.head()} refs/heads/main {ZERO}\n"
    code, found, _ = findings(capsys, ["hook", "pre-push"], monkeypatch, line)
    assert code == 1 and [f["path"] for f in found] == ["k.txt"]


def test_pre_commit_framework_variables(pair, capsys, monkeypatch):
    remote, local = pair
    base = local.head()
    local.write("c.env", new_pit())
    local.commit("c")
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", base)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", local.head())
    code, found, _ = findings(capsys, ["hook", "pre-push"])
    assert code == 1 and [f["path"] for f in found] == ["c.env"]
    # root-commit push: pre-commit passes no refs, only the branch names
    monkeypatch.delenv("PRE_COMMIT_FROM_REF")
    monkeypatch.delenv("PRE_COMMIT_TO_REF")
    monkeypatch.setenv("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/main")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/main")
    code, found, _ = findings(capsys, ["hook", "pre-push"])
    assert code == 1 and [f["path"] for f in found] == ["c.env"]


def test_since_and_range_report_additions_once(pair, capsys):
    remote, local = pair
    base = local.head()
    old = new_pit()
    local.write("x.py", f"A = '{old}'\n")
    first = local.commit("add")
    local.write("x.py", f"# more\nA = '{old}'\n")
    local.commit("edit keeps it")
    code, found, _ = findings(capsys, ["scan", "--since", base])
    assert code == 1 and len(found) == 1 and found[0]["provenance"]["commit"] == first
    code, found, _ = findings(capsys, ["scan", "--range", f"{first}..HEAD"])
    assert code == 0 and found == []  # the edit does not re-add it
    assert main(["scan", "--range=--all"]) == 2
    assert "not a revision" in capsys.readouterr().err


def test_merge_commit_in_range(pair, capsys):
    remote, local = pair
    base = local.head()
    local.git("checkout", "-q", "-b", "topic")
    local.write("t.txt", new_pit())
    local.commit("topic")
    local.git("checkout", "-q", "main")
    local.write("m.txt", "m")
    local.commit("main")
    local.git("merge", "-q", "--no-edit", "topic")
    code, found, _ = findings(capsys, ["scan", "--range", "topic..main"])
    assert code == 0 and found == []  # the merge brings topic's secret, which topic added
    code, found, _ = findings(capsys, ["scan", "--since", base])
    assert [f["path"] for f in found] == ["t.txt"]


def test_evil_merge_in_range_is_read_from_its_combined_diff(pair, capsys):
    """A secret only the merge resolution adds (combined `-c` entries, read by the one log reader)
    is reported at the merge; what topic added stays at topic's commit."""
    remote, local = pair
    base = local.head()
    local.git("checkout", "-q", "-b", "topic")
    topic_secret = new_pit()
    local.write("t.txt", topic_secret)
    local.commit("topic")
    local.git("checkout", "-q", "main")
    local.write("m.txt", "m")
    local.commit("main")
    local.git("merge", "-q", "--no-commit", "topic")
    merge_secret = new_pit()
    local.write("m.txt", f"m\n{merge_secret}\n")
    local.git("add", "m.txt")
    local.git("commit", "-q", "--no-edit")
    merge = local.head()
    code, found, out = findings(capsys, ["scan", "--since", base])
    assert code == 1
    assert sorted((f["path"], f["line"]) for f in found) == [("m.txt", 2), ("t.txt", 1)]
    assert [f["provenance"]["commit"] for f in found if f["path"] == "m.txt"] == [merge]
    assert merge_secret not in out and topic_secret not in out


def test_bad_revision_exits_2(pair, capsys):
    assert main(["scan", "--since", "no-such-branch"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_parse_push_lines():
    assert changes.parse_push_lines("a 1 b 2\n\n") == [("a", "1", "b", "2")]
    with pytest.raises(FatalError):  # a line it cannot read is never passed over
        changes.parse_push_lines("a 1 b 2\nbad\n")


def test_no_push_lines_is_a_notice_not_a_block(pair, capsys, monkeypatch):
    code, found, err = findings(capsys, ["hook", "pre-push"], monkeypatch, "")
    assert code == 0 and "nothing scanned" in err


def _install(repo, hook: str, line: str) -> None:
    import stat
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("pit-guard")
    path = repo.path / ".git" / "hooks" / hook
    path.write_text(f"#!/bin/sh\nexec '{exe}' {line}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_installed_git_hooks_block_commit_and_push(pair):
    remote, local = pair
    _install(local, "pre-commit", "hook pre-commit")
    _install(local, "pre-push", 'hook pre-push "$@"')
    local.write("leak.env", f"T={new_pit()}\n")
    local.git("add", "leak.env")
    local.git("commit", "-q", "-m", "blocked", check=False)
    assert local.git("rev-list", "--count", "HEAD").strip() == "1"  # the hook stopped the commit
    local.git("commit", "-q", "--no-verify", "-m", "sneaked past the commit hook")
    proc = subprocess.run(
        ["git", "push", "-q", "origin", "main"], cwd=local.path, env=git_env(), capture_output=True, text=True
    )
    assert proc.returncode != 0 and "leak.env" in proc.stdout + proc.stderr
    local.git("checkout", "-q", "-b", "clean", "origin/main")
    local.write("ok.txt", "fine\n")
    local.commit("clean work")
    proc = subprocess.run(
        ["git", "push", "-q", "origin", "clean"], cwd=local.path, env=git_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_range_names_a_submodule_it_does_not_enter(tmp_path, capsys, monkeypatch):
    sub = Repo(tmp_path / "sub")
    sub.write("x.txt", "x\n")
    sub.commit("s")
    top = Repo(tmp_path / "top")
    top.write("a.txt", "a\n")
    top.commit("a")
    top.git("-c", "protocol.file.allow=always", "submodule", "-q", "add", str(sub.path), "vendor/sub")
    top.commit("add submodule")
    monkeypatch.chdir(top.path)
    assert main(["scan", "--range", "HEAD~1..HEAD"]) == 0
    assert "vendor/sub is a submodule: not descended into" in capsys.readouterr().err
