"""pit-guard audit on real repositories built in temp folders."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from git_helpers import Repo, git_env, new_pit

from pit_guard.cli import main
from pit_guard.sources import history


def run_audit(capsys, *args: str):
    code = main(["audit", "--format", "json", *args])
    out = capsys.readouterr()
    report = json.loads(out.out) if out.out.strip() else None
    return code, report, out.err


@pytest.fixture
def repo(tmp_path, monkeypatch):
    for name in ("CI", "GIT_DIR", "GIT_WORK_TREE"):
        monkeypatch.delenv(name, raising=False)
    return Repo(tmp_path / "r")


def test_history_only_secret_has_provenance(repo, capsys):
    token = new_pit()
    repo.write("README.md", "hello\n")
    repo.commit("init")
    repo.write("app/.env", f"GHL_TOKEN={token}\n")
    leak = repo.commit("add env")
    repo.write("app/.env", "GHL_TOKEN=\n")
    repo.commit("remove token")
    repo.commit("later")
    code, report, err = run_audit(capsys, str(repo.path))
    assert code == 1
    (finding,) = report["findings"]
    assert finding["path"] == "app/.env" and finding["line"] == 1
    prov = finding["provenance"]
    assert prov["commit"] == leak
    assert prov["author"] == "Ada Tester <ada@example.com>"
    assert prov["date"].startswith("2024-01-01T")
    assert prov["commit_count"] == 1
    assert prov["in_head"] is False
    assert prov["branches"] == ["main"]
    assert token not in json.dumps(report) + err


def test_in_head_commit_count_and_move_keep_first_commit(repo, capsys):
    token = new_pit()
    repo.write("a.py", f"KEY = '{token}'\n")
    first = repo.commit("add")
    repo.commit("empty 1")
    repo.git("mv", "a.py", "b.py")
    repo.commit("move")
    code, report, _ = run_audit(capsys, str(repo.path))
    (finding,) = report["findings"]  # one blob: moving it changes nothing
    assert finding["provenance"]["commit"] == first
    assert finding["path"] == "a.py"
    assert finding["provenance"]["commit_count"] == 3
    assert finding["provenance"]["in_head"] is True


def test_branches_local_and_remote_tracking(repo, tmp_path, capsys):
    token = new_pit()
    repo.write("x.txt", "base\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature/leak")
    repo.write("y.txt", f"token: {token}\n")
    repo.commit("leak on branch")
    repo.git("checkout", "-q", "main")
    clone = Repo(tmp_path / "clone", init=False)
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone.path)], check=True, env=git_env())
    code, report, _ = run_audit(capsys, str(clone.path))
    (finding,) = report["findings"]
    assert finding["provenance"]["branches"] == ["remotes/origin/feature/leak"]
    assert finding["provenance"]["in_head"] is False
    code, report, _ = run_audit(capsys, str(repo.path))
    assert report["findings"][0]["provenance"]["branches"] == ["feature/leak"]


def test_tags_and_stash_are_reached(repo, capsys):
    repo.write("f.txt", "x\n")
    repo.commit("base")
    tagged, stashed = new_pit(), new_pit()
    repo.git("checkout", "-q", "--detach")
    repo.write("t.txt", tagged)
    repo.commit("tagged only")
    repo.git("tag", "v1")
    repo.git("checkout", "-q", "main")
    repo.write("f.txt", stashed)
    repo.git("stash", "-q")
    code, report, _ = run_audit(capsys, str(repo.path))
    paths = sorted(f["path"] for f in report["findings"])
    assert paths == ["f.txt", "t.txt"]
    assert all(f["provenance"]["branches"] == [] for f in report["findings"])


def test_unreachable_only_with_flag(repo, capsys):
    kept, amended, dangling = new_pit(), new_pit(), new_pit()
    repo.write("keep.txt", kept)
    repo.commit("keep")
    repo.write("oops.txt", amended)
    repo.commit("oops")
    repo.write("oops.txt", "GHL_TOKEN=from-the-vault\n")
    repo.git("commit", "-q", "-a", "--amend", "-m", "fixed")
    repo.git("hash-object", "-w", "--stdin", input=f"loose {dangling}\n".encode())
    code, report, _ = run_audit(capsys, str(repo.path))
    assert [f["path"] for f in report["findings"]] == ["keep.txt"]
    code, report, _ = run_audit(capsys, "--include-unreachable", str(repo.path))
    by_path = {f["path"]: f for f in report["findings"]}
    assert "oops.txt" in by_path and by_path["oops.txt"]["provenance"]["branches"] == []
    assert any(p.startswith("<blob ") and "in no commit" in p for p in by_path)
    assert len(by_path) == 3


def test_each_blob_scanned_once(repo, capsys, monkeypatch):
    import pit_guard.detection.detect as detect

    calls = []
    real = detect.scan_bytes
    monkeypatch.setattr(detect, "scan_bytes", lambda data, *a, **k: calls.append(data) or real(data, *a, **k))
    token = new_pit()
    for i in range(4):
        repo.write("same.txt", f"{token}\n")  # same content on purpose: one blob
        repo.write(f"f{i}.txt", f"{i}\n")
        repo.git("checkout", "-q", "-b", f"b{i}")
        repo.commit(f"c{i}")
    code, report, _ = run_audit(capsys, str(repo.path))
    blobs = set(repo.git("rev-list", "--objects", "--all", "--filter=object:type=blob", "--no-object-names").split())
    blobs &= set(repo.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname)").split())
    messages = {f"c{i}\n".encode() for i in range(4)}  # commit messages are scanned too, once each
    assert sorted(c for c in calls if c in messages) == sorted(messages)
    calls = [c for c in calls if c not in messages]
    assert len(calls) == len(set(calls)) == 5  # same.txt + f0..f3
    assert len(report["findings"]) == 1 and report["findings"][0]["provenance"]["commit_count"] == 4


def test_bare_repo_and_linked_worktree(repo, tmp_path, capsys):
    token = new_pit()
    repo.write("k.txt", token)
    repo.commit("k")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True, env=git_env())
    code, report, _ = run_audit(capsys, str(bare))
    assert code == 1 and report["findings"][0]["provenance"]["in_head"] is True
    repo.git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    code, report, _ = run_audit(capsys, str(tmp_path / "wt"))
    assert code == 1 and report["findings"][0]["path"] == "k.txt"


def test_environment_errors_exit_2_without_traceback(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    assert main(["audit", str(tmp_path / "plain")]) == 2
    err = capsys.readouterr().err
    assert "not a git repository" in err and "Traceback" not in err
    assert main(["audit", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_empty_repo_says_so(repo, capsys):
    code, report, err = run_audit(capsys, str(repo.path))
    assert code == 0 and report["findings"] == []
    assert "no commits yet" in err


def test_shallow_submodule_and_lfs_are_told(repo, tmp_path, capsys):
    repo.write("a.txt", new_pit())
    repo.commit("old secret")
    repo.git("rm", "-q", "a.txt")
    for i in range(3):
        repo.write("b.txt", str(i))
        repo.commit(f"c{i}")
    sub = Repo(tmp_path / "sub")
    sub.write("s.txt", "s")
    sub.commit("s")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendor/sub")
    repo.write("big.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 12\n")
    repo.commit("submodule and lfs")
    code, report, err = run_audit(capsys, str(repo.path))
    assert "submodule" in err and "vendor/sub" in err and "LFS" in err
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "2", f"file://{repo.path}", str(shallow)], check=True, env=git_env()
    )
    code, report, err = run_audit(capsys, str(shallow))
    assert "shallow" in err and "partial" in err
    assert code == 0  # the secret is older than the clone's depth


def test_corrupt_object_is_named_and_the_rest_still_scanned(repo, capsys):
    good, bad = new_pit(), new_pit()
    repo.write("good.txt", good)
    repo.write("bad.txt", bad)
    repo.commit("two")
    bad_sha = repo.git("rev-parse", "HEAD:bad.txt").strip()
    obj = repo.path / ".git" / "objects" / bad_sha[:2] / bad_sha[2:]
    os.chmod(obj, 0o644)
    obj.write_bytes(b"this is not zlib data")
    code, report, err = run_audit(capsys, str(repo.path))
    assert code == 2  # incomplete: the good finding is still reported, but the run cannot pass
    assert [f["path"] for f in report["findings"]] == ["good.txt"]
    assert bad_sha in err and "Traceback" not in err
    assert any(bad_sha in s["path"] for s in report["skipped"])


def test_missing_object_is_named(repo, capsys):
    good, gone = new_pit(), new_pit()
    repo.write("good.txt", good)
    repo.write("gone.txt", gone)
    repo.commit("two")
    gone_sha = repo.git("rev-parse", "HEAD:gone.txt").strip()
    (repo.path / ".git" / "objects" / gone_sha[:2] / gone_sha[2:]).unlink()
    code, report, err = run_audit(capsys, str(repo.path))
    assert code == 2 and [f["path"] for f in report["findings"]] == ["good.txt"]
    assert gone_sha in err and "missing" in err


def test_no_progress_bar_when_not_a_terminal(repo, capsys):
    repo.write("a.txt", "x")
    repo.commit("a")
    main(["audit", str(repo.path)])
    assert "\r" not in capsys.readouterr().err


def test_parallel_scan_matches_serial(repo):
    """The worker-pool path (used on big repositories) finds what the in-process path finds."""
    tokens = [new_pit() for _ in range(6)]
    for i, token in enumerate(tokens):
        repo.write(f"f{i}.txt", f"{i}\n{token}\n")
        repo.commit(f"c{i}")
    serial = history.scan_history(str(repo.path), max_file_size=1 << 20, workers=1)
    parallel = history.scan_history(str(repo.path), max_file_size=1 << 20, workers=2)
    assert [f.secret for f in serial.findings] == [f.secret for f in parallel.findings]
    assert sorted(f.secret for f in serial.findings) == sorted(tokens)


def test_partial_clone_is_told_not_listed(repo, tmp_path, capsys):
    repo.write("a.txt", new_pit())
    repo.commit("a")
    repo.write("a.txt", "clean")
    repo.commit("b")
    repo.git("config", "uploadpack.allowFilter", "true")
    partial = tmp_path / "partial"
    subprocess.run(
        ["git", "clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{repo.path}", str(partial)],
        check=True,
        env=git_env(),
    )
    code, report, err = run_audit(capsys, str(partial))
    # Told once (not one line per blob), and the run cannot pass: those blobs were never read.
    assert code == 2 and "partial clone" in err and [s["path"] for s in report["skipped"]] == ["<partial clone>"]


def test_one_finding_per_secret_and_path_across_edits(repo, capsys):
    token = new_pit()
    repo.write("a.txt", f"GHL_TOKEN={token}\n")
    first = repo.commit("c1")
    repo.write("a.txt", f"GHL_TOKEN={token}\nmore\n")
    repo.commit("c2")
    repo.write("a.txt", f"GHL_TOKEN={token}\nmore\nmore2\n")
    repo.commit("c3")
    repo.write("b.txt", "unrelated\n")
    repo.commit("c4")
    code, report, _ = run_audit(capsys, str(repo.path))
    assert code == 1
    (finding,) = report["findings"]  # three blobs of a.txt, one leak
    prov = finding["provenance"]
    assert prov["commit"] == first and prov["commit_count"] == 4 and prov["in_head"] is True
    assert prov["branches"] == ["main"]


def test_a_commit_range_does_not_claim_head_or_branches(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo.path)
    repo.write("README.md", "hello\n")
    base = repo.commit("base")
    repo.write("f.txt", f"GHL_TOKEN={new_pit()}\n")
    repo.commit("leak")
    code = main(["scan", "--since", base, "--format", "json"])
    out = capsys.readouterr().out
    (finding,) = json.loads(out)["findings"]
    assert code == 1 and finding["provenance"]["in_head"] is None and finding["provenance"]["branches"] is None


def test_older_stash_entries_are_audited(repo, capsys):
    repo.write("c.txt", "c\n")
    repo.commit("c")
    repo.write("s1.txt", f"GHL_TOKEN={new_pit()}\n")
    repo.git("add", "s1.txt")
    repo.git("stash", "-q")
    repo.write("c.txt", "c\nx\n")
    repo.git("stash", "-q")  # the token is now only in stash@{1}
    code, report, _ = run_audit(capsys, str(repo.path))
    assert code == 1 and [f["path"] for f in report["findings"]] == ["s1.txt"]


def test_incomplete_audit_with_nothing_found_is_not_clean(repo, capsys):
    repo.write("victim.txt", "victim\n")
    repo.commit("c")
    sha = repo.git("rev-parse", "HEAD:victim.txt").strip()
    (repo.path / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    code, report, err = run_audit(capsys, str(repo.path))
    assert code == 2 and report["findings"] == [] and "incomplete" in err


def test_audit_given_the_git_folder_audits_its_repository(repo, capsys):
    repo.write("a.env", f"GHL={new_pit()}\n")
    repo.commit("leak")
    code, report, _ = run_audit(capsys, str(repo.path / ".git"))
    assert code == 1 and [f["path"] for f in report["findings"]] == ["a.env"]


def _commit_at(repo: Repo, message: str, date: str) -> str:
    """A commit with a chosen author and committer date (same-second commits)."""
    env = git_env({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
    subprocess.run(["git", "add", "-A"], cwd=repo.path, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", message], cwd=repo.path, env=env, check=True)
    return repo.head()


def test_last_commit_is_the_last_one_before_the_removal(repo, capsys):
    token = new_pit()
    repo.write("README.md", "hello\n")
    repo.commit("init")
    repo.write("app/.env", f"GHL_TOKEN={token}\n")
    added = repo.commit("A: add")
    repo.write("README.md", "hello again\n")
    kept = repo.commit("B: keep")
    repo.write("app/.env", "GHL_TOKEN=\n")
    repo.commit("C: remove")
    repo.commit("D: later")
    code, report, _ = run_audit(capsys, str(repo.path))
    (finding,) = report["findings"]
    prov = finding["provenance"]
    assert code == 1 and prov["commit"] == added and prov["in_head"] is False
    assert prov["last_commit"] == kept and prov["commit_count"] == 2
    assert prov["last_date"] == repo.git("log", "-1", "--format=%cI", kept).strip()  # committer date, UTC


def test_last_commit_of_a_secret_in_head_is_the_newest_commit_holding_it(repo, capsys):
    token = new_pit()
    repo.write("a.txt", f"GHL_TOKEN={token}\n")
    repo.commit("add")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.txt", f"GHL_TOKEN={token}\nedited on feature\n")  # another blob, the same secret
    feature = repo.commit("feature edit")
    repo.git("checkout", "-q", "main")
    repo.write("b.txt", "unrelated\n")
    main_tip = repo.commit("main moves on")
    code, report, _ = run_audit(capsys, str(repo.path))
    (finding,) = report["findings"]
    assert finding["provenance"]["in_head"] is True and finding["provenance"]["last_commit"] == main_tip
    repo.git("checkout", "-q", "feature")
    repo.write("c.txt", "newer\n")
    newest = repo.commit("feature is newest")
    assert newest != feature
    code, report, _ = run_audit(capsys, str(repo.path))
    (finding,) = report["findings"]
    assert finding["provenance"]["last_commit"] == newest


def test_last_commit_in_the_same_second_is_the_descendant(repo, capsys):
    token = new_pit()
    when = "2024-02-02T10:00:00+00:00"
    repo.write("a.txt", f"GHL_TOKEN={token}\n")
    _commit_at(repo, "add", when)
    repo.write("a.txt", f"GHL_TOKEN={token}\nmore\n")  # a new blob in the same second
    _commit_at(repo, "edit", when)
    descendants = [_commit_at(repo, f"empty {i}", when) for i in range(3)]
    code, report, _ = run_audit(capsys, str(repo.path))
    (finding,) = report["findings"]
    assert finding["provenance"]["last_commit"] == descendants[-1]
