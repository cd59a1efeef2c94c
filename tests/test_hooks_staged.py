"""pit-guard hook pre-commit / scan --staged: what the commit would add, from the index only."""

from __future__ import annotations

import json

import pytest
from git_helpers import Repo, new_pit

from pit_guard.cli import main


@pytest.fixture
def repo(tmp_path, monkeypatch):
    for name in ("CI", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    r = Repo(tmp_path / "r")
    monkeypatch.chdir(r.path)
    return r


def staged(capsys, *args: str):
    code = main(["hook", "pre-commit", "--format", "json", *args])
    out = capsys.readouterr()
    return code, [(f["path"], f["line"]) for f in json.loads(out.out)["findings"]], out.err


def test_first_commit_without_head(repo, capsys):
    repo.write("a.env", f"X=1\nGHL={new_pit()}\n")
    repo.git("add", "a.env")
    assert staged(capsys)[:2] == (1, [("a.env", 2)])
    assert main(["scan", "--staged"]) == 1


def test_only_the_index_counts(repo, capsys):
    repo.write("a.txt", "clean\n")
    repo.commit("init")
    repo.write("a.txt", f"clean\n{new_pit()}\n")  # on disk only
    assert staged(capsys)[:2] == (0, [])
    assert staged(capsys, "a.txt")[:2] == (0, [])
    repo.git("add", "a.txt")
    repo.write("a.txt", "clean\n")  # staged secret, cleaned working tree
    assert staged(capsys)[:2] == (1, [("a.txt", 2)])


def test_old_secret_is_not_new_and_moving_it_is_not_either(repo, capsys):
    old = new_pit()
    repo.write("cfg.py", f"KEY = '{old}'\n")
    repo.commit("old leak")
    repo.write("cfg.py", f"# edited\nKEY = '{old}'\n")
    repo.git("add", "cfg.py")
    assert staged(capsys)[:2] == (0, [])
    repo.git("mv", "cfg.py", "settings.py")
    assert staged(capsys)[:2] == (0, [])
    repo.write("settings.py", "KEY = None\n")
    repo.write("other.py", f"KEY = '{old}'\n")  # moved to a different file in the same commit
    repo.git("add", "-A")
    assert staged(capsys)[:2] == (0, [])
    fresh = new_pit()
    repo.write("other.py", f"KEY = '{old}'\nNEW = '{fresh}'\n")
    repo.git("add", "-A")
    assert staged(capsys)[:2] == (1, [("other.py", 2)])


def test_file_equal_to_head_is_scanned_in_full(repo, capsys):
    repo.write("keys.txt", new_pit())
    repo.write("clean.txt", "nothing")
    repo.commit("leak")
    assert staged(capsys)[:2] == (0, [])  # no staged change at all
    assert staged(capsys, "keys.txt", "clean.txt")[:2] == (1, [("keys.txt", 1)])  # pre-commit --all-files


def test_deleted_binary_and_odd_names(repo, capsys):
    gone = new_pit()
    repo.write("gone.txt", gone)
    repo.commit("init")
    repo.git("rm", "-q", "gone.txt")
    names = ["with space.env", "ünïcode.env", "new\nline.env"]
    for name in names:
        repo.write(name, f"T={new_pit()}\n")
    repo.write("blob.bin", b"\x00\x01\xff" + new_pit().encode() + b"\x00")
    repo.git("add", "-A")
    code, found, err = staged(capsys)
    assert code == 1
    shown = [n.replace("\n", "\\x0a") for n in names]  # reports escape control characters
    assert sorted(p for p, _ in found) == sorted(shown + ["blob.bin"])
    code, found, err = staged(capsys, *names)  # as pre-commit passes them
    assert sorted(p for p, _ in found) == sorted(shown)


def test_untracked_file_given_by_name_is_read_from_disk(repo, capsys):
    repo.write("a.txt", "x")
    repo.commit("init")
    repo.write("new.txt", new_pit())
    assert staged(capsys, "new.txt")[:2] == (1, [("new.txt", 1)])


def test_subdirectory_relative_names(repo, capsys, monkeypatch):
    repo.write("sub/dir/k.env", new_pit())
    repo.git("add", "-A")
    monkeypatch.chdir(repo.path / "sub")
    assert staged(capsys, "dir/k.env")[:2] == (1, [("sub/dir/k.env", 1)])


def test_merge_brings_nothing_new_unless_the_merge_adds_it(repo, capsys):
    repo.write("base.txt", "base\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("topic.txt", f"T={new_pit()}\n")
    repo.write("base.txt", f"base\n{new_pit()}\n")
    repo.commit("topic leak")
    repo.git("checkout", "-q", "main")
    repo.write("main.txt", "m\n")
    repo.commit("main work")
    repo.git("merge", "--no-commit", "--no-ff", "-q", "topic")
    assert staged(capsys)[:2] == (0, [])
    assert staged(capsys, "topic.txt", "base.txt")[:2] == (0, [])
    repo.write("main.txt", f"m\n{new_pit()}\n")  # an "evil merge" adds its own secret
    repo.git("add", "main.txt")
    assert staged(capsys)[:2] == (1, [("main.txt", 2)])


def test_not_a_repository_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["hook", "pre-commit"]) == 2
    err = capsys.readouterr().err
    assert "not a git repository" in err and "Traceback" not in err


def test_submodule_and_lfs_pointer_are_told(repo, tmp_path, capsys):
    sub = Repo(tmp_path / "sub")
    sub.write("s.txt", new_pit())
    sub.commit("s")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendor/sub")
    repo.write("model.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:" + "b" * 64 + "\nsize 1\n")
    repo.git("add", "-A")
    code, found, err = staged(capsys)
    assert code == 0 and "vendor/sub" in err and "submodule" in err and "LFS" in err
